/* The C primitives the host preloads as Lua modules (require "lambda.<name>"). */
#ifndef CLC_MODULES_H
#define CLC_MODULES_H

#include <lua.h>

int luaopen_lambda_http(lua_State *L);  /* http.c: HTTP client on libcurl */
int luaopen_lambda_json(lua_State *L);  /* json.c: cjson plus an order-keeping pretty printer */
int luaopen_lambda_toml(lua_State *L);  /* toml.c: TOML 1.0 decoder */
int luaopen_lambda_cache(lua_State *L); /* cache.c: the user cache directory, atomic writes */
int luaopen_lambda_fs(lua_State *L);    /* fs.c: file system queries the Lua side needs */

#endif
