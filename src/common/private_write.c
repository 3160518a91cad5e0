/* Private, atomic writes for lambda.cache and lambda.fs.write_private: folders created with
 * mode 0700, files written atomically with mode 0600 (mkstemp's: a temporary file, fsync,
 * rename, fsync of the folder). No Lua calls: a Lua error cannot unwind past a cleanup. */
#define _POSIX_C_SOURCE 200809L

#include "common/private_write.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

/* mkdir -p with mode 0700 for each directory created. path is modified while working and
 * restored before returning. */
bool private_make_directories(char *path, struct io_failure *failure) {
    struct stat info;
    if (stat(path, &info) == 0 && S_ISDIR(info.st_mode))
        return true;
    for (char *end = path + 1;; end++) {
        if (*end != '/' && *end != '\0')
            continue;
        char saved = *end;
        *end = '\0';
        bool made = mkdir(path, 0700) == 0;
        if (!made && errno == EEXIST) {
            made = stat(path, &info) == 0 && S_ISDIR(info.st_mode);
            errno = ENOTDIR;
        }
        if (!made) {
            /* The message needs the failing prefix, so keep the copy cut there. */
            set_failure(failure, "create", path);
            return false;
        }
        *end = saved;
        if (saved == '\0')
            return true;
    }
}

static bool write_all(int fd, const char *data, size_t size) {
    while (size > 0) {
        ssize_t count = write(fd, data, size);
        if (count < 0 && errno == EINTR)
            continue;
        if (count < 0)
            return false;
        data += count;
        size -= (size_t)count;
    }
    return true;
}

static bool sync_directory(const char *directory, struct io_failure *failure) {
    int fd = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return set_failure(failure, "open", directory);
    /* Some file systems cannot sync a directory; the rename is done, so that is no failure. */
    if (fsync(fd) != 0 && errno != EINVAL) {
        set_failure(failure, "sync", directory);
        close(fd);
        return false;
    }
    close(fd);
    return true;
}

/* Writes data to target through a temporary file in the same directory and a rename, removing
 * the temporary file on any failure. No Lua calls in here: nothing can unwind past the
 * cleanup. temp holds "<directory>/.tmp-XXXXXX" and is filled in by mkstemp (O_EXCL: it never
 * follows a link). */
bool private_write_atomically(const char *directory, char *temp, const char *target,
                              const char *data, size_t size, struct io_failure *failure) {
    int fd = mkstemp(temp);
    if (fd < 0)
        return set_failure(failure, "create a temporary file in", directory);
    bool written = write_all(fd, data, size) || set_failure(failure, "write", temp);
    written = written && (fsync(fd) == 0 || set_failure(failure, "sync", temp));
    int close_status = close(fd);
    written = written && (close_status == 0 || set_failure(failure, "write", temp));
    if (written && rename(temp, target) == 0)
        return sync_directory(directory, failure);
    if (written)
        set_failure(failure, "replace", target);
    unlink(temp);
    return false;
}
