/* Unit tests of lambda.cache against a scratch directory. The cases are Lua chunks that get the
 * module, the scratch directory and a few file-system helpers written in C. */
#define _XOPEN_SOURCE 700

#include <dirent.h>
#include <fcntl.h>
#include <lauxlib.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "host/modules.h"

static char scratch[] = "/tmp/test_cache.XXXXXX";

/* mode(path) -> permission bits | nil */
static int helper_mode(lua_State *L) {
    struct stat info;
    if (lstat(luaL_checkstring(L, 1), &info) != 0)
        return 0;
    lua_pushinteger(L, info.st_mode & 07777);
    return 1;
}

/* mkdir(path) */
static int helper_mkdir(lua_State *L) {
    const char *path = luaL_checkstring(L, 1);
    if (mkdir(path, 0755) != 0)
        return luaL_error(L, "mkdir %s failed", path);
    return 0;
}

/* hidden(dir) -> number of entries named .*, not counting . and .. (temporary files) */
static int helper_hidden(lua_State *L) {
    const char *path = luaL_checkstring(L, 1);
    DIR *directory = opendir(path);
    if (!directory)
        return luaL_error(L, "opendir %s failed", path);
    lua_Integer count = 0;
    for (struct dirent *entry; (entry = readdir(directory));) {
        const char *name = entry->d_name;
        if (name[0] == '.' && strcmp(name, ".") != 0 && strcmp(name, "..") != 0)
            count++;
    }
    closedir(directory);
    lua_pushinteger(L, count);
    return 1;
}

/* limit_file_size(bytes | nil): RLIMIT_FSIZE, so that a write fails part way through. */
static int helper_limit_file_size(lua_State *L) {
    struct rlimit limit;
    getrlimit(RLIMIT_FSIZE, &limit);
    limit.rlim_cur = lua_isnoneornil(L, 1) ? limit.rlim_max : (rlim_t)luaL_checkinteger(L, 1);
    if (setrlimit(RLIMIT_FSIZE, &limit) != 0)
        return luaL_error(L, "setrlimit failed");
    return 0;
}

/* chmod(path, mode) */
static int helper_chmod(lua_State *L) {
    const char *path = luaL_checkstring(L, 1);
    if (chmod(path, (mode_t)luaL_checkinteger(L, 2)) != 0)
        return luaL_error(L, "chmod %s failed", path);
    return 0;
}

/* chown(path, uid): only root may give a file away. */
static int helper_chown(lua_State *L) {
    const char *path = luaL_checkstring(L, 1);
    if (lchown(path, (uid_t)luaL_checkinteger(L, 2), (gid_t)-1) != 0)
        return luaL_error(L, "chown %s failed", path);
    return 0;
}

/* symlink(target, path) */
static int helper_symlink(lua_State *L) {
    const char *path = luaL_checkstring(L, 2);
    if (symlink(luaL_checkstring(L, 1), path) != 0)
        return luaL_error(L, "symlink %s failed", path);
    return 0;
}

/* mkfifo(path) */
static int helper_mkfifo(lua_State *L) {
    const char *path = luaL_checkstring(L, 1);
    if (mkfifo(path, 0600) != 0)
        return luaL_error(L, "mkfifo %s failed", path);
    return 0;
}

/* is_link(path) -> whether path is a symbolic link */
static int helper_is_link(lua_State *L) {
    struct stat info;
    lua_pushboolean(L, lstat(luaL_checkstring(L, 1), &info) == 0 && S_ISLNK(info.st_mode));
    return 1;
}

/* euid() -> the effective user id */
static int helper_euid(lua_State *L) {
    lua_pushinteger(L, (lua_Integer)geteuid());
    return 1;
}

/* stderr_to(path | nil): standard error into path (nil: back to where it was). */
static int helper_stderr_to(lua_State *L) {
    static int saved = -1;
    fflush(stderr);
    if (lua_isnoneornil(L, 1)) {
        if (saved >= 0) {
            dup2(saved, STDERR_FILENO);
            close(saved);
            saved = -1;
        }
        return 0;
    }
    const char *path = luaL_checkstring(L, 1);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0)
        return luaL_error(L, "open %s failed", path);
    if (saved < 0)
        saved = dup(STDERR_FILENO);
    dup2(fd, STDERR_FILENO);
    close(fd);
    return 0;
}

