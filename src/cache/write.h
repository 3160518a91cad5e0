/* lambda.cache's writes (write.c): shared with cache.c, which reports their failures. */
#ifndef CLC_CACHE_WRITE_H
#define CLC_CACHE_WRITE_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>

/* What went wrong in a system call: "cannot <action> <path>: <strerror(error)>". */
struct io_failure {
    const char *action;
    const char *path;
    int error;
};

/* Records errno's failure; returns false, so that `ok || set_failure(...)` reads well. */
static inline bool set_failure(struct io_failure *failure, const char *action, const char *path) {
    failure->action = action;
    failure->path = path;
    failure->error = errno;
    return false;
}

/* mkdir -p with mode 0700 for each directory created. path is modified while working and
 * restored before returning. */
bool cache_make_directories(char *path, struct io_failure *failure);

/* Writes data to target through a temporary file in the same directory and a rename, removing
 * the temporary file on any failure. temp holds "<directory>/.tmp-XXXXXX" and is filled in by
 * mkstemp (O_EXCL: it never follows a link). */
bool cache_write_atomically(const char *directory, char *temp, const char *target, const char *data,
                            size_t size, struct io_failure *failure);

#endif
