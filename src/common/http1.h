/* HTTP/1.1 message syntax (RFC 9112) shared by the server's request parser and the client's
 * response parser. Pure functions over byte ranges, without allocation, so that they can be
 * fuzzed on their own. */
#ifndef CLC_COMMON_HTTP1_H
#define CLC_COMMON_HTTP1_H

#include <stddef.h>
#include <stdint.h>

/* A range of the parsed buffer. */
struct http_span {
    uint32_t offset, length;
};

struct http_span http_span_of(size_t start, size_t end);

/* Finds the empty line that ends a head in buf[0..length). Bytes before *scanned are known
 * not to complete it (pass 0 first, keep the value between calls with more data). Returns the
 * length of the head including the empty line, or 0 when it is not complete. */
size_t http_head_end(const char *buf, size_t length, size_t *scanned);

/* The end of the line starting at start (the index of its LF), or length. Sets *content_end
 * to where its content ends (before a CR preceding the LF). */
size_t http_line_end(const char *buf, size_t start, size_t length, size_t *content_end);

/* A field line, name ":" OWS value OWS, in buf[start..end). Returns 0 or -1 (no colon,
 * whitespace before it, a character a field value may not hold). */
int http_parse_field(const char *buf, size_t start, size_t end, struct http_span *name,
                     struct http_span *value);

/* What a field value may hold: visible ASCII, obs-text, space and tab. */
int http_is_field_value_char(unsigned char c);
/* Case-insensitive comparison of a[0..length) with a lower-case token. */
int http_token_equals(const char *a, size_t length, const char *lowercase);
/* Whether a comma-separated list (Connection: keep-alive, close) holds the token. */
int http_has_token(const char *list, size_t length, const char *lowercase);

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

#endif
