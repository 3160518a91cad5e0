/* lambda.event child processes.
 *
 *   event.spawn{argv = {...}, env = {NAME = value} (the whole environment; nil inherits),
 *     cwd = dir, on_stdout = fn(line), on_stderr = fn(line), on_exit = fn(code, signal),
 *     kill_group = true}  -> process | nil, "cannot run 'x': No such file or directory"
 *   process:pid(), process:running(), process:kill(signal = "TERM") -> true | false (exited)
 *   event.kill_all(signal = "TERM") -> how many children were signalled
 *
 * Output is read line by line (without the newline; lines over 64 KiB in 64 KiB pieces; a
 * last line without newline at the end); a stream without its callback is inherited, and
 * standard input is /dev/null. on_exit comes after both streams reached their end, or 0.2 s
 * after the child exited when something else (a background grandchild) still holds them:
 * code is nil when a signal ended the child, signal is its name ("TERM") or nil. With
 * kill_group, what is left in the child's group when it exits is killed.
 *
 * Children are started (spawn.c) with fork and exec, without a shell, PATH searched in the
 * environment given. A close-on-exec pipe carries a failed exec's errno back, so a program that
 * cannot run is reported by spawn itself. Each child leads its own process group (kill and kill_all
 * signal the group unless kill_group is false), gets SIGKILL if this process dies without
 * cleaning up (PR_SET_PDEATHSIG), and is tracked until it has exited: SIGCHLD (through
 * libevent) reaps it with waitpid on its own pid, never -1, which would steal the children of
 * io.popen and os.execute. Children still running when the loop is finalized or the process
 * exits get SIGTERM, then SIGKILL after half a second. */
#define _GNU_SOURCE

#include "event/process.h"

#include <errno.h>
#include <event2/buffer.h>
#include <fcntl.h>
#include <lauxlib.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/luax.h"
#include "event/parts.h"
#include "event/signal.h"
#include "event/spawn.h"

#define PROCESS_TYPE "lambda.event.process"
#define PROCESS_ON_STDOUT 1
#define PROCESS_ON_STDERR 2
#define PROCESS_ON_EXIT 3
/* Lines longer than this are delivered in pieces of this size. */
#define MAX_LINE 65536
#define GRACE_SECONDS 0.5
/* After a child is reaped, how long its pipes may stay open before its exit is reported
 * anyway: a background grandchild that inherited them must not delay on_exit forever. */
#define DRAIN_MICROSECONDS 200000

static const char *const spawn_options[] = {
    "argv", "env", "cwd", "on_stdout", "on_stderr", "on_exit", "kill_group", NULL,
};

struct child_output {
    struct event event;
    struct evbuffer *buffer;
    struct event_child *child;
    int fd;     /* read end of the pipe, -1 when closed or not piped */
    int slot;   /* PROCESS_ON_STDOUT or PROCESS_ON_STDERR */
    int at_end; /* the pipe reported end of file */
};

/* The children of one loop share its SIGCHLD handler. */
struct process_table {
    struct event_loop *loop;
    struct event sigchld_event;
    int sigchld_armed;
};

struct event_child {
    struct process_table *table;
    pid_t pid;
    int ref;    /* registry reference until on_exit has run */
    int status; /* wait status, -1 when it was reaped elsewhere */
    unsigned reaped : 1;
    unsigned kill_group : 1;
    unsigned drain_armed : 1; /* drain_timer is pending */
    struct child_output output[2];
    struct event drain_timer;         /* reports the exit when the pipes outlive the child */
    struct event_child *next, **link; /* live_children, until on_exit has run */
};

/* Children of every loop whose exit has not been reported, for the atexit handler. */
static struct event_child *live_children;

int event_process_is_spawned(pid_t pid) {
    for (const struct event_child *child = live_children; child; child = child->next)
        if (child->pid == pid)
            return 1;
    return 0;
}

static void unlink_child(struct event_child *child) {
    if (!child->link)
        return;
    *child->link = child->next;
    if (child->next)
        child->next->link = child->link;
    child->link = NULL;
}

static int signal_child(const struct event_child *child, int number) {
    if (child->kill_group && kill(-child->pid, number) == 0)
        return 0;
    return kill(child->pid, number);
}

static void reap(struct event_child *child) {
    if (child->reaped)
        return;
    int status;
    pid_t result = waitpid(child->pid, &status, WNOHANG);
    if (result == child->pid) {
        child->reaped = 1;
        child->status = status;
    } else if (result < 0 && errno == ECHILD) { /* reaped by someone else */
        child->reaped = 1;
        child->status = -1;
    }
}

static void close_output(struct child_output *output) {
    if (output->fd < 0)
        return;
    if (!output->child->table->loop->closed)
        event_del(&output->event);
    close(output->fd);
    output->fd = -1;
    evbuffer_free(output->buffer);
    output->buffer = NULL;
}

