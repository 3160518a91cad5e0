/* HTTP/1.1 request heads (RFC 9112). Strict where leniency would let two parties disagree on
 * where a message ends (obsolete line folding, whitespace before the colon, conflicting
 * Content-Length values, unknown transfer codings); lenient where it costs nothing (a bare LF
 * ends a line, empty lines before the request line are skipped by the caller). */
#include "event/request_parse.h"

#include <string.h>

#include "common/ascii.h"

static int parse_request_line(const char *buf, size_t end, struct http_head *head) {
    size_t i = 0;
    while (i < end && ascii_is_tchar((unsigned char)buf[i]))
        i++;
    if (i == 0 || i == end || buf[i] != ' ')
        return 400;
    head->method = http_span_of(0, i);
    size_t target = ++i;
    while (i < end && (unsigned char)buf[i] > ' ' && buf[i] != 0x7f)
        i++;
    if (i == target || i == end || buf[i] != ' ')
        return 400;
    head->target = http_span_of(target, i);
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
    size_t end = http_line_end(buf, 0, length, &content_end);
    if (memchr(buf, '\r', content_end))
        return 400;
    int status = parse_request_line(buf, content_end, head);
    if (status != 0)
        return status;
    int close = 0, keep_alive = 0;
    for (size_t start = end + 1; start < length; start = end + 1) {
        end = http_line_end(buf, start, length, &content_end);
        if (content_end == start)
            break; /* the empty line */
        if (buf[start] == ' ' || buf[start] == '\t')
            return 400; /* obsolete line folding */
        if (head->header_count == HTTP_MAX_HEADERS)
            return 431;
        struct http_field *field = &head->headers[head->header_count];
        if (http_parse_field(buf, start, content_end, &field->name, &field->value) != 0)
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
