/* Reading requests from a connection of lambda.event's HTTP server (server.h): the head, the
 * body (buffered, or delivered piece by piece with stream_body), pipelined requests one after
 * another, and the hand-over to the Lua handler. Requests on one connection are answered in
 * order: the next is read once the current one has been read completely and answered. */
#include <event2/buffer.h>
#include <lauxlib.h>
#include <string.h>

#include "event/server.h"

void http_conn_finish_request(lua_State *L, struct http_conn *conn) {
    if (conn->request)
        http_request_detach(L, conn->request);
    conn->state = READ_HEAD;
    conn->head_scanned = 0;
    if (!conn->keep_alive)
        http_conn_close_after_write(L, conn);
}

void http_conn_response_done(lua_State *L, struct http_conn *conn) {
    /* While a callback of this connection runs, its processing loop goes on from here; while
     * a streamed body is still arriving, reading it to the end finishes the request. */
    if (conn->busy || conn->state != READ_DONE)
        return;
    http_conn_finish_request(L, conn);
    http_conn_resume_later(conn);
    http_conn_update_timeout(conn);
}

/* The body cannot be read to its end (malformed, too large): the request ends here. */
static void fail_body(lua_State *L, struct http_conn *conn, int status) {
    struct http_request *request = conn->request;
    conn->busy++;
    if (request->dispatched && request->response != RESPONSE_DONE && !request->closed) {
        request->closed = 1;
        event_loop_pcall(conn->loop, L, http_request_on_close, request);
    }
    if (!conn->dead) {
        enum response_state response = request->response;
        http_request_detach(L, request);
        if (response == RESPONSE_STREAMING)
            http_conn_kill(L, conn);
        else if (response == RESPONSE_DONE)
            http_conn_close_after_write(L, conn);
        else
            http_conn_reject(L, conn, status);
    }
    http_conn_release(conn);
}

struct too_large_context {
    struct http_conn *conn;
    uint64_t size;
};

static int call_too_large(lua_State *L) {
    const struct too_large_context *context = lua_touserdata(L, 1);
    struct http_conn *conn = context->conn;
    event_push_ref(L, conn->server->ref);
    lua_getiuservalue(L, -1, SERVER_TOO_LARGE);
    event_push_ref(L, conn->request->ref);
    lua_pushinteger(L, (lua_Integer)conn->max_body);
    lua_pushinteger(L, (lua_Integer)context->size);
    lua_call(L, 3, 0);
    return 0;
}

/* The body is over its limit: too_large may answer (the script knows what the request was
 * for: an Invoke payload and a function's answer fail differently), then the request ends. */
static void body_too_large(lua_State *L, struct http_conn *conn, uint64_t size) {
    struct http_request *request = conn->request;
    if (conn->server->has_too_large && request->response == RESPONSE_NONE && !request->closed) {
        struct too_large_context context = {conn, size};
        event_loop_pcall(conn->loop, L, call_too_large, &context);
        if (conn->dead || !conn->request)
            return; /* the callback closed the server */
    }
    fail_body(L, conn, 413);
}

/* Sets conn->max_body from the request's head through the server's max_body function. */
static int choose_max_body(lua_State *L) {
    struct http_conn *conn = lua_touserdata(L, 1);
    event_push_ref(L, conn->server->ref);
    lua_getiuservalue(L, -1, SERVER_MAX_BODY);
    event_push_ref(L, conn->request->ref);
    lua_call(L, 1, 1);
    int exact;
    lua_Integer limit = lua_tointegerx(L, -1, &exact);
    if (!exact || limit < 0)
        return luaL_error(L, "http_server: max_body must return a byte count (an integer >= 0)");
    conn->max_body = (uint64_t)limit;
    return 0;
}

static void dispatch(lua_State *L, struct http_conn *conn) {
    struct http_request *request = conn->request;
    int ok = event_loop_pcall(conn->loop, L, http_request_dispatch, conn);
    if (!ok && !conn->dead && conn->request == request && request->response == RESPONSE_NONE &&
        !request->closed)
        http_request_fail(L, request, 500);
}

static void body_complete(lua_State *L, struct http_conn *conn) {
    conn->state = READ_DONE;
    if (!conn->request->streamed)
        dispatch(L, conn);
    else
        event_loop_pcall(conn->loop, L, http_request_on_end, conn);
}

/* Adds a piece of the body; returns 0 when the connection can read no further. */
static int add_body(lua_State *L, struct http_conn *conn, const char *data, size_t length) {
    conn->body_size += length;
    if (conn->body_size > conn->max_body) {
        body_too_large(L, conn, conn->body_size);
        return 0;
    }
    if (!conn->request->streamed) {
        evbuffer_add(conn->body, data, length);
        return 1;
    }
    struct http_piece_context context = {conn, data, length, NULL, 0};
    event_loop_pcall(conn->loop, L, http_request_on_chunk, &context);
    return !conn->dead;
}

static int read_sized_body(lua_State *L, struct http_conn *conn, struct evbuffer *input) {
    size_t length = evbuffer_get_length(input);
    size_t n = length < conn->body_left ? length : (size_t)conn->body_left;
    if (n == 0)
        return 0;
    if (conn->request->streamed) {
        if (!add_body(L, conn, (const char *)evbuffer_pullup(input, (ev_ssize_t)n), n))
            return 0;
        evbuffer_drain(input, n);
    } else {
        /* Moves the buffer chains, mostly without copying. */
        evbuffer_remove_buffer(input, conn->body, n);
        conn->body_size += n;
    }
    conn->body_left -= n;
    if (conn->body_left > 0)
        return 0;
    body_complete(L, conn);
    return 1;
}

