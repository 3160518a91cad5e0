/* Private, atomic writes (private_write.c): what lambda.cache and lambda.fs.write_private
 * write, reporting failures themselves. */
#ifndef CLC_COMMON_PRIVATE_WRITE_H
#define CLC_COMMON_PRIVATE_WRITE_H

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
bool private_make_directories(char *path, struct io_failure *failure);

/* Writes data to target through a temporary file in the same directory and a rename, removing
 * the temporary file on any failure. temp holds "<directory>/.tmp-XXXXXX" and is filled in by
 * mkstemp (O_EXCL: it never follows a link). */
bool private_write_atomically(const char *directory, char *temp, const char *target,
                              const char *data, size_t size, struct io_failure *failure);

#endif
