/* Placeholder until the module lands. */
#include <lauxlib.h>

#include "modules.h"

int luaopen_lambda_cache(lua_State *L) {
    lua_newtable(L);
    return 1;
}
