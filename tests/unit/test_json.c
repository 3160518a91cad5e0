/* Unit tests of json_pretty() (layout, verbatim tokens, every error and its offset) and of the
 * lambda.json Lua binding. */
#include <lauxlib.h>
#include <lua-cjson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "json_pretty.h"
#include "modules.h"

struct output {
    char *bytes;
    size_t length;
    size_t capacity;
};

static void append(void *context, const char *bytes, size_t length) {
    struct output *out = context;
    if (out->length + length + 1 > out->capacity) {
        size_t capacity = (out->length + length + 1) * 2;
        char *grown = realloc(out->bytes, capacity);
        if (!grown) {
            perror("realloc");
            exit(2);
        }
        out->bytes = grown;
        out->capacity = capacity;
    }
    memcpy(out->bytes + out->length, bytes, length);
    out->length += length;
    out->bytes[out->length] = '\0';
}

/* Pretty-prints text (length given, so it may hold NULs) and checks the result against
 * expected; also checks that validating without a sink agrees. */
static void check_layout_n(int line, const char *text, size_t length, const char *expected) {
    struct output out = {0};
    struct json_error error;
    bool ok = json_pretty(text, length, append, &out, &error);
    if (check_that(ok, "%s:%d: rejected: %s", __FILE__, line, error.message))
        check_that(out.length == strlen(expected) && memcmp(out.bytes, expected, out.length) == 0,
                   "%s:%d: got\n%.*s\nexpected\n%s", __FILE__, line, (int)out.length,
                   out.bytes ? out.bytes : "", expected);
    check_that(json_pretty(text, length, NULL, NULL, NULL) == ok,
               "%s:%d: validation without output disagrees", __FILE__, line);
    free(out.bytes);
}

static void check_error_n(int line, const char *text, size_t length, size_t offset,
                          const char *reason) {
    struct output out = {0};
    struct json_error error;
    char expected[200];
    snprintf(expected, sizeof expected, "invalid JSON at byte %zu: %s", offset, reason);
    if (check_that(!json_pretty(text, length, append, &out, &error),
                   "%s:%d: accepted, expected: %s", __FILE__, line, expected))
        check_that(error.offset == offset && strcmp(error.message, expected) == 0,
                   "%s:%d: got '%s' (offset %zu)\n  expected '%s'", __FILE__, line, error.message,
                   error.offset, expected);
    struct json_error silent;
    check_that(!json_pretty(text, length, NULL, NULL, &silent) &&
                   strcmp(silent.message, error.message) == 0,
               "%s:%d: validation without output disagrees", __FILE__, line);
    free(out.bytes);
}

#define check_layout(text, expected) check_layout_n(__LINE__, text, strlen(text), expected)
#define check_error(text, offset, reason)                                                          \
    check_error_n(__LINE__, text, strlen(text), offset, reason)
#define check_error_bytes(text, offset, reason)                                                    \
    check_error_n(__LINE__, text, sizeof text - 1, offset, reason)

static void test_layout(void) {
    check_layout("{\"a\":[1,2.50,{}],\"b\":{\"c\":\"\\u00e9\"},\"d\":[]}",
                 "{\n  \"a\": [\n    1,\n    2.50,\n    {}\n  ],\n  \"b\": {\n    \"c\": "
                 "\"\\u00e9\"\n  },\n  \"d\": []\n}");
    check_layout("[[1,[2]],{\"a\":{\"b\":[]}}]", "[\n  [\n    1,\n    [\n      2\n    ]\n  ],\n"
                                                 "  {\n    \"a\": {\n      \"b\": []\n    }\n"
                                                 "  }\n]");
    check_layout("{}", "{}");
    check_layout("[]", "[]");
    check_layout(" [ \n\t ] ", "[]");
    check_layout("{\r\n}", "{}");
    check_layout("[[],{},[[]]]", "[\n  [],\n  {},\n  [\n    []\n  ]\n]");
    /* Key order and duplicates are kept as written. */
    check_layout("{\"z\":1,\"a\":2,\"z\":3}", "{\n  \"z\": 1,\n  \"a\": 2,\n  \"z\": 3\n}");
    /* Whitespace everywhere it may appear, none of it kept. */
    check_layout(" \t\r\n{ \"a\" \n:\t1 , \"b\" : [ 1 , 2 ] \r} \n",
                 "{\n  \"a\": 1,\n  \"b\": [\n    1,\n    2\n  ]\n}");
}

