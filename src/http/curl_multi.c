/* lambda.http's libcurl engine on a lambda.event loop, for requests made from tasks: one
 * multi handle per Lua state, driven through the multi-socket interface. libcurl says which
 * sockets to watch (CURLMOPT_SOCKETFUNCTION) and when to call it back anyway
 * (CURLMOPT_TIMERFUNCTION); libevent events do the watching and the waiting, and call
 * curl_multi_socket_action. Each transfer is set up and read exactly as the blocking path
 * does it (curl.c), and its easy handle uses the state's share, so connections, DNS answers
 * and TLS sessions are common to both paths. */
#include <event2/event.h>
#include <event2/event_struct.h>
#include <stdlib.h>

#include "http/curl_engine.h"

/* Idle connections libcurl keeps for the transfers of tasks. Its default, 4 per transfer in
 * the multi handle at the time one ends, closes most of them when many end at once (as the
 * last few end, the limit falls); like the plain engine (plain.c), keep up to 64, so that a
 * round of requests sent at once reuses the connections the previous round opened. */
#define MAX_CONNECTIONS 64L

struct watched_socket {
    struct http_curl_multi *multi;
    struct event event;
    struct watched_socket *prev, *next;
};

struct http_curl_async {
    struct http_curl_transfer t;
    const struct http_call *call;
    struct http_curl_multi *multi;
    http_finished_fn finished;
    void *owner;
    struct http_curl_async *prev, *next;
};

struct http_curl_multi {
    CURLM *handle;
    struct event_base *base;
    struct event timer;
    struct http_curl_async *transfers;
    struct watched_socket *sockets;
};

#define LINK(list, item)                                                                           \
    do {                                                                                           \
        (item)->prev = NULL;                                                                       \
        (item)->next = (list);                                                                     \
        if (list)                                                                                  \
            (list)->prev = (item);                                                                 \
        (list) = (item);                                                                           \
    } while (0)
#define UNLINK(list, item)                                                                         \
    do {                                                                                           \
        if ((item)->prev)                                                                          \
            (item)->prev->next = (item)->next;                                                     \
        else                                                                                       \
            (list) = (item)->next;                                                                 \
        if ((item)->next)                                                                          \
            (item)->next->prev = (item)->prev;                                                     \
    } while (0)

/* Ends the transfers libcurl has finished, one at a time: each owner hears of its end once
 * the transfer is released, and may start or cancel others meanwhile (libcurl drops the
 * messages of a handle removed, so the next message read is still one to handle). */
static void end_finished(struct http_curl_multi *m) {
    CURLMsg *message;
    int left;
    while ((message = curl_api.multi_info_read(m->handle, &left))) {
        if (message->msg != CURLMSG_DONE)
            continue;
        CURL *easy = message->easy_handle;
        CURLcode code = message->data.result;
        char *private = NULL;
        curl_api.easy_getinfo(easy, CURLINFO_PRIVATE, &private);
        struct http_curl_async *a = (struct http_curl_async *)private;
        bool ok = http_curl_conclude(&a->t, a->call, code);
        curl_api.multi_remove_handle(m->handle, easy);
        UNLINK(m->transfers, a);
        http_curl_release(&a->t);
        http_finished_fn finished = a->finished;
        void *owner = a->owner;
        free(a);
        finished(owner, ok);
    }
}

static void on_socket_event(evutil_socket_t fd, short what, void *arg) {
    struct watched_socket *w = arg;
    struct http_curl_multi *m = w->multi; /* w may be freed by the action */
    int events = (what & EV_READ ? CURL_CSELECT_IN : 0) | (what & EV_WRITE ? CURL_CSELECT_OUT : 0);
    int running;
    curl_api.multi_socket_action(m->handle, fd, events, &running);
    end_finished(m);
}

static void on_timer_event(evutil_socket_t fd, short what, void *arg) {
    (void)fd;
    (void)what;
    struct http_curl_multi *m = arg;
    int running;
    curl_api.multi_socket_action(m->handle, CURL_SOCKET_TIMEOUT, 0, &running);
    end_finished(m);
}

