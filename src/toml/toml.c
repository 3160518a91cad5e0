/* lambda.toml: a TOML 1.0 decoder (Cargo.toml and friends).
 *
 *   toml.decode(text)    -> table | nil, "line L, column C: message", "input"
 *   toml.is_array(v)     -> boolean: v is a TOML array (so {} and [] can be told apart)
 *   toml.is_datetime(v)  -> boolean: v is a TOML date-time {kind = ..., text = ...}
 *   toml.array_mt, toml.datetime_mt: the metatables those values carry (array_mt is
 *     lambda.json's, so that json.encode writes an empty TOML array as [])
 *
 * This file holds the document structure and the rules about defining tables and keys; the
 * scanners for keys, strings, numbers and date-times are in lex.c and scalar.c. The
 * decoder builds the Lua tables in a single pass as it reads. */
#include <lauxlib.h>
#include <string.h>

#include "common/luax.h"
#include "host/modules.h"
#include "toml/lex.h"

/* Arrays and inline tables nest by recursion; deeper input is rejected rather than allowed to
 * exhaust the C stack. */
#define MAX_NESTING 256

/* Stack slots of parse_document. */
enum { SLOT_PARSER = 1, SLOT_ARRAY_MT, SLOT_DATETIME_MT, SLOT_ORIGINS, SLOT_ROOT, SLOT_SECTION };

/* How a table or array came to exist, kept in the SLOT_ORIGINS table (value -> origin) for the
 * length of one decode; it decides what may still be added to the value. Everything without an
 * entry (inline tables, arrays written as values, date-times, scalars) is closed. */
enum origin {
    CLOSED,
    IMPLICIT,    /* created on the way to a deeper [header]; may get its own header later */
    HEADER,      /* defined by [header], or an element of [[header]] */
    DOTTED,      /* created by a dotted key */
    TABLE_ARRAY, /* created by [[header]]; later headers continue in its last element */
};

static enum origin origin_of(struct toml_parser *P, int index) {
    lua_State *L = P->L;
    if (lua_type(L, index) != LUA_TTABLE)
        return CLOSED;
    lua_pushvalue(L, index);
    lua_rawget(L, SLOT_ORIGINS);
    enum origin origin = (enum origin)lua_tointeger(L, -1);
    lua_pop(L, 1);
    return origin;
}

static void set_origin(struct toml_parser *P, int index, enum origin origin) {
    lua_State *L = P->L;
    index = lua_absindex(L, index);
    lua_pushvalue(L, index);
    lua_pushinteger(L, origin);
    lua_rawset(L, SLOT_ORIGINS);
}

static void push_new_table(struct toml_parser *P, enum origin origin) {
    lua_newtable(P->L);
    set_origin(P, -1, origin);
}

static void push_new_array(struct toml_parser *P) {
    lua_newtable(P->L);
    lua_pushvalue(P->L, SLOT_ARRAY_MT);
    lua_setmetatable(P->L, -2);
}

/* Reports that the key path [path, path_end) (as written) names the value at `index`, which
 * cannot take what the document tries to do with it. */
_Noreturn static void fail_defined(struct toml_parser *P, const char *path, const char *path_end,
                                   int index, const char *action) {
    lua_State *L = P->L;
    const char *how = "as a value";
    switch (origin_of(P, index)) {
    case IMPLICIT:
    case HEADER:
        how = "by a [table] header";
        break;
    case DOTTED:
        how = "by dotted keys";
        break;
    case TABLE_ARRAY:
        how = "as an array of tables";
        break;
    case CLOSED:
        if (lua_getmetatable(L, index)) {
            if (lua_rawequal(L, -1, SLOT_ARRAY_MT))
                how = "as an array";
            lua_pop(L, 1);
        } else if (lua_type(L, index) == LUA_TTABLE) {
            how = "as an inline table";
        }
        break;
    }
    lua_pushlstring(L, path, (size_t)(path_end - path));
    toml_fail(P, path, "%s '%s': it is already defined %s", action, lua_tostring(L, -1), how);
}

/* [parent key] -> [child]: the table that a dotted key a.b.c continues into. */
static void descend_dotted(struct toml_parser *P, const char *path, const char *path_end) {
    lua_State *L = P->L;
    lua_pushvalue(L, -1);
    if (lua_rawget(L, -3) == LUA_TNIL) {
        lua_pop(L, 1);
        push_new_table(P, DOTTED);
        lua_pushvalue(L, -2);
        lua_pushvalue(L, -2);
        lua_rawset(L, -5);
    } else {
        enum origin origin = origin_of(P, -1);
        if (origin == IMPLICIT)
            set_origin(P, -1, DOTTED); /* now defined, so a later [header] may not reopen it */
        else if (origin != DOTTED)
            fail_defined(P, path, path_end, -1, "cannot add keys to");
    }
    lua_replace(L, -3);
    lua_pop(L, 1);
}

