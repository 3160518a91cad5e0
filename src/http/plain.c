/* lambda.http's plain engine: HTTP/1.1 over a TCP connection to a loopback address, with
 * idle keep-alive connections kept per Lua state. It exists for memory, not speed: libcurl
 * and what it loads take 7 MB of a process that only needs to send one request to the local
 * emulator. It sends the same bytes libcurl would (the request head in libcurl's order), so
 * the two engines are interchangeable; anything it is not sure of goes to libcurl (see
 * http_plain_accepts in plain_target.c). */
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
#include <strings.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "http/engine.h"
#include "http/response_parse.h"

#define MAX_IDLE 4           /* idle connections kept per Lua state */
#define DEFAULT_CONNECT 300. /* seconds; libcurl's default connect timeout */

struct idle_connection {
    int fd;
    struct sockaddr_storage address;
    socklen_t address_length;
};

struct http_plain_pool {
    struct idle_connection idle[MAX_IDLE];
    int count;
};

/* ---- the request head, in libcurl's order ---- */

static const struct http_header *find_header(const struct http_call *call, const char *name) {
    for (size_t i = 0; i < call->header_count; i++)
        if (strcasecmp(call->headers[i].name, name) == 0)
            return &call->headers[i];
    return NULL;
}

static bool build_head(const struct http_call *call, const struct http_plain_target *t,
                       struct bytes *head) {
    char number[32];
    bytes_append_string(head, call->method);
    bytes_append(head, " ", 1);
    if (!t->path || t->path[0] == '?')
        bytes_append(head, "/", 1);
    if (t->path)
        bytes_append_string(head, t->path);
    bytes_append_string(head, " HTTP/1.1\r\nHost:");
    const struct http_header *host = find_header(call, "Host");
    if (host && host->value[0]) {
        bytes_append(head, " ", 1);
        bytes_append_string(head, host->value);
    } else if (!host) {
        bytes_append(head, " ", 1);
        bytes_append(head, t->host, t->host_length);
        if (t->port != 80) {
            snprintf(number, sizeof number, ":%u", t->port);
            bytes_append_string(head, number);
        }
    }
    bytes_append_string(head, "\r\n");
    if (!find_header(call, "Accept"))
        bytes_append_string(head, "Accept: */*\r\n");
    for (size_t i = 0; i < call->header_count; i++) {
        const struct http_header *h = &call->headers[i];
        if (h == host)
            continue;
        bytes_append_string(head, h->name);
        bytes_append(head, ":", 1);
        if (h->value[0]) {
            bytes_append(head, " ", 1);
            bytes_append_string(head, h->value);
        }
        bytes_append_string(head, "\r\n");
    }
    if (call->body && !find_header(call, "Content-Length")) {
        snprintf(number, sizeof number, "Content-Length: %zu\r\n", call->body_length);
        bytes_append_string(head, number);
    }
    return bytes_append_string(head, "\r\n");
}

/* ---- time ---- */

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Waits for events on fd until deadline (INFINITY: none). Returns the revents, 0 on
 * timeout. */
static short wait_for(int fd, short events, double deadline) {
    for (;;) {
        int timeout_ms = -1;
        if (isfinite(deadline)) {
            double left = deadline - now();
            if (left <= 0)
                return 0;
            timeout_ms = (int)ceil(left * 1000.0);
        }
        struct pollfd pfd = {fd, events, 0};
        int ready = poll(&pfd, 1, timeout_ms);
        if (ready > 0)
            return pfd.revents;
        if (ready == 0 && isfinite(deadline) && deadline - now() <= 0)
            return 0;
        if (ready < 0 && errno != EINTR)
            return POLLERR;
    }
}

/* ---- connections ---- */

struct exchange {
    const struct http_call *call;
    const struct http_plain_target *target;
    double started, deadline, connect_deadline;
    int fd;
    bool reused;
    int connected; /* index of the address connected to */
    struct http_result *result;
};

static bool fail(struct exchange *x, const char *kind, const char *format, const char *detail) {
    x->result->failure_kind = kind;
    snprintf(x->result->message, sizeof x->result->message, format, detail);
    return false;
}

