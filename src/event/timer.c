/* lambda.event timers: event.timer(seconds, fn) and event.every(seconds, fn).
 *
 * The timers live in a heap of our own, ordered by deadline and then by creation, and one
 * libevent timer is armed for the earliest: libevent's heap gives no order among equal
 * deadlines, and scripts rely on timer(0, a); timer(0, b) running a before b. */
#define _POSIX_C_SOURCE 200809L

#include <lauxlib.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "event/parts.h"

#define TIMER_TYPE "lambda.event.timer"
#define NOT_SCHEDULED SIZE_MAX
/* Longer delays are clamped (about 31 years), which keeps the timeval arithmetic in range. */
#define MAX_DELAY 1e9

/* The timers of one loop: a binary heap ordered by deadline, then creation order, served by
 * one libevent timer armed for the earliest deadline. */
struct timer_queue {
    struct event_loop *loop;
    struct event event;
    struct event_timer **timers;
    size_t count, capacity;
    unsigned long long sequence;
};

struct event_timer {
    struct timer_queue *queue;
    double deadline; /* monotonic_now() seconds */
    double interval; /* > 0 for event.every */
    unsigned long long sequence;
    size_t slot; /* index in queue->timers, or NOT_SCHEDULED */
    int ref;     /* registry reference while scheduled */
};

static int earlier(const struct event_timer *a, const struct event_timer *b) {
    return a->deadline < b->deadline || (a->deadline == b->deadline && a->sequence < b->sequence);
}

static void place(struct timer_queue *queue, struct event_timer *timer, size_t slot) {
    queue->timers[slot] = timer;
    timer->slot = slot;
}

static void sift_up(struct timer_queue *queue, size_t slot) {
    struct event_timer *timer = queue->timers[slot];
    while (slot > 0) {
        size_t parent = (slot - 1) / 2;
        if (!earlier(timer, queue->timers[parent]))
            break;
        place(queue, queue->timers[parent], slot);
        slot = parent;
    }
    place(queue, timer, slot);
}

static void sift_down(struct timer_queue *queue, size_t slot) {
    struct event_timer *timer = queue->timers[slot];
    for (;;) {
        size_t child = 2 * slot + 1;
        if (child >= queue->count)
            break;
        if (child + 1 < queue->count && earlier(queue->timers[child + 1], queue->timers[child]))
            child++;
        if (!earlier(queue->timers[child], timer))
            break;
        place(queue, queue->timers[child], slot);
        slot = child;
    }
    place(queue, timer, slot);
}

/* The caller has made room (ensure_capacity). */
static void heap_push(struct timer_queue *queue, struct event_timer *timer) {
    timer->sequence = queue->sequence++;
    place(queue, timer, queue->count++);
    sift_up(queue, timer->slot);
}

static void heap_remove(struct timer_queue *queue, struct event_timer *timer) {
    size_t slot = timer->slot;
    struct event_timer *last = queue->timers[--queue->count];
    timer->slot = NOT_SCHEDULED;
    if (last == timer)
        return;
    place(queue, last, slot);
    if (slot > 0 && earlier(last, queue->timers[(slot - 1) / 2]))
        sift_up(queue, slot);
    else
        sift_down(queue, slot);
}

static void ensure_capacity(lua_State *L, struct timer_queue *queue) {
    if (queue->count < queue->capacity)
        return;
    size_t capacity = queue->capacity ? 2 * queue->capacity : 16;
    struct event_timer **grown = realloc(queue->timers, capacity * sizeof *grown);
    if (!grown)
        luaL_error(L, "not enough memory for another timer");
    queue->timers = grown;
    queue->capacity = capacity;
}

static void rearm(struct timer_queue *queue) {
    if (queue->loop->closed)
        return;
    if (queue->count == 0) {
        evtimer_del(&queue->event);
        return;
    }
    double wait = queue->timers[0]->deadline - monotonic_now();
    if (wait < 0)
        wait = 0;
    struct timeval delay;
    delay.tv_sec = (time_t)wait;
    delay.tv_usec = (suseconds_t)((wait - (double)delay.tv_sec) * 1e6);
    evtimer_add(&queue->event, &delay);
}

/* Runs the timers that are due. Timers created or rescheduled by these callbacks have a newer
 * sequence number and wait for the next round, so that timer(0) chains cannot starve I/O.
 * After event.stop() the rest wait for the next event.run(). */
