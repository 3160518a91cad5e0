/* lambda.cache: files under the user cache directory (<cache>/cargo-lambda/<namespace>/<key>),
 * written atomically so a crash or a full disk never leaves a truncated entry behind.
 *
 *   cache.root() -> <cache>/cargo-lambda | nil, message, kind
 *   cache.open(namespace [, on_warning]) -> cache | nil, message, kind
 *   c:get(key) -> contents | nil (absent) | nil, message, kind;  c:put(key, data) -> true | nil, message, kind
 *   c:path(key), c:remove(key)
 *
 * What others could have planted is never trusted. An entry that is a symbolic link is neither
 * read (O_NOFOLLOW) nor replaced, nor is an entry that is not a regular file or belongs to
 * another user: get and put answer nil, message (a cache miss to the caller). The two folders
 * the cache is made of, cargo-lambda and the namespace, must be directories owned by this
 * user; one that group or others may write to is changed to mode 0700, with a warning (on
 * `on_warning(message)`, else on stderr), before it is used; one owned by another user is not
 * used. Folders the cache creates get mode 0700. */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <fcntl.h>
#include <lauxlib.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/luax.h"
#include "host/modules.h"

#define CACHE_TYPE "lambda.cache"
#define CACHE_DIRECTORY 1  /* user value: <root>/<namespace> */
#define CACHE_ON_WARNING 2 /* user value: on_warning function or nil */
#define MAX_KEY_LENGTH 255
#define TEMP_SUFFIX "/.tmp-XXXXXX"

/* What went wrong in a system call: "cannot <action> <path>: <strerror(error)>". */
struct io_failure {
    const char *action;
    const char *path;
    int error;
};

static bool set_failure(struct io_failure *failure, const char *action, const char *path) {
    failure->action = action;
    failure->path = path;
    failure->error = errno;
    return false;
}

/* Every failure of this module is nil, message, kind: 3 values. */
static int push_failure(lua_State *L, const struct io_failure *failure) {
    lua_pushfstring(L, "cannot %s %s", failure->action, failure->path);
    luax_push_errno_failure(L, lua_tostring(L, -1), failure->error);
    lua_pop(L, 1); /* the errno: callers need the kind only */
    lua_remove(L, -4);
    return 3;
}

/* Pushes the key quoted, with control bytes escaped so the message stays on one line. */
static void add_quoted_key(luaL_Buffer *b, const char *key, size_t length) {
    static const char hex[] = "0123456789abcdef";
    luaL_addchar(b, '\'');
    for (size_t i = 0; i < length; i++) {
        unsigned char c = (unsigned char)key[i];
        if (c < 0x20 || c == 0x7f) {
            char escaped[4] = {'\\', 'x', hex[c >> 4], hex[c & 15]};
            luaL_addlstring(b, escaped, sizeof escaped);
        } else {
            luaL_addchar(b, (char)c);
        }
    }
    luaL_addchar(b, '\'');
}

/* Why key would escape its directory or cannot be a file name, or NULL when it is fine. */
static const char *key_problem(const char *key, size_t length) {
    if (length == 0)
        return "must not be empty";
    if (length > MAX_KEY_LENGTH)
        return "is longer than 255 bytes";
    if (memchr(key, '\0', length))
        return "must not contain NUL";
    if (strcmp(key, ".") == 0 || strcmp(key, "..") == 0)
        return "must not be '.' or '..'";
    if (memchr(key, '/', length) || memchr(key, '\\', length))
        return "must not contain '/' or '\\'";
    return NULL;
}

/* Returns the string at index arg when it is a safe file name; otherwise pushes nil, message
 * and returns NULL. */
static const char *check_key(lua_State *L, int arg, const char *what) {
    size_t length;
    const char *key = luaL_checklstring(L, arg, &length);
    const char *problem = key_problem(key, length);
    if (!problem)
        return key;
    luaL_pushfail(L);
    luaL_Buffer message;
    luaL_buffinit(L, &message);
    luaL_addstring(&message, "invalid cache ");
    luaL_addstring(&message, what);
    luaL_addchar(&message, ' ');
    add_quoted_key(&message, key, length);
    luaL_addstring(&message, ": ");
    luaL_addstring(&message, problem);
    luaL_pushresult(&message);
    lua_pushliteral(L, "input");
    return NULL;
}

