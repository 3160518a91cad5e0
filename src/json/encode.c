/* lambda.json's encode (value.h): Lua values to JSON text, with integers written in full
 * and floats written so that they read back as the same double.
 *
 * encode recurses once per nested table, at most JSON_MAX_DEPTH deep, and writes into a buffer
 * owned by a to-be-closed userdata, so an error raised half way through frees it. */
#include <lauxlib.h>
#include <locale.h> /* lua_getlocaledecpoint */
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/utf8.h"
#include "json/pretty.h"
#include "json/value.h"

#if LUA_FLOAT_TYPE != LUA_FLOAT_DOUBLE
#error "floats are written with %g and read back with strtod: lua_Number must be double"
#endif

#define OUTPUT_METATABLE "lambda.json.output"

/* What replaces ill-formed UTF-8 in encoded text: U+FFFD REPLACEMENT CHARACTER. */
#define REPLACEMENT_CHARACTER "\xEF\xBF\xBD"

/* Room for any integer, or any float in %.17g, with sign, exponent and the NUL. */
#define NUMBER_TEXT_SIZE 32

/* The text being written. The bytes come from the state's allocator, as luaL_Buffer's do;
 * the userdata holding this is to-be-closed, so they are freed when encode returns or raises
 * (and by __gc should the userdata outlive that). */
struct json_output {
    char *bytes;
    size_t length;
    size_t capacity;
};

struct encoder {
    lua_State *L;
    struct json_output *out;
    int array_mt; /* stack index of the metatable that marks a table as an array */
    int depth;    /* tables open around the value being written */
};

static int free_output(lua_State *L) {
    struct json_output *out = luaL_checkudata(L, 1, OUTPUT_METATABLE);
    void *state;
    lua_Alloc allocate = lua_getallocf(L, &state);
    allocate(state, out->bytes, out->capacity, 0);
    *out = (struct json_output){0};
    return 0;
}

static void grow(struct encoder *E, size_t needed) {
    struct json_output *out = E->out;
    size_t capacity = out->capacity ? out->capacity : 256;
    while (capacity - out->length < needed) {
        if (capacity > ((size_t)-1) / 2)
            luaL_error(E->L, "cannot encode JSON: the text would be too long");
        capacity *= 2;
    }
    void *state;
    lua_Alloc allocate = lua_getallocf(E->L, &state);
    char *bytes = allocate(state, out->bytes, out->capacity, capacity);
    if (!bytes)
        luaL_error(E->L, "not enough memory"); /* the old block is still the userdata's */
    out->bytes = bytes;
    out->capacity = capacity;
}

static void add(struct encoder *E, const void *bytes, size_t length) {
    struct json_output *out = E->out;
    if (length == 0)
        return;
    if (out->capacity - out->length < length)
        grow(E, length);
    memcpy(out->bytes + out->length, bytes, length);
    out->length += length;
}

static void add_escaped_control(struct encoder *E, unsigned char c) {
    static const char hex[] = "0123456789abcdef";
    switch (c) {
    case '"':
        add(E, "\\\"", 2);
        break;
    case '\\':
        add(E, "\\\\", 2);
        break;
    case '\b':
        add(E, "\\b", 2);
        break;
    case '\f':
        add(E, "\\f", 2);
        break;
    case '\n':
        add(E, "\\n", 2);
        break;
    case '\r':
        add(E, "\\r", 2);
        break;
    case '\t':
        add(E, "\\t", 2);
        break;
    default: {
        char escape[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 0xF]};
        add(E, escape, sizeof escape);
        break;
    }
    }
}

/* How many bytes at s, which do not start well-formed UTF-8, one U+FFFD replaces: the start
 * of a sequence as far as it goes (Unicode's "maximal subpart"), or the one byte that cannot
 * start any. */
static size_t ill_formed_length(const unsigned char *s, const unsigned char *end) {
    size_t bad;
    utf8_sequence_length(s, end, &bad);
    return bad ? bad : 1;
}

/* The length of the well-formed UTF-8 that s starts with. */
static size_t well_formed_prefix(const unsigned char *s, const unsigned char *end) {
    const unsigned char *p = s;
    while (p < end) {
        size_t length = *p < 0x80 ? 1 : utf8_sequence_length(p, end, NULL);
        if (length == 0)
            break;
        p += length;
    }
    return (size_t)(p - s);
}

/* Writes a string literal. Only '"', '\\' and control characters are escaped: '/' needs no
 * escape, and U+2028 and U+2029 are valid JSON as they are. A Lua string may hold any bytes
 * and JSON text only UTF-8, so ill-formed UTF-8 is written as U+FFFD rather than refused: a
 * caller passing on text it got from a process or a file cannot get an error for it. */
