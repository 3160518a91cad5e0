#include "common/fd_limit.h"

#include <stdbool.h>
#include <sys/resource.h>

static struct rlimit original;
static bool raised;

void fd_limit_raise(void) {
    struct rlimit limit;
    if (getrlimit(RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur >= limit.rlim_max)
        return;
    original = limit;
    limit.rlim_cur = limit.rlim_max;
    raised = setrlimit(RLIMIT_NOFILE, &limit) == 0;
}

void fd_limit_restore_in_child(void) {
    if (raised)
        setrlimit(RLIMIT_NOFILE, &original);
}
