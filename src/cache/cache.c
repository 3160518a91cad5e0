/* lambda.cache: files under the user cache directory (<cache>/cargo-lambda/<namespace>/<key>),
 * written atomically so a crash or a full disk never leaves a truncated entry behind.
 *
 *   cache.root() -> <cache>/cargo-lambda | nil, message, kind
 *   cache.open(namespace [, on_warning]) -> cache | nil, message, kind
 *   cache.open_read_only(directory [, on_warning]) -> cache: the files of another program's
 *     cache (an absolute folder), read with the same rules and never changed
 *   c:get(key [, max_bytes]) -> contents | nil (absent) | nil, message, kind
 *   c:put(key, data) -> true | nil, message, kind;  c:path(key), c:remove(key)
 *
 * What others could have planted is never trusted. An entry that is a symbolic link is neither
 * read (O_NOFOLLOW) nor replaced, nor is an entry that is not a regular file or belongs to
 * another user: get and put answer nil, message (a cache miss to the caller). The two folders
 * the cache is made of, cargo-lambda and the namespace, must be directories owned by this
 * user; one that group or others may write to is changed to mode 0700, with a warning (on
 * `on_warning(message)`, else on stderr), before it is used; one owned by another user is not
 * used. Folders the cache creates get mode 0700. A read-only cache changes nothing: a folder
 * others may write to is not used (a warning); put and remove raise. get with max_bytes
 * refuses a larger entry ("too_large") without reading more than max_bytes + 1 bytes. */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <fcntl.h>
#include <lauxlib.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/luax.h"
#include "common/private_write.h"
#include "host/modules.h"

#define CACHE_TYPE "lambda.cache"
#define CACHE_DIRECTORY 1  /* user value: <root>/<namespace> */
#define CACHE_ON_WARNING 2 /* user value: on_warning function or nil */
#define CACHE_READ_ONLY 3  /* user value: true for open_read_only's caches */
#define MAX_KEY_LENGTH 255
#define TEMP_SUFFIX "/.tmp-XXXXXX"

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

/* Replaces the directory on top of the stack with a cache of it; on_warning is at index 2. */
static int push_cache(lua_State *L, bool read_only) {
    lua_newuserdatauv(L, 0, 3);
    lua_insert(L, -2);
    lua_setiuservalue(L, -2, CACHE_DIRECTORY);
    lua_pushvalue(L, 2);
    lua_setiuservalue(L, -2, CACHE_ON_WARNING);
    lua_pushboolean(L, read_only);
    lua_setiuservalue(L, -2, CACHE_READ_ONLY);
    luaL_setmetatable(L, CACHE_TYPE);
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
    return push_cache(L, false);
}

/* cache.open_read_only(directory [, on_warning]) -> cache. The folder and the one above it
 * are checked as a cache's two folders are. */
static int cache_open_read_only(lua_State *L) {
    size_t length;
    const char *directory = luaL_checklstring(L, 1, &length);
    if (!lua_isnoneornil(L, 2))
        luaL_checktype(L, 2, LUA_TFUNCTION);
    lua_settop(L, 2);
    luaL_argcheck(L, strlen(directory) == length, 1, "path contains a NUL byte");
    /* Trailing slashes would make the folder above it the folder itself. */
    while (length > 1 && directory[length - 1] == '/')
        length--;
    luaL_argcheck(L, is_absolute(directory) && length > 1, 1, "an absolute path below / expected");
    lua_pushlstring(L, directory, length);
    return push_cache(L, true);
}

static bool is_read_only(lua_State *L) {
    lua_getiuservalue(L, 1, CACHE_READ_ONLY);
    bool read_only = lua_toboolean(L, -1);
    lua_pop(L, 1);
    return read_only;
}

