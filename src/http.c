/* lambda.http: one HTTP request per call, on a fresh libcurl easy handle.
 *
 * Every C allocation of a request (the easy handle, the header list, the receive buffers)
 * lives in a to-be-closed userdata, so a Lua error raised at any point, while reading the
 * options or while building the result, frees it. Nothing raises while curl_easy_perform
 * runs: the callbacks only append to malloc'd buffers and report failure to curl. */
#include <curl/curl.h>
#include <errno.h>
#include <lauxlib.h>
#include <limits.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "modules.h"

#define REQUEST_METATABLE "lambda.http.request"
#define SHARE_METATABLE "lambda.http.share"

/* Always contacted directly, even when http_proxy is set: loopback, and the instance-metadata
 * and container-credential addresses, whose answers carry credentials a proxy must not see. */
#define LOOPBACK_HOSTS                                                                             \
    "localhost,127.0.0.1,::1,169.254.169.254,169.254.170.2,169.254.170.23,fd00:ec2::254,"          \
    "fd00:ec2::23"

struct bytes {
    char *data;
    size_t length;
    size_t capacity;
    bool failed; /* an allocation failed: the transfer was aborted */
};

struct request {
    CURL *easy;
    struct curl_slist *headers;
    struct bytes body;
    struct bytes head;      /* the final response's header lines (see receive_header) */
    bool head_complete;     /* the blank line ending the head was seen (later lines: trailers) */
    struct bytes sent_head; /* with trace: what curl sent */
    bool setopt_failed;
    char error[CURL_ERROR_SIZE];
};

/* The caller's choices that decide how failures are worded. */
struct limits {
    double timeout;         /* seconds, 0 = none */
    double connect_timeout; /* seconds, 0 = curl's default */
};

static bool bytes_append(struct bytes *b, const char *data, size_t length) {
    if (b->failed)
        return false;
    if (length > b->capacity - b->length) {
        size_t capacity = b->capacity ? b->capacity : 16384;
        while (capacity - b->length < length) {
            if (capacity > SIZE_MAX / 2) {
                b->failed = true;
                return false;
            }
            capacity *= 2;
        }
        char *data_grown = realloc(b->data, capacity);
        if (!data_grown) {
            b->failed = true;
            return false;
        }
        b->data = data_grown;
        b->capacity = capacity;
    }
    memcpy(b->data + b->length, data, length);
    b->length += length;
    return true;
}

static void bytes_free(struct bytes *b) {
    free(b->data);
    *b = (struct bytes){0};
}

static int request_release(lua_State *L) {
    struct request *r = luaL_checkudata(L, 1, REQUEST_METATABLE);
    if (r->easy)
        curl_easy_cleanup(r->easy);
    r->easy = NULL;
    curl_slist_free_all(r->headers);
    r->headers = NULL;
    bytes_free(&r->body);
    bytes_free(&r->head);
    bytes_free(&r->sent_head);
    return 0;
}

/* ---- curl callbacks: append only, never raise ---- */

static size_t receive_body(char *data, size_t size, size_t count, void *userdata) {
    struct request *r = userdata;
    return bytes_append(&r->body, data, size * count) ? size * count : 0;
}

static bool is_blank(char c) {
    return c == ' ' || c == '\t';
}

/* Keeps the header lines of the final response only, each ending in "\n": a status line
 * (after a 1xx answer) starts over, and a folded line (obsolete, but still legal to receive)
 * is joined to the previous line with one space, because curl passes it on separately. */
static size_t receive_header(char *line, size_t size, size_t count, void *userdata) {
    struct request *r = userdata;
    size_t length = size * count;
    if (length >= 5 && memcmp(line, "HTTP/", 5) == 0) {
        r->head.length = 0;
        r->head_complete = false;
        return length;
    }
    size_t content = length;
    while (content > 0 && (line[content - 1] == '\n' || line[content - 1] == '\r'))
        content--;
    if (content == 0)
        r->head_complete = true;
    if (r->head_complete || content == 0)
        return length;
    size_t start = 0;
    if (is_blank(line[0])) {
        if (r->head.length == 0)
            return length; /* nothing to continue */
        r->head.length--;  /* reopen the previous line */
        while (start < content && is_blank(line[start]))
            start++;
        if (!bytes_append(&r->head, " ", 1))
            return 0;
    }
    if (!bytes_append(&r->head, line + start, content - start) || !bytes_append(&r->head, "\n", 1))
        return 0;
    return length;
}

