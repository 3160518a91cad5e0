/* Unit tests of lambda.toml through the Lua API, centred on what users write in Cargo.toml.
 * The full TOML 1.0 conformance run is tests/e2e/test_toml_suite.py. */
#include <lauxlib.h>
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "host/modules.h"

/* Stack slots: the module table, and the document of the test at hand once decoded. */
#define MODULE 1
#define DOCUMENT 2

/* toml.decode(text): 1 with the document on top, or 0 with the error message on top. */
static int decode(lua_State *L, const char *text, size_t length) {
    lua_getfield(L, MODULE, "decode");
    lua_pushlstring(L, text, length);
    lua_call(L, 1, 2);
    if (lua_isnil(L, -2)) {
        lua_remove(L, -2);
        return 0;
    }
    CHECK(lua_isnil(L, -1)); /* no second result on success */
    lua_pop(L, 1);
    return 1;
}

#define DECODE(L, literal) decode(L, literal, sizeof literal - 1)

/* Values in the DOCUMENT by dotted path; all-digit parts index arrays. */
#define push_path(L, path) check_push_path(L, DOCUMENT, '.', path)
#define string_is(L, path, expected) check_string_at(L, DOCUMENT, '.', path, expected)
#define type_is(L, path, type) (check_type_at(L, DOCUMENT, '.', path) == (type))

static int integer_is(lua_State *L, const char *path, lua_Integer expected) {
    push_path(L, path);
    int ok = lua_isinteger(L, -1) && lua_tointeger(L, -1) == expected;
    lua_pop(L, 1);
    return ok;
}

/* toml.is_array / toml.is_datetime applied to the value at path. */
static int module_predicate(lua_State *L, const char *predicate, const char *path) {
    lua_getfield(L, MODULE, predicate);
    push_path(L, path);
    lua_call(L, 1, 1);
    int result = lua_toboolean(L, -1);
    lua_pop(L, 1);
    return result;
}

static int length_is(lua_State *L, const char *path, lua_Integer expected) {
    push_path(L, path);
    int ok = lua_type(L, -1) == LUA_TTABLE && (lua_Integer)lua_rawlen(L, -1) == expected;
    lua_pop(L, 1);
    return ok;
}

/* decode fails and its message starts with `prefix`. */
static int error_starts_with(lua_State *L, const char *text, size_t length, const char *prefix) {
    int top = lua_gettop(L);
    int ok = check_failed_with(L, !decode(L, text, length), prefix, CHECK_PREFIX);
    lua_settop(L, top);
    return ok;
}

#define ERROR_STARTS_WITH(L, literal, prefix)                                                      \
    CHECK(error_starts_with(L, literal, sizeof literal - 1, prefix))

