/* Unit tests of lambda.event child processes: output lines, environment, working directory,
 * exit codes and signals, start failures, process groups, and that no child outlives its
 * loop. Each case is a Lua chunk run in a fresh state with `event` and C helpers `t`. */
#define _GNU_SOURCE

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <lauxlib.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "host/modules.h"

static char scratch[] = "/tmp/test_event_process.XXXXXX";

/* Reads /proc/PID/stat: the state letter and the process group; 0 when it is gone. */
static int proc_stat(long pid, char *state, long *group) {
    char path[64], text[512];
    snprintf(path, sizeof path, "/proc/%ld/stat", pid);
    FILE *file = fopen(path, "r");
    if (!file)
        return 0;
    size_t n = fread(text, 1, sizeof text - 1, file);
    fclose(file);
    text[n] = '\0';
    const char *after_name = strrchr(text, ')');
    long parent;
    return after_name && sscanf(after_name + 1, " %c %ld %ld", state, &parent, group) == 3;
}

/* alive(pid) -> whether the process exists and is not a zombie */
static int helper_alive(lua_State *L) {
    char state;
    long group;
    lua_pushboolean(L, proc_stat((long)luaL_checkinteger(L, 1), &state, &group) && state != 'Z');
    return 1;
}

/* group(pgid) -> the number of live (not zombie) processes in the process group */
static int helper_group(lua_State *L) {
    long wanted = (long)luaL_checkinteger(L, 1);
    DIR *proc = opendir("/proc");
    lua_Integer count = 0;
    for (struct dirent *entry; proc && (entry = readdir(proc));) {
        char state;
        long group;
        if (isdigit((unsigned char)entry->d_name[0]) &&
            proc_stat(strtol(entry->d_name, NULL, 10), &state, &group) && group == wanted &&
            state != 'Z')
            count++;
    }
    if (proc)
        closedir(proc);
    lua_pushinteger(L, count);
    return 1;
}

/* reap(pid): waits for the child to exit and reaps it, as another part of the program might */
static int helper_reap(lua_State *L) {
    pid_t pid = (pid_t)luaL_checkinteger(L, 1);
    while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
        continue;
    return 0;
}

/* setenv(name, value) in this process */
static int helper_setenv(lua_State *L) {
    setenv(luaL_checkstring(L, 1), luaL_checkstring(L, 2), 1);
    return 0;
}

static const luaL_Reg helpers[] = {
    {"alive", helper_alive},
    {"group", helper_group},
    {"setenv", helper_setenv},
    {"reap", helper_reap},
    {NULL, NULL},
};

/* The chunk sees `event`, `t` (helpers), `scratch`, and run_until(done), which runs the loop
 * until done() holds, for 10 s at most. */
static const char prelude[] =
    "local event = require('lambda.event')\n"
    "local t, scratch = ...\n"
    "local function run_until(done)\n"
    "  local deadline, poll = event.now() + 10\n"
    "  poll = event.every(0.005, function()\n"
    "    if done() then poll:cancel(); event.stop() elseif event.now() > deadline then\n"
    "      poll:cancel(); event.kill_all('KILL'); error('deadline passed') end\n"
    "  end)\n"
    "  event.run()\n"
    "  assert(done(), 'the loop ended before the condition held')\n"
    "end\n";

/* Runs chunk in a fresh state; returns the state, still open, when keep is set (the caller
 * closes it). */
static lua_State *run_case(const char *name, const char *chunk, int keep) {
    lua_State *L = check_new_state();
    check_preload(L, "lambda.event", luaopen_lambda_event);
    luaL_newlib(L, helpers);
    lua_pushstring(L, scratch);
    check_lua(L, name, prelude, chunk, 2);
    if (keep)
        return L;
    lua_close(L);
    return NULL;
}

