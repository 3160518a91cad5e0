/* Starting a child process (see spawn.h). Everything the child needs is prepared before fork;
 * in the child only async-signal-safe calls run. */
#define _GNU_SOURCE

#include "event/spawn.h"

#include <errno.h>
#include <fcntl.h>
#include <lauxlib.h>
#include <linux/close_range.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/fd_limit.h"
#include "common/luax.h"

#define DEFAULT_PATH "/usr/local/bin:/usr/bin:/bin"

extern char **environ;

/* The plan and the descriptors made for it, as the child sees them after fork. */
struct child_setup {
    const struct spawn_plan *plan;
    int null_fd, report_fd;
    int out_fd[2]; /* write ends for stdout and stderr, -1 to inherit */
    pid_t parent;
};

static void move_fd(int from, int to) {
    if (from == to)
        fcntl(to, F_SETFD, 0); /* keep it open across exec */
    else if (dup2(from, to) < 0)
        _exit(127);
}

static void report_failure(int fd, int step, int error) {
    struct spawn_failure failure = {step, error};
    ssize_t written = write(fd, &failure, sizeof failure);
    (void)written;
    _exit(127);
}

/* In the child: async-signal-safe calls only, everything was prepared before fork. */
static void run_child(const struct child_setup *plan) {
    struct sigaction default_action;
    memset(&default_action, 0, sizeof default_action);
    default_action.sa_handler = SIG_DFL;
    for (int number = 1; number < NSIG; number++)
        if (number != SIGKILL && number != SIGSTOP)
            sigaction(number, &default_action, NULL);
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != plan->parent) /* the parent died before prctl */
        _exit(127);
    setpgid(0, 0);
    fd_limit_restore_in_child();
    move_fd(plan->null_fd, STDIN_FILENO);
    if (plan->out_fd[0] >= 0)
        move_fd(plan->out_fd[0], STDOUT_FILENO);
    if (plan->out_fd[1] >= 0)
        move_fd(plan->out_fd[1], STDERR_FILENO);
    /* Descriptors opened without O_CLOEXEC (Lua's io.open, other libraries) must not reach
     * the program: a socket kept open by a child outlives this process. The report pipe stays
     * usable until the exec. Older kernels refuse the flag; nothing else can be done then. */
    close_range(3, ~0U, CLOSE_RANGE_CLOEXEC);
    if (plan->plan->cwd && chdir(plan->plan->cwd) != 0)
        report_failure(plan->report_fd, SPAWN_FAILED_CHDIR, errno);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    int error = ENOENT, denied = 0;
    for (const char *const *path = plan->plan->candidates; *path; path++) {
        execve(*path, plan->plan->argv, plan->plan->envp);
        error = errno;
        if (error == EACCES)
            denied = 1;
        else if (error != ENOENT && error != ENOTDIR)
            break;
    }
    if (denied && (error == ENOENT || error == ENOTDIR))
        error = EACCES;
    report_failure(plan->report_fd, SPAWN_FAILED_EXEC, error);
}

static void check_no_nul(lua_State *L, const char *text, size_t length, const char *what) {
    if (strlen(text) != length)
        luaL_error(L, "spawn: %s contains a NUL byte", what);
}

/* A NULL-terminated array of C strings in a new userdata on the stack. */
static const char **new_array(lua_State *L, size_t count) {
    const char **array = lua_newuserdatauv(L, (count + 1) * sizeof *array, 0);
    array[count] = NULL;
    return array;
}

