/* lambda.ini: one AWS shared config or credentials file, parsed by the rules all AWS SDKs share.
 *
 *   ini.decode(text, "config" | "credentials") -> result | nil, "line L: message"
 *
 *   result = { profiles = { [name] = { [key] = value } }, sso_sessions = { ... },
 *              services = { ... }, warnings = { "line L: ...", ... } }
 *
 * A value is a string, or a table of strings for a property written as `key =` followed by
 * indented `subkey = value` lines. Keys and subkeys are lower-cased; names keep their case.
 * sso_sessions and services stay empty for a credentials file, which has no such sections.
 *
 * Sections the SDKs ignore (a config section without the "profile " prefix, a credentials
 * section with it, an invalid name) and properties with invalid names are dropped with a
 * warning. Lines the SDKs reject fail the whole file. Messages never quote values: they may be
 * secrets. Merging the two files and choosing a profile are left to the Lua side. */
#include <lauxlib.h>
#include <stdlib.h>
#include <string.h>

#include "common/ascii.h"
#include "common/luax.h"
#include "host/modules.h"

enum file_kind { CONFIG, CREDENTIALS };

/* What indented lines continue: nothing, a one-line value, a value already continued (a table
 * of its lines), an empty value (indented lines then start sub-properties), or sub-properties. */
enum property_state { NO_PROPERTY, VALUE, CONTINUED, EMPTY_VALUE, SUBPROPERTIES };

/* Stack slots of parse_file: the arguments, then the result tables and the property being read
 * (a property is stored when the next line that is not a continuation arrives). */
enum {
    SLOT_PARSER = 1,
    SLOT_RESULT,
    SLOT_PROFILES,
    SLOT_SSO_SESSIONS,
    SLOT_SERVICES,
    SLOT_WARNINGS,
    SLOT_BARE_DEFAULT, /* the config file's [default] section, nil until seen */
    SLOT_SECTION,      /* the table of the current section; nil when it is being ignored */
    SLOT_KEY,          /* the current property's lower-cased key; nil when it is being ignored */
    SLOT_VALUE,        /* its value: a string, a table of lines or a table of sub-properties */
    SLOT_COUNT = SLOT_VALUE
};

struct ini_parser {
    lua_State *L;
    const char *p, *end;
    enum file_kind kind;
    lua_Integer line;
    int in_section; /* a section header has been seen (even one being ignored) */
    enum property_state state;
    int profile_default_seen;            /* [profile default] in a config file */
    lua_Integer bare_default_line;       /* where [default] first appeared, 0 if it did not */
    lua_Integer bare_default_warning_at; /* index its warning takes if [profile default] wins */
    int failed; /* set when the error being raised is about the file, not e.g. out of memory */
};

static void trim(const char **begin, const char **end) {
    while (*begin < *end && ascii_is_blank(**begin))
        (*begin)++;
    while (*end > *begin && ascii_is_blank((*end)[-1]))
        (*end)--;
}

/* Profile, sso-session and services names, and property keys: what every SDK accepts. */
static int is_valid_name(const char *begin, const char *end) {
    if (begin == end)
        return 0;
    for (const char *c = begin; c < end; c++) {
        unsigned char u = (unsigned char)*c;
        int alnum = (u >= 'a' && u <= 'z') || (u >= 'A' && u <= 'Z') || (u >= '0' && u <= '9');
        if (!alnum && (u == '\0' || !strchr("-/.%@_:+", u)))
            return 0;
    }
    return 1;
}

_Noreturn static void fail(struct ini_parser *P, const char *message) {
    lua_pushfstring(P->L, "line %I: %s", P->line, message);
    P->failed = 1;
    lua_error(P->L);
    abort(); /* not reached */
}

/* Names and keys quoted in warnings are cut short: a warning is one line of a report. */
static const char *push_quoted(lua_State *L, const char *begin, const char *end) {
    size_t length = (size_t)(end - begin);
    lua_pushlstring(L, begin, length > 64 ? 64 : length);
    lua_pushstring(L, length > 64 ? "..." : "");
    lua_concat(L, 2);
    return lua_tostring(L, -1);
}

