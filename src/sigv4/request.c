/* Reading lambda.sigv4's options (request.h). Malformed options, an unknown one included,
 * raise an error naming the field. */
#define _POSIX_C_SOURCE 200809L /* gmtime_r */

#include "sigv4/request.h"

#include <lauxlib.h>
#include <string.h>
#include <time.h>

#include "common/ascii.h"
#include "common/luax.h"

/* ---- options ---------------------------------------------------------------------------- */

static int bad_field(lua_State *L, const char *field, const char *expected) {
    return luaL_argerror(
        L, 1,
        lua_pushfstring(L, "field '%s' must be %s, got %s", field, expected, luaL_typename(L, -1)));
}

/* Pushes table[key] and returns its text, or NULL when it is nil and not required. */
static const char *string_field(lua_State *L, int table, const char *key, const char *field,
                                size_t *length, int required) {
    int type = lua_getfield(L, table, key);
    if (type == LUA_TNIL && !required)
        return NULL;
    if (type != LUA_TSTRING)
        bad_field(L, field, "a string");
    return lua_tolstring(L, -1, length);
}

static int boolean_field(lua_State *L, const char *field, int default_value) {
    int type = lua_getfield(L, 1, field);
    if (type != LUA_TNIL && type != LUA_TBOOLEAN)
        bad_field(L, field, "a boolean");
    int value = type == LUA_TNIL ? default_value : lua_toboolean(L, -1);
    lua_pop(L, 1);
    return value;
}

/* Region, service and access key id go into "Credential=KEY/DATE/REGION/SERVICE/...". */
static int is_scope_part(const char *text, size_t length) {
    if (length == 0)
        return 0;
    for (size_t i = 0; i < length; i++) {
        unsigned char c = (unsigned char)text[i];
        if (c <= ' ' || c == 0x7f || c == '/' || c == ',')
            return 0;
    }
    return 1;
}

static int is_digits(const char *text, size_t length) {
    for (size_t i = 0; i < length; i++) {
        if (text[i] < '0' || text[i] > '9')
            return 0;
    }
    return 1;
}

static int number_at(const char *text, size_t length) {
    int value = 0;
    for (size_t i = 0; i < length; i++)
        value = value * 10 + (text[i] - '0');
    return value;
}

static int is_amz_date(const char *text, size_t length) {
    if (length != AMZ_DATE_LENGTH || !is_digits(text, 8) || text[8] != 'T' ||
        !is_digits(text + 9, 6) || text[15] != 'Z')
        return 0;
    int month = number_at(text + 4, 2), day = number_at(text + 6, 2);
    return month >= 1 && month <= 12 && day >= 1 && day <= 31 && number_at(text + 9, 2) < 24 &&
           number_at(text + 11, 2) < 60 && number_at(text + 13, 2) <= 60;
}

/* opts.time: epoch seconds or "YYYYMMDDTHHMMSSZ"; the clock when absent. */
static void read_time(lua_State *L, struct sigv4_request *r) {
    static const char expected[] = "integer epoch seconds or a \"YYYYMMDDTHHMMSSZ\" string";
    int type = lua_getfield(L, 1, "time");
    time_t seconds;
    if (type == LUA_TNIL) {
        seconds = time(NULL);
    } else if (type == LUA_TSTRING) {
        size_t length;
        const char *text = lua_tolstring(L, -1, &length);
        if (!is_amz_date(text, length))
            bad_field(L, "time", expected);
        memcpy(r->amz_date, text, AMZ_DATE_LENGTH + 1);
        lua_pop(L, 1);
        return;
    } else {
        int is_integer; /* as with luaL_checkinteger, 3.0 counts, 3.5 and "3" do not */
        lua_Integer value = lua_tointegerx(L, -1, &is_integer);
        if (type != LUA_TNUMBER || !is_integer || value < 0 || value > LAST_SECOND)
            bad_field(L, "time", expected);
        seconds = (time_t)value;
    }
    struct tm utc;
    if (!gmtime_r(&seconds, &utc) ||
        strftime(r->amz_date, sizeof r->amz_date, "%Y%m%dT%H%M%SZ", &utc) != AMZ_DATE_LENGTH)
        luaL_error(L, "sigv4: cannot format the time");
    lua_pop(L, 1);
}

/* opts.body or opts.payload_hash: the last line of the canonical request. A body is hashed
 * later, by hash_body, once the options are known to be right and libcrypto is loaded. */