static void on_timer_event(evutil_socket_t fd, short what, void *arg) {
    (void)fd;
    (void)what;
    struct timer_queue *queue = arg;
    struct event_loop *loop = queue->loop;
    lua_State *L = loop->L;
    double now = monotonic_now();
    unsigned long long round = queue->sequence;
    while (queue->count > 0 && !loop->closed && !event_base_got_break(loop->base)) {
        struct event_timer *timer = queue->timers[0];
        if (timer->deadline > now || timer->sequence >= round)
            break;
        heap_remove(queue, timer);
        event_push_ref(L, timer->ref);
        if (timer->interval > 0) {
            timer->deadline += timer->interval;
            if (timer->deadline <= now)
                timer->deadline = now + timer->interval;
            heap_push(queue, timer); /* room: it was just removed */
        } else {
            event_unref(L, &timer->ref); /* the stack keeps it alive through the call */
        }
        lua_getiuservalue(L, -1, 1);
        lua_insert(L, -2);
        event_loop_call(loop, L, 1);
    }
    rearm(queue);
}

static int schedule(lua_State *L, int repeat) {
    struct timer_queue *queue = lua_touserdata(L, lua_upvalueindex(1));
    double seconds = luaL_checknumber(L, 1);
    if (repeat)
        luaL_argcheck(L, seconds > 0, 1, "interval must be a positive number of seconds");
    else
        luaL_argcheck(L, seconds >= 0, 1, "delay must be a non-negative number of seconds");
    luaL_checktype(L, 2, LUA_TFUNCTION);
    if (seconds > MAX_DELAY)
        seconds = MAX_DELAY;
    ensure_capacity(L, queue);
    struct event_timer *timer = lua_newuserdatauv(L, sizeof *timer, 1);
    timer->queue = queue;
    timer->deadline = monotonic_now() + seconds;
    timer->interval = repeat ? seconds : 0;
    timer->slot = NOT_SCHEDULED;
    timer->ref = LUA_NOREF;
    luaL_setmetatable(L, TIMER_TYPE);
    lua_pushvalue(L, 2);
    lua_setiuservalue(L, -2, 1);
    lua_pushvalue(L, -1);
    timer->ref = luaL_ref(L, LUA_REGISTRYINDEX);
    heap_push(queue, timer);
    rearm(queue);
    return 1;
}

/* timer(seconds, fn) -> timer; fn(timer) runs once, seconds from now. */
static int event_timer_once(lua_State *L) {
    return schedule(L, 0);
}

/* every(seconds, fn) -> timer; fn(timer) runs every seconds until timer:cancel(). */
static int event_timer_every(lua_State *L) {
    return schedule(L, 1);
}

/* timer:cancel() -> true when the timer was still scheduled */
static int timer_cancel(lua_State *L) {
    struct event_timer *timer = luaL_checkudata(L, 1, TIMER_TYPE);
    int scheduled = timer->slot != NOT_SCHEDULED;
    if (scheduled) {
        heap_remove(timer->queue, timer);
        event_unref(L, &timer->ref);
        rearm(timer->queue);
    }
    lua_pushboolean(L, scheduled);
    return 1;
}

static int timer_gc(lua_State *L) {
    struct event_timer *timer = luaL_checkudata(L, 1, TIMER_TYPE);
    if (timer->slot != NOT_SCHEDULED && !timer->queue->loop->closed)
        heap_remove(timer->queue, timer);
    return 0;
}

/* When the loop is finalized: nothing is scheduled any more. */
static void close_timers(lua_State *L, void *state) {
    (void)L;
    struct timer_queue *queue = state;
    evtimer_del(&queue->event);
    for (size_t i = 0; i < queue->count; i++)
        queue->timers[i]->slot = NOT_SCHEDULED;
    queue->count = 0;
    free(queue->timers);
    queue->timers = NULL;
    queue->capacity = 0;
}

static void open_timers(lua_State *L, struct event_loop *loop) {
    luaL_newmetatable(L, TIMER_TYPE);
    lua_pushcfunction(L, timer_gc);
    lua_setfield(L, -2, "__gc");
    lua_newtable(L);
    lua_pushcfunction(L, timer_cancel);
    lua_setfield(L, -2, "cancel");
    lua_setfield(L, -2, "__index");
    lua_pop(L, 1);
    struct timer_queue *queue = lua_newuserdatauv(L, sizeof *queue, 0);
    memset(queue, 0, sizeof *queue);
    queue->loop = loop;
    evtimer_assign(&queue->event, loop->base, on_timer_event, queue);
    event_loop_on_close(loop, close_timers, queue);
}

static const luaL_Reg timer_functions[] = {
    {"timer", event_timer_once},
    {"every", event_timer_every},
    {NULL, NULL},
};

const struct event_part event_timer_part = {open_timers, timer_functions};
