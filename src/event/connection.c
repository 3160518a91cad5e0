/* lambda.event HTTP server connections (see server.c): accepting, their timeouts, lingering
 * after a closing answer, and the draining of a closed server's last answers. Reading requests
 * is in request_reader.c, the request object and the answers in request.c and response.c.
 *
 * A connection waiting for a request is under a deadline, as production servers have one: one
 * that stays idle (nothing sent since its last answer, or since it was accepted) for the
 * server's idle_timeout is closed, and one whose request head is not complete head_timeout
 * after its first byte is answered 408 and closed. A connection whose request is being read
 * or waits for its answer (a Runtime API /next, say) has none: that wait is the handler's. */
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
    event_del(&conn->timeout);
    bufferevent_free(conn->bev);
    evbuffer_free(conn->body);
    free(conn);
}

void http_conn_release(struct http_conn *conn) {
    if (--conn->busy == 0 && conn->dead)
        conn_destroy(conn);
}

/* Closes the connection at once; buffered output is dropped. The memory goes when no callback
 * of this connection is running any more. */
void http_conn_kill(lua_State *L, struct http_conn *conn) {
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
    event_del(&conn->timeout);
    conn->timeout_kind = NO_TIMEOUT;
    bufferevent_setcb(conn->bev, NULL, NULL, NULL, NULL);
    bufferevent_disable(conn->bev, EV_READ | EV_WRITE);
    if (conn->busy == 0)
        conn_destroy(conn);
}

/* The client went away, or the connection failed: a request the handler has seen but not
 * answered gets its on_close callback. */
void http_conn_lost(lua_State *L, struct http_conn *conn) {
    struct http_request *request = conn->request;
    conn->busy++;
    if (request && request->dispatched && request->response != RESPONSE_DONE && !request->closed) {
        request->closed = 1;
        event_loop_pcall(conn->loop, L, http_request_on_close, request);
    }
    http_conn_kill(L, conn);
    http_conn_release(conn);
}

static void start_lingering(lua_State *L, struct http_conn *conn) {
    if (conn->tls) {
        http_conn_kill(L, conn);
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

void http_conn_close_after_write(lua_State *L, struct http_conn *conn) {
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
void http_conn_reject(lua_State *L, struct http_conn *conn, int status) {
    http_conn_write_error(conn, status);
    http_conn_close_after_write(L, conn);
}

/* Reads what is buffered from the loop (a pipelined request), not from inside the caller. */
void http_conn_resume_later(struct http_conn *conn) {
    if (conn->closing == OPEN && evbuffer_get_length(bufferevent_get_input(conn->bev)) > 0)
        event_active(&conn->resume, EV_TIMEOUT, 0);
}

static enum conn_timeout timeout_due(const struct http_conn *conn) {
    if (conn->dead || conn->closing != OPEN || !conn->server || conn->state != READ_HEAD ||
        conn->request)
        return NO_TIMEOUT;
    if (evbuffer_get_length(bufferevent_get_input(conn->bev)) > 0)
        return HEAD_TIMEOUT;
    if (evbuffer_get_length(bufferevent_get_output(conn->bev)) > 0)
        return NO_TIMEOUT; /* still sending its last answer */
    return IDLE_TIMEOUT;
}

static struct timeval seconds_to_timeval(double seconds) {
    struct timeval delay;
    delay.tv_sec = (time_t)seconds;
    delay.tv_usec = (suseconds_t)((seconds - (double)delay.tv_sec) * 1e6);
    return delay;
}

void http_conn_update_timeout(struct http_conn *conn) {
    enum conn_timeout due = timeout_due(conn);
    /* A head's deadline runs from its first byte: more bytes do not extend it. */
    if (due == conn->timeout_kind)
        return;
    event_del(&conn->timeout);
    conn->timeout_kind = due;
    double seconds = due == IDLE_TIMEOUT   ? conn->server->idle_timeout
                     : due == HEAD_TIMEOUT ? conn->server->head_timeout
                                           : 0;
    if (seconds <= 0) {
        conn->timeout_kind = NO_TIMEOUT;
        return;
    }
    if (due == IDLE_TIMEOUT)
        conn->idle_since = monotonic_now();
    struct timeval delay = seconds_to_timeval(seconds);
    event_add(&conn->timeout, &delay);
}

static void on_timeout(evutil_socket_t fd, short what, void *arg) {
    (void)fd;
    (void)what;
    struct http_conn *conn = arg;
    lua_State *L = conn->loop->L;
    enum conn_timeout kind = conn->timeout_kind;
    conn->timeout_kind = NO_TIMEOUT;
    if (kind == HEAD_TIMEOUT)
        http_conn_reject(L, conn, 408);
    else if (kind == IDLE_TIMEOUT)
        http_conn_kill_now(L, conn);
}

int http_conn_close_idle(lua_State *L, struct http_server *server, int count, double min_idle) {
    int closed = 0;
    double now = monotonic_now();
    struct http_conn *conn = server->conns;
    while (conn && closed < count) {
        struct http_conn *next = conn->next;
        if (conn->timeout_kind == IDLE_TIMEOUT && conn->busy == 0 &&
            now - conn->idle_since >= min_idle) {
            http_conn_kill_now(L, conn);
            closed++;
        }
        conn = next;
    }
    return closed;
}

static void on_resume(evutil_socket_t fd, short what, void *arg) {
    (void)fd;
    (void)what;
    struct http_conn *conn = arg;
    if (conn->closing == OPEN)
        http_conn_process(conn);
}

static void on_read(struct bufferevent *bev, void *arg) {
    struct http_conn *conn = arg;
    if (conn->closing == LINGERING) {
        struct evbuffer *input = bufferevent_get_input(bev);
        conn->discarded += evbuffer_get_length(input);
        evbuffer_drain(input, evbuffer_get_length(input));
        if (conn->discarded > LINGER_MAX_BYTES)
            http_conn_kill(conn->loop->L, conn);
    } else if (conn->closing == OPEN) {
        http_conn_process(conn);
    }
}

static void on_write(struct bufferevent *bev, void *arg) {
    struct http_conn *conn = arg;
    if (conn->closing == OPEN)
        http_conn_update_timeout(conn);
    if (conn->closing != CLOSE_AFTER_WRITE || evbuffer_get_length(bufferevent_get_output(bev)) > 0)
        return;
    if (conn->server)
        start_lingering(conn->loop->L, conn);
    else
        http_conn_kill(conn->loop->L, conn); /* its server is closed: no reading any more */
}

static void on_event(struct bufferevent *bev, short what, void *arg) {
    (void)bev;
    struct http_conn *conn = arg;
    if (what & BEV_EVENT_CONNECTED)
        return; /* TLS handshake done */
    if (conn->closing == OPEN)
        http_conn_lost(conn->loop->L, conn);
    else
        http_conn_kill(conn->loop->L, conn);
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
    evtimer_assign(&conn->timeout, base, on_timeout, conn);
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
    http_conn_update_timeout(conn);
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
    event_del(&conn->timeout);
    conn->timeout_kind = NO_TIMEOUT;
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
    http_conn_kill(L, conn);
    http_conn_release(conn);
}

void http_conn_server_closing(lua_State *L, struct http_conn *conn, int notify) {
    struct http_request *request = conn->request;
    int unanswered = request && request->response != RESPONSE_DONE;
    int writing = evbuffer_get_length(bufferevent_get_output(conn->bev)) > 0;
    if (notify && unanswered)
        http_conn_lost(L, conn);
    else if (notify && writing && !conn->dead)
        drain(L, conn);
    else
        http_conn_kill_now(L, conn);
}