/* [parent key] -> [child]: the table that a header [a.b.c] continues into. */
static void descend_header(struct toml_parser *P, const char *path, const char *path_end) {
    lua_State *L = P->L;
    lua_pushvalue(L, -1);
    if (lua_rawget(L, -3) == LUA_TNIL) {
        lua_pop(L, 1);
        push_new_table(P, IMPLICIT);
        lua_pushvalue(L, -2);
        lua_pushvalue(L, -2);
        lua_rawset(L, -5);
    } else {
        switch (origin_of(P, -1)) {
        case IMPLICIT:
        case HEADER:
        case DOTTED:
            break;
        case TABLE_ARRAY:
            lua_rawgeti(L, -1, (lua_Integer)lua_rawlen(L, -1));
            lua_remove(L, -2);
            break;
        default:
            fail_defined(P, path, path_end, -1, "cannot define a table under");
        }
    }
    lua_replace(L, -3);
    lua_pop(L, 1);
}

static void parse_value(struct toml_parser *P, int depth);

/* Reads a (possibly dotted) key with the table to start from on top of the stack: descend
 * moves into each part but the last, whose name is left pushed. Returns where the key ends,
 * for error messages that quote it. */
static const char *push_key_path(struct toml_parser *P, const char *path,
                                 void (*descend)(struct toml_parser *, const char *,
                                                 const char *)) {
    for (;;) {
        toml_push_key(P);
        const char *path_end = P->p;
        toml_skip_ws(P);
        if (*P->p != '.')
            return path_end;
        P->p++;
        toml_skip_ws(P);
        descend(P, path, path_end);
    }
}

/* key = value into the table at stack index `table`; the key may be dotted. */
static void parse_key_value(struct toml_parser *P, int table, int depth) {
    lua_State *L = P->L;
    const char *path = P->p;
    lua_pushvalue(L, table);
    const char *path_end = push_key_path(P, path, descend_dotted);
    if (*P->p != '=')
        toml_fail(P, P->p, "expected '=' after the key");
    P->p++;
    toml_skip_ws(P);
    lua_pushvalue(L, -1);
    if (lua_rawget(L, -3) != LUA_TNIL)
        fail_defined(P, path, path_end, -1, "cannot redefine key");
    lua_pop(L, 1);
    parse_value(P, depth);
    lua_rawset(L, -3);
    lua_pop(L, 1);
}

static void check_nesting(struct toml_parser *P, int depth) {
    if (depth > MAX_NESTING)
        toml_fail(P, P->p, "arrays and inline tables nested more than %d deep", MAX_NESTING);
    luaL_checkstack(P->L, LUA_MINSTACK, "TOML nesting");
}

static void parse_array(struct toml_parser *P, int depth) {
    lua_State *L = P->L;
    check_nesting(P, depth);
    P->p++;
    push_new_array(P);
    lua_Integer count = 0;
    for (;;) {
        toml_skip_blank(P);
        if (*P->p == ']')
            break;
        parse_value(P, depth);
        lua_rawseti(L, -2, ++count);
        toml_skip_blank(P);
        if (*P->p == ',')
            P->p++;
        else if (*P->p != ']')
            toml_fail(P, P->p, "expected ',' or ']' in the array");
    }
    P->p++;
}

/* TOML 1.0 inline tables sit on one line, with no trailing comma; once closed they are
 * complete (they get no origin, so nothing can add to them later). */
static void parse_inline_table(struct toml_parser *P, int depth) {
    lua_State *L = P->L;
    check_nesting(P, depth);
    P->p++;
    lua_newtable(L);
    int table = lua_gettop(L);
    toml_skip_ws(P);
    if (*P->p == '}') {
        P->p++;
        return;
    }
    for (;;) {
        parse_key_value(P, table, depth);
        toml_skip_ws(P);
        if (*P->p == '}')
            break;
        if (*P->p == '\n' || *P->p == '\r')
            toml_fail(P, P->p, "an inline table must be on a single line");
        if (*P->p != ',')
            toml_fail(P, P->p, "expected ',' or '}' in the inline table");
        P->p++;
        toml_skip_ws(P);
        if (*P->p == '}')
            toml_fail(P, P->p, "trailing comma in an inline table");
        if (*P->p == '\n' || *P->p == '\r')
            toml_fail(P, P->p, "an inline table must be on a single line");
    }
    P->p++;
}

static void push_boolean(struct toml_parser *P, const char *word, int value) {
    size_t length = strlen(word);
    if (strncmp(P->p, word, length) != 0 || toml_is_bare_key_char(P->p[length]))
        toml_fail(P, P->p, "invalid value");
    P->p += length;
    lua_pushboolean(P->L, value);
}

static void parse_value(struct toml_parser *P, int depth) {
    char c = *P->p;
    if (c == '"' || c == '\'')
        toml_push_string(P);
    else if (c == '[')
        parse_array(P, depth + 1);
    else if (c == '{')
        parse_inline_table(P, depth + 1);
    else if (c == 't')
        push_boolean(P, "true", 1);
    else if (c == 'f')
        push_boolean(P, "false", 0);
    else if ((c >= '0' && c <= '9') || c == '+' || c == '-' || c == 'i' || c == 'n')
        toml_push_number_or_datetime(P);
    else
        toml_fail(P, P->p, "expected a value");
}