static const char **build_argv(lua_State *L, int options) {
    if (lua_getfield(L, options, "argv") != LUA_TTABLE)
        luaL_error(L, "spawn: 'argv' must be a list of strings");
    size_t count = lua_rawlen(L, -1);
    if (count == 0)
        luaL_error(L, "spawn: 'argv' must name the program to run");
    const char **argv = new_array(L, count);
    for (size_t i = 0; i < count; i++) {
        if (lua_rawgeti(L, -2, (lua_Integer)i + 1) != LUA_TSTRING)
            luaL_error(L, "spawn: argv[%d] must be a string", (int)i + 1);
        size_t length;
        argv[i] = lua_tolstring(L, -1, &length);
        check_no_nul(L, argv[i], length, "an argument");
        lua_pop(L, 1); /* anchored in the argv table */
    }
    lua_remove(L, -2);
    return argv;
}

/* The environment as KEY=VALUE strings (anchored in the table at anchors), or environ. Sets
 * *path to its PATH. */
static char *const *build_env(lua_State *L, int options, int anchors, const char **path) {
    int type = lua_getfield(L, options, "env");
    if (type == LUA_TNIL) {
        lua_pop(L, 1);
        *path = getenv("PATH");
        return environ;
    }
    if (type != LUA_TTABLE)
        luaL_error(L, "spawn: 'env' must be a table of strings");
    int table = lua_gettop(L);
    size_t count = 0;
    for (lua_pushnil(L); lua_next(L, table); lua_pop(L, 1))
        count++;
    const char **envp = new_array(L, count);
    size_t i = 0;
    *path = NULL;
    for (lua_pushnil(L); lua_next(L, table); lua_pop(L, 1)) {
        size_t key_length, value_length;
        if (lua_type(L, -2) != LUA_TSTRING || !lua_isstring(L, -1))
            luaL_error(L, "spawn: 'env' must map names to strings");
        const char *key = lua_tolstring(L, -2, &key_length);
        lua_pushvalue(L, -1); /* a copy, so a number value converts without touching the table */
        const char *value = lua_tolstring(L, -1, &value_length);
        check_no_nul(L, key, key_length, "an environment name");
        check_no_nul(L, value, value_length, "an environment value");
        if (key_length == 0 || strchr(key, '='))
            luaL_error(L, "spawn: invalid environment variable name '%s'", key);
        envp[i++] = lua_pushfstring(L, "%s=%s", key, value);
        if (strcmp(key, "PATH") == 0)
            *path = envp[i - 1] + 5;
        lua_rawseti(L, anchors, (lua_Integer)lua_rawlen(L, anchors) + 1);
        lua_pop(L, 1);
    }
    lua_remove(L, table);
    return (char *const *)envp;
}

/* The paths to try for program: itself when it has a slash, else each PATH entry. */
static const char *const *build_candidates(lua_State *L, int anchors, const char *program,
                                           const char *path) {
    if (strchr(program, '/')) {
        const char **candidates = new_array(L, 1);
        candidates[0] = program;
        return candidates;
    }
    if (!path)
        path = DEFAULT_PATH;
    size_t count = 1;
    for (const char *p = path; *p; p++)
        count += *p == ':';
    const char **candidates = new_array(L, count);
    const char *start = path;
    for (size_t i = 0; i < count; i++) {
        size_t length = strcspn(start, ":");
        /* An empty entry means the current directory. */
        if (length == 0)
            candidates[i] = lua_pushfstring(L, "./%s", program);
        else
            candidates[i] = lua_pushfstring(L, "%s/%s", lua_pushlstring(L, start, length), program);
        lua_rawseti(L, anchors, (lua_Integer)lua_rawlen(L, anchors) + 1);
        if (length != 0)
            lua_pop(L, 1);
        start += length + (start[length] == ':');
    }
    return candidates;
}

static void close_fds(int *fds, int count) {
    for (int i = 0; i < count; i++)
        if (fds[i] >= 0) {
            close(fds[i]);
            fds[i] = -1;
        }
}

int spawn_push_failure(lua_State *L, const struct spawn_plan *plan,
                       const struct spawn_failure *failure) {
    lua_pushnil(L);
    if (failure->step == SPAWN_FAILED_CHDIR)
        lua_pushfstring(L, "cannot run '%s': cannot change to directory '%s': %s", plan->argv[0],
                        plan->cwd, strerror(failure->error));
    else
        lua_pushfstring(L, "cannot run '%s': %s", plan->argv[0], strerror(failure->error));
    lua_pushstring(L, luax_errno_kind(failure->error));
    lua_pushinteger(L, failure->error);
    return 4;
}

