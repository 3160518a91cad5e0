/* The plain engine's exchange (plain_exchange.h) driven by a lambda.event loop instead of
 * poll(): for requests made from tasks, which must not block the loop.
 *
 * Each connection on the loop has a watch: a persistent read event registered once, when the
 * connection first waits for an answer, and kept with the connection while it sits idle in the
 * pool. A connection's next request so costs no epoll_ctl (an event deleted when it fired and
 * added again for the next request cost one system call per request of a load run, a third of
 * them), and a connection the server closes while idle is seen and dropped at once. Waiting to
 * write (connecting, a body larger than the socket takes) uses a one-shot event of the exchange's
 * own, and its deadline a timer of its own. */
#include <event2/event.h>
#include <event2/event_struct.h>
#include <math.h>
#include <stdlib.h>

#include "http/plain_exchange.h"

struct http_plain_async;

struct connection_watch {
    struct http_plain_watch watch; /* first: plain.c knows only this (owner: the exchange) */
    struct event readable;         /* EV_READ | EV_PERSIST on the connection's socket */
    bool paused;                   /* taken off the loop while its exchange waits to write */
    struct http_plain_pool *pool;  /* where the connection waits while idle */
};

struct http_plain_async {
    struct http_plain_exchange x;
    struct event_base *base;
    struct event writable; /* one-shot, for HTTP_PLAIN_WRITE */
    struct event deadline; /* a timer, at http_plain_deadline */
    bool writable_armed, deadline_armed;
    http_finished_fn finished;
    void *owner;
};

static void release_watch(struct http_plain_watch *watch) {
    struct connection_watch *w = (struct connection_watch *)watch;
    event_del(&w->readable);
    free(w);
}

static void on_readable(evutil_socket_t fd, short what, void *arg);
static void on_writable(evutil_socket_t fd, short what, void *arg);
static void on_deadline(evutil_socket_t fd, short what, void *arg);

/* The exchange's connection watched for reading, owned by the exchange; false when the loop
 * refused (or memory ran out). */
static bool watch_connection(struct http_plain_async *t) {
    struct connection_watch *w = (struct connection_watch *)t->x.watch;
    if (!w) {
        w = calloc(1, sizeof *w);
        if (!w)
            return false;
        w->watch.release = release_watch;
        w->pool = *t->x.pool;
        event_assign(&w->readable, t->base, t->x.fd, EV_READ | EV_PERSIST, on_readable, w);
        if (event_add(&w->readable, NULL) != 0) {
            free(w);
            return false;
        }
        t->x.watch = &w->watch;
    } else if (w->paused) {
        if (event_add(&w->readable, NULL) != 0)
            return false;
        w->paused = false;
    }
    w->watch.owner = t;
    return true;
}

/* While its exchange waits to write, a connection is not watched for reading: an early answer
 * (or a close) would otherwise wake the loop at every turn until there is room to send. */
static void pause_watch(struct http_plain_async *t) {
    struct connection_watch *w = (struct connection_watch *)t->x.watch;
    if (w && !w->paused) {
        event_del(&w->readable);
        w->paused = true;
    }
}

/* Waits for what the exchange wants, until its deadline; false when libevent refused. */
static bool arm(struct http_plain_async *t, enum http_plain_wait wait) {
    if (wait == HTTP_PLAIN_READ) {
        if (!watch_connection(t))
            return false;
    } else if (!t->writable_armed) {
        /* (Never pending across a retry, which changes the socket: a retry happens inside
         * run(), from on_writable once the event fired, or from on_readable, whose watch is
         * paused while the event is pending.) */
        pause_watch(t);
        event_assign(&t->writable, t->base, t->x.fd, EV_WRITE, on_writable, t);
        t->writable_armed = event_add(&t->writable, NULL) == 0;
        if (!t->writable_armed)
            return false;
    }
    double deadline = http_plain_deadline(&t->x);
    if (!isfinite(deadline)) { /* none (any longer: connected, without a timeout) */
        if (t->deadline_armed)
            event_del(&t->deadline);
        t->deadline_armed = false;
        return true;
    }
    double left = deadline - monotonic_now();
    if (left < 0)
        left = 0;
    struct timeval delay = {(time_t)left, 0};
    delay.tv_usec = (suseconds_t)((left - (double)delay.tv_sec) * 1e6);
    t->deadline_armed = evtimer_add(&t->deadline, &delay) == 0;
    return t->deadline_armed;
}

