/* HTTP/1.x response parsing (RFC 9112) for lambda.http's plain engine. It reads what libcurl
 * would accept from the same server, so that a script sees the same answer whichever engine
 * sent its request: folded header lines are joined, a bare LF ends a line, interim 1xx
 * answers are skipped. It is strict where a mistake would let the two ends disagree on where
 * the response stops: conflicting Content-Length values, unknown transfer codings. */
#include "http/response_parse.h"

#include <stdio.h>
#include <string.h>

#include "common/ascii.h"

enum phase { PHASE_HEAD, PHASE_LENGTH, PHASE_CHUNKED, PHASE_UNTIL_CLOSE, PHASE_DONE, PHASE_ERROR };

/* Trailer fields after a chunked body are read and dropped; this bounds them. */
#define MAX_TRAILER (64 * 1024)

void http_response_init(struct http_response *p) {
    memset(p, 0, sizeof *p);
    p->phase = PHASE_HEAD;
}

void http_response_free(struct http_response *p) {
    bytes_free(&p->head);
    bytes_free(&p->body);
    bytes_free(&p->pending);
}

static enum http_response_state fail(struct http_response *p, const char *message) {
    snprintf(p->error, sizeof p->error, "%s", message);
    p->phase = PHASE_ERROR;
    return HTTP_RESPONSE_ERROR;
}

/* "HTTP/1.x SP 3DIGIT [SP reason]" */
static const char *parse_status_line(struct http_response *p, const char *line, size_t length) {
    if (length < 5 || memcmp(line, "HTTP/", 5) != 0)
        return "malformed status line in the response";
    if (length < 8 || memcmp(line, "HTTP/1.", 7) != 0 || (line[7] != '0' && line[7] != '1'))
        return "unsupported HTTP version in the response";
    if (length < 12 || line[8] != ' ')
        return "malformed status line in the response";
    int status = 0;
    for (size_t i = 9; i < 12; i++) {
        if (line[i] < '0' || line[i] > '9')
            return "malformed status line in the response";
        status = status * 10 + (line[i] - '0');
    }
    if (status < 100 || (length > 12 && line[12] != ' '))
        return "malformed status line in the response";
    p->status = status;
    p->minor_version = line[7] - '0';
    return NULL;
}

/* Appends one header line to p->head: as it is, or joined to the previous line with one
 * space when it is a continuation (obsolete folding, which libcurl still accepts). */
static bool add_header_line(struct http_response *p, const char *line, size_t length) {
    if (ascii_is_blank(line[0])) {
        if (p->head.length == 0)
            return true;  /* nothing to continue */
        p->head.length--; /* reopen the previous line */
        while (length > 0 && ascii_is_blank(line[0])) {
            line++;
            length--;
        }
        if (!bytes_append(&p->head, " ", 1))
            return false;
    }
    return bytes_append(&p->head, line, length) && bytes_append(&p->head, "\n", 1);
}

struct framing {
    int64_t content_length; /* -1 when absent */
    bool chunked, close, keep_alive;
};

static bool parse_length(const char *value, size_t length, int64_t *result) {
    if (length == 0 || length > 18)
        return false;
    int64_t n = 0;
    for (size_t i = 0; i < length; i++) {
        if (value[i] < '0' || value[i] > '9')
            return false;
        n = n * 10 + (value[i] - '0');
    }
    *result = n;
    return true;
}