static bool is_absolute(const char *path) {
    return path && path[0] == '/';
}

/* cache.root() -> <user cache dir>/cargo-lambda | nil, message, kind */
static int cache_root(lua_State *L) {
#ifdef __APPLE__
    const char *base_suffix = "/Library/Caches";
#else
    const char *base_suffix = "/.cache";
    const char *xdg = getenv("XDG_CACHE_HOME");
    if (is_absolute(xdg)) {
        lua_pushfstring(L, "%s/cargo-lambda", xdg);
        return 1;
    }
#endif
    const char *home = getenv("HOME");
    if (!home || !*home) {
        return luax_push_failure(L, "input", "cannot find the cache directory: HOME is not set");
    }
    if (!is_absolute(home)) {
        lua_pushfstring(L, "cannot find the cache directory: HOME (%s) is not an absolute path",
                        home);
        return luax_push_failure(L, "input", lua_tostring(L, -1));
    }
    lua_pushfstring(L, "%s%s/cargo-lambda", home, base_suffix);
    return 1;
}

/* cache.open(namespace [, on_warning]) -> cache | nil, message, kind */
static int cache_open(lua_State *L) {
    if (!lua_isnoneornil(L, 2))
        luaL_checktype(L, 2, LUA_TFUNCTION);
    lua_settop(L, 2);
    const char *namespace = check_key(L, 1, "namespace");
    if (!namespace)
        return 3;
    if (cache_root(L) == 3)
        return 3;
    lua_pushfstring(L, "%s/%s", lua_tostring(L, -1), namespace);
    lua_newuserdatauv(L, 0, 2);
    lua_insert(L, -2);
    lua_setiuservalue(L, -2, CACHE_DIRECTORY);
    lua_pushvalue(L, 2);
    lua_setiuservalue(L, -2, CACHE_ON_WARNING);
    luaL_setmetatable(L, CACHE_TYPE);
    return 1;
}

/* Pushes the cache's directory and returns it. */
static const char *push_directory(lua_State *L) {
    luaL_checkudata(L, 1, CACHE_TYPE);
    lua_getiuservalue(L, 1, CACHE_DIRECTORY);
    return lua_tostring(L, -1);
}

/* Reports a warning about the cache at index 1: its on_warning function, else stderr. */
static void warn(lua_State *L, const char *message) {
    if (lua_getiuservalue(L, 1, CACHE_ON_WARNING) == LUA_TFUNCTION) {
        lua_pushstring(L, message);
        lua_call(L, 1, 0);
        return;
    }
    lua_pop(L, 1);
    fprintf(stderr, "warning: %s\n", message);
    fflush(stderr);
}

enum folder_state { FOLDER_USABLE, FOLDER_ABSENT, FOLDER_REFUSED };

/* Checks one folder of the cache before it is used (see the header comment); fixes its mode
 * when group or others may write to it. FOLDER_REFUSED pushes nil, message. */
