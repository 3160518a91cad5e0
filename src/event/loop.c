/* The lambda.event loop itself (see loop.h): creation and finalization, the error policy for
 * callbacks, and the loop's own functions:
 *
 *   event.run()                 runs until event.stop() or until nothing is left to wait for
 *                               (no timer, signal handler, server, child or watch is active)
 *   event.stop()                makes run() return after the current callback; what else was
 *                               due waits for the next run()
 *   event.now()                 wall-clock seconds, cached at the start of the loop iteration
 *   event.on_error(fn | nil)    fn(message_with_traceback) receives callback errors
 *
 * Error policy: every callback runs in protected mode. An error is reported (message and
 * traceback) to the function given to event.on_error, or else to stderr prefixed with
 * "lambda.event: error in callback:", and the loop keeps running: one failing request handler
 * must not take down an emulator serving others (its request is answered 500). A script that
 * prefers to stop can call event.stop() from its on_error function. */
#define _POSIX_C_SOURCE 200809L

#include <lauxlib.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "event/loop.h"
#include "event/parts.h"

#define LOOP_TYPE "lambda.event.loop"
/* Registry key of the loop: one per Lua state, whoever asks for it. */
#define LOOP_KEY "lambda.event.instance"

void event_check_options(lua_State *L, int idx, const char *what, const char *const allowed[]) {
    idx = lua_absindex(L, idx);
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        lua_pop(L, 1);
        const char *key = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : NULL;
        int known = 0;
        for (const char *const *name = allowed; key && *name && !known; name++)
            known = strcmp(*name, key) == 0;
        if (!known)
            luaL_error(L, "%s: unknown option '%s'", what, luaL_tolstring(L, -1, NULL));
    }
}

double event_monotonic_now(void) {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)now.tv_sec + (double)now.tv_nsec / 1e9;
}

void event_push_ref(lua_State *L, int ref) {
    lua_rawgeti(L, LUA_REGISTRYINDEX, ref);
}

void event_unref(lua_State *L, int *ref) {
    luaL_unref(L, LUA_REGISTRYINDEX, *ref);
    *ref = LUA_NOREF;
}

static int add_traceback(lua_State *L) {
    const char *message = lua_tostring(L, 1);
    if (!message)
        message = luaL_tolstring(L, 1, NULL);
    luaL_traceback(L, L, message, 1);
    return 1;
}

/* The error message with its traceback is on top of the stack. */
static void report_error(struct event_loop *loop, lua_State *L) {
    if (loop->error_handler != LUA_NOREF && lua_checkstack(L, 2)) {
        event_push_ref(L, loop->error_handler);
        lua_pushvalue(L, -2);
        if (lua_pcall(L, 1, 0, 0) == LUA_OK)
            return;
        fprintf(stderr, "lambda.event: error in the on_error function: %s\n",
                lua_tostring(L, -1) ? lua_tostring(L, -1) : "(not a string)");
        lua_pop(L, 1);
    }
    fprintf(stderr, "lambda.event: error in callback: %s\n",
            lua_tostring(L, -1) ? lua_tostring(L, -1) : "(not a string)");
    fflush(stderr);
}

int event_loop_call(struct event_loop *loop, lua_State *L, int nargs) {
    int function = lua_gettop(L) - nargs;
    if (!lua_checkstack(L, 4)) {
        fputs("lambda.event: error in callback: Lua stack overflow\n", stderr);
        lua_settop(L, function - 1);
        return 0;
    }
    lua_pushcfunction(L, add_traceback);
    lua_insert(L, function);
    int ok = lua_pcall(L, nargs, 0, function) == LUA_OK;
    if (!ok)
        report_error(loop, L);
    lua_settop(L, function - 1);
    return ok;
}

int event_loop_pcall(struct event_loop *loop, lua_State *L, lua_CFunction fn, void *ctx) {
    if (!lua_checkstack(L, 6)) {
        fputs("lambda.event: error in callback: Lua stack overflow\n", stderr);
        return 0;
    }
    lua_pushcfunction(L, fn);
    lua_pushlightuserdata(L, ctx);
    return event_loop_call(loop, L, 1);
}

/* The loop part's functions get the loop as upvalue 1. */
static struct event_loop *upvalue_loop(lua_State *L) {
    return lua_touserdata(L, lua_upvalueindex(1));
}