/* Runs the exchange as far as it goes; false once it is over. */
static bool run(struct http_plain_async *t) {
    enum http_plain_wait wait = http_plain_advance(&t->x);
    if (wait == HTTP_PLAIN_DONE)
        return false;
    if (arm(t, wait))
        return true;
    http_plain_abort(&t->x, "cannot wait for the connection: the event loop refused");
    return false;
}

/* Ends the exchange's events; its connection's watch goes idle with the connection (or is
 * released with it, by plain.c). */
static void disarm(struct http_plain_async *t) {
    if (t->writable_armed)
        event_del(&t->writable);
    if (t->deadline_armed)
        event_del(&t->deadline);
    t->writable_armed = t->deadline_armed = false;
    if (t->x.watch)
        t->x.watch->owner = NULL;
}

/* Over: the transfer is released before its owner hears of it, so that the owner may start
 * others (even on the connection just given back) from its callback. */
static void finish(struct http_plain_async *t) {
    disarm(t);
    bool ok = http_plain_end(&t->x);
    http_finished_fn finished = t->finished;
    void *owner = t->owner;
    free(t);
    finished(owner, ok);
}

static void on_readable(evutil_socket_t fd, short what, void *arg) {
    (void)what;
    struct connection_watch *w = arg;
    struct http_plain_async *t = w->watch.owner;
    if (!t) {
        /* Readable while idle: the server closed it, or sent what no request asked for. */
        if (!http_plain_pool_discard(w->pool, (int)fd)) /* which releases w */
            release_watch(&w->watch); /* not pooled (cannot be): at least no busy loop */
        return;
    }
    /* w may be released from here on (a retry closes the connection). */
    if (!run(t))
        finish(t);
}

static void on_writable(evutil_socket_t fd, short what, void *arg) {
    (void)fd;
    (void)what;
    struct http_plain_async *t = arg;
    t->writable_armed = false;
    if (!run(t))
        finish(t);
}

static void on_deadline(evutil_socket_t fd, short what, void *arg) {
    (void)fd;
    (void)what;
    struct http_plain_async *t = arg;
    t->deadline_armed = false;
    http_plain_expire(&t->x);
    finish(t);
}

enum http_start http_plain_start(struct event_base *base, struct http_plain_pool **pool,
                                 const struct http_call *call,
                                 const struct http_plain_target *target, struct http_result *result,
                                 http_finished_fn finished, void *owner,
                                 struct http_plain_async **transfer) {
    struct http_plain_async *t = calloc(1, sizeof *t);
    if (!t) {
        result->out_of_memory = true;
        return HTTP_FAILED;
    }
    t->base = base;
    t->finished = finished;
    t->owner = owner;
    evtimer_assign(&t->deadline, base, on_deadline, t);
    http_plain_begin(&t->x, pool, call, target, result);
    if (t->x.watch) /* a kept connection, and its watch: this exchange's now */
        t->x.watch->owner = t;
    /* What can be done at once is done at once: on loopback, connecting and sending usually
     * need no wait. */
    if (run(t)) {
        *transfer = t;
        return HTTP_IN_FLIGHT;
    }
    disarm(t);
    bool ok = http_plain_end(&t->x);
    free(t);
    return ok ? HTTP_SUCCEEDED : HTTP_FAILED;
}

void http_plain_cancel(struct http_plain_async *t) {
    disarm(t);
    http_plain_end(&t->x);
    free(t);
}
