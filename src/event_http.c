/* lambda.event HTTP/1.1 server: listening sockets, connections, and reading requests.
 *
 *   event.http_server{address = "127.0.0.1" (IPv4 or IPv6 literal; "::" takes IPv4 too),
 *     port = 0 (any), handler = fn(request), stream_body = fn(request) -> bool | bool,
 *     max_body = 8 MiB | fn(request) -> bytes, too_large = fn(request, limit, size),
 *     max_headers = 64 KiB (431), tls = {cert = path, key = path}}
 *     -> server (:port(), :address(), :close()) | nil, "cannot listen on [::]:9000: ..."
 *
 * Body limits: max_body is a byte count for every request, or a function that chooses one per
 * request from its head (method, path, query, headers; called once, before any of the body is
 * read, like stream_body). A body over its limit, by its Content-Length or while a chunked
 * body arrives, ends the request: too_large(request, limit, size) is called to answer it
 * (size: the Content-Length, or the bytes received when a chunked body passed the limit),
 * before the handler has seen the request or, for a streamed body, after. It may answer with
 * request:respond; a request it leaves unanswered (or with no too_large) gets a plain 413.
 * The connection then closes once the answer is out, and what the client still sends is read
 * and thrown away, never buffered (see start_lingering).
 *
 * The request object and the answers are in event_http_request.c. Keep-alive and pipelining
 * are supported; requests on one connection are answered in order: the next is read once the
 * current one has been read completely and answered. A client that half-closes its side is
 * taken as gone.
 *
 * The server is written on libevent bufferevents rather than on evhttp: evhttp 2.1 decides
 * how to read a request body before any user code sees the request (no per-request hook
 * before the body), cannot tell that a client went away while a request waits for its answer
 * (it stops reading), and adds headers of its own. Here the connection keeps reading while a
 * request is pending, so a closed connection is noticed at once (request:on_close), and
 * stream_body chooses per request, from its head, between a buffered body and one delivered
 * piece by piece (request:on_chunk / request:on_end, with the chunked trailers). */
#define _GNU_SOURCE

#include "event_http.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent_ssl.h>
#include <lauxlib.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define SERVER_TYPE "lambda.event.http_server"
#define DEFAULT_MAX_BODY (8u << 20)
#define DEFAULT_MAX_HEADERS (64u << 10)
/* After an answer that closes the connection, the server stops writing and reads for a while
 * before closing: closing a socket with unread data resets it, and the client could lose the
 * answer (a 413 sent while the client is still uploading, for one). */
#define LINGER_SECONDS 2
#define LINGER_MAX_BYTES (64u << 20)
/* How long a closed server's connection may take to deliver its last answer. */
#define DRAIN_SECONDS 10
/* Input buffered beyond the head size limit while a request is pending pauses reading. */
#define READ_SLACK 65536

static const char *const server_options[] = {
    "address",   "port",        "handler", "stream_body", "max_body",
    "too_large", "max_headers", "tls",     NULL,
};

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
    conn->max_body = conn->server->max_body;
    if (built && conn->request && conn->server->choose_max_body) {
        built = event_loop_pcall(conn->loop, L, choose_max_body, conn);
        if (conn->dead)
            return 0;
    }
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

