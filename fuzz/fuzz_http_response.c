/* libFuzzer target for the incremental HTTP/1.x response parser (http/response_parse.h). The
 * first input byte chooses whether the request was HEAD (its high bit) and the size of the
 * pieces the rest is fed in (its low bits), as a connection would deliver it; then the peer
 * closes. Checks that DONE and ERROR are final, that the state is consistent at every step,
 * and that the result is the same as when the input arrives in one piece: the pieces a
 * connection happens to deliver must never change the answer. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http/response_parse.h"

#define REQUIRE(condition)                                                                         \
    do {                                                                                           \
        if (!(condition))                                                                          \
            abort();                                                                               \
    } while (0)

static bool same_bytes(const struct bytes *a, const struct bytes *b) {
    return a->length == b->length && (a->length == 0 || memcmp(a->data, b->data, a->length) == 0);
}

/* What holds whatever the state: fed is the number of bytes given to the parser so far. */
static void check_consistent(const struct http_response *p, enum http_response_state state,
                             size_t fed) {
    REQUIRE(p->body.length <= p->received && p->received <= fed);
    REQUIRE(memchr(p->error, '\0', sizeof p->error) != NULL);
    /* Only a finished response has bytes after its end, and only a failed one an error. */
    REQUIRE(state == HTTP_RESPONSE_DONE || p->extra == 0);
    REQUIRE((state == HTTP_RESPONSE_ERROR) == (p->error[0] != '\0'));
    if (state == HTTP_RESPONSE_DONE) {
        REQUIRE(p->status >= 100 && p->status <= 999);
        REQUIRE(p->minor_version == 0 || p->minor_version == 1);
        /* Whole "Name: value\n" lines, and never the NUL the parser refuses in a head. */
        REQUIRE(p->head.length == 0 || p->head.data[p->head.length - 1] == '\n');
        REQUIRE(p->head.length == 0 || memchr(p->head.data, '\0', p->head.length) == NULL);
        REQUIRE(p->head_request ? p->body.length == 0 : true);
    }
}

/* DONE and ERROR are final: every later call answers the same. */
static enum http_response_state advance(enum http_response_state state,
                                        enum http_response_state next) {
    REQUIRE(state == HTTP_RESPONSE_MORE || next == state);
    return next;
}

int LLVMFuzzerTestOneInput(const uint8_t *bytes, size_t size) {
    if (size == 0)
        return 0;
    bool head_request = (bytes[0] & 0x80) != 0;
    size_t piece_size = (size_t)(bytes[0] & 0x7f) + 1;
    const char *data = (const char *)bytes + 1;
    size--;

    struct http_response pieces;
    http_response_init(&pieces);
    pieces.head_request = head_request;
    enum http_response_state state = HTTP_RESPONSE_MORE;
    size_t fed = 0;
    while (fed < size) {
        size_t n = size - fed < piece_size ? size - fed : piece_size;
        state = advance(state, http_response_feed(&pieces, data + fed, n));
        fed += n;
        check_consistent(&pieces, state, fed);
    }
    state = advance(state, http_response_eof(&pieces));
    REQUIRE(state != HTTP_RESPONSE_MORE);
    check_consistent(&pieces, state, fed);

    struct http_response whole;
    http_response_init(&whole);
    whole.head_request = head_request;
    enum http_response_state whole_state = http_response_feed(&whole, data, size);
    whole_state = advance(whole_state, http_response_eof(&whole));
    check_consistent(&whole, whole_state, size);

    REQUIRE(whole_state == state);
    /* After an error, received depends on where the piece holding the fault ended. */
    REQUIRE(state != HTTP_RESPONSE_DONE || whole.received == pieces.received);
    REQUIRE(whole.status == pieces.status && whole.minor_version == pieces.minor_version);
    REQUIRE(state != HTTP_RESPONSE_DONE || whole.keep_alive == pieces.keep_alive);
    REQUIRE(same_bytes(&whole.head, &pieces.head) && same_bytes(&whole.body, &pieces.body));
    REQUIRE(whole.extra == pieces.extra);
    REQUIRE(strcmp(whole.error, pieces.error) == 0);

    http_response_free(&pieces);
    http_response_free(&whole);
    return 0;
}