static const luaL_Reg helpers[] = {
    {"mode", helper_mode},
    {"mkdir", helper_mkdir},
    {"hidden", helper_hidden},
    {"limit_file_size", helper_limit_file_size},
    {"chmod", helper_chmod},
    {"chown", helper_chown},
    {"symlink", helper_symlink},
    {"mkfifo", helper_mkfifo},
    {"is_link", helper_is_link},
    {"euid", helper_euid},
    {"stderr_to", helper_stderr_to},
    {NULL, NULL},
};

/* Each chunk gets the module, the scratch directory and the helpers as `...`. */
static int push_arguments(lua_State *L) {
    luaL_requiref(L, "lambda.cache", luaopen_lambda_cache, 0);
    lua_pushstring(L, scratch);
    luaL_newlib(L, helpers);
    return 3;
}

#define LUA(L, chunk)                                                                              \
    check_lua(L, CHECK_HERE, "local cache, scratch, fs = ...\n", chunk, push_arguments(L))

static void use_xdg(const char *subdirectory) {
    char path[256];
    snprintf(path, sizeof path, "%s/%s", scratch, subdirectory);
    setenv("XDG_CACHE_HOME", path, 1);
}

static void test_round_trip(lua_State *L) {
    use_xdg("xdg");
    LUA(L, "local root = scratch .. '/xdg/cargo-lambda'\n"
           "assert(cache.root() == root, cache.root())\n"
           "local c = assert(cache.open('ns'))\n"
           "assert(tostring(c) == 'cache (' .. root .. '/ns)', tostring(c))\n"
           "local key = 'example-apigw-request.json'\n"
           "assert(c:path(key) == root .. '/ns/' .. key)\n"
           /* Absent entry, even before the directory exists: a single nil. */
           "assert(select('#', c:get(key)) == 1 and c:get(key) == nil)\n"
           "local data = 'a\\0b\\0\\255\\r\\n' .. string.rep('\\0xyz', 300000)\n"
           "assert(c:put(key, data) == true)\n"
           "assert(c:get(key) == data)\n"
           "local file = assert(io.open(root .. '/ns/' .. key, 'rb'))\n"
           "assert(file:read('a') == data)\n"
           "file:close()\n"
           "assert(fs.mode(scratch .. '/xdg') == tonumber('700', 8))\n"
           "assert(fs.mode(root) == tonumber('700', 8))\n"
           "assert(fs.mode(root .. '/ns') == tonumber('700', 8))\n"
           "assert(c:put(key, '') == true and c:get(key) == '')\n"
           "assert(c:put(key, 'second') == true and c:get(key) == 'second')\n"
           "assert(fs.hidden(root .. '/ns') == 0)\n"
           "assert(c:remove(key) == true and c:get(key) == nil)\n"
           "assert(c:remove(key) == true)\n"
           "local other = assert(cache.open('other'))\n"
           "assert(other:put(key, 'x') and other:get(key) == 'x' and c:get(key) == nil)\n");
}

