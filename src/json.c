/* lambda.json: lua-cjson's encode/decode/null from a private instance, plus pretty() and
 * valid() over the order-keeping printer in json_pretty.c. */
#include <lauxlib.h>

#include "json_pretty.h"
#include "modules.h"

/* lua-cjson.h only declares luaopen_cjson, but the static library also exports this. */
int luaopen_cjson_safe(lua_State *L);

static void add_to_buffer(void *buffer, const char *bytes, size_t length) {
    luaL_addlstring(buffer, bytes, length);
}

static int push_json_error(lua_State *L, const struct json_error *error) {
    luaL_pushfail(L);
    lua_pushstring(L, error->message);
    lua_pushinteger(L, (lua_Integer)error->offset);
    return 3;
}

/* pretty(text) -> pretty text | nil, message, offset */
static int json_pretty_text(lua_State *L) {
    size_t length;
    const char *text = luaL_checklstring(L, 1, &length);
    struct json_error error;
    luaL_Buffer out;
    luaL_buffinitsize(L, &out, length + length / 2);
    if (!json_pretty(text, length, add_to_buffer, &out, &error))
        return push_json_error(L, &error);
    luaL_pushresult(&out);
    return 1;
}

/* valid(text) -> true | nil, message, offset */
static int json_valid_text(lua_State *L) {
    size_t length;
    const char *text = luaL_checklstring(L, 1, &length);
    struct json_error error;
    if (!json_pretty(text, length, NULL, NULL, &error))
        return push_json_error(L, &error);
    lua_pushboolean(L, 1);
    return 1;
}

/* encode(value) -> text. A value cjson cannot represent (a function, a sparse array, a cycle)
 * is a bug in the caller, so it raises instead of returning cjson.safe's nil, message. */
static int json_encode(lua_State *L) {
    luaL_checkany(L, 1);
    lua_settop(L, 1);
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_insert(L, 1);
    lua_call(L, 1, 2);
    if (lua_isnil(L, 1))
        return luaL_error(L, "cannot encode JSON: %s", lua_tostring(L, 2));
    lua_settop(L, 1);
    return 1;
}

static const luaL_Reg json_functions[] = {
    {"pretty", json_pretty_text},
    {"valid", json_valid_text},
    {"encode", NULL},
    {"decode", NULL},
    {"null", NULL},
    {NULL, NULL},
};

int luaopen_lambda_json(lua_State *L) {
    luaL_newlib(L, json_functions);
    /* Our own cjson instance: settings a script makes on require "cjson" do not reach us. */
    luaopen_cjson_safe(L);
    /* Only RFC 8259 numbers: no NaN, Infinity or hex from decode. */
    lua_getfield(L, -1, "decode_invalid_numbers");
    lua_pushboolean(L, 0);
    lua_call(L, 1, 0);
    lua_getfield(L, -1, "decode");
    lua_setfield(L, -3, "decode");
    lua_getfield(L, -1, "null");
    lua_setfield(L, -3, "null");
    lua_getfield(L, -1, "encode");
    lua_pushcclosure(L, json_encode, 1);
    lua_setfield(L, -3, "encode");
    lua_pop(L, 1);
    return 1;
}
