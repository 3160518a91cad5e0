/* libFuzzer target for lambda.json's decode and encode (json/decode.c, json/encode.c). Besides
 * memory safety it checks, for every input:
 *  - decode rejects what json_pretty() rejects, with its message, and accepts what it
 *    validates, except a number beyond a double's range (1e400), refused as out of range;
 *  - an accepted value holds no infinity, and encodes to valid JSON that decodes to an equal
 *    value (numbers by value and sign of zero, tables by content and metatable);
 *  - encode is stable: that second value encodes to the same text. */
#include <lauxlib.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_lua.h"
#include "host/modules.h"
#include "json/pretty.h"

/* Stack slots: the functions fuzz_lua_state keeps, then what each input leaves. */
enum { SLOT_DECODE = 1, SLOT_ENCODE, SLOT_VALUE, SLOT_MESSAGE };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void expect(bool condition, const char *what) {
    if (!condition) {
        fprintf(stderr, "fuzz_json_value: %s\n", what);
        abort();
    }
}

/* Values nest as deep as JSON_MAX_DEPTH, so these recurse no deeper. */
static bool contains_infinity(lua_State *L, int index) {
    if (lua_type(L, index) == LUA_TNUMBER)
        return isinf(lua_tonumber(L, index));
    if (lua_type(L, index) != LUA_TTABLE)
        return false;
    expect(lua_checkstack(L, 3), "no stack");
    lua_pushnil(L);
    while (lua_next(L, index)) {
        if (contains_infinity(L, lua_gettop(L))) {
            lua_pop(L, 2);
            return true;
        }
        lua_pop(L, 1);
    }
    return false;
}

static lua_Integer count_entries(lua_State *L, int table) {
    lua_Integer count = 0;
    lua_pushnil(L);
    while (lua_next(L, table)) {
        lua_pop(L, 1);
        count++;
    }
    return count;
}

static bool same_value(lua_State *L, int a, int b) {
    if (lua_type(L, a) != lua_type(L, b))
        return false;
    if (lua_type(L, a) == LUA_TNUMBER) /* 200 and 200.0 are the same JSON number; -0 is not 0 */
        return lua_rawequal(L, a, b) && signbit(lua_tonumber(L, a)) == signbit(lua_tonumber(L, b));
    if (lua_type(L, a) != LUA_TTABLE)
        return lua_rawequal(L, a, b);
    expect(lua_checkstack(L, 4), "no stack");
    int metatables = lua_getmetatable(L, a);
    metatables += lua_getmetatable(L, b);
    bool same = metatables == 0 || (metatables == 2 && lua_rawequal(L, -1, -2));
    lua_pop(L, metatables);
    if (!same || count_entries(L, a) != count_entries(L, b))
        return false;
    lua_pushnil(L);
    while (lua_next(L, a)) {
        lua_pushvalue(L, -2);
        lua_rawget(L, b);
        same = same_value(L, lua_gettop(L) - 1, lua_gettop(L));
        lua_pop(L, 2);
        if (!same) {
            lua_pop(L, 1);
            return false;
        }
    }
    return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static const char *const functions[] = {"decode", "encode", NULL};
    lua_State *L = fuzz_lua_state("lambda.json", luaopen_lambda_json, functions);
    struct json_error error;
    bool valid = json_pretty((const char *)data, size, NULL, NULL, &error);
    lua_pushlstring(L, (const char *)data, size);
    fuzz_lua_call(L, SLOT_DECODE, 1, 2);
    if (!valid) {
        expect(lua_isnil(L, SLOT_VALUE), "decode accepts what json_pretty rejects");
        expect(lua_type(L, SLOT_MESSAGE) == LUA_TSTRING &&
                   strcmp(lua_tostring(L, SLOT_MESSAGE), error.message) == 0,
               "decode's message is not json_pretty's");
        return 0;
    }
    if (lua_isnil(L, SLOT_VALUE)) {
        const char *message = lua_tostring(L, SLOT_MESSAGE);
        expect(message && strstr(message, ": number out of a double's range"),
               "decode rejects what json_pretty accepts");
        return 0;
    }
    lua_settop(L, SLOT_VALUE);
    expect(!contains_infinity(L, SLOT_VALUE), "decode gave an infinity");

    lua_pushvalue(L, SLOT_ENCODE);
    lua_pushvalue(L, SLOT_VALUE);
    if (lua_pcall(L, 1, 1, 0) != LUA_OK) {
        const char *message = lua_tostring(L, -1);
        fprintf(stderr, "encode raised: %s\n", message ? message : "(no message)");
        expect(false, "encode refuses a decoded value");
    }
    int encoded = lua_gettop(L);
    size_t length;
    const char *text = lua_tolstring(L, encoded, &length);
    expect(json_pretty(text, length, NULL, NULL, NULL), "encode wrote invalid JSON");

    lua_pushvalue(L, encoded);
    fuzz_lua_call(L, SLOT_DECODE, 1, 1);
    int again = lua_gettop(L);
    expect(!lua_isnil(L, again), "the encoded text does not decode");
    expect(same_value(L, SLOT_VALUE, again), "decode(encode(v)) differs from v");

    lua_pushvalue(L, again);
    fuzz_lua_call(L, SLOT_ENCODE, 1, 1);
    expect(lua_rawequal(L, encoded, -1), "encode(decode(encode(v))) differs from encode(v)");
    return 0;
}
