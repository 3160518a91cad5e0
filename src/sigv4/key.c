/* SHA-256, HMAC-SHA256 and SigV4 signing keys (see key.h). The OpenSSL contexts are
 * made once and reused: fetching an algorithm costs more than hashing a small request. They
 * are made by the first signature, which loads libcrypto (common/openssl.h), not when the
 * module is opened: a local invoke requires lambda.sigv4 and never signs. */
#include "sigv4/key.h"

#include <lauxlib.h>
#include <openssl/core_names.h>
#include <string.h>

#include "common/openssl.h"

#define HASHER_TYPE "lambda.sigv4.hasher"
#define KEY_CACHE_SLOTS 4

/* A derived signing key, found again by a digest of what it was derived from, so that the
 * secret itself is not kept. */
struct cached_key {
    unsigned char fingerprint[SIGV4_HASH_LENGTH];
    unsigned char key[SIGV4_HASH_LENGTH];
    int filled;
};

/* A key serves one secret, day, region and service: a process that signs many requests
 * derives it once, and a few slots cover a program that talks to STS and Lambda in turn. */
struct sigv4_hasher {
    const struct openssl_crypto *crypto; /* NULL until the first signature */
    int ready;                           /* the objects below are made */
    EVP_MD *sha256;
    EVP_MD_CTX *digest;
    EVP_MAC_CTX *hmac;
    struct cached_key cache[KEY_CACHE_SLOTS];
    unsigned next_slot;
};

int sigv4_sha256(struct sigv4_hasher *hasher, const void *data, size_t length,
                 unsigned char out[SIGV4_HASH_LENGTH]) {
    const struct openssl_crypto *crypto = hasher->crypto;
    return crypto->EVP_DigestInit_ex2(hasher->digest, hasher->sha256, NULL) &&
           crypto->EVP_DigestUpdate(hasher->digest, data, length) &&
           crypto->EVP_DigestFinal_ex(hasher->digest, out, NULL);
}

int sigv4_hmac(struct sigv4_hasher *hasher, const void *key, size_t key_length, const void *data,
               size_t length, unsigned char out[SIGV4_HASH_LENGTH]) {
    const struct openssl_crypto *crypto = hasher->crypto;
    size_t written;
    return crypto->EVP_MAC_init(hasher->hmac, key, key_length, NULL) &&
           crypto->EVP_MAC_update(hasher->hmac, data, length) &&
           crypto->EVP_MAC_final(hasher->hmac, out, &written, SIGV4_HASH_LENGTH);
}

void sigv4_cleanse(struct sigv4_hasher *hasher, void *data, size_t length) {
    hasher->crypto->OPENSSL_cleanse(data, length);
}

static int add_to_fingerprint(struct sigv4_hasher *hasher, const char *text, size_t length) {
    unsigned char prefix[8];
    for (int i = 0; i < 8; i++) /* length-prefixed, so that no two tuples run together */
        prefix[i] = (unsigned char)((unsigned long long)length >> (8 * i));
    return hasher->crypto->EVP_DigestUpdate(hasher->digest, prefix, sizeof prefix) &&
           hasher->crypto->EVP_DigestUpdate(hasher->digest, text, length);
}

static int fingerprint_of(struct sigv4_hasher *hasher, const struct sigv4_scope *scope,
                          unsigned char fingerprint[SIGV4_HASH_LENGTH]) {
    const struct openssl_crypto *crypto = hasher->crypto;
    return crypto->EVP_DigestInit_ex2(hasher->digest, hasher->sha256, NULL) &&
           add_to_fingerprint(hasher, scope->secret, scope->secret_length) &&
           add_to_fingerprint(hasher, scope->date, 8) &&
           add_to_fingerprint(hasher, scope->region, scope->region_length) &&
           add_to_fingerprint(hasher, scope->service, scope->service_length) &&
           crypto->EVP_DigestFinal_ex(hasher->digest, fingerprint, NULL);
}

