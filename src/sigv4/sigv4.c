/* lambda.sigv4: AWS Signature Version 4, as an Authorization header (sign) or as query
 * parameters of a presigned URL (presign). This file assembles the canonical request, the
 * string to sign and the result from the options request.c reads; the canonical pieces come
 * from canonical.c and headers.c, the hashing from key.c.
 *
 * Malformed options (an unknown one included) are the calling program's mistake and raise an
 * error naming the field; a URL that cannot be parsed is answered with nil, "field 'url': ...",
 * "input", "url", and libcrypto that cannot be loaded (on the first signature) with nil,
 * message, "io". No message quotes the secret key. */
#include <lauxlib.h>
#include <string.h>

#include "common/luax.h"
#include "common/url.h"
#include "host/modules.h"
#include "sigv4/canonical.h"
#include "sigv4/headers.h"
#include "sigv4/key.h"
#include "sigv4/request.h"

static const char hex_digits[] = "0123456789abcdef";

static void to_hex(const unsigned char *bytes, size_t length, char *out) {
    for (size_t i = 0; i < length; i++) {
        out[2 * i] = hex_digits[bytes[i] >> 4];
        out[2 * i + 1] = hex_digits[bytes[i] & 15];
    }
    out[2 * length] = '\0';
}

static int openssl_failed(lua_State *L) {
    return luaL_error(L, "sigv4: SHA-256 or HMAC failed in OpenSSL");
}

static void hash_body(lua_State *L, struct sigv4_hasher *hasher, struct sigv4_request *r) {
    unsigned char digest[SIGV4_HASH_LENGTH];
    if (!sigv4_sha256(hasher, r->body, r->body_length, digest))
        openssl_failed(L);
    to_hex(digest, SIGV4_HASH_LENGTH, r->payload_hash);
}

/* ---- signing ---------------------------------------------------------------------------- */

/* Stack indices of the strings every result carries, and the signature. */
struct signature {
    int canonical_request, string_to_sign, signed_headers, credential_scope;
    char hex[HEX_LENGTH + 1];
};

static void set_common_fields(lua_State *L, int result, const struct sigv4_request *r,
                              const struct signature *s) {
    lua_pushvalue(L, s->canonical_request);
    lua_setfield(L, result, "canonical_request");
    lua_pushvalue(L, s->string_to_sign);
    lua_setfield(L, result, "string_to_sign");
    lua_pushvalue(L, s->signed_headers);
    lua_setfield(L, result, "signed_headers");
    lua_pushvalue(L, s->credential_scope);
    lua_setfield(L, result, "credential_scope");
    lua_pushstring(L, s->hex);
    lua_setfield(L, result, "signature");
    lua_pushstring(L, r->amz_date);
    lua_setfield(L, result, "amz_date");
}

/* Appends {name, value} to the array; the value is at stack index `value`. */
static void add_pair(lua_State *L, int array, const char *name, int value) {
    lua_createtable(L, 2, 0);
    lua_pushstring(L, name);
    lua_rawseti(L, -2, 1);
    lua_pushvalue(L, value);
    lua_rawseti(L, -2, 2);
    lua_rawseti(L, array, (lua_Integer)lua_rawlen(L, array) + 1);
}

static int push_signed_result(lua_State *L, const struct sigv4_request *r,
                              const struct signature *s) {
    lua_pushfstring(L, ALGORITHM " Credential=%s/%s, SignedHeaders=%s, Signature=%s", r->access_key,
                    lua_tostring(L, s->credential_scope), lua_tostring(L, s->signed_headers),
                    s->hex);
    int authorization = lua_gettop(L);
    lua_pushstring(L, r->amz_date);
    int amz_date = lua_gettop(L);
    lua_pushlstring(L, r->token ? r->token : "", r->token_length);
    int token = lua_gettop(L);
    lua_pushstring(L, r->payload_hash);
    int payload_hash = lua_gettop(L);

    lua_createtable(L, 0, 8);
    int result = lua_gettop(L);
    set_common_fields(L, result, r, s);
    lua_pushvalue(L, authorization);
    lua_setfield(L, result, "authorization");
    lua_createtable(L, 4, 0);
    int headers = lua_gettop(L);
    add_pair(L, headers, "Authorization", authorization);
    add_pair(L, headers, "X-Amz-Date", amz_date);
    if (r->token)
        add_pair(L, headers, "X-Amz-Security-Token", token);
    if (r->content_sha256_header)
        add_pair(L, headers, "X-Amz-Content-Sha256", payload_hash);
    lua_setfield(L, result, "headers");
    return 1;
}

