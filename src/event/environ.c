/* lambda.event's environ(): this process's environment as a table, the starting point of the
 * env a script gives event.spawn (whose env replaces the whole environment). */
#include <lauxlib.h>
#include <string.h>
#include <unistd.h>

#include "event/parts.h"

extern char **environ;

/* environ() -> {NAME = value, ...}: this process's environment, to extend for spawn's env */
static int event_environ(lua_State *L) {
    lua_newtable(L);
    for (char **entry = environ; *entry; entry++) {
        const char *equals = strchr(*entry, '=');
        if (!equals)
            continue;
        lua_pushlstring(L, *entry, (size_t)(equals - *entry));
        lua_pushstring(L, equals + 1);
        lua_rawset(L, -3);
    }
    return 1;
}

/* No state of its own: the upvalue is the loop, unused. */
static void open_environ(lua_State *L, struct event_loop *loop) {
    lua_pushlightuserdata(L, loop);
}

static const luaL_Reg environ_functions[] = {
    {"environ", event_environ},
    {NULL, NULL},
};

const struct event_part event_environ_part = {open_environ, environ_functions};