static void on_accept(struct evconnlistener *listener, evutil_socket_t fd, struct sockaddr *address,
                      int length, void *arg) {
    (void)listener;
    (void)length;
    struct http_server *server = arg;
    struct event_base *base = server->loop->base;
    struct http_conn *conn = calloc(1, sizeof *conn);
    struct bufferevent *bev = NULL;
    if (conn && server->tls) {
        SSL *ssl = SSL_new(server->tls);
        /* Deferred: OpenSSL bufferevents may report a failed write from inside the write
         * itself, which would free the connection under request:respond. */
        if (ssl)
            bev = bufferevent_openssl_socket_new(base, fd, ssl, BUFFEREVENT_SSL_ACCEPTING,
                                                 BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
        if (bev) /* clients often close without a TLS close_notify */
            bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
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

/* Pushes "cannot listen on ADDRESS:PORT: reason". */
static void push_listen_error(lua_State *L, const char *address, int family, int port,
                              const char *reason) {
    if (family == AF_INET6)
        lua_pushfstring(L, "cannot listen on [%s]:%d: %s", address, port, reason);
    else
        lua_pushfstring(L, "cannot listen on %s:%d: %s", address, port, reason);
}

/* Returns 0, or -1 with the message pushed. */
static int listen_on(lua_State *L, struct http_server *server, const char *text, int port) {
    char host[INET6_ADDRSTRLEN + 2];
    size_t length = strlen(text);
    if (length >= 2 && text[0] == '[' && text[length - 1] == ']' && length - 2 < sizeof host) {
        memcpy(host, text + 1, length - 2);
        host[length - 2] = '\0';
    } else {
        snprintf(host, sizeof host, "%s", text);
    }
    struct sockaddr_storage storage;
    memset(&storage, 0, sizeof storage);
    struct sockaddr_in *in = (struct sockaddr_in *)&storage;
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&storage;
    socklen_t size;
    if (length < sizeof host && inet_pton(AF_INET, host, &in->sin_addr) == 1) {
        in->sin_family = AF_INET;
        in->sin_port = htons((uint16_t)port);
        size = sizeof *in;
    } else if (length < sizeof host && inet_pton(AF_INET6, host, &in6->sin6_addr) == 1) {
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons((uint16_t)port);
        size = sizeof *in6;
    } else {
        lua_pushfstring(L, "invalid address '%s': expected an IPv4 or IPv6 address", text);
        return -1;
    }
    int family = storage.ss_family;
    inet_ntop(family, family == AF_INET ? (void *)&in->sin_addr : (void *)&in6->sin6_addr,
              server->address, sizeof server->address);
    int fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        push_listen_error(L, server->address, family, port, strerror(errno));
        return -1;
    }
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (family == AF_INET6) {
        /* "::" takes IPv4 clients too; a specific IPv6 address leaves IPv4 to others. */
        int v6only = !IN6_IS_ADDR_UNSPECIFIED(&in6->sin6_addr);
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, sizeof v6only);
    }
    if (bind(fd, (struct sockaddr *)&storage, size) != 0 || listen(fd, SOMAXCONN) != 0) {
        int error = errno;
        close(fd);
        push_listen_error(L, server->address, family, port, strerror(error));
        return -1;
    }
    socklen_t bound_size = sizeof storage;
    getsockname(fd, (struct sockaddr *)&storage, &bound_size);
    server->port = ntohs(family == AF_INET ? in->sin_port : in6->sin6_port);
    server->listener = evconnlistener_new(server->loop->base, on_accept, server,
                                          LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, 0, fd);
    if (!server->listener) {
        close(fd);
        push_listen_error(L, server->address, family, port, "cannot watch the socket");
        return -1;
    }
    return 0;
}

/* Pushes "what 'path': reason" from errno or OpenSSL's error queue; returns -1. */
static int tls_error(lua_State *L, const char *what, const char *path, int error) {
    const char *reason = error ? strerror(error) : NULL;
    unsigned long code = ERR_peek_last_error();
    if (!reason && code)
        reason = ERR_reason_error_string(code);
    lua_pushfstring(L, "%s '%s': %s", what, path, reason ? reason : "invalid");
    ERR_clear_error();
    return -1;
}

static int readable(const char *path) {
    FILE *file = fopen(path, "rb");
    if (!file)
        return errno;
    fclose(file);
    return 0;
}

/* Returns 0, or -1 with the message pushed. */
static int load_tls(lua_State *L, struct http_server *server, const char *cert, const char *key) {
    ERR_clear_error();
    server->tls = SSL_CTX_new(TLS_server_method());
    if (!server->tls)
        return tls_error(L, "cannot set up TLS for", cert, 0);
    SSL_CTX_set_min_proto_version(server->tls, TLS1_2_VERSION);
    int error = readable(cert);
    if (error || SSL_CTX_use_certificate_chain_file(server->tls, cert) != 1)
        return tls_error(L, "cannot load TLS certificate", cert, error);
    error = readable(key);
    if (error || SSL_CTX_use_PrivateKey_file(server->tls, key, SSL_FILETYPE_PEM) != 1)
        return tls_error(L, "cannot load TLS key", key, error);
    if (SSL_CTX_check_private_key(server->tls) != 1)
        return tls_error(L, "TLS key does not match certificate", cert, 0);
    return 0;
}

/* Moves a connection of a closing server whose last answer is still being written to the
 * loop's draining list, where it lives on without its server until the answer is out. */
static void drain(lua_State *L, struct http_conn *conn) {
    *conn->link = conn->next;
    if (conn->next)
        conn->next->link = conn->link;
    struct event_loop *loop = conn->loop;
    conn->next = loop->draining;
    if (conn->next)
        conn->next->link = &conn->next;
    conn->link = &loop->draining;
    loop->draining = conn;
    conn->server = NULL;
    conn->keep_alive = 0;
    if (conn->request)
        http_request_detach(L, conn->request);
    conn->closing = CLOSE_AFTER_WRITE;
    bufferevent_disable(conn->bev, EV_READ);
    struct timeval patience = {DRAIN_SECONDS, 0};
    bufferevent_set_timeouts(conn->bev, NULL, &patience);
}

static void kill_now(lua_State *L, struct http_conn *conn) {
    conn->busy++;
    conn_kill(L, conn);
    conn_release(conn);
}

/* With notify, requests still waiting for an answer get on_close and answers already given
 * are still delivered; without (finalizers), everything goes at once. */
static void close_server(lua_State *L, struct http_server *server, int notify) {
    if (!server->listener)
        return;
    evconnlistener_free(server->listener);
    server->listener = NULL;
    if (server->link) {
        *server->link = server->next;
        if (server->next)
            server->next->link = server->link;
        server->link = NULL;
    }
    while (server->conns) {
        struct http_conn *conn = server->conns;
        struct http_request *request = conn->request;
        int unanswered = request && request->response != RESPONSE_DONE;
        int writing = evbuffer_get_length(bufferevent_get_output(conn->bev)) > 0;
        if (notify && unanswered)
            conn_lost(L, conn);
        else if (notify && writing && !conn->dead)
            drain(L, conn);
        else
            kill_now(L, conn);
    }
    SSL_CTX_free(server->tls);
    server->tls = NULL;
    event_unref(L, &server->ref);
}

static lua_Integer integer_option(lua_State *L, const char *name, lua_Integer fallback,
                                  lua_Integer min, lua_Integer max) {
    int type = lua_getfield(L, 1, name);
    lua_Integer value = fallback;
    if (type != LUA_TNIL) {
        int exact;
        value = lua_tointegerx(L, -1, &exact);
        if (!exact || value < min || value > max)
            luaL_error(L, "http_server: '%s' must be an integer from %I to %I", name, min, max);
    }
    lua_pop(L, 1);
    return value;
}

static const char *string_option(lua_State *L, int table, const char *name, const char *fallback) {
    int type = lua_getfield(L, table, name);
    if (type == LUA_TNIL && fallback) {
        lua_pop(L, 1);
        return fallback;
    }
    if (type != LUA_TSTRING)
        luaL_error(L, "http_server: '%s' must be a string", name);
    const char *value = lua_tostring(L, -1);
    lua_pop(L, 1); /* still referenced by the options table */
    return value;
}

/* http_server{address, port, handler, stream_body, max_body, too_large, max_headers, tls}
 *   -> server | nil, message */
int event_http_server(lua_State *L) {
    struct event_loop *loop = event_loop_upvalue(L);
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_settop(L, 1);
    event_check_options(L, 1, "http_server", server_options);
    const char *address = string_option(L, 1, "address", "127.0.0.1");
    int port = (int)integer_option(L, "port", 0, 0, 65535);
    int max_body_type = lua_getfield(L, 1, "max_body");
    lua_pop(L, 1);
    lua_Integer max_body = DEFAULT_MAX_BODY;
    if (max_body_type != LUA_TFUNCTION && max_body_type != LUA_TNUMBER && max_body_type != LUA_TNIL)
        return luaL_error(L, "http_server: 'max_body' must be a byte count or a function");
    if (max_body_type != LUA_TFUNCTION)
        max_body = integer_option(L, "max_body", DEFAULT_MAX_BODY, 0, INT64_MAX / 2);
    lua_Integer max_headers =
        integer_option(L, "max_headers", DEFAULT_MAX_HEADERS, 256, UINT32_MAX / 2);
    if (lua_getfield(L, 1, "handler") != LUA_TFUNCTION) /* 2 */
        return luaL_error(L, "http_server: 'handler' must be a function");
    int stream_type = lua_getfield(L, 1, "stream_body"); /* 3 */
    if (stream_type != LUA_TNIL && stream_type != LUA_TBOOLEAN && stream_type != LUA_TFUNCTION)
        return luaL_error(L, "http_server: 'stream_body' must be a function or a boolean");
    const char *cert = NULL, *key = NULL;
    int tls_type = lua_getfield(L, 1, "tls"); /* 4 */
    if (tls_type == LUA_TTABLE) {
        cert = string_option(L, 4, "cert", NULL);
        key = string_option(L, 4, "key", NULL);
    } else if (tls_type != LUA_TNIL) {
        return luaL_error(L, "http_server: 'tls' must be a table {cert = path, key = path}");
    }
    int too_large_type = lua_getfield(L, 1, "too_large"); /* 5 */
    if (too_large_type != LUA_TNIL && too_large_type != LUA_TFUNCTION)
        return luaL_error(L, "http_server: 'too_large' must be a function");
    lua_getfield(L, 1, "max_body"); /* 6 */
    struct http_server *server = lua_newuserdatauv(L, sizeof *server, 4);
    memset(server, 0, sizeof *server);
    server->loop = loop;
    server->ref = LUA_NOREF;
    server->max_body = (size_t)max_body;
    server->max_headers = (size_t)max_headers;
    server->choose_max_body = max_body_type == LUA_TFUNCTION;
    server->has_too_large = too_large_type == LUA_TFUNCTION;
    luaL_setmetatable(L, SERVER_TYPE);
    lua_pushvalue(L, 2);
    lua_setiuservalue(L, -2, SERVER_HANDLER);
    lua_pushvalue(L, 3);
    lua_setiuservalue(L, -2, SERVER_STREAM_BODY);
    if (server->choose_max_body) {
        lua_pushvalue(L, 6);
        lua_setiuservalue(L, -2, SERVER_MAX_BODY);
    }
    lua_pushvalue(L, 5);
    lua_setiuservalue(L, -2, SERVER_TOO_LARGE);
    if ((cert && load_tls(L, server, cert, key) != 0) || listen_on(L, server, address, port) != 0) {
        lua_pushnil(L);
        lua_insert(L, -2);
        return 2; /* the collector frees the TLS context */
    }
    lua_pushvalue(L, -1);
    server->ref = luaL_ref(L, LUA_REGISTRYINDEX);
    server->next = loop->servers;
    if (server->next)
        server->next->link = &server->next;
    server->link = &loop->servers;
    loop->servers = server;
    return 1;
}

static struct http_server *check_server(lua_State *L) {
    return luaL_checkudata(L, 1, SERVER_TYPE);
}

/* server:port() -> the port it listens on (the one chosen when asked for 0) */
static int server_port(lua_State *L) {
    lua_pushinteger(L, check_server(L)->port);
    return 1;
}

/* server:address() -> the address it listens on, in numeric form ("::", "127.0.0.1") */
static int server_address(lua_State *L) {
    lua_pushstring(L, check_server(L)->address);
    return 1;
}

/* server:close(): stops listening and closes every connection; requests still waiting for an
 * answer get their on_close callback before this returns. */
static int server_close(lua_State *L) {
    close_server(L, check_server(L), 1);
    return 0;
}

static int server_gc(lua_State *L) {
    struct http_server *server = check_server(L);
    close_server(L, server, 0);
    SSL_CTX_free(server->tls);
    server->tls = NULL;
    return 0;
}

void event_http_open(lua_State *L, struct event_loop *loop) {
    (void)loop;
    static const luaL_Reg methods[] = {
        {"port", server_port},
        {"address", server_address},
        {"close", server_close},
        {NULL, NULL},
    };
    luaL_newmetatable(L, SERVER_TYPE);
    lua_pushcfunction(L, server_gc);
    lua_setfield(L, -2, "__gc");
    luaL_newlib(L, methods);
    lua_setfield(L, -2, "__index");
    lua_pop(L, 1);
    event_http_request_open(L);
}

void event_http_close_all(struct event_loop *loop, lua_State *L) {
    while (loop->servers)
        close_server(L, loop->servers, 0);
    while (loop->draining)
        kill_now(L, loop->draining);
}