/* kSigning = HMAC(HMAC(HMAC(HMAC("AWS4" + secret, date), region), service), "aws4_request") */
int sigv4_signing_key(struct sigv4_hasher *hasher, const struct sigv4_scope *scope,
                      unsigned char key[SIGV4_HASH_LENGTH]) {
    unsigned char fingerprint[SIGV4_HASH_LENGTH];
    if (scope->secret_length > SIGV4_MAX_SECRET_LENGTH ||
        !fingerprint_of(hasher, scope, fingerprint))
        return 0;
    for (int i = 0; i < KEY_CACHE_SLOTS; i++) {
        struct cached_key *slot = &hasher->cache[i];
        if (slot->filled && hasher->crypto->CRYPTO_memcmp(slot->fingerprint, fingerprint,
                                                          sizeof fingerprint) == 0) {
            memcpy(key, slot->key, SIGV4_HASH_LENGTH);
            return 1;
        }
    }
    unsigned char secret[4 + SIGV4_MAX_SECRET_LENGTH];
    memcpy(secret, "AWS4", 4);
    memcpy(secret + 4, scope->secret, scope->secret_length);
    int ok =
        sigv4_hmac(hasher, secret, 4 + scope->secret_length, scope->date, 8, key) &&
        sigv4_hmac(hasher, key, SIGV4_HASH_LENGTH, scope->region, scope->region_length, key) &&
        sigv4_hmac(hasher, key, SIGV4_HASH_LENGTH, scope->service, scope->service_length, key) &&
        sigv4_hmac(hasher, key, SIGV4_HASH_LENGTH, "aws4_request", 12, key);
    sigv4_cleanse(hasher, secret, sizeof secret);
    if (!ok)
        return 0;
    struct cached_key *slot = &hasher->cache[hasher->next_slot];
    hasher->next_slot = (hasher->next_slot + 1) % KEY_CACHE_SLOTS;
    memcpy(slot->fingerprint, fingerprint, sizeof fingerprint);
    memcpy(slot->key, key, SIGV4_HASH_LENGTH);
    slot->filled = 1;
    return 1;
}

static int release_hasher(lua_State *L) {
    struct sigv4_hasher *hasher = luaL_checkudata(L, 1, HASHER_TYPE);
    const struct openssl_crypto *crypto = hasher->crypto;
    if (!crypto)
        return 0; /* never signed: nothing made, no key cached */
    crypto->EVP_MAC_CTX_free(hasher->hmac);
    crypto->EVP_MD_CTX_free(hasher->digest);
    crypto->EVP_MD_free(hasher->sha256);
    crypto->OPENSSL_cleanse(hasher, sizeof *hasher); /* the cached keys */
    return 0;
}

struct sigv4_hasher *sigv4_push_hasher(lua_State *L) {
    struct sigv4_hasher *hasher = lua_newuserdatauv(L, sizeof *hasher, 0);
    memset(hasher, 0, sizeof *hasher);
    if (luaL_newmetatable(L, HASHER_TYPE)) {
        lua_pushcfunction(L, release_hasher);
        lua_setfield(L, -2, "__gc");
    }
    lua_setmetatable(L, -2);
    return hasher;
}

const char *sigv4_hasher_ready(lua_State *L, struct sigv4_hasher *hasher) {
    if (hasher->ready)
        return NULL;
    const char *error;
    const struct openssl_crypto *crypto = hasher->crypto = openssl_crypto(&error);
    if (!crypto)
        return error;
    /* Objects made by an earlier attempt that failed halfway are freed first. */
    crypto->EVP_MAC_CTX_free(hasher->hmac);
    crypto->EVP_MD_CTX_free(hasher->digest);
    crypto->EVP_MD_free(hasher->sha256);
    EVP_MAC *mac = crypto->EVP_MAC_fetch(NULL, "HMAC", NULL);
    hasher->hmac = mac ? crypto->EVP_MAC_CTX_new(mac) : NULL;
    crypto->EVP_MAC_free(mac); /* the context holds its own reference */
    hasher->sha256 = crypto->EVP_MD_fetch(NULL, "SHA256", NULL);
    hasher->digest = crypto->EVP_MD_CTX_new();
    OSSL_PARAM digest[] = {
        crypto->OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, "SHA256", 0),
        crypto->OSSL_PARAM_construct_end()};
    if (!hasher->hmac || !hasher->sha256 || !hasher->digest ||
        !crypto->EVP_MAC_CTX_set_params(hasher->hmac, digest))
        luaL_error(L, "lambda.sigv4: OpenSSL offers no SHA-256 or HMAC");
    hasher->ready = 1;
    return NULL;
}
