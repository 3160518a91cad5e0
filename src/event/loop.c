/* The lambda.event loop (see loop.h): creation and finalization, and the error policy for
 * callbacks. The loop's own Lua functions are in run.c.
 *
 * Error policy: every callback runs in protected mode. An error is reported (message and
 * traceback) to the function given to event.on_error, or else to stderr prefixed with
 * "lambda.event: error in callback:", and the loop keeps running: one failing request handler
 * must not take down an emulator serving others (its request is answered 500). A script that
 * prefers to stop can call event.stop() from its on_error function. */
#define _POSIX_C_SOURCE 200809L

#include "event/loop.h"

#include <lauxlib.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/luax.h"

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

void event_push_ref(lua_State *L, int ref) {
    lua_rawgeti(L, LUA_REGISTRYINDEX, ref);
}

void event_unref(lua_State *L, int *ref) {
    luaL_unref(L, LUA_REGISTRYINDEX, *ref);
    *ref = LUA_NOREF;
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
    lua_pushcfunction(L, luax_traceback);
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

static int loop_gc(lua_State *L) {
    struct event_loop *loop = luaL_checkudata(L, 1, LOOP_TYPE);
    if (loop->closed || !loop->base)
        return 0;
    while (loop->close_hook_count > 0) {
        loop->close_hook_count--;
        loop->close_hooks[loop->close_hook_count].fn(
            L, loop->close_hooks[loop->close_hook_count].state);
    }
    loop->closed = 1;
    /* The state closing from inside one of the loop's own callbacks (os.exit(code, true) in a
     * handler): the loop cannot run again nor be freed under itself, and the process is on
     * its way out; the base is left to the exit. */
    if (loop->L)
        return 0;
    /* Connections freed while a deferred callback was pending are only released when that
     * callback runs; nothing of ours is left to call into Lua. */
    event_base_loop(loop->base, EVLOOP_NONBLOCK);
    event_base_free(loop->base);
    loop->base = NULL;
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
        /* epoll changes batched until the next wait: an event deleted and added again within
         * one turn (a connection's next request, a bufferevent's write) costs no system call.
         * libevent warns that this breaks fds cloned with dup(); nothing here registers one
         * (spawn.c's dup2 runs in the child, before exec). About 10% more requests a second
         * for load runs on loopback. */
        event_config_set_flag(config, EVENT_BASE_FLAG_EPOLL_USE_CHANGELIST);
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
