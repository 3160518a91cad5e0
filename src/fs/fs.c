/* lambda.fs: the few POSIX file-system queries the Lua side needs (stat, directory listings,
 * the working directory, canonical paths, whole-file reads). Expected failures are
 * nil, "<path>: <problem>", kind[, errno]: kind "not_found" (ENOENT, ENOTDIR) or "io" for the
 * file system's failures (the errno number follows), "too_large", "timeout" and "input" for
 * read's own limits and refusals.
 *
 *   read(path [, options]) -> contents | nil, message, kind
 *   read_stdin([options])  -> the same, from standard input ("standard input" in messages)
 *   isatty("stdin" | "stdout" | "stderr") -> whether that stream is a terminal
 *   write_private(path, data) -> true | nil, message, kind, errno   (write.c)
 *     options.max_bytes  contents longer than this are refused without reading past
 *                        max_bytes + 1 bytes: nil, "<path>: larger than N bytes", "too_large"
 *     options.timeout    seconds to wait, in all, for a FIFO's writer and for data from a
 *                        pipe, FIFO or terminal: nil, "<path>: timed out after S s waiting
 *                        for data", "timeout". Without it such a wait has no bound (like cat;
 *                        SIGINT still ends the process when it has its default action).
 *     options.special    also read FIFOs and character devices; without it they are refused
 *                        at once: nil, "<path>: not a regular file", "input"
 *
 * A FIFO is opened non-blocking, so that opening it cannot wait for a writer without a bound;
 * the wait happens in poll(), which honours the timeout. */
#define _XOPEN_SOURCE 700 /* realpath */

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <lauxlib.h>
#include <limits.h>
#include <math.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/luax.h"
#include "common/monotonic.h"
#include "fs/write.h"
#include "host/modules.h"

/* Userdata types that own an open descriptor, so that a Lua error raised half-way (out of
 * memory while growing a buffer) cannot leak it: the garbage collector closes it. */

#define READ_CHUNK 65536

/* A path with an embedded NUL would silently name a different file. */
static const char *check_path(lua_State *L, int arg) {
    size_t length;
    const char *path = luaL_checklstring(L, arg, &length);
    if (strlen(path) != length)
        luaL_argerror(L, arg, "path contains a NUL byte");
    return path;
}

static const char *type_name(mode_t mode) {
    if (S_ISREG(mode))
        return "file";
    if (S_ISDIR(mode))
        return "directory";
    if (S_ISLNK(mode))
        return "link";
    return "other";
}

static int push_stat(lua_State *L, const struct stat *st) {
    lua_createtable(L, 0, 4);
    lua_pushstring(L, type_name(st->st_mode));
    lua_setfield(L, -2, "type");
    lua_pushinteger(L, (lua_Integer)st->st_size);
    lua_setfield(L, -2, "size");
    lua_pushinteger(L, (lua_Integer)(st->st_mode & 07777));
    lua_setfield(L, -2, "mode");
    lua_pushinteger(L, (lua_Integer)st->st_mtime);
    lua_setfield(L, -2, "mtime");
    return 1;
}

/* stat(path) -> {type, size, mode, mtime} | nil, message, kind, errno (follows symbolic links) */
static int fs_stat(lua_State *L) {
    const char *path = check_path(L, 1);
    struct stat st;
    if (stat(path, &st) != 0)
        return luax_push_errno_failure(L, path, errno);
    return push_stat(L, &st);
}

/* lstat(path) -> like stat, but a symbolic link is reported as type "link" */
static int fs_lstat(lua_State *L) {
    const char *path = check_path(L, 1);
    struct stat st;
    if (lstat(path, &st) != 0)
        return luax_push_errno_failure(L, path, errno);
    return push_stat(L, &st);
}

