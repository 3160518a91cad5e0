/* The host: builds the Lua state, loads the embedded scripts and hands argv to
 * lua/cargo_lambda/main.lua. Everything a user sees is decided in Lua; this file only wires C to
 * Lua. */
#define _POSIX_C_SOURCE 200809L /* readlink */

#include "host/host.h"

#include <lauxlib.h>
#include <limits.h>
#include <lua-cjson.h>
#include <lualib.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/fd_limit.h"
#include "common/luax.h"
#include "host/embedded.h"
#include "host/heap.h"
#include "host/lua_pool.h"
#include "host/modules.h"

/* Status for a failure inside our own scripts, distinct from the documented 0-3. */
#define EXIT_INTERNAL 70

/* lambda.build: facts about this binary: its version (the one version string is CMake's
 * project version) and its path, so that a script can start functions with the same binary
 * (`cargo-lambda run handler.lua`). The path is read on first use: readlink of /proc/self/exe
 * costs about 0.1 ms of every start here, and only scripts that start functions need it. */
static int build_index(lua_State *L) {
    if (strcmp(luaL_checkstring(L, 2), "executable") != 0)
        return 0;
    char path[PATH_MAX];
    ssize_t length = readlink("/proc/self/exe", path, sizeof path - 1);
    if (length <= 0)
        return 0;
    lua_pushlstring(L, path, (size_t)length);
    lua_pushvalue(L, -1);
    lua_setfield(L, 1, "executable"); /* read once */
    return 1;
}

static int luaopen_lambda_build(lua_State *L) {
    lua_createtable(L, 0, 2);
    lua_pushliteral(L, CLC_VERSION);
    lua_setfield(L, -2, "version");
    lua_createtable(L, 0, 1);
    lua_pushcfunction(L, build_index);
    lua_setfield(L, -2, "__index");
    lua_setmetatable(L, -2);
    return 1;
}

static const luaL_Reg preloaded_modules[] = {
    {"lambda.build", luaopen_lambda_build},
    {"cjson", luaopen_cjson},
    {"lambda.http", luaopen_lambda_http},
    {"lambda.json", luaopen_lambda_json},
    {"lambda.toml", luaopen_lambda_toml},
    {"lambda.cache", luaopen_lambda_cache},
    {"lambda.fs", luaopen_lambda_fs},
    {"lambda.time", luaopen_lambda_time},
    {"lambda.crypto", luaopen_lambda_crypto},
    {"lambda.sigv4", luaopen_lambda_sigv4},
    {"lambda.ini", luaopen_lambda_ini},
    {"lambda.xml", luaopen_lambda_xml},
    {"lambda.event", luaopen_lambda_event},
    {"lambda.histogram", luaopen_lambda_histogram},
    {"lambda.eventstream", luaopen_lambda_eventstream},
    {NULL, NULL},
};

/* package.searchers entry. With CARGO_LAMBDA_LUA_DIR set, modules are read from that source
 * tree (for development without rebuilding); otherwise from the copies compiled in. */
static int search_embedded(lua_State *L) {
    const char *module = luaL_checkstring(L, 1);
    const char *dev_dir = getenv("CARGO_LAMBDA_LUA_DIR");
    if (dev_dir && *dev_dir) {
        luaL_Buffer path;
        luaL_buffinit(L, &path);
        luaL_addstring(&path, dev_dir);
        luaL_addchar(&path, '/');
        for (const char *c = module; *c; c++)
            luaL_addchar(&path, *c == '.' ? '/' : *c);
        luaL_addstring(&path, ".lua");
        luaL_pushresult(&path);
        const char *filename = lua_tostring(L, -1);
        FILE *probe = fopen(filename, "rb");
        if (!probe) {
            lua_pushfstring(L, "\n\tno file '%s'", filename);
            return 1;
        }
        fclose(probe);
        if (luaL_loadfile(L, filename) != LUA_OK)
            return luaL_error(L, "error loading module '%s' from '%s':\n\t%s", module, filename,
                              lua_tostring(L, -1));
        lua_pushstring(L, filename);
        return 2;
    }
    for (const struct embedded_script *s = embedded_scripts; s->module; s++) {
        if (strcmp(s->module, module) != 0)
            continue;
        lua_pushfstring(L, "@%s", s->path);
        if (luaL_loadbufferx(L, (const char *)s->text, s->length, lua_tostring(L, -1), "b") !=
            LUA_OK)
            return luaL_error(L, "error loading embedded module '%s':\n\t%s", module,
                              lua_tostring(L, -1));
        lua_pushstring(L, s->path);
        return 2;
    }
    lua_pushfstring(L, "\n\tno embedded module '%s'", module);
    return 1;
}

#ifndef CLC_SANITIZED
/* What luaL_newstate would set, for a state made with lua_newstate: a panic message, and
 * warnings (warn() in Lua) off until "@on", then written to stderr, "@off" turning them off
 * again. Which of the three warning functions is set is the state of the switch. */
