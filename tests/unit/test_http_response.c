/* Unit tests of the incremental HTTP/1.x response parser (http/response_parse.h): framing by
 * Content-Length, chunked and the close; HEAD, 204, 304 and interim 1xx answers; folded and
 * repeated header lines; the errors and their texts; bytes after the end. Every response is
 * fed whole, cut into two and into three pieces at every offset, and in fixed-size pieces
 * from one byte up, because a connection delivers bytes in arbitrary pieces and the result
 * must not depend on them. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "http/response_parse.h"

/* Bytes that may hold a NUL, written as a string literal. */
struct text {
    const char *data;
    size_t length;
};
#define TEXT(literal)                                                                              \
    { literal, sizeof literal - 1 }

/* One response and everything the parser must say about it. Unset strings mean empty. */
struct response_case {
    const char *name;
    struct text input;
    bool head_request;
    enum http_response_state fed;    /* returned by the feed of the last byte */
    enum http_response_state closed; /* returned by http_response_eof after that */
    int status, minor_version;
    bool keep_alive;   /* checked only when closed is DONE: it means nothing otherwise */
    const char *head;  /* the "Name: value\n" lines */
    struct text body;  /* decoded */
    size_t extra;      /* bytes after the end of the response */
    const char *error; /* the text on ERROR */
};

static const char *state_name(enum http_response_state state) {
    return state == HTTP_RESPONSE_MORE ? "MORE" : state == HTTP_RESPONSE_DONE ? "DONE" : "ERROR";
}

/* Prints bytes as a C string literal, shortened when long (the large heads). */
static void print_escaped(const char *data, size_t length) {
    size_t shown = length > 160 ? 160 : length;
    fputc('"', stderr);
    for (size_t i = 0; i < shown; i++) {
        unsigned char c = (unsigned char)data[i];
        if (c == '\n')
            fputs("\\n", stderr);
        else if (c == '\r')
            fputs("\\r", stderr);
        else if (c == '"' || c == '\\')
            fprintf(stderr, "\\%c", c);
        else if (c < 0x20 || c >= 0x7f)
            fprintf(stderr, "\\x%02x", c);
        else
            fputc(c, stderr);
    }
    fputc('"', stderr);
    if (shown < length)
        fprintf(stderr, "... (%zu bytes)", length);
}

static bool same_bytes(const struct bytes *got, const char *data, size_t length) {
    return got->length == length && (length == 0 || memcmp(got->data, data, length) == 0);
}

/* How a run cuts the input: input[0..first), then input[first..second) unless empty, then
 * the rest in pieces of `piece` bytes (0: in one piece). */
struct feeding {
    size_t first, second, piece;
};

static void describe_feeding(struct feeding f, size_t length) {
    if (f.first == length)
        fprintf(stderr, "fed whole");
    else if (f.piece)
        fprintf(stderr, "%zu bytes, then pieces of %zu", f.first, f.piece);
    else if (f.second > f.first)
        fprintf(stderr, "cut after %zu and %zu of %zu bytes", f.first, f.second, length);
    else
        fprintf(stderr, "cut after %zu of %zu bytes", f.first, length);
}

/* Feeds c's input as f says, then calls http_response_eof, and compares everything with c.
 * On a difference, prints it when `report` is set. Returns whether everything matched. */
static bool run_case(const struct response_case *c, struct feeding f, bool report) {
    struct http_response p;
    http_response_init(&p);
    p.head_request = c->head_request;
    const char *input = c->input.data ? c->input.data : "";
    size_t length = c->input.length;

    /* Once DONE or ERROR, every later call must say the same. */
    bool went_back = false;
    enum http_response_state state = http_response_feed(&p, input, f.first);
    size_t at = f.first;
    if (f.second > at) {
        enum http_response_state next = http_response_feed(&p, input + at, f.second - at);
        went_back = state != HTTP_RESPONSE_MORE && next != state;
        state = next;
        at = f.second;
    }
    while (at < length) {
        size_t n = f.piece && f.piece < length - at ? f.piece : length - at;
        enum http_response_state next = http_response_feed(&p, input + at, n);
        went_back = went_back || (state != HTTP_RESPONSE_MORE && next != state);
        state = next;
        at += n;
    }
    enum http_response_state fed = state;
    enum http_response_state closed = http_response_eof(&p);
    went_back = went_back || (fed != HTTP_RESPONSE_MORE && closed != fed);

    const char *head = c->head ? c->head : "";
    const char *body = c->body.data ? c->body.data : "";
    const char *error = c->error ? c->error : "";
    bool keep_alive_matters = c->closed == HTTP_RESPONSE_DONE;
    bool ok = !went_back && fed == c->fed && closed == c->closed && p.status == c->status &&
              p.minor_version == c->minor_version &&
              (!keep_alive_matters || p.keep_alive == c->keep_alive) &&
              same_bytes(&p.head, head, strlen(head)) &&
              same_bytes(&p.body, body, c->body.length) && p.extra == c->extra &&
              strcmp(p.error, error) == 0;
    if (!ok && report) {
        fprintf(stderr, "  %s, ", c->name);
        describe_feeding(f, length);
        fprintf(stderr, ":\n");
        if (went_back)
            fprintf(stderr, "    the state changed after DONE or ERROR\n");
        if (fed != c->fed || closed != c->closed)
            fprintf(stderr, "    state %s then %s at eof, expected %s then %s\n", state_name(fed),
                    state_name(closed), state_name(c->fed), state_name(c->closed));
        if (p.status != c->status || p.minor_version != c->minor_version)
            fprintf(stderr, "    status %d HTTP/1.%d, expected %d HTTP/1.%d\n", p.status,
                    p.minor_version, c->status, c->minor_version);
        if (keep_alive_matters && p.keep_alive != c->keep_alive)
            fprintf(stderr, "    keep_alive %d, expected %d\n", p.keep_alive, c->keep_alive);
        if (!same_bytes(&p.head, head, strlen(head))) {
            fprintf(stderr, "    head ");
            print_escaped(p.head.data, p.head.length);
            fprintf(stderr, "\n    expected ");
            print_escaped(head, strlen(head));
            fputc('\n', stderr);
        }
        if (!same_bytes(&p.body, body, c->body.length)) {
            fprintf(stderr, "    body ");
            print_escaped(p.body.data, p.body.length);
            fprintf(stderr, "\n    expected ");
            print_escaped(body, c->body.length);
            fputc('\n', stderr);
        }
        if (p.extra != c->extra)
            fprintf(stderr, "    extra %zu, expected %zu\n", p.extra, c->extra);
        if (strcmp(p.error, error) != 0)
            fprintf(stderr, "    error \"%s\", expected \"%s\"\n", p.error, error);
    }
    http_response_free(&p);
    return ok;
}

