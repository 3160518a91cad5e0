/* Which calls lambda.http's plain engine takes (plain.c), and where they go: plain http to a
 * loopback literal or localhost, with a path libcurl would send unchanged, so that either
 * engine sends the same bytes. Everything else goes to libcurl. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/ascii.h"
#include "http/engine.h"
#include "http/plain_exchange.h"

static void add_address(struct http_plain_target *t, int family, const void *address) {
    struct sockaddr_storage *storage = &t->addresses[t->address_count];
    memset(storage, 0, sizeof *storage);
    if (family == AF_INET6) {
        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)storage;
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons((uint16_t)t->port);
        memcpy(&in6->sin6_addr, address, sizeof in6->sin6_addr);
        t->address_lengths[t->address_count++] = sizeof *in6;
    } else {
        struct sockaddr_in *in = (struct sockaddr_in *)storage;
        in->sin_family = AF_INET;
        in->sin_port = htons((uint16_t)t->port);
        memcpy(&in->sin_addr, address, sizeof in->sin_addr);
        t->address_lengths[t->address_count++] = sizeof *in;
    }
}

/* Whether the path and query would go on the wire unchanged by libcurl: visible ASCII, no
 * fragment, and no "." or ".." segment (libcurl removes those). */
static bool is_plain_path(const char *path) {
    const char *query = strchr(path, '?');
    size_t path_length = query ? (size_t)(query - path) : strlen(path);
    for (const char *c = path; *c; c++)
        if (*c <= ' ' || *c >= 0x7f || *c == '#')
            return false;
    for (size_t i = 0; i < path_length; i++) {
        if (path[i] != '.' || (i > 0 && path[i - 1] != '/'))
            continue;
        size_t dots = (i + 1 < path_length && path[i + 1] == '.') ? 2 : 1;
        if (i + dots == path_length || path[i + dots] == '/')
            return false;
    }
    return true;
}

/* http://HOST[:PORT][/PATH][?QUERY] with HOST a loopback literal or localhost. */
static bool find_target(const struct url *url, struct http_plain_target *t) {
    memset(t, 0, sizeof *t);
    if (url->https || url->empty_port || url->has_fragment)
        return false;
    char host[64];
    size_t literal = url->ipv6_literal ? 1 : 0; /* the brackets */
    if (url->host_length - 2 * literal >= sizeof host)
        return false;
    memcpy(host, url->host + literal, url->host_length - 2 * literal);
    host[url->host_length - 2 * literal] = '\0';
    t->host = url->host;
    t->host_length = url->host_length;
    t->port = url_effective_port(url);
    /* The rest of the URL after the authority is the path and query: there is no fragment. */
    if (*url->path && !is_plain_path(url->path))
        return false;
    t->path = *url->path ? url->path : NULL;

    struct in6_addr in6;
    struct in_addr in;
    if (url->ipv6_literal) {
        if (inet_pton(AF_INET6, host, &in6) != 1 || !IN6_IS_ADDR_LOOPBACK(&in6))
            return false;
        add_address(t, AF_INET6, &in6);
    } else if (strcasecmp(host, "localhost") == 0) {
        /* As libcurl resolves it, without asking DNS: IPv6 first. */
        in6 = in6addr_loopback;
        add_address(t, AF_INET6, &in6);
        in.s_addr = htonl(INADDR_LOOPBACK);
        add_address(t, AF_INET, &in);
    } else {
        if (inet_pton(AF_INET, host, &in) != 1 || (ntohl(in.s_addr) >> 24) != 127)
            return false;
        add_address(t, AF_INET, &in);
    }
    return true;
}

bool http_plain_accepts(const struct http_call *call, struct http_plain_target *target) {
    if (call->curl_only)
        return false;
    if (call->url_problem)
        return false; /* libcurl explains it */
    for (size_t i = 0; i < call->header_count; i++) {
        /* Headers that change how libcurl frames or sends the body. */
        const char *name = call->headers[i].name;
        if (strcasecmp(name, "Transfer-Encoding") == 0 || strcasecmp(name, "Expect") == 0)
            return false;
    }
    return find_target(&call->parts, target);
}

/* a.b.c.d, as inet_ntop writes it (which formats it with sprintf: some 1,700 instructions an
 * answer of a load run); text has room for INET_ADDRSTRLEN bytes. */
void http_plain_format_ipv4(const struct in_addr *address, char *text) {
    const unsigned char *octet = (const unsigned char *)&address->s_addr;
    for (int i = 0; i < 4; i++) {
        text += ascii_format_decimal(text, octet[i]);
        *text++ = i < 3 ? '.' : '\0';
    }
}