static void test_output_and_exit(void) {
    run_case(
        "lines, partial last line, exit code",
        "local out, err, exit = {}, {}, nil\n"
        "local p = assert(event.spawn{\n"
        "  argv = {'/bin/sh', '-c', [[printf 'a\\nb\\n\\nc'; printf 'e1\\ne2' >&2; exit 3]]},\n"
        "  on_stdout = function(line) assert(not exit); out[#out + 1] = line end,\n"
        "  on_stderr = function(line) assert(not exit); err[#err + 1] = line end,\n"
        "  on_exit = function(code, signal) exit = {code, signal} end,\n"
        "})\n"
        "assert(math.type(p:pid()) == 'integer' and p:pid() > 0)\n"
        "run_until(function() return exit end)\n"
        "assert(table.concat(out, '|') == 'a|b||c', table.concat(out, '|'))\n"
        "assert(table.concat(err, '|') == 'e1|e2', table.concat(err, '|'))\n"
        "assert(exit[1] == 3 and exit[2] == nil)\n"
        "assert(p:running() == false and p:kill() == false)\n",
        0);
    run_case(
        "many lines arrive in order before the exit",
        "local count, exit = 0, nil\n"
        "assert(event.spawn{argv = {'seq', '1', '20000'},\n"
        "  on_stdout = function(line) count = count + 1; assert(tonumber(line) == count) end,\n"
        "  on_exit = function(code) exit = code; assert(count == 20000, count) end})\n"
        "run_until(function() return exit end)\n"
        "assert(exit == 0)\n",
        0);
    run_case(
        "long lines are split at 64 KiB",
        "local lines, exited = {}, false\n"
        "assert(event.spawn{argv = {'/bin/sh', '-c',\n"
        "  [[head -c 150000 /dev/zero | tr '\\0' x; echo; head -c 65536 /dev/zero | tr '\\0' y;"
        " echo; printf z]]},\n"
        "  on_stdout = function(line) lines[#lines + 1] = line end,\n"
        "  on_exit = function() exited = true end})\n"
        "run_until(function() return exited end)\n"
        "local sizes = {}\n"
        "for i, line in ipairs(lines) do sizes[i] = #line end\n"
        "assert(table.concat(sizes, ',') == '65536,65536,18928,65536,1', table.concat(sizes, "
        "','))\n"
        "assert(lines[1] == string.rep('x', 65536) and lines[4] == string.rep('y', 65536))\n"
        "assert(lines[5] == 'z')\n",
        0);
    run_case("signals end children",
             "local exits = {}\n"
             "assert(event.spawn{argv = {'/bin/sh', '-c', 'kill -TERM $$'},\n"
             "  on_exit = function(code, signal) exits.term = {code, signal} end})\n"
             "local sleeper = assert(event.spawn{argv = {'sleep', '30'},\n"
             "  on_exit = function(code, signal) exits.int = {code, signal} end})\n"
             "assert(sleeper:running())\n"
             "event.timer(0.05, function() assert(sleeper:kill('INT') == true) end)\n"
             "run_until(function() return exits.term and exits.int end)\n"
             "assert(exits.term[1] == nil and exits.term[2] == 'TERM')\n"
             "assert(exits.int[1] == nil and exits.int[2] == 'INT')\n"
             "assert(not sleeper:running() and sleeper:kill() == false)\n"
             "assert(not pcall(sleeper.kill, sleeper, 'NOPE'))\n",
             0);
    run_case("descriptors opened without close-on-exec stay behind",
             "local file = assert(io.open(scratch .. '/open.txt', 'w'))\n"
             "local fds, exited = {}, false\n"
             "assert(event.spawn{argv = {'/bin/sh', '-c', 'ls /proc/self/fd'},\n"
             "  on_stdout = function(line) fds[#fds + 1] = tonumber(line) end,\n"
             "  on_exit = function() exited = true end})\n"
             "run_until(function() return exited end)\n"
             "file:close()\n"
             /* 0, 1, 2 and the descriptor ls opened on /proc/self/fd */
             "assert(#fds == 4, table.concat(fds, ' '))\n",
             0);
    run_case("stop between lines",
             "local lines, runs, exited = {}, 0, false\n"
             "assert(event.spawn{argv = {'printf', 'a\\nb\\nc'},\n"
             "  on_stdout = function(line) lines[#lines + 1] = line; event.stop() end,\n"
             "  on_exit = function() exited = true end})\n"
             "while not exited and runs < 100 do\n"
             "  event.run(); runs = runs + 1\n"
             "  assert(#lines <= runs, #lines .. ' lines in ' .. runs .. ' runs')\n"
             "end\n"
             "assert(table.concat(lines, ',') == 'a,b,c', table.concat(lines, ','))\n",
             0);
    run_case("standard input is empty",
             "local out, exited = {}, false\n"
             "assert(event.spawn{argv = {'/bin/sh', '-c', 'cat; echo done'},\n"
             "  on_stdout = function(line) out[#out + 1] = line end,\n"
             "  on_exit = function() exited = true end})\n"
             "run_until(function() return exited end)\n"
             "assert(table.concat(out, ',') == 'done', table.concat(out, ','))\n",
             0);
}