static void test_rejected_keys(lua_State *L) {
    use_xdg("xdg");
    LUA(L, "local c = assert(cache.open('ns'))\n"
           "local bad = {'', 'a/b', '/abs', 'a\\\\b', 'a\\0b', '.', '..', string.rep('k', 256)}\n"
           "for _, key in ipairs(bad) do\n"
           "  for _, method in ipairs({'path', 'get', 'put', 'remove'}) do\n"
           "    local ok, message = c[method](c, key, method == 'put' and 'data' or nil)\n"
           "    assert(ok == nil, method .. ' accepted ' .. key)\n"
           "    assert(message:find('invalid cache key', 1, true), message)\n"
           "    assert(not message:find('\\0', 1, true) and not message:find('\\n', 1, true))\n"
           "  end\n"
           "  local ok, message = cache.open(key)\n"
           "  assert(ok == nil and message:find('invalid cache namespace', 1, true), message)\n"
           "end\n"
           "local ok, message = c:get('../escape')\n"
           "assert(message == \"invalid cache key '../escape': must not contain '/' or '\\\\'\",\n"
           "       message)\n"
           "ok, message = c:get('a\\0b')\n"
           "assert(message == \"invalid cache key 'a\\\\x00b': must not contain NUL\", message)\n"
           "ok, message = cache.open('..')\n"
           "assert(message == \"invalid cache namespace '..': must not be '.' or '..'\", message)\n"
           "for _, key in ipairs({'...', '.hidden', 'a b', string.rep('k', 255)}) do\n"
           "  assert(c:put(key, key) == true and c:get(key) == key, key)\n"
           "  assert(c:remove(key))\n"
           "end\n"
           /* Wrong argument types are programming errors and raise. */
           "assert(not pcall(cache.open))\n"
           "assert(not pcall(c.get, c))\n"
           "assert(not pcall(c.put, c, 'k'))\n"
           "assert(not pcall(c.get, {}, 'k'))\n");
}

static void test_failures_leave_nothing(lua_State *L) {
    use_xdg("xdg");
    LUA(L,
        "local root = scratch .. '/xdg/cargo-lambda'\n"
        /* A regular file where the namespace directory should be (chmod does not stop root). */
        "assert(io.open(root .. '/blocked', 'w')):close()\n"
        "local ok, message = assert(cache.open('blocked')):put('k', 'v')\n"
        "assert(ok == nil and message == 'cannot create ' .. root .. '/blocked: Not a directory',\n"
        "       message)\n"
        /* A directory where the entry should be: rename fails after the data was written. */
        "local c = assert(cache.open('ns'))\n"
        "assert(c:put('keep', 'old'))\n"
        "fs.mkdir(root .. '/ns/occupied')\n"
        "assert(io.open(root .. '/ns/occupied/inside', 'w')):close()\n"
        "ok, message = c:put('occupied', 'data')\n"
        "local prefix = 'cannot replace ' .. root .. '/ns/occupied: '\n"
        "assert(ok == nil and message:sub(1, #prefix) == prefix, message)\n"
        "assert(fs.hidden(root .. '/ns') == 0)\n"
        /* A directory cannot be read as an entry. */
        "ok, message = c:get('occupied')\n"
        "assert(ok == nil and message == 'cannot read ' .. root .. '/ns/occupied: Is a directory',"
        "       message)\n"
        /* A write that fails part way (file size limit): the old entry stays intact. */
        "fs.limit_file_size(1000)\n"
        "ok, message = c:put('keep', string.rep('x', 100000))\n"
        "fs.limit_file_size(nil)\n"
        "prefix = 'cannot write ' .. root .. '/ns/.tmp-'\n"
        "assert(ok == nil and message:sub(1, #prefix) == prefix, message)\n"
        "assert(message:find('File too large', 1, true), message)\n"
        "assert(fs.hidden(root .. '/ns') == 0)\n"
        "assert(c:get('keep') == 'old')\n");
    /* The cache directory itself below a regular file. */
    use_xdg("xdg/cargo-lambda/blocked/deeper");
    LUA(L, "local ok, message = assert(cache.open('ns')):put('k', 'v')\n"
           "assert(ok == nil and message == 'cannot create ' .. scratch .. \n"
           "       '/xdg/cargo-lambda/blocked: Not a directory', message)\n");
}