static enum folder_state check_folder(lua_State *L, const char *path) {
    struct stat info;
    if (stat(path, &info) != 0) {
        if (errno == ENOENT)
            return FOLDER_ABSENT;
        struct io_failure failure;
        set_failure(&failure, "open", path);
        push_failure(L, &failure);
        return FOLDER_REFUSED;
    }
    if (!S_ISDIR(info.st_mode)) {
        lua_pushfstring(L, "cache folder %s is not a directory", path);
        luax_push_failure(L, "io", lua_tostring(L, -1));
        lua_remove(L, -4);
        return FOLDER_REFUSED;
    }
    if (info.st_uid != geteuid()) {
        lua_pushfstring(L, "cache folder %s belongs to another user (uid %d); not using it", path,
                        (int)info.st_uid);
        luax_push_failure(L, "io", lua_tostring(L, -1));
        lua_remove(L, -4);
        return FOLDER_REFUSED;
    }
    if ((info.st_mode & (S_IWGRP | S_IWOTH)) == 0)
        return FOLDER_USABLE;
    if (chmod(path, 0700) != 0) {
        lua_pushfstring(L,
                        "cache folder %s is writable by group or others and cannot be made "
                        "private: %s",
                        path, strerror(errno));
        luax_push_failure(L, "io", lua_tostring(L, -1));
        lua_remove(L, -4);
        return FOLDER_REFUSED;
    }
    char mode[8];
    snprintf(mode, sizeof mode, "%04o", (unsigned)(info.st_mode & 07777));
    lua_pushfstring(L,
                    "cache folder %s was writable by group or others (mode %s); changed it "
                    "to 0700",
                    path, mode);
    warn(L, lua_tostring(L, -1));
    lua_pop(L, 1);
    return FOLDER_USABLE;
}

/* Checks both folders of the cache at index 1: <root> and <root>/<namespace>. */
static enum folder_state check_folders(lua_State *L) {
    const char *directory = push_directory(L);
    const char *slash = strrchr(directory, '/');
    lua_pushlstring(L, directory, (size_t)(slash - directory));
    int top = lua_gettop(L);
    enum folder_state state = check_folder(L, lua_tostring(L, top));
    if (state == FOLDER_USABLE)
        state = check_folder(L, directory);
    if (state == FOLDER_REFUSED) /* nil, message, kind go below the two paths, which go */
        lua_rotate(L, top - 1, 3);
    lua_pop(L, 2);
    return state;
}

/* Pushes nil, "cannot <action> <path>: it is <what>", "io" for an entry that is refused. */
static int push_refused(lua_State *L, const char *action, const char *path, const char *what) {
    lua_pushfstring(L, "cannot %s %s: it is %s", action, path, what);
    luax_push_failure(L, "io", lua_tostring(L, -1));
    lua_remove(L, -4);
    return 3;
}

/* Pushes <directory>/<key> and returns it, or pushes nil, message and returns NULL. */
static const char *push_entry_path(lua_State *L) {
    luaL_checkudata(L, 1, CACHE_TYPE);
    const char *key = check_key(L, 2, "key");
    if (!key)
        return NULL;
    return lua_pushfstring(L, "%s/%s", push_directory(L), key);
}

/* c:path(key) -> path | nil, message, kind */
static int cache_path(lua_State *L) {
    return push_entry_path(L) ? 1 : 3;
}

/* c:get(key) -> contents | nil (absent) | nil, message, kind */
static int cache_get(lua_State *L) {
    const char *path = push_entry_path(L);
    if (!path)
        return 3;
    enum folder_state folders = check_folders(L);
    if (folders == FOLDER_REFUSED)
        return 3;
    if (folders == FOLDER_ABSENT) {
        lua_pushnil(L);
        return 1;
    }
    /* Closed by the guard if a Lua error (out of memory while reading) comes first. */
    int *fd = luax_push_fd_guard(L);
    struct io_failure failure;
    /* O_NOFOLLOW: a link planted in place of an entry is not read. O_NONBLOCK: nor does a
     * FIFO make open wait. */
    *fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
    if (*fd < 0) {
        if (errno == ENOENT) {
            lua_pushnil(L);
            return 1;
        }
        if (errno == ELOOP)
            return push_refused(L, "read", path, "a symbolic link (not followed)");
        set_failure(&failure, "open", path);
        return push_failure(L, &failure);
    }
    struct stat info;
    int stat_error = fstat(*fd, &info) != 0 ? errno : S_ISDIR(info.st_mode) ? EISDIR : 0;
    if (stat_error != 0) {
        errno = stat_error;
        set_failure(&failure, "read", path);
        return push_failure(L, &failure);
    }
    if (!S_ISREG(info.st_mode))
        return push_refused(L, "read", path, "not a regular file");
    if (info.st_uid != geteuid())
        return push_refused(L, "read", path, "owned by another user");
    size_t chunk = LUAL_BUFFERSIZE;
    /* One read for the usual case; +1 so that read sees end of file at once. */
    if (info.st_size > 0)
        chunk = (size_t)info.st_size + 1;
    luaL_Buffer contents;
    luaL_buffinit(L, &contents);
    for (;;) {
        char *space = luaL_prepbuffsize(&contents, chunk);
        ssize_t count = read(*fd, space, chunk);
        if (count < 0 && errno == EINTR)
            continue;
        if (count < 0) {
            set_failure(&failure, "read", path);
            luax_close_fd(fd);
            return push_failure(L, &failure);
        }
        if (count == 0)
            break;
        luaL_addsize(&contents, (size_t)count);
        chunk = LUAL_BUFFERSIZE;
    }
    luax_close_fd(fd);
    luaL_pushresult(&contents);
    return 1;
}