static void test_environment(void) {
    run_case("complete environment and PATH lookup in it",
             "local lines, exited = {}, 0\n"
             "local function exit() exited = exited + 1 end\n"
             "assert(event.spawn{argv = {'env'}, env = {FOO = 'bar baz', PATH = '/usr/bin:/bin',"
             " N = 42},\n"
             "  on_stdout = function(line) lines[#lines + 1] = line end, on_exit = exit})\n"
             "run_until(function() return exited == 1 end)\n"
             "table.sort(lines)\n"
             "assert(table.concat(lines, ';') == 'FOO=bar baz;N=42;PATH=/usr/bin:/bin',\n"
             "       table.concat(lines, ';'))\n"
             /* Without PATH in the environment given, the default one finds env too. */
             "lines = {}\n"
             "assert(event.spawn{argv = {'env'}, env = {ONLY = '1'},\n"
             "  on_stdout = function(line) lines[#lines + 1] = line end, on_exit = exit})\n"
             "run_until(function() return exited == 2 end)\n"
             "assert(table.concat(lines, ';') == 'ONLY=1', table.concat(lines, ';'))\n",
             0);
    run_case("environ",
             "t.setenv('CLC_EVENT_TEST', 'a=b c')\n"
             "local env = event.environ()\n"
             "assert(env.CLC_EVENT_TEST == 'a=b c' and env.PATH == os.getenv('PATH'))\n"
             "env.EXTRA = 'added'\n"
             "local lines, exited = {}, false\n"
             "assert(event.spawn{argv = {'env'}, env = env,\n"
             "  on_stdout = function(line) lines[line] = true end,\n"
             "  on_exit = function() exited = true end})\n"
             "run_until(function() return exited end)\n"
             "assert(lines['EXTRA=added'] and lines['CLC_EVENT_TEST=a=b c'])\n",
             0);
    run_case("inherited environment",
             "t.setenv('CLC_EVENT_TEST', 'inherited')\n"
             "local seen\n"
             "assert(event.spawn{argv = {'/bin/sh', '-c', 'echo $CLC_EVENT_TEST'},\n"
             "  on_stdout = function(line) seen = line end})\n"
             "run_until(function() return seen end)\n"
             "assert(seen == 'inherited', seen)\n",
             0);
    run_case("working directory",
             "local seen\n"
             "assert(event.spawn{argv = {'pwd'}, cwd = scratch,\n"
             "  on_stdout = function(line) seen = line end})\n"
             "run_until(function() return seen end)\n"
             "assert(seen == scratch, seen)\n",
             0);
}

static void test_failures(void) {
    run_case("start failures are reported by spawn",
             /* nil, message, kind ("not_found" or "io", by the errno), errno. */
             "local ENOENT, EACCES = 2, 13\n"
             "local p, message, kind, errno = event.spawn{argv = {'clc-no-such-program'}}\n"
             "assert(p == nil and message ==\n"
             "  \"cannot run 'clc-no-such-program': No such file or directory\", message)\n"
             "assert(kind == 'not_found' and errno == ENOENT, tostring(kind))\n"
             "p, message, kind, errno = event.spawn{argv = {scratch .. '/missing'}}\n"
             "assert(message == \"cannot run '\" .. scratch .. \"/missing': No such file or "
             "directory\", message)\n"
             "assert(kind == 'not_found' and errno == ENOENT, tostring(kind))\n"
             "local file = assert(io.open(scratch .. '/data.txt', 'w')); file:write('x'); "
             "file:close()\n"
             "p, message, kind, errno = event.spawn{argv = {scratch .. '/data.txt'}}\n"
             "assert(message:find(': Permission denied$'), message)\n"
             "assert(kind == 'io' and errno == EACCES, tostring(kind))\n"
             "p, message, kind, errno = event.spawn{argv = {'true'}, cwd = scratch .. "
             "'/nowhere'}\n"
             "assert(message == \"cannot run 'true': cannot change to directory '\" .. scratch\n"
             "  .. \"/nowhere': No such file or directory\", message)\n"
             "assert(kind == 'not_found' and errno == ENOENT, tostring(kind))\n"
             /* Nothing is left to wait for: the failed children were reaped already. */
             "event.run()\n",
             0);
    run_case("argument errors raise",
             "local function fails(options, fragment)\n"
             "  local ok, message = pcall(event.spawn, options)\n"
             "  assert(not ok and message:find(fragment, 1, true), message)\n"
             "end\n"
             "fails({}, \"'argv' must be a list\")\n"
             "fails({argv = {}}, \"'argv' must name the program\")\n"
             "fails({argv = {'a', 1}}, 'argv[2] must be a string')\n"
             "fails({argv = {'a\\0b'}}, 'NUL')\n"
             "fails({argv = {'true'}, env = {['A=B'] = 'x'}}, \"invalid environment variable "
             "name 'A=B'\")\n"
             "fails({argv = {'true'}, env = {A = {}}}, 'must map names to strings')\n"
             "fails({argv = {'true'}, cwd = 1}, \"'cwd' must be a string\")\n"
             "fails({argv = {'true'}, on_exit = 1}, \"'on_exit' must be a function\")\n"
             "fails({argv = {'true'}, stdin = 'x'}, \"unknown option 'stdin'\")\n"
             "assert(not pcall(event.spawn, 'true'))\n"
             "assert(not pcall(event.kill_all, 'NOPE'))\n",
             0);
}