/* Runs c fed whole, cut in two and in three at all offsets (empty pieces included when cut
 * in two), and in pieces of fixed sizes. One check per case; the first feeding that differs
 * is described. */
static void check_case(const struct response_case *c) {
    size_t length = c->input.length, runs = 0, failed = 0;
    failed += !run_case(c, (struct feeding){length, length, 0}, true);
    runs++;
    for (size_t first = 0; first <= length; first++) {
        for (size_t second = first; second <= length; second++) {
            failed += !run_case(c, (struct feeding){first, second, 0}, failed == 0);
            runs++;
        }
    }
    static const size_t pieces[] = {1, 2, 3, 4, 5, 6, 7, 8, 13, 32, 100};
    for (size_t i = 0; i < sizeof pieces / sizeof pieces[0]; i++) {
        failed += !run_case(c, (struct feeding){0, 0, pieces[i]}, failed == 0);
        runs++;
    }
    check_that(failed == 0, "%s: %zu of %zu feedings differ from the expectation", c->name, failed,
               runs);
}

static void check_cases(const struct response_case *cases, size_t count) {
    for (size_t i = 0; i < count; i++)
        check_case(&cases[i]);
}

#define CHECK_CASES(cases) check_cases(cases, sizeof cases / sizeof cases[0])

static void test_content_length(void) {
    static const struct response_case cases[] = {
        {
            .name = "Content-Length body",
            .input = TEXT("HTTP/1.1 200 OK\r\n"
                          "Content-Type: text/plain\r\n"
                          "Content-Length: 5\r\n"
                          "\r\n"
                          "hello"),
            .fed = HTTP_RESPONSE_DONE,
            .closed = HTTP_RESPONSE_DONE,
            .status = 200,
            .minor_version = 1,
            .keep_alive = true,
            .head = "Content-Type: text/plain\nContent-Length: 5\n",
            .body = TEXT("hello"),
        },
        {
            /* The body is bytes: a NUL, line ends and what looks like a head are data. */
            .name = "binary Content-Length body",
            .input = TEXT("HTTP/1.1 201 Created\r\n"
                          "content-length: 13\r\n"
                          "\r\n"
                          "a\0\r\n\r\nHTTP/1."),
            .fed = HTTP_RESPONSE_DONE,
            .closed = HTTP_RESPONSE_DONE,
            .status = 201,
            .minor_version = 1,
            .keep_alive = true,
            .head = "content-length: 13\n",
            .body = TEXT("a\0\r\n\r\nHTTP/1."),
        },
        {
            .name = "zero Content-Length",
            .input = TEXT("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"),
            .fed = HTTP_RESPONSE_DONE,
            .closed = HTTP_RESPONSE_DONE,
            .status = 200,
            .minor_version = 1,
            .keep_alive = true,
            .head = "Content-Length: 0\n",
        },
        {
            .name = "repeated equal Content-Length",
            .input = TEXT("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length:  2 \r\n"
                          "\r\nok"),
            .fed = HTTP_RESPONSE_DONE,
            .closed = HTTP_RESPONSE_DONE,
            .status = 200,
            .minor_version = 1,
            .keep_alive = true,
            .head = "Content-Length: 2\nContent-Length:  2 \n",
            .body = TEXT("ok"),
        },
        {
            /* HTTP/1.0 closes after the response unless it says otherwise. */
            .name = "HTTP/1.0 without keep-alive",
            .input = TEXT("HTTP/1.0 200 OK\r\nContent-Length: 3\r\n\r\nabc"),
            .fed = HTTP_RESPONSE_DONE,
            .closed = HTTP_RESPONSE_DONE,
            .status = 200,
            .minor_version = 0,
            .keep_alive = false,
            .head = "Content-Length: 3\n",
            .body = TEXT("abc"),
        },
        {
            .name = "HTTP/1.0 with Connection: keep-alive",
            .input = TEXT("HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: 3\r\n"
                          "\r\nabc"),
            .fed = HTTP_RESPONSE_DONE,
            .closed = HTTP_RESPONSE_DONE,
            .status = 200,
            .minor_version = 0,
            .keep_alive = true,
            .head = "Connection: Keep-Alive\nContent-Length: 3\n",
            .body = TEXT("abc"),
        },
        {
            .name = "HTTP/1.1 with Connection: close",
            .input = TEXT("HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 3\r\n\r\nabc"),
            .fed = HTTP_RESPONSE_DONE,
            .closed = HTTP_RESPONSE_DONE,
            .status = 200,
            .minor_version = 1,
            .keep_alive = false,
            .head = "Connection: close\nContent-Length: 3\n",
            .body = TEXT("abc"),
        },
        {
            /* close among other tokens, in any case, still closes. */
            .name = "Connection: keep-alive, Close",
            .input = TEXT("HTTP/1.1 404 Not Found\r\nConnection: keep-alive, Close\r\n"
                          "Content-Length: 0\r\n\r\n"),
            .fed = HTTP_RESPONSE_DONE,
            .closed = HTTP_RESPONSE_DONE,
            .status = 404,
            .minor_version = 1,
            .keep_alive = false,
            .head = "Connection: keep-alive, Close\nContent-Length: 0\n",
        },
        {
            /* A status line without a reason phrase is complete. */
            .name = "status line without a reason",
            .input = TEXT("HTTP/1.1 599\r\nContent-Length: 1\r\n\r\nx"),
            .fed = HTTP_RESPONSE_DONE,
            .closed = HTTP_RESPONSE_DONE,
            .status = 599,
            .minor_version = 1,
            .keep_alive = true,
            .head = "Content-Length: 1\n",
            .body = TEXT("x"),
        },
    };
    CHECK_CASES(cases);
}

