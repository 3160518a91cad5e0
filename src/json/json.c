/* lambda.json, registered here: pretty() and valid() over the order-keeping printer in
 * pretty.c, decode() and encode() from decode.c and encode.c (value.h), null and array_mt.
 * Scripts still find lua-cjson as require "cjson" (host/host.c); nothing here uses it. */
#include <lauxlib.h>

#include "common/luax.h"
#include "host/modules.h"
#include "json/pretty.h"
#include "json/value.h"

static void add_to_buffer(void *buffer, const char *bytes, size_t length) {
    luaL_addlstring(buffer, bytes, length);
}

static int push_json_error(lua_State *L, const struct json_error *error) {
    luaL_pushfail(L);
    lua_pushstring(L, error->message);
    lua_pushliteral(L, "input");
    lua_pushinteger(L, (lua_Integer)error->offset);
    return 4;
}

/* pretty(text) -> pretty text | nil, message, "input", offset */
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

/* valid(text) -> true | nil, message, "input", offset */
static int json_valid_text(lua_State *L) {
    size_t length;
    const char *text = luaL_checklstring(L, 1, &length);
    struct json_error error;
    if (!json_pretty(text, length, NULL, NULL, &error))
        return push_json_error(L, &error);
    lua_pushboolean(L, 1);
    return 1;
}

/* Every function gets the array metatable as upvalue 1 (only decode and encode use it). */
static const luaL_Reg json_functions[] = {
    {"pretty", json_pretty_text},
    {"valid", json_valid_text},
    {"decode", json_decode},
    {"encode", json_encode},
    {NULL, NULL},
};

int luaopen_lambda_json(lua_State *L) {
    luaL_newlibtable(L, json_functions);
    /* Registry-backed, so arrays decoded through an earlier require of the module match; the
     * one lambda.toml gives its arrays too, so that a TOML [] encodes as []. */
    luax_push_array_mt(L);
    lua_pushvalue(L, -1);
    lua_setfield(L, -3, "array_mt");
    luaL_setfuncs(L, json_functions, 1);
    /* The value cjson.null has, so that scripts may mix the two modules. */
    lua_pushlightuserdata(L, NULL);
    lua_setfield(L, -2, "null");
    return 1;
}