static void encode_string(struct encoder *E, const char *text, size_t length) {
    const unsigned char *s = (const unsigned char *)text, *end = s + length, *run = s;
    add(E, "\"", 1);
    while (s < end) {
        unsigned char c = *s;
        if (c >= 0x20 && c < 0x80 && c != '"' && c != '\\') {
            s++;
            continue;
        }
        if (c >= 0x80) {
            size_t sequence = utf8_sequence_length(s, end, NULL);
            if (sequence) {
                s += sequence;
                continue;
            }
            add(E, run, (size_t)(s - run));
            add(E, REPLACEMENT_CHARACTER, 3);
            s += ill_formed_length(s, end);
        } else {
            add(E, run, (size_t)(s - run));
            add_escaped_control(E, c);
            s++;
        }
        run = s;
    }
    add(E, run, (size_t)(s - run));
    add(E, "\"", 1);
}

/* Writes the number at index into text (NUMBER_TEXT_SIZE bytes) and returns its length.
 * Integers are written in full. A float gets the fewest of 15, 16 or 17 significant digits
 * that read back as the same double: exact, yet 0.1 stays "0.1" rather than 17 digits. A whole
 * float is written without a fraction ("200"), which decode reads back as the integer 200:
 * JSON does not tell the two apart. */
static size_t format_number(lua_State *L, int index, char *text) {
    if (lua_isinteger(L, index))
        return (size_t)snprintf(text, NUMBER_TEXT_SIZE, LUA_INTEGER_FMT,
                                (LUAI_UACINT)lua_tointeger(L, index));
    double number = lua_tonumber(L, index);
    if (!isfinite(number))
        luaL_error(L, "cannot encode JSON: the number %f is NaN or infinity", number);
    int length = 0;
    for (int digits = 15; digits <= 17; digits++) {
        length = snprintf(text, NUMBER_TEXT_SIZE, "%.*g", digits, number);
        if (strtod(text, NULL) == number)
            break;
    }
    /* snprintf and strtod above agree on the locale (see read_double in decode.c);
     * JSON's decimal point is '.' whatever the locale's is. */
    char *point = strchr(text, lua_getlocaledecpoint());
    if (point)
        *point = '.';
    return (size_t)length;
}

static void encode_value(struct encoder *E, int index);

static void encode_array(struct encoder *E, int table, lua_Integer length) {
    add(E, "[", 1);
    for (lua_Integer i = 1; i <= length; i++) {
        if (i > 1)
            add(E, ",", 1);
        lua_rawgeti(E->L, table, i);
        encode_value(E, lua_gettop(E->L));
        lua_pop(E->L, 1);
    }
    add(E, "]", 1);
}

/* Pushes the string at index with ill-formed UTF-8 replaced, as encode_string writes it: object
 * keys are sorted by what is written. */
static void push_well_formed(lua_State *L, int index) {
    size_t length;
    const unsigned char *start = (const unsigned char *)lua_tolstring(L, index, &length);
    const unsigned char *end = start + length, *s = start + well_formed_prefix(start, end);
    if (s == end) {
        lua_pushvalue(L, index);
        return;
    }
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    luaL_addlstring(&b, (const char *)start, (size_t)(s - start));
    while (s < end) {
        luaL_addstring(&b, REPLACEMENT_CHARACTER);
        s += ill_formed_length(s, end);
        size_t valid = well_formed_prefix(s, end);
        luaL_addlstring(&b, (const char *)s, valid);
        s += valid;
    }
    luaL_pushresult(&b);
}

/* An object member: its key as written, and the slot of the member list where the key itself
 * is kept (the text is kept right after it, so the pointer stays valid). */
struct member {
    const char *key;
    size_t length;
    lua_Integer slot;
};

static int compare_members(const void *left, const void *right) {
    const struct member *a = left, *b = right;
    int order = memcmp(a->key, b->key, a->length < b->length ? a->length : b->length);
    if (order != 0)
        return order;
    return (a->length > b->length) - (a->length < b->length);
}

/* Writes a table of count entries as an object with its keys in byte order, so that the same
 * table always gives the same text. A number key is written as encode writes the number, as
 * cjson does. */
