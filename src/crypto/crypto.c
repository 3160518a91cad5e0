/* lambda.crypto: the few primitives the Lua side needs from OpenSSL (digests for cache file
 * names, HMAC, base64 for headers such as X-Amz-Client-Context and X-Amz-Log-Result, random
 * bytes for jitter and session names). Signing requests is lambda.sigv4's job.
 *
 * libcrypto is loaded by the first function that calls it (common/openssl.h), not when the
 * module is required: the commands require it whether or not they use it. When it cannot be
 * loaded, random_bytes answers nil, message, "io" as for its other failures (this machine's,
 * not the caller's); the functions that have no failure result raise that message, as they
 * raise when OpenSSL fails. */
#include <lauxlib.h>
#include <limits.h>
#include <stdint.h>
#include <string.h>

#include "common/crc32.h"
#include "common/luax.h"
#include "common/openssl.h"
#include "host/modules.h"

/* random_bytes serves jitter and identifiers; a larger request is a caller's mistake. */
#define MAX_RANDOM_BYTES 65536

/* EVP_EncodeBlock takes an int length; whole groups of 3 bytes keep the chunks seamless. */
#define BASE64_CHUNK (3 * 1024 * 1024)

static const char hex_digits[] = "0123456789abcdef";

/* libcrypto's functions; raises "cannot load libcrypto: ..." when it cannot be loaded. */
static const struct openssl_crypto *libcrypto(lua_State *L) {
    const char *error;
    const struct openssl_crypto *crypto = openssl_crypto(&error);
    if (!crypto)
        luaL_error(L, "%s", error);
    return crypto;
}

static void push_hex(lua_State *L, const unsigned char *bytes, size_t length) {
    luaL_Buffer buffer;
    char *out = luaL_buffinitsize(L, &buffer, 2 * length);
    for (size_t i = 0; i < length; i++) {
        out[2 * i] = hex_digits[bytes[i] >> 4];
        out[2 * i + 1] = hex_digits[bytes[i] & 15];
    }
    luaL_pushresultsize(&buffer, 2 * length);
}

static int push_digest_hex(lua_State *L, const struct openssl_crypto *crypto, const EVP_MD *md) {
    size_t length;
    const char *data = lua_tolstring(L, 1, &length);
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int digest_length;
    if (!crypto->EVP_Digest(data, length, digest, &digest_length, md, NULL))
        return luaL_error(L, "%s digest failed in OpenSSL", crypto->EVP_MD_get0_name(md));
    push_hex(L, digest, digest_length);
    return 1;
}

/* sha256_hex(data) -> 64 lower-case hex digits */
static int crypto_sha256_hex(lua_State *L) {
    luaL_checkstring(L, 1);
    const struct openssl_crypto *crypto = libcrypto(L);
    return push_digest_hex(L, crypto, crypto->EVP_sha256());
}

/* sha1_hex(data) -> 40 lower-case hex digits */
static int crypto_sha1_hex(lua_State *L) {
    luaL_checkstring(L, 1);
    const struct openssl_crypto *crypto = libcrypto(L);
    return push_digest_hex(L, crypto, crypto->EVP_sha1());
}

/* hmac_sha256(key, data) -> the 32 raw bytes of the MAC */
static int crypto_hmac_sha256(lua_State *L) {
    size_t key_length, data_length;
    const char *key = luaL_checklstring(L, 1, &key_length);
    const char *data = luaL_checklstring(L, 2, &data_length);
    luaL_argcheck(L, key_length <= INT_MAX, 1, "key too long");
    const struct openssl_crypto *crypto = libcrypto(L);
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int mac_length;
    /* OpenSSL's HMAC interfaces read a NULL key as "keep the previous key"; an empty key must
     * be passed as a real (empty) buffer. */
    static const unsigned char empty_key[1] = {0};
    const void *key_bytes = key_length ? (const void *)key : (const void *)empty_key;
    if (!crypto->HMAC(crypto->EVP_sha256(), key_bytes, (int)key_length, (const unsigned char *)data,
                      data_length, mac, &mac_length))
        return luaL_error(L, "HMAC-SHA256 failed in OpenSSL");
    lua_pushlstring(L, (const char *)mac, mac_length);
    return 1;
}

/* base64_encode(data) -> standard alphabet, padded, no line breaks */
static int crypto_base64_encode(lua_State *L) {
    size_t length;
    const unsigned char *data = (const unsigned char *)luaL_checklstring(L, 1, &length);
    const struct openssl_crypto *crypto = libcrypto(L);
    luaL_Buffer buffer;
    luaL_buffinit(L, &buffer);
    while (length > 0) {
        size_t chunk = length < BASE64_CHUNK ? length : BASE64_CHUNK;
        /* + 1: EVP_EncodeBlock writes a terminating NUL that is not kept. */
        char *out = luaL_prepbuffsize(&buffer, 4 * ((chunk + 2) / 3) + 1);
        int written = crypto->EVP_EncodeBlock((unsigned char *)out, data, (int)chunk);
        luaL_addsize(&buffer, (size_t)written);
        data += chunk;
        length -= chunk;
    }
    luaL_pushresult(&buffer);
    return 1;
}