/* [a.b] or [[a.b]]: makes the named table the one later key/value lines go into. */
static void parse_header(struct toml_parser *P) {
    lua_State *L = P->L;
    int table_array = P->p[1] == '[';
    P->p += table_array ? 2 : 1;
    toml_skip_ws(P);
    const char *path = P->p;
    lua_pushvalue(L, SLOT_ROOT);
    const char *path_end = push_key_path(P, path, descend_header);
    if (table_array ? P->p[0] != ']' || P->p[1] != ']' : P->p[0] != ']')
        toml_fail(P, P->p, table_array ? "expected ']]' to end the header" : "expected ']'");
    P->p += table_array ? 2 : 1;
    lua_pushvalue(L, -1);
    int type = lua_rawget(L, -3); /* [parent key value] */
    if (table_array) {
        if (type == LUA_TNIL) {
            lua_pop(L, 1);
            push_new_array(P);
            set_origin(P, -1, TABLE_ARRAY);
            lua_pushvalue(L, -2);
            lua_pushvalue(L, -2);
            lua_rawset(L, -5);
        } else if (origin_of(P, -1) != TABLE_ARRAY) {
            fail_defined(P, path, path_end, -1, "cannot define array of tables");
        }
        lua_Integer count = (lua_Integer)lua_rawlen(L, -1);
        push_new_table(P, HEADER);
        lua_pushvalue(L, -1);
        lua_rawseti(L, -3, count + 1);
    } else if (type == LUA_TNIL) {
        lua_pop(L, 1);
        push_new_table(P, HEADER);
        lua_pushvalue(L, -2);
        lua_pushvalue(L, -2);
        lua_rawset(L, -5);
    } else if (origin_of(P, -1) == IMPLICIT) {
        set_origin(P, -1, HEADER);
    } else {
        fail_defined(P, path, path_end, -1, "cannot define table");
    }
    lua_replace(L, SLOT_SECTION);
    lua_settop(L, SLOT_SECTION);
}

/* Runs under lua_pcall with the parser, array_mt and datetime_mt as arguments. */
static int parse_document(lua_State *L) {
    struct toml_parser *P = lua_touserdata(L, SLOT_PARSER);
    lua_newtable(L);             /* SLOT_ORIGINS */
    lua_newtable(L);             /* SLOT_ROOT */
    lua_pushvalue(L, SLOT_ROOT); /* SLOT_SECTION: the table key/value lines go into */
    toml_check_text(P);
    for (;;) {
        toml_skip_blank(P);
        if (*P->p == '\0')
            break;
        if (*P->p == '[')
            parse_header(P);
        else
            parse_key_value(P, SLOT_SECTION, 0);
        toml_end_line(P);
    }
    lua_pushvalue(L, SLOT_ROOT);
    return 1;
}

static int toml_decode(lua_State *L) {
    size_t length;
    const char *text = luaL_checklstring(L, 1, &length);
    struct toml_parser parser = {L, text, text, text + length, SLOT_DATETIME_MT, 0};
    if (length >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0)
        parser.start = parser.p = text + 3;
    lua_pushcfunction(L, parse_document);
    lua_pushlightuserdata(L, &parser);
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_pushvalue(L, lua_upvalueindex(2));
    if (lua_pcall(L, 3, 1, 0) == LUA_OK)
        return 1;
    if (!parser.failed) /* out of memory and the like are not the document's fault */
        return lua_error(L);
    luaL_pushfail(L);
    lua_insert(L, -2);
    lua_pushliteral(L, "input");
    return 3;
}

static int has_metatable(lua_State *L, int upvalue) {
    luaL_checkany(L, 1);
    lua_pushboolean(L, lua_getmetatable(L, 1) && lua_rawequal(L, -1, lua_upvalueindex(upvalue)));
    return 1;
}

static int toml_is_array(lua_State *L) {
    return has_metatable(L, 1);
}

static int toml_is_datetime(lua_State *L) {
    return has_metatable(L, 2);
}

static int datetime_tostring(lua_State *L) {
    luaL_checktype(L, 1, LUA_TTABLE);
    if (lua_getfield(L, 1, "text") != LUA_TSTRING)
        return luaL_error(L, "TOML date-time without a 'text' string");
    return 1;
}

int luaopen_lambda_toml(lua_State *L) {
    static const luaL_Reg functions[] = {
        {"decode", toml_decode},
        {"is_array", toml_is_array},
        {"is_datetime", toml_is_datetime},
        {NULL, NULL},
    };
    luaL_newlibtable(L, functions);
    /* Registry-backed, so values from an earlier require of this module still match. Arrays
     * carry lambda.json's array_mt (common/luax.h): lambda.json encodes an empty one as []. */
    luax_push_array_mt(L);
    luaL_newmetatable(L, "lambda.toml.datetime");
    lua_pushcfunction(L, datetime_tostring);
    lua_setfield(L, -2, "__tostring");
    lua_pushvalue(L, -2);
    lua_setfield(L, -4, "array_mt");
    lua_pushvalue(L, -1);
    lua_setfield(L, -4, "datetime_mt");
    luaL_setfuncs(L, functions, 2);
    return 1;
}