static void test_verbatim_tokens(void) {
    check_layout("12345678901234567890", "12345678901234567890");
    check_layout(" 1.0e+2 ", "1.0e+2");
    check_layout("[-0,0.000,1E5,-1.5e-07,1e+0]", "[\n  -0,\n  0.000,\n  1E5,\n  -1.5e-07,\n"
                                                 "  1e+0\n]");
    check_layout("[true,false,null]", "[\n  true,\n  false,\n  null\n]");
    check_layout("\"\\\"\\\\\\/\\b\\f\\n\\r\\t\"", "\"\\\"\\\\\\/\\b\\f\\n\\r\\t\"");
    check_layout("\"\\u00E9\\ud83d\\ude00\\uDBFF\\uDFFF\\u0000\"",
                 "\"\\u00E9\\ud83d\\ude00\\uDBFF\\uDFFF\\u0000\"");
    /* Raw UTF-8 at each sequence length and range edge, including U+FEFF and U+10FFFF. */
    check_layout(
        "[\"\xc2\x80\xdf\xbf\",\"\xe0\xa0\x80\xed\x9f\xbf\xee\x80\x80\xef\xbb\xbf\","
        "\"\xf0\x90\x80\x80\xf4\x8f\xbf\xbf\"]",
        "[\n  \"\xc2\x80\xdf\xbf\",\n  \"\xe0\xa0\x80\xed\x9f\xbf\xee\x80\x80\xef\xbb\xbf\","
        "\n  \"\xf0\x90\x80\x80\xf4\x8f\xbf\xbf\"\n]");
    check_layout("{\"k\\n\":\"\x7f\"}", "{\n  \"k\\n\": \"\x7f\"\n}");
}

static void test_syntax_errors(void) {
    check_error("", 0, "expected value");
    check_error(" \n ", 3, "expected value");
    check_error("{\"a\":1", 6, "expected ',' or '}'");
    check_error("{\"a\": 1 x}", 8, "expected ',' or '}'");
    check_error("{\"a\":1,\"b\"}", 10, "expected ':'");
    check_error("{\"a\":}", 5, "expected value");
    check_error("{\"a\":1,}", 7, "expected string key");
    check_error("{1:2}", 1, "expected string key or '}'");
    check_error("{", 1, "expected string key or '}'");
    check_error("[", 1, "expected value or ']'");
    check_error("[1,]", 3, "expected value");
    check_error("[1 2]", 3, "expected ',' or ']'");
    check_error("[1}", 2, "expected ',' or ']'");
    check_error("{\"a\":1]", 6, "expected ',' or '}'");
    check_error("1 2", 2, "expected end of input");
    check_error("{} x", 3, "expected end of input");
    check_error("[]]", 2, "expected end of input");
    check_error_bytes("1\0", 1, "expected end of input");
    check_error("/* c */ 1", 0, "expected value");
    check_error("1 // c", 2, "expected end of input");
    check_error("\xef\xbb\xbf{}", 0, "expected value");
    check_error("'a'", 0, "expected value");
    check_error("True", 0, "expected value");
    check_error("tru", 3, "expected 'true'");
    check_error("trUe", 2, "expected 'true'");
    check_error("[nul]", 4, "expected 'null'");
    check_error("fals", 4, "expected 'false'");
}