static int trace_sent_head(CURL *easy, curl_infotype type, char *data, size_t size,
                           void *userdata) {
    (void)easy;
    struct request *r = userdata;
    if (type == CURLINFO_HEADER_OUT)
        bytes_append(&r->sent_head, data, size);
    return 0;
}

/* ---- reading the options table (argument 1) ---- */

static int bad_field(lua_State *L, const char *field, const char *expected) {
    return luaL_argerror(
        L, 1,
        lua_pushfstring(L, "field '%s' must be %s, got %s", field, expected, luaL_typename(L, -1)));
}

/* Pushes opts[field]; returns its string (NULL when nil), which stays valid while it is on
 * the stack. */
static const char *string_field(lua_State *L, const char *field, size_t *length) {
    int type = lua_getfield(L, 1, field);
    if (type == LUA_TNIL)
        return NULL;
    if (type != LUA_TSTRING)
        bad_field(L, field, "a string");
    return lua_tolstring(L, -1, length);
}

/* opts[field] as a number of seconds; 0 when nil. */
static double seconds_field(lua_State *L, const char *field) {
    int type = lua_getfield(L, 1, field);
    double seconds = 0;
    if (type != LUA_TNIL) {
        int is_number;
        seconds = (double)lua_tonumberx(L, -1, &is_number);
        if (!is_number)
            bad_field(L, field, "a number of seconds");
        if (!(seconds >= 0) || isinf(seconds))
            luaL_argerror(L, 1, lua_pushfstring(L, "field '%s' must be 0 or more", field));
    }
    lua_pop(L, 1);
    return seconds;
}

/* Whole milliseconds, rounded up so that a tiny timeout does not become curl's "none". */
static long milliseconds(double seconds) {
    double ms = ceil(seconds * 1000.0);
    return ms > (double)LONG_MAX ? LONG_MAX : (long)ms;
}

/* RFC 9110 token: what a method or a header name may consist of. */
static bool is_token(const char *text, size_t length) {
    static const char extra[] = "!#$%&'*+-.^_`|~";
    if (length == 0)
        return false;
    for (size_t i = 0; i < length; i++) {
        unsigned char c = (unsigned char)text[i];
        bool alnum = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
        if (!alnum && (c == '\0' || !strchr(extra, c)))
            return false;
    }
    return true;
}

static bool same_name(const char *a, const char *b) {
    for (; *a && *b; a++, b++) {
        char ca = (*a >= 'A' && *a <= 'Z') ? (char)(*a - 'A' + 'a') : *a;
        char cb = (*b >= 'A' && *b <= 'Z') ? (char)(*b - 'A' + 'a') : *b;
        if (ca != cb)
            return false;
    }
    return *a == *b;
}

struct caller_headers {
    bool content_type;
    bool expect;
};

static void append_header_line(lua_State *L, struct request *r, const char *line) {
    struct curl_slist *longer = curl_slist_append(r->headers, line);
    if (!longer)
        luaL_error(L, "not enough memory");
    r->headers = longer;
}

/* Appends "name: value" (the name and the value are at the given stack indices). */
static void add_header(lua_State *L, struct request *r, int name_index, int value_index,
                       struct caller_headers *given) {
    size_t name_length, value_length;
    if (lua_type(L, name_index) != LUA_TSTRING)
        luaL_argerror(L, 1,
                      lua_pushfstring(L, "header name must be a string, got %s",
                                      luaL_typename(L, name_index)));
    const char *name = lua_tolstring(L, name_index, &name_length);
    if (!is_token(name, name_length))
        luaL_argerror(L, 1, lua_pushfstring(L, "invalid header name '%s'", name));
    if (!lua_isstring(L, value_index))
        luaL_argerror(L, 1,
                      lua_pushfstring(L, "header '%s' must have a string value, got %s", name,
                                      luaL_typename(L, value_index)));
    const char *value = lua_tolstring(L, value_index, &value_length);
    if (strcspn(value, "\r\n") != value_length)
        luaL_argerror(L, 1,
                      lua_pushfstring(L, "header '%s' has a line break or NUL in its value", name));
    given->content_type = given->content_type || same_name(name, "Content-Type");
    given->expect = given->expect || same_name(name, "Expect");
    /* curl reads "Name:" as "remove this header"; "Name;" is its spelling of an empty value. */
    const char *line =
        value_length ? lua_pushfstring(L, "%s: %s", name, value) : lua_pushfstring(L, "%s;", name);
    append_header_line(L, r, line);
    lua_pop(L, 1);
}

