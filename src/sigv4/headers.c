/* Canonical headers for Signature Version 4 (see headers.h). The headers are gathered in
 * an array in a userdata, their lower-cased names and values kept alive by an anchor table, so
 * that an error raised half-way leaks nothing. */
#include "sigv4/headers.h"

#include <lauxlib.h>
#include <stdlib.h>
#include <string.h>

#include "common/ascii.h"
#include "common/luax.h"
#include "sigv4/canonical.h"

/* The Host header a client sends for the URL: host[:port], the port left out when it is the
 * scheme's default. */
static void push_host(lua_State *L, const struct url *url) {
    lua_pushlstring(L, url->host, url->host_length);
    if (url->port && url->port != url->default_port) {
        lua_pushfstring(L, ":%d", (int)url->port);
        lua_concat(L, 2);
    }
}

/* One header of the canonical request; names are lower case. */
struct header {
    const char *name, *value;
    size_t name_length, value_length;
    size_t order; /* position in the caller's list: repeated headers keep their order */
    int is_signed;
};

struct header_list {
    struct header *items;
    size_t count;
    int anchor; /* stack index of a table that keeps the names and values alive */
    lua_Integer anchored;
    int has_host;
};

/* Appends the lower-case name (at -2) and the value (at -1) and pops both. */
static void store_header(lua_State *L, struct header_list *list) {
    struct header *h = &list->items[list->count];
    h->name = lua_tolstring(L, -2, &h->name_length);
    h->value = lua_tolstring(L, -1, &h->value_length);
    h->order = list->count++;
    h->is_signed = 1;
    lua_rawseti(L, list->anchor, ++list->anchored);
    lua_rawseti(L, list->anchor, ++list->anchored);
}

/* Headers the signer adds itself: a caller's copy would be signed twice or contradict it. */
static int is_signer_header(const struct sigv4_header_options *o, const char *name) {
    return strcmp(name, "authorization") == 0 || strcmp(name, "x-amz-date") == 0 ||
           (o->session_token && strcmp(name, "x-amz-security-token") == 0) ||
           (o->content_sha256 && strcmp(name, "x-amz-content-sha256") == 0);
}

static void add_caller_header(lua_State *L, const struct sigv4_header_options *o,
                              struct header_list *list, int name_index, int value_index) {
    name_index = lua_absindex(L, name_index);
    value_index = lua_absindex(L, value_index);
    if (lua_type(L, name_index) != LUA_TSTRING)
        luaL_argerror(L, 1,
                      lua_pushfstring(L, "field 'headers': header name must be a string, got %s",
                                      luaL_typename(L, name_index)));
    size_t length;
    const char *name = lua_tolstring(L, name_index, &length);
    if (!ascii_is_token(name, length))
        luaL_argerror(L, 1, lua_pushfstring(L, "field 'headers': invalid header name '%s'", name));
    int value_type = lua_type(L, value_index);
    if (value_type != LUA_TSTRING && value_type != LUA_TNUMBER)
        luaL_argerror(L, 1,
                      lua_pushfstring(L,
                                      "field 'headers': header '%s' must have a string value, "
                                      "got %s",
                                      name, luaL_typename(L, value_index)));
    luax_push_lower(L, name, length);
    const char *lower = lua_tostring(L, -1);
    if (is_signer_header(o, lower))
        luaL_argerror(L, 1,
                      lua_pushfstring(L, "field 'headers': '%s' is added by the signer", name));
    list->has_host = list->has_host || strcmp(lower, "host") == 0;
    lua_pushvalue(L, value_index);
    lua_tostring(L, -1); /* a number becomes its text, in the copy */
    store_header(L, list);
}

static int compare_headers(const void *left, const void *right) {
    const struct header *a = left, *b = right;
    size_t shorter = a->name_length < b->name_length ? a->name_length : b->name_length;
    int order = memcmp(a->name, b->name, shorter);
    if (order == 0)
        order = (a->name_length > b->name_length) - (a->name_length < b->name_length);
    if (order == 0)
        order = (a->order > b->order) - (a->order < b->order);
    return order;
}

static int has_name(const struct header *h, const char *name, size_t length) {
    return h->name_length == length && memcmp(h->name, name, length) == 0;
}

/* Pushes the header array and its anchor table: the caller's headers (a map, or an array of
 * {name, value} pairs keeping order and repeats), then Host when the caller gave none, and
 * the headers the signer adds, sorted by name. */