/* A child reaped behind the loop's back (here by the test itself) cannot be signalled:
 * process:kill says so as nil, message, "not_found", ESRCH. */
static void test_kill_failure(void) {
    run_case("kill of a process that is gone",
             "local p = assert(event.spawn{argv = {'true'}, kill_group = false})\n"
             "t.reap(p:pid())\n"
             "local ok, message, kind, errno = p:kill()\n"
             "assert(ok == nil, tostring(ok))\n"
             "assert(message == 'cannot signal process ' .. p:pid() .. ': No such process',\n"
             "  message)\n"
             "assert(kind == 'not_found' and errno == 3, tostring(kind) .. ' ' .. "
             "tostring(errno))\n",
             0);
}

static void test_groups(void) {
    run_case("kill_all reaches grandchildren through the group",
             "local exit\n"
             "local ready = false\n"
             "local p = assert(event.spawn{\n"
             "  argv = {'/bin/sh', '-c', 'sleep 30 & sleep 30 & echo started; wait'},\n"
             "  on_stdout = function(line) ready = line == 'started' end,\n"
             "  on_exit = function(code, signal) exit = signal end})\n"
             "local pid = p:pid()\n"
             "local function check()\n"
             "  if not ready or t.group(pid) < 3 then return event.timer(0.01, check) end\n"
             "  assert(event.kill_all() == 1)\n"
             "end\n"
             "check()\n"
             "run_until(function() return exit end)\n"
             "assert(exit == 'TERM', exit)\n"
             "for _ = 1, 100 do if t.group(pid) == 0 then break end; os.execute('sleep 0.01') end\n"
             "assert(t.group(pid) == 0, t.group(pid))\n"
             "assert(event.kill_all() == 0)\n",
             0);
    run_case("kill_group = false signals the child alone",
             "local exit, p\n"
             "p = assert(event.spawn{\n"
             "  argv = {'/bin/sh', '-c', 'sleep 30 & echo $!; sleep 0.1; echo go; wait'},\n"
             "  kill_group = false, on_stdout = function(line)\n"
             "    if line == 'go' then p:kill('KILL') else t.grandchild = tonumber(line) end\n"
             "  end, on_exit = function(code, signal) exit = signal end})\n"
             /* The grandchild keeps standard output open: on_exit waits for it. */
             "run_until(function() return not p:running() end)\n"
             "assert(not exit)\n"
             "assert(t.alive(t.grandchild))\n"
             "os.execute('kill ' .. t.grandchild)\n"
             "run_until(function() return exit end)\n"
             "assert(exit == 'KILL')\n",
             0);
    /* Closing the state ends the children still running (TERM, then KILL). */
    lua_State *L = run_case("children end with the state",
                            "t.stubborn = assert(event.spawn{argv = {'/bin/sh', '-c',\n"
                            "  'trap \"\" TERM; echo ready; while :; do sleep 1; done'},\n"
                            "  on_stdout = function() event.stop() end}):pid()\n"
                            "t.plain = assert(event.spawn{argv = {'sleep', '30'}}):pid()\n"
                            "event.run()\n"
                            "_G.pids = {t.stubborn, t.plain}\n",
                            1);
    lua_getglobal(L, "pids");
    long pids[2] = {0, 0};
    for (int i = 0; i < 2; i++) {
        lua_rawgeti(L, -1, i + 1);
        pids[i] = (long)lua_tointeger(L, -1);
        lua_pop(L, 1);
    }
    lua_close(L);
    for (int i = 0; i < 2; i++) {
        char state;
        long group;
        if (!CHECK(pids[i] > 0 && !(proc_stat(pids[i], &state, &group) && state != 'Z')))
            fprintf(stderr, "  child %ld outlived its loop\n", pids[i]);
    }
}

int main(void) {
    if (!mkdtemp(scratch)) {
        perror("mkdtemp");
        return 2;
    }
    test_output_and_exit();
    test_environment();
    test_failures();
    test_kill_failure();
    test_groups();
    check_remove_tree(scratch);
    return check_report("test_event_process");
}
