/* What the C unit tests share: a count of checks and failures with CHECK and the closing
 * report, Lua chunks run as checks, and lookups in the tables a parser returns. Every test is
 * an executable of its own, so the counters here are that test's. */
#ifndef CLC_TESTS_UNIT_CHECK_H
#define CLC_TESTS_UNIT_CHECK_H

#include <lauxlib.h>
#include <lualib.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int check_count, check_failures;

/* Counts one check; when it failed, prints the formatted reason as a line on stderr.
 * Returns ok, so that a test can go on only when it held. */
__attribute__((format(printf, 2, 3))) static inline int check_that(int ok, const char *format,
                                                                   ...) {
    check_count++;
    if (!ok) {
        va_list arguments;
        va_start(arguments, format);
        vfprintf(stderr, format, arguments);
        va_end(arguments);
        fputc('\n', stderr);
        check_failures++;
    }
    return ok;
}

/* Whether condition holds; a failure names the file, the line and the condition. */
#define CHECK(condition)                                                                           \
    check_that(!!(condition), "%s:%d: check failed: %s", __FILE__, __LINE__, #condition)

/* Prints the totals (a failure on stderr) and returns main's exit status. */
static inline int check_report(const char *test) {
    if (check_failures) {
        fprintf(stderr, "%s: %d of %d checks failed\n", test, check_failures, check_count);
        return 1;
    }
    printf("%s: all %d checks passed\n", test, check_count);
    return 0;
}

/* "file:line" of the place it is written, as a string literal: names a chunk after it. */
#define CHECK_HERE __FILE__ ":" CHECK_LINE_TEXT(__LINE__)
#define CHECK_LINE_TEXT(line) CHECK_STRINGIFY(line)
#define CHECK_STRINGIFY(text) #text

/* A fresh state with the standard libraries; lack of memory ends the test. */
static inline lua_State *check_new_state(void) {
    lua_State *L = luaL_newstate();
    if (!L) {
        fputs("out of memory\n", stderr);
        exit(EXIT_FAILURE);
    }
    luaL_openlibs(L);
    return L;
}

/* Puts open in package.preload as name: require(name) loads the module inside the chunk,
 * and again after package.loaded forgets it. */
static inline void check_preload(lua_State *L, const char *name, lua_CFunction open) {
    luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_PRELOAD_TABLE);
    lua_pushcfunction(L, open);
    lua_setfield(L, -2, name);
    lua_pop(L, 1);
}

static inline int check_traceback(lua_State *L) {
    luaL_traceback(L, L, lua_tostring(L, 1), 1);
    return 1;
}

/* Runs prelude followed by chunk as one chunk named name, with the nargs values on top of the
 * stack (taken off it) as `...`. One check, which fails with "name: error and traceback" when
 * the chunk does not compile or raises. Returns whether it passed. */
static inline int check_lua(lua_State *L, const char *name, const char *prelude, const char *chunk,
                            int nargs) {
    int base = lua_gettop(L) - nargs;
    lua_pushcfunction(L, check_traceback);
    lua_pushfstring(L, "%s%s", prelude, chunk);
    int status = luaL_loadbuffer(L, lua_tostring(L, -1), lua_rawlen(L, -1), name);
    lua_remove(L, -2);
    if (status == LUA_OK) {
        lua_rotate(L, base + 1, 2); /* the handler and the chunk go below the arguments */
        status = lua_pcall(L, nargs, 0, base + 1);
    }
    const char *message = status == LUA_OK ? NULL : lua_tostring(L, -1);
    int ok = check_that(status == LUA_OK, "%s: %s", name, message ? message : "(no message)");
    lua_settop(L, base);
    return ok;
}

/* Running chunk raises an error, as a call with arguments of the wrong types must. One check;
 * the stack is left as found. */
#define CHECK_RAISES(L, chunk) check_raises_at(L, chunk, __FILE__, __LINE__)

static inline int check_raises_at(lua_State *L, const char *chunk, const char *file, int line) {
    int top = lua_gettop(L);
    int raised = luaL_dostring(L, chunk) != LUA_OK;
    lua_settop(L, top);
    return check_that(raised, "%s:%d: no error from: %s", file, line, chunk);
}

/* Local functions for chunks that test a module: eq(got, want, what) and raises(text, f, ...)
 * (f raises an error holding text; returns the message) fail the chunk with a message saying
 * what differed, one level up; hex(bytes) is lower-case hexadecimal. */
