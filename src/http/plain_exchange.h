/* One request of lambda.http's plain engine as a small state machine (plain.c), so that the
 * same connection logic runs whether a caller blocks in poll() (http_plain_perform) or waits
 * on a lambda.event loop (plain_event.c, for a request made from a task).
 *
 * A driver calls http_plain_begin, then http_plain_advance, which does everything it can
 * without blocking and says what it waits for on x->fd; the driver waits for that (giving up
 * at http_plain_deadline, then calling http_plain_expire) and calls advance again, until it
 * says HTTP_PLAIN_DONE; http_plain_end then releases what is left and gives the outcome. */
#ifndef CLC_HTTP_PLAIN_EXCHANGE_H
#define CLC_HTTP_PLAIN_EXCHANGE_H

#include <netinet/in.h>
#include <stdbool.h>
#include <sys/uio.h>

#include "common/monotonic.h"
#include "http/engine.h"
#include "http/response_parse.h"

/* A driver's watch on a connection's socket, kept with the connection while it sits idle in
 * the pool (plain_event.c keeps a persistent read event registered with the loop, so that a
 * connection's next request costs no epoll_ctl and a close while idle is seen at once).
 * plain.c calls release before it closes the socket or hands it to the other driver. */
struct http_plain_watch {
    void (*release)(struct http_plain_watch *watch); /* stops watching; frees the watch */
    void *owner; /* the driver's exchange using the connection; NULL once it is idle */
};

enum http_plain_wait {
    HTTP_PLAIN_READ,  /* for x->fd to be readable */
    HTTP_PLAIN_WRITE, /* for x->fd to be writable (connected, or room to send) */
    HTTP_PLAIN_DONE,  /* the exchange is over: call http_plain_end */
};

struct http_plain_exchange {
    const struct http_call *call;
    const struct http_plain_target *target;
    struct http_plain_pool **pool;
    struct http_result *result;
    struct bytes head; /* the request head, built once: a retry sends the same bytes */
    double started, deadline, connect_deadline;
    int phase;
    int fd;
    struct http_plain_watch *watch; /* the event driver's watch on fd, or NULL */
    bool reused;           /* the connection came from the idle pool (it may turn out closed) */
    bool ok;               /* the response arrived whole */
    bool counted;          /* counted among the pool's active exchanges */
    int address;           /* the target address being connected to, or connected */
    int refused;           /* addresses that refused the connection */
    int last_error;        /* errno of the last address that failed otherwise */
    int last_failed;       /* which address that was */
    struct iovec parts[2]; /* what is left to send: the head, then the body */
    int part, part_count;
    struct http_response response;
};

/* Starts an exchange (never fails: out of memory ends it at the first advance). */
void http_plain_begin(struct http_plain_exchange *x, struct http_plain_pool **pool,
                      const struct http_call *call, const struct http_plain_target *target,
                      struct http_result *result);
enum http_plain_wait http_plain_advance(struct http_plain_exchange *x);
/* When the current wait gives up, on the monotonic clock (INFINITY: never). */
double http_plain_deadline(const struct http_plain_exchange *x);
/* The deadline passed: the exchange fails with the timeout and is over. */
void http_plain_expire(struct http_plain_exchange *x);
/* The driver cannot wait (its event loop refused the event): the exchange fails. */
void http_plain_abort(struct http_plain_exchange *x, const char *why);
/* Releases the exchange: its connection goes back to the pool when it can carry another
 * request, else is closed (also when the exchange is abandoned before it is over). Returns
 * whether the response arrived (result filled), else result says why. */
bool http_plain_end(struct http_plain_exchange *x);

/* The idle connection on fd was found closed (or given stray bytes) while idle: out of the
 * pool, and closed with its watch. False when the pool has no such connection. */
bool http_plain_pool_discard(struct http_plain_pool *pool, int fd);

/* The request head in libcurl's order (plain_head.c); false when memory ran out. */
bool http_plain_build_head(const struct http_call *call, const struct http_plain_target *t,
                           struct bytes *head);
/* Writes address as a.b.c.d (what inet_ntop writes, without its sprintf) into text, which has
 * room for INET_ADDRSTRLEN bytes (plain_target.c). */
void http_plain_format_ipv4(const struct in_addr *address, char *text);
/* Whether the caller asked for the connection to close (Connection: close). */
bool http_plain_caller_closes(const struct http_call *call);

#endif
