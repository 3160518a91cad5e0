/* The request head lambda.http's plain engine sends: the same bytes libcurl would send for
 * the same call (its header order, its Host and Accept defaults), so that the two engines
 * are interchangeable. */
#include <string.h>
#include <strings.h>

#include "common/ascii.h"
#include "http/plain_exchange.h"

static const struct http_header *find_header(const struct http_call *call, const char *name) {
    for (size_t i = 0; i < call->header_count; i++)
        if (strcasecmp(call->headers[i].name, name) == 0)
            return &call->headers[i];
    return NULL;
}

static void append_decimal(struct bytes *head, size_t value) {
    char digits[20];
    bytes_append(head, digits, ascii_format_decimal(digits, value));
}

bool http_plain_build_head(const struct http_call *call, const struct http_plain_target *t,
                           struct bytes *head) {
    bytes_append_string(head, call->method);
    bytes_append(head, " ", 1);
    if (!t->path || t->path[0] == '?')
        bytes_append(head, "/", 1);
    if (t->path)
        bytes_append_string(head, t->path);
    bytes_append_string(head, " HTTP/1.1\r\nHost:");
    const struct http_header *host = find_header(call, "Host");
    if (host && host->value[0]) {
        bytes_append(head, " ", 1);
        bytes_append_string(head, host->value);
    } else if (!host) {
        bytes_append(head, " ", 1);
        bytes_append(head, t->host, t->host_length);
        if (t->port != 80) {
            bytes_append(head, ":", 1);
            append_decimal(head, t->port);
        }
    }
    bytes_append_string(head, "\r\n");
    if (!find_header(call, "Accept"))
        bytes_append_string(head, "Accept: */*\r\n");
    for (size_t i = 0; i < call->header_count; i++) {
        const struct http_header *h = &call->headers[i];
        if (h == host)
            continue;
        bytes_append_string(head, h->name);
        bytes_append(head, ":", 1);
        if (h->value[0]) {
            bytes_append(head, " ", 1);
            bytes_append_string(head, h->value);
        }
        bytes_append_string(head, "\r\n");
    }
    if (call->body && !find_header(call, "Content-Length")) {
        bytes_append_string(head, "Content-Length: ");
        append_decimal(head, call->body_length);
        bytes_append_string(head, "\r\n");
    }
    return bytes_append_string(head, "\r\n");
}

bool http_plain_caller_closes(const struct http_call *call) {
    const struct http_header *connection = find_header(call, "Connection");
    return connection && strcasecmp(connection->value, "close") == 0;
}
