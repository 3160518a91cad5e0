/* Loads OpenSSL's libraries on first use (see openssl.h and common/dynload.h). */
#include "common/openssl.h"

#include <stdbool.h>
#include <stddef.h>

#include "common/dynload.h"

/* The names to load, read by CMake from the libraries found at build time. */
#ifndef CLC_LIBCRYPTO_SONAME
#define CLC_LIBCRYPTO_SONAME "libcrypto.so.3"
#endif
#ifndef CLC_LIBSSL_SONAME
#define CLC_LIBSSL_SONAME "libssl.so.3"
#endif
#ifndef CLC_LIBEVENT_OPENSSL_SONAME
#define CLC_LIBEVENT_OPENSSL_SONAME "libevent_openssl-2.1.so.7"
#endif

/* One library's outcome, decided by the first attempt. */
struct attempt {
    bool tried, loaded;
    char error[256];
};

static struct openssl_crypto crypto;
static struct attempt crypto_attempt;

const struct openssl_crypto *openssl_crypto(const char **error) {
    if (!crypto_attempt.tried) {
        crypto_attempt.tried = true;
#define SYMBOL(name) {#name, offsetof(struct openssl_crypto, name)},
        static const struct dynload_symbol symbols[] = {OPENSSL_CRYPTO_FUNCTIONS(SYMBOL)};
#undef SYMBOL
        crypto_attempt.loaded = dynload_open("libcrypto", CLC_LIBCRYPTO_SONAME, symbols,
                                             sizeof symbols / sizeof symbols[0], &crypto,
                                             crypto_attempt.error, sizeof crypto_attempt.error);
    }
    if (!crypto_attempt.loaded) {
        *error = crypto_attempt.error;
        return NULL;
    }
    return &crypto;
}

static struct openssl_tls tls;
static struct attempt tls_attempt;

const struct openssl_tls *openssl_tls(const char **error) {
    /* libssl would bring libcrypto along; loading it first names it when it is what fails. */
    if (!openssl_crypto(error))
        return NULL;
    if (!tls_attempt.tried) {
        tls_attempt.tried = true;
#define SYMBOL(name) {#name, offsetof(struct openssl_tls, name)},
        static const struct dynload_symbol ssl_symbols[] = {OPENSSL_SSL_FUNCTIONS(SYMBOL)};
        static const struct dynload_symbol event_symbols[] = {OPENSSL_EVENT_FUNCTIONS(SYMBOL)};
#undef SYMBOL
        /* libevent_openssl's own calls into libevent bind to the binary's copy, linked in
         * statically and exported (CMakeLists.txt), not to the shared libevent_core it names. */
        tls_attempt.loaded =
            dynload_open("libssl", CLC_LIBSSL_SONAME, ssl_symbols,
                         sizeof ssl_symbols / sizeof ssl_symbols[0], &tls, tls_attempt.error,
                         sizeof tls_attempt.error) &&
            dynload_open("libevent_openssl", CLC_LIBEVENT_OPENSSL_SONAME, event_symbols,
                         sizeof event_symbols / sizeof event_symbols[0], &tls, tls_attempt.error,
                         sizeof tls_attempt.error);
    }
    if (!tls_attempt.loaded) {
        *error = tls_attempt.error;
        return NULL;
    }
    return &tls;
}
