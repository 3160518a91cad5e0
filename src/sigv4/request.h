/* The options of lambda.sigv4's sign and presign, read and checked into one struct (the rest
 * of the module, sigv4.c, signs from it). */
#ifndef CLC_SIGV4_REQUEST_H
#define CLC_SIGV4_REQUEST_H

#include <lua.h>
#include <stddef.h>

#include "common/url.h"
#include "sigv4/key.h"

#define ALGORITHM "AWS4-HMAC-SHA256"
#define UNSIGNED_PAYLOAD "UNSIGNED-PAYLOAD"
#define HEX_LENGTH (2 * SIGV4_HASH_LENGTH)
#define AMZ_DATE_LENGTH 16         /* YYYYMMDDTHHMMSSZ */
#define DEFAULT_EXPIRES 900        /* the AWS SDKs' default for presigned URLs */
#define MAX_EXPIRES 604800         /* seven days, the longest AWS accepts */
#define LAST_SECOND 253402300799LL /* 9999-12-31T23:59:59Z: the year must keep four digits */

/* The options of one call; strings point into values kept on the Lua stack. */
struct sigv4_request {
    int presign;
    const char *method, *url, *service, *region, *access_key, *secret, *token;
    size_t method_length, url_length, service_length, region_length, access_key_length,
        secret_length, token_length;
    struct url parts;
    char amz_date[AMZ_DATE_LENGTH + 1];
    char payload_hash[HEX_LENGTH + 1]; /* or UNSIGNED-PAYLOAD */
    const char *body;                  /* to hash into payload_hash, or NULL */
    size_t body_length;
    int normalize, double_encode, content_sha256_header, omit_session_token;
    lua_Integer expires;
    int headers;        /* stack index of opts.headers, 0 when absent */
    int signed_headers; /* stack index of opts.signed_headers, 0 when absent */
};

/* Reads every option (presign set beforehand), leaving the strings it points to on the stack;
 * raises, naming the field, on a malformed one. body is left for the caller to hash. */
void sigv4_read_options(lua_State *L, struct sigv4_request *r);

#endif