/* opts.headers: a map name -> value, or an array of {name, value} that keeps order and
 * repeats. */
static void set_headers(lua_State *L, struct request *r) {
    struct caller_headers given = {false, false};
    int type = lua_getfield(L, 1, "headers");
    if (type == LUA_TTABLE) {
        int headers = lua_gettop(L);
        if (lua_rawgeti(L, headers, 1) != LUA_TNIL) {
            lua_pop(L, 1);
            lua_Integer count = luaL_len(L, headers);
            for (lua_Integer i = 1; i <= count; i++) {
                if (lua_rawgeti(L, headers, i) != LUA_TTABLE)
                    luaL_argerror(
                        L, 1, lua_pushfstring(L, "headers[%I] must be a {name, value} pair", i));
                lua_rawgeti(L, -1, 1);
                lua_rawgeti(L, -2, 2);
                add_header(L, r, -2, -1, &given);
                lua_pop(L, 3);
            }
        } else {
            lua_pop(L, 1);
            lua_pushnil(L);
            while (lua_next(L, headers)) {
                add_header(L, r, -2, -1, &given);
                lua_pop(L, 1);
            }
        }
    } else if (type != LUA_TNIL) {
        bad_field(L, "headers", "a table");
    }
    lua_pop(L, 1);
    /* curl's own additions that callers do not expect: "Expect: 100-continue" stalls for a
     * second on servers that ignore it, and POST bodies get a form Content-Type. */
    if (!given.expect)
        append_header_line(L, r, "Expect:");
    if (!given.content_type)
        append_header_line(L, r, "Content-Type:");
}

#define SETOPT(r, option, value)                                                                   \
    ((r)->setopt_failed |= curl_easy_setopt((r)->easy, option, value) != CURLE_OK)

/* The method, and the body (which must stay on the stack until the transfer ends). */
static void set_method_and_body(lua_State *L, struct request *r) {
    size_t method_length, body_length;
    const char *method = string_field(L, "method", &method_length);
    if (!method) {
        method = "GET";
        method_length = strlen(method);
    }
    if (!is_token(method, method_length))
        luaL_argerror(L, 1, lua_pushfstring(L, "invalid method '%s'", method));
    const char *body = string_field(L, "body", &body_length);
    if (strcmp(method, "HEAD") == 0) {
        if (body)
            luaL_argerror(L, 1, "a HEAD request cannot have a body");
        /* Without NOBODY curl would wait for the body the Content-Length announces. */
        SETOPT(r, CURLOPT_NOBODY, 1L);
    } else if (strcmp(method, "GET") != 0 || body) {
        SETOPT(r, CURLOPT_CUSTOMREQUEST, method);
    }
    if (body) {
        /* POSTFIELDS does not copy: the string is kept on the Lua stack. */
        SETOPT(r, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_length);
        SETOPT(r, CURLOPT_POSTFIELDS, body);
    }
}

static void set_tls(lua_State *L, struct request *r) {
    int type = lua_getfield(L, 1, "tls");
    if (type == LUA_TNIL) {
        lua_pop(L, 1);
        return;
    }
    if (type != LUA_TTABLE)
        bad_field(L, "tls", "a table");
    static const struct {
        const char *field;
        CURLoption option;
    } files[] = {{"cert", CURLOPT_SSLCERT}, {"key", CURLOPT_SSLKEY}, {"ca", CURLOPT_CAINFO}};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        type = lua_getfield(L, -1, files[i].field);
        if (type != LUA_TNIL && type != LUA_TSTRING)
            luaL_argerror(L, 1,
                          lua_pushfstring(L, "field 'tls.%s' must be a path, got %s",
                                          files[i].field, luaL_typename(L, -1)));
        if (type == LUA_TSTRING) {
            SETOPT(r, files[i].option, lua_tostring(L, -1));
            /* A given CA bundle replaces the system's store entirely, directory included. */
            if (files[i].option == CURLOPT_CAINFO)
                SETOPT(r, CURLOPT_CAPATH, (char *)NULL);
        }
        lua_pop(L, 1);
    }
    lua_pop(L, 1);
}