static int read_chunked_body(lua_State *L, struct http_conn *conn, struct evbuffer *input) {
    size_t length = evbuffer_get_length(input);
    if (length == 0)
        return 0;
    const char *data = (const char *)evbuffer_pullup(input, -1);
    size_t offset = 0;
    for (;;) {
        size_t used;
        struct http_span piece, value;
        enum http_chunk_event event = http_chunked_next(&conn->chunked, data + offset,
                                                        length - offset, &used, &piece, &value);
        const char *at = data + offset;
        offset += used;
        if (event == HTTP_CHUNK_DATA) {
            if (!add_body(L, conn, at + piece.offset, piece.length))
                return 0;
        } else if (event == HTTP_CHUNK_TRAILER) {
            struct http_piece_context context = {conn, at + piece.offset, piece.length,
                                                 at + value.offset, value.length};
            event_loop_pcall(conn->loop, L, http_request_add_trailer, &context);
            if (conn->dead)
                return 0;
        } else if (event == HTTP_CHUNK_END) {
            evbuffer_drain(input, offset);
            body_complete(L, conn);
            return 1;
        } else if (event == HTTP_CHUNK_ERROR) {
            fail_body(L, conn, 400);
            return 0;
        } else {
            evbuffer_drain(input, offset);
            return 0;
        }
    }
}

static int begin_body(lua_State *L, struct http_conn *conn) {
    struct http_request *request = conn->request;
    const struct http_head *head = &conn->head;
    int has_body = head->chunked || head->content_length > 0;
    if (head->content_length > 0 && (uint64_t)head->content_length > conn->max_body) {
        body_too_large(L, conn, (uint64_t)head->content_length);
        return 0;
    }
    evbuffer_drain(conn->body, evbuffer_get_length(conn->body));
    conn->body_size = 0;
    conn->body_left = head->content_length > 0 ? (uint64_t)head->content_length : 0;
    memset(&conn->chunked, 0, sizeof conn->chunked);
    conn->chunked.max_trailer = conn->server->max_headers;
    if (has_body && head->expect_continue)
        evbuffer_add_printf(bufferevent_get_output(conn->bev), "HTTP/1.1 100 Continue\r\n\r\n");
    conn->state = READ_BODY;
    if (request->streamed) {
        dispatch(L, conn);
        if (conn->dead)
            return 0;
    }
    if (!has_body)
        body_complete(L, conn);
    return 1;
}

static int read_head(lua_State *L, struct http_conn *conn, struct evbuffer *input) {
    size_t max_headers = conn->server->max_headers;
    size_t length = evbuffer_get_length(input);
    /* Empty lines before a request line are ignored (RFC 9112 2.2). */
    while (length > 0 && conn->head_scanned == 0) {
        char first;
        evbuffer_copyout(input, &first, 1);
        if (first != '\r' && first != '\n')
            break;
        evbuffer_drain(input, 1);
        length--;
    }
    if (length == 0)
        return 0;
    size_t limit = length < max_headers ? length : max_headers;
    size_t contiguous = evbuffer_get_contiguous_space(input);
    if (contiguous > limit)
        contiguous = limit;
    /* Usually the head is in the first buffer chain, and looking at it copies nothing. */
    const char *data = (const char *)evbuffer_pullup(input, (ev_ssize_t)contiguous);
    size_t end = http_head_end(data, contiguous, &conn->head_scanned);
    if (end == 0 && contiguous < limit) {
        data = (const char *)evbuffer_pullup(input, (ev_ssize_t)limit);
        end = http_head_end(data, limit, &conn->head_scanned);
    }
    if (end == 0) {
        if (limit == max_headers)
            http_conn_reject(L, conn, 431);
        return 0;
    }
    int status = http_parse_head(data, end, &conn->head);
    if (status != 0) {
        http_conn_reject(L, conn, status);
        return 0;
    }
    conn->head_scanned = 0;
    conn->keep_alive = conn->head.keep_alive;
    struct http_build_context context = {conn, data};
    int built = event_loop_pcall(conn->loop, L, http_request_build, &context);
    if (conn->dead)
        return 0;
    evbuffer_drain(input, end);
    conn->max_body = conn->server->max_body;
    if (built && conn->request && conn->server->choose_max_body) {
        built = event_loop_pcall(conn->loop, L, choose_max_body, conn);
        if (conn->dead)
            return 0;
    }
    if (!built || !conn->request) {
        if (conn->request)
            http_request_detach(L, conn->request);
        http_conn_reject(L, conn, 500);
        return 0;
    }
    return begin_body(L, conn);
}

void http_conn_process(struct http_conn *conn) {
    lua_State *L = conn->loop->L;
    struct event_base *base = conn->loop->base;
    struct evbuffer *input = bufferevent_get_input(conn->bev);
    int progress = 1;
    conn->busy++;
    while (progress && !conn->dead && conn->closing == OPEN && !event_base_got_break(base)) {
        switch (conn->state) {
        case READ_HEAD:
            progress = read_head(L, conn, input);
            break;
        case READ_BODY:
            progress = conn->head.chunked ? read_chunked_body(L, conn, input)
                                          : read_sized_body(L, conn, input);
            break;
        case READ_DONE:
            progress = !conn->request || conn->request->response == RESPONSE_DONE;
            if (progress)
                http_conn_finish_request(L, conn);
            break;
        }
    }
    /* Stopped by event.stop(): what is buffered is read when the loop runs again. */
    if (progress && !conn->dead && event_base_got_break(base))
        http_conn_resume_later(conn);
    http_conn_update_timeout(conn);
    http_conn_release(conn);
}