/* put and remove on a read-only cache are programming errors. */
static void check_writable(lua_State *L, const char *method) {
    luaL_checkudata(L, 1, CACHE_TYPE);
    if (is_read_only(L)) {
        lua_getiuservalue(L, 1, CACHE_DIRECTORY);
        luaL_error(L, "cache:%s: the cache %s is read-only", method, lua_tostring(L, -1));
    }
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
 * when group or others may write to it, or refuses it in a read-only cache. FOLDER_REFUSED
 * pushes nil, message, kind. */
static enum folder_state check_folder(lua_State *L, const char *path, bool read_only) {
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
    char mode[8];
    snprintf(mode, sizeof mode, "%04o", (unsigned)(info.st_mode & 07777));
    if (read_only) {
        lua_pushfstring(L,
                        "cache folder %s is writable by group or others (mode %s); not using "
                        "it",
                        path, mode);
        luax_push_failure(L, "io", lua_tostring(L, -1));
        lua_remove(L, -4);
        return FOLDER_REFUSED;
    }
    if (chmod(path, 0700) != 0) {
        lua_pushfstring(L,
                        "cache folder %s is writable by group or others and cannot be made "
                        "private: %s",
                        path, strerror(errno));
        luax_push_failure(L, "io", lua_tostring(L, -1));
        lua_remove(L, -4);
        return FOLDER_REFUSED;
    }
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
    bool read_only = is_read_only(L);
    const char *directory = push_directory(L);
    const char *slash = strrchr(directory, '/');
    lua_pushlstring(L, directory, slash > directory ? (size_t)(slash - directory) : 1);
    int top = lua_gettop(L);
    enum folder_state state = check_folder(L, lua_tostring(L, top), read_only);
    if (state == FOLDER_USABLE)
        state = check_folder(L, directory, read_only);
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

/* Pushes nil, "cannot read <path>: larger than N bytes", "too_large". */
static int push_too_large(lua_State *L, const char *path, lua_Integer max_bytes) {
    lua_pushfstring(L, "cannot read %s: larger than %I bytes", path, (LUAI_UACINT)max_bytes);
    luax_push_failure(L, "too_large", lua_tostring(L, -1));
    lua_remove(L, -4);
    return 3;
}

/* c:get(key [, max_bytes]) -> contents | nil (absent) | nil, message, kind */
static int cache_get(lua_State *L) {
    lua_Integer max_bytes = luaL_optinteger(L, 3, -1);
    luaL_argcheck(L, lua_isnoneornil(L, 3) || max_bytes >= 0, 3, "max_bytes must be 0 or more");
    lua_settop(L, 2);
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
    if (max_bytes >= 0 && (lua_Integer)info.st_size > max_bytes)
        return push_too_large(L, path, max_bytes);
    /* At most max_bytes + 1 bytes are read: one more than allowed shows a file that grew. */
    size_t allowed = max_bytes >= 0 ? (size_t)max_bytes + 1 : SIZE_MAX, total = 0;
    size_t chunk = LUAL_BUFFERSIZE;
    /* One read for the usual case; +1 so that read sees end of file at once. */
    if (info.st_size > 0)
        chunk = (size_t)info.st_size + 1;
    luaL_Buffer contents;
    luaL_buffinit(L, &contents);
    while (total < allowed) {
        if (chunk > allowed - total)
            chunk = allowed - total;
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
        total += (size_t)count;
        chunk = LUAL_BUFFERSIZE;
    }
    luax_close_fd(fd);
    if (max_bytes >= 0 && total > (size_t)max_bytes)
        return push_too_large(L, path, max_bytes);
    luaL_pushresult(&contents);
    return 1;
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
    check_writable(L, "put");
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
    if (!private_make_directories(directory, &failure))
        return push_failure(L, &failure);
    if (check_folders(L) == FOLDER_REFUSED)
        return 3;
    /* rename would replace a link rather than write through it; still, a link there was not
     * made by us and is left alone. */
    struct stat info;
    if (lstat(target, &info) == 0 && S_ISLNK(info.st_mode))
        return push_refused(L, "replace", target, "a symbolic link (not followed)");
    if (!private_write_atomically(directory, temp, target, data, size, &failure))
        return push_failure(L, &failure);
    lua_pushboolean(L, 1);
    return 1;
}

/* c:remove(key) -> true | nil, message, kind; an absent entry is already removed. */
static int cache_remove(lua_State *L) {
    check_writable(L, "remove");
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
    bool read_only = (luaL_checkudata(L, 1, CACHE_TYPE), is_read_only(L));
    lua_pushfstring(L, "%scache (%s)", read_only ? "read-only " : "", push_directory(L));
    return 1;
}

static const luaL_Reg cache_methods[] = {
    {"path", cache_path},     {"get", cache_get}, {"put", cache_put},
    {"remove", cache_remove}, {NULL, NULL},
};

static const luaL_Reg cache_metamethods[] = {
    {"__tostring", cache_tostring},
    {NULL, NULL},
};

static const luaL_Reg cache_functions[] = {
    {"root", cache_root},
    {"open", cache_open},
    {"open_read_only", cache_open_read_only},
    {NULL, NULL},
};

int luaopen_lambda_cache(lua_State *L) {
    luax_new_class(L, CACHE_TYPE, cache_metamethods, cache_methods);
    luaL_newlib(L, cache_functions);
    return 1;
}
