/* HTTP/1.x response parsing for lambda.http's plain engine: the status line and header
 * fields, then the body by its framing (Content-Length, chunked, or up to the close), fed
 * incrementally as bytes arrive from the connection. */
#ifndef CLC_HTTP_RESPONSE_PARSE_H
#define CLC_HTTP_RESPONSE_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/bytes.h"
#include "common/http1.h"

/* A head larger than this is refused rather than buffered without end. */
#define HTTP_RESPONSE_MAX_HEAD (256 * 1024)

enum http_response_state {
    HTTP_RESPONSE_MORE,  /* everything given was consumed: feed more, or call _eof */
    HTTP_RESPONSE_DONE,  /* the response is complete */
    HTTP_RESPONSE_ERROR, /* malformed: error says how */
};

struct http_response;
/* Takes a piece of the body instead of p->body; false stops the parse with an error. */
typedef bool (*http_response_sink)(void *owner, const struct http_response *p, const char *data,
                                   size_t length);

struct http_response {
    /* Set before the first feed: the request was HEAD, so no body follows any head. */
    bool head_request;
    /* Set before the first feed, or NULL: where the final response's body goes as it is
     * decoded, piece by piece, instead of into body. */
    http_response_sink sink;
    void *sink_owner;

    /* The final response (interim 1xx answers are skipped). */
    int status;
    int minor_version;
    bool keep_alive;   /* the connection may carry another request once this is DONE */
    struct bytes head; /* its header lines, each "Name: value\n", folded lines joined */
    struct bytes body; /* decoded (empty with a sink) */
    size_t received;   /* bytes of the response seen so far, any part */
    size_t extra;      /* bytes fed after the response ended (the connection is unusable) */
    char error[96];    /* on HTTP_RESPONSE_ERROR: what was wrong, or why the end came early */

    /* Decoder state. */
    int phase;
    struct bytes pending; /* input not consumed yet: a partial head or trailer line */
    size_t scanned;       /* of pending, for http_head_end */
    uint64_t remaining;   /* Content-Length bytes still to come */
    struct http_chunked chunked;
};

/* Zeroes p; head_request may be set afterwards. */
void http_response_init(struct http_response *p);
/* Consumes data[0..length). Once DONE or ERROR, further calls return the same. */
enum http_response_state http_response_feed(struct http_response *p, const char *data,
                                            size_t length);
/* The peer closed the connection: DONE when that ends the body, else ERROR. */
enum http_response_state http_response_eof(struct http_response *p);
void http_response_free(struct http_response *p);

#endif