static int panic(lua_State *L) {
    const char *message = lua_tostring(L, -1);
    fprintf(stderr, "cargo-lambda: unprotected Lua error: %s\n",
            message ? message : "(an error object that is not a string)");
    return 0; /* Lua aborts */
}

static void warn_off(void *ud, const char *message, int to_continue);
static void warn_on(void *ud, const char *message, int to_continue);

/* A control message is a whole warning starting with '@'; unknown ones are ignored. */
static bool warn_control(lua_State *L, const char *message, int to_continue) {
    if (to_continue || message[0] != '@')
        return false;
    if (strcmp(message, "@off") == 0)
        lua_setwarnf(L, warn_off, L);
    else if (strcmp(message, "@on") == 0)
        lua_setwarnf(L, warn_on, L);
    return true;
}

static void warn_off(void *ud, const char *message, int to_continue) {
    warn_control(ud, message, to_continue);
}

/* The rest of a warning given in pieces. */
static void warn_piece(void *ud, const char *message, int to_continue) {
    fputs(message, stderr);
    if (to_continue) {
        lua_setwarnf(ud, warn_piece, ud);
    } else {
        fputc('\n', stderr);
        lua_setwarnf(ud, warn_on, ud);
    }
}

static void warn_on(void *ud, const char *message, int to_continue) {
    if (warn_control(ud, message, to_continue))
        return;
    fputs("Lua warning: ", stderr);
    warn_piece(ud, message, to_continue);
}

#endif

/* The state allocates from a lua_pool (lua_pool.c), or with malloc in the sanitizer builds,
 * which then see every Lua object as a block of its own. */
static lua_State *new_bare_state(void) {
#ifdef CLC_SANITIZED
    return luaL_newstate();
#else
    struct lua_pool *pool = lua_pool_new();
    if (!pool)
        return NULL;
    lua_State *L = lua_newstate(lua_pool_alloc, pool);
    if (!L) {
        lua_pool_free(pool);
        return NULL;
    }
    lua_atpanic(L, panic);
    lua_setwarnf(L, warn_off, L);
    return L;
#endif
}

void host_close_state(lua_State *L) {
    void *pool = NULL;
    lua_Alloc alloc = lua_getallocf(L, &pool);
    lua_close(L);
    if (alloc == lua_pool_alloc)
        lua_pool_free(pool);
}

lua_State *host_new_state(void) {
    lua_State *L = new_bare_state();
    if (!L)
        return NULL;
    luaL_openlibs(L);
    luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_PRELOAD_TABLE);
    for (const luaL_Reg *m = preloaded_modules; m->name; m++) {
        lua_pushcfunction(L, m->func);
        lua_setfield(L, -2, m->name);
    }
    lua_pop(L, 1);
    /* Embedded scripts come right after package.preload, before the file-system searchers, so
     * a stray cli.lua in the user's directory cannot replace ours. */
    lua_getglobal(L, "package");
    lua_getfield(L, -1, "searchers");
    lua_Integer count = luaL_len(L, -1);
    for (lua_Integer i = count; i >= 2; i--) {
        lua_rawgeti(L, -1, i);
        lua_rawseti(L, -2, i + 1);
    }
    lua_pushcfunction(L, search_embedded);
    lua_rawseti(L, -2, 2);
    lua_pop(L, 2);
    return L;
}

/* Protected body: main = require "cargo_lambda.main"; return main(args). */
static int run_main(lua_State *L) {
    int argc = (int)lua_tointeger(L, 1);
    char **argv = lua_touserdata(L, 2);
    lua_getglobal(L, "require");
    lua_pushliteral(L, "cargo_lambda.main");
    lua_call(L, 1, 1);
    lua_createtable(L, argc, 1);
    for (int i = 0; i < argc; i++) {
        lua_pushstring(L, argv[i]);
        lua_rawseti(L, -2, i);
    }
    lua_call(L, 1, 1);
    return 1;
}

int host_main(int argc, char **argv) {
    heap_prefault();
    fd_limit_raise();
    lua_State *L = host_new_state();
    if (!L) {
        fputs("cargo-lambda: out of memory\n", stderr);
        return EXIT_INTERNAL;
    }
    lua_pushcfunction(L, luax_traceback);
    lua_pushcfunction(L, run_main);
    lua_pushinteger(L, argc);
    lua_pushlightuserdata(L, argv);
    int status;
    if (lua_pcall(L, 2, 1, 1) != LUA_OK) {
        fprintf(stderr, "cargo-lambda: internal error: %s\n", lua_tostring(L, -1));
        status = EXIT_INTERNAL;
    } else {
        status = lua_isinteger(L, -1) ? (int)lua_tointeger(L, -1) : 0;
    }
    fflush(stdout);
    host_close_state(L);
    return status;
}
