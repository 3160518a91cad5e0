/* lambda.http's libcurl engine: https, proxies, remote hosts, everything the plain engine
 * does not take. libcurl is loaded with dlopen on the first request that needs it, because
 * loading it (and the TLS stack, Kerberos, LDAP and the rest it pulls in) costs 7 MB of
 * memory and a few milliseconds that a local invoke never needs.
 *
 * This file sets a transfer up, reads its outcome and performs it blocking; curl_multi.c
 * carries the same transfers out on a lambda.event loop, for requests made from tasks.
 *
 * Nothing here raises: the callbacks only append to the result's buffers and report failure
 * to curl, and every failure ends up in result->failure_kind and result->message. */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/ascii.h"
#include "common/dynload.h"
#include "common/monotonic.h"
#include "http/curl_engine.h"

#ifndef CLC_LIBCURL_SONAME
#define CLC_LIBCURL_SONAME "libcurl.so.4"
#endif

/* Always contacted directly, even when http_proxy is set: loopback, and the instance-metadata
 * and container-credential addresses, whose answers carry credentials a proxy must not see. */
#define LOOPBACK_HOSTS                                                                             \
    "localhost,127.0.0.1,::1,169.254.169.254,169.254.170.2,169.254.170.23,fd00:ec2::254,"          \
    "fd00:ec2::23"

struct curl_api curl_api;

static bool load_curl(void) {
    if (curl_api.tried)
        return curl_api.loaded;
    curl_api.tried = true;
    static const struct dynload_symbol symbols[] = {
#define SYMBOL(field) {"curl_" #field, offsetof(struct curl_api, field)}
        SYMBOL(global_init),         SYMBOL(easy_init),           SYMBOL(easy_setopt),
        SYMBOL(easy_perform),        SYMBOL(easy_getinfo),        SYMBOL(easy_cleanup),
        SYMBOL(easy_strerror),       SYMBOL(slist_append),        SYMBOL(slist_free_all),
        SYMBOL(share_init),          SYMBOL(share_setopt),        SYMBOL(share_cleanup),
        SYMBOL(multi_init),          SYMBOL(multi_setopt),        SYMBOL(multi_add_handle),
        SYMBOL(multi_remove_handle), SYMBOL(multi_socket_action), SYMBOL(multi_info_read),
        SYMBOL(multi_assign),        SYMBOL(multi_cleanup),
#undef SYMBOL
    };
    if (!dynload_open("libcurl", CLC_LIBCURL_SONAME, symbols, sizeof symbols / sizeof symbols[0],
                      &curl_api, curl_api.error, sizeof curl_api.error))
        return false;
    if (curl_api.global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        snprintf(curl_api.error, sizeof curl_api.error, "cannot initialise libcurl");
        return false;
    }
    curl_api.loaded = true;
    return true;
}

/* The connection cache (and DNS and TLS session caches) that every request of one Lua state
 * shares, so that a script making many requests to one server keeps its connections alive.
 * A Lua state is single-threaded, so the share needs no lock callbacks. */
struct http_curl_share {
    CURLSH *handle;
};

void http_curl_share_free(struct http_curl_share *share) {
    if (!share)
        return;
    if (share->handle)
        curl_api.share_cleanup(share->handle);
    free(share);
}

