/* lambda.event file watching on Linux inotify.
 *
 *   event.watch_tree(dir, {ignore = fn(path, is_dir) -> bool, debounce = 0.2}?, fn(changes))
 *     -> watch (:close()) | nil, "cannot watch 'dir': No such file or directory"
 *
 * changes is a list of {path = relative path ("src/main.rs"), kind = "created" | "modified" |
 * "deleted" | "moved" (both the old and the new path of a rename), is_dir}; kind "overflow"
 * with path "" says events were lost (the kernel queue overflowed). Ignored directories are
 * not watched at all.
 *
 * inotify watches single directories, so the tree is walked and every directory that the
 * ignore function lets through gets a watch; directories created or moved in later get theirs
 * when they appear (with the entries found in a new directory reported as created: they may
 * have been made before its watch was in place). Changes are collected per path and handed
 * over together once the tree has been quiet for `debounce` seconds, or at the latest
 * 10 x debounce after the first of them, so that a save or a checkout is one report. */
#define _GNU_SOURCE

#include <dirent.h>
#include <errno.h>
#include <lauxlib.h>
#include <stdalign.h>
#include <stddef.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/luax.h"
#include "event/parts.h"

#define WATCH_TYPE "lambda.event.watch"
/* User values of a watch. */
#define WATCH_CALLBACK 1
#define WATCH_IGNORE 2
#define WATCH_PATHS 3       /* watch descriptor -> directory path relative to the root */
#define WATCH_DESCRIPTORS 4 /* directory path -> watch descriptor */
#define WATCH_PENDING 5     /* list of {path, kind, is_dir} waiting to be reported */
#define WATCH_INDEX 6       /* path -> its entry in the pending list */
#define WATCH_ROOT 7
#define WATCH_VALUES 7

#define DEFAULT_DEBOUNCE 0.2
#define MAX_WAIT_FACTOR 10
#define EVENT_MASK                                                                                 \
    (IN_CREATE | IN_DELETE | IN_MODIFY | IN_CLOSE_WRITE | IN_ATTRIB | IN_MOVED_FROM |              \
     IN_MOVED_TO | IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR | IN_DONT_FOLLOW | IN_EXCL_UNLINK)

static const char *const watch_options[] = {"ignore", "debounce", NULL};

struct event_watch {
    struct event_loop *loop;
    struct event readable, flush;
    int fd; /* the inotify descriptor, -1 once closed */
    int ref;
    int started; /* events assigned and added */
    int pending; /* changes wait for the flush timer */
    double debounce;
    double first_change;
    alignas(struct inotify_event) char buffer[16384];
};

/* Pushes the path of rel, a path relative to the root ("" for the root itself). */
static void push_path(lua_State *L, int watch_index, const char *rel) {
    lua_getiuservalue(L, watch_index, WATCH_ROOT);
    if (*rel) {
        const char *root = lua_tostring(L, -1);
        lua_pushstring(L, strcmp(root, "/") == 0 ? "" : "/");
        lua_pushstring(L, rel);
        lua_concat(L, 3);
    }
}

/* Pushes rel .. "/" .. name, or name at the root. */
static void push_child(lua_State *L, const char *rel, const char *name) {
    if (*rel)
        lua_pushfstring(L, "%s/%s", rel, name);
    else
        lua_pushstring(L, name);
}

static int is_ignored(lua_State *L, int watch_index, int path_index, int is_dir) {
    if (lua_getiuservalue(L, watch_index, WATCH_IGNORE) != LUA_TFUNCTION) {
        lua_pop(L, 1);
        return 0;
    }
    lua_pushvalue(L, path_index);
    lua_pushboolean(L, is_dir);
    lua_call(L, 2, 1);
    int ignored = lua_toboolean(L, -1);
    lua_pop(L, 1);
    return ignored;
}

