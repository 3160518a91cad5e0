/* Answers of the lambda.event HTTP server, written through the request object (request.c
 * documents the methods): the status line and header fields with the framing the server
 * decides (Content-Length, or chunked for a stream), then the body or the chunks. */
#include <event2/buffer.h>
#include <lauxlib.h>
#include <stdio.h>
#include <string.h>

#include "common/ascii.h"
#include "event/server.h"

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
        if (!ascii_is_tchar((unsigned char)name[i]))
            luaL_error(L, "invalid header name '%s'", name);
    int type = lua_type(L, value_index);
    if (type == LUA_TSTRING || type == LUA_TNUMBER)
        value = lua_tolstring(L, value_index, &value_length);
    if (!value)
        luaL_error(L, "header '%s' must have a string value", name);
    for (size_t i = 0; i < value_length; i++)
        if (!http_is_field_value_char((unsigned char)value[i]))
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
    struct http_request *request = http_check_request(L);
    int status = check_status(L, 2);
    if (!lua_isnoneornil(L, 3))
        luaL_checktype(L, 3, LUA_TTABLE);
    size_t length;
    const char *body = luaL_optlstring(L, 4, "", &length);
    if (request->response != RESPONSE_NONE)
        return luaL_error(L, "request already answered");
    if (!http_request_is_open(request))
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
    struct http_request *request = http_check_request(L);
    int status = check_status(L, 2);
    if (!lua_isnoneornil(L, 3))
        luaL_checktype(L, 3, LUA_TTABLE);
    if (request->response != RESPONSE_NONE)
        return luaL_error(L, "request already answered");
    if (!http_request_is_open(request))
        return connection_closed(L);
    write_head(L, request, status, 3, 1, 0);
    request->response = RESPONSE_STREAMING;
    lua_pushboolean(L, 1);
    return 1;
}

static struct http_request *check_streaming(lua_State *L) {
    struct http_request *request = http_check_request(L);
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
    if (!http_request_is_open(request))
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
    if (!http_request_is_open(request))
        return connection_closed(L);
    if (request->chunked_response)
        evbuffer_add(bufferevent_get_output(request->conn->bev), "0\r\n\r\n", 5);
    response_finished(L, request);
    lua_pushboolean(L, 1);
    return 1;
}

/* request:http_request_is_open() -> true while the client waits for (the rest of) the answer */

const luaL_Reg http_response_methods[] = {
    {"respond", request_respond},
    {"start_stream", request_start_stream},
    {"send_chunk", request_send_chunk},
    {"finish_stream", request_finish_stream},
    {NULL, NULL},
};
