/* TLS for lambda.event's HTTP server: the certificate and key loaded into an OpenSSL context,
 * and accepted connections wrapped in libevent's OpenSSL bufferevents. */
#include <errno.h>
#include <event2/bufferevent_ssl.h>
#include <lauxlib.h>
#include <openssl/err.h>
#include <stdio.h>
#include <string.h>

#include "event/server.h"

/* Pushes "what 'path': reason" from errno or OpenSSL's error queue; returns -1. */
static int tls_error(lua_State *L, const char *what, const char *path, int error) {
    const char *reason = error ? strerror(error) : NULL;
    unsigned long code = ERR_peek_last_error();
    if (!reason && code)
        reason = ERR_reason_error_string(code);
    lua_pushfstring(L, "%s '%s': %s", what, path, reason ? reason : "invalid");
    ERR_clear_error();
    return -1;
}

static int readable(const char *path) {
    FILE *file = fopen(path, "rb");
    if (!file)
        return errno;
    fclose(file);
    return 0;
}

int http_tls_load(lua_State *L, SSL_CTX **context, const char *cert, const char *key) {
    ERR_clear_error();
    SSL_CTX *tls = *context = SSL_CTX_new(TLS_server_method());
    if (!tls)
        return tls_error(L, "cannot set up TLS for", cert, 0);
    SSL_CTX_set_min_proto_version(tls, TLS1_2_VERSION);
    int error = readable(cert);
    if (error || SSL_CTX_use_certificate_chain_file(tls, cert) != 1)
        return tls_error(L, "cannot load TLS certificate", cert, error);
    error = readable(key);
    if (error || SSL_CTX_use_PrivateKey_file(tls, key, SSL_FILETYPE_PEM) != 1)
        return tls_error(L, "cannot load TLS key", key, error);
    if (SSL_CTX_check_private_key(tls) != 1)
        return tls_error(L, "TLS key does not match certificate", cert, 0);
    return 0;
}

struct bufferevent *http_tls_accept(struct event_base *base, evutil_socket_t fd, SSL_CTX *tls) {
    SSL *ssl = SSL_new(tls);
    if (!ssl)
        return NULL;
    /* Deferred: OpenSSL bufferevents may report a failed write from inside the write itself,
     * which would free the connection under request:respond. */
    struct bufferevent *bev = bufferevent_openssl_socket_new(
        base, fd, ssl, BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
    if (!bev) {
        SSL_free(ssl);
        return NULL;
    }
    /* Clients often close without a TLS close_notify. */
    bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
    return bev;
}
