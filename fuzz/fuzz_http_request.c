/* libFuzzer target for the lambda.event HTTP request parser: the head parser on the input,
 * then the chunked decoder on what follows the head, fed in pieces whose size the first
 * input byte chooses, as a connection would feed it. Checks that every span stays inside
 * the bytes it describes and that the decoder always makes progress or asks for more. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "event/request_parse.h"

#define REQUIRE(condition)                                                                         \
    do {                                                                                           \
        if (!(condition))                                                                          \
            abort();                                                                               \
    } while (0)

static void check_span(struct http_span span, size_t length) {
    REQUIRE((size_t)span.offset + span.length <= length);
}

static void parse_head(const char *data, size_t size) {
    size_t scanned = 0, end = 0;
    /* Incremental search must agree with a search over everything at once. */
    for (size_t length = 1; length <= size && !end; length += 7)
        end = http_head_end(data, length, &scanned);
    size_t whole_scanned = 0;
    size_t whole = http_head_end(data, size, &whole_scanned);
    REQUIRE(end == 0 || end == whole);
    if (!whole)
        return;
    struct http_head head;
    if (http_parse_head(data, whole, &head) != 0)
        return;
    check_span(head.method, whole);
    check_span(head.target, whole);
    REQUIRE(head.header_count <= HTTP_MAX_HEADERS);
    for (size_t i = 0; i < head.header_count; i++) {
        check_span(head.headers[i].name, whole);
        check_span(head.headers[i].value, whole);
        REQUIRE(head.headers[i].name.length > 0);
    }
}

static void decode_chunked(const char *data, size_t size, size_t piece_size) {
    struct http_chunked decoder;
    memset(&decoder, 0, sizeof decoder);
    decoder.max_trailer = 256;
    char *pending = malloc(size + 1);
    size_t pending_length = 0, fed = 0;
    int done = 0;
    while (fed < size && !done) {
        size_t n = size - fed < piece_size ? size - fed : piece_size;
        memcpy(pending + pending_length, data + fed, n);
        pending_length += n;
        fed += n;
        for (;;) {
            size_t used = 0;
            struct http_span piece = {0, 0}, value = {0, 0};
            enum http_chunk_event event =
                http_chunked_next(&decoder, pending, pending_length, &used, &piece, &value);
            REQUIRE(used <= pending_length);
            if (event == HTTP_CHUNK_DATA) {
                REQUIRE(piece.length > 0);
                check_span(piece, used);
            } else if (event == HTTP_CHUNK_TRAILER) {
                check_span(piece, used);
                check_span(value, used);
            }
            memmove(pending, pending + used, pending_length - used);
            pending_length -= used;
            if (event == HTTP_CHUNK_END || event == HTTP_CHUNK_ERROR) {
                done = 1;
                break;
            }
            if (event == HTTP_CHUNK_MORE)
                break;
        }
        REQUIRE(done || pending_length <= decoder.max_trailer + 1);
    }
    free(pending);
}

int LLVMFuzzerTestOneInput(const uint8_t *bytes, size_t size) {
    if (size == 0)
        return 0;
    size_t piece_size = (size_t)bytes[0] % 32 + 1;
    const char *data = (const char *)bytes + 1;
    size--;
    parse_head(data, size);
    size_t scanned = 0;
    size_t end = http_head_end(data, size, &scanned);
    decode_chunked(data + end, size - end, piece_size);
    return 0;
}
