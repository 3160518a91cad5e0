/* The request object of the lambda.event HTTP server (the answers are in response.c).
 *
 * A request reads like a table: method, uri, path (raw, not decoded), query (raw, or nil),
 * headers (lower-case name -> value, repeated fields joined with ", "), header_list ({name,
 * value} pairs as received), body (a string; nil when streamed), trailers (the chunked
 * trailer fields by lower-case name, when there were any), peer ("127.0.0.1:54321",
 * "[::1]:54321"). Scripts may store fields of their own in it.
 *
 *   request:respond(status, headers?, body?)   a whole answer; Content-Length is the body's
 *   request:start_stream(status, headers?)     then :send_chunk(data) ... :finish_stream()
 *   request:is_open()                          false once answered or the client is gone
 *   request:on_close(fn)                       fn(request) if it ends unanswered
 *   request:on_chunk(fn), request:on_end(fn)   with stream_body: fn(data), fn(trailers); set
 *                                              them in the handler (pieces that arrive while
 *                                              no on_chunk is set are dropped)
 *
 * headers is a map {name = value | {value, ...}} or a list {{name, value}, ...}. The server
 * writes the framing itself: Transfer-Encoding and Connection given by the script are not
 * sent (Connection: close is honoured) and neither is Content-Length, except in answers to
 * HEAD and in 304s. Answering methods return true, or nil, "connection closed" when the
 * client went away; answering twice, or streaming without start_stream, raises an error.
 * A request the script keeps stays open until answered or until the client goes away. */
#include <event2/buffer.h>
#include <lauxlib.h>
#include <string.h>

#include "common/luax.h"
#include "event/server.h"

void http_request_detach(lua_State *L, struct http_request *request) {
    if (request->conn) {
        request->conn->request = NULL;
        request->conn = NULL;
    }
    if (request->ref != LUA_NOREF)
        event_unref(L, &request->ref);
}

static void push_span(lua_State *L, const char *data, struct http_span span) {
    lua_pushlstring(L, data + span.offset, span.length);
}

/* t[lower(name)] = value, or the existing value .. ", " .. value */
static void add_field(lua_State *L, int table, const char *name, size_t name_length,
                      const char *value, size_t value_length) {
    luax_push_lower(L, name, name_length);
    lua_pushvalue(L, -1);
    if (lua_rawget(L, table) == LUA_TNIL) {
        lua_pop(L, 1);
        lua_pushlstring(L, value, value_length);
    } else {
        lua_pushliteral(L, ", ");
        lua_pushlstring(L, value, value_length);
        lua_concat(L, 3);
    }
    lua_rawset(L, table);
}

/* Sets fields path and query of the table on top from a request target. */
static void set_path_and_query(lua_State *L, const char *target, size_t length) {
    size_t start = 0;
    int absolute = 0;
    if (length > 0 && target[0] != '/') {
        /* absolute form (scheme://authority/path?query), sent to proxies */
        for (size_t i = 0; i + 2 < length; i++) {
            if (target[i] == ':' && target[i + 1] == '/' && target[i + 2] == '/') {
                start = i + 3;
                while (start < length && target[start] != '/' && target[start] != '?')
                    start++;
                absolute = 1;
                break;
            }
        }
    }
    const char *question = memchr(target + start, '?', length - start);
    size_t end = question ? (size_t)(question - target) : length;
    if (absolute && end == start)
        lua_pushliteral(L, "/");
    else
        lua_pushlstring(L, target + start, end - start);
    lua_setfield(L, -2, "path");
    if (question) {
        lua_pushlstring(L, question + 1, length - end - 1);
        lua_setfield(L, -2, "query");
    }
}

static void set_headers(lua_State *L, const char *data, const struct http_head *head) {
    int count = (int)head->header_count;
    lua_createtable(L, 0, count);
    int headers = lua_gettop(L);
    lua_createtable(L, count, 0);
    for (int i = 0; i < count; i++) {
        const struct http_field *field = &head->headers[i];
        lua_createtable(L, 2, 0);
        push_span(L, data, field->name);
        lua_rawseti(L, -2, 1);
        push_span(L, data, field->value);
        lua_rawseti(L, -2, 2);
        lua_rawseti(L, -2, i + 1);
        add_field(L, headers, data + field->name.offset, field->name.length,
                  data + field->value.offset, field->value.length);
    }
    lua_setfield(L, headers - 1, "header_list");
    lua_setfield(L, headers - 1, "headers");
}