static bool timed_out(struct exchange *x, bool connecting) {
    const struct http_call *call = x->call;
    char seconds[32];
    if (connecting && x->connect_deadline < x->deadline) {
        snprintf(seconds, sizeof seconds, "%g",
                 call->connect_timeout > 0 ? call->connect_timeout : DEFAULT_CONNECT);
        return fail(x, "timeout", "connect timed out after %s s", seconds);
    }
    snprintf(seconds, sizeof seconds, "%g", call->timeout);
    return fail(x, "timeout", "timed out after %s s", seconds);
}

static bool same_address(const struct idle_connection *idle, const struct sockaddr_storage *a,
                         socklen_t length) {
    return idle->address_length == length && memcmp(&idle->address, a, length) == 0;
}

/* An idle connection to one of the target's addresses that the server has not closed. */
static int take_idle(struct http_plain_pool *pool, struct exchange *x) {
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
            /* Readable while idle means closed (or stray bytes): either way, unusable. */
            struct pollfd pfd = {idle.fd, POLLIN, 0};
            if (poll(&pfd, 1, 0) != 0) {
                close(idle.fd);
                continue;
            }
            x->connected = a;
            return idle.fd;
        }
    }
    return -1;
}

static void keep_idle(struct http_plain_pool **pool, struct exchange *x) {
    if (!*pool)
        *pool = calloc(1, sizeof **pool);
    if (!*pool) {
        close(x->fd);
        return;
    }
    struct http_plain_pool *p = *pool;
    if (p->count == MAX_IDLE) { /* the oldest goes */
        close(p->idle[0].fd);
        memmove(&p->idle[0], &p->idle[1], (MAX_IDLE - 1) * sizeof p->idle[0]);
        p->count--;
    }
    struct idle_connection *idle = &p->idle[p->count++];
    idle->fd = x->fd;
    idle->address = x->target->addresses[x->connected];
    idle->address_length = x->target->address_lengths[x->connected];
}

void http_plain_pool_free(struct http_plain_pool *pool) {
    if (!pool)
        return;
    for (int i = 0; i < pool->count; i++)
        close(pool->idle[i].fd);
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
        inet_ntop(AF_INET, &in->sin_addr, text, (socklen_t)size);
        *port = ntohs(in->sin_port);
    }
}

/* Connects to the first address that accepts; sets x->fd. */
static bool connect_target(struct exchange *x) {
    int refused = 0, last_error = 0, last_address = 0;
    for (int a = 0; a < x->target->address_count; a++) {
        const struct sockaddr_storage *address = &x->target->addresses[a];
        int fd = socket(address->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0) {
            last_error = errno;
            last_address = a;
            continue;
        }
        int error = 0;
        if (connect(fd, (const struct sockaddr *)address, x->target->address_lengths[a]) != 0) {
            error = errno;
            if (error == EINPROGRESS) {
                double deadline =
                    x->connect_deadline < x->deadline ? x->connect_deadline : x->deadline;
                if (wait_for(fd, POLLOUT, deadline) == 0) {
                    close(fd);
                    return timed_out(x, true);
                }
                socklen_t length = sizeof error;
                if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length) != 0)
                    error = errno;
            }
        }
        if (error == 0) {
            int on = 1;
            setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
            x->fd = fd;
            x->connected = a;
            return true;
        }
        close(fd);
        refused += error == ECONNREFUSED;
        last_error = error;
        last_address = a;
    }
    if (refused)
        return fail(x, "refused", "%s", "connection refused");
    char ip[64], text[160];
    long port;
    describe_address(&x->target->addresses[last_address], ip, sizeof ip, &port);
    snprintf(text, sizeof text, "failed to connect to %s port %ld: %s", ip, port,
             strerror(last_error));
    return fail(x, "transport", "%s", text);
}

/* ---- one exchange: send the request, read the response ---- */

enum outcome { DONE, FAILED, RETRY };