static void collect_headers(lua_State *L, const struct sigv4_header_options *o,
                            struct header_list *list) {
    size_t given = 0;
    int is_array = 0;
    if (o->headers) {
        is_array = lua_rawgeti(L, o->headers, 1) != LUA_TNIL;
        lua_pop(L, 1);
        if (is_array) {
            given = lua_rawlen(L, o->headers);
        } else {
            for (lua_pushnil(L); lua_next(L, o->headers); lua_pop(L, 1))
                given++;
        }
    }
    size_t capacity = given + 4;
    list->items = lua_newuserdatauv(L, capacity * sizeof *list->items, 0);
    lua_createtable(L, (int)(2 * capacity), 0);
    list->anchor = lua_gettop(L);
    if (is_array) {
        for (size_t i = 1; i <= given; i++) {
            if (lua_rawgeti(L, o->headers, (lua_Integer)i) != LUA_TTABLE)
                luaL_argerror(L, 1,
                              lua_pushfstring(L,
                                              "field 'headers': headers[%d] must be a "
                                              "{name, value} pair",
                                              (int)i));
            lua_rawgeti(L, -1, 1);
            lua_rawgeti(L, -2, 2);
            add_caller_header(L, o, list, -2, -1);
            lua_pop(L, 3);
        }
    } else if (o->headers) {
        for (lua_pushnil(L); lua_next(L, o->headers); lua_pop(L, 1))
            add_caller_header(L, o, list, -2, -1);
    }
    if (!list->has_host) {
        lua_pushliteral(L, "host");
        push_host(L, o->url);
        store_header(L, list);
    }
    if (o->amz_date) {
        lua_pushliteral(L, "x-amz-date");
        lua_pushstring(L, o->amz_date);
        store_header(L, list);
    }
    if (o->session_token) {
        lua_pushliteral(L, "x-amz-security-token");
        lua_pushlstring(L, o->session_token, o->session_token_length);
        store_header(L, list);
    }
    if (o->content_sha256) {
        lua_pushliteral(L, "x-amz-content-sha256");
        lua_pushstring(L, o->content_sha256);
        store_header(L, list);
    }
    qsort(list->items, list->count, sizeof *list->items, compare_headers);
}

static int set_signed(struct header_list *list, const char *name, size_t length, int is_signed) {
    int found = 0;
    for (size_t i = 0; i < list->count; i++) {
        if (has_name(&list->items[i], name, length)) {
            list->items[i].is_signed = is_signed;
            found = 1;
        }
    }
    return found;
}

/* All headers are signed, unless opts.signed_headers names the ones to sign; Host and (with
 * an Authorization header) X-Amz-Date always are. */
static void mark_signed(lua_State *L, const struct sigv4_header_options *o,
                        struct header_list *list) {
    if (o->signed_headers) {
        for (size_t i = 0; i < list->count; i++)
            list->items[i].is_signed = 0;
        size_t count = lua_rawlen(L, o->signed_headers);
        for (size_t i = 1; i <= count; i++) {
            size_t length;
            if (lua_rawgeti(L, o->signed_headers, (lua_Integer)i) != LUA_TSTRING)
                luaL_argerror(L, 1,
                              lua_pushfstring(L,
                                              "field 'signed_headers': item %d must be a "
                                              "header name",
                                              (int)i));
            const char *name = lua_tolstring(L, -1, &length);
            luax_push_lower(L, name, length);
            const char *lower = lua_tostring(L, -1);
            if (!set_signed(list, lower, length, 1))
                luaL_argerror(L, 1,
                              lua_pushfstring(L,
                                              "field 'signed_headers': the request has no "
                                              "header '%s'",
                                              name));
            lua_pop(L, 2);
        }
        set_signed(list, "host", 4, 1);
        set_signed(list, "x-amz-date", 10, 1);
    }
    if (o->omit_session_token)
        set_signed(list, "x-amz-security-token", 20, 0);
}

/* Pushes the canonical headers ("name:value\n" for each signed name, the values of repeated
 * headers joined by ',') and then the signed header list ("a;b;c"). */
static void push_header_lines(lua_State *L, const struct header_list *list) {
    const struct header *items = list->items;
    luaL_Buffer buffer;
    luaL_buffinit(L, &buffer);
    for (size_t i = 0, end; i < list->count; i = end) {
        for (end = i + 1; end < list->count; end++) {
            if (!has_name(&items[end], items[i].name, items[i].name_length))
                break;
        }
        if (!items[i].is_signed)
            continue;
        luaL_addlstring(&buffer, items[i].name, items[i].name_length);
        luaL_addchar(&buffer, ':');
        for (size_t k = i; k < end; k++) {
            if (k > i)
                luaL_addchar(&buffer, ',');
            sigv4_add_header_value(&buffer, items[k].value, items[k].value_length);
        }
        luaL_addchar(&buffer, '\n');
    }
    luaL_pushresult(&buffer);

    luaL_buffinit(L, &buffer);
    for (size_t i = 0; i < list->count; i++) {
        if (!items[i].is_signed ||
            (i > 0 && has_name(&items[i - 1], items[i].name, items[i].name_length)))
            continue;
        if (luaL_bufflen(&buffer) > 0)
            luaL_addchar(&buffer, ';');
        luaL_addlstring(&buffer, items[i].name, items[i].name_length);
    }
    luaL_pushresult(&buffer);
}

void sigv4_push_canonical_headers(lua_State *L, const struct sigv4_header_options *options) {
    struct header_list list;
    memset(&list, 0, sizeof list);
    collect_headers(L, options, &list);
    mark_signed(L, options, &list);
    push_header_lines(L, &list);
    /* Only the two strings stay: the header array and its anchor go. */
    lua_rotate(L, -4, 2);
    lua_pop(L, 2);
}
