/* lambda.event timers: event.timer(seconds, fn) and event.every(seconds, fn).
 *
 * The timers live in a heap of our own, ordered by deadline and then by creation, and one
 * libevent timer is armed for the earliest: libevent's heap gives no order among equal
 * deadlines, and scripts rely on timer(0, a); timer(0, b) running a before b. */
#define _POSIX_C_SOURCE 200809L

#include <lauxlib.h>
#include <stdint.h>
#include <stdlib.h>

#include "event/loop.h"

#define TIMER_TYPE "lambda.event.timer"
#define NOT_SCHEDULED SIZE_MAX
/* Longer delays are clamped (about 31 years), which keeps the timeval arithmetic in range. */
#define MAX_DELAY 1e9

struct event_timer {
    struct event_loop *loop;
    double deadline; /* event_monotonic_now() seconds */
    double interval; /* > 0 for event.every */
    unsigned long long sequence;
    size_t slot; /* index in loop->timers, or NOT_SCHEDULED */
    int ref;     /* registry reference while scheduled */
};

static int earlier(const struct event_timer *a, const struct event_timer *b) {
    return a->deadline < b->deadline || (a->deadline == b->deadline && a->sequence < b->sequence);
}

static void place(struct event_loop *loop, struct event_timer *timer, size_t slot) {
    loop->timers[slot] = timer;
    timer->slot = slot;
}

static void sift_up(struct event_loop *loop, size_t slot) {
    struct event_timer *timer = loop->timers[slot];
    while (slot > 0) {
        size_t parent = (slot - 1) / 2;
        if (!earlier(timer, loop->timers[parent]))
            break;
        place(loop, loop->timers[parent], slot);
        slot = parent;
    }
    place(loop, timer, slot);
}

static void sift_down(struct event_loop *loop, size_t slot) {
    struct event_timer *timer = loop->timers[slot];
    for (;;) {
        size_t child = 2 * slot + 1;
        if (child >= loop->timer_count)
            break;
        if (child + 1 < loop->timer_count && earlier(loop->timers[child + 1], loop->timers[child]))
            child++;
        if (!earlier(loop->timers[child], timer))
            break;
        place(loop, loop->timers[child], slot);
        slot = child;
    }
    place(loop, timer, slot);
}

/* The caller has made room (ensure_capacity). */
static void heap_push(struct event_loop *loop, struct event_timer *timer) {
    timer->sequence = loop->timer_sequence++;
    place(loop, timer, loop->timer_count++);
    sift_up(loop, timer->slot);
}

static void heap_remove(struct event_loop *loop, struct event_timer *timer) {
    size_t slot = timer->slot;
    struct event_timer *last = loop->timers[--loop->timer_count];
    timer->slot = NOT_SCHEDULED;
    if (last == timer)
        return;
    place(loop, last, slot);
    if (slot > 0 && earlier(last, loop->timers[(slot - 1) / 2]))
        sift_up(loop, slot);
    else
        sift_down(loop, slot);
}

static void ensure_capacity(lua_State *L, struct event_loop *loop) {
    if (loop->timer_count < loop->timer_capacity)
        return;
    size_t capacity = loop->timer_capacity ? 2 * loop->timer_capacity : 16;
    struct event_timer **grown = realloc(loop->timers, capacity * sizeof *grown);
    if (!grown)
        luaL_error(L, "not enough memory for another timer");
    loop->timers = grown;
    loop->timer_capacity = capacity;
}

static void rearm(struct event_loop *loop) {
    if (loop->closed)
        return;
    if (loop->timer_count == 0) {
        evtimer_del(&loop->timer_event);
        return;
    }
    double wait = loop->timers[0]->deadline - event_monotonic_now();
    if (wait < 0)
        wait = 0;
    struct timeval delay;
    delay.tv_sec = (time_t)wait;
    delay.tv_usec = (suseconds_t)((wait - (double)delay.tv_sec) * 1e6);
    evtimer_add(&loop->timer_event, &delay);
}

/* Runs the timers that are due. Timers created or rescheduled by these callbacks have a newer
 * sequence number and wait for the next round, so that timer(0) chains cannot starve I/O.
 * After event.stop() the rest wait for the next event.run(). */
