/* lambda.event signal handlers, and the signal names the other parts share.
 *
 *   event.on_signal(name, fn)   fn(name) for "INT", "TERM", "HUP", "CHLD", ...; :cancel()
 *
 * The handler runs on the loop (libevent's self-pipe), never inside the signal handler. */
#define _POSIX_C_SOURCE 200809L

#include "event/signal.h"

#include <lauxlib.h>
#include <signal.h>
#include <string.h>

#include "event/parts.h"

#define SIGNAL_TYPE "lambda.event.signal"

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
    struct event_loop *loop = lua_touserdata(L, lua_upvalueindex(1));
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

static void open_signals(lua_State *L, struct event_loop *loop) {
    luaL_newmetatable(L, SIGNAL_TYPE);
    lua_pushcfunction(L, signal_gc);
    lua_setfield(L, -2, "__gc");
    lua_newtable(L);
    lua_pushcfunction(L, signal_cancel);
    lua_setfield(L, -2, "cancel");
    lua_setfield(L, -2, "__index");
    lua_pop(L, 1);
    lua_pushlightuserdata(L, loop);
}

static const luaL_Reg signal_functions[] = {
    {"on_signal", event_on_signal},
    {NULL, NULL},
};

const struct event_part event_signal_part = {open_signals, signal_functions};