/* The user's no_proxy still applies; loopback is added to it. */
static void set_no_proxy(lua_State *L, struct request *r) {
    const char *user = getenv("no_proxy");
    if (!user || !*user)
        user = getenv("NO_PROXY");
    if (user && strcmp(user, "*") == 0)
        lua_pushliteral(L, "*");
    else if (user && *user)
        lua_pushfstring(L, LOOPBACK_HOSTS ",%s", user);
    else
        lua_pushliteral(L, LOOPBACK_HOSTS);
    SETOPT(r, CURLOPT_NOPROXY, lua_tostring(L, -1));
    lua_pop(L, 1);
}

/* ---- results ---- */

static const char *skip_prefix(const char *text, const char *prefix) {
    size_t length = strlen(prefix);
    return strncmp(text, prefix, length) == 0 ? text + length : text;
}

static bool is_lower(char c) {
    return c >= 'a' && c <= 'z';
}

/* Whether the text starts with a plain capitalised word ("Empty", but not "SSL", "OpenSSL"). */
static bool starts_capitalised(const char *text) {
    if (!(text[0] >= 'A' && text[0] <= 'Z') || !is_lower(text[1]))
        return false;
    const char *c = text + 1;
    while (is_lower(*c))
        c++;
    return !((*c >= 'A' && *c <= 'Z') || *c == '/');
}

/* curl's detail text on one line, its first word lower-cased like our own wording. */
static void add_detail(luaL_Buffer *message, const char *detail) {
    bool lower_first = starts_capitalised(detail);
    for (const char *c = detail; *c; c++) {
        char out = *c;
        if (c == detail && lower_first)
            out = (char)(out - 'A' + 'a');
        if (out == '\n' || out == '\r') {
            if (c[1] == '\0')
                break;
            out = ' ';
        }
        luaL_addchar(message, out);
    }
}

static bool is_tls_error(CURLcode code, const char *detail) {
    switch (code) {
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_SSL_ENGINE_NOTFOUND:
    case CURLE_SSL_ENGINE_SETFAILED:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_ENGINE_INITFAILED:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_SHUTDOWN_FAILED:
    case CURLE_SSL_CRL_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_INVALIDCERTSTATUS:
    case CURLE_SSL_CLIENTCERT:
    case CURLE_USE_SSL_FAILED:
        return true;
    case CURLE_RECV_ERROR:
    case CURLE_SEND_ERROR:
        /* With TLS 1.3 the server rejects a client certificate after the handshake, so the
         * alert arrives as a read error. */
        return strstr(detail, "SSL routines") != NULL;
    default:
        return false;
    }
}

/* Pushes nil, message, kind for a failed transfer. */
static int push_failure(lua_State *L, struct request *r, CURLcode code, const char *url,
                        const struct limits *limits) {
    const char *detail = r->error[0] ? r->error : curl_easy_strerror(code);
    const char *kind = "transport";
    luaL_pushfail(L);
    luaL_Buffer message;
    luaL_buffinit(L, &message);
    luaL_addstring(&message, url);
    luaL_addstring(&message, ": ");
    long os_error = 0;
    curl_easy_getinfo(r->easy, CURLINFO_OS_ERRNO, &os_error);
    if (code == CURLE_COULDNT_CONNECT && os_error == ECONNREFUSED) {
        kind = "refused";
        luaL_addstring(&message, "connection refused");
    } else if (code == CURLE_OPERATION_TIMEDOUT) {
        kind = "timeout";
        curl_off_t connected = 0;
        curl_easy_getinfo(r->easy, CURLINFO_CONNECT_TIME_T, &connected);
        bool connecting = connected == 0 && limits->connect_timeout > 0 &&
                          (limits->timeout == 0 || limits->connect_timeout < limits->timeout);
        if (connecting || limits->timeout > 0) {
            char seconds[32]; /* "%g": 2 s, not Lua's 2.0 s */
            snprintf(seconds, sizeof seconds, "%g",
                     connecting ? limits->connect_timeout : limits->timeout);
            luaL_addstring(&message, connecting ? "connect timed out after " : "timed out after ");
            luaL_addstring(&message, seconds);
            luaL_addstring(&message, " s");
        } else {
            add_detail(&message, detail);
        }
    } else if (code == CURLE_COULDNT_RESOLVE_HOST) {
        kind = "resolve";
        add_detail(&message, detail);
    } else if (is_tls_error(code, detail)) {
        kind = "tls";
        luaL_addstring(&message, "TLS: ");
        if (code == CURLE_PEER_FAILED_VERIFICATION) {
            luaL_addstring(&message, "certificate verify failed (");
            add_detail(&message,
                       skip_prefix(skip_prefix(detail, "SSL certificate problem: "), "SSL: "));
            luaL_addchar(&message, ')');
        } else {
            add_detail(&message, skip_prefix(detail, "SSL: "));
        }
    } else {
        add_detail(&message, detail);
    }
    luaL_pushresult(&message);
    lua_pushstring(L, kind);
    return 3;
}