static void test_links_and_special_entries_are_not_followed(lua_State *L) {
    use_xdg("links");
    LUA(L, "local dir = scratch .. '/links/cargo-lambda/ns'\n"
           "local c = assert(cache.open('ns'))\n"
           "assert(c:put('real', 'cached'))\n"
           "local outside = scratch .. '/outside'\n"
           "assert(io.open(outside, 'w')):write('planted'):close()\n"
           "fs.symlink(outside, dir .. '/link')\n"
           "fs.symlink(scratch .. '/nowhere', dir .. '/dangling')\n"
           /* A link is never read (a miss with a message), never written through nor
            * replaced. */
           "for _, key in ipairs({'link', 'dangling'}) do\n"
           "  local data, message = c:get(key)\n"
           "  assert(data == nil and message == 'cannot read ' .. dir .. '/' .. key ..\n"
           "         ': it is a symbolic link (not followed)', message)\n"
           "  data, message = c:put(key, 'new')\n"
           "  assert(data == nil and message == 'cannot replace ' .. dir .. '/' .. key ..\n"
           "         ': it is a symbolic link (not followed)', message)\n"
           "  assert(fs.is_link(dir .. '/' .. key), key .. ' is still a link')\n"
           "end\n"
           "assert(assert(io.open(outside)):read('a') == 'planted')\n"
           "assert(not io.open(scratch .. '/nowhere'))\n"
           "assert(fs.hidden(dir) == 0)\n"
           /* A FIFO would make open wait for a writer: refused at once. */
           "fs.mkfifo(dir .. '/fifo')\n"
           "local data, message = c:get('fifo')\n"
           "assert(data == nil and message == 'cannot read ' .. dir ..\n"
           "       '/fifo: it is not a regular file', message)\n"
           "assert(c:get('real') == 'cached')\n");
}

static void test_open_folders_are_made_private(lua_State *L) {
    use_xdg("open");
    LUA(L, "local root = scratch .. '/open/cargo-lambda'\n"
           "local warnings = {}\n"
           "local c = assert(cache.open('ns', function(m) warnings[#warnings + 1] = m end))\n"
           "assert(c:put('k', 'v'))\n"
           "assert(#warnings == 0, warnings[1])\n"
           "fs.chmod(root, tonumber('777', 8))\n"
           "fs.chmod(root .. '/ns', tonumber('2775', 8))\n"
           "assert(c:get('k') == 'v')\n"
           "assert(#warnings == 2, #warnings)\n"
           "assert(warnings[1] == 'cache folder ' .. root .. ' was writable by group or '\n"
           "       .. 'others (mode 0777); changed it to 0700', warnings[1])\n"
           "assert(warnings[2] == 'cache folder ' .. root .. '/ns was writable by group or '\n"
           "       .. 'others (mode 2775); changed it to 0700', warnings[2])\n"
           "assert(fs.mode(root) == tonumber('700', 8))\n"
           "assert(fs.mode(root .. '/ns') == tonumber('700', 8))\n"
           /* Once: fixed folders give no further warning. */
           "assert(c:get('k') == 'v' and c:put('k', 'w') and #warnings == 2)\n"
           /* put checks too; without on_warning the warning goes to stderr. */
           "fs.chmod(root .. '/ns', tonumber('757', 8))\n"
           "local plain = assert(cache.open('ns'))\n"
           "fs.stderr_to(scratch .. '/stderr')\n"
           "local ok, message = plain:put('k', 'x')\n"
           "fs.stderr_to(nil)\n"
           "assert(ok, message)\n"
           "local said = assert(io.open(scratch .. '/stderr')):read('a')\n"
           "assert(said == 'warning: cache folder ' .. root .. '/ns was writable by group or '\n"
           "       .. 'others (mode 0757); changed it to 0700\\n', said)\n"
           "assert(fs.mode(root .. '/ns') == tonumber('700', 8) and plain:get('k') == 'x')\n"
           /* Not a directory at all. */
           "assert(io.open(root .. '/file-ns', 'w')):close()\n"
           "ok, message = assert(cache.open('file-ns')):get('k')\n"
           "assert(ok == nil and message == 'cache folder ' .. root ..\n"
           "       '/file-ns is not a directory', message)\n"
           /* A warning function that raises is the caller's error, not a leak or a crash. */
           "fs.chmod(root, tonumber('777', 8))\n"
           "local raising = assert(cache.open('ns', function() error('stop here') end))\n"
           "assert(not pcall(raising.get, raising, 'k'))\n"
           "assert(fs.mode(root) == tonumber('700', 8))\n"
           "assert(not pcall(cache.open, 'ns', 'not a function'))\n");
}

