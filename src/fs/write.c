/* lambda.fs.write_private(path, data): a file only this user may read, never seen half-written,
 * for what tools share in the user's folders (the AWS CLI's cached role credentials and SSO
 * tokens). Missing folders are created with mode 0700 (existing ones are left as they are);
 * the data goes to a new file of mode 0600 beside the target, which then replaces it with a
 * rename (a link at path is replaced, never written through).
 *
 *   write_private(path, data) -> true | nil, "cannot <action> <path>: <why>", kind, errno
 *     kind "not_found" (ENOENT, ENOTDIR) or "io" (the errno follows); "input" for a path
 *     that is not absolute or names a folder */
#include "fs/write.h"

#include <errno.h>
#include <lauxlib.h>
#include <string.h>

#include "common/luax.h"
#include "common/private_write.h"

#define TEMP_SUFFIX "/.tmp-XXXXXX"

static int push_failure(lua_State *L, const struct io_failure *failure) {
    lua_pushfstring(L, "cannot %s %s", failure->action, failure->path);
    return luax_push_errno_failure(L, lua_tostring(L, -1), failure->error);
}

int fs_write_private(lua_State *L) {
    size_t path_length, size;
    const char *path = luaL_checklstring(L, 1, &path_length);
    const char *data = luaL_checklstring(L, 2, &size);
    const char *slash = strrchr(path, '/');
    if (path[0] != '/' || !slash || slash[1] == '\0' || memchr(path, '\0', path_length)) {
        lua_pushfstring(L, "cannot write %s: not an absolute path to a file", path);
        return luax_push_failure(L, "input", lua_tostring(L, -1));
    }
    /* Copies in Lua-owned memory: the helpers modify them, and a Lua error cannot leak them. */
    size_t directory_length = slash == path ? 1 : (size_t)(slash - path);
    char *directory = lua_newuserdatauv(L, directory_length + 1, 0);
    memcpy(directory, path, directory_length);
    directory[directory_length] = '\0';
    char *temp = lua_newuserdatauv(L, directory_length + sizeof TEMP_SUFFIX, 0);
    memcpy(temp, path, directory_length);
    memcpy(temp + directory_length, TEMP_SUFFIX, sizeof TEMP_SUFFIX);
    struct io_failure failure;
    if (!private_make_directories(directory, &failure) ||
        !private_write_atomically(directory, temp, path, data, size, &failure))
        return push_failure(L, &failure);
    lua_pushboolean(L, 1);
    return 1;
}
