/* lambda.event HTTP server connections (see server.c): accepting, reading request heads and
 * bodies, keep-alive and pipelining, lingering after a closing answer, and the draining of a
 * closed server's last answers. The request object and the answers are in request.c and
 * response.c. */
#define _GNU_SOURCE

#include <errno.h>
#include <event2/buffer.h>
#include <lauxlib.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "event/server.h"

/* After an answer that closes the connection, the server stops writing and reads for a while
 * before closing: closing a socket with unread data resets it, and the client could lose the
 * answer (a 413 sent while the client is still uploading, for one). */
#define LINGER_SECONDS 2
#define LINGER_MAX_BYTES (64u << 20)
/* How long a closed server's connection may take to deliver its last answer. */
#define DRAIN_SECONDS 10
/* Input buffered beyond the head size limit while a request is pending pauses reading. */
#define READ_SLACK 65536

static void conn_destroy(struct http_conn *conn) {
    event_del(&conn->resume);
    bufferevent_free(conn->bev);
    evbuffer_free(conn->body);
    free(conn);
}

static void conn_release(struct http_conn *conn) {
    if (--conn->busy == 0 && conn->dead)
        conn_destroy(conn);
}

/* Closes the connection at once; buffered output is dropped. The memory goes when no callback
 * of this connection is running any more. */
static void conn_kill(lua_State *L, struct http_conn *conn) {
    if (conn->dead)
        return;
    conn->dead = 1;
    if (conn->link) {
        *conn->link = conn->next;
        if (conn->next)
            conn->next->link = conn->link;
        conn->link = NULL;
    }
    if (conn->request)
        http_request_detach(L, conn->request);
    bufferevent_setcb(conn->bev, NULL, NULL, NULL, NULL);
    bufferevent_disable(conn->bev, EV_READ | EV_WRITE);
    if (conn->busy == 0)
        conn_destroy(conn);
}

/* The client went away, or the connection failed: a request the handler has seen but not
 * answered gets its on_close callback. */
static void conn_lost(lua_State *L, struct http_conn *conn) {
    struct http_request *request = conn->request;
    conn->busy++;
    if (request && request->dispatched && request->response != RESPONSE_DONE && !request->closed) {
        request->closed = 1;
        event_loop_pcall(conn->loop, L, http_request_on_close, request);
    }
    conn_kill(L, conn);
    conn_release(conn);
}

static void start_lingering(lua_State *L, struct http_conn *conn) {
    if (conn->tls) {
        conn_kill(L, conn);
        return;
    }
    conn->closing = LINGERING;
    shutdown(bufferevent_getfd(conn->bev), SHUT_WR);
    struct evbuffer *input = bufferevent_get_input(conn->bev);
    evbuffer_drain(input, evbuffer_get_length(input));
    struct timeval linger = {LINGER_SECONDS, 0};
    bufferevent_set_timeouts(conn->bev, &linger, NULL);
    bufferevent_setwatermark(conn->bev, EV_READ, 0, 0);
    bufferevent_enable(conn->bev, EV_READ);
}

static void close_after_write(lua_State *L, struct http_conn *conn) {
    if (conn->closing != OPEN || conn->dead)
        return;
    conn->closing = CLOSE_AFTER_WRITE;
    conn->keep_alive = 0;
    if (evbuffer_get_length(bufferevent_get_output(conn->bev)) == 0)
        start_lingering(L, conn);
}

void http_conn_write_error(struct http_conn *conn, int status) {
    const char *reason = http_reason(status);
    evbuffer_add_printf(bufferevent_get_output(conn->bev),
                        "HTTP/1.1 %d %s\r\nContent-Type: text/plain\r\nContent-Length: %zu\r\n"
                        "Connection: close\r\n\r\n%s\n",
                        status, reason, strlen(reason) + 1, reason);
    conn->keep_alive = 0;
}

