/* The host: one Lua state with the C primitives and the embedded scripts. */
#ifndef CLC_HOST_HOST_H
#define CLC_HOST_HOST_H

#include <lua.h>

/* A fresh Lua state with the standard libraries, the lambda.* C modules in package.preload
 * and a searcher for the embedded scripts (or CARGO_LAMBDA_LUA_DIR). NULL when out of memory. */
lua_State *host_new_state(void);
/* Closes a state made by host_new_state, then frees its allocator's memory. */
void host_close_state(lua_State *L);

/* Runs the CLI (lua/main.lua) over argv and returns the process exit status. */
int host_main(int argc, char **argv);

#endif
