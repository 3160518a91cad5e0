/* Loads OpenSSL's libraries on first use (see openssl.h), as src/http/curl.c loads libcurl. */
#include "common/openssl.h"

#include <dlfcn.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

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

struct symbol {
    const char *name;
    size_t offset; /* of its field in the table */
};

/* One library's outcome, decided by the first attempt (the program has one thread, so the
 * attempt needs no lock). */
struct attempt {
    bool tried, loaded;
    char error[256];
};

/* Opens `soname` and fills table's fields from it. False with attempt->error set otherwise. */
static bool load_library(struct attempt *attempt, const char *what, const char *soname,
                         const struct symbol *symbols, size_t count, void *table) {
    /* RTLD_LOCAL, as for libcurl: the program reaches the functions through its tables only. */
    void *library = dlopen(soname, RTLD_LAZY | RTLD_LOCAL);
    if (!library) {
        snprintf(attempt->error, sizeof attempt->error, "cannot load %s: %s", what, dlerror());
        return false;
    }
    for (size_t i = 0; i < count; i++) {
        void *function = dlsym(library, symbols[i].name);
        if (!function) {
            snprintf(attempt->error, sizeof attempt->error, "cannot load %s: %s has no %s", what,
                     soname, symbols[i].name);
            return false;
        }
        /* POSIX guarantees that a function pointer survives the trip through void *. */
        memcpy((char *)table + symbols[i].offset, &function, sizeof function);
    }
    return true;
}

static struct openssl_crypto crypto;
static struct attempt crypto_attempt;

const struct openssl_crypto *openssl_crypto(const char **error) {
    if (!crypto_attempt.tried) {
        crypto_attempt.tried = true;
#define SYMBOL(name) {#name, offsetof(struct openssl_crypto, name)},
        static const struct symbol symbols[] = {OPENSSL_CRYPTO_FUNCTIONS(SYMBOL)};
#undef SYMBOL
        crypto_attempt.loaded = load_library(&crypto_attempt, "libcrypto", CLC_LIBCRYPTO_SONAME,
                                             symbols, sizeof symbols / sizeof symbols[0], &crypto);
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
        static const struct symbol ssl_symbols[] = {OPENSSL_SSL_FUNCTIONS(SYMBOL)};
        static const struct symbol event_symbols[] = {OPENSSL_EVENT_FUNCTIONS(SYMBOL)};
#undef SYMBOL
        tls_attempt.loaded =
            load_library(&tls_attempt, "libssl", CLC_LIBSSL_SONAME, ssl_symbols,
                         sizeof ssl_symbols / sizeof ssl_symbols[0], &tls) &&
            load_library(&tls_attempt, "libevent_openssl", CLC_LIBEVENT_OPENSSL_SONAME,
                         event_symbols, sizeof event_symbols / sizeof event_symbols[0], &tls);
    }
    if (!tls_attempt.loaded) {
        *error = tls_attempt.error;
        return NULL;
    }
    return &tls;
}
