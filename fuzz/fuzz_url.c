/* libFuzzer target for the URL parser (common/url.h) and the plain engine's choice of target
 * (http/plain_target.c): every part must lie inside the input, in order, and a URL the plain
 * engine takes must be loopback http. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/url.h"
#include "http/engine.h"

#define REQUIRE(condition)                                                                         \
    do {                                                                                           \
        if (!(condition))                                                                          \
            abort();                                                                               \
    } while (0)

static void check_inside(const char *text, size_t length, const char *part, size_t part_length) {
    if (part_length == 0)
        return;
    REQUIRE(part >= text && part + part_length <= text + length);
}

int LLVMFuzzerTestOneInput(const uint8_t *bytes, size_t size) {
    /* The callers hand over NUL-terminated strings. */
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, bytes, size);
    text[size] = '\0';
    struct url parts;
    const char *problem = url_parse(text, size, &parts);
    if (!problem) {
        REQUIRE(memchr(text, '\0', size) == NULL);
        REQUIRE(parts.host_length > 0);
        check_inside(text, size, parts.host, parts.host_length);
        check_inside(text, size, parts.path, parts.path_length);
        check_inside(text, size, parts.query, parts.query_length);
        REQUIRE(parts.before_query <= size);
        REQUIRE(parts.port <= 65535);
        REQUIRE(parts.default_port == (parts.https ? 443u : 80u));
        REQUIRE(!parts.ipv6_literal ||
                (parts.host[0] == '[' && parts.host[parts.host_length - 1] == ']'));
        struct http_call call;
        memset(&call, 0, sizeof call);
        call.url = text;
        call.method = "GET";
        call.parts = parts;
        struct http_plain_target target;
        if (http_plain_accepts(&call, &target)) {
            REQUIRE(!parts.https && !parts.has_fragment);
            REQUIRE(target.address_count >= 1 && target.address_count <= HTTP_PLAIN_MAX_ADDRESSES);
            REQUIRE(target.port >= 1 && target.port <= 65535);
        }
    }
    free(text);
    return 0;
}
