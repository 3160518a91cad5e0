/* lambda.time: the clocks and the sleep that Lua's standard library lacks (retry back-off,
 * deadlines, benchmarks). */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <lauxlib.h>
#include <math.h>
#include <time.h>

#include "common/monotonic.h"
#include "host/modules.h"

static double seconds_of(const struct timespec *ts) {
    return (double)ts->tv_sec + (double)ts->tv_nsec / 1e9;
}

/* now() -> seconds since the epoch, with a fraction. */
static int time_now(lua_State *L) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    lua_pushnumber(L, seconds_of(&ts));
    return 1;
}

/* monotonic() -> seconds on a clock that never jumps; only differences mean anything. */
static int time_monotonic(lua_State *L) {
    lua_pushnumber(L, monotonic_now());
    return 1;
}

/* sleep(seconds): sleeps the whole time even when signals interrupt it. */
static int time_sleep(lua_State *L) {
    lua_Number seconds = luaL_checknumber(L, 1);
    luaL_argcheck(L, seconds >= 0 && seconds < 1e9, 1, "must be between 0 and 1e9 seconds");
    struct timespec remaining;
    remaining.tv_sec = (time_t)seconds;
    remaining.tv_nsec = (long)((seconds - floor(seconds)) * 1e9);
    while (nanosleep(&remaining, &remaining) != 0 && errno == EINTR)
        ;
    return 0;
}

static const luaL_Reg time_functions[] = {
    {"now", time_now},
    {"monotonic", time_monotonic},
    {"sleep", time_sleep},
    {NULL, NULL},
};

int luaopen_lambda_time(lua_State *L) {
    luaL_newlib(L, time_functions);
    return 1;
}
