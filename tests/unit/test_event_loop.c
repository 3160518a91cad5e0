/* Unit tests of lambda.event's loop: timers (order, cancel, repetition), stop and run, the
 * error policy for callbacks, and signal handlers. Each case is a Lua chunk run in a fresh
 * state, with `event` and a few C helpers (`t`) in scope. */
#define _POSIX_C_SOURCE 200809L

#include <lauxlib.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "host/modules.h"

static FILE *captured;
static int saved_stderr = -1;

/* raise(name): sends the signal to this process */
static int helper_raise(lua_State *L) {
    const char *name = luaL_checkstring(L, 1);
    int number = strcmp(name, "USR1") == 0 ? SIGUSR1 : strcmp(name, "USR2") == 0 ? SIGUSR2 : 0;
    if (!number)
        return luaL_error(L, "helper raise: unknown signal %s", name);
    kill(getpid(), number);
    return 0;
}

/* clock() -> monotonic seconds */
static int helper_clock(lua_State *L) {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    lua_pushnumber(L, (double)now.tv_sec + (double)now.tv_nsec / 1e9);
    return 1;
}

/* capture(): stderr goes to a temporary file until captured() returns its text */
static int helper_capture(lua_State *L) {
    fflush(stderr);
    captured = tmpfile();
    if (!captured)
        return luaL_error(L, "tmpfile failed");
    saved_stderr = dup(STDERR_FILENO);
    dup2(fileno(captured), STDERR_FILENO);
    return 0;
}

static int helper_captured(lua_State *L) {
    fflush(stderr);
    dup2(saved_stderr, STDERR_FILENO);
    close(saved_stderr);
    luaL_Buffer buffer;
    luaL_buffinit(L, &buffer);
    rewind(captured);
    char block[4096];
    size_t n;
    while ((n = fread(block, 1, sizeof block, captured)) > 0)
        luaL_addlstring(&buffer, block, n);
    fclose(captured);
    captured = NULL;
    luaL_pushresult(&buffer);
    return 1;
}

static const luaL_Reg helpers[] = {
    {"raise", helper_raise},
    {"clock", helper_clock},
    {"capture", helper_capture},
    {"captured", helper_captured},
    {NULL, NULL},
};

static void run_case(const char *name, const char *chunk) {
    lua_State *L = check_new_state();
    check_preload(L, "lambda.event", luaopen_lambda_event);
    luaL_newlib(L, helpers);
    check_lua(L, name, "local event = require('lambda.event')\nlocal t = ...\n", chunk, 1);
    if (captured) { /* the case failed while stderr was captured: pass all it caught on */
        helper_captured(L);
        fputs(lua_tostring(L, -1), stderr);
    }
    lua_close(L);
}

