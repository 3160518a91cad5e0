/* What lambda.http's Lua binding (http.c) hands to the two engines that carry a request out,
 * and what they hand back. The binding reads and checks the caller's options; an engine
 * never raises a Lua error, so that its resources are always released by the binding.
 *
 * - plain.c sends plain-HTTP requests to loopback addresses itself: the local invoke and
 *   the Runtime API client, where libcurl's weight (it loads a TLS stack, Kerberos, LDAP,
 *   ...: 7 MB of a process's memory before the first request) buys nothing.
 * - curl.c sends everything else through libcurl, loaded on first use.
 *
 * Each engine can carry a call out in two ways: blocking (http_*_perform), or on a
 * lambda.event loop (http_*_start), for a request made from a task: the transfer then goes on
 * from the loop's callbacks and its end is reported to a function of the caller's. */
#ifndef CLC_HTTP_ENGINE_H
#define CLC_HTTP_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

#include "common/bytes.h"
#include "common/url.h"

struct http_header {
    const char *name, *value; /* NUL-terminated (a value may be empty) */
};

/* Takes the final response's body piece by piece as it arrives (chunked framing removed),
 * instead of result->body, so that a caller can show a streamed answer progressively: status
 * and head are the response's (head: its header lines, "Name: value\n"). Returns false to
 * stop the transfer, which then fails with kind "transport" (the caller knows why). It is
 * called from inside the engine and must not raise. */
typedef bool (*http_body_fn)(void *owner, long status, const struct bytes *head, const char *data,
                             size_t length);

struct http_call {
    const char *url;
    struct url parts;        /* the URL split, when url_problem is NULL */
    const char *url_problem; /* why the URL cannot be split: the plain engine leaves it */
    const char *method;
    const char *body; /* NULL: no body */
    size_t body_length;
    const struct http_header *headers; /* in the caller's order, repeats kept */
    size_t header_count;
    double timeout;                          /* seconds for the whole request, 0 = none */
    double connect_timeout;                  /* seconds for connecting, 0 = the engine's default */
    const char *tls_cert, *tls_key, *tls_ca; /* NULL when not given */
    bool trace;                              /* keep the request head as sent */
    bool curl_only;       /* CARGO_LAMBDA_HTTP=curl: libcurl sends it, even to loopback */
    http_body_fn on_body; /* NULL: the body is collected in result->body */
    void *on_body_owner;
};

struct http_result {
    long status;
    struct bytes head;      /* the final response's header lines, each "Name: value\n" */
    struct bytes body;      /* empty with call->on_body */
    struct bytes sent_head; /* with trace: the request head exactly as sent */
    double elapsed, connect_elapsed;
    double received_at; /* CLOCK_MONOTONIC seconds (lambda.time.monotonic) when it was whole */
    char primary_ip[64];
    long primary_port;
    /* On failure: kind is one of "refused", "timeout", "resolve", "tls", "transport", "input"
     * (a URL that cannot be sent), "io" (libcurl cannot be loaded), and message says what
     * happened (the binding prefixes the URL). */
    const char *failure_kind;
    char message[512];
    bool out_of_memory; /* raised by the binding, not reported as a failure */
};

/* Each returns true with the response in result, or false with failure_kind and message set
 * (or out_of_memory). */

struct event_base;
/* How a transfer started on a loop reports its end, once, from a libevent callback: ok as
 * the blocking call would have returned it, the result filled. The engine has released the
 * transfer before it calls this, so the owner may start or cancel others from it. */
typedef void (*http_finished_fn)(void *owner, bool ok);
enum http_start {
    HTTP_IN_FLIGHT, /* under way: the finished function will be called */
    HTTP_SUCCEEDED, /* over at once, as the blocking call would have returned true */
    HTTP_FAILED,    /* over at once, as the blocking call would have returned false */
};

struct http_plain_pool; /* idle keep-alive connections of one Lua state */
/* Where the plain engine sends a call it takes. */
#define HTTP_PLAIN_MAX_ADDRESSES 2 /* localhost: ::1, then 127.0.0.1 */
struct http_plain_target {
    const char *host; /* as written in the URL (brackets kept for IPv6) */
    size_t host_length;
    unsigned port;
    const char *path; /* from the URL: the path and query, NULL for "/" */
    struct sockaddr_storage addresses[HTTP_PLAIN_MAX_ADDRESSES];
    socklen_t address_lengths[HTTP_PLAIN_MAX_ADDRESSES];
    int address_count;
};
/* Whether the plain engine takes this call, and where it goes: an http:// URL whose host is a
 * loopback address or localhost, in a form simple enough that it and libcurl would send the
 * same bytes. */
bool http_plain_accepts(const struct http_call *call, struct http_plain_target *target);
bool http_plain_perform(struct http_plain_pool **pool, const struct http_call *call,
                        const struct http_plain_target *target, struct http_result *result);
void http_plain_pool_free(struct http_plain_pool *pool);
/* Takes the idle connections off the event loop they are watched on, before the loop goes
 * away; the connections stay in the pool. */
void http_plain_pool_unwatch(struct http_plain_pool *pool);
struct http_plain_async; /* one transfer on a loop */
enum http_start http_plain_start(struct event_base *base, struct http_plain_pool **pool,
                                 const struct http_call *call,
                                 const struct http_plain_target *target, struct http_result *result,
                                 http_finished_fn finished, void *owner,
                                 struct http_plain_async **transfer);
/* Abandons a transfer under way: its connection is closed, finished is not called. */
void http_plain_cancel(struct http_plain_async *transfer);

struct http_curl_share; /* libcurl's connection, DNS and TLS session caches of one Lua state */
bool http_curl_perform(struct http_curl_share **share, const struct http_call *call,
                       struct http_result *result);
void http_curl_share_free(struct http_curl_share *share);
/* libcurl's multi handle of one Lua state, driven by its lambda.event loop; created by the
 * first start. Freeing it cancels the transfers it still carries. */
struct http_curl_multi;
struct http_curl_async; /* one transfer on a loop */
enum http_start http_curl_start(struct http_curl_multi **multi, struct event_base *base,
                                struct http_curl_share **share, const struct http_call *call,
                                struct http_result *result, http_finished_fn finished, void *owner,
                                struct http_curl_async **transfer);
void http_curl_cancel(struct http_curl_async *transfer);
void http_curl_multi_free(struct http_curl_multi *multi);

void http_result_free(struct http_result *result);

#endif