/* Answers a request that cannot be handled (malformed, too large) and closes. */
static void reject(lua_State *L, struct http_conn *conn, int status) {
    http_conn_write_error(conn, status);
    close_after_write(L, conn);
}

static void finish_request(lua_State *L, struct http_conn *conn) {
    if (conn->request)
        http_request_detach(L, conn->request);
    conn->state = READ_HEAD;
    conn->head_scanned = 0;
    if (!conn->keep_alive)
        close_after_write(L, conn);
}

/* Reads what is buffered from the loop (a pipelined request), not from inside the caller. */
static void resume_later(struct http_conn *conn) {
    if (conn->closing == OPEN && evbuffer_get_length(bufferevent_get_input(conn->bev)) > 0)
        event_active(&conn->resume, EV_TIMEOUT, 0);
}

void http_conn_response_done(lua_State *L, struct http_conn *conn) {
    /* While a callback of this connection runs, its processing loop goes on from here; while
     * a streamed body is still arriving, reading it to the end finishes the request. */
    if (conn->busy || conn->state != READ_DONE)
        return;
    finish_request(L, conn);
    resume_later(conn);
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
            conn_kill(L, conn);
        else if (response == RESPONSE_DONE)
            close_after_write(L, conn);
        else
            reject(L, conn, status);
    }
    conn_release(conn);
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
    if (conn->body_size > conn->server->max_body) {
        fail_body(L, conn, 413);
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
    if (head->content_length > 0 && (uint64_t)head->content_length > conn->server->max_body) {
        http_request_detach(L, request);
        reject(L, conn, 413);
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
            reject(L, conn, 431);
        return 0;
    }
    int status = http_parse_head(data, end, &conn->head);
    if (status != 0) {
        reject(L, conn, status);
        return 0;
    }
    conn->head_scanned = 0;
    conn->keep_alive = conn->head.keep_alive;
    struct http_build_context context = {conn, data};
    int built = event_loop_pcall(conn->loop, L, http_request_build, &context);
    if (conn->dead)
        return 0;
    evbuffer_drain(input, end);
    if (!built || !conn->request) {
        if (conn->request)
            http_request_detach(L, conn->request);
        reject(L, conn, 500);
        return 0;
    }
    return begin_body(L, conn);
}

static void conn_process(struct http_conn *conn) {
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
                finish_request(L, conn);
            break;
        }
    }
    /* Stopped by event.stop(): what is buffered is read when the loop runs again. */
    if (progress && !conn->dead && event_base_got_break(base))
        resume_later(conn);
    conn_release(conn);
}

static void on_resume(evutil_socket_t fd, short what, void *arg) {
    (void)fd;
    (void)what;
    struct http_conn *conn = arg;
    if (conn->closing == OPEN)
        conn_process(conn);
}

static void on_read(struct bufferevent *bev, void *arg) {
    struct http_conn *conn = arg;
    if (conn->closing == LINGERING) {
        struct evbuffer *input = bufferevent_get_input(bev);
        conn->discarded += evbuffer_get_length(input);
        evbuffer_drain(input, evbuffer_get_length(input));
        if (conn->discarded > LINGER_MAX_BYTES)
            conn_kill(conn->loop->L, conn);
    } else if (conn->closing == OPEN) {
        conn_process(conn);
    }
}

static void on_write(struct bufferevent *bev, void *arg) {
    struct http_conn *conn = arg;
    if (conn->closing != CLOSE_AFTER_WRITE || evbuffer_get_length(bufferevent_get_output(bev)) > 0)
        return;
    if (conn->server)
        start_lingering(conn->loop->L, conn);
    else
        conn_kill(conn->loop->L, conn); /* its server is closed: no reading any more */
}

static void on_event(struct bufferevent *bev, short what, void *arg) {
    (void)bev;
    struct http_conn *conn = arg;
    if (what & BEV_EVENT_CONNECTED)
        return; /* TLS handshake done */
    if (conn->closing == OPEN)
        conn_lost(conn->loop->L, conn);
    else
        conn_kill(conn->loop->L, conn);
}

