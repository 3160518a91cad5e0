/* Unit tests of the lambda.event HTTP parser: request heads (framing, connection handling,
 * rejected forms) and the incremental chunked decoder fed in every possible split. */
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "event/request_parse.h"

static int span_is(const char *buf, struct http_span span, const char *expected) {
    return span.length == strlen(expected) && memcmp(buf + span.offset, expected, span.length) == 0;
}

/* Parses a complete head; returns the status (0 when accepted). */
static int parse(const char *text, struct http_head *head) {
    size_t scanned = 0;
    size_t end = http_head_end(text, strlen(text), &scanned);
    if (end != strlen(text))
        return -1;
    return http_parse_head(text, end, head);
}

static void test_head_end(void) {
    const char *text = "GET / HTTP/1.1\r\nHost: x\r\n\r\nBODY";
    size_t scanned = 0;
    CHECK(http_head_end(text, strlen(text), &scanned) == strlen(text) - 4);
    /* Fed a byte at a time, the end is found at the same place and nothing is rescanned
     * from the start. */
    size_t found = 0;
    scanned = 0;
    for (size_t length = 1; length <= strlen(text) && !found; length++) {
        found = http_head_end(text, length, &scanned);
        CHECK(scanned <= length);
    }
    CHECK(found == strlen(text) - 4);
    const char *bare = "GET / HTTP/1.1\nHost: x\n\nrest";
    scanned = 0;
    CHECK(http_head_end(bare, strlen(bare), &scanned) == strlen(bare) - 4);
    const char *mixed = "GET / HTTP/1.1\r\nHost: x\n\r\n";
    scanned = 0;
    CHECK(http_head_end(mixed, strlen(mixed), &scanned) == strlen(mixed));
    const char *partial = "GET / HTTP/1.1\r\nHost: x\r\n\r";
    scanned = 0;
    CHECK(http_head_end(partial, strlen(partial), &scanned) == 0);
    CHECK(scanned < strlen(partial));
}

static void test_request_head(void) {
    struct http_head head;
    const char *text = "POST /2015-03-31/functions/f%3Aa/invocations?Qualifier=live HTTP/1.1\r\n"
                       "Host: 127.0.0.1:9000\r\n"
                       "X-Amz-Date:20261127T140659Z\r\n"
                       "X-Empty:\r\n"
                       "X-Spaced: \t a b \t \r\n"
                       "Content-Length: 17\r\n"
                       "\r\n";
    CHECK(parse(text, &head) == 0);
    CHECK(span_is(text, head.method, "POST"));
    CHECK(span_is(text, head.target, "/2015-03-31/functions/f%3Aa/invocations?Qualifier=live"));
    CHECK(head.minor_version == 1);
    CHECK(head.header_count == 5);
    CHECK(span_is(text, head.headers[1].name, "X-Amz-Date"));
    CHECK(span_is(text, head.headers[1].value, "20261127T140659Z"));
    CHECK(span_is(text, head.headers[2].value, ""));
    CHECK(span_is(text, head.headers[3].value, "a b"));
    CHECK(head.content_length == 17 && !head.chunked && head.keep_alive && !head.expect_continue);

    CHECK(parse("GET / HTTP/1.0\r\n\r\n", &head) == 0);
    CHECK(head.minor_version == 0 && !head.keep_alive && head.content_length == -1);
    CHECK(parse("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", &head) == 0);
    CHECK(head.keep_alive);
    CHECK(parse("GET / HTTP/1.1\r\nConnection: upgrade, CLOSE\r\n\r\n", &head) == 0);
    CHECK(!head.keep_alive);
    CHECK(parse("PUT /x HTTP/1.1\r\nTransfer-Encoding: Chunked\r\n"
                "Expect: 100-continue\r\n\r\n",
                &head) == 0);
    CHECK(head.chunked && head.expect_continue && head.content_length == -1);
    /* Both framings: chunked wins and the connection closes afterwards. */
    CHECK(parse("POST / HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
                &head) == 0);
    CHECK(head.chunked && head.content_length == -1 && !head.keep_alive);
    /* Repeated identical lengths are one length. */
    CHECK(parse("POST / HTTP/1.1\r\nContent-Length: 3\r\ncontent-length: 3\r\n\r\n", &head) == 0);
    CHECK(head.content_length == 3);
    /* Any token is a method. */
    CHECK(parse("PROPFIND * HTTP/1.1\r\n\r\n", &head) == 0);
    CHECK(span_is("PROPFIND * HTTP/1.1\r\n\r\n", head.target, "*"));
    CHECK(parse("GET / HTTP/1.1\nHost: a\n\n", &head) == 0);
    CHECK(head.header_count == 1);
    /* Values may hold bytes above 0x7f (obs-text). */
    CHECK(parse("GET / HTTP/1.1\r\nX-Name: caf\xc3\xa9\r\n\r\n", &head) == 0);
}