static void schedule_flush(struct event_watch *watch) {
    double now = monotonic_now();
    if (!watch->pending)
        watch->first_change = now;
    watch->pending = 1;
    double due = now + watch->debounce;
    double latest = watch->first_change + watch->debounce * MAX_WAIT_FACTOR;
    double wait = (due < latest ? due : latest) - now;
    if (wait < 0)
        wait = 0;
    struct timeval delay = {(time_t)wait, (suseconds_t)((wait - (double)(time_t)wait) * 1e6)};
    evtimer_add(&watch->flush, &delay);
}

/* Records a change of the path at path_index. A path is reported once, with the kind of its
 * last change, except that a path created in this burst stays "created" when modified. */
static void add_change(lua_State *L, int watch_index, int path_index, const char *kind,
                       int is_dir) {
    struct event_watch *watch = lua_touserdata(L, watch_index);
    lua_getiuservalue(L, watch_index, WATCH_INDEX);
    lua_pushvalue(L, path_index);
    if (lua_rawget(L, -2) == LUA_TTABLE) {
        lua_getfield(L, -1, "kind");
        const char *old = lua_tostring(L, -1);
        int keep = strcmp(old, kind) == 0 ||
                   (strcmp(old, "created") == 0 && strcmp(kind, "modified") == 0);
        lua_pop(L, 1);
        if (!keep) {
            lua_pushstring(L, kind);
            lua_setfield(L, -2, "kind");
            lua_pushboolean(L, is_dir);
            lua_setfield(L, -2, "is_dir");
        }
        lua_pop(L, 2);
        return;
    }
    lua_pop(L, 1);
    lua_createtable(L, 0, 3);
    lua_pushvalue(L, path_index);
    lua_setfield(L, -2, "path");
    lua_pushstring(L, kind);
    lua_setfield(L, -2, "kind");
    lua_pushboolean(L, is_dir);
    lua_setfield(L, -2, "is_dir");
    lua_pushvalue(L, path_index);
    lua_pushvalue(L, -2);
    lua_rawset(L, -4); /* index[path] = entry */
    lua_getiuservalue(L, watch_index, WATCH_PENDING);
    lua_insert(L, -2);
    lua_rawseti(L, -2, (lua_Integer)lua_rawlen(L, -2) + 1);
    lua_pop(L, 2);
    schedule_flush(watch);
}

static int is_directory(lua_State *L, int watch_index, const char *rel,
                        const struct dirent *entry) {
    if (entry->d_type != DT_UNKNOWN)
        return entry->d_type == DT_DIR;
    push_path(L, watch_index, rel);
    struct stat info;
    int result = lstat(lua_tostring(L, -1), &info) == 0 && S_ISDIR(info.st_mode);
    lua_pop(L, 1);
    return result;
}

/* Failures to watch a subdirectory that matter: the others (it vanished, it is not readable)
 * only mean there is nothing to watch there. */
static int watch_limit_error(int error) {
    return error == ENOSPC || error == ENOMEM ? error : 0;
}

/* Watches directory rel (a string at rel_index) and its subdirectories that are not ignored.
 * With report, what is found inside is recorded as created. Returns 0 or an errno. */
static int add_tree(lua_State *L, int watch_index, int rel_index, int report) {
    struct event_watch *watch = lua_touserdata(L, watch_index);
    luaL_checkstack(L, 8, "directory tree too deep");
    const char *rel = lua_tostring(L, rel_index);
    push_path(L, watch_index, rel);
    int wd = inotify_add_watch(watch->fd, lua_tostring(L, -1), EVENT_MASK);
    if (wd < 0) {
        int error = errno;
        lua_pop(L, 1);
        return error;
    }
    lua_getiuservalue(L, watch_index, WATCH_PATHS);
    lua_pushvalue(L, rel_index);
    lua_rawseti(L, -2, wd);
    lua_pop(L, 1);
    lua_getiuservalue(L, watch_index, WATCH_DESCRIPTORS);
    lua_pushvalue(L, rel_index);
    lua_pushinteger(L, wd);
    lua_rawset(L, -3);
    lua_pop(L, 1);
    DIR **dir = luax_push_dir_guard(L);
    *dir = opendir(lua_tostring(L, -2));
    int error = 0;
    for (struct dirent *entry; error == 0 && *dir && (entry = readdir(*dir));) {
        if (strcmp(entry->d_name, ".") == 0 || strcmp(entry->d_name, "..") == 0)
            continue;
        push_child(L, rel, entry->d_name);
        int child = lua_gettop(L);
        int is_dir = is_directory(L, watch_index, lua_tostring(L, child), entry);
        if (!is_ignored(L, watch_index, child, is_dir)) {
            if (report)
                add_change(L, watch_index, child, "created", is_dir);
            if (is_dir)
                error = watch_limit_error(add_tree(L, watch_index, child, report));
        }
        lua_pop(L, 1);
    }
    luax_close_dir(dir);
    lua_pop(L, 2);
    return error;
}

