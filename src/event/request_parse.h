/* HTTP/1.1 request heads for the lambda.event server (RFC 9112): the request line and the
 * header fields, and what they say about the body and the connection. The field syntax and
 * the chunked decoder it shares with the client are in common/http1.h. A pure function over a
 * byte range, without allocation, so that it can be fuzzed on its own. */
#ifndef CLC_EVENT_REQUEST_PARSE_H
#define CLC_EVENT_REQUEST_PARSE_H

#include <stddef.h>
#include <stdint.h>

#include "common/http1.h"

#define HTTP_MAX_HEADERS 128

struct http_field {
    struct http_span name, value;
};

struct http_head {
    struct http_span method, target;
    int minor_version; /* HTTP/1.0 or HTTP/1.1 */
    size_t header_count;
    struct http_field headers[HTTP_MAX_HEADERS];
    /* What the headers say about the body and the connection. */
    int64_t content_length; /* -1 when absent */
    unsigned chunked : 1;
    unsigned keep_alive : 1;
    unsigned expect_continue : 1;
};

/* Parses the complete head buf[0..length) (as delimited by http_head_end). Returns 0, or the
 * HTTP status to answer a malformed or unsupported request with: 400, 431 (more than
 * HTTP_MAX_HEADERS fields), 501 (a transfer coding other than chunked), 505 (not HTTP/1.x),
 * 417 (an expectation other than 100-continue). */
int http_parse_head(const char *buf, size_t length, struct http_head *head);

#endif
