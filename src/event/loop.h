/* lambda.event internals shared by its source files: the loop object, the protected calls
 * through which every Lua callback runs, and the parts each file registers. */
#ifndef CLC_EVENT_LOOP_H
#define CLC_EVENT_LOOP_H

#include <event2/event.h>
#include <event2/event_struct.h>
#include <lua.h>
#include <stddef.h>

struct event_timer;
struct event_child;
struct http_server;

struct event_loop {
    struct event_base *base;
    lua_State *L;      /* the thread inside event.run(), NULL while the loop is not running */
    int error_handler; /* registry reference of the event.on_error function, or LUA_NOREF */
    int closed;        /* set when the loop is finalized: its base is gone */
    /* Lua timers (event_timer.c): a binary heap ordered by deadline, then creation order,
     * served by one libevent timer armed for the earliest deadline. */
    struct event timer_event;
    struct event_timer **timers;
    size_t timer_count, timer_capacity;
    unsigned long long timer_sequence;
    /* Child processes (event_process.c). */
    struct event sigchld_event;
    int sigchld_armed;
    /* HTTP servers still listening (event_http.c), so that finalizing the loop closes them,
     * and the connections of closed servers still sending their last answer. */
    struct http_server *servers;
    struct http_conn *draining;
};

/* The loop of the module, upvalue 1 of every module function. */
struct event_loop *event_loop_upvalue(lua_State *L);

/* Calls the function below nargs arguments on top of L's stack in protected mode, reporting an
 * error (with a traceback) to the error handler or stderr; pops them all. Returns 1 when the
 * call succeeded. Callers push only what cannot raise (references, integers, light data). */
int event_loop_call(struct event_loop *loop, lua_State *L, int nargs);

/* Runs fn(ctx) in protected mode (ctx as a light userdata argument): for callbacks whose
 * arguments allocate (strings, tables), so that an out-of-memory error cannot unwind through
 * libevent. Returns 1 when fn returned normally. */
int event_loop_pcall(struct event_loop *loop, lua_State *L, lua_CFunction fn, void *ctx);

/* The registry reference helpers every handle uses: a handle that is active (timer scheduled,
 * server listening, child running) is referenced from the registry so that it keeps running
 * when the script drops it. */
void event_push_ref(lua_State *L, int ref);
void event_unref(lua_State *L, int *ref);

/* Signal names without the SIG prefix ("INT", "TERM", ...). */
int event_signal_number(const char *name); /* 0 when unknown */
const char *event_signal_name(int number); /* NULL when unknown */
/* The signal named at arg (default when absent), raising an argument error when unknown. */
int event_check_signal(lua_State *L, int arg, const char *default_name);

/* Raises an error naming the first key of the options table at idx not in allowed. */
void event_check_options(lua_State *L, int idx, const char *what, const char *const allowed[]);

/* A monotonic clock in seconds. */
double event_monotonic_now(void);

/* Per-file set-up when the loop is created: metatables and the loop's own events. */
void event_timer_open(lua_State *L, struct event_loop *loop);
void event_http_open(lua_State *L, struct event_loop *loop);
void event_process_open(lua_State *L, struct event_loop *loop);
void event_watch_open(lua_State *L, struct event_loop *loop);

/* Cleanup when the loop is finalized, before its base is freed. */
void event_timer_close_all(struct event_loop *loop);
void event_http_close_all(struct event_loop *loop, lua_State *L);
void event_process_close_all(struct event_loop *loop);

/* Module functions defined in the per-concern files. */
int event_timer_once(lua_State *L);
int event_timer_every(lua_State *L);
int event_http_server(lua_State *L);
int event_spawn(lua_State *L);
int event_kill_all(lua_State *L);
int event_environ(lua_State *L);
int event_watch_tree(lua_State *L);

#endif