/* Terminates the live children of table (of every loop when NULL) and waits for them. */
static void terminate(const struct process_table *table) {
    int waiting = 0;
    for (struct event_child *child = live_children; child; child = child->next)
        if ((!table || child->table == table) && !child->reaped &&
            signal_child(child, SIGTERM) == 0)
            waiting = 1;
    double deadline = monotonic_now() + GRACE_SECONDS;
    while (waiting && monotonic_now() < deadline) {
        struct timespec pause = {0, 5000000};
        nanosleep(&pause, NULL);
        waiting = 0;
        for (struct event_child *child = live_children; child; child = child->next) {
            if (table && child->table != table)
                continue;
            reap(child);
            waiting = waiting || !child->reaped;
        }
    }
    for (struct event_child *child = live_children; child; child = child->next) {
        if ((table && child->table != table) || child->reaped)
            continue;
        signal_child(child, SIGKILL);
        while (waitpid(child->pid, &child->status, 0) < 0 && errno == EINTR)
            continue;
        child->reaped = 1;
    }
}

static void terminate_all_at_exit(void) {
    terminate(NULL);
}

static void update_sigchld(struct process_table *table) {
    int running = 0;
    for (struct event_child *child = live_children; child && !running; child = child->next)
        running = child->table == table && !child->reaped;
    if (!running && table->sigchld_armed) {
        event_del(&table->sigchld_event);
        table->sigchld_armed = 0;
    }
}

/* on_exit(code, signal): code nil when a signal ended the child (or its status is unknown). */
static int call_on_exit(lua_State *L) {
    struct event_child *child = lua_touserdata(L, 1);
    if (lua_getiuservalue(L, 1, PROCESS_ON_EXIT) != LUA_TFUNCTION)
        return 0;
    if (child->status >= 0 && WIFEXITED(child->status))
        lua_pushinteger(L, WEXITSTATUS(child->status));
    else
        lua_pushnil(L);
    if (child->status >= 0 && WIFSIGNALED(child->status)) {
        const char *name = event_signal_name(WTERMSIG(child->status));
        if (name)
            lua_pushstring(L, name);
        else
            lua_pushfstring(L, "%d", WTERMSIG(child->status));
    } else {
        lua_pushnil(L);
    }
    lua_call(L, 2, 0);
    return 0;
}

/* Reports the exit once the child is reaped and both pipes are drained. */
static void report_if_done(lua_State *L, struct event_child *child) {
    if (!child->reaped || child->output[0].fd >= 0 || child->output[1].fd >= 0 || !child->link)
        return;
    if (child->drain_armed) {
        event_del(&child->drain_timer);
        child->drain_armed = 0;
    }
    /* With kill_group the group belongs to the child: whatever it left running in it (a
     * background process still holding its output, say) ends with it. */
    if (child->kill_group)
        kill(-child->pid, SIGKILL);
    unlink_child(child);
    lua_pushcfunction(L, call_on_exit);
    event_push_ref(L, child->ref);
    event_unref(L, &child->ref); /* the stack keeps it alive through the call */
    event_loop_call(child->table->loop, L, 1);
}

static int deliver_lines(lua_State *L, struct child_output *output, int at_end);

/* The child is gone but something else still holds its pipes open: take what they hold now,
 * close them and report the exit. */
static void on_drain_timeout(evutil_socket_t fd, short what, void *arg) {
    (void)fd;
    (void)what;
    struct event_child *child = arg;
    struct event_loop *loop = child->table->loop;
    child->drain_armed = 0;
    for (int i = 0; i < 2; i++) {
        struct child_output *output = &child->output[i];
        if (output->fd < 0)
            continue;
        while (!output->at_end && evbuffer_read(output->buffer, output->fd, MAX_LINE) > 0)
            continue;
        deliver_lines(loop->L, output, 1);
        close_output(output);
    }
    report_if_done(loop->L, child);
    update_sigchld(child->table);
}

static void arm_drain_timer(struct event_child *child) {
    if (child->drain_armed || !child->reaped ||
        (child->output[0].fd < 0 && child->output[1].fd < 0))
        return;
    struct timeval delay = {0, DRAIN_MICROSECONDS};
    evtimer_assign(&child->drain_timer, child->table->loop->base, on_drain_timeout, child);
    if (evtimer_add(&child->drain_timer, &delay) == 0)
        child->drain_armed = 1;
}

static void on_sigchld(evutil_socket_t number, short what, void *arg) {
    (void)number;
    (void)what;
    struct process_table *table = arg;
    for (struct event_child *child = live_children; child; child = child->next)
        if (child->table == table) {
            reap(child);
            arm_drain_timer(child);
        }
    /* on_exit callbacks may start or end children: look again after each one. */
    for (;;) {
        struct event_child *done = live_children;
        while (done && !(done->table == table && done->reaped && done->output[0].fd < 0 &&
                         done->output[1].fd < 0))
            done = done->next;
        if (!done)
            break;
        report_if_done(table->loop->L, done);
    }
    update_sigchld(table);
}

