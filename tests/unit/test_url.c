/* Unit tests of the URL parser (common/url.h) that lambda.http and lambda.sigv4 share, and of
 * the plain engine's choice of the requests it carries (http/plain_target.c), which rests on
 * the parts the parser finds. */
#define _POSIX_C_SOURCE 200809L

#include <arpa/inet.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "common/ascii.h"
#include "common/url.h"
#include "http/engine.h"
#include "http/plain_exchange.h"

static const char *parse(const char *text, struct url *parts) {
    return url_parse(text, strlen(text), parts);
}

static int parts_are(const char *text, const char *host, unsigned port, const char *path,
                     const char *query) {
    struct url u;
    const char *problem = parse(text, &u);
    if (!check_that(problem == NULL, "%s: refused: %s", text, problem ? problem : ""))
        return 0;
    return check_that(u.host_length == strlen(host) && memcmp(u.host, host, u.host_length) == 0,
                      "%s: host %.*s, expected %s", text, (int)u.host_length, u.host, host) &&
           check_that(u.port == port, "%s: port %u, expected %u", text, u.port, port) &&
           check_that(u.path_length == strlen(path) && memcmp(u.path, path, u.path_length) == 0,
                      "%s: path %.*s, expected %s", text, (int)u.path_length, u.path, path) &&
           check_that(u.query_length == strlen(query) &&
                          memcmp(u.query, query, u.query_length) == 0,
                      "%s: query %.*s, expected %s", text, (int)u.query_length, u.query, query);
}

static void refused(const char *text, const char *reason) {
    struct url u;
    const char *problem = parse(text, &u);
    check_that(problem && strstr(problem, reason), "%s: expected '%s', got %s", text, reason,
               problem ? problem : "success");
}

static int plain_takes_call(const char *text, bool curl_only) {
    struct http_call call;
    memset(&call, 0, sizeof call);
    call.curl_only = curl_only;
    call.url = text;
    call.method = "POST";
    call.url_problem = url_parse(text, strlen(text), &call.parts);
    struct http_plain_target target;
    return http_plain_accepts(&call, &target);
}

static int plain_takes(const char *text) {
    return plain_takes_call(text, false);
}

/* The plain engine's primary_ip for IPv4 is inet_ntop's text: every octet width and value. */
static void test_ipv4_text_is_inet_ntop_s(void) {
    int differ = 0;
    for (unsigned value = 0; value < 256; value++) {
        for (int position = 0; position < 4; position++) {
            unsigned char octets[4] = {127, 0, 1, 9};
            octets[position] = (unsigned char)value;
            struct in_addr address;
            memcpy(&address.s_addr, octets, 4);
            char ours[INET_ADDRSTRLEN], theirs[INET_ADDRSTRLEN];
            http_plain_format_ipv4(&address, ours);
            inet_ntop(AF_INET, &address, theirs, sizeof theirs);
            differ += strcmp(ours, theirs) != 0;
        }
    }
    check_that(differ == 0, "%d IPv4 addresses written unlike inet_ntop", differ);
}

/* The digits the plain engine writes for Content-Length and a Host port (common/ascii.h). */
static void test_decimal_digits(void) {
    const struct {
        size_t value;
        const char *text;
    } cases[] = {{0, "0"},
                 {9, "9"},
                 {10, "10"},
                 {65535, "65535"},
                 {SIZE_MAX, SIZE_MAX == UINT64_MAX ? "18446744073709551615" : "4294967295"}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char digits[21];
        size_t length = ascii_format_decimal(digits, cases[i].value);
        digits[length] = '\0';
        check_that(strcmp(digits, cases[i].text) == 0, "%zu written as %s", cases[i].value, digits);
    }
}

int main(void) {
    test_ipv4_text_is_inet_ntop_s();
    test_decimal_digits();
    parts_are("http://127.0.0.1:9000/2015-03-31/functions/f/invocations", "127.0.0.1", 9000,
              "/2015-03-31/functions/f/invocations", "");
    parts_are("https://lambda.us-east-1.amazonaws.com/a?Qualifier=live#top",
              "lambda.us-east-1.amazonaws.com", 0, "/a", "Qualifier=live");
    parts_are("http://[::1]:8080?x=1", "[::1]", 8080, "", "x=1");
    parts_are("HTTP://Example.COM", "Example.COM", 0, "", "");

    struct url u;
    CHECK(parse("https://h:443/p", &u) == NULL && u.https && u.port == 443 &&
          u.default_port == 443 && url_effective_port(&u) == 443);
    CHECK(parse("http://h/p", &u) == NULL && !u.https && url_effective_port(&u) == 80);
    CHECK(parse("http://h:/p", &u) == NULL && u.empty_port && u.port == 0);
    CHECK(parse("http://h/p?q#f", &u) == NULL && u.has_query && u.has_fragment);
    CHECK(parse("http://h/p#f?not-a-query", &u) == NULL && !u.has_query && u.has_fragment);
    CHECK(parse("http://h/p", &u) == NULL && u.before_query == strlen("http://h/p"));
    CHECK(parse("http://[::1]/", &u) == NULL && u.ipv6_literal);

    refused("ftp://h/", "scheme must be http or https");
    refused("h/path", "not an absolute URL");
    refused("http://user:secret@h/", "user information");
    refused("http:///path", "missing host");
    refused("http://h:99999/", "port is out of range");
    refused("http://h:0/", "port is out of range");
    refused("http://h:8x/", "port is not a number");
    refused("http://[::1/", "malformed IPv6 address");
    refused("http://[]/", "malformed IPv6 address");
    refused("http://[::1]x/", "malformed IPv6 address");
    refused("http://h\r\nX: y/", "control character");
    refused("http://h<x>/", "invalid character in the host name");
    /* A NUL inside the given length is a control character, never the end of the URL. */
    CHECK(url_parse("http://h/\0x", 11, &u) != NULL);

    /* The plain engine: loopback http in forms libcurl would send unchanged. */
    CHECK(plain_takes("http://127.0.0.1:9000/x"));
    CHECK(plain_takes("http://127.9.9.9/x?y=1"));
    CHECK(plain_takes("http://[::1]:9000/"));
    CHECK(plain_takes("http://localhost:9000"));
    CHECK(plain_takes("http://LOCALHOST:9000/a/b"));
    CHECK(!plain_takes("https://127.0.0.1/x"));
    CHECK(!plain_takes("http://10.0.0.1/x"));
    CHECK(!plain_takes("http://example.com/x"));
    CHECK(!plain_takes("http://[::2]/x"));
    CHECK(!plain_takes("http://127.0.0.1:/x"));
    CHECK(!plain_takes("http://127.0.0.1/x#frag"));
    CHECK(!plain_takes("http://127.0.0.1/a/../b"));
    CHECK(!plain_takes("http://127.0.0.1/a/./b"));
    CHECK(!plain_takes("http://127.0.0.1/a b"));
    CHECK(!plain_takes("http://u@127.0.0.1/x"));
    CHECK(plain_takes("http://127.0.0.1:9000/x"));
    CHECK(!plain_takes_call("http://127.0.0.1:9000/x", true)); /* CARGO_LAMBDA_HTTP=curl */
    return check_report("test_url");
}
