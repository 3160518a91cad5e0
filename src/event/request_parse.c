/* HTTP/1.1 request head and chunked body parsing (RFC 9112). Strict where leniency would let
 * two parties disagree on where a message ends (obsolete line folding, whitespace before the
 * colon, conflicting Content-Length values, unknown transfer codings); lenient where it
 * costs nothing (a bare LF ends a line, empty lines before the request line are skipped by
 * the caller). */
#include "event/request_parse.h"

#include <string.h>

/* Chunk extensions are ignored; this bounds the bytes spent on one. */
#define MAX_CHUNK_EXTENSION 4096

enum chunk_state {
    CHUNK_SIZE_START,
    CHUNK_SIZE,
    CHUNK_EXTENSION,
    CHUNK_SIZE_LF,
    CHUNK_DATA,
    CHUNK_DATA_CR,
    CHUNK_DATA_LF,
    CHUNK_TRAILER,
    CHUNK_DONE,
};

int http_is_token_char(unsigned char c) {
    if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))
        return 1;
    return c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

static int is_field_value_char(unsigned char c) {
    return c == '\t' || (c >= 0x20 && c != 0x7f);
}

static unsigned char lower(unsigned char c) {
    return c >= 'A' && c <= 'Z' ? (unsigned char)(c + 32) : c;
}

int http_token_equals(const char *a, size_t length, const char *lowercase) {
    if (strlen(lowercase) != length)
        return 0;
    for (size_t i = 0; i < length; i++)
        if (lower((unsigned char)a[i]) != (unsigned char)lowercase[i])
            return 0;
    return 1;
}

static struct http_span span(size_t start, size_t end) {
    struct http_span s = {(uint32_t)start, (uint32_t)(end - start)};
    return s;
}

size_t http_head_end(const char *buf, size_t length, size_t *scanned) {
    size_t i;
    for (i = *scanned; i < length; i++) {
        if (buf[i] != '\n')
            continue;
        if (i + 1 == length)
            break;
        if (buf[i + 1] == '\n')
            return i + 2;
        if (buf[i + 1] == '\r') {
            if (i + 2 == length)
                break;
            if (buf[i + 2] == '\n')
                return i + 3;
        }
    }
    *scanned = i;
    return 0;
}

/* The end of the line starting at start (the index of its LF), or length. Sets *content_end
 * to where its content ends (before a CR preceding the LF). */
static size_t line_end(const char *buf, size_t start, size_t length, size_t *content_end) {
    const char *lf = memchr(buf + start, '\n', length - start);
    size_t end = lf ? (size_t)(lf - buf) : length;
    *content_end = end > start && buf[end - 1] == '\r' ? end - 1 : end;
    return end;
}

/* name ":" OWS value OWS, in buf[start..end). Returns 0 or -1. */
static int parse_field(const char *buf, size_t start, size_t end, struct http_span *name,
                       struct http_span *value) {
    size_t i = start;
    while (i < end && http_is_token_char((unsigned char)buf[i]))
        i++;
    if (i == start || i == end || buf[i] != ':')
        return -1;
    *name = span(start, i);
    i++;
    while (i < end && (buf[i] == ' ' || buf[i] == '\t'))
        i++;
    size_t value_end = end;
    while (value_end > i && (buf[value_end - 1] == ' ' || buf[value_end - 1] == '\t'))
        value_end--;
    for (size_t j = i; j < value_end; j++)
        if (!is_field_value_char((unsigned char)buf[j]))
            return -1;
    *value = span(i, value_end);
    return 0;
}

