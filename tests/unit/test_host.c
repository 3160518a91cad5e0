/* The host: preloaded C modules, the embedded-script searcher and CARGO_LAMBDA_LUA_DIR. */
#define _POSIX_C_SOURCE 200809L
#include <lauxlib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "host/host.h"
#include "host/lua_pool.h"

/* Runs a chunk that returns one string; returns a malloc'd copy or NULL on error. */
static char *eval_string(lua_State *L, const char *code) {
    if (luaL_dostring(L, code) != LUA_OK) {
        fprintf(stderr, "lua error: %s\n", lua_tostring(L, -1));
        lua_pop(L, 1);
        return NULL;
    }
    char *copy = lua_isstring(L, -1) ? strdup(lua_tostring(L, -1)) : NULL;
    lua_settop(L, 0);
    return copy;
}

static void test_preloaded_and_embedded_modules(void) {
    unsetenv("CARGO_LAMBDA_LUA_DIR");
    lua_State *L = host_new_state();
    CHECK(L != NULL);
#ifndef CLC_SANITIZED
    /* The state's small blocks come from the free lists (host/lua_pool.c), not malloc. */
    CHECK(lua_getallocf(L, NULL) == lua_pool_alloc);
#endif
    const char *modules[] = {
        "lambda.http", "lambda.json", "lambda.toml",      "lambda.cache",
        "lambda.fs",   "cjson",       "cargo_lambda.cli", "cargo_lambda.commands.invoke"};
    for (size_t i = 0; i < sizeof modules / sizeof modules[0]; i++) {
        char code[128];
        snprintf(code, sizeof code, "return type(require(%s%s%s))", "\"", modules[i], "\"");
        char *type = eval_string(L, code);
        CHECK(type != NULL && strcmp(type, "table") == 0);
        free(type);
    }
    /* Embedded chunks are named after their source path, so tracebacks point at lua/. */
    char *source =
        eval_string(L, "return debug.getinfo(require('cargo_lambda.cli').parse, 'S').source");
    CHECK(source != NULL && strcmp(source, "@lua/cargo_lambda/cli.lua") == 0);
    free(source);
    char *missing = eval_string(
        L, "local ok, err = pcall(require, 'no.such.module') return tostring(ok) .. err");
    CHECK(missing != NULL && strstr(missing, "false") == missing);
    CHECK(missing != NULL && strstr(missing, "no embedded module 'no.such.module'") != NULL);
    free(missing);
    host_close_state(L);
}

static void test_development_directory_overrides_embedded_scripts(void) {
    char dir[] = "/tmp/clc-host-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char path[256];
    snprintf(path, sizeof path, "%s/cli.lua", dir);
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    if (!f)
        return;
    fputs("return { from_dev_dir = true }\n", f);
    fclose(f);
    setenv("CARGO_LAMBDA_LUA_DIR", dir, 1);
    lua_State *L = host_new_state();
    char *flag = eval_string(L, "return tostring(require('cli').from_dev_dir)");
    CHECK(flag != NULL && strcmp(flag, "true") == 0);
    free(flag);
    /* A module missing from the development tree is not silently taken from the binary. */
    char *missing = eval_string(L, "return tostring(pcall(require, 'commands.invoke'))");
    CHECK(missing != NULL && strcmp(missing, "false") == 0);
    free(missing);
    host_close_state(L);
    unsetenv("CARGO_LAMBDA_LUA_DIR");
    unlink(path);
    rmdir(dir);
}

int main(void) {
    test_preloaded_and_embedded_modules();
    test_development_directory_overrides_embedded_scripts();
    return check_report("test_host");
}
