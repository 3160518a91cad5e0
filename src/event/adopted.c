/* lambda.event's hold on processes that leave their parents: the child subreaper.
 *
 *   event.subreaper() -> true | nil, message, "io", errno
 *       makes this process the child subreaper of its descendants (PR_SET_CHILD_SUBREAPER):
 *       a process whose parent dies (a daemon that double-forks, or leaves with setsid) is
 *       reparented here rather than to init, so that it stays ours to end
 *   event.adopted([entry]) -> {pid, ...}   the adopted processes still running; with entry
 *       ("NAME=value"), only those whose environment holds exactly that entry
 *   event.kill_adopted(signal = "TERM" [, entry]) -> how many were signalled (each one's
 *       process group when it leads one, so that a daemon's own workers go with it)
 *
 * The entry tells whose a process is: a daemon inherits the environment of the function
 * instance that started it (AWS_LAMBDA_RUNTIME_API names the instance's own Runtime API), so
 * the emulator ends what an instance left when the instance ends.
 *
 * Adopted processes are the children of this process that it did not start itself: neither a
 * child of event.spawn (process.c) nor one of io.popen or os.execute, which stay in this
 * process's own process group. The ones that exit are reaped here, on SIGCHLD, by their pid
 * (never waitpid(-1), which would take the others' children), so that they do not linger as
 * zombies. The children are read from /proc/self/task/<pid>/children. */
#define _GNU_SOURCE

#include <errno.h>
#include <lauxlib.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "event/parts.h"
#include "event/process.h"
#include "event/signal.h"

/* At most this many children are looked at in one pass. */
#define MAX_CHILDREN 4096
/* An environment larger than this is not searched. */
#define MAX_ENVIRON (1 << 20)

struct adoption {
    struct event_loop *loop;
    struct event sigchld_event;
    int enabled; /* subreaper() was called: the SIGCHLD handler is armed */
};

/* What /proc/<pid>/stat says of a process: its state letter and process group. */
static int read_stat(pid_t pid, char *state, pid_t *group) {
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *file = fopen(path, "re");
    if (!file)
        return -1;
    char line[1024];
    size_t length = fread(line, 1, sizeof line - 1, file);
    fclose(file);
    line[length] = '\0';
    /* "pid (comm) state ppid pgrp ...": comm may hold spaces and parentheses. */
    const char *close = strrchr(line, ')');
    int ppid, pgrp;
    if (!close || sscanf(close + 1, " %c %d %d", state, &ppid, &pgrp) != 3)
        return -1;
    *group = (pid_t)pgrp;
    return 0;
}

/* Whether the environment of pid holds entry ("NAME=value") exactly. */
static int has_environment_entry(pid_t pid, const char *entry, size_t entry_length) {
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/environ", (int)pid);
    FILE *file = fopen(path, "re");
    if (!file)
        return 0;
    char *environment = malloc(MAX_ENVIRON + 1);
    size_t length = environment ? fread(environment, 1, MAX_ENVIRON, file) : 0;
    fclose(file);
    int found = 0;
    for (size_t start = 0; start < length && !found;) {
        const char *end = memchr(environment + start, '\0', length - start);
        size_t item = end ? (size_t)(end - (environment + start)) : length - start;
        found = item == entry_length && memcmp(environment + start, entry, item) == 0;
        start += item + 1;
    }
    free(environment);
    return found;
}

/* The adopted children, alive or zombie: fills pids, returns how many (at most max). */
static size_t list_adopted(pid_t *pids, char *states, pid_t *groups, size_t max) {
    char path[64];
    snprintf(path, sizeof path, "/proc/self/task/%d/children", (int)getpid());
    FILE *file = fopen(path, "re");
    if (!file)
        return 0;
    pid_t own_group = getpgrp();
    size_t count = 0;
    int pid;
    while (count < max && fscanf(file, "%d", &pid) == 1) {
        char state;
        pid_t group;
        if (event_process_is_spawned((pid_t)pid) || read_stat((pid_t)pid, &state, &group) != 0 ||
            group == own_group)
            continue;
        pids[count] = (pid_t)pid;
        states[count] = state;
        groups[count] = group;
        count++;
    }
    fclose(file);
    return count;
}

