/* lambda.http's plain engine: HTTP/1.1 over a TCP connection to a loopback address, with
 * idle keep-alive connections kept per Lua state. It exists for memory, not speed: libcurl
 * and what it loads take 7 MB of a process that only needs to send one request to the local
 * emulator. It sends the same bytes libcurl would (plain_head.c), so the two engines are
 * interchangeable; anything it is not sure of goes to libcurl (see http_plain_accepts in
 * plain_target.c).
 *
 * One request is a state machine (plain_exchange.h): connecting (each of the target's
 * addresses in turn), sending, receiving, with one retry on a fresh connection when a kept
 * connection turns out to have been closed by the server. http_plain_perform drives it with
 * poll(); plain_event.c drives it with a lambda.event loop, for requests made from tasks. */
#define _GNU_SOURCE /* MSG_NOSIGNAL, SOCK_CLOEXEC */
#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "http/plain_exchange.h"

/* Idle connections kept per Lua state: MAX_IDLE while requests come one at a time; when tasks
 * send many at once, as many as were under way at once (up to MAX_IDLE_CONCURRENT), or else
 * most of them would be closed after each round and opened again for the next. */
#define MAX_IDLE 4
#define MAX_IDLE_CONCURRENT 64
#define DEFAULT_CONNECT 300. /* seconds; libcurl's default connect timeout */
/* A connection given back less than this long ago is taken without asking the kernel whether
 * the server closed it or sent stray bytes since: in a load run every connection goes straight
 * from one request to the next, and that poll() was a fifth of the system calls of each
 * request. A server that closes a connection that fast is still caught: the request goes out
 * again on a new connection (retry). */
#define RECENTLY_IDLE 0.010 /* seconds */

enum phase { CONNECTING, SENDING, RECEIVING, OVER };

/* What a step of the exchange came to. */
enum outcome { PROGRESSED, WAITING, FAILED, RETRY };

struct idle_connection {
    int fd;
    struct http_plain_watch *watch; /* the event driver's, or NULL */
    double idle_since;              /* monotonic_now() when it was given back */
    struct sockaddr_storage address;
    socklen_t address_length;
};

struct http_plain_pool {
    struct idle_connection idle[MAX_IDLE_CONCURRENT];
    int count;
    int active, peak; /* exchanges under way now, and the most at once so far */
};

static void fail(struct http_plain_exchange *x, const char *kind, const char *format,
                 const char *detail) {
    x->result->failure_kind = kind;
    snprintf(x->result->message, sizeof x->result->message, format, detail);
}

static void timed_out(struct http_plain_exchange *x, bool connecting) {
    const struct http_call *call = x->call;
    char seconds[32];
    if (connecting && x->connect_deadline < x->deadline) {
        snprintf(seconds, sizeof seconds, "%g",
                 call->connect_timeout > 0 ? call->connect_timeout : DEFAULT_CONNECT);
        fail(x, "timeout", "connect timed out after %s s", seconds);
        return;
    }
    snprintf(seconds, sizeof seconds, "%g", call->timeout);
    fail(x, "timeout", "timed out after %s s", seconds);
}

/* ---- the idle pool ---- */

/* Every socket the engine closes goes through here, so that no watch outlives its socket. */
static void close_connection(int fd, struct http_plain_watch *watch) {
    if (watch)
        watch->release(watch);
    close(fd);
}

static bool same_address(const struct idle_connection *idle, const struct sockaddr_storage *a,
                         socklen_t length) {
    return idle->address_length == length && memcmp(&idle->address, a, length) == 0;
}

/* An idle connection to one of the target's addresses that the server has not closed. Taken
 * out of the pool: no other exchange can use it until it is given back. */
static int take_idle(struct http_plain_pool *pool, struct http_plain_exchange *x) {
    if (!pool)
        return -1;
    for (int a = 0; a < x->target->address_count; a++) {
        for (int i = 0; i < pool->count; i++) {
            struct idle_connection idle = pool->idle[i];
            if (!same_address(&idle, &x->target->addresses[a], x->target->address_lengths[a]))
                continue;
            memmove(&pool->idle[i], &pool->idle[i + 1],
                    (size_t)(pool->count - i - 1) * sizeof idle);
            pool->count--;
            i--;
            /* Readable while idle means closed (or stray bytes): either way, unusable. Not
             * asked of a connection given back just now (RECENTLY_IDLE). */
            struct pollfd pfd = {idle.fd, POLLIN, 0};
            if (x->started - idle.idle_since >= RECENTLY_IDLE && poll(&pfd, 1, 0) != 0) {
                close_connection(idle.fd, idle.watch);
                continue;
            }
            x->address = a;
            x->watch = idle.watch;
            return idle.fd;
        }
    }
    return -1;
}

