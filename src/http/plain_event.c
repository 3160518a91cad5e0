/* The plain engine's exchange (plain_exchange.h) driven by a lambda.event loop instead of
 * poll(): for requests made from tasks, which must not block the loop. One libevent event per
 * exchange, on its socket, with the exchange's deadline as the event's timeout. */
#include <event2/event.h>
#include <event2/event_struct.h>
#include <math.h>
#include <stdlib.h>

#include "http/plain_exchange.h"

struct http_plain_async {
    struct http_plain_exchange x;
    struct event_base *base;
    struct event event;
    bool armed; /* event added (a non-persistent event is no longer pending once it fired) */
    http_finished_fn finished;
    void *owner;
};

static void on_event(evutil_socket_t fd, short what, void *arg);

/* Waits for what the exchange wants, until its deadline; false when libevent refused. */
static bool arm(struct http_plain_async *t, enum http_plain_wait wait) {
    event_assign(&t->event, t->base, t->x.fd, wait == HTTP_PLAIN_READ ? EV_READ : EV_WRITE,
                 on_event, t);
    struct timeval delay, *timeout = NULL;
    double deadline = http_plain_deadline(&t->x);
    if (isfinite(deadline)) {
        double left = deadline - http_plain_now();
        if (left < 0)
            left = 0;
        delay.tv_sec = (time_t)left;
        delay.tv_usec = (suseconds_t)((left - (double)delay.tv_sec) * 1e6);
        timeout = &delay;
    }
    t->armed = event_add(&t->event, timeout) == 0;
    return t->armed;
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

static void on_event(evutil_socket_t fd, short what, void *arg) {
    (void)fd;
    struct http_plain_async *t = arg;
    t->armed = false;
    if (what & EV_TIMEOUT)
        http_plain_expire(&t->x);
    else if (run(t))
        return;
    /* Over: the transfer is released before its owner hears of it, so that the owner may
     * start others (even on the connection just given back) from its callback. */
    bool ok = http_plain_end(&t->x);
    http_finished_fn finished = t->finished;
    void *owner = t->owner;
    free(t);
    finished(owner, ok);
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
    http_plain_begin(&t->x, pool, call, target, result);
    /* What can be done at once is done at once: on loopback, connecting and sending usually
     * need no wait. */
    if (run(t)) {
        *transfer = t;
        return HTTP_IN_FLIGHT;
    }
    bool ok = http_plain_end(&t->x);
    free(t);
    return ok ? HTTP_SUCCEEDED : HTTP_FAILED;
}

void http_plain_cancel(struct http_plain_async *t) {
    if (t->armed)
        event_del(&t->event);
    http_plain_end(&t->x);
    free(t);
}