/* Pushes text[0, length) lower-cased. */
static void push_lower(lua_State *L, const char *text, size_t length) {
    luaL_Buffer lower;
    char *out = luaL_buffinitsize(L, &lower, length);
    for (size_t i = 0; i < length; i++)
        out[i] = (text[i] >= 'A' && text[i] <= 'Z') ? (char)(text[i] - 'A' + 'a') : text[i];
    luaL_pushresultsize(&lower, length);
}

/* Sets result.headers (lower-case names, repeats joined with ", ") and result.header_list
 * ({name, value} pairs as received) from the collected header lines. */
static void set_response_headers(lua_State *L, const struct bytes *head, int result) {
    lua_newtable(L);
    int map = lua_gettop(L);
    lua_newtable(L);
    int list = lua_gettop(L);
    lua_Integer count = 0;
    const char *line = head->data, *end = head->data + head->length;
    while (line < end) {
        const char *line_end = memchr(line, '\n', (size_t)(end - line));
        const char *colon = memchr(line, ':', (size_t)(line_end - line));
        if (colon && colon > line) {
            const char *value = colon + 1, *value_end = line_end;
            while (value < value_end && is_blank(*value))
                value++;
            while (value_end > value && is_blank(value_end[-1]))
                value_end--;
            lua_createtable(L, 2, 0);
            lua_pushlstring(L, line, (size_t)(colon - line));
            lua_rawseti(L, -2, 1);
            lua_pushlstring(L, value, (size_t)(value_end - value));
            lua_rawseti(L, -2, 2);
            lua_rawseti(L, list, ++count);

            push_lower(L, line, (size_t)(colon - line));
            lua_pushvalue(L, -1);
            if (lua_rawget(L, map) == LUA_TSTRING) {
                lua_pushliteral(L, ", ");
                lua_pushlstring(L, value, (size_t)(value_end - value));
                lua_concat(L, 3);
            } else {
                lua_pop(L, 1);
                lua_pushlstring(L, value, (size_t)(value_end - value));
            }
            lua_rawset(L, map);
        }
        line = line_end + 1;
    }
    lua_setfield(L, result, "header_list");
    lua_setfield(L, result, "headers");
}

static int push_response(lua_State *L, struct request *r, bool trace) {
    long status = 0, port = 0;
    double total = 0, connect = 0;
    char *ip = NULL;
    curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_getinfo(r->easy, CURLINFO_TOTAL_TIME, &total);
    curl_easy_getinfo(r->easy, CURLINFO_CONNECT_TIME, &connect);
    curl_easy_getinfo(r->easy, CURLINFO_PRIMARY_IP, &ip);
    curl_easy_getinfo(r->easy, CURLINFO_PRIMARY_PORT, &port);

    lua_createtable(L, 0, 10);
    int result = lua_gettop(L);
    lua_pushinteger(L, status);
    lua_setfield(L, result, "status");
    set_response_headers(L, &r->head, result);
    lua_pushlstring(L, r->body.data ? r->body.data : "", r->body.length);
    lua_setfield(L, result, "body");
    lua_pushnumber(L, total);
    lua_setfield(L, result, "elapsed");
    lua_pushnumber(L, connect);
    lua_setfield(L, result, "connect_elapsed");
    lua_pushstring(L, ip ? ip : "");
    lua_setfield(L, result, "primary_ip");
    lua_pushinteger(L, port);
    lua_setfield(L, result, "primary_port");
    if (trace) {
        lua_pushlstring(L, r->sent_head.data ? r->sent_head.data : "", r->sent_head.length);
        lua_setfield(L, result, "request_head");
    }
    return 1;
}

/* The connection cache (and DNS and TLS session caches) that every request of one Lua state
 * shares, so that a script making many requests to one server (the Runtime API client: two
 * per invocation) keeps its connections alive instead of connecting each time. A Lua state is
 * single-threaded, so the share needs no lock callbacks. */
struct share {
    CURLSH *handle;
};

static int share_release(lua_State *L) {
    struct share *share = luaL_checkudata(L, 1, SHARE_METATABLE);
    if (share->handle)
        curl_share_cleanup(share->handle);
    share->handle = NULL;
    return 0;
}

