/* Unit tests of json_pretty() (layout, verbatim tokens, every error and its offset) and of the
 * lambda.json Lua binding: pretty and valid, and decode and encode (json/decode.c,
 * json/encode.c) with exact numbers, arrays, key order, escapes, errors, and a round trip of
 * the event fixtures. */
#include <dirent.h>
#include <lauxlib.h>
#include <lua-cjson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "host/modules.h"
#include "json/pretty.h"

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
/* The same with eq, raises and hex (check.h) and same(a, b): a deep comparison of decoded
 * values that returns where they differ. Numbers compare by value (200 == 200.0, as JSON does
 * not tell them apart) but keep the sign of zero; tables compare their metatables unless
 * loose. */
#define LUA_HELPERS(L, chunk)                                                                      \
    check_lua(L, CHECK_HERE, CHECK_LUA_HELPERS SAME_HELPER, chunk, push_module(L))
#define SAME_HELPER                                                                                \
    "local function same(a, b, loose, path)\n"                                                     \
    "  path = path or '$'\n"                                                                       \
    "  if type(a) ~= type(b) then return false, path .. ': ' .. type(a) .. ' vs ' .. type(b) "     \
    "end\n"                                                                                        \
    "  if type(a) == 'number' then\n"                                                              \
    "    local ok = a == b and (a ~= 0 or 1 / a == 1 / b)\n"                                       \
    "    return ok, path .. ': ' .. tostring(a) .. ' vs ' .. tostring(b)\n"                        \
    "  end\n"                                                                                      \
    "  if type(a) ~= 'table' then return a == b, path end\n"                                       \
    "  if not loose and getmetatable(a) ~= getmetatable(b) then\n"                                 \
    "    return false, path .. ': metatables differ'\n"                                            \
    "  end\n"                                                                                      \
    "  for k, v in pairs(a) do\n"                                                                  \
    "    local ok, where = same(v, rawget(b, k), loose, path .. '.' .. tostring(k))\n"             \
    "    if not ok then return false, where end\n"                                                 \
    "  end\n"                                                                                      \
    "  for k in pairs(b) do\n"                                                                     \
    "    if rawget(a, k) == nil then return false, path .. '.' .. tostring(k) .. ': extra' end\n"  \
    "  end\n"                                                                                      \
    "  return true\n"                                                                              \
    "end\n"