static void test_number_errors(void) {
    check_error("01", 1, "leading zeros are not allowed");
    check_error("-01", 2, "leading zeros are not allowed");
    check_error("[00]", 2, "leading zeros are not allowed");
    check_error("-", 1, "expected digit");
    check_error("-a", 1, "expected digit");
    check_error("+1", 0, "expected value");
    check_error(".5", 0, "expected value");
    check_error("1.", 2, "expected digit after '.'");
    check_error("1.e5", 2, "expected digit after '.'");
    check_error("1e", 2, "expected digit in exponent");
    check_error("1e+", 3, "expected digit in exponent");
    check_error("1E-x", 3, "expected digit in exponent");
    check_error("1x", 1, "expected end of input");
    check_error("0x10", 1, "expected end of input");
    check_error("[NaN]", 1, "expected value or ']'");
    check_error("-Infinity", 1, "expected digit");
}

static void test_string_errors(void) {
    check_error("\"abc", 4, "unterminated string");
    check_error("\"a\\", 3, "unterminated string");
    check_error("\"a\\qb\"", 3, "invalid escape sequence");
    check_error("\"\\'\"", 2, "invalid escape sequence");
    check_error("\"\\u12G4\"", 5, "expected 4 hex digits after \\u");
    check_error("\"\\u12\"", 5, "expected 4 hex digits after \\u");
    check_error("\"\\u", 3, "expected 4 hex digits after \\u");
    check_error("\"\\ud800\"", 1, "unpaired surrogate \\uD800");
    check_error("\"x\\udc00\"", 2, "unpaired surrogate \\uDC00");
    check_error("\"\\ud800\\u0041\"", 1, "unpaired surrogate \\uD800");
    check_error("\"\\ud800\\n\"", 1, "unpaired surrogate \\uD800");
    check_error("\"\\ud800\\ud800\"", 1, "unpaired surrogate \\uD800");
    check_error("\"\\ud800\\uDC0x\"", 12, "expected 4 hex digits after \\u");
    check_error("\"a\tb\"", 2, "control character U+0009 must be escaped");
    check_error("{\"a\nb\":1}", 3, "control character U+000A must be escaped");
    check_error_bytes("\"\0\"", 1, "control character U+0000 must be escaped");
    check_error("\"\x1f\"", 1, "control character U+001F must be escaped");
}

static void test_utf8_errors(void) {
    check_error("\"\xff\"", 1, "invalid UTF-8");
    check_error("\"\x80\"", 1, "invalid UTF-8");
    check_error("\"\xc0\x80\"", 1, "invalid UTF-8");     /* overlong NUL */
    check_error("\"\xc1\xbf\"", 1, "invalid UTF-8");     /* overlong */
    check_error("\"\xc3\"", 2, "invalid UTF-8");         /* missing continuation */
    check_error("\"\xc3\xc3\xa9\"", 2, "invalid UTF-8"); /* lead where continuation belongs */
    check_error("\"\xe0\x9f\xbf\"", 2, "invalid UTF-8"); /* overlong 3-byte */
    check_error("\"\xed\xa0\x80\"", 2, "invalid UTF-8"); /* encoded surrogate */
    check_error("\"\xe2\x82\"", 3, "invalid UTF-8");
    check_error("\"\xf0\x8f\xbf\xbf\"", 2, "invalid UTF-8"); /* overlong 4-byte */
    check_error("\"\xf4\x90\x80\x80\"", 2, "invalid UTF-8"); /* above U+10FFFF */
    check_error("\"\xf5\x80\x80\x80\"", 1, "invalid UTF-8");
    check_error("\"\xe2\x82", 3, "invalid UTF-8"); /* truncated by end of input */
    check_error("\xc3\xa9", 0, "expected value");  /* non-ASCII outside a string */
}