static void encode_object(struct encoder *E, int table, lua_Integer count) {
    lua_State *L = E->L;
    lua_createtable(L, count < (1 << 20) ? (int)count * 2 : 0, 0);
    int list = lua_gettop(L); /* key, text, key, text, ... */
    struct member *members = lua_newuserdatauv(L, (size_t)count * sizeof *members, 0);
    lua_Integer n = 0;
    lua_pushnil(L);
    while (lua_next(L, table)) {
        /* Only a finalizer run by an allocation below could add keys: never write past the
         * list. */
        if (n == count)
            luaL_error(L, "cannot encode JSON: a table changed while it was being written");
        lua_pop(L, 1);
        int key = lua_gettop(L);
        if (lua_type(L, key) == LUA_TSTRING) {
            push_well_formed(L, key);
        } else if (lua_type(L, key) == LUA_TNUMBER) {
            char text[NUMBER_TEXT_SIZE];
            size_t length = format_number(L, key, text);
            lua_pushlstring(L, text, length);
        } else {
            luaL_error(L, "cannot encode JSON: table key must be a string or a number");
        }
        size_t length;
        const char *text = lua_tolstring(L, -1, &length);
        members[n] = (struct member){text, length, 2 * n + 1};
        lua_rawseti(L, list, 2 * n + 2);
        lua_pushvalue(L, key);
        lua_rawseti(L, list, 2 * n + 1);
        n++;
    }
    qsort(members, (size_t)n, sizeof *members, compare_members);
    for (lua_Integer i = 1; i < n; i++) {
        if (compare_members(&members[i - 1], &members[i]) == 0)
            luaL_error(L, "cannot encode JSON: two keys of a table are both written \"%s\"",
                       members[i].key);
    }
    add(E, "{", 1);
    for (lua_Integer i = 0; i < n; i++) {
        if (i > 0)
            add(E, ",", 1);
        encode_string(E, members[i].key, members[i].length);
        add(E, ":", 1);
        lua_rawgeti(L, list, members[i].slot);
        lua_rawget(L, table);
        encode_value(E, lua_gettop(L));
        lua_pop(L, 1);
    }
    add(E, "}", 1);
    lua_pop(L, 2);
}

/* The number of entries of the table at index; *sequence says whether the keys are exactly
 * the integers 1 to that number. */
static lua_Integer count_entries(lua_State *L, int table, bool *sequence) {
    lua_Integer count = 0, largest = 0;
    bool positive_integers = true;
    lua_pushnil(L);
    while (lua_next(L, table)) {
        lua_pop(L, 1);
        count++;
        if (positive_integers && lua_isinteger(L, -1) && lua_tointeger(L, -1) >= 1) {
            lua_Integer key = lua_tointeger(L, -1);
            largest = key > largest ? key : largest;
        } else {
            positive_integers = false;
        }
    }
    *sequence = positive_integers && largest == count;
    return count;
}

/* A table with array_mt is an array of its elements 1 to #t (a nil among them is null). Any
 * other table is an array when its keys are exactly 1..n; otherwise, empty tables included, it
 * is an object: a sparse array becomes an object with keys "1", "5", ... */
static void encode_table(struct encoder *E, int table) {
    lua_State *L = E->L;
    /* A cycle nests without end, so the depth limit catches it too. */
    if (E->depth == JSON_MAX_DEPTH)
        luaL_error(L, "cannot encode JSON: nested too deep (or a cycle)");
    E->depth++;
    luaL_checkstack(L, 8, "JSON nesting");
    bool marked = false;
    if (lua_getmetatable(L, table)) {
        marked = lua_rawequal(L, -1, E->array_mt);
        lua_pop(L, 1);
    }
    bool sequence;
    lua_Integer count;
    if (marked) {
        encode_array(E, table, (lua_Integer)lua_rawlen(L, table));
    } else if ((count = count_entries(L, table, &sequence)) == 0) {
        add(E, "{}", 2);
    } else if (sequence) {
        encode_array(E, table, count);
    } else {
        encode_object(E, table, count);
    }
    E->depth--;
}

static void encode_value(struct encoder *E, int index) {
    lua_State *L = E->L;
    switch (lua_type(L, index)) {
    case LUA_TNIL:
        add(E, "null", 4);
        return;
    case LUA_TBOOLEAN:
        if (lua_toboolean(L, index))
            add(E, "true", 4);
        else
            add(E, "false", 5);
        return;
    case LUA_TNUMBER: {
        char text[NUMBER_TEXT_SIZE];
        size_t length = format_number(L, index, text);
        add(E, text, length);
        return;
    }
    case LUA_TSTRING: {
        size_t length;
        const char *text = lua_tolstring(L, index, &length);
        encode_string(E, text, length);
        return;
    }
    case LUA_TTABLE:
        encode_table(E, index);
        return;
    case LUA_TLIGHTUSERDATA:
        if (lua_touserdata(L, index) == NULL) { /* json.null */
            add(E, "null", 4);
            return;
        }
        break;
    }
    luaL_error(L, "cannot encode JSON: cannot encode a %s", luaL_typename(L, index));
}

/* encode(value) -> text. A value JSON cannot hold (a function, a cycle, NaN) is a bug in the
 * caller, so it raises. */
int json_encode(lua_State *L) {
    luaL_checkany(L, 1);
    lua_settop(L, 1);
    struct json_output *out = lua_newuserdatauv(L, sizeof *out, 0);
    *out = (struct json_output){0};
    if (luaL_newmetatable(L, OUTPUT_METATABLE)) {
        lua_pushcfunction(L, free_output);
        lua_setfield(L, -2, "__close");
        lua_pushcfunction(L, free_output);
        lua_setfield(L, -2, "__gc");
    }
    lua_setmetatable(L, -2);
    lua_toclose(L, 2);
    struct encoder E = {.L = L, .out = out, .array_mt = lua_upvalueindex(1), .depth = 0};
    encode_value(&E, 1);
    lua_pushlstring(L, out->bytes, out->length);
    return 1;
}
