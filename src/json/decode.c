/* lambda.json's decode (value.h): JSON text to Lua values, with integers kept as Lua
 * integers and every other number read as the nearest double.
 *
 * decode first runs json_pretty()'s validator, so it rejects what json.valid() and
 * json.pretty() reject, with the same message and offset. The pass that builds the value can
 * then trust the grammar; it keeps the open containers on the Lua stack rather than
 * recursing, so no input reaches deep into the C stack. It refuses one thing more: a number
 * beyond a double's range (1e400), which has no Lua value (math.huge would be another number,
 * and one encode refuses); the copying printer has no such limit. */
#include <lauxlib.h>
#include <locale.h> /* lua_getlocaledecpoint */
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "common/utf8.h"
#include "json/pretty.h"
#include "json/value.h"

struct decoder {
    lua_State *L;
    const char *text; /* valid JSON, NUL-terminated as every Lua string is */
    size_t pos;
    int array_mt;           /* stack index of the metatable decoded arrays get */
    bool out_of_range;      /* a number overflows a double: decoding stops */
    size_t out_of_range_at; /* its offset */
};

static void skip_whitespace(struct decoder *D) {
    for (;;) {
        char c = D->text[D->pos];
        if (c != ' ' && c != '\t' && c != '\n' && c != '\r')
            return;
        D->pos++;
    }
}

static bool is_digit(char c) {
    return c >= '0' && c <= '9';
}

static unsigned read_hex4(const char *digits) {
    unsigned unit = 0;
    for (int i = 0; i < 4; i++) {
        char c = digits[i];
        unit = unit * 16 + (unsigned)(c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10);
    }
    return unit;
}

static void add_utf8(luaL_Buffer *b, unsigned long code) {
    char bytes[4];
    luaL_addlstring(b, bytes, utf8_encode(code, bytes));
}

/* Adds the character the escape at p (its backslash) stands for; returns the end of the
 * escape. The validator let through only the escapes JSON has, and a \u escape of a high
 * surrogate only when a \u escape of a low one follows. */
static const char *add_escape(luaL_Buffer *b, const char *p) {
    switch (p[1]) {
    case 'b':
        luaL_addchar(b, '\b');
        break;
    case 'f':
        luaL_addchar(b, '\f');
        break;
    case 'n':
        luaL_addchar(b, '\n');
        break;
    case 'r':
        luaL_addchar(b, '\r');
        break;
    case 't':
        luaL_addchar(b, '\t');
        break;
    case 'u': {
        unsigned long code = read_hex4(p + 2);
        p += 6;
        if (code >= 0xD800 && code <= 0xDBFF) {
            code = 0x10000 + ((code - 0xD800) << 10) + (read_hex4(p + 2) - 0xDC00);
            p += 6;
        }
        add_utf8(b, code);
        return p;
    }
    default: /* '"', '\\' or '/' */
        luaL_addchar(b, p[1]);
        break;
    }
    return p + 2;
}

/* Pushes the string whose opening quote is at D->pos, escapes decoded, and moves past it. The
 * validator has checked escapes and UTF-8, so only '"' and '\\' need a look; strings without
 * escapes, the common case, are pushed straight from the text. */
static void push_string(struct decoder *D) {
    const char *p = D->text + D->pos + 1, *run = p;
    p += strcspn(p, "\"\\");
    if (*p == '"') {
        lua_pushlstring(D->L, run, (size_t)(p - run));
    } else {
        luaL_Buffer b;
        luaL_buffinit(D->L, &b);
        while (*p == '\\') {
            luaL_addlstring(&b, run, (size_t)(p - run));
            run = add_escape(&b, p);
            p = run + strcspn(run, "\"\\");
        }
        luaL_addlstring(&b, run, (size_t)(p - run));
        luaL_pushresult(&b);
    }
    D->pos = (size_t)(p + 1 - D->text);
}

/* The integer the decimal digits [digits, end) spell, negated when negative, when it fits. */
static bool read_integer(const char *digits, const char *end, bool negative, lua_Integer *value) {
    lua_Unsigned limit = (lua_Unsigned)LUA_MAXINTEGER + (negative ? 1 : 0);
    lua_Unsigned magnitude = 0;
    for (; digits < end; digits++) {
        unsigned digit = (unsigned)(*digits - '0');
        if (magnitude > (limit - digit) / 10)
            return false;
        magnitude = magnitude * 10 + digit;
    }
    if (negative && magnitude == limit)
        *value = LUA_MININTEGER;
    else
        *value = negative ? -(lua_Integer)magnitude : (lua_Integer)magnitude;
    return true;
}

/* The double nearest to the number literal [literal, end). strtod reads by the LC_NUMERIC
 * locale; the program never calls setlocale, so that is the "C" locale, whose decimal point is
 * JSON's '.'. Should a program embedding us have set a locale with another decimal point,
 * strtod stops at the '.', and the literal is read again spelled that locale's way, as Lua's
 * own tonumber does. A valid literal is followed by a byte that cannot continue a number (or by
 * the string's NUL), so strtod stops at its end. */