struct line {
    struct child_output *output;
    size_t length;
};

static int deliver_line(lua_State *L) {
    const struct line *line = lua_touserdata(L, 1);
    struct child_output *output = line->output;
    event_push_ref(L, output->child->ref);
    if (lua_getiuservalue(L, -1, output->slot) != LUA_TFUNCTION)
        return 0;
    const char *text =
        line->length ? (const char *)evbuffer_pullup(output->buffer, (ev_ssize_t)line->length) : "";
    lua_pushlstring(L, text, line->length);
    lua_call(L, 1, 0);
    return 0;
}

/* Delivers the complete lines buffered (and at the end of output the partial last one).
 * Returns 0 when event.stop() interrupted it. */
static int deliver_lines(lua_State *L, struct child_output *output, int at_end) {
    for (;;) {
        if (event_base_got_break(output->child->table->loop->base))
            return 0;
        size_t length = evbuffer_get_length(output->buffer);
        if (length == 0)
            return 1;
        struct evbuffer_ptr newline = evbuffer_search(output->buffer, "\n", 1, NULL);
        size_t line_length, consumed;
        if (newline.pos >= 0 && (size_t)newline.pos <= MAX_LINE) {
            line_length = (size_t)newline.pos;
            consumed = line_length + 1;
        } else if (length > MAX_LINE || at_end) {
            line_length = consumed = length < MAX_LINE ? length : MAX_LINE;
        } else {
            return 1;
        }
        struct line line = {output, line_length};
        event_loop_pcall(output->child->table->loop, L, deliver_line, &line);
        evbuffer_drain(output->buffer, consumed);
    }
}

static void on_output(evutil_socket_t fd, short what, void *arg) {
    (void)what;
    struct child_output *output = arg;
    struct event_child *child = output->child;
    lua_State *L = child->table->loop->L;
    int n = output->at_end ? 0 : evbuffer_read(output->buffer, fd, MAX_LINE);
    output->at_end = n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR);
    if (!deliver_lines(L, output, output->at_end)) {
        /* The rest comes when the loop runs again. */
        event_active(&output->event, EV_READ, 0);
        return;
    }
    if (output->at_end) {
        close_output(output);
        report_if_done(L, child);
    }
}

static void check_callback(lua_State *L, const char *name, int slot) {
    int type = lua_getfield(L, 1, name);
    if (type != LUA_TNIL && type != LUA_TFUNCTION)
        luaL_error(L, "spawn: '%s' must be a function", name);
    lua_setiuservalue(L, -2, slot);
}

/* spawn{argv, env, cwd, on_stdout, on_stderr, on_exit, kill_group} -> process | nil, message,
 * kind, errno */
static int event_spawn(lua_State *L) {
    struct process_table *table = lua_touserdata(L, lua_upvalueindex(1));
    struct event_loop *loop = table->loop;
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_settop(L, 1);
    event_check_options(L, 1, "spawn", spawn_options);
    lua_newtable(L); /* 2: anchors for the strings built here */
    struct spawn_plan plan;
    spawn_read_plan(L, 1, 2, &plan);
    int kill_group = lua_getfield(L, 1, "kill_group") == LUA_TNIL || lua_toboolean(L, -1);
    lua_pop(L, 1);
    struct event_child *child = lua_newuserdatauv(L, sizeof *child, 3);
    memset(child, 0, sizeof *child);
    child->table = table;
    child->ref = LUA_NOREF;
    child->kill_group = kill_group;
    child->output[0].fd = child->output[1].fd = -1;
    luaL_setmetatable(L, PROCESS_TYPE);
    check_callback(L, "on_stdout", PROCESS_ON_STDOUT);
    check_callback(L, "on_stderr", PROCESS_ON_STDERR);
    check_callback(L, "on_exit", PROCESS_ON_EXIT);
    plan.piped[0] = lua_getiuservalue(L, -1, PROCESS_ON_STDOUT) == LUA_TFUNCTION;
    plan.piped[1] = lua_getiuservalue(L, -2, PROCESS_ON_STDERR) == LUA_TFUNCTION;
    lua_pop(L, 2);
    lua_pushvalue(L, -1);
    child->ref = luaL_ref(L, LUA_REGISTRYINDEX); /* before fork: nothing raises after it */

    /* Armed before the fork, so that a child that exits at once is not missed. */
    if (!table->sigchld_armed) {
        event_add(&table->sigchld_event, NULL);
        table->sigchld_armed = 1;
    }
    int out_fds[2];
    struct spawn_failure failure;
    pid_t pid = spawn_start(&plan, out_fds, &failure);
    if (pid < 0) {
        event_unref(L, &child->ref);
        update_sigchld(table);
        return spawn_push_failure(L, &plan, &failure);
    }
    child->pid = pid;
    for (int i = 0; i < 2; i++) {
        struct child_output *output = &child->output[i];
        output->child = child;
        output->slot = i == 0 ? PROCESS_ON_STDOUT : PROCESS_ON_STDERR;
        if (out_fds[i] < 0)
            continue;
        output->fd = out_fds[i];
        output->buffer = evbuffer_new();
        fcntl(output->fd, F_SETFL, O_NONBLOCK);
        event_assign(&output->event, loop->base, output->fd, EV_READ | EV_PERSIST, on_output,
                     output);
        if (!output->buffer || event_add(&output->event, NULL) != 0)
            close_output(output); /* out of memory: the output is lost, not the child */
    }
    child->next = live_children;
    if (child->next)
        child->next->link = &child->next;
    child->link = &live_children;
    live_children = child;
    return 1;
}

