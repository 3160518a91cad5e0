/* The one parser of absolute http and https URLs on the C side: lambda.http reads a request's
 * URL with it once (its plain engine decides from the parts whether it can carry the
 * request) and lambda.sigv4 signs the parts. */
#ifndef CLC_COMMON_URL_H
#define CLC_COMMON_URL_H

#include <stdbool.h>
#include <stddef.h>

/* A URL split in place: every pointer points into the string that was parsed. */
struct url {
    bool https;
    const char *host; /* as written, IPv6 literals with their brackets */
    size_t host_length;
    bool ipv6_literal;     /* host is "[...]" */
    unsigned port;         /* the port written in the URL; 0 when absent or empty */
    bool empty_port;       /* "host:" with nothing after the colon (the default port) */
    unsigned default_port; /* 80 or 443 */
    const char *path;      /* up to '?' or '#'; "" when the URL has none */
    size_t path_length;
    const char *query; /* without the '?', up to '#'; "" when there is none */
    size_t query_length;
    bool has_query;
    bool has_fragment;
    size_t before_query; /* length of scheme://authority/path, where a query would start */
};

/* Splits url[0..length), which must hold no NUL byte. Returns NULL, or why the URL cannot be
 * used: not absolute, a scheme other than http and https, user information (user@host), a
 * malformed host or port, a control character. */
const char *url_parse(const char *url, size_t length, struct url *parts);

/* The port a connection goes to: the written one, else the scheme's. */
unsigned url_effective_port(const struct url *parts);

#endif