static lua_Number read_double(lua_State *L, const char *literal, const char *end) {
    char *stop;
    double number = strtod(literal, &stop);
    if (stop == end)
        return number;
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    for (const char *p = literal; p < end; p++)
        luaL_addchar(&b, *p == '.' ? lua_getlocaledecpoint() : *p);
    luaL_pushresult(&b);
    number = strtod(lua_tostring(L, -1), NULL);
    lua_pop(L, 1);
    return number;
}

/* A literal without fraction or exponent that fits lua_Integer becomes an integer, except -0,
 * which only a float can hold; every other literal becomes the nearest double (a tiny one
 * underflows to zero, as the nearest double is). One that overflows a double (strtod's ±inf)
 * sets D->out_of_range instead. */
static void push_number(struct decoder *D) {
    const char *literal = D->text + D->pos, *p = literal;
    bool negative = *p == '-', whole = true;
    if (negative)
        p++;
    const char *digits = p;
    while (is_digit(*p))
        p++;
    if (*p == '.') {
        whole = false;
        for (p++; is_digit(*p);)
            p++;
    }
    if (*p == 'e' || *p == 'E') {
        whole = false;
        p++;
        if (*p == '+' || *p == '-')
            p++;
        while (is_digit(*p))
            p++;
    }
    D->pos = (size_t)(p - D->text);
    lua_Integer integer;
    if (whole && read_integer(digits, p, negative, &integer) && !(negative && integer == 0)) {
        lua_pushinteger(D->L, integer);
        return;
    }
    lua_Number number = read_double(D->L, literal, p);
    if (isinf(number)) { /* a literal cannot spell infinity: it overflowed */
        D->out_of_range = true;
        D->out_of_range_at = (size_t)(literal - D->text);
    }
    lua_pushnumber(D->L, number);
}

static void push_scalar(struct decoder *D) {
    switch (D->text[D->pos]) {
    case '"':
        push_string(D);
        break;
    case 't':
        lua_pushboolean(D->L, 1);
        D->pos += 4;
        break;
    case 'f':
        lua_pushboolean(D->L, 0);
        D->pos += 5;
        break;
    case 'n':
        lua_pushlightuserdata(D->L, NULL);
        D->pos += 4;
        break;
    default:
        push_number(D);
        break;
    }
}

/* Pushes an object member's key and moves past the ':' after it. */
static void push_key(struct decoder *D) {
    skip_whitespace(D);
    push_string(D);
    skip_whitespace(D);
    D->pos++;
}

/* Pushes the value the text holds. Each open container waits on the Lua stack (an object with
 * its pending key above it) until its closing bracket; next_index says for each where its
 * next element goes: 0 for an object, else the array index. The validator has limited the
 * nesting to JSON_MAX_DEPTH. */
static void push_value(struct decoder *D) {
    lua_State *L = D->L;
    lua_Integer next_index[JSON_MAX_DEPTH];
    size_t depth = 0;
    for (;;) {
        skip_whitespace(D);
        char bracket = D->text[D->pos];
        if (bracket == '[' || bracket == '{') {
            luaL_checkstack(L, 3, "JSON nesting");
            lua_newtable(L);
            if (bracket == '[') {
                lua_pushvalue(L, D->array_mt);
                lua_setmetatable(L, -2);
            }
            D->pos++;
            skip_whitespace(D);
            if (D->text[D->pos] != (bracket == '[' ? ']' : '}')) {
                next_index[depth++] = bracket == '[' ? 1 : 0;
                if (bracket == '{')
                    push_key(D);
                continue; /* to the first element */
            }
            D->pos++;
        } else {
            push_scalar(D);
            if (D->out_of_range)
                return;
        }
        /* A complete value is on top: it goes into its container, and so does each container
         * that closes right after it. */
        for (;;) {
            if (depth == 0)
                return;
            lua_Integer *index = &next_index[depth - 1];
            if (*index)
                lua_rawseti(L, -2, (*index)++);
            else
                lua_rawset(L, -3); /* a repeated key: the later value wins */
            skip_whitespace(D);
            if (D->text[D->pos++] == ',') {
                if (*index == 0)
                    push_key(D);
                break; /* to the next element */
            }
            depth--; /* ']' or '}' */
        }
    }
}

static int push_failure(lua_State *L, const char *message, size_t offset) {
    luaL_pushfail(L);
    lua_pushstring(L, message);
    lua_pushliteral(L, "input");
    lua_pushinteger(L, (lua_Integer)offset);
    return 4;
}

/* decode(text) -> value | nil, message, "input", offset */
int json_decode(lua_State *L) {
    size_t length;
    const char *text = luaL_checklstring(L, 1, &length);
    struct json_error error;
    if (!json_pretty(text, length, NULL, NULL, &error))
        return push_failure(L, error.message, error.offset);
    struct decoder D = {.L = L, .text = text, .pos = 0, .array_mt = lua_upvalueindex(1)};
    int top = lua_gettop(L);
    push_value(&D);
    if (D.out_of_range) {
        lua_settop(L, top); /* the containers still open */
        lua_pushfstring(L, "invalid JSON at byte %I: number out of a double's range",
                        (LUAI_UACINT)D.out_of_range_at);
        return push_failure(L, lua_tostring(L, -1), D.out_of_range_at);
    }
    return 1;
}