static int parse_request_line(const char *buf, size_t end, struct http_head *head) {
    size_t i = 0;
    while (i < end && http_is_token_char((unsigned char)buf[i]))
        i++;
    if (i == 0 || i == end || buf[i] != ' ')
        return 400;
    head->method = span(0, i);
    size_t target = ++i;
    while (i < end && (unsigned char)buf[i] > ' ' && buf[i] != 0x7f)
        i++;
    if (i == target || i == end || buf[i] != ' ')
        return 400;
    head->target = span(target, i);
    i++;
    if (end - i != 8 || memcmp(buf + i, "HTTP/", 5) != 0 || buf[i + 6] != '.')
        return 400;
    char major = buf[i + 5], minor = buf[i + 7];
    if (major < '0' || major > '9' || minor < '0' || minor > '9')
        return 400;
    if (major != '1' || minor > '1')
        return 505;
    head->minor_version = minor - '0';
    return 0;
}

int http_has_token(const char *list, size_t length, const char *lowercase) {
    size_t i = 0;
    while (i < length) {
        while (i < length && (list[i] == ' ' || list[i] == '\t' || list[i] == ','))
            i++;
        size_t start = i;
        while (i < length && list[i] != ',' && list[i] != ' ' && list[i] != '\t')
            i++;
        if (i > start && http_token_equals(list + start, i - start, lowercase))
            return 1;
    }
    return 0;
}

static int parse_content_length(const char *value, size_t length, int64_t *result) {
    if (length == 0 || length > 18)
        return -1;
    int64_t n = 0;
    for (size_t i = 0; i < length; i++) {
        if (value[i] < '0' || value[i] > '9')
            return -1;
        n = n * 10 + (value[i] - '0');
    }
    *result = n;
    return 0;
}

/* Applies one header field's meaning for framing and connection handling to head. */
static int interpret_field(const char *buf, const struct http_field *field, struct http_head *head,
                           int *close, int *keep_alive) {
    const char *name = buf + field->name.offset;
    const char *value = buf + field->value.offset;
    size_t name_length = field->name.length, value_length = field->value.length;
    if (http_token_equals(name, name_length, "content-length")) {
        int64_t length;
        if (parse_content_length(value, value_length, &length) != 0)
            return 400;
        if (head->content_length >= 0 && head->content_length != length)
            return 400;
        head->content_length = length;
    } else if (http_token_equals(name, name_length, "transfer-encoding")) {
        if (head->chunked || !http_token_equals(value, value_length, "chunked"))
            return 501;
        head->chunked = 1;
    } else if (http_token_equals(name, name_length, "connection")) {
        *close = *close || http_has_token(value, value_length, "close");
        *keep_alive = *keep_alive || http_has_token(value, value_length, "keep-alive");
    } else if (http_token_equals(name, name_length, "expect")) {
        if (!http_token_equals(value, value_length, "100-continue"))
            return 417;
        head->expect_continue = 1;
    }
    return 0;
}

int http_parse_head(const char *buf, size_t length, struct http_head *head) {
    memset(head, 0, offsetof(struct http_head, headers));
    head->content_length = -1;
    head->chunked = head->keep_alive = head->expect_continue = 0;
    if (length >= UINT32_MAX)
        return 431;
    size_t content_end;
    size_t end = line_end(buf, 0, length, &content_end);
    if (memchr(buf, '\r', content_end))
        return 400;
    int status = parse_request_line(buf, content_end, head);
    if (status != 0)
        return status;
    int close = 0, keep_alive = 0;
    for (size_t start = end + 1; start < length; start = end + 1) {
        end = line_end(buf, start, length, &content_end);
        if (content_end == start)
            break; /* the empty line */
        if (buf[start] == ' ' || buf[start] == '\t')
            return 400; /* obsolete line folding */
        if (head->header_count == HTTP_MAX_HEADERS)
            return 431;
        struct http_field *field = &head->headers[head->header_count];
        if (parse_field(buf, start, content_end, &field->name, &field->value) != 0)
            return 400;
        head->header_count++;
        status = interpret_field(buf, field, head, &close, &keep_alive);
        if (status != 0)
            return status;
    }
    if (head->chunked && head->content_length >= 0) {
        /* Both framings: chunked wins, and the connection is not reused (RFC 9112 6.3). */
        head->content_length = -1;
        close = 1;
    }
    head->keep_alive = !close && (head->minor_version == 1 || keep_alive);
    if (head->minor_version == 0)
        head->expect_continue = 0;
    return 0;
}