static int compare_names(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Replaces the array of strings on the top of the stack by a copy sorted bytewise; Lua's own
 * string comparison follows the locale, which would make the order machine-dependent. */
static void sort_names(lua_State *L, lua_Integer count) {
    int unsorted = lua_gettop(L);
    const char **names = lua_newuserdatauv(L, (size_t)count * sizeof *names + 1, 0);
    for (lua_Integer i = 0; i < count; i++) {
        lua_rawgeti(L, unsorted, i + 1);
        names[i] = lua_tostring(L, -1); /* still anchored in the unsorted table */
        lua_pop(L, 1);
    }
    qsort(names, (size_t)count, sizeof *names, compare_names);
    lua_createtable(L, (int)count, 0);
    for (lua_Integer i = 0; i < count; i++) {
        lua_pushstring(L, names[i]);
        lua_rawseti(L, -2, i + 1);
    }
    lua_replace(L, unsorted);
    lua_settop(L, unsorted);
}

/* list(dir) -> array of entry names without "." and "..", sorted bytewise | nil, message, kind,
 * errno */
static int fs_list(lua_State *L) {
    const char *path = check_path(L, 1);
    DIR **dir = luax_push_dir_guard(L);
    *dir = opendir(path);
    if (!*dir)
        return luax_push_errno_failure(L, path, errno);
    lua_newtable(L);
    lua_Integer count = 0;
    struct dirent *entry;
    for (;;) {
        errno = 0;
        entry = readdir(*dir);
        if (!entry)
            break;
        const char *name = entry->d_name;
        if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
            continue;
        lua_pushstring(L, name);
        lua_rawseti(L, -2, ++count);
    }
    int error = errno;
    luax_close_dir(dir);
    if (error != 0) {
        errno = error;
        return luax_push_errno_failure(L, path, errno);
    }
    sort_names(L, count);
    return 1;
}

/* cwd() -> absolute path of the working directory | nil, message, kind, errno */
static int fs_cwd(lua_State *L) {
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    size_t size = PATH_MAX;
    for (;;) {
        char *space = luaL_prepbuffsize(&b, size);
        if (getcwd(space, size)) {
            luaL_addsize(&b, strlen(space));
            luaL_pushresult(&b);
            return 1;
        }
        if (errno != ERANGE)
            return luax_push_errno_failure(L, ".", errno);
        size *= 2;
    }
}

/* realpath(path) -> absolute path without symbolic links, "." or ".." | nil, message, kind, errno
 */
static int fs_realpath(lua_State *L) {
    const char *path = check_path(L, 1);
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    /* POSIX: a caller-supplied buffer must hold PATH_MAX bytes; this one is owned by Lua. */
    char *space = luaL_prepbuffsize(&b, PATH_MAX);
    if (!realpath(path, space))
        return luax_push_errno_failure(L, path, errno);
    luaL_addsize(&b, strlen(space));
    luaL_pushresult(&b);
    return 1;
}

/* What read and read_stdin were asked for. */
struct read_limits {
    lua_Integer max_bytes; /* -1: no limit */
    double timeout;        /* seconds, < 0: no limit */
    int special;           /* FIFOs and character devices are accepted */
};

static void check_limits(lua_State *L, int arg, struct read_limits *limits) {
    limits->max_bytes = -1;
    limits->timeout = -1;
    limits->special = 0;
    if (lua_isnoneornil(L, arg))
        return;
    luaL_checktype(L, arg, LUA_TTABLE);
    if (lua_getfield(L, arg, "max_bytes") != LUA_TNIL) {
        int is_integer;
        limits->max_bytes = lua_tointegerx(L, -1, &is_integer);
        luaL_argcheck(L, is_integer && limits->max_bytes >= 0, arg,
                      "max_bytes must be a non-negative integer");
    }
    if (lua_getfield(L, arg, "timeout") != LUA_TNIL) {
        int is_number;
        limits->timeout = lua_tonumberx(L, -1, &is_number);
        luaL_argcheck(L, is_number && limits->timeout >= 0 && !isinf(limits->timeout), arg,
                      "timeout must be a non-negative number of seconds");
    }
    lua_getfield(L, arg, "special");
    limits->special = lua_toboolean(L, -1);
    lua_pop(L, 3);
}

static int push_kind_failure(lua_State *L, const char *name, const char *problem,
                             const char *kind) {
    lua_pushfstring(L, "%s: %s", name, problem);
    return luax_push_failure(L, kind, lua_tostring(L, -1));
}

/* Waits until fd has something to read (or its end) before deadline (< 0: none). Returns 1
 * when readable, 0 on timeout, -1 with errno on failure. */
static int wait_readable(int fd, double deadline) {
    for (;;) {
        int wait_ms = -1;
        if (deadline >= 0) {
            double left = deadline - monotonic_now();
            if (left <= 0)
                return 0;
            wait_ms = left > 1e6 ? 1000000000 : (int)ceil(left * 1000);
        }
        struct pollfd entry = {fd, POLLIN, 0};
        int ready = poll(&entry, 1, wait_ms);
        if (ready > 0)
            return 1;
        if (ready < 0 && errno != EINTR)
            return -1;
        /* EINTR (SIGCHLD, say): wait again for what is left of the time. */
    }
}

/* Reads fd to its end into a string on the stack, within limits. name is for messages;
 * regular files never wait. Returns the number of results pushed. */
static int read_all(lua_State *L, int fd, const char *name, int regular,
                    const struct read_limits *limits) {
    double deadline = limits->timeout >= 0 ? monotonic_now() + limits->timeout : -1;
    size_t have = 0;
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    for (;;) {
        size_t want = READ_CHUNK;
        if (limits->max_bytes >= 0 && (lua_Integer)(have + want) > limits->max_bytes + 1)
            want = (size_t)(limits->max_bytes + 1) - have;
        if (!regular) {
            int ready = wait_readable(fd, deadline);
            if (ready < 0)
                return luax_push_errno_failure(L, name, errno);
            if (ready == 0) {
                char problem[80];
                snprintf(problem, sizeof problem, "timed out after %g s waiting for data",
                         limits->timeout);
                return push_kind_failure(L, name, problem, "timeout");
            }
        }
        char *space = luaL_prepbuffsize(&b, want);
        ssize_t got = read(fd, space, want);
        if (got == 0)
            break;
        if (got < 0) {
            if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)
                continue;
            return luax_push_errno_failure(L, name, errno);
        }
        luaL_addsize(&b, (size_t)got);
        have += (size_t)got;
        if (limits->max_bytes >= 0 && (lua_Integer)have > limits->max_bytes) {
            lua_pushfstring(L, "larger than %I bytes", limits->max_bytes);
            return push_kind_failure(L, name, lua_tostring(L, -1), "too_large");
        }
    }
    luaL_pushresult(&b);
    return 1;
}