/* Takes x's connection (and watch) into the pool, or closes it. */
static void keep_idle(struct http_plain_pool *pool, struct http_plain_exchange *x) {
    struct http_plain_watch *watch = x->watch;
    x->watch = NULL;
    if (watch)
        watch->owner = NULL;
    if (!pool) {
        close_connection(x->fd, watch);
        return;
    }
    int limit = pool->peak < MAX_IDLE              ? MAX_IDLE
                : pool->peak > MAX_IDLE_CONCURRENT ? MAX_IDLE_CONCURRENT
                                                   : pool->peak;
    while (pool->count >= limit) { /* the oldest go */
        close_connection(pool->idle[0].fd, pool->idle[0].watch);
        memmove(&pool->idle[0], &pool->idle[1], (size_t)(pool->count - 1) * sizeof pool->idle[0]);
        pool->count--;
    }
    struct idle_connection *idle = &pool->idle[pool->count++];
    idle->fd = x->fd;
    idle->watch = watch;
    idle->idle_since = x->result->received_at; /* keep_idle runs as the answer completes */
    idle->address = x->target->addresses[x->address];
    idle->address_length = x->target->address_lengths[x->address];
}

bool http_plain_pool_discard(struct http_plain_pool *pool, int fd) {
    for (int i = 0; pool && i < pool->count; i++) {
        if (pool->idle[i].fd != fd)
            continue;
        struct idle_connection idle = pool->idle[i];
        memmove(&pool->idle[i], &pool->idle[i + 1], (size_t)(pool->count - i - 1) * sizeof idle);
        pool->count--;
        close_connection(idle.fd, idle.watch);
        return true;
    }
    return false;
}

void http_plain_pool_unwatch(struct http_plain_pool *pool) {
    if (!pool)
        return;
    for (int i = 0; i < pool->count; i++) {
        if (pool->idle[i].watch)
            pool->idle[i].watch->release(pool->idle[i].watch);
        pool->idle[i].watch = NULL;
    }
}

void http_plain_pool_free(struct http_plain_pool *pool) {
    if (!pool)
        return;
    for (int i = 0; i < pool->count; i++)
        close_connection(pool->idle[i].fd, pool->idle[i].watch);
    free(pool);
}

static void describe_address(const struct sockaddr_storage *address, char *text, size_t size,
                             long *port) {
    if (address->ss_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)address;
        inet_ntop(AF_INET6, &in6->sin6_addr, text, (socklen_t)size);
        *port = ntohs(in6->sin6_port);
    } else {
        const struct sockaddr_in *in = (const struct sockaddr_in *)address;
        _Static_assert(sizeof((struct http_result *)0)->primary_ip >= INET_ADDRSTRLEN,
                       "room for an IPv4 address");
        http_plain_format_ipv4(&in->sin_addr, text);
        *port = ntohs(in->sin_port);
    }
}

/* ---- the steps ---- */

/* Connects to the first address that accepts: WAITING for a connection under way (x->fd
 * writable), PROGRESSED once connected, FAILED when none accepted. */