static void test_depth_limit(void) {
    size_t levels = JSON_MAX_DEPTH + 1;
    char *text = malloc(2 * levels + 1);
    memset(text, '[', levels);
    memset(text + levels, ']', levels);
    text[2 * levels] = '\0';
    check_error_n(__LINE__, text, 2 * levels, JSON_MAX_DEPTH, "nesting deeper than 1000 levels");
    /* Exactly at the limit is fine; the innermost line is indented 2 * 999 spaces. */
    struct output out = {0};
    CHECK(json_pretty(text + 1, 2 * JSON_MAX_DEPTH, append, &out, NULL));
    const char *innermost = out.bytes ? strstr(out.bytes, "[]") : NULL;
    CHECK(innermost && innermost[-1] == ' ' && innermost[-2 * (JSON_MAX_DEPTH - 1) - 1] == '\n');
    free(out.bytes);
    free(text);
}

/* --- the Lua binding --- */

/* Each chunk gets the module as `...`. */
static int push_module(lua_State *L) {
    luaL_requiref(L, "lambda.json", luaopen_lambda_json, 0);
    return 1;
}

#define LUA(L, chunk) check_lua(L, CHECK_HERE, "", chunk, push_module(L))

static void test_binding(void) {
    lua_State *L = check_new_state();
    LUA(L, "local json = ...\n"
           "assert(json.pretty('{\"a\":[1,{}]}') == '{\\n  \"a\": [\\n    1,\\n    {}\\n  ]\\n}')\n"
           "local text, message, offset = json.pretty('{\"a\":1 x}')\n"
           "assert(text == nil and offset == 7, offset)\n"
           "assert(message == \"invalid JSON at byte 7: expected ',' or '}'\", message)\n"
           "assert(select('#', json.pretty('[')) == 3)\n"
           "assert(json.valid(' [1, 2] ') == true)\n"
           "local ok, why, at = json.valid('[1,]')\n"
           "assert(ok == nil and why == 'invalid JSON at byte 3: expected value' and at == 3)\n"
           "assert(not pcall(json.pretty))\n"
           "assert(not pcall(json.valid, {}))\n");
    /* Bodies of several MB: output is built in a luaL_Buffer and checked element by element. */
    LUA(L, "local json = ...\n"
           "local items = {}\n"
           "for i = 1, 300000 do items[i] = tostring(i * 7) end\n"
           "local text = '[' .. table.concat(items, ',') .. ']'\n"
           "assert(#text > 2000000)\n"
           "local pretty = assert(json.pretty(text))\n"
           "assert(pretty == '[\\n  ' .. table.concat(items, ',\\n  ') .. '\\n]')\n");
    LUA(L, "local json = ...\n"
           "local value = json.decode('{\"a\":[1,null,\"x\"],\"b\":1.5}')\n"
           "assert(value.a[1] == 1 and value.a[2] == json.null and value.a[3] == 'x')\n"
           "assert(value.b == 1.5)\n"
           "assert(json.encode({1, 2, 'x'}) == '[1,2,\"x\"]')\n"
           "assert(json.encode(json.null) == 'null')\n"
           "local bad, message = json.decode('{\"a\":')\n"
           "assert(bad == nil and type(message) == 'string', message)\n"
           "assert(json.decode('NaN') == nil and json.decode('0x10') == nil)\n"
           "local ok, err = pcall(json.encode, print)\n"
           "assert(not ok and err:find('cannot encode JSON', 1, true), err)\n");
    /* Settings on the global cjson module must not change ours. */
    luaL_requiref(L, "cjson", luaopen_cjson, 0);
    lua_pop(L, 1);
    LUA(L, "local json = ...\n"
           "local cjson = require 'cjson'\n"
           "cjson.encode_number_precision(3)\n"
           "cjson.decode_invalid_numbers(true)\n"
           "assert(cjson.encode(3.14159) == '3.14')\n"
           "assert(json.encode(3.14159) == '3.14159')\n"
           "assert(json.decode('NaN') == nil)\n");
    lua_close(L);
}

int main(void) {
    test_layout();
    test_verbatim_tokens();
    test_syntax_errors();
    test_number_errors();
    test_string_errors();
    test_utf8_errors();
    test_depth_limit();
    test_binding();
    return check_report("test_json");
}