/* CURLMOPT_SOCKETFUNCTION: watch fd for what libcurl asks, or no longer. */
static int watch_socket(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp) {
    (void)easy;
    struct http_curl_multi *m = userp;
    struct watched_socket *w = socketp;
    if (what == CURL_POLL_REMOVE) {
        if (w) {
            event_del(&w->event);
            UNLINK(m->sockets, w);
            free(w);
        }
        return 0;
    }
    if (!w) {
        w = calloc(1, sizeof *w);
        if (!w)
            return -1;
        w->multi = m;
        LINK(m->sockets, w);
        curl_api.multi_assign(m->handle, fd, w);
    } else {
        event_del(&w->event);
    }
    short events =
        EV_PERSIST | (what & CURL_POLL_IN ? EV_READ : 0) | (what & CURL_POLL_OUT ? EV_WRITE : 0);
    event_assign(&w->event, m->base, fd, events, on_socket_event, w);
    return event_add(&w->event, NULL) == 0 ? 0 : -1;
}

/* CURLMOPT_TIMERFUNCTION: call libcurl back in timeout_ms (-1: never). */
static int set_timer(CURLM *multi, long timeout_ms, void *userp) {
    (void)multi;
    struct http_curl_multi *m = userp;
    if (timeout_ms < 0) {
        evtimer_del(&m->timer);
        return 0;
    }
    struct timeval delay = {timeout_ms / 1000, (timeout_ms % 1000) * 1000};
    return evtimer_add(&m->timer, &delay) == 0 ? 0 : -1;
}

static struct http_curl_multi *new_multi(struct event_base *base) {
    struct http_curl_multi *m = calloc(1, sizeof *m);
    if (!m)
        return NULL;
    m->base = base;
    m->handle = curl_api.multi_init();
    if (!m->handle) {
        free(m);
        return NULL;
    }
    evtimer_assign(&m->timer, base, on_timer_event, m);
    curl_api.multi_setopt(m->handle, CURLMOPT_SOCKETFUNCTION, watch_socket);
    curl_api.multi_setopt(m->handle, CURLMOPT_SOCKETDATA, m);
    curl_api.multi_setopt(m->handle, CURLMOPT_TIMERFUNCTION, set_timer);
    curl_api.multi_setopt(m->handle, CURLMOPT_TIMERDATA, m);
    curl_api.multi_setopt(m->handle, CURLMOPT_MAXCONNECTS, MAX_CONNECTIONS);
    return m;
}

enum http_start http_curl_start(struct http_curl_multi **multi, struct event_base *base,
                                struct http_curl_share **share, const struct http_call *call,
                                struct http_result *result, http_finished_fn finished, void *owner,
                                struct http_curl_async **transfer) {
    struct http_curl_async *a = calloc(1, sizeof *a);
    if (!a) {
        result->out_of_memory = true;
        return HTTP_FAILED;
    }
    if (!http_curl_prepare(&a->t, share, call, result)) { /* libcurl loaded there */
        free(a);
        return HTTP_FAILED;
    }
    if (!*multi)
        *multi = new_multi(base);
    struct http_curl_multi *m = *multi;
    if (!m || curl_api.easy_setopt(a->t.easy, CURLOPT_PRIVATE, (char *)a) != CURLE_OK ||
        curl_api.multi_add_handle(m->handle, a->t.easy) != CURLM_OK) {
        result->out_of_memory = true;
        http_curl_release(&a->t);
        free(a);
        return HTTP_FAILED;
    }
    a->call = call;
    a->multi = m;
    a->finished = finished;
    a->owner = owner;
    LINK(m->transfers, a);
    *transfer = a;
    return HTTP_IN_FLIGHT;
}

void http_curl_cancel(struct http_curl_async *a) {
    struct http_curl_multi *m = a->multi;
    curl_api.multi_remove_handle(m->handle, a->t.easy);
    UNLINK(m->transfers, a);
    http_curl_release(&a->t);
    free(a);
}

void http_curl_multi_free(struct http_curl_multi *m) {
    if (!m)
        return;
    while (m->transfers)
        http_curl_cancel(m->transfers);
    curl_api.multi_cleanup(m->handle);
    /* Sockets libcurl did not say it was done with (it closes them itself). */
    while (m->sockets) {
        struct watched_socket *w = m->sockets;
        event_del(&w->event);
        UNLINK(m->sockets, w);
        free(w);
    }
    evtimer_del(&m->timer);
    free(m);
}