/* The 6-bit value of a base64 character, or -1. */
static int base64_value(unsigned char c) {
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

/* Decodes text strictly (RFC 4648 section 3: no whitespace, '=' only as the final padding,
 * zero bits under the padding). Returns NULL, or why the text is not base64; the decoded bytes
 * are left in the buffer either way. */
static const char *decode_base64(luaL_Buffer *buffer, const unsigned char *text, size_t length,
                                 size_t *offset) {
    if (length % 4 != 0) {
        *offset = length;
        return "length is not a multiple of 4";
    }
    for (size_t i = 0; i < length; i += 4) {
        int values[4];
        int padding = 0;
        for (int j = 0; j < 4; j++) {
            unsigned char c = text[i + j];
            *offset = i + j;
            if (c == '=' && i + 4 == length && j >= 2) {
                values[j] = 0;
                padding++;
                continue;
            }
            if (padding > 0)
                return "padding '=' before the end";
            values[j] = base64_value(c);
            if (values[j] < 0)
                return c == '=' ? "padding '=' before the end" : "invalid character";
        }
        unsigned long group = (unsigned long)values[0] << 18 | (unsigned long)values[1] << 12 |
                              (unsigned long)values[2] << 6 | (unsigned long)values[3];
        /* A canonical encoder leaves the bits under the padding zero. */
        if ((padding == 1 && (group & 0xff) != 0) || (padding == 2 && (group & 0xffff) != 0)) {
            *offset = i + 3 - (size_t)padding;
            return "non-zero bits before the padding";
        }
        luaL_addchar(buffer, (char)(group >> 16));
        if (padding < 2)
            luaL_addchar(buffer, (char)(group >> 8 & 0xff));
        if (padding < 1)
            luaL_addchar(buffer, (char)(group & 0xff));
    }
    return NULL;
}

/* base64_decode(text) -> bytes | nil, message, "input", offset (as lambda.json's decode) */
static int crypto_base64_decode(lua_State *L) {
    size_t length, offset = 0;
    const unsigned char *text = (const unsigned char *)luaL_checklstring(L, 1, &length);
    luaL_Buffer buffer;
    luaL_buffinitsize(L, &buffer, length / 4 * 3);
    const char *error = decode_base64(&buffer, text, length, &offset);
    luaL_pushresult(&buffer);
    if (error) {
        lua_pushfstring(L, "invalid base64 at offset %I: %s", (LUAI_UACINT)offset, error);
        luax_push_failure(L, "input", lua_tostring(L, -1));
        lua_pushinteger(L, (lua_Integer)offset);
        return 4;
    }
    return 1;
}

/* random_bytes(n) -> n bytes from OpenSSL's CSPRNG | nil, message, "io" */
static int crypto_random_bytes(lua_State *L) {
    lua_Integer count = luaL_checkinteger(L, 1);
    luaL_argcheck(L, count >= 0 && count <= MAX_RANDOM_BYTES, 1, "must be between 0 and 65536");
    const char *error;
    const struct openssl_crypto *crypto = openssl_crypto(&error);
    if (!crypto)
        return luax_push_failure(L, "io", error);
    luaL_Buffer buffer;
    unsigned char *out = (unsigned char *)luaL_buffinitsize(L, &buffer, (size_t)count);
    if (count > 0 && crypto->RAND_bytes(out, (int)count) != 1)
        return luax_push_failure(L, "io", "random_bytes: OpenSSL's random generator failed");
    luaL_pushresultsize(&buffer, (size_t)count);
    return 1;
}

/* constant_time_equal(a, b) -> boolean; the time taken depends on the lengths only */
static int crypto_constant_time_equal(lua_State *L) {
    size_t a_length, b_length;
    const char *a = luaL_checklstring(L, 1, &a_length);
    const char *b = luaL_checklstring(L, 2, &b_length);
    const struct openssl_crypto *crypto = libcrypto(L);
    lua_pushboolean(L, a_length == b_length && crypto->CRYPTO_memcmp(a, b, a_length) == 0);
    return 1;
}

/* crc32(data [, previous]) -> integer; previous continues a running CRC over split data (the
 * zlib/IEEE CRC-32 of event-stream frames; OpenSSL has none, src/common/crc32.c) */
static int crypto_crc32(lua_State *L) {
    size_t length;
    const unsigned char *data = (const unsigned char *)luaL_checklstring(L, 1, &length);
    lua_Integer previous = luaL_optinteger(L, 2, 0);
    luaL_argcheck(L, previous >= 0 && previous <= 0xFFFFFFFF, 2, "must be a CRC-32 value");
    lua_pushinteger(L, (lua_Integer)crc32_ieee((uint32_t)previous, data, length));
    return 1;
}

int luaopen_lambda_crypto(lua_State *L) {
    static const luaL_Reg functions[] = {
        {"sha256_hex", crypto_sha256_hex},
        {"sha1_hex", crypto_sha1_hex},
        {"hmac_sha256", crypto_hmac_sha256},
        {"base64_encode", crypto_base64_encode},
        {"base64_decode", crypto_base64_decode},
        {"random_bytes", crypto_random_bytes},
        {"constant_time_equal", crypto_constant_time_equal},
        {"crc32", crypto_crc32},
        {NULL, NULL},
    };
    luaL_newlib(L, functions);
    return 1;
}