static enum outcome step_connect(struct http_plain_exchange *x) {
    const struct http_plain_target *target = x->target;
    while (x->address < target->address_count) {
        int error = 0;
        if (x->fd < 0) {
            const struct sockaddr_storage *address = &target->addresses[x->address];
            int fd = socket(address->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
            if (fd < 0) {
                x->last_error = errno;
                x->last_failed = x->address++;
                continue;
            }
            x->fd = fd;
            if (connect(fd, (const struct sockaddr *)address,
                        target->address_lengths[x->address]) != 0) {
                error = errno;
                if (error == EINPROGRESS)
                    return WAITING;
            }
        } else { /* the connection under way has ended, one way or the other */
            socklen_t length = sizeof error;
            if (getsockopt(x->fd, SOL_SOCKET, SO_ERROR, &error, &length) != 0)
                error = errno;
        }
        if (error == 0) {
            int on = 1;
            setsockopt(x->fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
            return PROGRESSED;
        }
        close_connection(x->fd, x->watch);
        x->watch = NULL;
        x->fd = -1;
        x->refused += error == ECONNREFUSED;
        x->last_error = error;
        x->last_failed = x->address++;
    }
    if (x->refused) {
        fail(x, "refused", "%s", "connection refused");
        return FAILED;
    }
    char ip[64], text[160];
    long port;
    describe_address(&target->addresses[x->last_failed], ip, sizeof ip, &port);
    snprintf(text, sizeof text, "failed to connect to %s port %ld: %s", ip, port,
             strerror(x->last_error));
    fail(x, "transport", "%s", text);
    return FAILED;
}

/* Sends the rest of the head and the body; RETRY when a reused connection turned out to be
 * closed. */
static enum outcome step_send(struct http_plain_exchange *x) {
    while (x->part < x->part_count) {
        struct iovec *part = &x->parts[x->part];
        struct msghdr message = {.msg_iov = part, .msg_iovlen = (size_t)(x->part_count - x->part)};
        ssize_t sent = sendmsg(x->fd, &message, MSG_NOSIGNAL);
        if (sent < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return WAITING;
            if (x->reused && (errno == EPIPE || errno == ECONNRESET))
                return RETRY;
            fail(x, "transport", "send failure: %s", strerror(errno));
            return FAILED;
        }
        size_t left = (size_t)sent;
        while (x->part < x->part_count && left >= x->parts[x->part].iov_len) {
            left -= x->parts[x->part].iov_len;
            x->part++;
        }
        if (x->part < x->part_count) {
            x->parts[x->part].iov_base = (char *)x->parts[x->part].iov_base + left;
            x->parts[x->part].iov_len -= left;
        }
    }
    return PROGRESSED;
}

/* Reads until the response is whole (PROGRESSED); RETRY when a reused connection turned out
 * to be closed before any of the answer came. */
static enum outcome step_receive(struct http_plain_exchange *x) {
    struct http_response *response = &x->response;
    char buffer[65536];
    for (;;) {
        ssize_t got = recv(x->fd, buffer, sizeof buffer, 0);
        enum http_response_state state;
        if (got > 0) {
            state = http_response_feed(response, buffer, (size_t)got);
        } else if (got == 0) {
            /* A reused connection the server closed before reading the request. */
            if (x->reused && response->received == 0)
                return RETRY;
            state = http_response_eof(response);
        } else if (errno == EINTR) {
            continue;
        } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
            return WAITING;
        } else {
            if (x->reused && response->received == 0 && errno == ECONNRESET)
                return RETRY;
            fail(x, "transport", "receive failure: %s", strerror(errno));
            return FAILED;
        }
        if (state == HTTP_RESPONSE_DONE)
            return PROGRESSED;
        if (state == HTTP_RESPONSE_ERROR) {
            if (response->head.failed || response->body.failed || response->pending.failed)
                x->result->out_of_memory = true;
            fail(x, "transport", "%s", response->error);
            return FAILED;
        }
    }
}

/* ---- the exchange ---- */

/* The response parser's sink when the caller takes the body as it arrives. */
static bool pass_body(void *owner, const struct http_response *response, const char *data,
                      size_t length) {
    const struct http_call *call = owner;
    return call->on_body(call->on_body_owner, response->status, &response->head, data, length);
}

/* Connected (or a kept connection taken): the request goes out from its first byte. */
static void start_sending(struct http_plain_exchange *x) {
    x->result->connect_elapsed = monotonic_now() - x->started;
    http_response_free(&x->response);
    http_response_init(&x->response);
    x->response.head_request = strcmp(x->call->method, "HEAD") == 0;
    if (x->call->on_body) {
        x->response.sink = pass_body;
        x->response.sink_owner = (void *)x->call;
    }
    x->parts[0] = (struct iovec){x->head.data, x->head.length};
    x->parts[1] = (struct iovec){(void *)x->call->body, x->call->body ? x->call->body_length : 0};
    x->part = 0;
    x->part_count = x->parts[1].iov_len ? 2 : 1;
    x->phase = SENDING;
}

/* A kept connection the server had closed: once more on a new one, from the first address. */
static void retry(struct http_plain_exchange *x) {
    close_connection(x->fd, x->watch);
    x->watch = NULL;
    x->fd = -1;
    x->reused = false;
    x->address = 0;
    x->phase = CONNECTING;
}

static void complete(struct http_plain_exchange *x) {
    struct http_result *result = x->result;
    struct http_response *response = &x->response;
    x->ok = true;
    result->status = response->status;
    result->head = response->head;
    result->body = response->body;
    response->head = (struct bytes){0};
    response->body = (struct bytes){0};
    result->received_at = monotonic_now();
    result->elapsed = result->received_at - x->started;
    describe_address(&x->target->addresses[x->address], result->primary_ip,
                     sizeof result->primary_ip, &result->primary_port);
    if (response->keep_alive && response->extra == 0 && !http_plain_caller_closes(x->call)) {
        keep_idle(*x->pool, x);
        x->fd = -1;
    }
}

void http_plain_begin(struct http_plain_exchange *x, struct http_plain_pool **pool,
                      const struct http_call *call, const struct http_plain_target *target,
                      struct http_result *result) {
    memset(x, 0, sizeof *x);
    x->call = call;
    x->target = target;
    x->pool = pool;
    x->result = result;
    x->fd = -1;
    http_response_init(&x->response);
    x->started = monotonic_now();
    x->deadline = call->timeout > 0 ? x->started + call->timeout : INFINITY;
    x->connect_deadline =
        x->started + (call->connect_timeout > 0 ? call->connect_timeout : DEFAULT_CONNECT);
    if (!http_plain_build_head(call, target, &x->head)) {
        result->out_of_memory = true;
        x->phase = OVER;
        return;
    }
    if (!*pool)
        *pool = calloc(1, sizeof **pool); /* without one, connections are simply not kept */
    if (*pool) {
        x->counted = true;
        if (++(*pool)->active > (*pool)->peak)
            (*pool)->peak = (*pool)->active;
    }
    x->fd = take_idle(*pool, x);
    x->reused = x->fd >= 0;
    if (x->reused)
        start_sending(x);
    else
        x->phase = CONNECTING;
}

enum http_plain_wait http_plain_advance(struct http_plain_exchange *x) {
    for (;;) {
        enum outcome outcome;
        switch (x->phase) {
        case CONNECTING:
            outcome = step_connect(x);
            if (outcome == WAITING)
                return HTTP_PLAIN_WRITE;
            if (outcome == PROGRESSED)
                start_sending(x);
            break;
        case SENDING:
            outcome = step_send(x);
            if (outcome == WAITING)
                return HTTP_PLAIN_WRITE;
            /* Sent: the answer cannot be there yet (or hardly ever: 2% of the requests of
             * a load run on loopback), so wait for it rather than try a read first. */
            if (outcome == PROGRESSED) {
                x->phase = RECEIVING;
                return HTTP_PLAIN_READ;
            }
            break;
        case RECEIVING:
            outcome = step_receive(x);
            if (outcome == WAITING)
                return HTTP_PLAIN_READ;
            if (outcome == PROGRESSED) {
                complete(x);
                x->phase = OVER;
            }
            break;
        default:
            return HTTP_PLAIN_DONE;
        }
        if (outcome == RETRY)
            retry(x);
        else if (outcome == FAILED)
            x->phase = OVER;
    }
}

double http_plain_deadline(const struct http_plain_exchange *x) {
    if (x->phase == CONNECTING && x->connect_deadline < x->deadline)
        return x->connect_deadline;
    return x->deadline;
}

void http_plain_expire(struct http_plain_exchange *x) {
    timed_out(x, x->phase == CONNECTING);
    x->phase = OVER;
}

void http_plain_abort(struct http_plain_exchange *x, const char *why) {
    fail(x, "transport", "%s", why);
    x->phase = OVER;
}

bool http_plain_end(struct http_plain_exchange *x) {
    if (x->fd >= 0)
        close_connection(x->fd, x->watch);
    x->watch = NULL;
    x->fd = -1;
    if (x->counted)
        (*x->pool)->active--;
    x->counted = false;
    if (x->call->trace && !x->result->out_of_memory) {
        x->result->sent_head = x->head;
        x->head = (struct bytes){0};
    }
    bytes_free(&x->head);
    http_response_free(&x->response);
    x->phase = OVER;
    return x->ok;
}

/* ---- the blocking driver ---- */

/* Waits for events on fd until deadline (INFINITY: none). Returns the revents, 0 on
 * timeout. */
static short wait_for(int fd, short events, double deadline) {
    for (;;) {
        int timeout_ms = -1;
        if (isfinite(deadline)) {
            double left = deadline - monotonic_now();
            if (left <= 0)
                return 0;
            timeout_ms = (int)ceil(left * 1000.0);
        }
        struct pollfd pfd = {fd, events, 0};
        int ready = poll(&pfd, 1, timeout_ms);
        if (ready > 0)
            return pfd.revents;
        if (ready == 0 && isfinite(deadline) && deadline - monotonic_now() <= 0)
            return 0;
        if (ready < 0 && errno != EINTR)
            return POLLERR;
    }
}

bool http_plain_perform(struct http_plain_pool **pool, const struct http_call *call,
                        const struct http_plain_target *target, struct http_result *result) {
    struct http_plain_exchange x;
    http_plain_begin(&x, pool, call, target, result);
    /* A connection the event driver kept is used with poll() here: its watch goes. */
    if (x.watch)
        x.watch->release(x.watch);
    x.watch = NULL;
    for (;;) {
        enum http_plain_wait wait = http_plain_advance(&x);
        if (wait == HTTP_PLAIN_DONE)
            break;
        short events = wait == HTTP_PLAIN_READ ? POLLIN : POLLOUT;
        if (wait_for(x.fd, events, http_plain_deadline(&x)) == 0) {
            http_plain_expire(&x);
            break;
        }
    }
    return http_plain_end(&x);
}