static void test_binding(void) {
    lua_State *L = check_new_state();
    LUA(L, "local json = ...\n"
           "assert(json.pretty('{\"a\":[1,{}]}') == '{\\n  \"a\": [\\n    1,\\n    {}\\n  ]\\n}')\n"
           "local text, message, kind, offset = json.pretty('{\"a\":1 x}')\n"
           "assert(text == nil and kind == 'input' and offset == 7, offset)\n"
           "assert(message == \"invalid JSON at byte 7: expected ',' or '}'\", message)\n"
           "assert(select('#', json.pretty('[')) == 4)\n"
           "assert(json.valid(' [1, 2] ') == true)\n"
           "local ok, why, what, at = json.valid('[1,]')\n"
           "assert(ok == nil and why == 'invalid JSON at byte 3: expected value' and at == 3)\n"
           "assert(what == 'input')\n"
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

static void test_decode_numbers(void) {
    lua_State *L = check_new_state();
    /* Integers stay integers, in the full 64-bit range; beyond it, or with a fraction or an
     * exponent, the nearest double. */
    LUA_HELPERS(L, "local json = ...\n"
                   "local function check(text, kind, value)\n"
                   "  local got = json.decode(text)\n"
                   "  eq(math.type(got), kind, text .. ' type')\n"
                   "  eq(got, value, text)\n"
                   "end\n"
                   "check('200', 'integer', 200)\n"
                   "check('0', 'integer', 0)\n"
                   "check('-7', 'integer', -7)\n"
                   "check('9007199254740993', 'integer', 9007199254740993)\n"
                   "check('9223372036854775807', 'integer', math.maxinteger)\n"
                   "check('-9223372036854775808', 'integer', math.mininteger)\n"
                   "check('9223372036854775808', 'float', 2.0^63)\n"
                   "check('-9223372036854775809', 'float', -2.0^63)\n"
                   "check('12345678901234567890123', 'float', 1.2345678901234568e22)\n"
                   "check('200.0', 'float', 200.0)\n"
                   "check('1e2', 'float', 100.0)\n"
                   "check('1E+2', 'float', 100.0)\n"
                   "check('0.1', 'float', 0.1)\n"
                   "check('-1.5e-7', 'float', -1.5e-7)\n"
                   "check('3.141592653589793', 'float', 3.141592653589793)\n"
                   "check('5e-324', 'float', 5e-324)\n"
                   "check('1.7976931348623157e308', 'float', 1.7976931348623157e308)\n"
                   "check('1e-400', 'float', 0.0)\n"
                   /* Beyond a double's range there is no value to give (math.huge is another
                    * number, and encode refuses it): refused, at the number's offset. The
                    * printer, which copies digits, still takes it. */
                   "local function refused(text, offset)\n"
                   "  local value, message, kind, at = json.decode(text)\n"
                   "  eq(value, nil, text .. ' refused')\n"
                   "  eq(message, 'invalid JSON at byte ' .. offset\n"
                   "     .. \": number out of a double's range\", text .. ' message')\n"
                   "  eq(kind, 'input', text .. ' kind')\n"
                   "  eq(at, offset, text .. ' offset')\n"
                   "  eq(json.valid(text), true, text .. ' is valid JSON text')\n"
                   "end\n"
                   "refused('1e400', 0)\n"
                   "refused('-1e400', 0)\n"
                   "refused('[1, {\"a\": [2, 1.8e308]}]', 14)\n"
                   "refused('1' .. string.rep('0', 400), 0)\n"
                   /* -0 is a float: an integer has no negative zero. */
                   "local zero = json.decode('-0')\n"
                   "eq(math.type(zero), 'float', '-0 type')\n"
                   "eq(1 / zero, -math.huge, 'sign of -0')\n"
                   "eq(1 / json.decode('-0.0'), -math.huge, 'sign of -0.0')\n"
                   "eq(math.type(json.decode('[1]')[1]), 'integer', 'in an array')\n"
                   "eq(math.type(json.decode('{\"a\":1}').a), 'integer', 'in an object')\n");
    /* Integers are written in full; a float in the fewest of 15 to 17 digits that read back
     * as the same double. */
    LUA_HELPERS(L,
                "local json = ...\n"
                "eq(json.encode(200), '200', '200')\n"
                "eq(json.encode(200.0), '200', '200.0')\n"
                "eq(json.encode(-0.0), '-0', '-0.0')\n"
                "eq(json.encode(math.maxinteger), '9223372036854775807', 'maxinteger')\n"
                "eq(json.encode(math.mininteger), '-9223372036854775808', 'mininteger')\n"
                "eq(json.encode(9007199254740993), '9007199254740993', '2^53 + 1')\n"
                "eq(json.encode(2.0^63), '9.223372036854776e+18', '2^63')\n"
                "eq(json.encode(0.1), '0.1', '0.1')\n"
                "eq(json.encode(1/3), '0.3333333333333333', '1/3')\n"
                "eq(json.encode(3.141592653589793), '3.141592653589793', 'pi')\n"
                "eq(json.encode(1.7976931348623157e308), '1.7976931348623157e+308', 'max')\n"
                "eq(json.encode(1e100), '1e+100', '1e100')\n"
                "eq(json.encode(-2.5e-7), '-2.5e-07', '-2.5e-7')\n"
                /* Every float reads back as itself. */
                "for _, x in ipairs({0.1, 0.2, 0.30000000000000004, 1/3, 2/3, 3.141592653589793,\n"
                "    5e-324, 2.2250738585072014e-308, 1.7976931348623157e308, 123456.789,\n"
                "    1e15 + 0.3, 2.0^53 + 2, 2.0^63, -2.0^64, 1e21, 4.35, 0.1 + 0.7}) do\n"
                "  local text = json.encode(x)\n"
                "  assert(not text:find(','), text)\n"
                "  eq(json.decode(text), x, 'round trip of ' .. text)\n"
                "  eq(json.encode(json.decode(text)), text, 'stable ' .. text)\n"
                "end\n"
                "for i = 1, 2000 do\n"
                "  local x = (math.random() - 0.5) * 10.0 ^ math.random(-300, 300)\n"
                "  eq(json.decode(json.encode(x)), x, 'round trip of ' .. string.format('%a', x))\n"
                "end\n"
                "raises('NaN or infinity', json.encode, 0/0)\n"
                "raises('NaN or infinity', json.encode, math.huge)\n"
                "raises('NaN or infinity', json.encode, {a = {-math.huge}})\n"
                "raises('NaN or infinity', json.encode, {[math.huge] = 1})\n");
    lua_close(L);
}

static void test_decode_strings(void) {
    lua_State *L = check_new_state();
    LUA_HELPERS(
        L,
        "local json = ...\n"
        "eq(json.decode([[\"\\\"\\\\\\/\\b\\f\\n\\r\\t\"]]), '\"\\\\/\\b\\f\\n\\r\\t', 'escapes')\n"
        "eq(hex(json.decode([[\"\\u00e9\\u20AC\\u0000x\"]])), 'c3a9e282ac0078', '\\\\u')\n"
        "eq(hex(json.decode([[\"\\ud83d\\ude00\"]])), 'f09f9880', 'surrogate pair')\n"
        "eq(hex(json.decode([[\"\\uDBFF\\uDFFF\"]])), 'f48fbfbf', 'U+10FFFF')\n"
        "eq(hex(json.decode([[\"\\u007f\\u0080\\u07ff\\u0800\\uffff\"]])),\n"
        "   '7fc280dfbfe0a080efbfbf', 'UTF-8 length edges')\n"
        "eq(json.decode('\"caf\\xc3\\xa9 \\xf0\\x9f\\x98\\x80\"'), 'caf\\xc3\\xa9 "
        "\\xf0\\x9f\\x98\\x80', 'raw UTF-8')\n"
        "eq(json.decode('\"\"'), '', 'empty')\n"
        "eq(json.decode('\"a\\\\nb\\\\\\\\\"'), 'a\\nb\\\\', 'escape at the end')\n"
        "local object = json.decode('{\"k\\\\u00e9\":1,\"a\":1,\"a\":2}')\n"
        "eq(object['k\\xc3\\xa9'], 1, 'escaped key')\n"
        "eq(object.a, 2, 'the later of two equal keys wins')\n");
    /* Only '\"', '\\\\' and control characters are escaped; '/' and DEL are not. */
    LUA_HELPERS(
        L,
        "local json = ...\n"
        "eq(json.encode('a/b'), '\"a/b\"', 'slash')\n"
        "eq(json.encode('\"\\\\'), [[\"\\\"\\\\\"]], 'quote and backslash')\n"
        "eq(json.encode('\\b\\f\\n\\r\\t'), [[\"\\b\\f\\n\\r\\t\"]], 'named escapes')\n"
        "eq(json.encode('\\0\\1\\31 \\127'), '\"\\\\u0000\\\\u0001\\\\u001f \\127\"', 'control')\n"
        "eq(json.encode('\\xe2\\x80\\xa8\\xe2\\x80\\xa9'), '\"\\xe2\\x80\\xa8\\xe2\\x80\\xa9\"', "
        "'U+2028')\n"
        "eq(json.encode('caf\\xc3\\xa9\\xf4\\x8f\\xbf\\xbf'), "
        "'\"caf\\xc3\\xa9\\xf4\\x8f\\xbf\\xbf\"', 'UTF-8')\n"
        /* Ill-formed UTF-8 becomes U+FFFD, one for each maximal subpart. */
        "local R = '\\xef\\xbf\\xbd'\n"
        "eq(json.encode('a\\xffb'), '\"a' .. R .. 'b\"', 'invalid byte')\n"
        "eq(json.encode('\\x80'), '\"' .. R .. '\"', 'lone continuation')\n"
        "eq(json.encode('\\xe2\\x82'), '\"' .. R .. '\"', 'truncated at the end')\n"
        "eq(json.encode('\\xe2\\x82x'), '\"' .. R .. 'x\"', 'truncated')\n"
        "eq(json.encode('\\xc3\\xc3\\xa9'), '\"' .. R .. '\\xc3\\xa9\"', 'lead, then a sequence')\n"
        "eq(json.encode('\\xed\\xa0\\x80'), '\"' .. R .. R .. R .. '\"', 'encoded surrogate')\n"
        "eq(json.encode('\\xc0\\x80'), '\"' .. R .. R .. '\"', 'overlong')\n"
        "eq(json.encode({['\\xff'] = 1}), '{\"' .. R .. '\":1}', 'in a key')\n"
        "assert(json.valid(json.encode('\\xff\\xfe\\0\\xf4\\x90\\x80\\x80')))\n"
        /* Every string survives the trip that is valid UTF-8. */
        "local all = {}\n"
        "for i = 0, 127 do all[#all + 1] = string.char(i) end\n"
        "all = table.concat(all) .. '\\xc2\\x80\\xf0\\x90\\x80\\x80'\n"
        "eq(json.decode(json.encode(all)), all, 'all of ASCII')\n");
    lua_close(L);
}

static void test_decode_errors(void) {
    lua_State *L = check_new_state();
    /* decode rejects what valid rejects, with its message and offset. */
    LUA_HELPERS(
        L, "local json = ...\n"
           "local bad = {'', ' ', '{', '[', '[1,]', '{\"a\":1,}', '{\"a\"}', '{1:2}', '[1 2]',\n"
           "  '1 2', '{} x', 'nul', 'True', 'NaN', '-Infinity', '+1', '.5', '01', '-',\n"
           "  '1.', '1e', '1e+', '0x10', '\"abc', '\"a\\\\q\"', '\"\\\\u12G4\"', '\"\\\\ud800\"',\n"
           "  '\"\\\\udc00\"', '\"\\\\ud800\\\\u0041\"', '\"a\\tb\"', '\"\\0\"', '\"\\xff\"',\n"
           "  '\"\\xc3\"', '\"\\xed\\xa0\\x80\"', '\\xef\\xbb\\xbf{}', '/* c */ 1', '1\\0',\n"
           "  \"'a'\", '[1}', '{\"a\":1]', '[]]', ']'}\n"
           "for _, text in ipairs(bad) do\n"
           "  local count = select('#', json.decode(text))\n"
           "  local value, message, kind, offset = json.decode(text)\n"
           "  local ok, expected, _, expected_offset = json.valid(text)\n"
           "  eq(ok, nil, string.format('%q is valid', text))\n"
           "  eq(kind, 'input', string.format('kind for %q', text))\n"
           "  eq(count, 4, string.format('results for %q', text))\n"
           "  eq(value, nil, string.format('value of %q', text))\n"
           "  eq(message, expected, string.format('message for %q', text))\n"
           "  eq(offset, expected_offset, string.format('offset for %q', text))\n"
           "end\n"
           "eq(select(2, json.decode('[1,]')), 'invalid JSON at byte 3: expected value', "
           "'message')\n"
           /* Whitespace around the value is fine. */
           "eq(json.decode(' \\t\\r\\n[ 1 , { \"a\" : 2 } ] \\n').n, nil, 'whitespace')\n"
           "eq(json.decode(' \\t\\r\\n[ 1 , { \"a\" : 2 } ] \\n')[2].a, 2, 'whitespace')\n"
           "raises('bad argument #1', json.decode)\n"
           "raises('bad argument #1', json.decode, {})\n"
           "raises('bad argument #1', json.encode)\n");
    lua_close(L);
}

static void test_depth(void) {
    lua_State *L = check_new_state();
    LUA_HELPERS(
        L, "local json = ...\n"
           "local deepest = string.rep('[', 1000) .. string.rep(']', 1000)\n"
           "local value = assert(json.decode(deepest))\n"
           "eq(json.encode(value), deepest, 'arrays 1000 deep')\n"
           "local objects = string.rep('{\"a\":', 999) .. '[1]' .. string.rep('}', 999)\n"
           "eq(json.encode(assert(json.decode(objects))), objects, 'objects 1000 deep')\n"
           "local too_deep = '[' .. deepest .. ']'\n"
           "local none, message, _, offset = json.decode(too_deep)\n"
           "eq(none, nil, 'too deep')\n"
           "eq(message, 'invalid JSON at byte 1000: nesting deeper than 1000 levels', 'message')\n"
           "eq(offset, 1000, 'offset')\n"
           "eq(json.decode(string.rep('[', 1000000)), nil, 'no end')\n"
           /* Encoding: one more level than decode allows raises, as does a cycle. */
           "local t = {}\n"
           "for _ = 1, 1000 do t = {t} end\n"
           "raises('cannot encode JSON: nested too deep (or a cycle)', json.encode, t)\n"
           "local cycle = {}\n"
           "cycle.self = cycle\n"
           "raises('cannot encode JSON: nested too deep (or a cycle)', json.encode, cycle)\n"
           "local loop = setmetatable({}, json.array_mt)\n"
           "loop[1] = {loop}\n"
           "raises('nested too deep (or a cycle)', json.encode, loop)\n"
           /* A table met twice but not inside itself is no cycle. */
           "local shared = {1}\n"
           "eq(json.encode({shared, shared}), '[[1],[1]]', 'shared table')\n");
    lua_close(L);
}

static void test_tables(void) {
    lua_State *L = check_new_state();
    LUA_HELPERS(L,
                "local json = ...\n"
                /* Decoded arrays carry array_mt, so [] and {} survive the round trip. */
                "eq(getmetatable(json.decode('[]')), json.array_mt, 'array_mt')\n"
                "eq(getmetatable(json.decode('{}')), nil, 'objects have no metatable')\n"
                "eq(json.encode(json.decode('[]')), '[]', '[]')\n"
                "eq(json.encode(json.decode('{}')), '{}', '{}')\n"
                "local text = '{\"a\":[],\"b\":{},\"c\":[[],[{}],[[1,null]]],\"d\":[null]}'\n"
                "eq(json.encode(json.decode(text)), text, 'nested')\n"
                "eq(json.encode(setmetatable({}, json.array_mt)), '[]', 'marked empty table')\n"
                "eq(json.encode(setmetatable({1, 'x'}, json.array_mt)), '[1,\"x\"]', 'marked')\n"
                "eq(json.decode('[1,null]')[2], json.null, 'null element')\n"
                "eq(#json.decode('[1,null,3]'), 3, 'length with null')\n"
                /* Unmarked tables: 1..n is an array, anything else an object. */
                "eq(json.encode({}), '{}', 'empty table')\n"
                "eq(json.encode({1, 2, 'x'}), '[1,2,\"x\"]', 'sequence')\n"
                "eq(json.encode({[1] = 'a', [3] = 'c'}), '{\"1\":\"a\",\"3\":\"c\"}', 'sparse')\n"
                "eq(json.encode({[0] = 'z', 'a'}), '{\"0\":\"z\",\"1\":\"a\"}', 'key 0')\n"
                "eq(json.encode({1, 2, a = 3}), '{\"1\":1,\"2\":2,\"a\":3}', 'mixed keys')\n"
                "eq(json.encode({[1.5] = true, [-2] = false}), '{\"-2\":false,\"1.5\":true}', "
                "'number keys')\n"
                /* Keys in byte order, compact, the same text every time. */
                "eq(json.encode({b = 1, a = {z = 1, y = 2}, B = 3, [''] = 4, aa = 5, [10] = 6, "
                "[9] = 7}),\n"
                "   '{\"\":4,\"10\":6,\"9\":7,\"B\":3,\"a\":{\"y\":2,\"z\":1},\"aa\":5,\"b\":1}', "
                "'sorted')\n"
                "local many = {}\n"
                "for i = 1, 500 do many['k' .. (i * 7919 % 1000)] = i end\n"
                "local once = json.encode(many)\n"
                "local keys = {}\n"
                "for key in once:gmatch('\"(k%d+)\"') do keys[#keys + 1] = key end\n"
                "eq(#keys, 500, 'keys written')\n"
                "for i = 2, #keys do assert(keys[i - 1] < keys[i], keys[i]) end\n"
                "local copy = {}\n"
                "for k, v in pairs(many) do copy[k] = v end\n"
                "eq(json.encode(copy), once, 'the same text from a table built otherwise')\n"
                /* Scalars, null, nil. */
                "eq(json.encode(nil), 'null', 'nil')\n"
                "eq(json.encode(json.null), 'null', 'null')\n"
                "eq(json.encode(true) .. json.encode(false), 'truefalse', 'booleans')\n"
                "eq(json.decode('null'), json.null, 'null')\n"
                "eq(json.decode('true'), true, 'true')\n"
                "eq(json.decode('false'), false, 'false')\n"
                "eq(json.encode({a = json.null}), '{\"a\":null}', 'null member')\n"
                "eq(json.encode(setmetatable({json.null, nil, 3}, json.array_mt)), "
                "'[null,null,3]', 'nil in a marked array')\n");
    /* What JSON cannot hold raises. */
    LUA_HELPERS(L,
                "local json = ...\n"
                "raises('cannot encode JSON: cannot encode a function', json.encode, print)\n"
                "raises('cannot encode JSON: cannot encode a function', json.encode, {f = print})\n"
                "raises('cannot encode JSON: cannot encode a thread', json.encode, "
                "coroutine.create(print))\n"
                "raises('cannot encode JSON: cannot encode a userdata', json.encode, io.stdout)\n"
                "raises('cannot encode JSON: table key must be a string or a number', "
                "json.encode, {a = 1, [true] = 2})\n"
                "raises('table key must be a string or a number', json.encode, {[{}] = 1})\n"
                "raises('two keys of a table are both written \"1\"', json.encode, "
                "{[1] = 'n', ['1'] = 's'})\n"
                "raises('both written', json.encode, {['\\xff'] = 1, ['\\xfe'] = 2})\n"
                /* Raising frees the text written so far: repeat a failure often. */
                "local big = string.rep('x', 1000000)\n"
                "for _ = 1, 200 do raises('function', json.encode, {big, print}) end\n");
    /* The same null as cjson's, so scripts may mix the two modules. */
    luaL_requiref(L, "cjson", luaopen_cjson, 0);
    lua_pop(L, 1);
    LUA_HELPERS(L, "local json = ...\n"
                   "local cjson = require 'cjson'\n"
                   "eq(json.null, cjson.null, 'null')\n"
                   "eq(json.decode('null'), cjson.decode('null'), 'decoded null')\n"
                   "eq(json.encode(cjson.decode('[null]')), '[null]', 'cjson null')\n");
    lua_close(L);
}

/* Pushes a sequence of the paths of the *.json files in directory; returns how many (none when
 * it cannot be read). */
static int push_json_paths(lua_State *L, const char *directory) {
    lua_newtable(L);
    DIR *listing = opendir(directory);
    if (!listing)
        return 0;
    int count = 0;
    for (struct dirent *entry; (entry = readdir(listing));) {
        size_t length = strlen(entry->d_name);
        if (length > 5 && strcmp(entry->d_name + length - 5, ".json") == 0) {
            lua_pushfstring(L, "%s/%s", directory, entry->d_name);
            lua_rawseti(L, -2, ++count);
        }
    }
    closedir(listing);
    return count;
}

/* Every event fixture: decode, encode and decode again gives an equal value, encoding that
 * gives the same text, and the first decode agrees with cjson's (numbers by value, arrays
 * without a metatable). The shared acceptance examples are used when ../shared is there. */
static void test_fixture_round_trip(void) {
    static const char round_trip[] =
        "local json, paths = ...\n"
        "local cjson = require 'cjson'\n"
        "for _, path in ipairs(paths) do\n"
        "  local file = assert(io.open(path, 'rb'))\n"
        "  local text = file:read('a')\n"
        "  file:close()\n"
        "  local value = json.decode(text)\n"
        "  assert(value ~= nil, path)\n"
        "  local ok, where = same(value, cjson.decode(text), true)\n"
        "  assert(ok, path .. ': differs from cjson at ' .. tostring(where))\n"
        "  local encoded = json.encode(value)\n"
        "  local again = json.decode(encoded)\n"
        "  ok, where = same(value, again)\n"
        "  assert(ok, path .. ': round trip differs at ' .. tostring(where))\n"
        "  eq(json.encode(again), encoded, path .. ' encoded twice')\n"
        "end\n";
    const char *source = getenv("CARGO_LAMBDA_SOURCE_DIR");
    const char *shared = getenv("CARGO_LAMBDA_SHARED_DIR");
    char own[4096], examples[4096];
    snprintf(own, sizeof own, "%s/fixtures/events", source && *source ? source : ".");
    if (shared && *shared)
        snprintf(examples, sizeof examples, "%s/acceptance/event-fixtures", shared);
    else
        snprintf(examples, sizeof examples, "%s/../shared/acceptance/event-fixtures",
                 source && *source ? source : ".");
    lua_State *L = check_new_state();
    luaL_requiref(L, "cjson", luaopen_cjson, 0);
    lua_pop(L, 1);
    const char *const directories[] = {own, examples};
    for (int i = 0; i < 2; i++) {
        push_module(L);
        int count = push_json_paths(L, directories[i]);
        if (i == 0)
            CHECK(count >= 1);
        if (count == 0) {
            printf("test_json: no %s, its round trip skipped\n", directories[i]);
            lua_pop(L, 2);
            continue;
        }
        check_lua(L, CHECK_HERE, CHECK_LUA_HELPERS SAME_HELPER, round_trip, 2);
    }
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
    test_decode_numbers();
    test_decode_strings();
    test_decode_errors();
    test_depth();
    test_tables();
    test_fixture_round_trip();
    return check_report("test_json");
}