static void test_timers(void) {
    run_case("timer order",
             "local order = {}\n"
             "local function note(name) return function() order[#order + 1] = name end end\n"
             "event.timer(0.03, note('c'))\n"
             "event.timer(0.01, note('a'))\n"
             "event.timer(0.02, note('b'))\n"
             "for i = 1, 5 do event.timer(0, note('zero' .. i)) end\n"
             "event.timer(0.01, note('a2'))\n"
             "event.run()\n"
             "assert(table.concat(order, ' ') == 'zero1 zero2 zero3 zero4 zero5 a a2 b c',\n"
             "       table.concat(order, ' '))\n");
    run_case("timer delay", "local started = t.clock()\n"
                            "local fired\n"
                            "event.timer(0.05, function(timer) fired = t.clock() - started; "
                            "assert(getmetatable(timer)) end)\n"
                            "event.run()\n"
                            "assert(fired >= 0.05 and fired < 1, fired)\n");
    run_case("cancel", "local ran = {}\n"
                       "local a = event.timer(0.01, function() ran[#ran + 1] = 'a' end)\n"
                       "local b = event.timer(0.02, function() ran[#ran + 1] = 'b' end)\n"
                       "event.timer(0.005, function() assert(b:cancel() == true) end)\n"
                       "event.run()\n"
                       "assert(#ran == 1 and ran[1] == 'a', table.concat(ran, ','))\n"
                       "assert(a:cancel() == false and b:cancel() == false)\n"
                       /* Cancelling the only timer leaves nothing to wait for. */
                       "local lone = event.timer(10, function() error('cancelled timer ran') end)\n"
                       "lone:cancel()\n"
                       "local before = t.clock()\n"
                       "event.run()\n"
                       "assert(t.clock() - before < 1)\n");
    run_case("every", "local count = 0\n"
                      "local started = t.clock()\n"
                      "local ticker = event.every(0.01, function(self)\n"
                      "  count = count + 1\n"
                      "  if count == 5 then assert(self:cancel()) end\n"
                      "end)\n"
                      "event.run()\n"
                      "local took = t.clock() - started\n"
                      "assert(count == 5, count)\n"
                      "assert(took >= 0.05 and took < 2, took)\n"
                      "assert(ticker:cancel() == false)\n");
    run_case("dropped handles keep running",
             "local fired = 0\n"
             "event.timer(0.01, function() fired = fired + 1 end)\n"
             "do local n = 0; event.every(0.005, function(self) n = n + 1; "
             "if n == 3 then fired = fired + 1; self:cancel() end end) end\n"
             "collectgarbage(); collectgarbage()\n"
             "event.run()\n"
             "assert(fired == 2, fired)\n");
    run_case(
        "zero timers cannot starve the others",
        "local done, spins = false, 0\n"
        "local function spin() spins = spins + 1; if not done then event.timer(0, spin) end end\n"
        "event.timer(0, spin)\n"
        "event.timer(0.02, function() done = true end)\n"
        "event.run()\n"
        "assert(done and spins > 1, spins)\n");
    run_case("bad arguments", "assert(not pcall(event.timer, -1, function() end))\n"
                              "assert(not pcall(event.timer, 0/0, function() end))\n"
                              "assert(not pcall(event.timer, 1))\n"
                              "assert(not pcall(event.every, 0, function() end))\n"
                              "local ok, message = pcall(event.every, -1, function() end)\n"
                              "assert(not ok and message:find('positive', 1, true), message)\n");
}

static void test_run_and_stop(void) {
    run_case("stop and run again",
             "local ran = {}\n"
             "event.timer(0.01, function() ran[#ran + 1] = 1; event.stop() end)\n"
             "event.timer(0.03, function() ran[#ran + 1] = 2 end)\n"
             "event.run()\n"
             "assert(#ran == 1)\n"
             "event.run()\n"
             "assert(#ran == 2)\n"
             /* Callbacks due at the same time as the one that stopped wait for the next run. */
             "local same = {}\n"
             "event.timer(0, function() same[#same + 1] = 'a'; event.stop() end)\n"
             "event.timer(0, function() same[#same + 1] = 'b' end)\n"
             "event.run()\n"
             "assert(table.concat(same) == 'a', table.concat(same))\n"
             "event.run()\n"
             "assert(table.concat(same) == 'ab', table.concat(same))\n"
             /* stop() outside the loop does not affect a later run. */
             "event.stop()\n"
             "event.timer(0, function() ran[#ran + 1] = 3 end)\n"
             "event.run()\n"
             "assert(#ran == 3)\n");
    run_case("nested run is refused",
             "local message\n"
             "event.timer(0, function() local ok, e = pcall(event.run); message = e end)\n"
             "event.run()\n"
             "assert(message:find('already running', 1, true), message)\n");
    run_case("now", "local now = event.now()\n"
                    "assert(math.abs(now - os.time()) < 2, now)\n"
                    "local inside\n"
                    "event.timer(0.02, function() inside = event.now() end)\n"
                    "event.run()\n"
                    "assert(inside >= now + 0.015, inside - now)\n");
    run_case("the module is one loop per state",
             "package.loaded['lambda.event'] = nil\n"
             "local again = require('lambda.event')\n"
             "assert(again ~= event)\n"
             "local order = {}\n"
             "event.timer(0.01, function() order[#order + 1] = 'first' end)\n"
             "again.timer(0.02, function() order[#order + 1] = 'second' end)\n"
             "again.run()\n"
             "assert(#order == 2)\n");
}