static CURLSH *share_handle(struct http_curl_share **share) {
    if (!*share) {
        *share = calloc(1, sizeof **share);
        if (!*share)
            return NULL;
        (*share)->handle = curl_api.share_init();
        /* Without a share (out of memory) every request simply opens its own connection. */
        if ((*share)->handle) {
            curl_api.share_setopt((*share)->handle, CURLSHOPT_SHARE, CURL_LOCK_DATA_CONNECT);
            curl_api.share_setopt((*share)->handle, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
            curl_api.share_setopt((*share)->handle, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
        }
    }
    return (*share)->handle;
}

/* ---- curl callbacks: append only ---- */

/* libcurl calls this as soon as it has read body bytes from the socket (it does not wait to
 * fill its buffer), so a caller's on_body sees a streamed answer as it arrives. Returning less
 * than given makes libcurl end the transfer with CURLE_WRITE_ERROR. */
static size_t receive_body(char *data, size_t size, size_t count, void *userdata) {
    struct http_curl_transfer *t = userdata;
    size_t length = size * count;
    const struct http_call *call = t->call;
    if (call->on_body) {
        long status = 0;
        curl_api.easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &status);
        return call->on_body(call->on_body_owner, status, &t->result->head, data, length) ? length
                                                                                          : 0;
    }
    return bytes_append(&t->result->body, data, length) ? length : 0;
}

/* Keeps the header lines of the final response only, each ending in "\n": a status line
 * (after a 1xx answer) starts over, and a folded line (obsolete, but still legal to receive)
 * is joined to the previous line with one space, because curl passes it on separately. */
static size_t receive_header(char *line, size_t size, size_t count, void *userdata) {
    struct http_curl_transfer *t = userdata;
    struct bytes *head = &t->result->head;
    size_t length = size * count;
    if (length >= 5 && memcmp(line, "HTTP/", 5) == 0) {
        head->length = 0;
        t->head_complete = false;
        return length;
    }
    size_t content = length;
    while (content > 0 && (line[content - 1] == '\n' || line[content - 1] == '\r'))
        content--;
    if (content == 0)
        t->head_complete = true;
    if (t->head_complete || content == 0)
        return length;
    size_t start = 0;
    if (ascii_is_blank(line[0])) {
        if (head->length == 0)
            return length; /* nothing to continue */
        head->length--;    /* reopen the previous line */
        while (start < content && ascii_is_blank(line[start]))
            start++;
        if (!bytes_append(head, " ", 1))
            return 0;
    }
    if (!bytes_append(head, line + start, content - start) || !bytes_append(head, "\n", 1))
        return 0;
    return length;
}

static int trace_sent_head(CURL *easy, curl_infotype type, char *data, size_t size,
                           void *userdata) {
    (void)easy;
    struct http_curl_transfer *t = userdata;
    if (type == CURLINFO_HEADER_OUT)
        bytes_append(&t->result->sent_head, data, size);
    return 0;
}

/* ---- options ---- */

#define SETOPT(t, option, value)                                                                   \
    ((t)->setopt_failed |= curl_api.easy_setopt((t)->easy, option, value) != CURLE_OK)

static bool add_line(struct http_curl_transfer *t, const char *line) {
    struct curl_slist *longer = curl_api.slist_append(t->headers, line);
    if (!longer)
        return false;
    t->headers = longer;
    return true;
}

static bool set_headers(struct http_curl_transfer *t, const struct http_call *call) {
    bool content_type = false, expect = false;
    for (size_t i = 0; i < call->header_count; i++) {
        const struct http_header *h = &call->headers[i];
        content_type = content_type || strcasecmp(h->name, "Content-Type") == 0;
        expect = expect || strcasecmp(h->name, "Expect") == 0;
        /* curl reads "Name:" as "remove this header"; "Name;" is its spelling of an empty
         * value. */
        size_t size = strlen(h->name) + strlen(h->value) + 3;
        char *line = malloc(size);
        if (!line)
            return false;
        snprintf(line, size, h->value[0] ? "%s: %s" : "%s;%s", h->name, h->value);
        bool added = add_line(t, line);
        free(line);
        if (!added)
            return false;
    }
    /* curl's own additions that callers do not expect: "Expect: 100-continue" stalls for a
     * second on servers that ignore it, and POST bodies get a form Content-Type. */
    if (!expect && !add_line(t, "Expect:"))
        return false;
    if (!content_type && !add_line(t, "Content-Type:"))
        return false;
    SETOPT(t, CURLOPT_HTTPHEADER, t->headers);
    return true;
}

static void set_method_and_body(struct http_curl_transfer *t, const struct http_call *call) {
    if (strcmp(call->method, "HEAD") == 0) {
        /* Without NOBODY curl would wait for the body the Content-Length announces. */
        SETOPT(t, CURLOPT_NOBODY, 1L);
    } else if (strcmp(call->method, "GET") != 0 || call->body) {
        SETOPT(t, CURLOPT_CUSTOMREQUEST, call->method);
    }
    if (call->body) {
        /* POSTFIELDS does not copy: the binding keeps the body alive. */
        SETOPT(t, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)call->body_length);
        SETOPT(t, CURLOPT_POSTFIELDS, call->body);
    }
}

static void set_tls(struct http_curl_transfer *t, const struct http_call *call) {
    if (call->tls_cert)
        SETOPT(t, CURLOPT_SSLCERT, call->tls_cert);
    if (call->tls_key)
        SETOPT(t, CURLOPT_SSLKEY, call->tls_key);
    if (call->tls_ca) {
        SETOPT(t, CURLOPT_CAINFO, call->tls_ca);
        /* A given CA bundle replaces the system's store entirely, directory included. */
        SETOPT(t, CURLOPT_CAPATH, (char *)NULL);
    }
}