static void test_cargo_manifest(lua_State *L) {
    static const char manifest[] = "# A typical Lambda function crate\n"
                                   "[package]\n"
                                   "name = \"my-lambda\"\n"
                                   "version = \"0.1.0\"\n"
                                   "edition = \"2021\"\n"
                                   "authors = [\"Ann <ann@example.com>\", 'Bob']\n"
                                   "description = \"\"\"\n"
                                   "A function \\\n"
                                   "    that answers.\"\"\"\n"
                                   "\n"
                                   "[dependencies]\n"
                                   "lambda_runtime = \"0.13\"\n"
                                   "tokio = { version = \"1\", features = [\"macros\"] }\n"
                                   "serde.version = \"1.0\"\n"
                                   "serde.features = [\"derive\"]\n"
                                   "\n"
                                   "[dev-dependencies]\n"
                                   "\n"
                                   "[[bin]]\n"
                                   "name = \"first\"\n"
                                   "path = \"src/bin/first.rs\"\n"
                                   "\n"
                                   "[[bin]]\n"
                                   "name = \"second\"\n"
                                   "\n"
                                   "[package.metadata.lambda.deploy]\n"
                                   "memory = 512\n"
                                   "timeout = 30\n"
                                   "env = { RUST_LOG = \"info\" }\n"
                                   "\n"
                                   "[profile.release]\n"
                                   "lto = true\n"
                                   "opt-level = 3\n"
                                   "codegen-units = 1\n";
    if (!CHECK(DECODE(L, manifest)))
        return;
    CHECK(string_is(L, "package.name", "my-lambda"));
    CHECK(string_is(L, "package.version", "0.1.0"));
    CHECK(module_predicate(L, "is_array", "package.authors"));
    CHECK(length_is(L, "package.authors", 2));
    CHECK(string_is(L, "package.authors.2", "Bob"));
    CHECK(string_is(L, "package.description", "A function that answers."));
    CHECK(string_is(L, "dependencies.lambda_runtime", "0.13"));
    CHECK(string_is(L, "dependencies.tokio.version", "1"));
    CHECK(string_is(L, "dependencies.tokio.features.1", "macros"));
    CHECK(string_is(L, "dependencies.serde.version", "1.0"));
    CHECK(string_is(L, "dependencies.serde.features.1", "derive"));
    CHECK(type_is(L, "dev-dependencies", LUA_TTABLE));
    CHECK(!module_predicate(L, "is_array", "dev-dependencies"));
    CHECK(module_predicate(L, "is_array", "bin"));
    CHECK(length_is(L, "bin", 2));
    CHECK(string_is(L, "bin.1.name", "first"));
    CHECK(string_is(L, "bin.1.path", "src/bin/first.rs"));
    CHECK(string_is(L, "bin.2.name", "second"));
    CHECK(type_is(L, "bin.2.path", LUA_TNIL));
    CHECK(integer_is(L, "package.metadata.lambda.deploy.memory", 512));
    CHECK(integer_is(L, "package.metadata.lambda.deploy.timeout", 30));
    CHECK(string_is(L, "package.metadata.lambda.deploy.env.RUST_LOG", "info"));
    CHECK(type_is(L, "profile.release.lto", LUA_TBOOLEAN));
    CHECK(integer_is(L, "profile.release.opt-level", 3));
    lua_pop(L, 1);
}

static void test_arrays(lua_State *L) {
    if (!CHECK(DECODE(L, "empty = []\ntable = {}\nmixed = [1, 'a', [2.5], {x = 1}, ]\n")))
        return;
    CHECK(module_predicate(L, "is_array", "empty"));
    CHECK(length_is(L, "empty", 0));
    CHECK(!module_predicate(L, "is_array", "table"));
    CHECK(length_is(L, "table", 0));
    CHECK(module_predicate(L, "is_array", "mixed"));
    CHECK(length_is(L, "mixed", 4));
    CHECK(module_predicate(L, "is_array", "mixed.3"));
    CHECK(!module_predicate(L, "is_array", "mixed.4"));
    push_path(L, "mixed.3.1");
    CHECK(lua_type(L, -1) == LUA_TNUMBER && !lua_isinteger(L, -1) && lua_tonumber(L, -1) == 2.5);
    lua_pop(L, 1);
    CHECK(!module_predicate(L, "is_array", "mixed.1"));
    /* The marker is the exported metatable. */
    push_path(L, "empty");
    lua_getmetatable(L, -1);
    lua_getfield(L, MODULE, "array_mt");
    CHECK(lua_rawequal(L, -1, -2));
    lua_pop(L, 4);
}

static void test_dotted_keys_and_tables(lua_State *L) {
    if (CHECK(DECODE(L, "a.b.c = 1\n'quoted key'.\"x y\" = 2\n[t.u]\nv = 3\n[t]\nw = 4\n"
                        "[fruit]\napple.color = 'red'\n[fruit.apple.texture]\nsmooth = true\n"))) {
        CHECK(integer_is(L, "a.b.c", 1));
        CHECK(integer_is(L, "quoted key.x y", 2));
        CHECK(integer_is(L, "t.u.v", 3));
        CHECK(integer_is(L, "t.w", 4));
        CHECK(string_is(L, "fruit.apple.color", "red"));
        CHECK(type_is(L, "fruit.apple.texture.smooth", LUA_TBOOLEAN));
        lua_pop(L, 1);
    }
    ERROR_STARTS_WITH(L, "[a]\n[a]\n", "line 2, column 2: cannot define table 'a'");
    ERROR_STARTS_WITH(L, "a.b = 1\n[a]\n", "line 2, column 2: cannot define table 'a'");
    ERROR_STARTS_WITH(L, "a = {b = 1}\n[a.c]\n", "line 2, column 2:");
    ERROR_STARTS_WITH(L, "a = {b = 1}\na.c = 2\n", "line 2, column 1: cannot add keys to 'a'");
    ERROR_STARTS_WITH(L, "a = [1]\n[[a]]\n", "line 2, column 3:");
    ERROR_STARTS_WITH(L, "[a.b.c]\n[a]\nb.c.d = 1\n", "line 3, column 1: cannot add keys to 'b.c'");
    ERROR_STARTS_WITH(L, "[[bin]]\n[bin]\n", "line 2, column 2:");
    ERROR_STARTS_WITH(L, "x = {a = 1,}\n", "line 1, column 12: trailing comma");
    ERROR_STARTS_WITH(L, "x = {a = 1,\nb = 2}\n", "line 1, column 12:");
}

