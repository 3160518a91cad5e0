/* libFuzzer target for json_pretty(). Besides memory safety it checks, for every input:
 *  - validating with and without output gives the same verdict and message;
 *  - an error offset lies within the input;
 *  - for valid input, the output is valid, pretty(pretty(x)) == pretty(x), and the output
 *    differs from the input only in whitespace between tokens (tokens copied byte for byte);
 *  - whatever we accept, cjson's strict decoder accepts too (a differential check). */
#include <lauxlib.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_lua.h"
#include "json/pretty.h"
#include "host/modules.h"

struct output {
    char *bytes;
    size_t length;
    size_t capacity;
};

static void append(void *context, const char *bytes, size_t length) {
    struct output *out = context;
    if (out->length + length > out->capacity) {
        out->capacity = (out->length + length) * 2;
        out->bytes = realloc(out->bytes, out->capacity);
        if (!out->bytes)
            abort();
    }
    memcpy(out->bytes + out->length, bytes, length);
    out->length += length;
}

static void expect(bool condition, const char *what) {
    if (!condition) {
        fprintf(stderr, "fuzz_json_pretty: %s\n", what);
        abort();
    }
}

/* The text without whitespace outside strings: what the pretty printer must preserve. */
static struct output compact(const char *text, size_t length) {
    struct output out = {0};
    bool in_string = false, escaped = false;
    for (size_t i = 0; i < length; i++) {
        char c = text[i];
        if (!in_string && (c == ' ' || c == '\t' || c == '\n' || c == '\r'))
            continue;
        if (in_string && escaped)
            escaped = false;
        else if (in_string && c == '\\')
            escaped = true;
        else if (c == '"')
            in_string = !in_string;
        append(&out, &c, 1);
    }
    return out;
}

static bool same(const struct output *a, const struct output *b) {
    return a->length == b->length && (a->length == 0 || memcmp(a->bytes, b->bytes, a->length) == 0);
}

/* lua-cjson's own library exports this too, though lua-cjson.h only declares luaopen_cjson. */
int luaopen_cjson_safe(lua_State *L);

/* cjson.safe's decode with invalid numbers (NaN, hex) off: an independent strict decoder, on
 * the state kept across inputs. */
static bool cjson_accepts(const char *text, size_t length) {
    static const char *const functions[] = {"decode", "decode_invalid_numbers", NULL};
    static bool configured;
    lua_State *L = fuzz_lua_state("cjson.safe", luaopen_cjson_safe, functions);
    if (!configured) {
        lua_pushboolean(L, 0);
        fuzz_lua_call(L, 2, 1, 0);
        configured = true;
    }
    lua_pushlstring(L, text, length);
    fuzz_lua_call(L, 1, 1, 2);
    /* A valid "null" decodes to cjson.null, never to nil; nil means a rejection. */
    bool accepted = !lua_isnil(L, -2);
    if (!accepted)
        fprintf(stderr, "cjson: %s\n", lua_tostring(L, -1));
    return accepted;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *text = (const char *)data;
    struct output first = {0};
    struct json_error error, silent;
    bool valid = json_pretty(text, size, append, &first, &error);
    expect(json_pretty(text, size, NULL, NULL, &silent) == valid, "verdict depends on output");
    if (!valid) {
        expect(error.offset <= size, "error offset beyond the input");
        expect(strcmp(error.message, silent.message) == 0, "message depends on output");
        expect(strncmp(error.message, "invalid JSON at byte ", 21) == 0, "message format");
        free(first.bytes);
        return 0;
    }
    struct output second = {0};
    expect(json_pretty(first.bytes, first.length, append, &second, &error), "output is invalid");
    expect(same(&first, &second), "pretty(pretty(x)) != pretty(x)");
    struct output tokens_in = compact(text, size), tokens_out = compact(first.bytes, first.length);
    expect(same(&tokens_in, &tokens_out), "tokens changed");
    expect(cjson_accepts(text, size), "cjson rejects what we accept");
    free(tokens_in.bytes);
    free(tokens_out.bytes);
    free(second.bytes);
    free(first.bytes);
    return 0;
}
