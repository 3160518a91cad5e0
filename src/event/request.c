/* The request object of the lambda.event HTTP server, and the answers written through it.
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
#include "event/server.h"

#include <event2/buffer.h>
#include <lauxlib.h>
#include <string.h>

static const struct {
    int status;
    const char *reason;
} reasons[] = {
    {100, "Continue"},
    {101, "Switching Protocols"},
    {200, "OK"},
    {201, "Created"},
    {202, "Accepted"},
    {203, "Non-Authoritative Information"},
    {204, "No Content"},
    {205, "Reset Content"},
    {206, "Partial Content"},
    {300, "Multiple Choices"},
    {301, "Moved Permanently"},
    {302, "Found"},
    {303, "See Other"},
    {304, "Not Modified"},
    {307, "Temporary Redirect"},
    {308, "Permanent Redirect"},
    {400, "Bad Request"},
    {401, "Unauthorized"},
    {403, "Forbidden"},
    {404, "Not Found"},
    {405, "Method Not Allowed"},
    {406, "Not Acceptable"},
    {408, "Request Timeout"},
    {409, "Conflict"},
    {410, "Gone"},
    {411, "Length Required"},
    {412, "Precondition Failed"},
    {413, "Content Too Large"},
    {414, "URI Too Long"},
    {415, "Unsupported Media Type"},
    {417, "Expectation Failed"},
    {422, "Unprocessable Content"},
    {429, "Too Many Requests"},
    {431, "Request Header Fields Too Large"},
    {500, "Internal Server Error"},
    {501, "Not Implemented"},
    {502, "Bad Gateway"},
    {503, "Service Unavailable"},
    {504, "Gateway Timeout"},
    {505, "HTTP Version Not Supported"},
};

const char *http_reason(int status) {
    for (size_t i = 0; i < sizeof reasons / sizeof reasons[0]; i++)
        if (reasons[i].status == status)
            return reasons[i].reason;
    return "Unknown";
}

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

static void push_lower(lua_State *L, const char *text, size_t length) {
    luaL_Buffer buffer;
    char *out = luaL_buffinitsize(L, &buffer, length);
    for (size_t i = 0; i < length; i++)
        out[i] = text[i] >= 'A' && text[i] <= 'Z' ? (char)(text[i] + 32) : text[i];
    luaL_pushresultsize(&buffer, length);
}

/* t[lower(name)] = value, or the existing value .. ", " .. value */
static void add_field(lua_State *L, int table, const char *name, size_t name_length,
                      const char *value, size_t value_length) {
    push_lower(L, name, name_length);
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

static void response_finished(lua_State *L, struct http_request *request) {
    request->response = RESPONSE_DONE;
    http_conn_response_done(L, request->conn);
}

void http_request_fail(lua_State *L, struct http_request *request, int status) {
    if (!request->conn)
        return;
    http_conn_write_error(request->conn, status);
    response_finished(L, request);
}

static struct http_request *check_request(lua_State *L) {
    return luaL_checkudata(L, 1, HTTP_REQUEST_TYPE);
}

static int is_open(const struct http_request *request) {
    return request->conn && !request->closed && request->response != RESPONSE_DONE;
}

static int connection_closed(lua_State *L) {
    lua_pushnil(L);
    lua_pushliteral(L, "connection closed");
    return 2;
}

static int check_status(lua_State *L, int arg) {
    lua_Integer status = luaL_checkinteger(L, arg);
    luaL_argcheck(L, status >= 200 && status <= 999, arg, "status must be from 200 to 999");
    return (int)status;
}

static int is_value_char(unsigned char c) {
    return c == '\t' || (c >= 0x20 && c != 0x7f);
}

/* What the script's headers say about framing. */
struct head_info {
    int user_length; /* it gave a Content-Length */
    int close;       /* it asked for Connection: close */
    int pass_length; /* its Content-Length is kept (HEAD, 304); otherwise the body's is sent */
};

/* Checks one header and, with out, writes it unless the server manages it (the framing
 * headers Transfer-Encoding, Content-Length and Connection). */
static void visit_header(lua_State *L, struct head_info *info, struct evbuffer *out, int name_index,
                         int value_index) {
    size_t name_length = 0, value_length = 0;
    const char *name = NULL, *value = NULL;
    if (lua_type(L, name_index) == LUA_TSTRING)
        name = lua_tolstring(L, name_index, &name_length);
    if (!name || name_length == 0)
        luaL_error(L, "header names must be non-empty strings");
    for (size_t i = 0; i < name_length; i++)
        if (!http_is_token_char((unsigned char)name[i]))
            luaL_error(L, "invalid header name '%s'", name);
    int type = lua_type(L, value_index);
    if (type == LUA_TSTRING || type == LUA_TNUMBER)
        value = lua_tolstring(L, value_index, &value_length);
    if (!value)
        luaL_error(L, "header '%s' must have a string value", name);
    for (size_t i = 0; i < value_length; i++)
        if (!is_value_char((unsigned char)value[i]))
            luaL_error(L, "invalid character in the value of header '%s'", name);
    int is_length = http_token_equals(name, name_length, "content-length");
    int is_connection = http_token_equals(name, name_length, "connection");
    if (!out) {
        info->user_length = info->user_length || is_length;
        info->close =
            info->close || (is_connection && http_has_token(value, value_length, "close"));
        return;
    }
    if (is_connection || http_token_equals(name, name_length, "transfer-encoding") ||
        (is_length && !info->pass_length))
        return;
    evbuffer_add(out, name, name_length);
    evbuffer_add(out, ": ", 2);
    evbuffer_add(out, value, value_length);
    evbuffer_add(out, "\r\n", 2);
}

/* The headers argument: a map {name = value | {value, ...}} or a list {{name, value}, ...}.
 * Without out, only checks (raising on a bad one); with out, writes. */
static void visit_headers(lua_State *L, struct head_info *info, struct evbuffer *out, int table) {
    if (lua_isnoneornil(L, table))
        return;
    if (lua_rawlen(L, table) > 0) {
        for (lua_Integer i = 1; lua_rawgeti(L, table, i) != LUA_TNIL; i++) {
            if (!lua_istable(L, -1))
                luaL_error(L, "header list entry %I must be a {name, value} pair", i);
            lua_rawgeti(L, -1, 1);
            lua_rawgeti(L, -2, 2);
            visit_header(L, info, out, -2, -1);
            lua_pop(L, 3);
        }
        lua_pop(L, 1);
        return;
    }
    lua_pushnil(L);
    while (lua_next(L, table)) {
        if (lua_istable(L, -1)) { /* a repeated header: {name = {value, ...}} */
            for (lua_Integer i = 1; lua_rawgeti(L, -1, i) != LUA_TNIL; i++) {
                visit_header(L, info, out, -3, -1);
                lua_pop(L, 1);
            }
            lua_pop(L, 1);
        } else {
            visit_header(L, info, out, -2, -1);
        }
        lua_pop(L, 1);
    }
}

/* Writes the status line and headers. A streamed body uses the chunked coding, or for an
 * HTTP/1.0 client ends when the connection closes. */
static void write_head(lua_State *L, struct http_request *request, int status, int headers,
                       int streaming, size_t body_length) {
    struct http_conn *conn = request->conn;
    struct head_info info = {0, 0, !streaming && (request->head_only || status == 304)};
    visit_headers(L, &info, NULL, headers);
    /* All checked: nothing below raises an error, so no half-written head is left behind. */
    struct evbuffer *out = bufferevent_get_output(conn->bev);
    int no_body = status == 204 || status == 304;
    int keep_alive = conn->keep_alive && !info.close;
    int chunked = 0;
    evbuffer_add_printf(out, "HTTP/1.1 %d %s\r\n", status, http_reason(status));
    visit_headers(L, &info, out, headers);
    if (!streaming) {
        if (!no_body && !(info.pass_length && info.user_length))
            evbuffer_add_printf(out, "Content-Length: %zu\r\n", body_length);
    } else if (!no_body && !request->head_only) {
        if (request->http10) {
            keep_alive = 0;
        } else {
            chunked = 1;
            evbuffer_add_printf(out, "Transfer-Encoding: chunked\r\n");
        }
    }
    if (!keep_alive)
        evbuffer_add_printf(out, "Connection: close\r\n");
    else if (request->http10)
        evbuffer_add_printf(out, "Connection: keep-alive\r\n");
    evbuffer_add(out, "\r\n", 2);
    conn->keep_alive = keep_alive;
    request->chunked_response = chunked;
    request->no_body = no_body || request->head_only;
}

/* request:respond(status, headers?, body?) -> true | nil, "connection closed" */
static int request_respond(lua_State *L) {
    struct http_request *request = check_request(L);
    int status = check_status(L, 2);
    if (!lua_isnoneornil(L, 3))
        luaL_checktype(L, 3, LUA_TTABLE);
    size_t length;
    const char *body = luaL_optlstring(L, 4, "", &length);
    if (request->response != RESPONSE_NONE)
        return luaL_error(L, "request already answered");
    if (!is_open(request))
        return connection_closed(L);
    write_head(L, request, status, 3, 0, length);
    if (length > 0 && !request->no_body)
        evbuffer_add(bufferevent_get_output(request->conn->bev), body, length);
    response_finished(L, request);
    lua_pushboolean(L, 1);
    return 1;
}

/* request:start_stream(status, headers?) -> true | nil, "connection closed" */
static int request_start_stream(lua_State *L) {
    struct http_request *request = check_request(L);
    int status = check_status(L, 2);
    if (!lua_isnoneornil(L, 3))
        luaL_checktype(L, 3, LUA_TTABLE);
    if (request->response != RESPONSE_NONE)
        return luaL_error(L, "request already answered");
    if (!is_open(request))
        return connection_closed(L);
    write_head(L, request, status, 3, 1, 0);
    request->response = RESPONSE_STREAMING;
    lua_pushboolean(L, 1);
    return 1;
}

static struct http_request *check_streaming(lua_State *L) {
    struct http_request *request = check_request(L);
    if (request->response == RESPONSE_NONE)
        luaL_error(L, "the response stream has not been started (request:start_stream)");
    if (request->response == RESPONSE_DONE)
        luaL_error(L, "the response is already complete");
    return request;
}

/* request:send_chunk(data) -> true | nil, "connection closed" */
static int request_send_chunk(lua_State *L) {
    struct http_request *request = check_streaming(L);
    size_t length;
    const char *data = luaL_checklstring(L, 2, &length);
    if (!is_open(request))
        return connection_closed(L);
    /* An empty chunk would end the body; HEAD, 204 and 304 answers have none. */
    if (length > 0 && !request->no_body) {
        struct evbuffer *output = bufferevent_get_output(request->conn->bev);
        if (request->chunked_response)
            evbuffer_add_printf(output, "%zx\r\n", length);
        evbuffer_add(output, data, length);
        if (request->chunked_response)
            evbuffer_add(output, "\r\n", 2);
    }
    lua_pushboolean(L, 1);
    return 1;
}

/* request:finish_stream() -> true | nil, "connection closed" */
static int request_finish_stream(lua_State *L) {
    struct http_request *request = check_streaming(L);
    if (!is_open(request))
        return connection_closed(L);
    if (request->chunked_response)
        evbuffer_add(bufferevent_get_output(request->conn->bev), "0\r\n\r\n", 5);
    response_finished(L, request);
    lua_pushboolean(L, 1);
    return 1;
}

/* request:is_open() -> true while the client waits for (the rest of) the answer */
static int request_is_open(lua_State *L) {
    lua_pushboolean(L, is_open(check_request(L)));
    return 1;
}

static int set_callback(lua_State *L, int slot) {
    check_request(L);
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
    struct http_request *request = check_request(L);
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
    struct http_request *request = check_request(L);
    if (request->conn) { /* only when the whole state closes */
        request->conn->request = NULL;
        request->conn = NULL;
    }
    return 0;
}

void event_http_request_open(lua_State *L) {
    static const luaL_Reg methods[] = {
        {"respond", request_respond},
        {"start_stream", request_start_stream},
        {"send_chunk", request_send_chunk},
        {"finish_stream", request_finish_stream},
        {"is_open", request_is_open},
        {"on_close", request_on_close},
        {"on_chunk", request_on_chunk},
        {"on_end", request_on_end},
        {NULL, NULL},
    };
    luaL_newmetatable(L, HTTP_REQUEST_TYPE);
    luaL_newlib(L, methods);
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
