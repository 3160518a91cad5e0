/* OpenSSL, loaded with dlopen on first use: libcrypto for lambda.crypto and lambda.sigv4,
 * libssl with libevent_openssl for lambda.event's https server. A local invoke uses none of
 * them, and linking them cost every start of the program about 3 ms and 1.7 MB of resident
 * memory for loading, relocating and initialising them (bench/startup.sh).
 *
 * OpenSSL's headers still give the types and constants; only the calls go through these tables.
 * Each field has the name and (through __typeof__, which GCC and clang offer in every mode) the
 * exact type of the function it holds, so a call reads `crypto->EVP_Digest(...)` and is checked
 * against OpenSSL's own declaration. Macros that expand to calls (SSL_CTX_set_min_proto_version
 * is SSL_CTX_ctrl) must be written as a call of the function they expand to. */
#ifndef CLC_COMMON_OPENSSL_H
#define CLC_COMMON_OPENSSL_H

#include <event2/bufferevent_ssl.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/params.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>

/* The libcrypto functions the program calls. */
#define OPENSSL_CRYPTO_FUNCTIONS(X)                                                                \
    X(CRYPTO_memcmp)                                                                               \
    X(OPENSSL_cleanse)                                                                             \
    X(EVP_Digest)                                                                                  \
    X(EVP_DigestInit_ex2)                                                                          \
    X(EVP_DigestUpdate)                                                                            \
    X(EVP_DigestFinal_ex)                                                                          \
    X(EVP_EncodeBlock)                                                                             \
    X(EVP_MD_fetch)                                                                                \
    X(EVP_MD_free)                                                                                 \
    X(EVP_MD_get0_name)                                                                            \
    X(EVP_MD_CTX_new)                                                                              \
    X(EVP_MD_CTX_free)                                                                             \
    X(EVP_MAC_fetch)                                                                               \
    X(EVP_MAC_free)                                                                                \
    X(EVP_MAC_CTX_new)                                                                             \
    X(EVP_MAC_CTX_free)                                                                            \
    X(EVP_MAC_CTX_set_params)                                                                      \
    X(EVP_MAC_init)                                                                                \
    X(EVP_MAC_update)                                                                              \
    X(EVP_MAC_final)                                                                               \
    X(EVP_sha1)                                                                                    \
    X(EVP_sha256)                                                                                  \
    X(HMAC)                                                                                        \
    X(OSSL_PARAM_construct_utf8_string)                                                            \
    X(OSSL_PARAM_construct_end)                                                                    \
    X(RAND_bytes)                                                                                  \
    X(ERR_clear_error)                                                                             \
    X(ERR_peek_last_error)                                                                         \
    X(ERR_reason_error_string)

/* The libssl functions, then the libevent_openssl ones (a library of its own). */
#define OPENSSL_SSL_FUNCTIONS(X)                                                                   \
    X(TLS_server_method)                                                                           \
    X(SSL_CTX_new)                                                                                 \
    X(SSL_CTX_free)                                                                                \
    X(SSL_CTX_ctrl)                                                                                \
    X(SSL_CTX_use_certificate_chain_file)                                                          \
    X(SSL_CTX_use_PrivateKey_file)                                                                 \
    X(SSL_CTX_check_private_key)                                                                   \
    X(SSL_new)                                                                                     \
    X(SSL_free)
#define OPENSSL_EVENT_FUNCTIONS(X)                                                                 \
    X(bufferevent_openssl_socket_new)                                                              \
    X(bufferevent_openssl_set_allow_dirty_shutdown)

#define OPENSSL_FIELD(name) __typeof__(name) *name;

struct openssl_crypto {
    OPENSSL_CRYPTO_FUNCTIONS(OPENSSL_FIELD)
};

struct openssl_tls {
    OPENSSL_SSL_FUNCTIONS(OPENSSL_FIELD)
    OPENSSL_EVENT_FUNCTIONS(OPENSSL_FIELD)
};

/* libcrypto's functions, loaded by the first call in the process. NULL when it cannot be
 * loaded, with *error set to one line saying why ("cannot load libcrypto: ..."); a later call
 * gives the same answer without trying again. */
const struct openssl_crypto *openssl_crypto(const char **error);

/* libssl's and libevent_openssl's functions (libcrypto's come with openssl_crypto), the same
 * way ("cannot load libssl: ...", "cannot load libevent_openssl: ..."). */
const struct openssl_tls *openssl_tls(const char **error);

#endif
