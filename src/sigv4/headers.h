/* The header part of a Signature Version 4 canonical request: the caller's headers plus those
 * the signer adds, lower-cased, sorted, trimmed, repeats joined. */
#ifndef CLC_SIGV4_HEADERS_H
#define CLC_SIGV4_HEADERS_H

#include <lua.h>
#include <stddef.h>

#include "common/url.h"

struct sigv4_header_options {
    int headers;           /* stack index of the caller's headers (map or {name, value} array), 0 */
    int signed_headers;    /* stack index of the names to sign, 0 for all */
    const struct url *url; /* gives Host when the caller's headers have none */
    /* Headers the signer adds; NULL when it does not add them. */
    const char *amz_date, *session_token, *content_sha256;
    size_t session_token_length;
    int omit_session_token; /* add X-Amz-Security-Token without signing it */
};

/* Pushes the canonical headers ("name:value\n" per signed name) and the signed header list
 * ("host;x-amz-date"). Raises an error, naming the field, on malformed headers. Argument 1 is
 * the options table the errors refer to. */
void sigv4_push_canonical_headers(lua_State *L, const struct sigv4_header_options *options);

#endif