/* What the header lines in p->head say about the body and the connection. */
static const char *interpret_head(const struct http_response *p, struct framing *framing) {
    *framing = (struct framing){-1, false, false, false};
    const char *line = p->head.data, *end = p->head.data + p->head.length;
    while (line < end) {
        const char *line_end = memchr(line, '\n', (size_t)(end - line));
        const char *colon = memchr(line, ':', (size_t)(line_end - line));
        if (colon) {
            size_t name_length = (size_t)(colon - line);
            const char *value = colon + 1, *value_end = line_end;
            while (value < value_end && ascii_is_blank(*value))
                value++;
            while (value_end > value && ascii_is_blank(value_end[-1]))
                value_end--;
            size_t value_length = (size_t)(value_end - value);
            if (http_token_equals(line, name_length, "content-length")) {
                int64_t length;
                if (!parse_length(value, value_length, &length))
                    return "invalid Content-Length in the response";
                if (framing->content_length >= 0 && framing->content_length != length)
                    return "conflicting Content-Length values in the response";
                framing->content_length = length;
            } else if (http_token_equals(line, name_length, "transfer-encoding")) {
                if (!http_token_equals(value, value_length, "chunked"))
                    return "unsupported Transfer-Encoding in the response";
                framing->chunked = true;
            } else if (http_token_equals(line, name_length, "connection")) {
                framing->close = framing->close || http_has_token(value, value_length, "close");
                framing->keep_alive =
                    framing->keep_alive || http_has_token(value, value_length, "keep-alive");
            }
        }
        line = line_end + 1;
    }
    return NULL;
}

/* Parses the complete head buf[0..length) and chooses how the body is read. */
static enum http_response_state parse_head(struct http_response *p, const char *buf,
                                           size_t length) {
    if (memchr(buf, '\0', length))
        return fail(p, "NUL byte in the response head");
    p->head.length = 0;
    const char *line = buf, *end = buf + length;
    bool status_line = true;
    while (line < end) {
        const char *lf = memchr(line, '\n', (size_t)(end - line));
        size_t content = (size_t)(lf - line);
        if (content > 0 && line[content - 1] == '\r')
            content--;
        if (status_line) {
            const char *problem = parse_status_line(p, line, content);
            if (problem)
                return fail(p, problem);
            status_line = false;
        } else if (content > 0 && !add_header_line(p, line, content)) {
            return fail(p, "not enough memory");
        }
        line = lf + 1;
    }
    struct framing framing;
    const char *problem = interpret_head(p, &framing);
    bool bodiless = p->head_request || p->status < 200 || p->status == 204 || p->status == 304;
    if (problem && !bodiless) /* framing of a body that does not come does not matter */
        return fail(p, problem);
    if (p->status < 200 && p->status != 101) {
        p->head.length = 0; /* an interim answer: the real one follows */
        return HTTP_RESPONSE_MORE;
    }
    p->keep_alive = !framing.close && (p->minor_version == 1 || framing.keep_alive);
    if (bodiless) {
        p->keep_alive = p->keep_alive && p->status != 101;
        p->phase = PHASE_DONE;
    } else if (framing.chunked) {
        /* Both framings: chunked wins, and the connection is not reused (RFC 9112 6.3). */
        p->keep_alive = p->keep_alive && framing.content_length < 0;
        p->chunked.max_trailer = MAX_TRAILER;
        p->phase = PHASE_CHUNKED;
    } else if (framing.content_length >= 0) {
        p->remaining = (uint64_t)framing.content_length;
        p->phase = p->remaining ? PHASE_LENGTH : PHASE_DONE;
    } else {
        p->keep_alive = false;
        p->phase = PHASE_UNTIL_CLOSE;
    }
    return p->phase == PHASE_DONE ? HTTP_RESPONSE_DONE : HTTP_RESPONSE_MORE;
}

/* A decoded piece of the body: to the sink as soon as it is decoded, else kept. */
static bool take_body(struct http_response *p, const char *data, size_t length) {
    if (length == 0)
        return true;
    if (p->sink) {
        if (p->sink(p->sink_owner, p, data, length))
            return true;
        fail(p, "the transfer was stopped by the body's receiver");
        return false;
    }
    if (bytes_append(&p->body, data, length))
        return true;
    fail(p, "not enough memory");
    return false;
}