/* read(path [, {max_bytes, timeout, special}]) -> contents | nil, message, kind */
static int fs_read(lua_State *L) {
    const char *path = check_path(L, 1);
    struct read_limits limits;
    check_limits(L, 2, &limits);
    int *fd = luax_push_fd_guard(L);
    /* O_NONBLOCK: opening a FIFO must not wait for a writer (see the header comment). */
    *fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (*fd < 0)
        return luax_push_errno_failure(L, path, errno);
    struct stat st;
    if (fstat(*fd, &st) != 0)
        return luax_push_errno_failure(L, path, errno);
    if (S_ISDIR(st.st_mode)) {
        errno = EISDIR;
        return luax_push_errno_failure(L, path, errno);
    }
    int regular = S_ISREG(st.st_mode) || S_ISBLK(st.st_mode);
    if (!regular && !limits.special) {
        return push_kind_failure(L, path, "not a regular file", "input");
    }
    /* A regular file says its size: too large is known without reading it. */
    if (S_ISREG(st.st_mode) && limits.max_bytes >= 0 && st.st_size > limits.max_bytes) {
        lua_pushfstring(L, "larger than %I bytes", limits.max_bytes);
        return push_kind_failure(L, path, lua_tostring(L, -1), "too_large");
    }
    int results = read_all(L, *fd, path, regular, &limits);
    luax_close_fd(fd);
    return results;
}

/* read_stdin([{max_bytes, timeout}]) -> contents | nil, message, kind. Standard input stays
 * blocking (its file description is shared with the parent): poll says when a read cannot
 * wait. */
static int fs_read_stdin(lua_State *L) {
    struct read_limits limits;
    check_limits(L, 1, &limits);
    struct stat st;
    if (fstat(STDIN_FILENO, &st) != 0)
        return luax_push_errno_failure(L, "standard input", errno);
    return read_all(L, STDIN_FILENO, "standard input", S_ISREG(st.st_mode), &limits);
}

/* isatty("stdin" | "stdout" | "stderr") -> whether that stream is a terminal */
static int fs_isatty(lua_State *L) {
    static const char *const streams[] = {"stdin", "stdout", "stderr", NULL};
    int fd = luaL_checkoption(L, 1, NULL, streams);
    lua_pushboolean(L, isatty(fd));
    return 1;
}

static const luaL_Reg fs_functions[] = {
    {"isatty", fs_isatty},
    {"stat", fs_stat},
    {"lstat", fs_lstat},
    {"list", fs_list},
    {"cwd", fs_cwd},
    {"realpath", fs_realpath},
    {"read", fs_read},
    {"read_stdin", fs_read_stdin},
    {"write_private", fs_write_private},
    {NULL, NULL},
};

int luaopen_lambda_fs(lua_State *L) {
    luaL_newlib(L, fs_functions);
    return 1;
}
