#include "common/url.h"

#include <string.h>
#include <strings.h>

#include "common/ascii.h"

/* Characters a host name may hold besides letters and digits (RFC 3986 reg-name). */
static bool is_host_char(unsigned char c) {
    return ascii_is_unreserved(c) || (c != '\0' && strchr("!$&'()*+,;=%", c) != NULL);
}

static const char *parse_port(const char *text, size_t length, unsigned *port) {
    unsigned long value = 0;
    for (size_t i = 0; i < length; i++) {
        if (!ascii_is_digit(text[i]))
            return "port is not a number";
        value = value * 10 + (unsigned long)(text[i] - '0');
        if (value > 65535)
            return "port is out of range";
    }
    if (length > 0 && value == 0)
        return "port is out of range";
    *port = (unsigned)value;
    return NULL;
}

const char *url_parse(const char *url, size_t length, struct url *parts) {
    memset(parts, 0, sizeof *parts);
    for (size_t i = 0; i < length; i++) {
        unsigned char c = (unsigned char)url[i];
        if (c < 0x20 || c == 0x7f)
            return "control character in the URL";
    }
    const char *separator = strstr(url, "://");
    if (!separator)
        return "not an absolute URL (scheme://host/path expected)";
    size_t scheme_length = (size_t)(separator - url);
    if (scheme_length == 4 && strncasecmp(url, "http", 4) == 0) {
        parts->default_port = 80;
    } else if (scheme_length == 5 && strncasecmp(url, "https", 5) == 0) {
        parts->default_port = 443;
        parts->https = true;
    } else {
        return "scheme must be http or https";
    }

    /* The URL holds no NUL (refused above as a control character), so the str* functions stop
     * at its end. */
    const char *authority = separator + 3;
    size_t authority_length = strcspn(authority, "/?#");
    const char *after = authority + authority_length;
    if (memchr(authority, '@', authority_length))
        return "user information (user@host) is not supported";
    parts->host = authority;
    const char *port_text;
    if (authority_length > 0 && authority[0] == '[') {
        const char *close = memchr(authority, ']', authority_length);
        if (!close || close == authority + 1)
            return "malformed IPv6 address";
        parts->host_length = (size_t)(close + 1 - authority);
        parts->ipv6_literal = true;
        port_text = close + 1;
        if (port_text < after && *port_text != ':')
            return "malformed IPv6 address";
    } else {
        const char *colon = memchr(authority, ':', authority_length);
        parts->host_length = colon ? (size_t)(colon - authority) : authority_length;
        port_text = authority + parts->host_length;
        for (size_t i = 0; i < parts->host_length; i++)
            if (!is_host_char((unsigned char)authority[i]))
                return "invalid character in the host name";
    }
    if (parts->host_length == 0)
        return "missing host";
    if (port_text < after) { /* skip the ':' */
        port_text++;
        parts->empty_port = port_text == after;
    }
    const char *problem = parse_port(port_text, (size_t)(after - port_text), &parts->port);
    if (problem)
        return problem;

    parts->path = after;
    parts->path_length = strcspn(after, "?#");
    const char *query = after + parts->path_length;
    parts->before_query = (size_t)(query - url);
    parts->query = "";
    if (*query == '?') {
        parts->has_query = true;
        parts->query = query + 1;
        parts->query_length = strcspn(query + 1, "#");
    }
    parts->has_fragment = strchr(query, '#') != NULL;
    return NULL;
}

unsigned url_effective_port(const struct url *parts) {
    return parts->port ? parts->port : parts->default_port;
}