static void test_rejected_heads(void) {
    struct http_head head;
    static const struct {
        const char *text;
        int status;
    } cases[] = {
        {"GET /\r\n\r\n", 400},
        {"GET / HTTP/1.1 \r\n\r\n", 400},
        {"GET  / HTTP/1.1\r\n\r\n", 400},
        {"GET / http/1.1\r\n\r\n", 400},
        {"GET / HTTP/1.10\r\n\r\n", 400},
        {" GET / HTTP/1.1\r\n\r\n", 400},
        {"G(T / HTTP/1.1\r\n\r\n", 400},
        {"GET / HTTP/2.0\r\n\r\n", 505},
        {"GET / HTTP/1.2\r\n\r\n", 505},
        {"GET /a\rb HTTP/1.1\r\n\r\n", 400},
        {"GET / HTTP/1.1\r\nHost : x\r\n\r\n", 400},
        {"GET / HTTP/1.1\r\n: x\r\n\r\n", 400},
        {"GET / HTTP/1.1\r\nNo-Colon\r\n\r\n", 400},
        {"GET / HTTP/1.1\r\nA: 1\r\n folded\r\n\r\n", 400},
        {"GET / HTTP/1.1\r\nA: x\ry\r\n\r\n", 400},
        {"GET / HTTP/1.1\r\nA: x\x01y\r\n\r\n", 400},
        {"GET / HTTP/1.1\r\nA: x\x7fy\r\n\r\n", 400},
        {"POST / HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n", 400},
        {"POST / HTTP/1.1\r\nContent-Length: +3\r\n\r\n", 400},
        {"POST / HTTP/1.1\r\nContent-Length: 3, 3\r\n\r\n", 400},
        {"POST / HTTP/1.1\r\nContent-Length:\r\n\r\n", 400},
        {"POST / HTTP/1.1\r\nContent-Length: 1234567890123456789\r\n\r\n", 400},
        {"POST / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 501},
        {"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n",
         501},
        {"POST / HTTP/1.1\r\nExpect: 200-ok\r\n\r\n", 417},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int status = parse(cases[i].text, &head);
        if (!CHECK(status == cases[i].status))
            fprintf(stderr, "  case %zu: status %d, expected %d\n", i, status, cases[i].status);
    }
    char many[16384];
    size_t length = (size_t)snprintf(many, sizeof many, "GET / HTTP/1.1\r\n");
    for (int i = 0; i <= HTTP_MAX_HEADERS; i++)
        length += (size_t)snprintf(many + length, sizeof many - length, "H%d: v\r\n", i);
    snprintf(many + length, sizeof many - length, "\r\n");
    CHECK(parse(many, &head) == 431);
}

struct decoded {
    char data[256];
    size_t length;
    char trailers[256];
    int ended, failed;
};

/* Feeds input in pieces of the given sizes (the last piece takes the rest), keeping the
 * unconsumed bytes as a connection would. */
static void decode(const char *input, size_t input_length, const size_t *pieces, size_t max_trailer,
                   struct decoded *out) {
    struct http_chunked decoder;
    memset(&decoder, 0, sizeof decoder);
    decoder.max_trailer = max_trailer;
    memset(out, 0, sizeof *out);
    char pending[512];
    size_t pending_length = 0, fed = 0;
    for (size_t p = 0; fed < input_length && !out->ended && !out->failed; p++) {
        size_t n = pieces[p] && fed + pieces[p] < input_length ? pieces[p] : input_length - fed;
        memcpy(pending + pending_length, input + fed, n);
        pending_length += n;
        fed += n;
        for (;;) {
            size_t used;
            struct http_span piece, value;
            enum http_chunk_event event =
                http_chunked_next(&decoder, pending, pending_length, &used, &piece, &value);
            if (event == HTTP_CHUNK_DATA) {
                memcpy(out->data + out->length, pending + piece.offset, piece.length);
                out->length += piece.length;
            } else if (event == HTTP_CHUNK_TRAILER) {
                size_t t = strlen(out->trailers);
                snprintf(out->trailers + t, sizeof out->trailers - t, "%.*s=%.*s;",
                         (int)piece.length, pending + piece.offset, (int)value.length,
                         pending + value.offset);
            } else if (event == HTTP_CHUNK_END) {
                out->ended = 1;
            } else if (event == HTTP_CHUNK_ERROR) {
                out->failed = 1;
            }
            memmove(pending, pending + used, pending_length - used);
            pending_length -= used;
            if (event == HTTP_CHUNK_MORE || event == HTTP_CHUNK_END || event == HTTP_CHUNK_ERROR)
                break;
        }
    }
}

static void test_chunked_every_split(void) {
    static const char body[] = "5\r\nhello\r\n"
                               "7;name=\"value\"\r\n, world\r\n"
                               "A \r\n0123456789\r\n"
                               "0\r\n"
                               "Lambda-Runtime-Function-Error-Type: Runtime.Panic\r\n"
                               "Lambda-Runtime-Function-Error-Body: e30=\r\n"
                               "\r\n";
    size_t length = sizeof body - 1;
    struct decoded out;
    for (size_t first = 0; first < length; first++) {
        size_t pieces[] = {first, 0};
        decode(body, length, pieces, 4096, &out);
        CHECK(out.ended && !out.failed);
        CHECK(out.length == 22 && memcmp(out.data, "hello, world0123456789", 22) == 0);
        CHECK(strcmp(out.trailers, "Lambda-Runtime-Function-Error-Type=Runtime.Panic;"
                                   "Lambda-Runtime-Function-Error-Body=e30=;") == 0);
    }
    size_t bytes[sizeof body];
    for (size_t i = 0; i < sizeof body; i++)
        bytes[i] = 1;
    decode(body, length, bytes, 4096, &out);
    CHECK(out.ended && out.length == 22);
    /* Bare LF line ends and a body with no trailers. */
    const char *lf = "3\nabc\n0\n\n";
    size_t whole[] = {0};
    decode(lf, strlen(lf), whole, 4096, &out);
    CHECK(out.ended && out.length == 3 && out.trailers[0] == '\0');
}

static void test_chunked_errors(void) {
    static const char *const bad[] = {
        "x\r\n",                       /* not a size */
        "3\r\nabcX\r\n",               /* no line end after the data */
        "3\r\nabc\r\r\n",              /* CR not followed by LF */
        "3;\x01\r\nabc\r\n",           /* a control byte in an extension */
        "10000000000000000\r\n",       /* size over 64 bits */
        "0\r\nBad Trailer: x\r\n\r\n", /* a trailer name with a space */
        "0\r\nA: 1\r\n folded\r\n\r\n",
    };
    struct decoded out;
    size_t whole[] = {0};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        decode(bad[i], strlen(bad[i]), whole, 4096, &out);
        if (!CHECK(out.failed))
            fprintf(stderr, "  bad chunked case %zu accepted\n", i);
    }
    const char *extension = "1;a=b\r\nx\r\n0\r\n\r\n";
    decode(extension, strlen(extension), whole, 4096, &out);
    CHECK(out.ended && !out.failed);
    /* The trailer section is bounded, also while a trailer line is incomplete. */
    const char *trailers = "0\r\nA: 0123456789\r\nB: 0123456789\r\n\r\n";
    decode(trailers, strlen(trailers), whole, 20, &out);
    CHECK(out.failed);
    const char *partial = "0\r\nA: 0123456789012345678901234567890123456789";
    decode(partial, strlen(partial), whole, 20, &out);
    CHECK(out.failed);
    /* Incomplete input is not an error. */
    const char *unfinished = "5\r\nhel";
    decode(unfinished, strlen(unfinished), whole, 4096, &out);
    CHECK(!out.failed && !out.ended && out.length == 3);
}

static void test_tokens(void) {
    CHECK(http_has_token("keep-alive, Close", 17, "close"));
    CHECK(!http_has_token("closed", 6, "close"));
    CHECK(http_has_token(" ,close,", 8, "close"));
    CHECK(http_token_equals("HeAd", 4, "head"));
    CHECK(!http_token_equals("heads", 5, "head"));
}

int main(void) {
    test_head_end();
    test_request_head();
    test_rejected_heads();
    test_chunked_every_split();
    test_chunked_errors();
    test_tokens();
    return check_report("test_event_parse");
}
