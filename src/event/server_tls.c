/* TLS for lambda.event's HTTP server: the certificate and key loaded into an OpenSSL context,
 * and accepted connections wrapped in libevent's OpenSSL bufferevents. libssl and
 * libevent_openssl are loaded by the first server with TLS (common/openssl.h): an emulator
 * without it, and every other command, never load them. */
#include <errno.h>
#include <lauxlib.h>
#include <stdio.h>
#include <string.h>

#include "common/openssl.h"
#include "event/server.h"

/* Pushes "what 'path': reason" from errno or OpenSSL's error queue; returns -1. */
static int tls_error(lua_State *L, const struct openssl_crypto *crypto, const char *what,
                     const char *path, int error) {
    const char *reason = error ? strerror(error) : NULL;
    unsigned long code = crypto->ERR_peek_last_error();
    if (!reason && code)
        reason = crypto->ERR_reason_error_string(code);
    lua_pushfstring(L, "%s '%s': %s", what, path, reason ? reason : "invalid");
    crypto->ERR_clear_error();
    return -1;
}

static int readable(const char *path) {
    FILE *file = fopen(path, "rb");
    if (!file)
        return errno;
    fclose(file);
    return 0;
}

int http_tls_load(lua_State *L, SSL_CTX **context, const char *cert, const char *key,
                  struct http_server_failure *failure) {
    const char *unavailable;
    const struct openssl_tls *ssl = openssl_tls(&unavailable);
    const struct openssl_crypto *crypto = ssl ? openssl_crypto(&unavailable) : NULL;
    /* A library this machine lacks is its failure, not the script's. */
    *failure = (struct http_server_failure){"io", NULL, 0};
    if (!crypto) {
        lua_pushstring(L, unavailable);
        return -1;
    }
    crypto->ERR_clear_error();
    failure->kind = "tls";
    SSL_CTX *tls = *context = ssl->SSL_CTX_new(ssl->TLS_server_method());
    if (!tls)
        return tls_error(L, crypto, "cannot set up TLS for", cert, 0);
    /* SSL_CTX_set_min_proto_version is a macro over SSL_CTX_ctrl. */
    ssl->SSL_CTX_ctrl(tls, SSL_CTRL_SET_MIN_PROTO_VERSION, TLS1_2_VERSION, NULL);
    /* From here the files given are at fault, as lambda.client reports them. */
    failure->kind = "input";
    failure->field = "tls.cert";
    int error = readable(cert);
    if (error || ssl->SSL_CTX_use_certificate_chain_file(tls, cert) != 1)
        return tls_error(L, crypto, "cannot load TLS certificate", cert, error);
    failure->field = "tls.key";
    error = readable(key);
    if (error || ssl->SSL_CTX_use_PrivateKey_file(tls, key, SSL_FILETYPE_PEM) != 1)
        return tls_error(L, crypto, "cannot load TLS key", key, error);
    if (ssl->SSL_CTX_check_private_key(tls) != 1)
        return tls_error(L, crypto, "TLS key does not match certificate", cert, 0);
    return 0;
}

void http_tls_free(SSL_CTX *context) {
    const char *unavailable;
    /* A context exists only once libssl is loaded, so the table is there. */
    if (context)
        openssl_tls(&unavailable)->SSL_CTX_free(context);
}

struct bufferevent *http_tls_accept(struct event_base *base, evutil_socket_t fd, SSL_CTX *tls) {
    const char *unavailable;
    const struct openssl_tls *ssl = openssl_tls(&unavailable); /* loaded: tls exists */
    SSL *connection = ssl->SSL_new(tls);
    if (!connection)
        return NULL;
    /* Deferred: OpenSSL bufferevents may report a failed write from inside the write itself,
     * which would free the connection under request:respond. */
    struct bufferevent *bev =
        ssl->bufferevent_openssl_socket_new(base, fd, connection, BUFFEREVENT_SSL_ACCEPTING,
                                            BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
    if (!bev) {
        ssl->SSL_free(connection);
        return NULL;
    }
    /* Clients often close without a TLS close_notify. */
    ssl->bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
    return bev;
}
