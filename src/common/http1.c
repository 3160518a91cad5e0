/* HTTP/1.1 message syntax (RFC 9112) shared by the server's request parser
 * (event/request_parse.c) and the client's response parser (http/response_parse.c): the end
 * of a head, field lines, tokens in header values, and the chunked transfer coding decoded
 * incrementally. Strict where leniency would let two parties disagree on where a message
 * ends; a bare LF ends a line. */
#include "common/http1.h"

#include <string.h>

#include "common/ascii.h"

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

int http_is_field_value_char(unsigned char c) {
    return c == '\t' || (c >= 0x20 && c != 0x7f);
}

int http_token_equals(const char *a, size_t length, const char *lowercase) {
    if (strlen(lowercase) != length)
        return 0;
    for (size_t i = 0; i < length; i++)
        if (ascii_to_lower((unsigned char)a[i]) != (unsigned char)lowercase[i])
            return 0;
    return 1;
}

struct http_span http_span_of(size_t start, size_t end) {
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
size_t http_line_end(const char *buf, size_t start, size_t length, size_t *content_end) {
    const char *lf = memchr(buf + start, '\n', length - start);
    size_t end = lf ? (size_t)(lf - buf) : length;
    *content_end = end > start && buf[end - 1] == '\r' ? end - 1 : end;
    return end;
}

/* name ":" OWS value OWS, in buf[start..end). Returns 0 or -1. */
int http_parse_field(const char *buf, size_t start, size_t end, struct http_span *name,
                     struct http_span *value) {
    size_t i = start;
    while (i < end && ascii_is_tchar((unsigned char)buf[i]))
        i++;
    if (i == start || i == end || buf[i] != ':')
        return -1;
    *name = http_span_of(start, i);
    i++;
    while (i < end && ascii_is_blank(buf[i]))
        i++;
    size_t value_end = end;
    while (value_end > i && ascii_is_blank(buf[value_end - 1]))
        value_end--;
    for (size_t j = i; j < value_end; j++)
        if (!http_is_field_value_char((unsigned char)buf[j]))
            return -1;
    *value = http_span_of(i, value_end);
    return 0;
}

int http_has_token(const char *list, size_t length, const char *lowercase) {
    size_t i = 0;
    while (i < length) {
        while (i < length && (ascii_is_blank(list[i]) || list[i] == ','))
            i++;
        size_t start = i;
        while (i < length && list[i] != ',' && !ascii_is_blank(list[i]))
            i++;
        if (i > start && http_token_equals(list + start, i - start, lowercase))
            return 1;
    }
    return 0;
}

enum http_chunk_event http_chunked_next(struct http_chunked *d, const char *buf, size_t length,
                                        size_t *used, struct http_span *piece,
                                        struct http_span *value) {
    size_t i = 0;
    enum http_chunk_event result = HTTP_CHUNK_MORE;
    while (i < length && result == HTTP_CHUNK_MORE) {
        unsigned char c = (unsigned char)buf[i];
        int digit = ascii_hex_value(c);
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
            else if (!http_is_field_value_char(c) || ++d->extension > MAX_CHUNK_EXTENSION)
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
            *piece = http_span_of(i, i + n);
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
            size_t end = http_line_end(buf, i, length, &content_end);
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
            } else if (http_parse_field(buf, i, content_end, piece, value) != 0) {
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