#define CHECK_LUA_HELPERS                                                                          \
    "local function eq(got, want, what)\n"                                                         \
    "  if got ~= want then\n"                                                                      \
    "    error(string.format('%s:\\n got      %q\\n expected %q', what, tostring(got),\n"          \
    "                        tostring(want)), 2)\n"                                                \
    "  end\n"                                                                                      \
    "end\n"                                                                                        \
    "local function raises(text, f, ...)\n"                                                        \
    "  local ok, message = pcall(f, ...)\n"                                                        \
    "  assert(not ok, 'expected an error holding ' .. text)\n"                                     \
    "  assert(tostring(message):find(text, 1, true), tostring(message))\n"                         \
    "  return tostring(message)\n"                                                                 \
    "end\n"                                                                                        \
    "local function hex(bytes)\n"                                                                  \
    "  return (bytes:gsub('.', function(c) return string.format('%02x', c:byte()) end))\n"         \
    "end\n"

/* Pushes the value at path below the table at stack index root: the parts between separators
 * are keys, all-digit parts index arrays, and a step out of a value that is no table gives
 * nil. Returns the value's type. */
static inline int check_push_path(lua_State *L, int root, char separator, const char *path) {
    const char separators[] = {separator, '\0'};
    lua_pushvalue(L, root);
    while (*path) {
        size_t length = strcspn(path, separators);
        if (lua_type(L, -1) != LUA_TTABLE) {
            lua_pop(L, 1);
            lua_pushnil(L);
            return LUA_TNIL;
        }
        if (strspn(path, "0123456789") >= length) {
            lua_rawgeti(L, -1, strtoll(path, NULL, 10));
        } else {
            lua_pushlstring(L, path, length);
            lua_rawget(L, -2);
        }
        lua_remove(L, -2);
        path += length + (path[length] == separator);
    }
    return lua_type(L, -1);
}

/* The type of the value at path (as check_push_path finds it). */
static inline int check_type_at(lua_State *L, int root, char separator, const char *path) {
    int type = check_push_path(L, root, separator, path);
    lua_pop(L, 1);
    return type;
}

/* The value at path (as check_push_path finds it) is the string expected; prints what it is
 * instead. */
static inline int check_string_at(lua_State *L, int root, char separator, const char *path,
                                  const char *expected) {
    int ok = check_push_path(L, root, separator, path) == LUA_TSTRING &&
             strcmp(lua_tostring(L, -1), expected) == 0;
    if (!ok)
        fprintf(stderr, "  %s: expected \"%s\", got %s\n", path, expected,
                luaL_tolstring(L, -1, NULL));
    lua_settop(L, lua_gettop(L) - (ok ? 1 : 2));
    return ok;
}

enum check_match { CHECK_WHOLE, CHECK_PREFIX };

/* After a call that answers nil, message when it fails: failed says whether it did, and its
 * message (or its result) is on top. True when the message is expected, or with CHECK_PREFIX
 * starts with it; prints what came instead. The caller restores the stack. */
static inline int check_failed_with(lua_State *L, int failed, const char *expected,
                                    enum check_match match) {
    int ok = failed && lua_type(L, -1) == LUA_TSTRING;
    if (ok && match == CHECK_PREFIX)
        ok = strncmp(lua_tostring(L, -1), expected, strlen(expected)) == 0;
    else if (ok)
        ok = strcmp(lua_tostring(L, -1), expected) == 0;
    if (!ok)
        fprintf(stderr, "  expected %s \"%s\", got %s\n",
                match == CHECK_PREFIX ? "an error starting" : "the error", expected,
                luaL_tolstring(L, -1, NULL));
    return ok;
}

/* Pushes the bytes of directory/name in the source tree ($CARGO_LAMBDA_SOURCE_DIR, else the
 * working directory); or prints why it cannot and returns 0. */
static inline int check_push_source_file(lua_State *L, const char *directory, const char *name) {
    const char *root = getenv("CARGO_LAMBDA_SOURCE_DIR");
    lua_pushfstring(L, "%s/%s/%s", root && *root ? root : ".", directory, name);
    FILE *file = fopen(lua_tostring(L, -1), "rb");
    if (!file) {
        fprintf(stderr, "  cannot open %s\n", lua_tostring(L, -1));
        lua_pop(L, 1);
        return 0;
    }
    lua_pop(L, 1);
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    size_t n;
    do {
        n = fread(luaL_prepbuffer(&b), 1, LUAL_BUFFERSIZE, file);
        luaL_addsize(&b, n);
    } while (n == LUAL_BUFFERSIZE);
    fclose(file);
    luaL_pushresult(&b);
    return 1;
}

/* Removes a scratch directory made with mkdtemp and everything in it (its name needs no
 * quoting beyond '...'). */
static inline void check_remove_tree(const char *path) {
    char command[512];
    snprintf(command, sizeof command, "rm -rf '%s'", path);
    if (system(command) != 0)
        fprintf(stderr, "could not remove %s\n", path);
}

#endif