/* The user's no_proxy still applies; loopback is added to it. */
static void set_no_proxy(struct http_curl_transfer *t) {
    const char *user = getenv("no_proxy");
    if (!user || !*user)
        user = getenv("NO_PROXY");
    if (user && strcmp(user, "*") == 0) {
        SETOPT(t, CURLOPT_NOPROXY, "*");
        return;
    }
    char *list = NULL;
    if (user && *user) {
        size_t size = sizeof LOOPBACK_HOSTS + 1 + strlen(user);
        list = malloc(size);
        if (!list) {
            t->setopt_failed = true;
            return;
        }
        snprintf(list, size, LOOPBACK_HOSTS ",%s", user);
    }
    SETOPT(t, CURLOPT_NOPROXY, list ? list : LOOPBACK_HOSTS); /* curl copies it */
    free(list);
}

/* Whole milliseconds, rounded up so that a tiny timeout does not become curl's "none". */
static long milliseconds(double seconds) {
    double ms = ceil(seconds * 1000.0);
    return ms > (double)LONG_MAX ? LONG_MAX : (long)ms;
}

/* ---- failures ---- */

static const char *skip_prefix(const char *text, const char *prefix) {
    size_t length = strlen(prefix);
    return strncmp(text, prefix, length) == 0 ? text + length : text;
}

static bool is_lower(char c) {
    return c >= 'a' && c <= 'z';
}

/* Whether the text starts with a plain capitalised word ("Empty", but not "SSL", "OpenSSL"). */
static bool starts_capitalised(const char *text) {
    if (!(text[0] >= 'A' && text[0] <= 'Z') || !is_lower(text[1]))
        return false;
    const char *c = text + 1;
    while (is_lower(*c))
        c++;
    return !((*c >= 'A' && *c <= 'Z') || *c == '/');
}

/* Appends curl's detail text on one line, its first word lower-cased like our own wording. */
static void add_detail(char *message, size_t size, const char *detail) {
    size_t length = strlen(message);
    bool lower_first = starts_capitalised(detail);
    for (const char *c = detail; *c && length + 1 < size; c++) {
        char out = *c;
        if (c == detail && lower_first)
            out = (char)(out - 'A' + 'a');
        if (out == '\n' || out == '\r') {
            if (c[1] == '\0')
                break;
            out = ' ';
        }
        message[length++] = out;
    }
    message[length] = '\0';
}

static bool is_tls_error(CURLcode code, const char *detail) {
    switch (code) {
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_SSL_ENGINE_NOTFOUND:
    case CURLE_SSL_ENGINE_SETFAILED:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_ENGINE_INITFAILED:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_SHUTDOWN_FAILED:
    case CURLE_SSL_CRL_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_INVALIDCERTSTATUS:
    case CURLE_SSL_CLIENTCERT:
    case CURLE_USE_SSL_FAILED:
        return true;
    case CURLE_RECV_ERROR:
    case CURLE_SEND_ERROR:
        /* With TLS 1.3 the server rejects a client certificate after the handshake, so the
         * alert arrives as a read error. */
        return strstr(detail, "SSL routines") != NULL;
    default:
        return false;
    }
}

static void report_failure(struct http_curl_transfer *t, const struct http_call *call,
                           CURLcode code) {
    struct http_result *result = t->result;
    const char *detail = t->error[0] ? t->error : curl_api.easy_strerror(code);
    char *message = result->message;
    size_t size = sizeof result->message;
    message[0] = '\0';
    result->failure_kind = "transport";
    long os_error = 0;
    curl_api.easy_getinfo(t->easy, CURLINFO_OS_ERRNO, &os_error);
    if (code == CURLE_COULDNT_CONNECT && os_error == ECONNREFUSED) {
        result->failure_kind = "refused";
        snprintf(message, size, "connection refused");
    } else if (code == CURLE_OPERATION_TIMEDOUT) {
        result->failure_kind = "timeout";
        curl_off_t connected = 0;
        curl_api.easy_getinfo(t->easy, CURLINFO_CONNECT_TIME_T, &connected);
        bool connecting = connected == 0 && call->connect_timeout > 0 &&
                          (call->timeout == 0 || call->connect_timeout < call->timeout);
        if (connecting || call->timeout > 0)
            snprintf(message, size, "%s after %g s", /* "%g": 2 s, not Lua's 2.0 s */
                     connecting ? "connect timed out" : "timed out",
                     connecting ? call->connect_timeout : call->timeout);
        else
            add_detail(message, size, detail);
    } else if (code == CURLE_COULDNT_RESOLVE_HOST) {
        result->failure_kind = "resolve";
        add_detail(message, size, detail);
    } else if (code == CURLE_URL_MALFORMAT) {
        /* A URL common/url.c let through that libcurl will not send (a space in the path,
         * say): the caller's input, not the connection's failure. (Not
         * CURLE_UNSUPPORTED_PROTOCOL: libcurl also reports a server's malformed answer so.) */
        result->failure_kind = "input";
        add_detail(message, size, detail);
    } else if (is_tls_error(code, detail)) {
        result->failure_kind = "tls";
        snprintf(message, size, "TLS: ");
        if (code == CURLE_PEER_FAILED_VERIFICATION) {
            snprintf(message + strlen(message), size - strlen(message),
                     "certificate verify failed (");
            add_detail(message, size,
                       skip_prefix(skip_prefix(detail, "SSL certificate problem: "), "SSL: "));
            if (strlen(message) + 1 < size)
                strcat(message, ")");
        } else {
            add_detail(message, size, skip_prefix(detail, "SSL: "));
        }
    } else {
        add_detail(message, size, detail);
    }
}