static void read_payload(lua_State *L, struct sigv4_request *r) {
    int body_type = lua_getfield(L, 1, "body");
    int hash_type = lua_getfield(L, 1, "payload_hash");
    if (body_type != LUA_TNIL && hash_type != LUA_TNIL)
        luaL_argerror(L, 1, "fields 'body' and 'payload_hash' exclude each other");
    if (hash_type != LUA_TNIL) {
        size_t length;
        const char *hash = lua_tolstring(L, -1, &length);
        int valid = hash_type == LUA_TSTRING &&
                    ((length == HEX_LENGTH && strspn(hash, "0123456789abcdef") == HEX_LENGTH) ||
                     (length == strlen(UNSIGNED_PAYLOAD) && strcmp(hash, UNSIGNED_PAYLOAD) == 0));
        if (!valid)
            bad_field(L, "payload_hash", "64 lower-case hex digits or \"" UNSIGNED_PAYLOAD "\"");
        memcpy(r->payload_hash, hash, length + 1);
    } else {
        lua_pop(L, 1); /* the body, or nil, is on top now */
        if (body_type != LUA_TNIL && body_type != LUA_TSTRING)
            bad_field(L, "body", "a string");
        /* The body stays referenced by the options table, argument 1. */
        r->body = body_type == LUA_TNIL ? "" : lua_tolstring(L, -1, &r->body_length);
        lua_pushnil(L); /* keeps the count for the pop below */
    }
    lua_pop(L, 2);
}

static void read_credentials(lua_State *L, struct sigv4_request *r) {
    if (lua_getfield(L, 1, "credentials") != LUA_TTABLE)
        bad_field(L, "credentials", "a table");
    int credentials = lua_gettop(L);
    r->access_key = string_field(L, credentials, "access_key_id", "credentials.access_key_id",
                                 &r->access_key_length, 1);
    if (!is_scope_part(r->access_key, r->access_key_length))
        bad_field(L, "credentials.access_key_id", "a non-empty string without '/', ',' or spaces");
    r->secret = string_field(L, credentials, "secret_access_key", "credentials.secret_access_key",
                             &r->secret_length, 1);
    if (r->secret_length == 0 || r->secret_length > SIGV4_MAX_SECRET_LENGTH)
        bad_field(L, "credentials.secret_access_key", "a non-empty string of at most 1024 bytes");
    r->token = string_field(L, credentials, "session_token", "credentials.session_token",
                            &r->token_length, 0);
    if (r->token && r->token_length == 0) /* an empty AWS_SESSION_TOKEN means none */
        r->token = NULL;
}

/* Reads every option, leaving the strings it points to on the stack. */
void sigv4_read_options(lua_State *L, struct sigv4_request *r) {
    /* The credentials table is not checked so: lambda.aws's carry more (expiration, ...). */
    static const char *const known[] = {
        "method",
        "url",
        "service",
        "region",
        "credentials",
        "time",
        "body",
        "payload_hash",
        "normalize_path",
        "double_encode",
        "omit_session_token",
        "content_sha256_header",
        "expires",
        "headers",
        "signed_headers",
        NULL,
    };
    luax_check_fields(L, 1, 1, "", known);
    r->method = string_field(L, 1, "method", "method", &r->method_length, 1);
    if (!ascii_is_token(r->method, r->method_length))
        bad_field(L, "method", "an HTTP method");
    r->url = string_field(L, 1, "url", "url", &r->url_length, 1);
    r->service = string_field(L, 1, "service", "service", &r->service_length, 1);
    if (!is_scope_part(r->service, r->service_length))
        bad_field(L, "service", "a non-empty string without '/', ',' or spaces");
    r->region = string_field(L, 1, "region", "region", &r->region_length, 1);
    if (!is_scope_part(r->region, r->region_length))
        bad_field(L, "region", "a non-empty string without '/', ',' or spaces");
    read_credentials(L, r);
    read_time(L, r);
    read_payload(L, r);
    r->normalize = boolean_field(L, "normalize_path", 1);
    r->double_encode = boolean_field(L, "double_encode", 1);
    r->omit_session_token = boolean_field(L, "omit_session_token", 0);
    r->content_sha256_header = boolean_field(L, "content_sha256_header", 0);
    if (r->presign && r->content_sha256_header)
        luaL_argerror(L, 1, "field 'content_sha256_header' does not apply to presign");
    if (r->presign) {
        int is_integer = 1;
        int type = lua_getfield(L, 1, "expires");
        r->expires = type == LUA_TNIL ? DEFAULT_EXPIRES : lua_tointegerx(L, -1, &is_integer);
        if ((type != LUA_TNIL && type != LUA_TNUMBER) || !is_integer || r->expires < 1 ||
            r->expires > MAX_EXPIRES)
            bad_field(L, "expires", "an integer number of seconds from 1 to 604800");
        lua_pop(L, 1);
    }
    int type = lua_getfield(L, 1, "headers");
    if (type != LUA_TNIL && type != LUA_TTABLE)
        bad_field(L, "headers", "a table");
    r->headers = type == LUA_TNIL ? 0 : lua_gettop(L);
    type = lua_getfield(L, 1, "signed_headers");
    if (type != LUA_TNIL && type != LUA_TTABLE)
        bad_field(L, "signed_headers", "an array of header names");
    r->signed_headers = type == LUA_TNIL ? 0 : lua_gettop(L);
}
