#include "common/luax.h"

#include <errno.h>
#include <lauxlib.h>
#include <stdbool.h>
#include <string.h>
#include <unistd.h>

#include "common/ascii.h"

#define FD_GUARD_TYPE "lambda.fd_guard"
#define ARRAY_METATABLE "lambda.array"
#define DIR_GUARD_TYPE "lambda.dir_guard"

int luax_push_failure(lua_State *L, const char *kind, const char *message) {
    luaL_pushfail(L);
    lua_pushstring(L, message);
    lua_pushstring(L, kind);
    return 3;
}

const char *luax_errno_kind(int error) {
    return error == ENOENT || error == ENOTDIR || error == ESRCH ? "not_found" : "io";
}

int luax_push_errno_failure(lua_State *L, const char *name, int error) {
    luaL_pushfail(L);
    lua_pushfstring(L, "%s: %s", name, strerror(error));
    lua_pushstring(L, luax_errno_kind(error));
    lua_pushinteger(L, error);
    return 4;
}

void luax_check_fields(lua_State *L, int index, int arg, const char *prefix,
                       const char *const allowed[]) {
    index = lua_absindex(L, index);
    lua_pushnil(L);
    while (lua_next(L, index)) {
        lua_pop(L, 1);
        bool known = false;
        if (lua_type(L, -1) == LUA_TSTRING) {
            const char *key = lua_tostring(L, -1);
            for (const char *const *name = allowed; *name && !known; name++)
                known = strcmp(*name, key) == 0;
        }
        if (!known) {
            const char *key = luaL_tolstring(L, -1, NULL);
            luaL_argerror(L, arg, lua_pushfstring(L, "unknown field '%s%s'", prefix, key));
        }
    }
}

void luax_push_array_mt(lua_State *L) {
    luaL_newmetatable(L, ARRAY_METATABLE);
}

void luax_new_class(lua_State *L, const char *type, const luaL_Reg *metamethods,
                    const luaL_Reg *methods) {
    luaL_newmetatable(L, type);
    if (metamethods)
        luaL_setfuncs(L, metamethods, 0);
    if (methods) {
        lua_newtable(L);
        luaL_setfuncs(L, methods, 0);
        lua_setfield(L, -2, "__index");
    }
    lua_pop(L, 1);
}

int luax_traceback(lua_State *L) {
    const char *message = lua_tostring(L, 1);
    if (!message)
        message = luaL_tolstring(L, 1, NULL);
    luaL_traceback(L, L, message, 1);
    return 1;
}

void luax_push_lower(lua_State *L, const char *text, size_t length) {
    luaL_Buffer buffer;
    char *out = luaL_buffinitsize(L, &buffer, length);
    for (size_t i = 0; i < length; i++)
        out[i] = (char)ascii_to_lower((unsigned char)text[i]);
    luaL_pushresultsize(&buffer, length);
}

int luax_close_fd(int *slot) {
    int result = 0;
    if (*slot >= 0)
        result = close(*slot);
    *slot = -1;
    return result;
}

static int fd_guard_close(lua_State *L) {
    luax_close_fd(luaL_checkudata(L, 1, FD_GUARD_TYPE));
    return 0;
}

/* Gives the userdata on top of the stack the guard metatable `type` closing with `close`. */
static void set_guard_metatable(lua_State *L, const char *type, lua_CFunction close) {
    if (luaL_newmetatable(L, type)) {
        lua_pushcfunction(L, close);
        lua_setfield(L, -2, "__gc");
        lua_pushcfunction(L, close);
        lua_setfield(L, -2, "__close");
    }
    lua_setmetatable(L, -2);
}

int *luax_push_fd_guard(lua_State *L) {
    int *slot = lua_newuserdatauv(L, sizeof *slot, 0);
    *slot = -1;
    set_guard_metatable(L, FD_GUARD_TYPE, fd_guard_close);
    return slot;
}

void luax_close_dir(DIR **slot) {
    if (*slot)
        closedir(*slot);
    *slot = NULL;
}

static int dir_guard_close(lua_State *L) {
    luax_close_dir(luaL_checkudata(L, 1, DIR_GUARD_TYPE));
    return 0;
}

DIR **luax_push_dir_guard(lua_State *L) {
    DIR **slot = lua_newuserdatauv(L, sizeof *slot, 0);
    *slot = NULL;
    set_guard_metatable(L, DIR_GUARD_TYPE, dir_guard_close);
    return slot;
}