/* Removes the watches of directory path (at path_index) and of everything below it. */
static void forget_tree(lua_State *L, int watch_index, int path_index) {
    struct event_watch *watch = lua_touserdata(L, watch_index);
    size_t length;
    const char *prefix = lua_tolstring(L, path_index, &length);
    lua_getiuservalue(L, watch_index, WATCH_PATHS);
    lua_getiuservalue(L, watch_index, WATCH_DESCRIPTORS);
    lua_pushnil(L);
    while (lua_next(L, -2)) {
        const char *path = lua_tostring(L, -2);
        if (strncmp(path, prefix, length) == 0 && (path[length] == '\0' || path[length] == '/')) {
            int wd = (int)lua_tointeger(L, -1);
            inotify_rm_watch(watch->fd, wd);
            lua_pushnil(L);
            lua_rawseti(L, -5, wd);
            lua_pushvalue(L, -2);
            lua_pushnil(L);
            lua_rawset(L, -5); /* clearing a field during traversal is allowed */
        }
        lua_pop(L, 1);
    }
    lua_pop(L, 2);
}

struct inotify_context {
    struct event_watch *watch;
    const struct inotify_event *event;
};

static const char *kind_of(uint32_t mask) {
    if (mask & IN_CREATE)
        return "created";
    if (mask & IN_DELETE)
        return "deleted";
    if (mask & (IN_MOVED_FROM | IN_MOVED_TO))
        return "moved";
    if (mask & (IN_MODIFY | IN_CLOSE_WRITE | IN_ATTRIB))
        return "modified";
    return NULL;
}

/* Protected: one inotify event, with the watch on the stack at 2. */
static int handle_event(lua_State *L) {
    const struct inotify_context *context = lua_touserdata(L, 1);
    const struct inotify_event *event = context->event;
    const int watch_index = 2;
    if (event->mask & IN_Q_OVERFLOW) { /* events were lost: the tree may have changed */
        lua_pushliteral(L, "");
        add_change(L, watch_index, lua_gettop(L), "overflow", 1);
        return 0;
    }
    lua_getiuservalue(L, watch_index, WATCH_PATHS);
    if (lua_rawgeti(L, -1, event->wd) != LUA_TSTRING)
        return 0; /* a watch already forgotten */
    int dir = lua_gettop(L);
    const char *rel = lua_tostring(L, dir);
    if (event->mask & IN_IGNORED) { /* the directory is gone */
        lua_pushnil(L);
        lua_rawseti(L, dir - 1, event->wd);
        lua_getiuservalue(L, watch_index, WATCH_DESCRIPTORS);
        lua_pushvalue(L, dir);
        if (lua_rawget(L, -2) == LUA_TNUMBER && lua_tointeger(L, -1) == event->wd) {
            lua_pushvalue(L, dir);
            lua_pushnil(L);
            lua_rawset(L, -4);
        }
        return 0;
    }
    if (event->len == 0 || event->name[0] == '\0') {
        /* About a watched directory itself: its parent reports it, except for the root. */
        if (*rel == '\0' && (event->mask & (IN_DELETE_SELF | IN_MOVE_SELF)))
            add_change(L, watch_index, dir, event->mask & IN_DELETE_SELF ? "deleted" : "moved", 1);
        return 0;
    }
    const char *kind = kind_of(event->mask);
    if (!kind)
        return 0;
    int is_dir = (event->mask & IN_ISDIR) != 0;
    push_child(L, rel, event->name);
    int path = lua_gettop(L);
    if (is_ignored(L, watch_index, path, is_dir))
        return 0;
    add_change(L, watch_index, path, kind, is_dir);
    if (is_dir && (event->mask & (IN_CREATE | IN_MOVED_TO))) {
        int error =
            watch_limit_error(add_tree(L, watch_index, path, (event->mask & IN_CREATE) != 0));
        if (error) {
            push_path(L, watch_index, lua_tostring(L, path));
            return luaL_error(L, "cannot watch '%s': %s", lua_tostring(L, -1), strerror(error));
        }
    } else if (is_dir && (event->mask & IN_MOVED_FROM)) {
        forget_tree(L, watch_index, path);
    }
    return 0;
}