int http_request_build(lua_State *L) {
    const struct http_build_context *context = lua_touserdata(L, 1);
    struct http_conn *conn = context->conn;
    const char *data = context->data;
    const struct http_head *head = &conn->head;
    struct http_request *request = lua_newuserdatauv(L, sizeof *request, 4);
    memset(request, 0, sizeof *request);
    request->ref = LUA_NOREF;
    luaL_setmetatable(L, HTTP_REQUEST_TYPE);
    lua_createtable(L, 0, 8);
    push_span(L, data, head->method);
    lua_setfield(L, -2, "method");
    push_span(L, data, head->target);
    lua_setfield(L, -2, "uri");
    set_path_and_query(L, data + head->target.offset, head->target.length);
    set_headers(L, data, head);
    lua_pushstring(L, conn->peer);
    lua_setfield(L, -2, "peer");
    lua_setiuservalue(L, -2, REQUEST_FIELDS);
    request->head_only =
        head->method.length == 4 && memcmp(data + head->method.offset, "HEAD", 4) == 0;
    request->http10 = head->minor_version == 0;
    lua_pushvalue(L, -1);
    request->ref = luaL_ref(L, LUA_REGISTRYINDEX);
    request->conn = conn;
    conn->request = request;
    /* stream_body decides from the head alone whether the handler reads the body itself. */
    event_push_ref(L, conn->server->ref);
    lua_getiuservalue(L, -1, SERVER_STREAM_BODY);
    if (lua_isfunction(L, -1)) {
        lua_pushvalue(L, -3);
        lua_call(L, 1, 1);
    }
    request->streamed = lua_toboolean(L, -1);
    return 0;
}

int http_request_dispatch(lua_State *L) {
    struct http_conn *conn = lua_touserdata(L, 1);
    struct http_request *request = conn->request;
    event_push_ref(L, conn->server->ref);
    lua_getiuservalue(L, -1, SERVER_HANDLER);
    event_push_ref(L, request->ref);
    if (!request->streamed) {
        lua_getiuservalue(L, -1, REQUEST_FIELDS);
        size_t length = evbuffer_get_length(conn->body);
        const char *body = length ? (const char *)evbuffer_pullup(conn->body, -1) : "";
        lua_pushlstring(L, body, length);
        lua_setfield(L, -2, "body");
        lua_pop(L, 1);
        evbuffer_drain(conn->body, length);
    }
    request->dispatched = 1;
    lua_call(L, 1, 0);
    return 0;
}

int http_request_add_trailer(lua_State *L) {
    const struct http_piece_context *piece = lua_touserdata(L, 1);
    event_push_ref(L, piece->conn->request->ref);
    lua_getiuservalue(L, -1, REQUEST_FIELDS);
    if (lua_getfield(L, -1, "trailers") != LUA_TTABLE) {
        lua_pop(L, 1);
        lua_newtable(L);
        lua_pushvalue(L, -1);
        lua_setfield(L, -3, "trailers");
    }
    add_field(L, lua_gettop(L), piece->data, piece->length, piece->value, piece->value_length);
    return 0;
}

int http_request_on_chunk(lua_State *L) {
    const struct http_piece_context *piece = lua_touserdata(L, 1);
    event_push_ref(L, piece->conn->request->ref);
    if (lua_getiuservalue(L, -1, REQUEST_ON_CHUNK) != LUA_TFUNCTION)
        return 0;
    lua_pushlstring(L, piece->data, piece->length);
    lua_call(L, 1, 0);
    return 0;
}

int http_request_on_end(lua_State *L) {
    struct http_conn *conn = lua_touserdata(L, 1);
    event_push_ref(L, conn->request->ref);
    if (lua_getiuservalue(L, -1, REQUEST_ON_END) != LUA_TFUNCTION)
        return 0;
    lua_getiuservalue(L, -2, REQUEST_FIELDS);
    if (lua_getfield(L, -1, "trailers") != LUA_TTABLE) {
        lua_pop(L, 1);
        lua_newtable(L);
    }
    lua_remove(L, -2);
    lua_call(L, 1, 0);
    return 0;
}

