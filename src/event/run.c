/* The loop's own functions in lambda.event:
 *
 *   event.run()                 runs until event.stop() or until nothing is left to wait for
 *                               (no timer, signal handler, server, child or watch is active)
 *   event.stop()                makes run() return after the current callback; what else was
 *                               due waits for the next run()
 *   event.now()                 wall-clock seconds, cached at the start of the loop iteration
 *   event.running()             whether event.run() is running (this is one of its callbacks)
 *   event.on_error(fn | nil)    fn(message_with_traceback) receives callback errors (see the
 *                               error policy in loop.c) */
#include <lauxlib.h>

#include "event/parts.h"

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

/* running() -> true inside event.run() */
static int event_running(lua_State *L) {
    lua_pushboolean(L, upvalue_loop(L)->L != NULL);
    return 1;
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

static void push_loop(lua_State *L, struct event_loop *loop) {
    lua_pushlightuserdata(L, loop);
}

static const luaL_Reg loop_functions[] = {
    {"run", event_run},         {"stop", event_stop},         {"now", event_now},
    {"running", event_running}, {"on_error", event_on_error}, {NULL, NULL},
};

const struct event_part event_loop_part = {push_loop, loop_functions};
