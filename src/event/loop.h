/* The lambda.event loop: one libevent base per Lua state, the protected calls through which
 * every Lua callback runs, and the helpers every part of the module shares. The parts (timers,
 * signals, HTTP server, processes, file watching) use this header; it knows none of them. */
#ifndef CLC_EVENT_LOOP_H
#define CLC_EVENT_LOOP_H

#include <event2/event.h>
#include <event2/event_struct.h>
#include <lua.h>
#include <stddef.h>

#include "common/monotonic.h"

/* Cleanup functions a loop can run when it is finalized (one per part that needs one). */
#define EVENT_LOOP_MAX_CLOSE_HOOKS 8

typedef void (*event_close_hook)(lua_State *L, void *state);

struct event_loop {
    struct event_base *base;
    lua_State *L;      /* the thread inside event.run(), NULL while the loop is not running */
    int error_handler; /* registry reference of the event.on_error function, or LUA_NOREF */
    int closed;        /* set when the loop is finalized: its base is gone */
    struct {
        event_close_hook fn;
        void *state;
    } close_hooks[EVENT_LOOP_MAX_CLOSE_HOOKS];
    int close_hook_count;
};

/* The loop of L's state, created on first use (it lives in the registry until lua_close).
 * Loading the loop also sets SIGPIPE to be ignored when it has its default action: writing to
 * a socket the peer has closed must be an error to handle, not a process exit. Raises when
 * libevent cannot create its base. */
struct event_loop *event_loop_get(lua_State *L);

/* Registers fn(L, state) to run when the loop is finalized, before its base is freed; hooks
 * run in the reverse order of registration. */
void event_loop_on_close(struct event_loop *loop, event_close_hook fn, void *state);

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

/* Raises an error naming the first key of the options table at idx not in allowed. */
void event_check_options(lua_State *L, int idx, const char *what, const char *const allowed[]);

#endif