static int hex_value(unsigned char c) {
    if (c >= '0' && c <= '9')
        return c - '0';
    c = lower(c);
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

enum http_chunk_event http_chunked_next(struct http_chunked *d, const char *buf, size_t length,
                                        size_t *used, struct http_span *piece,
                                        struct http_span *value) {
    size_t i = 0;
    enum http_chunk_event result = HTTP_CHUNK_MORE;
    while (i < length && result == HTTP_CHUNK_MORE) {
        unsigned char c = (unsigned char)buf[i];
        int digit = hex_value(c);
        switch (d->state) {
        case CHUNK_SIZE_START:
            if (digit < 0)
                goto error;
            d->remaining = (uint64_t)digit;
            d->state = CHUNK_SIZE;
            i++;
            break;
        case CHUNK_SIZE:
            if (digit >= 0) {
                if (d->remaining > (UINT64_MAX >> 4))
                    goto error;
                d->remaining = d->remaining * 16 + (uint64_t)digit;
            } else if (c == ';' || c == ' ' || c == '\t') {
                d->state = CHUNK_EXTENSION;
                d->extension = 0;
            } else if (c == '\r') {
                d->state = CHUNK_SIZE_LF;
            } else if (c == '\n') {
                d->state = d->remaining ? CHUNK_DATA : CHUNK_TRAILER;
            } else {
                goto error;
            }
            i++;
            break;
        case CHUNK_EXTENSION:
            if (c == '\r')
                d->state = CHUNK_SIZE_LF;
            else if (c == '\n')
                d->state = d->remaining ? CHUNK_DATA : CHUNK_TRAILER;
            else if (!is_field_value_char(c) || ++d->extension > MAX_CHUNK_EXTENSION)
                goto error;
            i++;
            break;
        case CHUNK_SIZE_LF:
            if (c != '\n')
                goto error;
            d->state = d->remaining ? CHUNK_DATA : CHUNK_TRAILER;
            i++;
            break;
        case CHUNK_DATA: {
            size_t n = length - i;
            if (n > d->remaining)
                n = (size_t)d->remaining;
            *piece = span(i, i + n);
            d->remaining -= n;
            i += n;
            if (d->remaining == 0)
                d->state = CHUNK_DATA_CR;
            result = HTTP_CHUNK_DATA;
            break;
        }
        case CHUNK_DATA_CR:
            if (c == '\r')
                d->state = CHUNK_DATA_LF;
            else if (c == '\n')
                d->state = CHUNK_SIZE_START;
            else
                goto error;
            i++;
            break;
        case CHUNK_DATA_LF:
            if (c != '\n')
                goto error;
            d->state = CHUNK_SIZE_START;
            i++;
            break;
        case CHUNK_TRAILER: {
            size_t content_end;
            size_t end = line_end(buf, i, length, &content_end);
            if (end == length) { /* the line is not complete yet */
                if (d->trailer_size + (length - i) > d->max_trailer)
                    goto error;
                *used = i;
                return HTTP_CHUNK_MORE;
            }
            d->trailer_size += end + 1 - i;
            if (d->trailer_size > d->max_trailer || memchr(buf + i, '\r', content_end - i))
                goto error;
            if (content_end == i) {
                d->state = CHUNK_DONE;
                result = HTTP_CHUNK_END;
            } else if (parse_field(buf, i, content_end, piece, value) != 0) {
                goto error;
            } else {
                result = HTTP_CHUNK_TRAILER;
            }
            i = end + 1;
            break;
        }
        case CHUNK_DONE:
            result = HTTP_CHUNK_END;
            break;
        default:
            goto error;
        }
    }
    *used = i;
    if (result == HTTP_CHUNK_MORE && d->state == CHUNK_DONE)
        result = HTTP_CHUNK_END;
    return result;
error:
    *used = i;
    return HTTP_CHUNK_ERROR;
}