/* Only root can make files that belong to someone else. */
static void test_other_users_are_not_trusted(lua_State *L) {
    if (geteuid() != 0) {
        printf("test_cache: not root, the tests of other users' files are skipped\n");
        return;
    }
    use_xdg("others");
    LUA(L, "local root = scratch .. '/others/cargo-lambda'\n"
           "local c = assert(cache.open('ns'))\n"
           "assert(c:put('mine', 'v') and c:put('theirs', 'planted'))\n"
           "fs.chown(root .. '/ns/theirs', 65534)\n"
           "local data, message = c:get('theirs')\n"
           "assert(data == nil and message == 'cannot read ' .. root ..\n"
           "       '/ns/theirs: it is owned by another user', message)\n"
           "fs.chown(root .. '/ns', 65534)\n"
           "local expected = 'cache folder ' .. root .. '/ns belongs to another user (uid '\n"
           "  .. '65534); not using it'\n"
           "data, message = c:get('mine')\n"
           "assert(data == nil and message == expected, message)\n"
           "data, message = c:put('new', 'v')\n"
           "assert(data == nil and message == expected, message)\n"
           "assert(not io.open(root .. '/ns/new'))\n"
           "assert(fs.hidden(root .. '/ns') == 0)\n");
}

/* get's max_bytes: a larger entry is "too_large", one of exactly max_bytes is read. */
static void test_max_bytes(lua_State *L) {
    use_xdg("sized");
    LUA(L, "local dir = scratch .. '/sized/cargo-lambda/ns'\n"
           "local c = assert(cache.open('ns'))\n"
           "assert(c:put('k', '12345'))\n"
           "assert(c:get('k', 5) == '12345' and c:get('k', 100) == '12345')\n"
           "local data, message, kind = c:get('k', 4)\n"
           "assert(data == nil and kind == 'too_large' and message == 'cannot read ' .. dir ..\n"
           "       '/k: larger than 4 bytes', message)\n"
           "assert(c:get('k', 0) == nil and c:get('absent', 0) == nil)\n"
           "assert(c:put('empty', '') and c:get('empty', 0) == '')\n"
           "local ok, problem = pcall(c.get, c, 'k', -1)\n"
           "assert(not ok and problem:find('max_bytes must be 0 or more', 1, true), problem)\n");
}

/* open_read_only: another program's cache, read with the same rules and never changed. */
static void test_read_only(lua_State *L) {
    LUA(L, "local root = scratch .. '/old'\n"
           "local dir = root .. '/lambda/invoke-fixtures'\n"
           "fs.mkdir(root) fs.mkdir(root .. '/lambda') fs.mkdir(dir)\n"
           "assert(io.open(dir .. '/k', 'w')):write('old entry'):close()\n"
           "local warnings = {}\n"
           "local c = cache.open_read_only(dir .. '//', function(m)\n"
           "  warnings[#warnings + 1] = m\n"
           "end)\n"
           "assert(tostring(c) == 'read-only cache (' .. dir .. ')', tostring(c))\n"
           "assert(c:get('k') == 'old entry' and c:get('absent') == nil)\n"
           "assert(c:path('k') == dir .. '/k')\n"
           "assert(select(3, c:get('k', 3)) == 'too_large')\n"
           /* Writing raises, and leaves everything as it was. */
           "local ok, message = pcall(c.put, c, 'new', 'v')\n"
           "assert(not ok and message:find('cache:put: the cache ' .. dir .. ' is read-only', 1,\n"
           "       true), message)\n"
           "ok, message = pcall(c.remove, c, 'k')\n"
           "assert(not ok and message:find('cache:remove: the cache', 1, true), message)\n"
           "assert(not io.open(dir .. '/new') and c:get('k') == 'old entry')\n"
           /* A link is not followed. */
           "fs.symlink(dir .. '/k', dir .. '/link')\n"
           "local data\n"
           "data, message = c:get('link')\n"
           "assert(data == nil and message == 'cannot read ' .. dir ..\n"
           "       '/link: it is a symbolic link (not followed)', message)\n"
           /* A folder others may write to is refused and left as it is: no fix, no warning. */
           "fs.chmod(root .. '/lambda', tonumber('777', 8))\n"
           "local kind\n"
           "data, message, kind = c:get('k')\n"
           "assert(data == nil and kind == 'io' and message == 'cache folder ' .. root ..\n"
           "       '/lambda is writable by group or others (mode 0777); not using it', message)\n"
           "assert(fs.mode(root .. '/lambda') == tonumber('777', 8) and #warnings == 0)\n"
           "fs.chmod(root .. '/lambda', tonumber('755', 8))\n"
           "fs.chmod(dir, tonumber('775', 8))\n"
           "data, message = c:get('k')\n"
           "assert(data == nil and message:find(dir .. ' is writable by group', 1, true))\n"
           "assert(fs.mode(dir) == tonumber('775', 8))\n"
           /* No folder at all: absent. */
           "assert(cache.open_read_only(scratch .. '/no/such/folder'):get('k') == nil)\n"
           /* Only absolute folders below /. */
           "for _, bad in ipairs({'relative/dir', '/', '//', 'a\\0b'}) do\n"
           "  assert(not pcall(cache.open_read_only, bad), bad)\n"
           "end\n");
}