static struct event_child *check_process(lua_State *L) {
    return luaL_checkudata(L, 1, PROCESS_TYPE);
}

/* process:pid() -> the process id (also the id of its process group) */
static int process_pid(lua_State *L) {
    lua_pushinteger(L, check_process(L)->pid);
    return 1;
}

/* process:running() -> false once the child has exited */
static int process_running(lua_State *L) {
    struct event_child *child = check_process(L);
    reap(child); /* on_exit still comes from the loop */
    lua_pushboolean(L, !child->reaped);
    return 1;
}

/* process:kill(signal = "TERM") -> true | false when it has exited | nil, message, kind,
 * errno ("not_found" for ESRCH: reaped by someone else) */
static int process_kill(lua_State *L) {
    struct event_child *child = check_process(L);
    int number = event_check_signal(L, 2, "TERM");
    if (child->reaped) {
        lua_pushboolean(L, 0);
        return 1;
    }
    if (signal_child(child, number) != 0) {
        int error = errno;
        lua_pushfstring(L, "cannot signal process %d", (int)child->pid);
        return luax_push_errno_failure(L, lua_tostring(L, -1), error);
    }
    lua_pushboolean(L, 1);
    return 1;
}

/* kill_all(signal = "TERM") -> the number of running children signalled */
static int event_kill_all(lua_State *L) {
    struct process_table *table = lua_touserdata(L, lua_upvalueindex(1));
    int number = event_check_signal(L, 1, "TERM");
    lua_Integer count = 0;
    for (struct event_child *child = live_children; child; child = child->next)
        if (child->table == table && !child->reaped && signal_child(child, number) == 0)
            count++;
    lua_pushinteger(L, count);
    return 1;
}

/* Only reached with the child still live when the whole state closes: the loop's own
 * finalizer, which comes last, waits for it. */
static int process_gc(lua_State *L) {
    struct event_child *child = check_process(L);
    if (child->link && !child->reaped && !child->table->loop->closed)
        signal_child(child, SIGTERM);
    return 0;
}

/* When the loop is finalized: its children are ended and forgotten. */
static void close_processes(lua_State *L, void *state) {
    (void)L;
    struct process_table *table = state;
    terminate(table);
    struct event_child *child = live_children;
    while (child) {
        struct event_child *next = child->next;
        if (child->table == table) {
            if (child->drain_armed)
                event_del(&child->drain_timer);
            child->drain_armed = 0;
            close_output(&child->output[0]);
            close_output(&child->output[1]);
            unlink_child(child);
        }
        child = next;
    }
    if (table->sigchld_armed)
        event_del(&table->sigchld_event);
    table->sigchld_armed = 0;
}

static void open_processes(lua_State *L, struct event_loop *loop) {
    static int exit_handler;
    static const luaL_Reg methods[] = {
        {"pid", process_pid},
        {"running", process_running},
        {"kill", process_kill},
        {NULL, NULL},
    };
    if (!exit_handler)
        exit_handler = atexit(terminate_all_at_exit) == 0;
    static const luaL_Reg metamethods[] = {
        {"__gc", process_gc},
        {NULL, NULL},
    };
    luax_new_class(L, PROCESS_TYPE, metamethods, methods);
    struct process_table *table = lua_newuserdatauv(L, sizeof *table, 0);
    memset(table, 0, sizeof *table);
    table->loop = loop;
    evsignal_assign(&table->sigchld_event, loop->base, SIGCHLD, on_sigchld, table);
    event_loop_on_close(loop, close_processes, table);
}

static const luaL_Reg process_functions[] = {
    {"spawn", event_spawn},
    {"kill_all", event_kill_all},
    {NULL, NULL},
};

const struct event_part event_process_part = {open_processes, process_functions};