/* Consumes as much of buf[0..length) as the current phase can use; returns the bytes used. */
static size_t process(struct http_response *p, const char *buf, size_t length) {
    size_t i = 0;
    while (p->phase != PHASE_DONE && p->phase != PHASE_ERROR) {
        if (p->phase == PHASE_HEAD) {
            /* A head is consumed only once complete, so buf + i is where it starts. */
            size_t head_length = http_head_end(buf + i, length - i, &p->scanned);
            /* An unfinished head of MAX bytes can only end up larger than MAX. */
            if (head_length > HTTP_RESPONSE_MAX_HEAD ||
                (head_length == 0 && length - i >= HTTP_RESPONSE_MAX_HEAD)) {
                fail(p, "response head too large");
                break;
            }
            if (head_length == 0)
                break;
            parse_head(p, buf + i, head_length);
            p->scanned = 0;
            i += head_length;
        } else if (p->phase == PHASE_LENGTH) {
            size_t take = length - i;
            if (take > p->remaining)
                take = (size_t)p->remaining;
            if (!take_body(p, buf + i, take))
                break;
            i += take;
            p->remaining -= take;
            if (p->remaining == 0)
                p->phase = PHASE_DONE;
            else
                break;
        } else if (p->phase == PHASE_CHUNKED) {
            size_t used = 0;
            struct http_span piece = {0, 0}, value = {0, 0};
            enum http_chunk_event event =
                http_chunked_next(&p->chunked, buf + i, length - i, &used, &piece, &value);
            if (event == HTTP_CHUNK_DATA && !take_body(p, buf + i + piece.offset, piece.length))
                break;
            i += used;
            if (event == HTTP_CHUNK_END)
                p->phase = PHASE_DONE;
            else if (event == HTTP_CHUNK_ERROR)
                fail(p, "malformed chunked body in the response");
            else if (event == HTTP_CHUNK_MORE)
                break;
        } else { /* PHASE_UNTIL_CLOSE */
            take_body(p, buf + i, length - i);
            i = length;
            break;
        }
    }
    return i;
}

enum http_response_state http_response_feed(struct http_response *p, const char *data,
                                            size_t length) {
    if (p->phase == PHASE_ERROR)
        return HTTP_RESPONSE_ERROR;
    if (p->phase == PHASE_DONE) {
        p->extra += length;
        return HTTP_RESPONSE_DONE;
    }
    p->received += length;
    /* Input left over from the last call (a partial line) goes first. */
    bool from_pending = p->pending.length > 0;
    if (from_pending && !bytes_append(&p->pending, data, length))
        return fail(p, "not enough memory");
    const char *buf = from_pending ? p->pending.data : data;
    size_t total = from_pending ? p->pending.length : length;
    size_t used = process(p, buf, total);
    size_t left = total - used;
    if (p->phase == PHASE_ERROR)
        return HTTP_RESPONSE_ERROR;
    if (p->phase == PHASE_DONE) {
        p->extra += left;
        p->received -= left; /* they came after the response */
        p->pending.length = 0;
        return HTTP_RESPONSE_DONE;
    }
    if (from_pending) {
        memmove(p->pending.data, buf + used, left);
        p->pending.length = left;
    } else if (left && !bytes_append(&p->pending, buf + used, left)) {
        return fail(p, "not enough memory");
    }
    return HTTP_RESPONSE_MORE;
}

enum http_response_state http_response_eof(struct http_response *p) {
    switch (p->phase) {
    case PHASE_DONE:
        return HTTP_RESPONSE_DONE;
    case PHASE_ERROR:
        return HTTP_RESPONSE_ERROR;
    case PHASE_UNTIL_CLOSE:
        p->phase = PHASE_DONE;
        return HTTP_RESPONSE_DONE;
    case PHASE_LENGTH:
        snprintf(p->error, sizeof p->error, "transfer closed with %llu bytes remaining to read",
                 (unsigned long long)p->remaining);
        break;
    case PHASE_CHUNKED:
        snprintf(p->error, sizeof p->error, "transfer closed with outstanding read data remaining");
        break;
    default:
        snprintf(p->error, sizeof p->error, "%s",
                 p->received == 0 ? "empty reply from server"
                                  : "connection closed in the middle of the response head");
    }
    p->phase = PHASE_ERROR;
    return HTTP_RESPONSE_ERROR;
}