static void on_timer_event(evutil_socket_t fd, short what, void *arg) {
    (void)fd;
    (void)what;
    struct event_loop *loop = arg;
    lua_State *L = loop->L;
    double now = event_monotonic_now();
    unsigned long long round = loop->timer_sequence;
    while (loop->timer_count > 0 && !loop->closed && !event_base_got_break(loop->base)) {
        struct event_timer *timer = loop->timers[0];
        if (timer->deadline > now || timer->sequence >= round)
            break;
        heap_remove(loop, timer);
        event_push_ref(L, timer->ref);
        if (timer->interval > 0) {
            timer->deadline += timer->interval;
            if (timer->deadline <= now)
                timer->deadline = now + timer->interval;
            heap_push(loop, timer); /* room: it was just removed */
        } else {
            event_unref(L, &timer->ref); /* the stack keeps it alive through the call */
        }
        lua_getiuservalue(L, -1, 1);
        lua_insert(L, -2);
        event_loop_call(loop, L, 1);
    }
    rearm(loop);
}

static int schedule(lua_State *L, int repeat) {
    struct event_loop *loop = event_loop_upvalue(L);
    double seconds = luaL_checknumber(L, 1);
    if (repeat)
        luaL_argcheck(L, seconds > 0, 1, "interval must be a positive number of seconds");
    else
        luaL_argcheck(L, seconds >= 0, 1, "delay must be a non-negative number of seconds");
    luaL_checktype(L, 2, LUA_TFUNCTION);
    if (seconds > MAX_DELAY)
        seconds = MAX_DELAY;
    ensure_capacity(L, loop);
    struct event_timer *timer = lua_newuserdatauv(L, sizeof *timer, 1);
    timer->loop = loop;
    timer->deadline = event_monotonic_now() + seconds;
    timer->interval = repeat ? seconds : 0;
    timer->slot = NOT_SCHEDULED;
    timer->ref = LUA_NOREF;
    luaL_setmetatable(L, TIMER_TYPE);
    lua_pushvalue(L, 2);
    lua_setiuservalue(L, -2, 1);
    lua_pushvalue(L, -1);
    timer->ref = luaL_ref(L, LUA_REGISTRYINDEX);
    heap_push(loop, timer);
    rearm(loop);
    return 1;
}

/* timer(seconds, fn) -> timer; fn(timer) runs once, seconds from now. */
int event_timer_once(lua_State *L) {
    return schedule(L, 0);
}

/* every(seconds, fn) -> timer; fn(timer) runs every seconds until timer:cancel(). */
int event_timer_every(lua_State *L) {
    return schedule(L, 1);
}

/* timer:cancel() -> true when the timer was still scheduled */
static int timer_cancel(lua_State *L) {
    struct event_timer *timer = luaL_checkudata(L, 1, TIMER_TYPE);
    int scheduled = timer->slot != NOT_SCHEDULED;
    if (scheduled) {
        heap_remove(timer->loop, timer);
        event_unref(L, &timer->ref);
        rearm(timer->loop);
    }
    lua_pushboolean(L, scheduled);
    return 1;
}

static int timer_gc(lua_State *L) {
    struct event_timer *timer = luaL_checkudata(L, 1, TIMER_TYPE);
    if (timer->slot != NOT_SCHEDULED && !timer->loop->closed)
        heap_remove(timer->loop, timer);
    return 0;
}

void event_timer_open(lua_State *L, struct event_loop *loop) {
    evtimer_assign(&loop->timer_event, loop->base, on_timer_event, loop);
    luaL_newmetatable(L, TIMER_TYPE);
    lua_pushcfunction(L, timer_gc);
    lua_setfield(L, -2, "__gc");
    lua_newtable(L);
    lua_pushcfunction(L, timer_cancel);
    lua_setfield(L, -2, "cancel");
    lua_setfield(L, -2, "__index");
    lua_pop(L, 1);
}

void event_timer_close_all(struct event_loop *loop) {
    evtimer_del(&loop->timer_event);
    for (size_t i = 0; i < loop->timer_count; i++)
        loop->timers[i]->slot = NOT_SCHEDULED;
    loop->timer_count = 0;
    free(loop->timers);
    loop->timers = NULL;
    loop->timer_capacity = 0;
}