static void on_readable(evutil_socket_t fd, short what, void *arg) {
    (void)what;
    struct event_watch *watch = arg;
    lua_State *L = watch->loop->L;
    for (;;) {
        ssize_t n = read(fd, watch->buffer, sizeof watch->buffer);
        if (n <= 0)
            return;
        for (ssize_t offset = 0; offset < n;) {
            const struct inotify_event *event = (const void *)(watch->buffer + offset);
            offset += (ssize_t)(sizeof *event + event->len);
            struct inotify_context context = {watch, event};
            /* The watch stays on the stack: a callback may close it and drop the last
             * reference while its buffer is still being read. */
            lua_pushcfunction(L, handle_event);
            lua_pushlightuserdata(L, &context);
            event_push_ref(L, watch->ref);
            event_loop_call(watch->loop, L, 2);
            if (watch->fd < 0)
                return;
        }
    }
}

static int deliver_changes(lua_State *L) {
    struct event_watch *watch = lua_touserdata(L, 1);
    lua_getiuservalue(L, 1, WATCH_CALLBACK);
    lua_getiuservalue(L, 1, WATCH_PENDING);
    lua_newtable(L);
    lua_setiuservalue(L, 1, WATCH_PENDING);
    lua_newtable(L);
    lua_setiuservalue(L, 1, WATCH_INDEX);
    watch->pending = 0;
    lua_call(L, 1, 0);
    return 0;
}

static void on_flush(evutil_socket_t fd, short what, void *arg) {
    (void)fd;
    (void)what;
    struct event_watch *watch = arg;
    lua_State *L = watch->loop->L;
    lua_pushcfunction(L, deliver_changes);
    event_push_ref(L, watch->ref);
    event_loop_call(watch->loop, L, 1);
}

static void close_watch(lua_State *L, struct event_watch *watch) {
    if (watch->fd < 0)
        return;
    if (watch->started && !watch->loop->closed) {
        event_del(&watch->readable);
        event_del(&watch->flush);
    }
    close(watch->fd);
    watch->fd = -1;
    event_unref(L, &watch->ref);
}

/* Pushes nil, "cannot watch '<root>': <strerror>", kind ("not_found" or "io"), errno. */
static int push_watch_failure(lua_State *L, const char *root, int error) {
    lua_pushfstring(L, "cannot watch '%s'", root);
    return luax_push_errno_failure(L, lua_tostring(L, -1), error);
}

/* watch_tree(dir, {ignore = fn(path, is_dir), debounce = 0.2}?, fn(changes)) -> watch
 *   | nil, message, kind, errno */