/* The query parameters of a presigned URL, in the order the AWS SDKs write them; the session
 * token comes last, so that omit_session_token can leave it out of the signature. Pushes the
 * strings the parameters point to. */
static size_t push_presign_params(lua_State *L, const struct sigv4_request *r,
                                  const struct signature *s, struct sigv4_param params[6]) {
    const char *credential =
        lua_pushfstring(L, "%s/%s", r->access_key, lua_tostring(L, s->credential_scope));
    const char *expires = lua_pushfstring(L, "%I", (LUAI_UACINT)r->expires);
    size_t signed_length;
    const char *signed_list = lua_tolstring(L, s->signed_headers, &signed_length);
    const struct sigv4_param all[6] = {
        {"X-Amz-Algorithm", ALGORITHM, strlen(ALGORITHM)},
        {"X-Amz-Credential", credential, strlen(credential)},
        {"X-Amz-Date", r->amz_date, AMZ_DATE_LENGTH},
        {"X-Amz-SignedHeaders", signed_list, signed_length},
        {"X-Amz-Expires", expires, strlen(expires)},
        {"X-Amz-Security-Token", r->token, r->token_length},
    };
    memcpy(params, all, sizeof all);
    return r->token ? 6 : 5;
}

/* The URL as given (less any fragment) with the authentication parameters appended, encoded
 * as in the canonical query. */
static int push_presigned_result(lua_State *L, const struct sigv4_request *r,
                                 const struct signature *s, const struct sigv4_param *params,
                                 size_t param_count) {
    lua_createtable(L, 0, 7);
    int result = lua_gettop(L);
    set_common_fields(L, result, r, s);
    luaL_Buffer url;
    luaL_buffinit(L, &url);
    luaL_addlstring(&url, r->url, r->parts.before_query);
    luaL_addchar(&url, '?');
    if (r->parts.query_length > 0) {
        luaL_addlstring(&url, r->parts.query, r->parts.query_length);
        luaL_addchar(&url, '&');
    }
    for (size_t i = 0; i < param_count; i++) {
        luaL_addstring(&url, params[i].name);
        luaL_addchar(&url, '=');
        sigv4_add_encoded(&url, params[i].value, params[i].value_length);
        luaL_addchar(&url, '&');
    }
    luaL_addstring(&url, "X-Amz-Signature=");
    luaL_addstring(&url, s->hex);
    luaL_pushresult(&url);
    lua_setfield(L, result, "url");
    return 1;
}

/* Pushes method, URI, query, headers, signed header list and payload hash, one per line. */
static void push_canonical_request(lua_State *L, const struct sigv4_request *r,
                                   const int parts[4]) {
    luaL_Buffer buffer;
    luaL_buffinit(L, &buffer);
    luaL_addlstring(&buffer, r->method, r->method_length);
    for (int i = 0; i < 4; i++) {
        size_t length;
        const char *text = lua_tolstring(L, parts[i], &length);
        luaL_addchar(&buffer, '\n');
        luaL_addlstring(&buffer, text, length);
    }
    luaL_addchar(&buffer, '\n');
    luaL_addstring(&buffer, r->payload_hash);
    luaL_pushresult(&buffer);
}

/* Pushes the string to sign and computes the signature over it. */
static void sign_canonical_request(lua_State *L, struct sigv4_hasher *hasher,
                                   const struct sigv4_request *r, struct signature *s) {
    size_t length;
    const char *canonical_request = lua_tolstring(L, s->canonical_request, &length);
    unsigned char digest[SIGV4_HASH_LENGTH], key[SIGV4_HASH_LENGTH];
    if (!sigv4_sha256(hasher, canonical_request, length, digest))
        openssl_failed(L);
    to_hex(digest, SIGV4_HASH_LENGTH, s->hex);
    const char *string_to_sign = lua_pushfstring(L, ALGORITHM "\n%s\n%s\n%s", r->amz_date,
                                                 lua_tostring(L, s->credential_scope), s->hex);
    s->string_to_sign = lua_gettop(L);
    struct sigv4_scope scope = {r->secret,        r->amz_date,      r->region,        r->service,
                                r->secret_length, r->region_length, r->service_length};
    int ok = sigv4_signing_key(hasher, &scope, key) &&
             sigv4_hmac(hasher, key, sizeof key, string_to_sign, strlen(string_to_sign), digest);
    sigv4_cleanse(hasher, key, sizeof key);
    if (!ok)
        openssl_failed(L);
    to_hex(digest, SIGV4_HASH_LENGTH, s->hex);
}

