/* lambda.event: one libevent loop per Lua state, driving timers, signals, an HTTP/1.1 server
 * (event_http*.c), child processes (event_process.c) and file watching (event_watch.c). This
 * file holds the loop itself, the error policy for callbacks, and signal handlers.
 *
 *   event.run()                 runs until event.stop() or until nothing is left to wait for
 *                               (no timer, signal handler, server, child or watch is active)
 *   event.stop()                makes run() return after the current callback; what else was
 *                               due waits for the next run()
 *   event.now()                 wall-clock seconds, cached at the start of the loop iteration
 *   event.on_error(fn | nil)    fn(message_with_traceback) receives callback errors
 *   event.timer(s, fn)          fn(timer) once, s seconds from now; timer:cancel()
 *   event.every(s, fn)          fn(timer) every s seconds until timer:cancel()
 *   event.on_signal(name, fn)   fn(name) for "INT", "TERM", "HUP", "CHLD", ...; :cancel()
 *   event.http_server{...}      see event_http.c; event.spawn{...}, event.kill_all(signal),
 *                               event.environ(): see event_process.c; event.watch_tree(...):
 *                               see event_watch.c
 *
 * Active handles keep running when the script drops them; each stops with its cancel or close
 * method. Timers due at the same time run in the order they were created.
 *
 * Error policy: every callback runs in protected mode. An error is reported (message and
 * traceback) to the function given to event.on_error, or else to stderr prefixed with
 * "lambda.event: error in callback:", and the loop keeps running: one failing request handler
 * must not take down an emulator serving others (its request is answered 500). A script that
 * prefers to stop can call event.stop() from its on_error function.
 *
 * Loading the module sets SIGPIPE to be ignored (when it has its default action), because
 * writing to a socket the peer has closed must be an error to handle, not a process exit. */
#define _POSIX_C_SOURCE 200809L

#include <lauxlib.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "event/loop.h"
#include "host/modules.h"

#define LOOP_TYPE "lambda.event.loop"
#define SIGNAL_TYPE "lambda.event.signal"
/* Registry key of the loop, so that loading the module twice in one state shares one loop. */
#define LOOP_KEY "lambda.event.instance"

struct signal_handler {
    struct event event;
    struct event_loop *loop;
    int ref;
    int number;
};

static const struct {
    const char *name;
    int number;
} signal_names[] = {
    {"HUP", SIGHUP},       {"INT", SIGINT},     {"QUIT", SIGQUIT}, {"ILL", SIGILL},
    {"TRAP", SIGTRAP},     {"ABRT", SIGABRT},   {"BUS", SIGBUS},   {"FPE", SIGFPE},
    {"KILL", SIGKILL},     {"USR1", SIGUSR1},   {"SEGV", SIGSEGV}, {"USR2", SIGUSR2},
    {"PIPE", SIGPIPE},     {"ALRM", SIGALRM},   {"TERM", SIGTERM}, {"CHLD", SIGCHLD},
    {"CONT", SIGCONT},     {"STOP", SIGSTOP},   {"TSTP", SIGTSTP}, {"TTIN", SIGTTIN},
    {"TTOU", SIGTTOU},     {"URG", SIGURG},     {"XCPU", SIGXCPU}, {"XFSZ", SIGXFSZ},
    {"PROF", SIGPROF},     {"WINCH", SIGWINCH}, {"IO", SIGIO},     {"SYS", SIGSYS},
    {"VTALRM", SIGVTALRM},
};

int event_signal_number(const char *name) {
    if (strncmp(name, "SIG", 3) == 0)
        name += 3;
    for (size_t i = 0; i < sizeof signal_names / sizeof signal_names[0]; i++)
        if (strcmp(signal_names[i].name, name) == 0)
            return signal_names[i].number;
    return 0;
}

const char *event_signal_name(int number) {
    for (size_t i = 0; i < sizeof signal_names / sizeof signal_names[0]; i++)
        if (signal_names[i].number == number)
            return signal_names[i].name;
    return NULL;
}

int event_check_signal(lua_State *L, int arg, const char *default_name) {
    const char *name =
        default_name ? luaL_optstring(L, arg, default_name) : luaL_checkstring(L, arg);
    int number = event_signal_number(name);
    if (number == 0)
        luaL_argerror(L, arg, lua_pushfstring(L, "unknown signal '%s'", name));
    return number;
}

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

