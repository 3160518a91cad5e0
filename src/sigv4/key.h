/* The hashing side of Signature Version 4: SHA-256, HMAC-SHA256 and the derived signing key,
 * on OpenSSL objects fetched once per Lua state. */
#ifndef CLC_SIGV4_KEY_H
#define CLC_SIGV4_KEY_H

#include <lua.h>
#include <stddef.h>

#define SIGV4_HASH_LENGTH 32
#define SIGV4_MAX_SECRET_LENGTH 1024

struct sigv4_hasher;

/* What a signing key is derived from. `date` is YYYYMMDD (8 bytes, not terminated). */
struct sigv4_scope {
    const char *secret, *date, *region, *service;
    size_t secret_length, region_length, service_length;
};

/* Pushes a new hasher (a userdata that frees its OpenSSL objects when collected). It makes
 * nothing yet: call sigv4_hasher_ready before each use. */
struct sigv4_hasher *sigv4_push_hasher(lua_State *L);

/* Loads libcrypto and makes the hasher's objects, the first time. Returns NULL when the hasher
 * is ready, or a message when libcrypto cannot be loaded ("cannot load libcrypto: ..."); raises
 * an error when OpenSSL lacks SHA-256 or HMAC. */
const char *sigv4_hasher_ready(lua_State *L, struct sigv4_hasher *hasher);

/* On a ready hasher: each returns 1, or 0 when OpenSSL fails. */
int sigv4_sha256(struct sigv4_hasher *hasher, const void *data, size_t length,
                 unsigned char out[SIGV4_HASH_LENGTH]);
int sigv4_hmac(struct sigv4_hasher *hasher, const void *key, size_t key_length, const void *data,
               size_t length, unsigned char out[SIGV4_HASH_LENGTH]);
/* The signing key of a scope; the secret must be at most SIGV4_MAX_SECRET_LENGTH bytes. */
int sigv4_signing_key(struct sigv4_hasher *hasher, const struct sigv4_scope *scope,
                      unsigned char key[SIGV4_HASH_LENGTH]);
/* Overwrites data (a key) in a way the compiler cannot leave out. */
void sigv4_cleanse(struct sigv4_hasher *hasher, void *data, size_t length);

#endif