static void test_datetimes(lua_State *L) {
    if (!CHECK(DECODE(L,
                      "odt = 1979-05-27 07:32:00z\nldt = 1979-05-27t07:32:00.5\n"
                      "ld = 2024-02-29\nlt = 23:59:60.123456\noff = 1979-05-27T00:32:00-07:00\n")))
        return;
    CHECK(string_is(L, "odt.kind", "datetime"));
    CHECK(string_is(L, "odt.text", "1979-05-27T07:32:00Z"));
    CHECK(string_is(L, "ldt.kind", "datetime-local"));
    CHECK(string_is(L, "ldt.text", "1979-05-27T07:32:00.5"));
    CHECK(string_is(L, "ld.kind", "date-local"));
    CHECK(string_is(L, "ld.text", "2024-02-29"));
    CHECK(string_is(L, "lt.kind", "time-local"));
    CHECK(string_is(L, "lt.text", "23:59:60.123456"));
    CHECK(string_is(L, "off.text", "1979-05-27T00:32:00-07:00"));
    CHECK(module_predicate(L, "is_datetime", "odt"));
    CHECK(!module_predicate(L, "is_datetime", "odt.text"));
    CHECK(!module_predicate(L, "is_array", "odt"));
    push_path(L, "off");
    CHECK(strcmp(luaL_tolstring(L, -1, NULL), "1979-05-27T00:32:00-07:00") == 0);
    lua_getmetatable(L, -2);
    lua_getfield(L, MODULE, "datetime_mt");
    CHECK(lua_rawequal(L, -1, -2));
    lua_pop(L, 5);
    ERROR_STARTS_WITH(L, "d = 2023-02-29\n", "line 1, column 5: day out of range");
    ERROR_STARTS_WITH(L, "d = 1900-02-29\n", "line 1, column 5: day out of range");
    ERROR_STARTS_WITH(L, "d = 2023-13-01\n", "line 1, column 5: month out of range");
    ERROR_STARTS_WITH(L, "t = 24:00:00\n", "line 1, column 5: time out of range");
    ERROR_STARTS_WITH(L, "t = 07:32\n", "line 1, column 5: malformed time");
    ERROR_STARTS_WITH(L, "t = 1979-05-27T07:32:00+24:00\n", "line 1, column 5: time offset");
}