static void test_errors(void) {
    run_case("errors are reported and the loop goes on",
             "local later = false\n"
             "local function failing() error('boom in timer') end\n"
             "event.timer(0, failing)\n"
             "event.timer(0, function() error({}) end)\n"
             "event.timer(0.01, function() later = true end)\n"
             "t.capture()\n"
             "event.run()\n"
             "local text = t.captured()\n"
             "assert(later)\n"
             "assert(text:find('lambda.event: error in callback: [^\\n]*boom in timer'), text)\n"
             "assert(text:find('stack traceback:', 1, true), text)\n"
             "assert(text:find('error in callback: table: ', 1, true), text)\n");
    run_case("on_error",
             "local seen = {}\n"
             "event.on_error(function(message) seen[#seen + 1] = message; event.stop() end)\n"
             "event.timer(0, function() error('first failure') end)\n"
             "event.timer(0.05, function() seen.late = true end)\n"
             "event.run()\n"
             "assert(#seen == 1 and seen[1]:find('first failure', 1, true), seen[1])\n"
             "assert(seen[1]:find('stack traceback', 1, true))\n"
             "assert(not seen.late)\n"
             /* A failing handler: both messages reach stderr. */
             "event.on_error(function() error('handler broke') end)\n"
             "event.timer(0, function() error('second failure') end)\n"
             "t.capture()\n"
             "event.run()\n"
             "local text = t.captured()\n"
             "assert(text:find('handler broke', 1, true), text)\n"
             "assert(text:find('error in callback: [^\\n]*second failure'), text)\n"
             "assert(seen.late)\n"
             /* on_error(nil) restores stderr reporting. */
             "event.on_error(nil)\n"
             "event.timer(0, function() error('third failure') end)\n"
             "t.capture()\n"
             "event.run()\n"
             "assert(t.captured():find('third failure', 1, true))\n"
             "assert(not pcall(event.on_error, 42))\n");
}

static void test_signals(void) {
    run_case("on_signal",
             "local got = {}\n"
             "local handler\n"
             "handler = event.on_signal('USR1', function(name)\n"
             "  got[#got + 1] = name\n"
             "  if #got == 2 then assert(handler:cancel() == true) end\n"
             "end)\n"
             "event.timer(0.01, function() t.raise('USR1') end)\n"
             "event.timer(0.03, function() t.raise('USR1') end)\n"
             "event.run()\n" /* returns only once the handler is cancelled */
             "assert(#got == 2 and got[1] == 'USR1', #got)\n"
             "assert(handler:cancel() == false)\n"
             "local other = event.on_signal('SIGUSR2', function(name) got.usr2 = name end)\n"
             "event.timer(0.01, function() t.raise('USR2') end)\n"
             "event.timer(0.05, function() other:cancel() end)\n"
             "event.run()\n"
             "assert(got.usr2 == 'USR2')\n");
    run_case("on_signal arguments",
             "local ok, message = pcall(event.on_signal, 'NOPE', function() end)\n"
             "assert(not ok and message:find(\"unknown signal 'NOPE'\", 1, true), message)\n"
             "ok, message = pcall(event.on_signal, 'KILL', function() end)\n"
             "assert(not ok and message:find('cannot be caught', 1, true), message)\n"
             "assert(not pcall(event.on_signal, 'INT'))\n");
    run_case("closing the state with handlers active", "event.on_signal('USR1', function() end)\n"
                                                       "event.timer(100, function() end)\n"
                                                       "event.every(1, function() end)\n");
}

int main(void) {
    test_timers();
    test_run_and_stop();
    test_errors();
    test_signals();
    /* The handlers are gone with the state: the default action must be back. */
    struct sigaction action;
    sigaction(SIGUSR1, NULL, &action);
    CHECK(action.sa_handler == SIG_DFL);
    return check_report("test_event_loop");
}