static void test_chunked(void) {
    static const struct response_case cases[] = {
        {
            .name = "chunked with extensions and trailers",
            .input = TEXT("HTTP/1.1 200 OK\r\n"
                          "Transfer-Encoding: chunked\r\n"
                          "X-Before: 1\r\n"
                          "\r\n"
                          "5;name=\"value\"\r\nhello\r\n"
                          "7 ; x\r\n, world\r\n"
                          "A\r\n0123456789\r\n"
                          "0;last\r\n"
                          "X-Trailer: t\r\n"
                          "Checksum: abc\r\n"
                          "\r\n"),
            .fed = HTTP_RESPONSE_DONE,
            .closed = HTTP_RESPONSE_DONE,
            .status = 200,
            .minor_version = 1,
            .keep_alive = true,
            .head = "Transfer-Encoding: chunked\nX-Before: 1\n",
            .body = TEXT("hello, world0123456789"),
        },
        {
            .name = "chunked with bare LF and no trailers",
            .input = TEXT("HTTP/1.1 200 OK\nTransfer-Encoding: Chunked\n\n3\nabc\n0\n\n"),
            .fed = HTTP_RESPONSE_DONE,
            .closed = HTTP_RESPONSE_DONE,
            .status = 200,
            .minor_version = 1,
            .keep_alive = true,
            .head = "Transfer-Encoding: Chunked\n",
            .body = TEXT("abc"),
        },
        {
            .name = "chunked with an empty body",
            .input = TEXT("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"),
            .fed = HTTP_RESPONSE_DONE,
            .closed = HTTP_RESPONSE_DONE,
            .status = 200,
            .minor_version = 1,
            .keep_alive = true,
            .head = "Transfer-Encoding: chunked\n",
        },
        {
            /* Both framings: chunked decides the body, and the connection is not reused. */
            .name = "chunked and Content-Length",
            .input = TEXT("HTTP/1.1 200 OK\r\n"
                          "Content-Length: 100\r\n"
                          "Transfer-Encoding: chunked\r\n"
                          "\r\n"
                          "2\r\nhi\r\n0\r\n\r\n"),
            .fed = HTTP_RESPONSE_DONE,
            .closed = HTTP_RESPONSE_DONE,
            .status = 200,
            .minor_version = 1,
            .keep_alive = false,
            .head = "Content-Length: 100\nTransfer-Encoding: chunked\n",
            .body = TEXT("hi"),
        },
    };
    CHECK_CASES(cases);
}

static void test_until_close(void) {
    static const struct response_case cases[] = {
        {
            /* No framing: the body is everything up to the close, which is the end. */
            .name = "body up to the close",
            .input = TEXT("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n"
                          "streamed\r\n\r\nuntil the close"),
            .fed = HTTP_RESPONSE_MORE,
            .closed = HTTP_RESPONSE_DONE,
            .status = 200,
            .minor_version = 1,
            .keep_alive = false,
            .head = "Content-Type: text/plain\n",
            .body = TEXT("streamed\r\n\r\nuntil the close"),
        },
        {
            .name = "empty body up to the close",
            .input = TEXT("HTTP/1.1 200 OK\r\n\r\n"),
            .fed = HTTP_RESPONSE_MORE,
            .closed = HTTP_RESPONSE_DONE,
            .status = 200,
            .minor_version = 1,
            .keep_alive = false,
        },
        {
            /* keep-alive cannot hold when only the close ends the body. */
            .name = "HTTP/1.0 keep-alive without a length",
            .input = TEXT("HTTP/1.0 200 OK\r\nConnection: keep-alive\r\n\r\nabc"),
            .fed = HTTP_RESPONSE_MORE,
            .closed = HTTP_RESPONSE_DONE,
            .status = 200,
            .minor_version = 0,
            .keep_alive = false,
            .head = "Connection: keep-alive\n",
            .body = TEXT("abc"),
        },
    };
    CHECK_CASES(cases);
}

