/* The parts lambda.event is made of. Each part is one file (or a few) with its own luaL_Reg
 * table and per-loop state; module.c merges them into the one module table. A part's
 * functions get, as upvalue 1, the value its open function pushed: its state, which holds the
 * loop. Parts use loop.h; nothing here is included back by loop.h. */
#ifndef CLC_EVENT_PARTS_H
#define CLC_EVENT_PARTS_H

#include <lauxlib.h>
#include <lua.h>

#include "event/loop.h"

struct event_part {
    /* Called once per loop: creates the part's metatables and state, registers its cleanup
     * with event_loop_on_close when it needs one, and pushes its functions' upvalue. */
    void (*open)(lua_State *L, struct event_loop *loop);
    const luaL_Reg *functions;
};

extern const struct event_part event_loop_part;     /* run.c: run, stop, now, on_error */
extern const struct event_part event_timer_part;    /* timer.c: timer, every */
extern const struct event_part event_signal_part;   /* signal.c: on_signal */
extern const struct event_part event_server_part;   /* server.c: http_server */
extern const struct event_part event_process_part;  /* process.c: spawn, kill_all */
extern const struct event_part event_environ_part;  /* environ.c: environ */
extern const struct event_part event_watch_part;    /* watch.c: watch_tree */
extern const struct event_part event_adoption_part; /* adopted.c: subreaper, adopted, ... */

#endif
