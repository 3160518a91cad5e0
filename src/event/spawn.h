/* Starting a child process for lambda.event's spawn (process.c): the plan read from the
 * script's options, then fork and exec with a report pipe, so that a program that cannot run
 * is reported by spawn itself rather than by an exit status 127 later. */
#ifndef CLC_EVENT_SPAWN_H
#define CLC_EVENT_SPAWN_H

#include <lua.h>
#include <sys/types.h>

struct spawn_plan {
    char *const *argv;
    char *const *envp;
    const char *const *candidates; /* paths to try, in PATH order */
    const char *cwd;
    int piped[2]; /* whether stdout and stderr go to pipes (else they are inherited) */
};

/* Which step failed, and how. */
enum spawn_step { SPAWN_FAILED_EXEC, SPAWN_FAILED_CHDIR, SPAWN_FAILED_SETUP };
struct spawn_failure {
    int step;
    int error; /* errno */
};

/* Reads argv, env and cwd from the options table at index options; the strings it builds are
 * anchored in the table at index anchors. Raises on malformed options. */
void spawn_read_plan(lua_State *L, int options, int anchors, struct spawn_plan *plan);

/* Starts the child: stdin from /dev/null, stdout and stderr to new pipes when piped (their
 * read ends in out_fds, close-on-exec, else -1), its own process group, SIGKILL when this
 * process dies (PR_SET_PDEATHSIG). Returns the pid, or -1 with *failure set. Nothing raises. */
pid_t spawn_start(const struct spawn_plan *plan, int out_fds[2], struct spawn_failure *failure);

/* Pushes nil, the message for a failure ("cannot run 'x': No such file or directory"), its
 * kind ("not_found" or "io", by the errno) and the errno number; returns 4. */
int spawn_push_failure(lua_State *L, const struct spawn_plan *plan,
                       const struct spawn_failure *failure);

#endif
