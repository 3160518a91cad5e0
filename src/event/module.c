/* lambda.event: one libevent loop per Lua state (loop.c, run.c) driving timers (timer.c), signal
 * handlers (signal.c), an HTTP/1.1 server (server.c and the files it names), child processes
 * (process.c, with the subreaper in adopted.c) and file watching (watch.c). This file only merges
 * the parts' functions into the module table; each part documents its own functions.
 *
 * Active handles keep running when the script drops them; each stops with its cancel or close
 * method. Timers due at the same time run in the order they were created. */
#include <lauxlib.h>

#include "event/parts.h"
#include "host/modules.h"

/* Registry key of the parts' upvalues, so that loading the module again in one state (after
 * package.loaded was cleared) shares the loop and every part's state. */
#define PARTS_KEY "lambda.event.parts"

/* In the order they are opened; the loop finalizes them in the reverse order, so processes
 * are stopped before the servers and timers they may still be using. */
static const struct event_part *const parts[] = {
    &event_loop_part,    &event_timer_part,   &event_signal_part, &event_server_part,
    &event_process_part, &event_environ_part, &event_watch_part,  &event_adoption_part,
};
#define PART_COUNT (sizeof parts / sizeof parts[0])

int luaopen_lambda_event(lua_State *L) {
    int function_count = 0;
    for (size_t i = 0; i < PART_COUNT; i++)
        for (const luaL_Reg *f = parts[i]->functions; f->name; f++)
            function_count++;
    lua_createtable(L, 0, function_count);
    int module = lua_gettop(L);
    int opened = lua_getfield(L, LUA_REGISTRYINDEX, PARTS_KEY) == LUA_TTABLE;
    if (!opened) {
        lua_pop(L, 1);
        struct event_loop *loop = event_loop_get(L);
        lua_createtable(L, (int)PART_COUNT, 0);
        for (size_t i = 0; i < PART_COUNT; i++) {
            parts[i]->open(L, loop);
            lua_rawseti(L, -2, (lua_Integer)i + 1);
        }
        lua_pushvalue(L, -1);
        lua_setfield(L, LUA_REGISTRYINDEX, PARTS_KEY);
    }
    for (size_t i = 0; i < PART_COUNT; i++) {
        lua_rawgeti(L, -1, (lua_Integer)i + 1);
        lua_pushvalue(L, module);
        lua_insert(L, -2);
        luaL_setfuncs(L, parts[i]->functions, 1);
        lua_pop(L, 1);
    }
    lua_settop(L, module);
    return 1;
}