int http_request_on_close(lua_State *L) {
    struct http_request *request = lua_touserdata(L, 1);
    event_push_ref(L, request->ref);
    if (lua_getiuservalue(L, -1, REQUEST_ON_CLOSE) != LUA_TFUNCTION)
        return 0;
    lua_insert(L, -2);
    lua_call(L, 1, 0);
    return 0;
}

struct http_request *http_check_request(lua_State *L) {
    return luaL_checkudata(L, 1, HTTP_REQUEST_TYPE);
}

int http_request_is_open(const struct http_request *request) {
    return request->conn && !request->closed && request->response != RESPONSE_DONE;
}

static int request_is_open(lua_State *L) {
    lua_pushboolean(L, http_request_is_open(http_check_request(L)));
    return 1;
}

static int set_callback(lua_State *L, int slot) {
    http_check_request(L);
    if (!lua_isnil(L, 2))
        luaL_checktype(L, 2, LUA_TFUNCTION);
    lua_settop(L, 2);
    lua_setiuservalue(L, 1, slot);
    return 0;
}

/* request:on_close(fn | nil): fn(request) when the request ends unanswered (client gone) */
static int request_on_close(lua_State *L) {
    return set_callback(L, REQUEST_ON_CLOSE);
}

static struct http_request *check_streamed(lua_State *L) {
    struct http_request *request = http_check_request(L);
    if (!request->streamed)
        luaL_error(L, "the request body is not streamed (see the stream_body server option)");
    return request;
}

/* request:on_chunk(fn | nil): fn(data) for each piece of a streamed body */
static int request_on_chunk(lua_State *L) {
    check_streamed(L);
    return set_callback(L, REQUEST_ON_CHUNK);
}

/* request:on_end(fn | nil): fn(trailers) once a streamed body is complete */
static int request_on_end(lua_State *L) {
    check_streamed(L);
    return set_callback(L, REQUEST_ON_END);
}

/* Methods first, then the request's fields. */
static int request_index(lua_State *L) {
    lua_pushvalue(L, 2);
    if (lua_rawget(L, lua_upvalueindex(1)) != LUA_TNIL)
        return 1;
    lua_getiuservalue(L, 1, REQUEST_FIELDS);
    lua_pushvalue(L, 2);
    lua_rawget(L, -2);
    return 1;
}

static int request_newindex(lua_State *L) {
    lua_getiuservalue(L, 1, REQUEST_FIELDS);
    lua_insert(L, 2);
    lua_rawset(L, 2);
    return 0;
}

static int fields_next(lua_State *L) {
    lua_settop(L, 2);
    if (lua_next(L, 1))
        return 2;
    lua_pushnil(L);
    return 1;
}

static int request_pairs(lua_State *L) {
    lua_pushcfunction(L, fields_next);
    lua_getiuservalue(L, 1, REQUEST_FIELDS);
    lua_pushnil(L);
    return 3;
}

static int request_gc(lua_State *L) {
    struct http_request *request = http_check_request(L);
    if (request->conn) { /* only when the whole state closes */
        request->conn->request = NULL;
        request->conn = NULL;
    }
    return 0;
}

void http_request_open(lua_State *L) {
    static const luaL_Reg methods[] = {
        {"is_open", request_is_open},
        {"on_close", request_on_close},
        {"on_chunk", request_on_chunk},
        {"on_end", request_on_end},
        {NULL, NULL},
    };
    luaL_newmetatable(L, HTTP_REQUEST_TYPE);
    luaL_newlib(L, methods);
    luaL_setfuncs(L, http_response_methods, 0);
    lua_pushcclosure(L, request_index, 1);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, request_newindex);
    lua_setfield(L, -2, "__newindex");
    lua_pushcfunction(L, request_pairs);
    lua_setfield(L, -2, "__pairs");
    lua_pushcfunction(L, request_gc);
    lua_setfield(L, -2, "__gc");
    lua_pop(L, 1);
}