static void test_scalars(lua_State *L) {
    static const char text[] = "max = 9223372036854775807\nmin = -9223372036854775808\n"
                               "hex = 0xDEAD_beef\noct = 0o755\nbin = -0\nbig = 1_000\n"
                               "f = 6.5e-1\nplus = +inf\nnan = -nan\n"
                               "esc = \"\\u00e9\\U0001F600\\t\\\"\"\nlit = 'C:\\path'\n"
                               "ml = '''\nfirst\r\nsecond'''\nyes = true\nno = false\n";
    if (!CHECK(DECODE(L, text)))
        return;
    CHECK(integer_is(L, "max", LUA_MAXINTEGER));
    CHECK(integer_is(L, "min", LUA_MININTEGER));
    CHECK(integer_is(L, "hex", 0xDEADBEEF));
    CHECK(integer_is(L, "oct", 0755));
    CHECK(integer_is(L, "bin", 0));
    CHECK(integer_is(L, "big", 1000));
    push_path(L, "f");
    CHECK(!lua_isinteger(L, -1) && lua_tonumber(L, -1) == 0.65);
    push_path(L, "plus");
    CHECK(lua_tonumber(L, -1) > 1e308 && lua_tonumber(L, -1) == lua_tonumber(L, -1) * 2);
    push_path(L, "nan");
    CHECK(lua_tonumber(L, -1) != lua_tonumber(L, -1));
    lua_pop(L, 3);
    CHECK(string_is(L, "esc", "\xC3\xA9\xF0\x9F\x98\x80\t\""));
    CHECK(string_is(L, "lit", "C:\\path"));
    CHECK(string_is(L, "ml", "first\nsecond"));
    push_path(L, "yes");
    push_path(L, "no");
    CHECK(lua_isboolean(L, -2) && lua_toboolean(L, -2) && lua_isboolean(L, -1) &&
          !lua_toboolean(L, -1));
    lua_pop(L, 3);
    ERROR_STARTS_WITH(L, "n = 9223372036854775808\n", "line 1, column 5: value out of the 64-bit");
    ERROR_STARTS_WITH(L, "n = -9223372036854775809\n", "line 1, column 5: value out of");
    ERROR_STARTS_WITH(L, "n = 0x8000000000000000\n", "line 1, column 5: value out of");
    ERROR_STARTS_WITH(L, "n = 012\n", "line 1, column 5: leading zeros");
    ERROR_STARTS_WITH(L, "n = 1__2\n", "line 1, column 6: an underscore");
    ERROR_STARTS_WITH(L, "n = +0x1\n", "line 1, column 5:");
    ERROR_STARTS_WITH(L, "s = \"\\uD800\"\n", "line 1, column 6:");
    ERROR_STARTS_WITH(L, "s = \"\\x41\"\n", "line 1, column 6: invalid escape sequence '\\x'");
}

static void test_error_positions(lua_State *L) {
    ERROR_STARTS_WITH(
        L, "a = 1\na = 2\n",
        "line 2, column 1: cannot redefine key 'a': it is already defined as a value");
    /* Columns count characters, not bytes: the é is two bytes. */
    ERROR_STARTS_WITH(L, "a = \"\xC3\xA9\" x\n", "line 1, column 9: expected the end of the line");
    ERROR_STARTS_WITH(L, "a = 1\r\nb = \r\n", "line 2, column 5: expected a value");
    ERROR_STARTS_WITH(L, "a = 1\rb = 2\n", "line 1, column 6: carriage return");
    ERROR_STARTS_WITH(L, "a = \"\xFF\"\n", "line 1, column 6: invalid UTF-8");
    ERROR_STARTS_WITH(L, "a = \"\xED\xA0\x80\"\n", "line 1, column 6: invalid UTF-8");
    ERROR_STARTS_WITH(L, "a = \"tab\tok, bell\a not\"\n", "line 1, column 18: control character");
    ERROR_STARTS_WITH(L, "# comment\n\n  [package\n", "line 3, column 11: expected ']'");
    ERROR_STARTS_WITH(L, "s = \"\"\"never\nclosed\n", "line 1, column 5: unterminated");
    ERROR_STARTS_WITH(L, "a = 1 b = 2\n", "line 1, column 7: expected the end of the line");
    ERROR_STARTS_WITH(L, "a = \n", "line 1, column 5: expected a value");
    ERROR_STARTS_WITH(L, "= 1\n", "line 1, column 1: expected a key");
    /* An error carries exactly three results: nil, the message and the kind. */
    lua_getfield(L, MODULE, "decode");
    lua_pushliteral(L, "x =");
    lua_call(L, 1, LUA_MULTRET);
    CHECK(lua_gettop(L) == 4 && lua_isnil(L, 2) && lua_type(L, 3) == LUA_TSTRING &&
          strcmp(lua_tostring(L, 4), "input") == 0);
    lua_settop(L, 1);
}

