/* lambda.fs: the few POSIX file-system queries the Lua side needs (stat, directory listings,
 * the working directory, canonical paths, whole-file reads). Failures of the file system are
 * answered like io.open: nil, "<path>: <strerror>", errno. */
#define _XOPEN_SOURCE 700 /* realpath */

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <lauxlib.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/luax.h"
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

/* stat(path) -> {type, size, mode, mtime} | nil, message, errno (follows symbolic links) */
static int fs_stat(lua_State *L) {
    const char *path = check_path(L, 1);
    struct stat st;
    if (stat(path, &st) != 0)
        return luaL_fileresult(L, 0, path);
    return push_stat(L, &st);
}

/* lstat(path) -> like stat, but a symbolic link is reported as type "link" */
static int fs_lstat(lua_State *L) {
    const char *path = check_path(L, 1);
    struct stat st;
    if (lstat(path, &st) != 0)
        return luaL_fileresult(L, 0, path);
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

/* list(dir) -> array of entry names without "." and "..", sorted bytewise | nil, message, errno */
static int fs_list(lua_State *L) {
    const char *path = check_path(L, 1);
    DIR **dir = luax_push_dir_guard(L);
    *dir = opendir(path);
    if (!*dir)
        return luaL_fileresult(L, 0, path);
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
        return luaL_fileresult(L, 0, path);
    }
    sort_names(L, count);
    return 1;
}

/* cwd() -> absolute path of the working directory | nil, message, errno */
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
            return luaL_fileresult(L, 0, ".");
        size *= 2;
    }
}

/* realpath(path) -> absolute path without symbolic links, "." or ".." | nil, message, errno */
static int fs_realpath(lua_State *L) {
    const char *path = check_path(L, 1);
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    /* POSIX: a caller-supplied buffer must hold PATH_MAX bytes; this one is owned by Lua. */
    char *space = luaL_prepbuffsize(&b, PATH_MAX);
    if (!realpath(path, space))
        return luaL_fileresult(L, 0, path);
    luaL_addsize(&b, strlen(space));
    luaL_pushresult(&b);
    return 1;
}

/* read(path) -> whole contents of a regular file | nil, message, errno */
static int fs_read(lua_State *L) {
    const char *path = check_path(L, 1);
    int *fd = luax_push_fd_guard(L);
    /* O_NONBLOCK so that naming a FIFO fails below instead of waiting for a writer. */
    *fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (*fd < 0)
        return luaL_fileresult(L, 0, path);
    struct stat st;
    if (fstat(*fd, &st) != 0)
        return luaL_fileresult(L, 0, path);
    if (S_ISDIR(st.st_mode)) {
        errno = EISDIR;
        return luaL_fileresult(L, 0, path);
    }
    if (!S_ISREG(st.st_mode)) {
        luaL_pushfail(L);
        lua_pushfstring(L, "%s: not a regular file", path);
        lua_pushinteger(L, EINVAL);
        return 3;
    }
    int flags = fcntl(*fd, F_GETFL);
    if (flags < 0 || fcntl(*fd, F_SETFL, flags & ~O_NONBLOCK) != 0)
        return luaL_fileresult(L, 0, path);
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    for (;;) {
        char *space = luaL_prepbuffsize(&b, READ_CHUNK);
        ssize_t got = read(*fd, space, READ_CHUNK);
        if (got == 0)
            break;
        if (got < 0) {
            if (errno == EINTR)
                continue;
            return luaL_fileresult(L, 0, path);
        }
        luaL_addsize(&b, (size_t)got);
    }
    luax_close_fd(fd);
    luaL_pushresult(&b);
    return 1;
}

static const luaL_Reg fs_functions[] = {
    {"stat", fs_stat},         {"lstat", fs_lstat}, {"list", fs_list}, {"cwd", fs_cwd},
    {"realpath", fs_realpath}, {"read", fs_read},   {NULL, NULL},
};

int luaopen_lambda_fs(lua_State *L) {
    luaL_newlib(L, fs_functions);
    return 1;
}