/* ---- the request ---- */

static bool set_options(struct http_curl_transfer *t, struct http_curl_share **share,
                        const struct http_call *call) {
    CURLSH *shared = share_handle(share);
    if (shared)
        SETOPT(t, CURLOPT_SHARE, shared);
    set_method_and_body(t, call);
    if (!set_headers(t, call))
        return false;
    set_tls(t, call);
    set_no_proxy(t);
    SETOPT(t, CURLOPT_URL, call->url);
    SETOPT(t, CURLOPT_ERRORBUFFER, t->error);
    SETOPT(t, CURLOPT_NOSIGNAL, 1L);
    /* libcurl's default since 7.50.2, said here because a streamed request relies on it. */
    SETOPT(t, CURLOPT_TCP_NODELAY, 1L);
    SETOPT(t, CURLOPT_PROTOCOLS_STR, "http,https");
    SETOPT(t, CURLOPT_WRITEFUNCTION, receive_body);
    SETOPT(t, CURLOPT_WRITEDATA, t);
    SETOPT(t, CURLOPT_HEADERFUNCTION, receive_header);
    SETOPT(t, CURLOPT_HEADERDATA, t);
    if (call->timeout > 0)
        SETOPT(t, CURLOPT_TIMEOUT_MS, milliseconds(call->timeout));
    if (call->connect_timeout > 0)
        SETOPT(t, CURLOPT_CONNECTTIMEOUT_MS, milliseconds(call->connect_timeout));
    if (call->trace) {
        /* VERBOSE only feeds the debug callback; nothing reaches stderr. */
        SETOPT(t, CURLOPT_DEBUGFUNCTION, trace_sent_head);
        SETOPT(t, CURLOPT_DEBUGDATA, t);
        SETOPT(t, CURLOPT_VERBOSE, 1L);
    }
    /* Every option is valid, so only memory can have run out. */
    return !t->setopt_failed;
}

bool http_curl_prepare(struct http_curl_transfer *t, struct http_curl_share **share,
                       const struct http_call *call, struct http_result *result) {
    *t = (struct http_curl_transfer){.result = result, .call = call};
    if (!load_curl()) {
        result->failure_kind = "io"; /* this machine's failure: no use retrying the request */
        snprintf(result->message, sizeof result->message, "%s", curl_api.error);
        return false;
    }
    t->easy = curl_api.easy_init();
    if (!t->easy || !set_options(t, share, call)) {
        result->out_of_memory = true;
        http_curl_release(t);
        return false;
    }
    return true;
}

bool http_curl_conclude(struct http_curl_transfer *t, const struct http_call *call, CURLcode code) {
    struct http_result *result = t->result;
    if (result->body.failed || result->head.failed) {
        result->out_of_memory = true;
        return false;
    }
    if (code != CURLE_OK) {
        report_failure(t, call, code);
        return false;
    }
    result->received_at = monotonic_now();
    double total = 0, connect = 0;
    char *ip = NULL;
    curl_api.easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &result->status);
    curl_api.easy_getinfo(t->easy, CURLINFO_TOTAL_TIME, &total);
    curl_api.easy_getinfo(t->easy, CURLINFO_CONNECT_TIME, &connect);
    curl_api.easy_getinfo(t->easy, CURLINFO_PRIMARY_IP, &ip);
    curl_api.easy_getinfo(t->easy, CURLINFO_PRIMARY_PORT, &result->primary_port);
    result->elapsed = total;
    result->connect_elapsed = connect;
    snprintf(result->primary_ip, sizeof result->primary_ip, "%s", ip ? ip : "");
    return true;
}

void http_curl_release(struct http_curl_transfer *t) {
    if (t->easy)
        curl_api.easy_cleanup(t->easy);
    curl_api.slist_free_all(t->headers); /* NULL-safe */
    t->easy = NULL;
    t->headers = NULL;
}

bool http_curl_perform(struct http_curl_share **share, const struct http_call *call,
                       struct http_result *result) {
    struct http_curl_transfer t;
    if (!http_curl_prepare(&t, share, call, result))
        return false;
    bool ok = http_curl_conclude(&t, call, curl_api.easy_perform(t.easy));
    http_curl_release(&t);
    return ok;
}