static void test_no_body(void) {
    static const struct response_case cases[] = {
        {
            /* The length of a HEAD response is that of the GET body that was not sent. */
            .name = "HEAD with Content-Length",
            .input = TEXT("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n"),
            .head_request = true,
            .fed = HTTP_RESPONSE_DONE,
            .closed = HTTP_RESPONSE_DONE,
            .status = 200,
            .minor_version = 1,
            .keep_alive = true,
            .head = "Content-Length: 5\n",
        },
        {
            .name = "HEAD with chunked",
            .input = TEXT("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"),
            .head_request = true,
            .fed = HTTP_RESPONSE_DONE,
            .closed = HTTP_RESPONSE_DONE,
            .status = 200,
            .minor_version = 1,
            .keep_alive = true,
            .head = "Transfer-Encoding: chunked\n",
        },
        {
            /* A body sent anyway is not read as the body: it spoils the connection. */
            .name = "HEAD answered with a body",
            .input = TEXT("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"),
            .head_request = true,
            .fed = HTTP_RESPONSE_DONE,
            .closed = HTTP_RESPONSE_DONE,
            .status = 200,
            .minor_version = 1,
            .keep_alive = true,
            .head = "Content-Length: 5\n",
            .extra = 5,
        },
        {
            .name = "HEAD without framing",
            .input = TEXT("HTTP/1.1 200 OK\r\nX-A: b\r\n\r\n"),
            .head_request = true,
            .fed = HTTP_RESPONSE_DONE,
            .closed = HTTP_RESPONSE_DONE,
            .status = 200,
            .minor_version = 1,
            .keep_alive = true,
            .head = "X-A: b\n",
        },
        {
            .name = "204 with Content-Length",
            .input = TEXT("HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\n"),
            .fed = HTTP_RESPONSE_DONE,
            .closed = HTTP_RESPONSE_DONE,
            .status = 204,
            .minor_version = 1,
            .keep_alive = true,
            .head = "Content-Length: 5\n",
        },
        {
            .name = "304 with chunked",
            .input = TEXT("HTTP/1.1 304 Not Modified\r\nETag: \"x\"\r\n"
                          "Transfer-Encoding: chunked\r\n\r\n"),
            .fed = HTTP_RESPONSE_DONE,
            .closed = HTTP_RESPONSE_DONE,
            .status = 304,
            .minor_version = 1,
            .keep_alive = true,
            .head = "ETag: \"x\"\nTransfer-Encoding: chunked\n",
        },
        {
            /* After a protocol switch the bytes are not HTTP any more. */
            .name = "101 Switching Protocols",
            .input = TEXT("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                          "Connection: Upgrade\r\n\r\n\x81\x05hello"),
            .fed = HTTP_RESPONSE_DONE,
            .closed = HTTP_RESPONSE_DONE,
            .status = 101,
            .minor_version = 1,
            .keep_alive = false,
            .head = "Upgrade: websocket\nConnection: Upgrade\n",
            .extra = 7,
        },
    };
    CHECK_CASES(cases);
}

static void test_interim(void) {
    static const struct response_case cases[] = {
        {
            .name = "100 Continue then 200",
            .input = TEXT("HTTP/1.1 100 Continue\r\n"
                          "X-Interim: 1\r\n"
                          "\r\n"
                          "HTTP/1.1 200 OK\r\n"
                          "Content-Length: 2\r\n"
                          "\r\n"
                          "ok"),
            .fed = HTTP_RESPONSE_DONE,
            .closed = HTTP_RESPONSE_DONE,
            .status = 200,
            .minor_version = 1,
            .keep_alive = true,
            .head = "Content-Length: 2\n",
            .body = TEXT("ok"),
        },
        {
            /* Several interim answers, one of them with a body-like header, to a HEAD. */
            .name = "100, 103 then 200 to a HEAD",
            .input = TEXT("HTTP/1.1 100 Continue\r\n\r\n"
                          "HTTP/1.1 103 Early Hints\r\n"
                          "Link: </style.css>; rel=preload\r\n"
                          "Content-Length: 3\r\n"
                          "\r\n"
                          "HTTP/1.0 200 OK\r\n"
                          "Content-Length: 9\r\n"
                          "\r\n"),
            .head_request = true,
            .fed = HTTP_RESPONSE_DONE,
            .closed = HTTP_RESPONSE_DONE,
            .status = 200,
            .minor_version = 0,
            .keep_alive = false,
            .head = "Content-Length: 9\n",
        },
        {
            /* Bare LF throughout; the final answer's trailers are dropped like its body's. */
            .name = "100 Continue then a chunked 200",
            .input = TEXT("HTTP/1.1 100 Continue\n\n"
                          "HTTP/1.1 200 OK\n"
                          "Transfer-Encoding: chunked\n"
                          "\n"
                          "1\nx\n0\nT: 1\n\n"),
            .fed = HTTP_RESPONSE_DONE,
            .closed = HTTP_RESPONSE_DONE,
            .status = 200,
            .minor_version = 1,
            .keep_alive = true,
            .head = "Transfer-Encoding: chunked\n",
            .body = TEXT("x"),
        },
        {
            .name = "eof after only an interim answer",
            .input = TEXT("HTTP/1.1 100 Continue\r\n\r\n"),
            .fed = HTTP_RESPONSE_MORE,
            .closed = HTTP_RESPONSE_ERROR,
            .status = 100,
            .minor_version = 1,
            .error = "connection closed in the middle of the response head",
        },
    };
    CHECK_CASES(cases);
}

static void test_header_lines(void) {
    static const struct response_case cases[] = {
        {
            /* Obsolete folding: libcurl joins the lines, so the plain engine does too. */
            .name = "folded header lines",
            .input = TEXT("HTTP/1.1 200 OK\r\n"
                          "X-Folded: first\r\n"
                          "   second\r\n"
                          "\tthird\r\n"
                          "Content-Length: 0\r\n"
                          "\r\n"),
            .fed = HTTP_RESPONSE_DONE,
            .closed = HTTP_RESPONSE_DONE,
            .status = 200,
            .minor_version = 1,
            .keep_alive = true,
            .head = "X-Folded: first second third\nContent-Length: 0\n",
        },
        {
            /* A folded Content-Length still frames the body. */
            .name = "folded Content-Length",
            .input = TEXT("HTTP/1.1 200 OK\r\nContent-Length:\r\n 2\r\n\r\nok"),
            .fed = HTTP_RESPONSE_DONE,
            .closed = HTTP_RESPONSE_DONE,
            .status = 200,
            .minor_version = 1,
            .keep_alive = true,
            .head = "Content-Length: 2\n",
            .body = TEXT("ok"),
        },
        {
            .name = "bare LF line ends",
            .input = TEXT("HTTP/1.1 200 OK\nX-A: b\nContent-Length: 2\n\nhi"),
            .fed = HTTP_RESPONSE_DONE,
            .closed = HTTP_RESPONSE_DONE,
            .status = 200,
            .minor_version = 1,
            .keep_alive = true,
            .head = "X-A: b\nContent-Length: 2\n",
            .body = TEXT("hi"),
        },
        {
            .name = "mixed line ends",
            .input = TEXT("HTTP/1.1 200 OK\r\nX-A: b\nContent-Length: 2\r\n\nhi"),
            .fed = HTTP_RESPONSE_DONE,
            .closed = HTTP_RESPONSE_DONE,
            .status = 200,
            .minor_version = 1,
            .keep_alive = true,
            .head = "X-A: b\nContent-Length: 2\n",
            .body = TEXT("hi"),
        },
        {
            /* Lines are kept as the server wrote them (spacing, case, colons, UTF-8), and a
             * repeated field stays one line per occurrence, in order. */
            .name = "header text and repeated fields",
            .input = TEXT("HTTP/1.1 200 OK\r\n"
                          "Set-Cookie: a=1; Path=/\r\n"
                          "x-spaced:   a  b  \r\n"
                          "X-Empty:\r\n"
                          "X-Url: http://h:1/p?q=a:b\r\n"
                          "X-Name: caf\xc3\xa9\r\n"
                          "Set-Cookie: b=2\r\n"
                          "Content-Length: 0\r\n"
                          "\r\n"),
            .fed = HTTP_RESPONSE_DONE,
            .closed = HTTP_RESPONSE_DONE,
            .status = 200,
            .minor_version = 1,
            .keep_alive = true,
            .head = "Set-Cookie: a=1; Path=/\n"
                    "x-spaced:   a  b  \n"
                    "X-Empty:\n"
                    "X-Url: http://h:1/p?q=a:b\n"
                    "X-Name: caf\xc3\xa9\n"
                    "Set-Cookie: b=2\n"
                    "Content-Length: 0\n",
        },
    };
    CHECK_CASES(cases);
}

static void test_malformed_heads(void) {
    static const struct response_case cases[] = {
        {
            .name = "NUL in the head",
            .input = TEXT("HTTP/1.1 200 OK\r\nX-A: a\0b\r\nContent-Length: 0\r\n\r\n"),
            .fed = HTTP_RESPONSE_ERROR,
            .closed = HTTP_RESPONSE_ERROR,
            .error = "NUL byte in the response head",
        },
        {
            .name = "not a status line",
            .input = TEXT("ICY 200 OK\r\n\r\n"),
            .fed = HTTP_RESPONSE_ERROR,
            .closed = HTTP_RESPONSE_ERROR,
            .error = "malformed status line in the response",
        },
        {
            .name = "status with a letter",
            .input = TEXT("HTTP/1.1 2x0 OK\r\n\r\n"),
            .fed = HTTP_RESPONSE_ERROR,
            .closed = HTTP_RESPONSE_ERROR,
            .error = "malformed status line in the response",
        },
        {
            .name = "status below 100",
            .input = TEXT("HTTP/1.1 099 Low\r\n\r\n"),
            .fed = HTTP_RESPONSE_ERROR,
            .closed = HTTP_RESPONSE_ERROR,
            .error = "malformed status line in the response",
        },
        {
            .name = "status of four digits",
            .input = TEXT("HTTP/1.1 2000 OK\r\n\r\n"),
            .fed = HTTP_RESPONSE_ERROR,
            .closed = HTTP_RESPONSE_ERROR,
            .error = "malformed status line in the response",
        },
        {
            .name = "two spaces before the status",
            .input = TEXT("HTTP/1.1  200 OK\r\n\r\n"),
            .fed = HTTP_RESPONSE_ERROR,
            .closed = HTTP_RESPONSE_ERROR,
            .error = "malformed status line in the response",
        },
        {
            /* The version is a supported one: what is wrong is the status. */
            .name = "status of two digits",
            .input = TEXT("HTTP/1.1 20\r\n\r\n"),
            .fed = HTTP_RESPONSE_ERROR,
            .closed = HTTP_RESPONSE_ERROR,
            .error = "malformed status line in the response",
        },
        {
            .name = "HTTP/2 status line",
            .input = TEXT("HTTP/2 200\r\n\r\n"),
            .fed = HTTP_RESPONSE_ERROR,
            .closed = HTTP_RESPONSE_ERROR,
            .error = "unsupported HTTP version in the response",
        },
        {
            .name = "HTTP/1.2 status line",
            .input = TEXT("HTTP/1.2 200 OK\r\n\r\n"),
            .fed = HTTP_RESPONSE_ERROR,
            .closed = HTTP_RESPONSE_ERROR,
            .error = "unsupported HTTP version in the response",
        },
        {
            /* The final answer's status line is checked as strictly as the first one. */
            .name = "malformed status line after 100 Continue",
            .input = TEXT("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 2OO OK\r\n\r\n"),
            .fed = HTTP_RESPONSE_ERROR,
            .closed = HTTP_RESPONSE_ERROR,
            .status = 100,
            .minor_version = 1,
            .error = "malformed status line in the response",
        },
    };
    CHECK_CASES(cases);
}

static void test_bad_framing(void) {
    static const struct response_case cases[] = {
        {
            .name = "Content-Length not a number",
            .input = TEXT("HTTP/1.1 200 OK\r\nContent-Length: abc\r\n\r\n"),
            .fed = HTTP_RESPONSE_ERROR,
            .closed = HTTP_RESPONSE_ERROR,
            .status = 200,
            .minor_version = 1,
            .head = "Content-Length: abc\n",
            .error = "invalid Content-Length in the response",
        },
        {
            .name = "negative Content-Length",
            .input = TEXT("HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n"),
            .fed = HTTP_RESPONSE_ERROR,
            .closed = HTTP_RESPONSE_ERROR,
            .status = 200,
            .minor_version = 1,
            .head = "Content-Length: -1\n",
            .error = "invalid Content-Length in the response",
        },
        {
            .name = "Content-Length list",
            .input = TEXT("HTTP/1.1 200 OK\r\nContent-Length: 3, 3\r\n\r\nabc"),
            .fed = HTTP_RESPONSE_ERROR,
            .closed = HTTP_RESPONSE_ERROR,
            .status = 200,
            .minor_version = 1,
            .head = "Content-Length: 3, 3\n",
            .error = "invalid Content-Length in the response",
        },
        {
            .name = "empty Content-Length",
            .input = TEXT("HTTP/1.1 200 OK\r\nContent-Length:\r\n\r\n"),
            .fed = HTTP_RESPONSE_ERROR,
            .closed = HTTP_RESPONSE_ERROR,
            .status = 200,
            .minor_version = 1,
            .head = "Content-Length:\n",
            .error = "invalid Content-Length in the response",
        },
        {
            .name = "Content-Length over 18 digits",
            .input = TEXT("HTTP/1.1 200 OK\r\nContent-Length: 1234567890123456789\r\n\r\n"),
            .fed = HTTP_RESPONSE_ERROR,
            .closed = HTTP_RESPONSE_ERROR,
            .status = 200,
            .minor_version = 1,
            .head = "Content-Length: 1234567890123456789\n",
            .error = "invalid Content-Length in the response",
        },
        {
            .name = "conflicting Content-Length",
            .input = TEXT("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n"
                          "hello!"),
            .fed = HTTP_RESPONSE_ERROR,
            .closed = HTTP_RESPONSE_ERROR,
            .status = 200,
            .minor_version = 1,
            .head = "Content-Length: 5\nContent-Length: 6\n",
            .error = "conflicting Content-Length values in the response",
        },
        {
            .name = "Transfer-Encoding: gzip",
            .input = TEXT("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\nxyz"),
            .fed = HTTP_RESPONSE_ERROR,
            .closed = HTTP_RESPONSE_ERROR,
            .status = 200,
            .minor_version = 1,
            .head = "Transfer-Encoding: gzip\n",
            .error = "unsupported Transfer-Encoding in the response",
        },
        {
            .name = "Transfer-Encoding: gzip, chunked",
            .input = TEXT("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n"),
            .fed = HTTP_RESPONSE_ERROR,
            .closed = HTTP_RESPONSE_ERROR,
            .status = 200,
            .minor_version = 1,
            .head = "Transfer-Encoding: gzip, chunked\n",
            .error = "unsupported Transfer-Encoding in the response",
        },
        {
            /* The data decoded before the fault stays; nothing after it is read. */
            .name = "chunk data without its line end",
            .input = TEXT("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                          "5\r\nhelloX\r\n0\r\n\r\n"),
            .fed = HTTP_RESPONSE_ERROR,
            .closed = HTTP_RESPONSE_ERROR,
            .status = 200,
            .minor_version = 1,
            .head = "Transfer-Encoding: chunked\n",
            .body = TEXT("hello"),
            .error = "malformed chunked body in the response",
        },
        {
            .name = "chunk size not hexadecimal",
            .input = TEXT("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"),
            .fed = HTTP_RESPONSE_ERROR,
            .closed = HTTP_RESPONSE_ERROR,
            .status = 200,
            .minor_version = 1,
            .head = "Transfer-Encoding: chunked\n",
            .error = "malformed chunked body in the response",
        },
        {
            .name = "malformed trailer",
            .input = TEXT("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                          "1\r\na\r\n0\r\nBad Trailer: x\r\n\r\n"),
            .fed = HTTP_RESPONSE_ERROR,
            .closed = HTTP_RESPONSE_ERROR,
            .status = 200,
            .minor_version = 1,
            .head = "Transfer-Encoding: chunked\n",
            .body = TEXT("a"),
            .error = "malformed chunked body in the response",
        },
    };
    CHECK_CASES(cases);
}

static void test_early_close(void) {
    static const struct response_case cases[] = {
        {
            .name = "no bytes at all",
            .input = TEXT(""),
            .fed = HTTP_RESPONSE_MORE,
            .closed = HTTP_RESPONSE_ERROR,
            .error = "empty reply from server",
        },
        {
            .name = "closed in the head",
            .input = TEXT("HTTP/1.1 200 OK\r\nContent-Le"),
            .fed = HTTP_RESPONSE_MORE,
            .closed = HTTP_RESPONSE_ERROR,
            .error = "connection closed in the middle of the response head",
        },
        {
            .name = "closed in a Content-Length body",
            .input = TEXT("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc"),
            .fed = HTTP_RESPONSE_MORE,
            .closed = HTTP_RESPONSE_ERROR,
            .status = 200,
            .minor_version = 1,
            .head = "Content-Length: 10\n",
            .body = TEXT("abc"),
            .error = "transfer closed with 7 bytes remaining to read",
        },
        {
            .name = "closed before a Content-Length body",
            .input = TEXT("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n"),
            .fed = HTTP_RESPONSE_MORE,
            .closed = HTTP_RESPONSE_ERROR,
            .status = 200,
            .minor_version = 1,
            .head = "Content-Length: 10\n",
            .error = "transfer closed with 10 bytes remaining to read",
        },
        {
            .name = "closed in chunk data",
            .input = TEXT("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel"),
            .fed = HTTP_RESPONSE_MORE,
            .closed = HTTP_RESPONSE_ERROR,
            .status = 200,
            .minor_version = 1,
            .head = "Transfer-Encoding: chunked\n",
            .body = TEXT("hel"),
            .error = "transfer closed with outstanding read data remaining",
        },
        {
            /* The last chunk came, but not the empty line that ends the trailers. */
            .name = "closed in the trailers",
            .input = TEXT("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                          "2\r\nhi\r\n0\r\nX-T: 1\r\n"),
            .fed = HTTP_RESPONSE_MORE,
            .closed = HTTP_RESPONSE_ERROR,
            .status = 200,
            .minor_version = 1,
            .head = "Transfer-Encoding: chunked\n",
            .body = TEXT("hi"),
            .error = "transfer closed with outstanding read data remaining",
        },
    };
    CHECK_CASES(cases);
}

static void test_extra(void) {
    static const struct response_case cases[] = {
        {
            /* A second response nobody asked for: the connection cannot be trusted. */
            .name = "bytes after a Content-Length body",
            .input = TEXT("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
                          "HTTP/1.1 200 OK\r\n"),
            .fed = HTTP_RESPONSE_DONE,
            .closed = HTTP_RESPONSE_DONE,
            .status = 200,
            .minor_version = 1,
            .keep_alive = true,
            .head = "Content-Length: 2\n",
            .body = TEXT("ok"),
            .extra = 17,
        },
        {
            .name = "bytes after the chunked trailers",
            .input = TEXT("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                          "2\r\nok\r\n0\r\nX-T: 1\r\n\r\nabc"),
            .fed = HTTP_RESPONSE_DONE,
            .closed = HTTP_RESPONSE_DONE,
            .status = 200,
            .minor_version = 1,
            .keep_alive = true,
            .head = "Transfer-Encoding: chunked\n",
            .body = TEXT("ok"),
            .extra = 3,
        },
        {
            .name = "bytes after a 204",
            .input = TEXT("HTTP/1.1 204 No Content\r\n\r\n\r\n"),
            .fed = HTTP_RESPONSE_DONE,
            .closed = HTTP_RESPONSE_DONE,
            .status = 204,
            .minor_version = 1,
            .keep_alive = true,
            .extra = 2,
        },
    };
    CHECK_CASES(cases);
}

/* received counts the bytes of the response, not those that came after it, whether they
 * arrived in the same piece as its end or in a later one. */
static void test_received(void) {
    static const char response[] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
    static const char input[] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokEXTRA";
    size_t response_length = sizeof response - 1, length = sizeof input - 1;
    size_t differing = 0, first_difference = 0;
    for (size_t first = 0; first <= length; first++) {
        struct http_response p;
        http_response_init(&p);
        http_response_feed(&p, input, first);
        http_response_feed(&p, input + first, length - first);
        if (p.received != response_length || p.extra != length - response_length) {
            if (differing++ == 0)
                first_difference = first;
        }
        http_response_free(&p);
    }
    if (!CHECK(differing == 0))
        fprintf(stderr,
                "  received/extra wrong in %zu of %zu splits, first when split after %zu "
                "bytes (expected received %zu, extra %zu)\n",
                differing, length + 1, first_difference, response_length, length - response_length);
}

/* The input "HTTP/1.1 200 OK\r\nX-Big: aaa...\r\nContent-Length: 2\r\n\r\nok" whose head is
 * head_length bytes long, or without the end of its head when complete is false; *head gets
 * the head lines the parser should report. Both are allocated. */
static char *big_head_response(size_t head_length, bool complete, size_t *length, char **head) {
    static const char start[] = "HTTP/1.1 200 OK\r\nX-Big: ",
                      end[] = "\r\nContent-Length: 2\r\n\r\n";
    size_t filler = head_length - (sizeof start - 1) - (sizeof end - 1);
    char *input = malloc(head_length + 2);
    *head = malloc(head_length);
    if (!input || !*head) {
        fputs("out of memory\n", stderr);
        exit(EXIT_FAILURE);
    }
    memcpy(input, start, sizeof start - 1);
    memset(input + sizeof start - 1, 'a', filler);
    memcpy(input + sizeof start - 1 + filler, end, sizeof end - 1);
    memcpy(input + head_length, "ok", 2);
    *length = complete ? head_length + 2 : sizeof start - 1 + filler;
    size_t head_lines = (size_t)snprintf(*head, head_length, "X-Big: ");
    memset(*head + head_lines, 'a', filler);
    head_lines += filler;
    memcpy(*head + head_lines, "\nContent-Length: 2\n", sizeof "\nContent-Length: 2\n");
    return input;
}

/* Runs c in the feedings that matter for a head near HTTP_RESPONSE_MAX_HEAD: every split
 * and byte at a time would take too long (the whole head is kept until it is complete), so
 * whole, split around the limit and the middle, in 4 KiB and 64 KiB pieces, and a byte at a
 * time across the limit. One check per case. */
static void check_big_case(const struct response_case *c) {
    size_t length = c->input.length;
    const size_t max = HTTP_RESPONSE_MAX_HEAD;
    const struct feeding feedings[] = {
        {length, length, 0},         {1, 1, 0},     {length / 2, length / 2, 0},
        {max - 1, max - 1, 0},       {max, max, 0}, {max + 1, max + 1, 0},
        {length - 1, length - 1, 0}, {0, 0, 4096},  {0, 0, 65536},
        {max - 8, max - 8, 1},
    };
    size_t failed = 0, runs = sizeof feedings / sizeof feedings[0];
    for (size_t i = 0; i < runs; i++) {
        struct feeding f = feedings[i];
        if (f.first > length)
            f.first = f.second = length;
        failed += !run_case(c, f, failed == 0);
    }
    check_that(failed == 0, "%s: %zu of %zu feedings differ from the expectation", c->name, failed,
               runs);
}

static void test_head_limit(void) {
    const size_t max = HTTP_RESPONSE_MAX_HEAD;
    size_t length;
    char *head;
    char *input = big_head_response(max, true, &length, &head);
    struct response_case at_limit = {
        .name = "head of HTTP_RESPONSE_MAX_HEAD bytes",
        .input = {input, length},
        .fed = HTTP_RESPONSE_DONE,
        .closed = HTTP_RESPONSE_DONE,
        .status = 200,
        .minor_version = 1,
        .keep_alive = true,
        .head = head,
        .body = TEXT("ok"),
    };
    check_big_case(&at_limit);
    free(input);
    free(head);

    /* One byte over, and well over: refused however the bytes arrive, complete or not. */
    static const struct {
        size_t over;
        bool complete;
        const char *name;
    } too_large[] = {
        {1, true, "complete head 1 byte over HTTP_RESPONSE_MAX_HEAD"},
        {10000, true, "complete head 10000 bytes over HTTP_RESPONSE_MAX_HEAD"},
        {10000, false, "unfinished head over HTTP_RESPONSE_MAX_HEAD"},
    };
    for (size_t i = 0; i < sizeof too_large / sizeof too_large[0]; i++) {
        input = big_head_response(max + too_large[i].over, too_large[i].complete, &length, &head);
        struct response_case refused = {
            .name = too_large[i].name,
            .input = {input, length},
            .fed = HTTP_RESPONSE_ERROR,
            .closed = HTTP_RESPONSE_ERROR,
            .error = "response head too large",
        };
        check_big_case(&refused);
        free(input);
        free(head);
    }
}

/* Feeding after the end, and calling eof again, change nothing but extra. */
static void test_calls_after_the_end(void) {
    struct http_response p;
    http_response_init(&p);
    const char *text = "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx";
    CHECK(http_response_feed(&p, text, strlen(text)) == HTTP_RESPONSE_DONE);
    CHECK(http_response_feed(&p, "abc", 3) == HTTP_RESPONSE_DONE);
    CHECK(http_response_feed(&p, "", 0) == HTTP_RESPONSE_DONE);
    CHECK(http_response_eof(&p) == HTTP_RESPONSE_DONE);
    CHECK(http_response_eof(&p) == HTTP_RESPONSE_DONE);
    CHECK(http_response_feed(&p, "d", 1) == HTTP_RESPONSE_DONE);
    CHECK(p.extra == 4 && p.body.length == 1 && p.error[0] == '\0');
    http_response_free(&p);

    http_response_init(&p);
    CHECK(http_response_feed(&p, "HTTP/3 200\r\n\r\n", 14) == HTTP_RESPONSE_ERROR);
    CHECK(http_response_feed(&p, "HTTP/1.1 200 OK\r\n\r\n", 19) == HTTP_RESPONSE_ERROR);
    CHECK(http_response_eof(&p) == HTTP_RESPONSE_ERROR);
    CHECK(strcmp(p.error, "unsupported HTTP version in the response") == 0);
    CHECK(p.extra == 0);
    http_response_free(&p);

    /* Until the close, eof is the end; bytes after it are extra, not body. */
    http_response_init(&p);
    text = "HTTP/1.1 200 OK\r\n\r\nbody";
    CHECK(http_response_feed(&p, text, strlen(text)) == HTTP_RESPONSE_MORE);
    CHECK(http_response_eof(&p) == HTTP_RESPONSE_DONE);
    CHECK(http_response_feed(&p, "late", 4) == HTTP_RESPONSE_DONE);
    CHECK(same_bytes(&p.body, "body", 4) && p.extra == 4 && !p.keep_alive);
    http_response_free(&p);
}

/* What a sink was given: the pieces joined, how many calls, the status each time. */
struct sink_record {
    char data[256];
    size_t length;
    int calls;
    int status;
    int refuse_at; /* the call that returns false (0: none) */
};

static bool record_piece(void *owner, const struct http_response *p, const char *data,
                         size_t length) {
    struct sink_record *record = owner;
    record->calls++;
    record->status = p->status;
    CHECK(record->length + length <= sizeof record->data);
    memcpy(record->data + record->length, data, length);
    record->length += length;
    return record->calls != record->refuse_at;
}

/* With a sink the body goes to it as each piece is decoded, not into p.body; false from the
 * sink ends the parse with an error. */
static void test_sink(void) {
    static const char *const inputs[] = {
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\none\r\n3\r\ntwo\r\n0\r\n\r\n",
        "HTTP/1.1 404 Not Found\r\nContent-Length: 6\r\n\r\nonetwo",
        "HTTP/1.0 200 OK\r\n\r\nonetwo",
    };
    for (size_t i = 0; i < sizeof inputs / sizeof inputs[0]; i++) {
        const char *input = inputs[i];
        size_t length = strlen(input);
        /* Byte by byte: each body byte is handed over by the feed that brings it. */
        struct sink_record record = {0};
        struct http_response p;
        http_response_init(&p);
        p.sink = record_piece;
        p.sink_owner = &record;
        enum http_response_state state = HTTP_RESPONSE_MORE;
        for (size_t at = 0; at < length && state == HTTP_RESPONSE_MORE; at++) {
            size_t before = record.length;
            state = http_response_feed(&p, input + at, 1);
            CHECK(record.length - before <= 1);
        }
        if (state == HTTP_RESPONSE_MORE)
            state = http_response_eof(&p);
        CHECK(state == HTTP_RESPONSE_DONE);
        CHECK(record.length == 6 && memcmp(record.data, "onetwo", 6) == 0);
        CHECK(record.calls == 6);
        CHECK(record.status == (i == 1 ? 404 : 200));
        CHECK(p.body.length == 0);
        http_response_free(&p);

        /* Whole, with the sink refusing its second piece (chunked: "two"). */
        record = (struct sink_record){.refuse_at = 2};
        http_response_init(&p);
        p.sink = record_piece;
        p.sink_owner = &record;
        state = http_response_feed(&p, input, length);
        if (i == 0) {
            CHECK(state == HTTP_RESPONSE_ERROR);
            CHECK(strcmp(p.error, "the transfer was stopped by the body's receiver") == 0);
            CHECK(record.calls == 2);
        } else { /* one piece: the whole body at once */
            CHECK(record.calls == 1 && record.length == 6);
        }
        http_response_free(&p);
    }
}

int main(void) {
    test_sink();
    test_content_length();
    test_chunked();
    test_until_close();
    test_no_body();
    test_interim();
    test_header_lines();
    test_malformed_heads();
    test_bad_framing();
    test_early_close();
    test_extra();
    test_received();
    test_head_limit();
    test_calls_after_the_end();
    return check_report("test_http_response");
}
