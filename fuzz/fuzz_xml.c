/* libFuzzer target for lambda.xml: parses arbitrary bytes, then walks the tree and runs
 * xml.find on it. Any crash, sanitizer report or hang is a bug; so is an error that does not
 * follow the "line L, column C: " format, or a tree that breaks the documented element shape. */
#include <lauxlib.h>
#include <stdint.h>
#include <stdlib.h>

#include "fuzz_lua.h"
#include "host/modules.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Slots kept across runs: xml.decode and xml.find. */
enum { SLOT_PARSE = 1, SLOT_FIND, SLOT_RESULT };

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
    static const char *const functions[] = {"decode", "find", NULL};
    lua_State *L = fuzz_lua_state("lambda.xml", luaopen_lambda_xml, functions);
    lua_pushlstring(L, (const char *)data, size);
    fuzz_lua_call(L, SLOT_PARSE, 1, 2);
    if (lua_isnil(L, -2)) {
        if (!fuzz_has_line_and_column(lua_tostring(L, -1)))
            abort();
    } else {
        if (!lua_isnil(L, -1) || !is_element(L, SLOT_RESULT, 1))
            abort();
        /* The first child's name, then that name twice: a path that may or may not exist. */
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
        fuzz_lua_call(L, SLOT_FIND, 1 + names, 1);
        if (!lua_isnil(L, -1) && lua_type(L, -1) != LUA_TSTRING)
            abort();
    }
    return 0;
}
