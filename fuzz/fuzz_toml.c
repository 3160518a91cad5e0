/* libFuzzer target for lambda.toml: decodes arbitrary bytes. Any crash, sanitizer report or
 * hang is a bug; so is an error that does not follow the "line L, column C: " format or a
 * result that is neither a table nor nil plus a message. */
#include <lauxlib.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "modules.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static lua_State *state(void) {
    static lua_State *L;
    if (!L) {
        L = luaL_newstate();
        if (!L)
            abort();
        luaL_requiref(L, "lambda.toml", luaopen_lambda_toml, 0);
        lua_getfield(L, -1, "decode");
        lua_replace(L, -2); /* slot 1: toml.decode, kept across runs */
    }
    return L;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    lua_State *L = state();
    lua_pushvalue(L, 1);
    lua_pushlstring(L, (const char *)data, size);
    if (lua_pcall(L, 1, 2, 0) != LUA_OK)
        abort(); /* decode raises only for wrong arguments or lack of memory */
    if (lua_isnil(L, -2)) {
        long line, column;
        const char *message = lua_tostring(L, -1);
        if (!message || sscanf(message, "line %ld, column %ld: ", &line, &column) != 2 ||
            line < 1 || column < 1)
            abort();
    } else if (!lua_istable(L, -2) || !lua_isnil(L, -1)) {
        abort();
    }
    lua_settop(L, 1);
    return 0;
}