static void test_nesting_limit(lua_State *L) {
    enum { LIMIT = 256 };
    char text[2 * (LIMIT + 1) + 8];
    for (int depth = LIMIT; depth <= LIMIT + 1; depth++) {
        size_t length = 0;
        length += (size_t)sprintf(text, "a = ");
        memset(text + length, '[', (size_t)depth);
        memset(text + length + depth, ']', (size_t)depth);
        length += 2 * (size_t)depth;
        if (depth == LIMIT) {
            CHECK(decode(L, text, length));
            lua_pop(L, 1);
        } else {
            CHECK(error_starts_with(L, text, length, "line 1, column 261: arrays and inline"));
        }
    }
    /* Dotted keys and headers nest without recursion, so no limit applies. */
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    luaL_addchar(&b, '[');
    for (int i = 0; i < 10000; i++)
        luaL_addstring(&b, "k.");
    luaL_addstring(&b, "k]\n");
    luaL_pushresult(&b);
    size_t length;
    const char *deep = lua_tolstring(L, -1, &length);
    CHECK(decode(L, deep, length));
    lua_pop(L, 2);
}

static void test_edges(lua_State *L) {
    CHECK(DECODE(L, "") && lua_type(L, -1) == LUA_TTABLE);
    lua_pushnil(L);
    CHECK(lua_next(L, DOCUMENT) == 0);
    lua_pop(L, 1);
    if (CHECK(DECODE(L, "\xEF\xBB\xBFname = 'bom'\n"))) {
        CHECK(string_is(L, "name", "bom"));
        lua_pop(L, 1);
    }
    /* Programming errors raise instead of returning nil, message. */
    lua_getfield(L, MODULE, "decode");
    lua_newtable(L);
    CHECK(lua_pcall(L, 1, 2, 0) != LUA_OK);
    lua_settop(L, 1);
    lua_getfield(L, MODULE, "is_array");
    CHECK(lua_pcall(L, 0, 1, 0) != LUA_OK);
    lua_settop(L, 1);
}

/* TOML arrays carry lambda.json's array_mt, so an empty one encodes as [] and not {}, in
 * whichever order the modules are loaded and however often. A fresh state of its own. */
static void test_json_arrays(void) {
    lua_State *L = check_new_state();
    check_preload(L, "lambda.toml", luaopen_lambda_toml);
    check_preload(L, "lambda.json", luaopen_lambda_json);
    check_lua(L, CHECK_HERE, CHECK_LUA_HELPERS,
              "local toml = require('lambda.toml')\n"
              "local doc = assert(toml.decode('a = []\\nb = [[], [1]]\\n[[c]]\\n[d]\\n'))\n"
              "local json = require('lambda.json')\n"
              "eq(json.encode(doc), '{\"a\":[],\"b\":[[],[1]],\"c\":[{}],\"d\":{}}', 'encoded')\n"
              "eq(toml.array_mt, json.array_mt, 'one array metatable')\n"
              "eq(getmetatable(doc.a), json.array_mt, 'an empty TOML array')\n"
              "eq(toml.is_array(json.decode('[]')), true, 'a JSON array is an array')\n"
              "eq(toml.is_array(json.decode('{}')), false, 'a JSON object is not')\n"
              /* Loaded again (package.loaded forgotten): still the same one. */
              "package.loaded['lambda.json'], package.loaded['lambda.toml'] = nil, nil\n"
              "local json2, toml2 = require('lambda.json'), require('lambda.toml')\n"
              "eq(json2.array_mt, json.array_mt, 'json again')\n"
              "eq(toml2.array_mt, json.array_mt, 'toml again')\n"
              "eq(json2.encode(toml2.decode('x = []')), '{\"x\":[]}', 'encoded again')\n",
              0);
    lua_close(L);
}

int main(void) {
    test_json_arrays();
    lua_State *L = check_new_state();
    luaL_requiref(L, "lambda.toml", luaopen_lambda_toml, 0);
    test_cargo_manifest(L);
    test_arrays(L);
    test_dotted_keys_and_tables(L);
    test_datetimes(L);
    test_scalars(L);
    test_error_positions(L);
    test_nesting_limit(L);
    test_edges(L);
    CHECK(lua_gettop(L) == 1); /* every test leaves the stack as it found it */
    lua_close(L);
    return check_report("test_toml");
}