struct event_loop *event_loop_upvalue(lua_State *L) {
    return lua_touserdata(L, lua_upvalueindex(1));
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

/* run(): runs the loop until stop() or until nothing is left to wait for. */
static int event_run(lua_State *L) {
    struct event_loop *loop = event_loop_upvalue(L);
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
    event_base_loopbreak(event_loop_upvalue(L)->base);
    return 0;
}

/* now() -> seconds since the epoch, as cached at the start of this loop iteration */
static int event_now(lua_State *L) {
    struct timeval now;
    event_base_gettimeofday_cached(event_loop_upvalue(L)->base, &now);
    lua_pushnumber(L, (double)now.tv_sec + (double)now.tv_usec / 1e6);
    return 1;
}

/* on_error(fn | nil): fn(message_with_traceback) receives callback errors instead of stderr. */
static int event_on_error(lua_State *L) {
    struct event_loop *loop = event_loop_upvalue(L);
    if (!lua_isnoneornil(L, 1))
        luaL_checktype(L, 1, LUA_TFUNCTION);
    event_unref(L, &loop->error_handler);
    if (!lua_isnoneornil(L, 1)) {
        lua_settop(L, 1);
        loop->error_handler = luaL_ref(L, LUA_REGISTRYINDEX);
    }
    return 0;
}

static int deliver_signal(lua_State *L) {
    struct signal_handler *handler = lua_touserdata(L, 1);
    event_push_ref(L, handler->ref);
    lua_getiuservalue(L, -1, 1);
    lua_pushstring(L, event_signal_name(handler->number));
    lua_call(L, 1, 0);
    return 0;
}

static void on_signal_event(evutil_socket_t number, short what, void *arg) {
    (void)number;
    (void)what;
    struct signal_handler *handler = arg;
    event_loop_pcall(handler->loop, handler->loop->L, deliver_signal, handler);
}

/* on_signal(name, fn) -> handler; fn(name) runs on the loop each time the signal arrives. */
static int event_on_signal(lua_State *L) {
    struct event_loop *loop = event_loop_upvalue(L);
    int number = event_check_signal(L, 1, NULL);
    luaL_argcheck(L, number != SIGKILL && number != SIGSTOP, 1, "this signal cannot be caught");
    luaL_checktype(L, 2, LUA_TFUNCTION);
    struct signal_handler *handler = lua_newuserdatauv(L, sizeof *handler, 1);
    memset(handler, 0, sizeof *handler);
    handler->loop = loop;
    handler->ref = LUA_NOREF;
    handler->number = number;
    luaL_setmetatable(L, SIGNAL_TYPE);
    lua_pushvalue(L, 2);
    lua_setiuservalue(L, -2, 1);
    evsignal_assign(&handler->event, loop->base, number, on_signal_event, handler);
    lua_pushvalue(L, -1);
    handler->ref = luaL_ref(L, LUA_REGISTRYINDEX);
    if (event_add(&handler->event, NULL) != 0) {
        event_unref(L, &handler->ref);
        return luaL_error(L, "event.on_signal: cannot handle signal %s", lua_tostring(L, 1));
    }
    return 1;
}

/* handler:cancel() -> true when it was active */
static int signal_cancel(lua_State *L) {
    struct signal_handler *handler = luaL_checkudata(L, 1, SIGNAL_TYPE);
    int active = handler->ref != LUA_NOREF;
    if (active) {
        event_del(&handler->event);
        event_unref(L, &handler->ref);
    }
    lua_pushboolean(L, active);
    return 1;
}

static int signal_gc(lua_State *L) {
    struct signal_handler *handler = luaL_checkudata(L, 1, SIGNAL_TYPE);
    if (handler->ref != LUA_NOREF && !handler->loop->closed)
        event_del(&handler->event);
    handler->ref = LUA_NOREF;
    return 0;
}

static int loop_gc(lua_State *L) {
    struct event_loop *loop = luaL_checkudata(L, 1, LOOP_TYPE);
    if (loop->closed || !loop->base)
        return 0;
    event_process_close_all(loop);
    event_http_close_all(loop, L);
    event_timer_close_all(loop);
    /* Connections freed while a deferred callback was pending are only released when that
     * callback runs; nothing of ours is left to call into Lua. */
    event_base_loop(loop->base, EVLOOP_NONBLOCK);
    event_base_free(loop->base);
    loop->base = NULL;
    loop->closed = 1;
    return 0;
}

static const luaL_Reg functions[] = {
    {"run", event_run},
    {"stop", event_stop},
    {"now", event_now},
    {"on_error", event_on_error},
    {"timer", event_timer_once},
    {"every", event_timer_every},
    {"on_signal", event_on_signal},
    {"http_server", event_http_server},
    {"spawn", event_spawn},
    {"kill_all", event_kill_all},
    {"environ", event_environ},
    {"watch_tree", event_watch_tree},
    {NULL, NULL},
};

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

int luaopen_lambda_event(lua_State *L) {
    if (lua_getfield(L, LUA_REGISTRYINDEX, LOOP_KEY) != LUA_TUSERDATA) {
        lua_pop(L, 1);
        struct sigaction current;
        if (sigaction(SIGPIPE, NULL, &current) == 0 && current.sa_handler == SIG_DFL)
            signal(SIGPIPE, SIG_IGN);
        struct event_loop *loop = new_loop(L);
        if (luaL_newmetatable(L, SIGNAL_TYPE)) {
            lua_pushcfunction(L, signal_gc);
            lua_setfield(L, -2, "__gc");
            lua_newtable(L);
            lua_pushcfunction(L, signal_cancel);
            lua_setfield(L, -2, "cancel");
            lua_setfield(L, -2, "__index");
        }
        lua_pop(L, 1);
        event_timer_open(L, loop);
        event_http_open(L, loop);
        event_process_open(L, loop);
        event_watch_open(L, loop);
        lua_pushvalue(L, -1);
        lua_setfield(L, LUA_REGISTRYINDEX, LOOP_KEY);
    }
    luaL_newlibtable(L, functions);
    lua_pushvalue(L, -2);
    luaL_setfuncs(L, functions, 1);
    return 1;
}