/* mkdir -p with mode 0700 for each directory created. path is modified while working and
 * restored before returning. */
static bool make_directories(char *path, struct io_failure *failure) {
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
static bool write_atomically(const char *directory, char *temp, const char *target,
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

/* Copies the string at index into Lua-owned memory, so C may modify it and a Lua error cannot
 * leak it. */
static char *push_scratch(lua_State *L, const char *text, size_t extra) {
    size_t length = strlen(text);
    char *copy = lua_newuserdatauv(L, length + extra + 1, 0);
    memcpy(copy, text, length + 1);
    return copy;
}

/* c:put(key, data) -> true | nil, message, kind */
static int cache_put(lua_State *L) {
    size_t size;
    const char *data = luaL_checklstring(L, 3, &size);
    const char *target = push_entry_path(L);
    if (!target)
        return 3;
    const char *directory_path = lua_tostring(L, -2);
    char *directory = push_scratch(L, directory_path, 0);
    char *temp = push_scratch(L, directory_path, sizeof TEMP_SUFFIX);
    strcat(temp, TEMP_SUFFIX);
    struct io_failure failure;
    if (!make_directories(directory, &failure))
        return push_failure(L, &failure);
    if (check_folders(L) == FOLDER_REFUSED)
        return 3;
    /* rename would replace a link rather than write through it; still, a link there was not
     * made by us and is left alone. */
    struct stat info;
    if (lstat(target, &info) == 0 && S_ISLNK(info.st_mode))
        return push_refused(L, "replace", target, "a symbolic link (not followed)");
    if (!write_atomically(directory, temp, target, data, size, &failure))
        return push_failure(L, &failure);
    lua_pushboolean(L, 1);
    return 1;
}

/* c:remove(key) -> true | nil, message, kind; an absent entry is already removed. */
static int cache_remove(lua_State *L) {
    const char *path = push_entry_path(L);
    if (!path)
        return 3;
    struct io_failure failure;
    if (unlink(path) != 0 && errno != ENOENT) {
        set_failure(&failure, "remove", path);
        return push_failure(L, &failure);
    }
    lua_pushboolean(L, 1);
    return 1;
}

static int cache_tostring(lua_State *L) {
    lua_pushfstring(L, "cache (%s)", push_directory(L));
    return 1;
}

static const luaL_Reg cache_methods[] = {
    {"path", cache_path},     {"get", cache_get}, {"put", cache_put},
    {"remove", cache_remove}, {NULL, NULL},
};

static const luaL_Reg cache_metamethods[] = {
    {"__index", NULL},
    {"__tostring", cache_tostring},
    {NULL, NULL},
};

static const luaL_Reg cache_functions[] = {
    {"root", cache_root},
    {"open", cache_open},
    {NULL, NULL},
};

int luaopen_lambda_cache(lua_State *L) {
    luaL_newmetatable(L, CACHE_TYPE);
    luaL_setfuncs(L, cache_metamethods, 0);
    luaL_newlib(L, cache_methods);
    lua_setfield(L, -2, "__index");
    lua_pop(L, 1);
    luaL_newlib(L, cache_functions);
    return 1;
}
