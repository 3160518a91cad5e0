/* libFuzzer target for lambda.xml: parses arbitrary bytes, then walks the tree and runs
 * xml.find on it. Any crash, sanitizer report or hang is a bug; so is an error that does not
 * follow the "line L, column C: " format, or a tree that breaks the documented element shape. */
#include <lauxlib.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "modules.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Slots kept across runs: xml.parse and xml.find. */
enum { SLOT_PARSE = 1, SLOT_FIND, SLOT_RESULT };

static lua_State *state(void) {
    static lua_State *L;
    if (!L) {
        L = luaL_newstate();
        if (!L)
            abort();
        luaL_requiref(L, "lambda.xml", luaopen_lambda_xml, 0);
        lua_getfield(L, -1, "parse");
        lua_getfield(L, -2, "find");
        lua_remove(L, -3);
    }
    return L;
}

/* The table at `index` is an element: string name and text, optional string ns, a table of
 * string attributes, children that are elements; and no deeper than the documented limit. */
static int is_element(lua_State *L, int index, int depth) {
    if (depth > 256 || !lua_istable(L, index))
        return 0;
    index = lua_absindex(L, index);
    int name_type = lua_getfield(L, index, "name");
    int text_type = lua_getfield(L, index, "text");
    int ns_type = lua_getfield(L, index, "ns");
    int attributes_type = lua_getfield(L, index, "attributes");
    int ok = name_type == LUA_TSTRING && lua_rawlen(L, -4) > 0 && text_type == LUA_TSTRING &&
             (ns_type == LUA_TNIL || ns_type == LUA_TSTRING) && attributes_type == LUA_TTABLE;
    if (ok) {
        lua_pushnil(L);
        while (lua_next(L, -2)) {
            ok = ok && lua_type(L, -2) == LUA_TSTRING && lua_type(L, -1) == LUA_TSTRING;
            lua_pop(L, 1);
        }
    }
    lua_pop(L, 4);
    lua_Integer count = (lua_Integer)lua_rawlen(L, index);
    for (lua_Integer i = 1; ok && i <= count; i++) {
        lua_rawgeti(L, index, i);
        ok = is_element(L, -1, depth + 1);
        lua_pop(L, 1);
    }
    return ok;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    lua_State *L = state();
    lua_pushvalue(L, SLOT_PARSE);
    lua_pushlstring(L, (const char *)data, size);
    if (lua_pcall(L, 1, 2, 0) != LUA_OK)
        abort(); /* parse raises only for wrong arguments or lack of memory */
    if (lua_isnil(L, -2)) {
        long line, column;
        const char *message = lua_tostring(L, -1);
        if (!message || sscanf(message, "line %ld, column %ld: ", &line, &column) != 2 ||
            line < 1 || column < 1)
            abort();
    } else {
        if (!lua_isnil(L, -1) || !is_element(L, SLOT_RESULT, 1))
            abort();
        /* The first child's name, then that name twice: a path that may or may not exist. */
        lua_pushvalue(L, SLOT_FIND);
        lua_pushvalue(L, SLOT_RESULT);
        int names = lua_rawgeti(L, SLOT_RESULT, 1) == LUA_TTABLE ? 1 : 0;
        if (names) {
            lua_getfield(L, -1, "name");
            lua_replace(L, -2);
            lua_pushvalue(L, -1);
            names = 2;
        } else {
            lua_pop(L, 1);
        }
        if (lua_pcall(L, 1 + names, 1, 0) != LUA_OK ||
            !(lua_isnil(L, -1) || lua_type(L, -1) == LUA_TSTRING))
            abort();
    }
    lua_settop(L, SLOT_FIND);
    return 0;
}