static void reap_adopted(void) {
    static pid_t pids[MAX_CHILDREN], groups[MAX_CHILDREN];
    static char states[MAX_CHILDREN];
    size_t count = list_adopted(pids, states, groups, MAX_CHILDREN);
    for (size_t i = 0; i < count; i++)
        if (states[i] == 'Z')
            waitpid(pids[i], NULL, WNOHANG);
}

static void on_sigchld(evutil_socket_t number, short what, void *arg) {
    (void)number;
    (void)what;
    (void)arg;
    reap_adopted();
}

/* subreaper() -> true | nil, message, "io", errno */
static int event_subreaper(lua_State *L) {
    struct adoption *adoption = lua_touserdata(L, lua_upvalueindex(1));
    if (prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0) {
        int error = errno;
        luaL_pushfail(L);
        lua_pushfstring(L, "cannot become the child subreaper: %s", strerror(error));
        lua_pushliteral(L, "io");
        lua_pushinteger(L, error);
        return 4;
    }
    if (!adoption->enabled && event_add(&adoption->sigchld_event, NULL) == 0)
        adoption->enabled = 1;
    lua_pushboolean(L, 1);
    return 1;
}

/* Whether the adopted process i is alive and (with an entry) holds the entry. */
static int selected(pid_t pid, char state, const char *entry, size_t entry_length) {
    return state != 'Z' && (!entry || has_environment_entry(pid, entry, entry_length));
}

/* adopted([entry]) -> {pid, ...} of the adopted processes still running */
static int event_adopted(lua_State *L) {
    size_t entry_length = 0;
    const char *entry = luaL_optlstring(L, 1, NULL, &entry_length);
    static pid_t pids[MAX_CHILDREN], groups[MAX_CHILDREN];
    static char states[MAX_CHILDREN];
    size_t count = list_adopted(pids, states, groups, MAX_CHILDREN);
    lua_createtable(L, (int)count, 0);
    lua_Integer n = 0;
    for (size_t i = 0; i < count; i++)
        if (selected(pids[i], states[i], entry, entry_length)) {
            lua_pushinteger(L, pids[i]);
            lua_rawseti(L, -2, ++n);
        }
    return 1;
}

/* kill_adopted(signal = "TERM" [, entry]) -> how many adopted processes were signalled */
static int event_kill_adopted(lua_State *L) {
    int number = event_check_signal(L, 1, "TERM");
    size_t entry_length = 0;
    const char *entry = luaL_optlstring(L, 2, NULL, &entry_length);
    static pid_t pids[MAX_CHILDREN], groups[MAX_CHILDREN];
    static char states[MAX_CHILDREN];
    size_t count = list_adopted(pids, states, groups, MAX_CHILDREN);
    lua_Integer signalled = 0;
    for (size_t i = 0; i < count; i++) {
        if (!selected(pids[i], states[i], entry, entry_length))
            continue;
        int sent = groups[i] == pids[i] ? kill(-pids[i], number) : -1;
        if (sent != 0)
            sent = kill(pids[i], number);
        signalled += sent == 0;
    }
    lua_pushinteger(L, signalled);
    return 1;
}

static void close_adoption(lua_State *L, void *state) {
    (void)L;
    struct adoption *adoption = state;
    if (adoption->enabled)
        event_del(&adoption->sigchld_event);
    adoption->enabled = 0;
}

static void open_adoption(lua_State *L, struct event_loop *loop) {
    struct adoption *adoption = lua_newuserdatauv(L, sizeof *adoption, 0);
    memset(adoption, 0, sizeof *adoption);
    adoption->loop = loop;
    /* libevent runs every event of a signal: process.c's SIGCHLD handler runs as well. */
    evsignal_assign(&adoption->sigchld_event, loop->base, SIGCHLD, on_sigchld, adoption);
    event_loop_on_close(loop, close_adoption, adoption);
}

static const luaL_Reg adoption_functions[] = {
    {"subreaper", event_subreaper},
    {"adopted", event_adopted},
    {"kill_adopted", event_kill_adopted},
    {NULL, NULL},
};

const struct event_part event_adoption_part = {open_adoption, adoption_functions};