/* Appends "line L: <message on top of the stack>" to the warnings, popping the message. */
static void warn(struct ini_parser *P) {
    lua_State *L = P->L;
    lua_pushfstring(L, "line %I: %s", P->line, lua_tostring(L, -1));
    lua_rawseti(L, SLOT_WARNINGS, (lua_Integer)lua_rawlen(L, SLOT_WARNINGS) + 1);
    lua_pop(L, 1);
}

/* Stores the property being read into its section, unless either is being ignored. */
static void finish_property(struct ini_parser *P) {
    lua_State *L = P->L;
    enum property_state state = P->state;
    P->state = NO_PROPERTY;
    if (state == NO_PROPERTY || lua_isnil(L, SLOT_SECTION) || lua_isnil(L, SLOT_KEY))
        return;
    lua_pushvalue(L, SLOT_KEY);
    if (state == CONTINUED) {
        luaL_Buffer b;
        lua_Integer count = (lua_Integer)lua_rawlen(L, SLOT_VALUE);
        luaL_buffinit(L, &b);
        for (lua_Integer i = 1; i <= count; i++) {
            if (i > 1)
                luaL_addchar(&b, '\n');
            lua_rawgeti(L, SLOT_VALUE, i);
            luaL_addvalue(&b);
        }
        luaL_pushresult(&b);
    } else {
        lua_pushvalue(L, SLOT_VALUE);
    }
    lua_rawset(L, SLOT_SECTION);
}

/* Makes the section `name` of the result table at `category` current, creating it if needed. */
static void enter_section(struct ini_parser *P, int category, const char *name, const char *end) {
    lua_State *L = P->L;
    lua_pushlstring(L, name, (size_t)(end - name));
    lua_pushvalue(L, -1);
    if (lua_rawget(L, category) == LUA_TNIL) {
        lua_pop(L, 1);
        lua_newtable(L);
        lua_pushvalue(L, -2);
        lua_pushvalue(L, -2);
        lua_rawset(L, category);
    }
    lua_replace(L, SLOT_SECTION);
    lua_pop(L, 1);
}

static void ignore_section(struct ini_parser *P, const char *reason) {
    lua_pushnil(P->L);
    lua_replace(P->L, SLOT_SECTION);
    lua_pushstring(P->L, reason);
    warn(P);
}

/* The part of a header after `prefix` and at least one blank, or NULL. */
static const char *after_prefix(const char *begin, const char *end, const char *prefix) {
    size_t length = strlen(prefix);
    if ((size_t)(end - begin) <= length || memcmp(begin, prefix, length) != 0 ||
        !ascii_is_blank(begin[length]))
        return NULL;
    return begin + length;
}

static void enter_named_section(struct ini_parser *P, int category, const char *what,
                                const char *name, const char *end, const char *section,
                                const char *section_end) {
    trim(&name, &end);
    if (is_valid_name(name, end)) {
        enter_section(P, category, name, end);
        return;
    }
    lua_State *L = P->L;
    const char *quoted_section = push_quoted(L, section, section_end);
    const char *quoted_name = push_quoted(L, name, end);
    ignore_section(P, lua_pushfstring(L, "section [%s] ignored: '%s' is not a valid %s name",
                                      quoted_section, quoted_name, what));
    lua_pop(L, 3);
}

static void config_section(struct ini_parser *P, const char *section, const char *end) {
    lua_State *L = P->L;
    const char *name;
    if ((name = after_prefix(section, end, "profile"))) {
        enter_named_section(P, SLOT_PROFILES, "profile", name, end, section, end);
        trim(&name, &end);
        if ((size_t)(end - name) == 7 && memcmp(name, "default", 7) == 0)
            P->profile_default_seen = 1;
    } else if ((name = after_prefix(section, end, "sso-session"))) {
        enter_named_section(P, SLOT_SSO_SESSIONS, "sso-session", name, end, section, end);
    } else if ((name = after_prefix(section, end, "services"))) {
        enter_named_section(P, SLOT_SERVICES, "services", name, end, section, end);
    } else if ((size_t)(end - section) == 7 && memcmp(section, "default", 7) == 0) {
        /* Kept apart: [profile default] replaces it, wherever that comes in the file. */
        if (lua_isnil(L, SLOT_BARE_DEFAULT)) {
            lua_newtable(L);
            lua_replace(L, SLOT_BARE_DEFAULT);
            P->bare_default_line = P->line;
            P->bare_default_warning_at = (lua_Integer)lua_rawlen(L, SLOT_WARNINGS) + 1;
        }
        lua_pushvalue(L, SLOT_BARE_DEFAULT);
        lua_replace(L, SLOT_SECTION);
    } else {
        const char *quoted = push_quoted(L, section, end);
        ignore_section(P, lua_pushfstring(L,
                                          "section [%s] ignored: config file profiles are "
                                          "written [profile NAME]",
                                          quoted));
        lua_pop(L, 2);
    }
}

