/* libFuzzer target for lambda.ini: the first byte picks the file kind (config or credentials),
 * the rest is the file. Any crash, sanitizer report or hang is a bug; so is a result that breaks
 * the documented shape: nil plus "line L: message", or a table of profiles, sso_sessions and
 * services whose values are strings or tables of strings, and warnings "line L: ...". */
#include <lauxlib.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "fuzz_lua.h"
#include "host/modules.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int has_line_prefix(const char *message) {
    long line;
    return message && sscanf(message, "line %ld: ", &line) == 1 && line >= 1;
}

/* The table at `index` maps strings to strings, or (when `nested`) also to such tables. */
static int is_string_map(lua_State *L, int index, int nested) {
    if (!lua_istable(L, index))
        return 0;
    index = lua_absindex(L, index);
    lua_pushnil(L);
    while (lua_next(L, index)) {
        int ok = lua_type(L, -2) == LUA_TSTRING &&
                 (lua_type(L, -1) == LUA_TSTRING || (nested && is_string_map(L, -1, 0)));
        lua_pop(L, 1);
        if (!ok) {
            lua_pop(L, 1);
            return 0;
        }
    }
    return 1;
}

/* result[field] maps names to sections whose properties are strings or sub-property tables. */
static int sections_ok(lua_State *L, int result, const char *field) {
    if (lua_getfield(L, result, field) != LUA_TTABLE)
        return 0;
    int ok = 1;
    lua_pushnil(L);
    while (ok && lua_next(L, -2)) {
        ok = lua_type(L, -2) == LUA_TSTRING && is_string_map(L, -1, 1);
        lua_pop(L, 1);
    }
    if (!ok)
        lua_pop(L, 1); /* the key lua_next left */
    lua_pop(L, 1);
    return ok;
}

static int warnings_ok(lua_State *L, int result) {
    if (lua_getfield(L, result, "warnings") != LUA_TTABLE)
        return 0;
    lua_Integer count = (lua_Integer)lua_rawlen(L, -1);
    for (lua_Integer i = 1; i <= count; i++) {
        lua_rawgeti(L, -1, i);
        int ok = lua_type(L, -1) == LUA_TSTRING && has_line_prefix(lua_tostring(L, -1));
        lua_pop(L, 1);
        if (!ok)
            return 0;
    }
    lua_pop(L, 1);
    return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size == 0)
        return 0;
    static const char *const functions[] = {"decode", NULL}; /* slot 1: ini.decode */
    lua_State *L = fuzz_lua_state("lambda.ini", luaopen_lambda_ini, functions);
    lua_pushlstring(L, (const char *)data + 1, size - 1);
    lua_pushstring(L, data[0] & 1 ? "credentials" : "config");
    fuzz_lua_call(L, 1, 2, 2);
    if (lua_isnil(L, -2)) {
        if (lua_type(L, -1) != LUA_TSTRING || !has_line_prefix(lua_tostring(L, -1)))
            abort();
    } else if (!lua_istable(L, -2) || !lua_isnil(L, -1) || !sections_ok(L, 2, "profiles") ||
               !sections_ok(L, 2, "sso_sessions") || !sections_ok(L, 2, "services") ||
               !warnings_ok(L, 2)) {
        abort();
    }
    return 0;
}