static int event_watch_tree(lua_State *L) {
    struct event_loop *loop = lua_touserdata(L, lua_upvalueindex(1));
    size_t length;
    const char *root = luaL_checklstring(L, 1, &length);
    if (lua_type(L, 2) == LUA_TFUNCTION) { /* watch_tree(dir, fn) */
        lua_settop(L, 2);
        lua_pushnil(L);
        lua_insert(L, 2);
    }
    lua_settop(L, 3);
    luaL_checktype(L, 3, LUA_TFUNCTION);
    double debounce = DEFAULT_DEBOUNCE;
    if (!lua_isnil(L, 2)) {
        luaL_checktype(L, 2, LUA_TTABLE);
        event_check_options(L, 2, "watch_tree", watch_options);
        int type = lua_getfield(L, 2, "debounce");
        if (type != LUA_TNIL) {
            debounce = lua_tonumber(L, -1);
            if (type != LUA_TNUMBER || !(debounce >= 0 && debounce <= 3600))
                return luaL_error(L, "watch_tree: 'debounce' must be from 0 to 3600 seconds");
        }
        type = lua_getfield(L, 2, "ignore");
        if (type != LUA_TNIL && type != LUA_TFUNCTION)
            return luaL_error(L, "watch_tree: 'ignore' must be a function");
        lua_pop(L, 2);
    }
    while (length > 1 && root[length - 1] == '/')
        length--;
    lua_pushlstring(L, root, length); /* 4 */
    root = lua_tostring(L, 4);
    struct stat info;
    int error = stat(root, &info) != 0 ? errno : S_ISDIR(info.st_mode) ? 0 : ENOTDIR;
    if (error)
        return push_watch_failure(L, root, error);
    struct event_watch *watch = lua_newuserdatauv(L, sizeof *watch, WATCH_VALUES); /* 5 */
    memset(watch, 0, offsetof(struct event_watch, buffer));
    watch->loop = loop;
    watch->fd = -1;
    watch->ref = LUA_NOREF;
    watch->debounce = debounce;
    luaL_setmetatable(L, WATCH_TYPE);
    lua_pushvalue(L, 3);
    lua_setiuservalue(L, 5, WATCH_CALLBACK);
    if (!lua_isnil(L, 2)) {
        lua_getfield(L, 2, "ignore");
        lua_setiuservalue(L, 5, WATCH_IGNORE);
    }
    for (int slot = WATCH_PATHS; slot <= WATCH_INDEX; slot++) {
        lua_newtable(L);
        lua_setiuservalue(L, 5, slot);
    }
    lua_pushvalue(L, 4);
    lua_setiuservalue(L, 5, WATCH_ROOT);
    watch->fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    error = watch->fd < 0 ? errno : 0;
    if (!error) {
        lua_pushliteral(L, "");
        error = add_tree(L, 5, lua_gettop(L), 0);
        lua_settop(L, 5);
    }
    if (error) {
        close_watch(L, watch);
        return push_watch_failure(L, root, error);
    }
    event_assign(&watch->readable, loop->base, watch->fd, EV_READ | EV_PERSIST, on_readable, watch);
    evtimer_assign(&watch->flush, loop->base, on_flush, watch);
    event_add(&watch->readable, NULL);
    watch->started = 1;
    lua_pushvalue(L, 5);
    watch->ref = luaL_ref(L, LUA_REGISTRYINDEX);
    return 1;
}

/* watch:close(): stops watching; changes not yet reported are dropped. */
static int watch_close(lua_State *L) {
    close_watch(L, luaL_checkudata(L, 1, WATCH_TYPE));
    return 0;
}

static int watch_gc(lua_State *L) {
    close_watch(L, luaL_checkudata(L, 1, WATCH_TYPE));
    return 0;
}

static void open_watches(lua_State *L, struct event_loop *loop) {
    luaL_newmetatable(L, WATCH_TYPE);
    lua_pushcfunction(L, watch_gc);
    lua_setfield(L, -2, "__gc");
    lua_newtable(L);
    lua_pushcfunction(L, watch_close);
    lua_setfield(L, -2, "close");
    lua_setfield(L, -2, "__index");
    lua_pop(L, 1);
    lua_pushlightuserdata(L, loop);
}

static const luaL_Reg watch_functions[] = {
    {"watch_tree", event_watch_tree},
    {NULL, NULL},
};

const struct event_part event_watch_part = {open_watches, watch_functions};