static void credentials_section(struct ini_parser *P, const char *section, const char *end) {
    lua_State *L = P->L;
    if (after_prefix(section, end, "profile")) {
        const char *quoted = push_quoted(L, section, end);
        ignore_section(P, lua_pushfstring(L,
                                          "section [%s] ignored: credentials file profiles "
                                          "are written [NAME]",
                                          quoted));
        lua_pop(L, 2);
    } else {
        enter_named_section(P, SLOT_PROFILES, "profile", section, end, section, end);
    }
}

/* [section]: a comment may follow the ']' directly; nothing else may. */
static void section_line(struct ini_parser *P, const char *begin, const char *end) {
    finish_property(P);
    for (const char *c = begin; c < end; c++) {
        if (*c == '#' || *c == ';') {
            end = c;
            break;
        }
    }
    trim(&begin, &end);
    if (end - begin < 2 || end[-1] != ']')
        fail(P, "section header must end with ']'");
    begin++;
    end--;
    trim(&begin, &end);
    P->in_section = 1;
    if (P->kind == CONFIG)
        config_section(P, begin, end);
    else
        credentials_section(P, begin, end);
}

/* key = value. A comment starts at '#' or ';' after a blank: `value;x` keeps the ';'. */
static void property_line(struct ini_parser *P, const char *begin, const char *end) {
    lua_State *L = P->L;
    finish_property(P);
    if (!P->in_section)
        fail(P, "property outside of any [section]");
    for (const char *c = begin + 1; c < end; c++) {
        if ((*c == '#' || *c == ';') && ascii_is_blank(c[-1])) {
            end = c;
            break;
        }
    }
    const char *equals = memchr(begin, '=', (size_t)(end - begin));
    if (!equals)
        fail(P, "expected 'key = value', found no '='");
    const char *key = begin, *key_end = equals, *value = equals + 1;
    trim(&key, &key_end);
    trim(&value, &end);
    if (key == key_end)
        fail(P, "property without a name before '='");
    if (is_valid_name(key, key_end)) {
        luax_push_lower(L, key, (size_t)(key_end - key));
    } else {
        if (!lua_isnil(L, SLOT_SECTION)) {
            lua_pushfstring(L, "property '%s' ignored: not a valid property name",
                            push_quoted(L, key, key_end));
            lua_remove(L, -2);
            warn(P);
        }
        lua_pushnil(L);
    }
    lua_replace(L, SLOT_KEY);
    lua_pushlstring(L, value, (size_t)(end - value));
    lua_replace(L, SLOT_VALUE);
    P->state = value == end ? EMPTY_VALUE : VALUE;
}

/* An indented `subkey = value` line under `key =`. No comments here: the SDKs keep the text. */
static void subproperty_line(struct ini_parser *P, const char *begin, const char *end) {
    lua_State *L = P->L;
    const char *equals = memchr(begin, '=', (size_t)(end - begin));
    if (!equals)
        fail(P, "expected 'subkey = value' in a sub-property block, found no '='");
    const char *key = begin, *key_end = equals, *value = equals + 1;
    trim(&key, &key_end);
    trim(&value, &end);
    if (key == key_end)
        fail(P, "sub-property without a name before '='");
    if (P->state == EMPTY_VALUE) {
        lua_newtable(L);
        lua_replace(L, SLOT_VALUE);
        P->state = SUBPROPERTIES;
    }
    luax_push_lower(L, key, (size_t)(key_end - key));
    lua_pushlstring(L, value, (size_t)(end - value));
    lua_rawset(L, SLOT_VALUE);
}

