/* toml-test decoder: reads a TOML document on stdin and writes the suite's tagged JSON on
 * stdout ({"type": T, "value": "<text>"} for every scalar). Invalid TOML: the decoder's message
 * on stderr and exit status 1. */
#include <lauxlib.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "host/modules.h"

/* Stack slots held for the whole run. */
enum { SLOT_MODULE = 1, SLOT_ARRAY_MT, SLOT_DATETIME_MT };

static void write_json_string(const char *s, size_t length) {
    putchar('"');
    for (size_t i = 0; i < length; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\')
            printf("\\%c", c);
        else if (c < 0x20 || c == 0x7F)
            printf("\\u%04x", c);
        else
            putchar(c); /* UTF-8 passes through: the decoder only returns valid UTF-8 */
    }
    putchar('"');
}

static void write_tagged(const char *type, const char *value, size_t length) {
    printf("{\"type\":\"%s\",\"value\":", type);
    write_json_string(value, length);
    putchar('}');
}

static void write_number(lua_State *L, int index) {
    char text[64];
    if (lua_isinteger(L, index)) {
        snprintf(text, sizeof text, LUA_INTEGER_FMT, (LUAI_UACINT)lua_tointeger(L, index));
        write_tagged("integer", text, strlen(text));
        return;
    }
    double value = (double)lua_tonumber(L, index);
    if (isnan(value))
        snprintf(text, sizeof text, "nan");
    else if (isinf(value))
        snprintf(text, sizeof text, "%sinf", value < 0 ? "-" : "");
    else
        snprintf(text, sizeof text, "%.17g", value);
    write_tagged("float", text, strlen(text));
}

static int has_metatable(lua_State *L, int index, int metatable) {
    if (!lua_getmetatable(L, index))
        return 0;
    int equal = lua_rawequal(L, -1, metatable);
    lua_pop(L, 1);
    return equal;
}

static void write_value(lua_State *L, int index);

static void write_table(lua_State *L, int index) {
    if (has_metatable(L, index, SLOT_DATETIME_MT)) {
        size_t length;
        lua_getfield(L, index, "kind");
        lua_getfield(L, index, "text");
        const char *text = lua_tolstring(L, -1, &length);
        write_tagged(lua_tostring(L, -2), text, length);
        lua_pop(L, 2);
    } else if (has_metatable(L, index, SLOT_ARRAY_MT)) {
        putchar('[');
        lua_Integer count = (lua_Integer)lua_rawlen(L, index);
        for (lua_Integer i = 1; i <= count; i++) {
            if (i > 1)
                putchar(',');
            lua_rawgeti(L, index, i);
            write_value(L, lua_gettop(L));
            lua_pop(L, 1);
        }
        putchar(']');
    } else {
        putchar('{');
        int first = 1;
        lua_pushnil(L);
        while (lua_next(L, index)) {
            size_t length;
            const char *key = lua_tolstring(L, -2, &length); /* TOML keys are strings */
            if (!first)
                putchar(',');
            first = 0;
            write_json_string(key, length);
            putchar(':');
            write_value(L, lua_gettop(L));
            lua_pop(L, 1);
        }
        putchar('}');
    }
}

static void write_value(lua_State *L, int index) {
    luaL_checkstack(L, 6, "nesting");
    size_t length;
    const char *text;
    switch (lua_type(L, index)) {
    case LUA_TSTRING:
        text = lua_tolstring(L, index, &length);
        write_tagged("string", text, length);
        break;
    case LUA_TBOOLEAN:
        text = lua_toboolean(L, index) ? "true" : "false";
        write_tagged("bool", text, strlen(text));
        break;
    case LUA_TNUMBER:
        write_number(L, index);
        break;
    case LUA_TTABLE:
        write_table(L, index);
        break;
    default:
        fprintf(stderr, "toml_decoder: unexpected %s in the decoded value\n",
                luaL_typename(L, index));
        exit(2);
    }
}

static char *read_all(FILE *in, size_t *length) {
    size_t capacity = 1 << 16, used = 0;
    char *data = malloc(capacity);
    size_t got;
    while (data && (got = fread(data + used, 1, capacity - used, in)) > 0) {
        used += got;
        if (used == capacity) {
            char *bigger = realloc(data, capacity *= 2);
            if (!bigger)
                free(data);
            data = bigger;
        }
    }
    *length = used;
    return data;
}

int main(void) {
    size_t length;
    char *input = read_all(stdin, &length);
    lua_State *L = luaL_newstate();
    if (!input || !L) {
        fputs("toml_decoder: out of memory\n", stderr);
        return 2;
    }
    luaL_requiref(L, "lambda.toml", luaopen_lambda_toml, 0);
    lua_getfield(L, SLOT_MODULE, "array_mt");
    lua_getfield(L, SLOT_MODULE, "datetime_mt");
    lua_getfield(L, SLOT_MODULE, "decode");
    lua_pushlstring(L, input, length);
    free(input);
    if (lua_pcall(L, 1, 2, 0) != LUA_OK) {
        fprintf(stderr, "toml_decoder: %s\n", lua_tostring(L, -1));
        return 2;
    }
    if (lua_isnil(L, -2)) {
        fprintf(stderr, "%s\n", lua_tostring(L, -1));
        lua_close(L);
        return 1;
    }
    write_value(L, lua_gettop(L) - 1);
    putchar('\n');
    lua_close(L);
    return fflush(stdout) == 0 ? 0 : 2;
}