static int sign_request(lua_State *L, int presign) {
    struct sigv4_hasher *hasher = lua_touserdata(L, lua_upvalueindex(1));
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_settop(L, 1);
    luaL_checkstack(L, 40, "sigv4: stack overflow");
    struct sigv4_request r;
    memset(&r, 0, sizeof r);
    r.presign = presign;
    sigv4_read_options(L, &r);
    const char *unavailable = sigv4_hasher_ready(L, hasher);
    if (unavailable)
        return luax_push_failure(L, "io", unavailable);
    if (r.body)
        hash_body(L, hasher, &r);
    const char *problem = url_parse(r.url, r.url_length, &r.parts);
    if (problem) {
        luax_push_failure(L, "input", lua_pushfstring(L, "field 'url': %s", problem));
        lua_pushliteral(L, "url");
        return 4;
    }
    /* With presign, date and token travel in the query instead of headers. */
    const struct sigv4_header_options header_options = {
        .headers = r.headers,
        .signed_headers = r.signed_headers,
        .url = &r.parts,
        .amz_date = presign ? NULL : r.amz_date,
        .session_token = presign ? NULL : r.token,
        .session_token_length = r.token_length,
        .content_sha256 = r.content_sha256_header ? r.payload_hash : NULL,
        .omit_session_token = r.omit_session_token,
    };
    struct signature s;
    sigv4_push_canonical_headers(L, &header_options);
    int canonical_headers = lua_gettop(L) - 1;
    s.signed_headers = lua_gettop(L);
    sigv4_push_canonical_uri(L, r.parts.path, r.parts.path_length, r.normalize, r.double_encode);
    int canonical_uri = lua_gettop(L);
    char date[9];
    memcpy(date, r.amz_date, 8);
    date[8] = '\0';
    lua_pushfstring(L, "%s/%s/%s/aws4_request", date, r.region, r.service);
    s.credential_scope = lua_gettop(L);

    struct sigv4_param params[6];
    size_t param_count = presign ? push_presign_params(L, &r, &s, params) : 0;
    /* A token added after signing is in the URL but not in the signed query. */
    size_t signed_params = param_count == 6 && r.omit_session_token ? 5 : param_count;
    sigv4_push_canonical_query(L, r.parts.query, r.parts.query_length, params, signed_params);
    int canonical_query = lua_gettop(L);

    const int parts[4] = {canonical_uri, canonical_query, canonical_headers, s.signed_headers};
    push_canonical_request(L, &r, parts);
    s.canonical_request = lua_gettop(L);
    sign_canonical_request(L, hasher, &r, &s);
    if (presign)
        return push_presigned_result(L, &r, &s, params, param_count);
    return push_signed_result(L, &r, &s);
}

/* sign(opts) -> {headers, authorization, signature, canonical_request, string_to_sign,
 * signed_headers, credential_scope, amz_date} | nil, message, kind[, "url"] */
static int sigv4_sign(lua_State *L) {
    return sign_request(L, 0);
}

/* presign(opts) -> {url, signature, canonical_request, string_to_sign, signed_headers,
 * credential_scope, amz_date} | nil, message, kind[, "url"] */
static int sigv4_presign(lua_State *L) {
    return sign_request(L, 1);
}

/* canonical_uri(path [, normalize = true [, double_encode = true]]) -> the path as the
 * canonical request has it */
static int sigv4_canonical_uri(lua_State *L) {
    size_t length;
    const char *path = luaL_checklstring(L, 1, &length);
    int normalize = lua_isnoneornil(L, 2) ? 1 : lua_toboolean(L, 2);
    int double_encode = lua_isnoneornil(L, 3) ? 1 : lua_toboolean(L, 3);
    sigv4_push_canonical_uri(L, path, length, normalize, double_encode);
    return 1;
}

/* canonical_query(query) -> the query (as on the wire, without '?') in canonical form */
static int sigv4_canonical_query(lua_State *L) {
    size_t length;
    const char *query = luaL_checklstring(L, 1, &length);
    sigv4_push_canonical_query(L, query, length, NULL, 0);
    return 1;
}

int luaopen_lambda_sigv4(lua_State *L) {
    static const luaL_Reg functions[] = {
        {"canonical_uri", sigv4_canonical_uri},
        {"canonical_query", sigv4_canonical_query},
        {NULL, NULL},
    };
    /* These share one hasher: its OpenSSL objects and its cache of signing keys. It loads
     * libcrypto on the first signature, not here. */
    static const luaL_Reg signing_functions[] = {
        {"sign", sigv4_sign},
        {"presign", sigv4_presign},
        {NULL, NULL},
    };
    luaL_newlib(L, functions);
    sigv4_push_hasher(L);
    luaL_setfuncs(L, signing_functions, 1);
    return 1;
}