static void format_peer(char *out, size_t size, const struct sockaddr *address) {
    char host[INET6_ADDRSTRLEN] = "?";
    if (address->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)address;
        inet_ntop(AF_INET, &in->sin_addr, host, sizeof host);
        snprintf(out, size, "%s:%u", host, (unsigned)ntohs(in->sin_port));
    } else if (address->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)address;
        if (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr)) { /* an IPv4 client of a dual-stack server */
            inet_ntop(AF_INET, &in6->sin6_addr.s6_addr[12], host, sizeof host);
            snprintf(out, size, "%s:%u", host, (unsigned)ntohs(in6->sin6_port));
        } else {
            inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof host);
            snprintf(out, size, "[%s]:%u", host, (unsigned)ntohs(in6->sin6_port));
        }
    } else {
        snprintf(out, size, "?");
    }
}

void http_conn_accept(struct http_server *server, evutil_socket_t fd,
                      const struct sockaddr *address) {
    struct event_base *base = server->loop->base;
    struct http_conn *conn = calloc(1, sizeof *conn);
    struct bufferevent *bev = NULL;
    if (conn && server->tls) {
        bev = http_tls_accept(base, fd, server->tls);
    } else if (conn) {
        bev = bufferevent_socket_new(base, fd, BEV_OPT_CLOSE_ON_FREE);
    }
    struct evbuffer *body = bev ? evbuffer_new() : NULL;
    if (!body) {
        if (bev)
            bufferevent_free(bev);
        else
            close(fd);
        free(conn);
        return;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    conn->server = server;
    conn->loop = server->loop;
    conn->bev = bev;
    event_assign(&conn->resume, base, -1, 0, on_resume, conn);
    conn->body = body;
    conn->tls = server->tls != NULL;
    format_peer(conn->peer, sizeof conn->peer, address);
    conn->next = server->conns;
    if (conn->next)
        conn->next->link = &conn->next;
    conn->link = &server->conns;
    server->conns = conn;
    bufferevent_setcb(bev, on_read, on_write, on_event, conn);
    bufferevent_setwatermark(bev, EV_READ, 0, server->max_headers + READ_SLACK);
    bufferevent_enable(bev, EV_READ | EV_WRITE);
}

/* Moves a connection of a closing server whose last answer is still being written to the
 * loop's draining list, where it lives on without its server until the answer is out. */
static void drain(lua_State *L, struct http_conn *conn) {
    *conn->link = conn->next;
    if (conn->next)
        conn->next->link = conn->link;
    struct http_server_list *list = conn->server->list;
    conn->next = list->draining;
    if (conn->next)
        conn->next->link = &conn->next;
    conn->link = &list->draining;
    list->draining = conn;
    conn->server = NULL;
    conn->keep_alive = 0;
    if (conn->request)
        http_request_detach(L, conn->request);
    conn->closing = CLOSE_AFTER_WRITE;
    bufferevent_disable(conn->bev, EV_READ);
    struct timeval patience = {DRAIN_SECONDS, 0};
    bufferevent_set_timeouts(conn->bev, NULL, &patience);
}

void http_conn_kill_now(lua_State *L, struct http_conn *conn) {
    conn->busy++;
    conn_kill(L, conn);
    conn_release(conn);
}

void http_conn_server_closing(lua_State *L, struct http_conn *conn, int notify) {
    struct http_request *request = conn->request;
    int unanswered = request && request->response != RESPONSE_DONE;
    int writing = evbuffer_get_length(bufferevent_get_output(conn->bev)) > 0;
    if (notify && unanswered)
        conn_lost(L, conn);
    else if (notify && writing && !conn->dead)
        drain(L, conn);
    else
        http_conn_kill_now(L, conn);
}