static void test_home_fallback(lua_State *L) {
    char home[256];
    snprintf(home, sizeof home, "%s/home", scratch);
    setenv("HOME", home, 1);
    unsetenv("XDG_CACHE_HOME");
    LUA(L, "local root = scratch .. '/home/.cache/cargo-lambda'\n"
           "assert(cache.root() == root, cache.root())\n"
           "local c = assert(cache.open('ns'))\n"
           "assert(c:put('k', 'v') and c:get('k') == 'v')\n"
           "assert(fs.mode(scratch .. '/home') == tonumber('700', 8))\n"
           "assert(fs.mode(scratch .. '/home/.cache') == tonumber('700', 8))\n"
           "assert(io.open(root .. '/ns/k')):close()\n");
    setenv("XDG_CACHE_HOME", "", 1);
    LUA(L, "assert(cache.root() == scratch .. '/home/.cache/cargo-lambda')\n");
    setenv("XDG_CACHE_HOME", "relative/cache", 1);
    LUA(L, "assert(cache.root() == scratch .. '/home/.cache/cargo-lambda')\n");
    unsetenv("XDG_CACHE_HOME");
    setenv("HOME", "relative", 1);
    LUA(L, "local ok, message = cache.root()\n"
           "assert(ok == nil and message:find('HOME', 1, true), message)\n");
    unsetenv("HOME");
    LUA(L, "local ok, message = cache.root()\n"
           "assert(ok == nil and message == 'cannot find the cache directory: HOME is not set')\n"
           "ok, message = cache.open('ns')\n"
           "assert(ok == nil and message:find('HOME is not set', 1, true), message)\n");
    /* XDG_CACHE_HOME alone is enough. */
    use_xdg("xdg");
    LUA(L, "assert(cache.root() == scratch .. '/xdg/cargo-lambda')\n");
}

int main(void) {
    if (!mkdtemp(scratch)) {
        perror("mkdtemp");
        return 2;
    }
    umask(022);
    /* RLIMIT_FSIZE must make write() fail with EFBIG, not kill the process. */
    signal(SIGXFSZ, SIG_IGN);
    lua_State *L = check_new_state();
    test_round_trip(L);
    test_rejected_keys(L);
    test_failures_leave_nothing(L);
    test_links_and_special_entries_are_not_followed(L);
    test_open_folders_are_made_private(L);
    test_other_users_are_not_trusted(L);
    test_max_bytes(L);
    test_read_only(L);
    test_home_fallback(L);
    lua_close(L);
    check_remove_tree(scratch);
    return check_report("test_cache");
}