/* request(opts) -> response | nil, message, kind */
static int http_request(lua_State *L) {
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_settop(L, 1);
    size_t url_length;
    const char *url = string_field(L, "url", &url_length);
    if (!url)
        bad_field(L, "url", "a string");
    if (strlen(url) != url_length)
        luaL_argerror(L, 1, "field 'url' contains a NUL byte");
    struct limits limits = {seconds_field(L, "timeout"), seconds_field(L, "connect_timeout")};
    lua_getfield(L, 1, "trace");
    bool trace = lua_toboolean(L, -1);
    lua_pop(L, 1);

    struct request *r = lua_newuserdatauv(L, sizeof *r, 0);
    memset(r, 0, sizeof *r);
    luaL_setmetatable(L, REQUEST_METATABLE);
    lua_toclose(L, -1);
    r->easy = curl_easy_init();
    if (!r->easy)
        return luaL_error(L, "cannot create a curl handle");

    struct share *share = lua_touserdata(L, lua_upvalueindex(1));
    if (share && share->handle)
        SETOPT(r, CURLOPT_SHARE, share->handle);
    set_method_and_body(L, r);
    set_headers(L, r);
    set_tls(L, r);
    set_no_proxy(L, r);
    SETOPT(r, CURLOPT_URL, url);
    SETOPT(r, CURLOPT_HTTPHEADER, r->headers);
    SETOPT(r, CURLOPT_ERRORBUFFER, r->error);
    SETOPT(r, CURLOPT_NOSIGNAL, 1L);
    SETOPT(r, CURLOPT_PROTOCOLS_STR, "http,https");
    SETOPT(r, CURLOPT_WRITEFUNCTION, receive_body);
    SETOPT(r, CURLOPT_WRITEDATA, r);
    SETOPT(r, CURLOPT_HEADERFUNCTION, receive_header);
    SETOPT(r, CURLOPT_HEADERDATA, r);
    if (limits.timeout > 0)
        SETOPT(r, CURLOPT_TIMEOUT_MS, milliseconds(limits.timeout));
    if (limits.connect_timeout > 0)
        SETOPT(r, CURLOPT_CONNECTTIMEOUT_MS, milliseconds(limits.connect_timeout));
    if (trace) {
        /* VERBOSE only feeds the debug callback; nothing reaches stderr. */
        SETOPT(r, CURLOPT_DEBUGFUNCTION, trace_sent_head);
        SETOPT(r, CURLOPT_DEBUGDATA, r);
        SETOPT(r, CURLOPT_VERBOSE, 1L);
    }
    if (r->setopt_failed)
        return luaL_error(L, "libcurl rejected an option for %s (out of memory?)", url);

    CURLcode code = curl_easy_perform(r->easy);
    if (r->body.failed || r->head.failed)
        return luaL_error(L, "not enough memory for the response from %s", url);
    if (code != CURLE_OK)
        return push_failure(L, r, code, url, &limits);
    return push_response(L, r, trace);
}

static const luaL_Reg http_functions[] = {
    {"request", http_request},
    {NULL, NULL},
};

int luaopen_lambda_http(lua_State *L) {
    /* Here rather than per request: it loads OpenSSL. curl counts the calls, so a second Lua
     * state opening the module is fine. */
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return luaL_error(L, "cannot initialise libcurl");
    if (luaL_newmetatable(L, REQUEST_METATABLE)) {
        lua_pushcfunction(L, request_release);
        lua_setfield(L, -2, "__close");
        lua_pushcfunction(L, request_release);
        lua_setfield(L, -2, "__gc");
    }
    lua_pop(L, 1);
    luaL_newlibtable(L, http_functions);
    struct share *share = lua_newuserdatauv(L, sizeof *share, 0);
    share->handle = curl_share_init();
    if (luaL_newmetatable(L, SHARE_METATABLE)) {
        lua_pushcfunction(L, share_release);
        lua_setfield(L, -2, "__gc");
    }
    lua_setmetatable(L, -2);
    /* Without a share (out of memory) every request simply opens its own connection. */
    if (share->handle) {
        curl_share_setopt(share->handle, CURLSHOPT_SHARE, CURL_LOCK_DATA_CONNECT);
        curl_share_setopt(share->handle, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
        curl_share_setopt(share->handle, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
    }
    luaL_setfuncs(L, http_functions, 1);
    return 1;
}
