/* HTTP/1.1 request parsing for the lambda.event server (RFC 9112): the request head, and the
 * chunked transfer coding decoded incrementally. Pure functions over byte ranges, without
 * allocation, so that they can be fuzzed on their own. */
#ifndef CLC_EVENT_HTTP_PARSE_H
#define CLC_EVENT_HTTP_PARSE_H

#include <stddef.h>
#include <stdint.h>

#define HTTP_MAX_HEADERS 128

/* A range of the parsed buffer. */
struct http_span {
    uint32_t offset, length;
};

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

/* Finds the empty line that ends a request head in buf[0..length). Bytes before *scanned are
 * known not to complete it (pass 0 first, keep the value between calls with more data).
 * Returns the length of the head including the empty line, or 0 when it is not complete. */
size_t http_head_end(const char *buf, size_t length, size_t *scanned);

/* Parses the complete head buf[0..length) (as delimited by http_head_end). Returns 0, or the
 * HTTP status to answer a malformed or unsupported request with: 400, 431 (more than
 * HTTP_MAX_HEADERS fields), 501 (a transfer coding other than chunked), 505 (not HTTP/1.x),
 * 417 (an expectation other than 100-continue). */
int http_parse_head(const char *buf, size_t length, struct http_head *head);

/* Decoder state of a chunked body; zero it, then set max_trailer (bytes of trailer fields). */
struct http_chunked {
    int state;
    uint64_t remaining; /* bytes left in the current chunk, or the size being read */
    size_t extension;   /* bytes of the current chunk extension */
    size_t trailer_size;
    size_t max_trailer;
};

enum http_chunk_event {
    HTTP_CHUNK_MORE,    /* everything usable was consumed: call again with more input */
    HTTP_CHUNK_DATA,    /* piece holds chunk data */
    HTTP_CHUNK_TRAILER, /* piece (name) and value hold one trailer field */
    HTTP_CHUNK_END,     /* the body and its trailer section are complete */
    HTTP_CHUNK_ERROR,   /* malformed, or the trailer section is over max_trailer */
};

/* Consumes buf[0..length) up to the next event and sets *used to the bytes consumed (spans
 * are relative to buf). After MORE, the unconsumed bytes must be passed again, followed by
 * the bytes that arrive next. */
enum http_chunk_event http_chunked_next(struct http_chunked *decoder, const char *buf,
                                        size_t length, size_t *used, struct http_span *piece,
                                        struct http_span *value);

/* Helpers the server shares with the parser. */
int http_is_token_char(unsigned char c);
int http_token_equals(const char *a, size_t length, const char *lowercase);
/* Whether a comma-separated list (Connection: keep-alive, close) holds the token. */
int http_has_token(const char *list, size_t length, const char *lowercase);

#endif