/* spawn{argv, env, cwd, on_stdout, on_stderr, on_exit, kill_group} -> process | nil, message,
 * kind, errno */

void spawn_read_plan(lua_State *L, int options, int anchors, struct spawn_plan *plan) {
    options = lua_absindex(L, options);
    anchors = lua_absindex(L, anchors);
    memset(plan, 0, sizeof *plan);
    plan->argv = (char *const *)build_argv(L, options);
    lua_rawseti(L, anchors, (lua_Integer)lua_rawlen(L, anchors) + 1);
    const char *path;
    plan->envp = build_env(L, options, anchors, &path);
    if (plan->envp != environ)
        lua_rawseti(L, anchors, (lua_Integer)lua_rawlen(L, anchors) + 1);
    plan->candidates = build_candidates(L, anchors, plan->argv[0], path);
    lua_rawseti(L, anchors, (lua_Integer)lua_rawlen(L, anchors) + 1);
    int type = lua_getfield(L, options, "cwd");
    if (type != LUA_TNIL && type != LUA_TSTRING)
        luaL_error(L, "spawn: 'cwd' must be a string");
    plan->cwd = lua_tostring(L, -1);
    lua_rawseti(L, anchors, (lua_Integer)lua_rawlen(L, anchors) + 1);
}

pid_t spawn_start(const struct spawn_plan *plan, int out_fds[2], struct spawn_failure *failure) {
    /* fds: /dev/null, report pipe (read, write), stdout pipe, stderr pipe */
    int fds[8] = {-1, -1, -1, -1, -1, -1, -1, -1};
    failure->step = SPAWN_FAILED_SETUP;
    failure->error = 0;
    out_fds[0] = out_fds[1] = -1;
    fds[0] = open("/dev/null", O_RDWR | O_CLOEXEC);
    if (fds[0] < 0 || pipe2(fds + 1, O_CLOEXEC) != 0 ||
        (plan->piped[0] && pipe2(fds + 3, O_CLOEXEC) != 0) ||
        (plan->piped[1] && pipe2(fds + 5, O_CLOEXEC) != 0)) {
        failure->error = errno;
        close_fds(fds, 8);
        return -1;
    }
    struct child_setup setup = {
        .plan = plan,
        .null_fd = fds[0],
        .report_fd = fds[2],
        .out_fd = {fds[4], fds[6]},
        .parent = getpid(),
    };
    /* Blocked until the child has reset its handlers: libevent's must not run there. */
    sigset_t all, previous;
    sigfillset(&all);
    sigprocmask(SIG_SETMASK, &all, &previous);
    pid_t pid = fork();
    if (pid == 0)
        run_child(&setup);
    int fork_error = errno;
    sigprocmask(SIG_SETMASK, &previous, NULL);
    int child_ends[4] = {fds[0], fds[2], fds[4], fds[6]};
    close_fds(child_ends, 4);
    if (pid > 0) {
        setpgid(pid, pid); /* also here, so that a kill of the group right away finds it */
        ssize_t n;
        while ((n = read(fds[1], failure, sizeof *failure)) < 0 && errno == EINTR)
            continue;
        if (n != (ssize_t)sizeof *failure)
            failure->error = 0; /* the report pipe closed on exec: it runs */
        else
            while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
                continue;
    } else {
        failure->error = fork_error;
    }
    close(fds[1]);
    if (failure->error != 0) {
        int parent_ends[2] = {fds[3], fds[5]};
        close_fds(parent_ends, 2);
        return -1;
    }
    out_fds[0] = fds[3];
    out_fds[1] = fds[5];
    return pid;
}