/* Sends the head and the body; RETRY when a reused connection turned out to be closed. */
static enum outcome send_request(struct exchange *x, const struct bytes *head) {
    struct iovec parts[2] = {{head->data, head->length},
                             {(void *)x->call->body, x->call->body ? x->call->body_length : 0}};
    int count = parts[1].iov_len ? 2 : 1;
    struct iovec *part = parts;
    while (count > 0) {
        struct msghdr message = {.msg_iov = part, .msg_iovlen = (size_t)count};
        ssize_t sent = sendmsg(x->fd, &message, MSG_NOSIGNAL);
        if (sent < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                if (wait_for(x->fd, POLLOUT, x->deadline) == 0) {
                    timed_out(x, false);
                    return FAILED;
                }
                continue;
            }
            if (x->reused && (errno == EPIPE || errno == ECONNRESET))
                return RETRY;
            fail(x, "transport", "send failure: %s", strerror(errno));
            return FAILED;
        }
        size_t left = (size_t)sent;
        while (count > 0 && left >= part->iov_len) {
            left -= part->iov_len;
            part++;
            count--;
        }
        if (count > 0) {
            part->iov_base = (char *)part->iov_base + left;
            part->iov_len -= left;
        }
    }
    return DONE;
}

static enum outcome receive_response(struct exchange *x, struct http_response *response) {
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
            if (wait_for(x->fd, POLLIN, x->deadline) == 0) {
                timed_out(x, false);
                return FAILED;
            }
            continue;
        } else {
            if (x->reused && response->received == 0 && errno == ECONNRESET)
                return RETRY;
            fail(x, "transport", "receive failure: %s", strerror(errno));
            return FAILED;
        }
        if (state == HTTP_RESPONSE_DONE)
            return DONE;
        if (state == HTTP_RESPONSE_ERROR) {
            if (response->head.failed || response->body.failed || response->pending.failed)
                x->result->out_of_memory = true;
            fail(x, "transport", "%s", response->error);
            return FAILED;
        }
    }
}

static bool caller_closes(const struct http_call *call) {
    const struct http_header *connection = find_header(call, "Connection");
    return connection && strcasecmp(connection->value, "close") == 0;
}

bool http_plain_perform(struct http_plain_pool **pool, const struct http_call *call,
                        const struct http_plain_target *target, struct http_result *result) {
    struct exchange x = {.call = call, .target = target, .fd = -1, .result = result};
    x.started = now();
    x.deadline = call->timeout > 0 ? x.started + call->timeout : INFINITY;
    x.connect_deadline =
        x.started + (call->connect_timeout > 0 ? call->connect_timeout : DEFAULT_CONNECT);

    struct bytes head = {0};
    if (!build_head(call, x.target, &head)) {
        result->out_of_memory = true;
        bytes_free(&head);
        return false;
    }
    struct http_response response;
    bool ok = false;
    for (int attempt = 0; attempt < 2; attempt++) {
        x.fd = attempt == 0 ? take_idle(*pool, &x) : -1;
        x.reused = x.fd >= 0;
        if (!x.reused && !connect_target(&x))
            break;
        result->connect_elapsed = now() - x.started;
        http_response_init(&response);
        response.head_request = strcmp(call->method, "HEAD") == 0;
        enum outcome outcome = send_request(&x, &head);
        if (outcome == DONE)
            outcome = receive_response(&x, &response);
        if (outcome == RETRY) {
            close(x.fd);
            x.fd = -1;
            http_response_free(&response);
            continue;
        }
        if (outcome == DONE) {
            ok = true;
            result->status = response.status;
            result->head = response.head;
            result->body = response.body;
            response.head = (struct bytes){0};
            response.body = (struct bytes){0};
            result->elapsed = now() - x.started;
            describe_address(&x.target->addresses[x.connected], result->primary_ip,
                             sizeof result->primary_ip, &result->primary_port);
            if (response.keep_alive && response.extra == 0 && !caller_closes(call)) {
                keep_idle(pool, &x);
                x.fd = -1;
            }
        }
        http_response_free(&response);
        break;
    }
    if (x.fd >= 0)
        close(x.fd);
    if (call->trace && !result->out_of_memory) {
        result->sent_head = head;
        head = (struct bytes){0};
    }
    bytes_free(&head);
    return ok;
}