/* An indented line: more of the value above, or a sub-property of an empty one. */
static void continuation_line(struct ini_parser *P, const char *begin, const char *end) {
    lua_State *L = P->L;
    if (!P->in_section)
        fail(P, "indented line outside of any [section]");
    trim(&begin, &end);
    switch (P->state) {
    case NO_PROPERTY:
        fail(P, "indented line continues no property");
    case EMPTY_VALUE:
    case SUBPROPERTIES:
        subproperty_line(P, begin, end);
        return;
    case VALUE:
        lua_createtable(L, 2, 0);
        lua_pushvalue(L, SLOT_VALUE);
        lua_rawseti(L, -2, 1);
        lua_replace(L, SLOT_VALUE);
        P->state = CONTINUED;
        break;
    case CONTINUED:
        break;
    }
    lua_pushlstring(L, begin, (size_t)(end - begin));
    lua_rawseti(L, SLOT_VALUE, (lua_Integer)lua_rawlen(L, SLOT_VALUE) + 1);
}

/* In a config file [profile default] wins over [default]; otherwise [default] is the default
 * profile. The warning goes where [default] first appeared, keeping warnings in line order. */
static void settle_bare_default(struct ini_parser *P) {
    lua_State *L = P->L;
    if (lua_isnil(L, SLOT_BARE_DEFAULT))
        return;
    if (!P->profile_default_seen) {
        lua_pushvalue(L, SLOT_BARE_DEFAULT);
        lua_setfield(L, SLOT_PROFILES, "default");
        return;
    }
    for (lua_Integer i = (lua_Integer)lua_rawlen(L, SLOT_WARNINGS); i >= P->bare_default_warning_at;
         i--) {
        lua_rawgeti(L, SLOT_WARNINGS, i);
        lua_rawseti(L, SLOT_WARNINGS, i + 1);
    }
    lua_pushfstring(L, "line %I: section [default] ignored: [profile default] takes precedence",
                    P->bare_default_line);
    lua_rawseti(L, SLOT_WARNINGS, P->bare_default_warning_at);
}

static void new_result_table(lua_State *L, const char *field) {
    lua_newtable(L);
    lua_pushvalue(L, -1);
    lua_setfield(L, SLOT_RESULT, field);
}

/* Runs under lua_pcall: a malformed line raises through fail() and nothing needs freeing. */
static int parse_file(lua_State *L) {
    struct ini_parser *P = lua_touserdata(L, SLOT_PARSER);
    luaL_checkstack(L, SLOT_COUNT + 10, NULL);
    lua_newtable(L);
    new_result_table(L, "profiles");
    new_result_table(L, "sso_sessions");
    new_result_table(L, "services");
    new_result_table(L, "warnings");
    lua_settop(L, SLOT_COUNT);
    while (P->p < P->end) {
        const char *begin = P->p;
        const char *end = memchr(begin, '\n', (size_t)(P->end - begin));
        P->p = end ? end + 1 : P->end;
        if (!end)
            end = P->end;
        if (end > begin && end[-1] == '\r')
            end--;
        P->line++;
        const char *first = begin;
        while (first < end && ascii_is_blank(*first))
            first++;
        if (first == end || *begin == '#' || *begin == ';')
            continue; /* blank lines and comments do not end a property */
        if (*begin == '[')
            section_line(P, begin, end);
        else if (ascii_is_blank(*begin))
            continuation_line(P, begin, end);
        else
            property_line(P, begin, end);
    }
    finish_property(P);
    settle_bare_default(P);
    lua_settop(L, SLOT_RESULT);
    return 1;
}

static int ini_decode(lua_State *L) {
    static const char *const kinds[] = {"config", "credentials", NULL};
    size_t length;
    const char *text = luaL_checklstring(L, 1, &length);
    struct ini_parser parser = {
        .L = L,
        .p = text,
        .end = text + length,
        .kind = (enum file_kind)luaL_checkoption(L, 2, NULL, kinds),
    };
    if (length >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0)
        parser.p += 3; /* Windows editors may start the file with a byte order mark */
    lua_pushcfunction(L, parse_file);
    lua_pushlightuserdata(L, &parser);
    if (lua_pcall(L, 1, 1, 0) == LUA_OK)
        return 1;
    if (!parser.failed)
        return lua_error(L);
    luaL_pushfail(L);
    lua_insert(L, -2);
    lua_pushliteral(L, "input");
    return 3;
}

int luaopen_lambda_ini(lua_State *L) {
    static const luaL_Reg functions[] = {
        {"decode", ini_decode},
        {NULL, NULL},
    };
    luaL_newlib(L, functions);
    return 1;
}