/* run(): runs the loop until stop() or until nothing is left to wait for. */
static int event_run(lua_State *L) {
    struct event_loop *loop = upvalue_loop(L);
    if (loop->L)
        return luaL_error(L, "event.run: the loop is already running");
    loop->L = L;
    int status = event_base_loop(loop->base, 0);
    loop->L = NULL;
    if (status < 0)
        return luaL_error(L, "event.run: the event loop failed");
    return 0;
}

/* stop(): makes the running event.run() return once the current callback has finished. */
static int event_stop(lua_State *L) {
    event_base_loopbreak(upvalue_loop(L)->base);
    return 0;
}

/* now() -> seconds since the epoch, as cached at the start of this loop iteration */
static int event_now(lua_State *L) {
    struct timeval now;
    event_base_gettimeofday_cached(upvalue_loop(L)->base, &now);
    lua_pushnumber(L, (double)now.tv_sec + (double)now.tv_usec / 1e6);
    return 1;
}

/* on_error(fn | nil): fn(message_with_traceback) receives callback errors instead of stderr. */
static int event_on_error(lua_State *L) {
    struct event_loop *loop = upvalue_loop(L);
    if (!lua_isnoneornil(L, 1))
        luaL_checktype(L, 1, LUA_TFUNCTION);
    event_unref(L, &loop->error_handler);
    if (!lua_isnoneornil(L, 1)) {
        lua_settop(L, 1);
        loop->error_handler = luaL_ref(L, LUA_REGISTRYINDEX);
    }
    return 0;
}

static int loop_gc(lua_State *L) {
    struct event_loop *loop = luaL_checkudata(L, 1, LOOP_TYPE);
    if (loop->closed || !loop->base)
        return 0;
    while (loop->close_hook_count > 0) {
        loop->close_hook_count--;
        loop->close_hooks[loop->close_hook_count].fn(
            L, loop->close_hooks[loop->close_hook_count].state);
    }
    /* Connections freed while a deferred callback was pending are only released when that
     * callback runs; nothing of ours is left to call into Lua. */
    event_base_loop(loop->base, EVLOOP_NONBLOCK);
    event_base_free(loop->base);
    loop->base = NULL;
    loop->closed = 1;
    return 0;
}

void event_loop_on_close(struct event_loop *loop, event_close_hook fn, void *state) {
    /* The hooks are the module's own parts, a fixed set: running out is a programming error. */
    if (loop->close_hook_count >= EVENT_LOOP_MAX_CLOSE_HOOKS)
        abort();
    loop->close_hooks[loop->close_hook_count].fn = fn;
    loop->close_hooks[loop->close_hook_count].state = state;
    loop->close_hook_count++;
}

static struct event_loop *new_loop(lua_State *L) {
    struct event_loop *loop = lua_newuserdatauv(L, sizeof *loop, 0);
    memset(loop, 0, sizeof *loop);
    loop->error_handler = LUA_NOREF;
    loop->closed = 1; /* until the base exists */
    luaL_newmetatable(L, LOOP_TYPE);
    lua_pushcfunction(L, loop_gc);
    lua_setfield(L, -2, "__gc");
    lua_setmetatable(L, -2);
    struct event_config *config = event_config_new();
    if (config) {
        /* Timers are due on a precise clock: the coarse one lags by up to a few ms. */
        event_config_set_flag(config, EVENT_BASE_FLAG_PRECISE_TIMER);
        loop->base = event_base_new_with_config(config);
        event_config_free(config);
    }
    if (!loop->base)
        luaL_error(L, "lambda.event: cannot create the event loop");
    loop->closed = 0;
    return loop;
}

struct event_loop *event_loop_get(lua_State *L) {
    if (lua_getfield(L, LUA_REGISTRYINDEX, LOOP_KEY) == LUA_TUSERDATA) {
        struct event_loop *loop = lua_touserdata(L, -1);
        lua_pop(L, 1);
        return loop;
    }
    lua_pop(L, 1);
    struct sigaction current;
    if (sigaction(SIGPIPE, NULL, &current) == 0 && current.sa_handler == SIG_DFL)
        signal(SIGPIPE, SIG_IGN);
    struct event_loop *loop = new_loop(L);
    lua_setfield(L, LUA_REGISTRYINDEX, LOOP_KEY);
    return loop;
}

static void push_loop(lua_State *L, struct event_loop *loop) {
    lua_pushlightuserdata(L, loop);
}

static const luaL_Reg loop_functions[] = {
    {"run", event_run},           {"stop", event_stop}, {"now", event_now},
    {"on_error", event_on_error}, {NULL, NULL},
};

const struct event_part event_loop_part = {push_loop, loop_functions};
