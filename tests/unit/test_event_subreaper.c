/* Unit test of event.subreaper's failure: nil, message, "io", errno. The kernel does not refuse
 * PR_SET_CHILD_SUBREAPER to a process that may make it, so this executable defines prctl
 * itself: the static library's call resolves to this definition before libc's, which fails
 * that one option (as a kernel without it, or a seccomp filter, would) and passes every other
 * to the system call. */
#define _GNU_SOURCE

#include <errno.h>
#include <lauxlib.h>
#include <stdarg.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "check.h"
#include "host/modules.h"

static int refuse_subreaper = 1;

int prctl(int option, ...) {
    va_list arguments;
    va_start(arguments, option);
    unsigned long values[4];
    for (int i = 0; i < 4; i++)
        values[i] = va_arg(arguments, unsigned long);
    va_end(arguments);
    if (option == PR_SET_CHILD_SUBREAPER && refuse_subreaper) {
        errno = EINVAL;
        return -1;
    }
    return (int)syscall(SYS_prctl, option, values[0], values[1], values[2], values[3]);
}

static void test_refused(void) {
    lua_State *L = check_new_state();
    check_preload(L, "lambda.event", luaopen_lambda_event);
    check_lua(L, CHECK_HERE, "local event = require('lambda.event')\n",
              "local ok, message, kind, errno = event.subreaper()\n"
              "assert(ok == nil, tostring(ok))\n"
              "assert(message == 'cannot become the child subreaper: Invalid argument', message)\n"
              "assert(kind == 'io' and errno == 22, tostring(kind) .. ' ' .. tostring(errno))\n",
              0);
    lua_close(L);
}

static void test_granted(void) {
    refuse_subreaper = 0;
    lua_State *L = check_new_state();
    check_preload(L, "lambda.event", luaopen_lambda_event);
    check_lua(L, CHECK_HERE, "local event = require('lambda.event')\n",
              "assert(event.subreaper() == true)\n", 0);
    lua_close(L);
}

int main(void) {
    test_refused();
    test_granted();
    return check_report("test_event_subreaper");
}
