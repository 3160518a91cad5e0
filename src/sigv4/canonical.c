/* Canonical forms for Signature Version 4 (see canonical.h). The rules are those of the AWS
 * test suites: the path is encoded once more than it is on the wire (so "%3A" in a Lambda ARN
 * is signed as "%253A"), while query parameters are decoded first, so they are never encoded
 * twice. S3 is the exception for the path: it signs it encoded once, like the query. */
#include "sigv4/canonical.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/ascii.h"

static const char upper_hex[] = "0123456789ABCDEF";

static size_t encode_byte(unsigned char c, char *out) {
    if (ascii_is_unreserved(c)) {
        out[0] = (char)c;
        return 1;
    }
    out[0] = '%';
    out[1] = upper_hex[c >> 4];
    out[2] = upper_hex[c & 15];
    return 3;
}

void sigv4_add_encoded(luaL_Buffer *buffer, const char *bytes, size_t length) {
    char *out = luaL_prepbuffsize(buffer, 3 * length);
    size_t written = 0;
    for (size_t i = 0; i < length; i++)
        written += encode_byte((unsigned char)bytes[i], out + written);
    luaL_addsize(buffer, written);
}

/* Adds a query name or value as it is signed: %XX sequences decoded, then encoded again. A '%'
 * without two hex digits after it stands for itself, as does '+' (only HTML forms mean a space
 * by it). */
static void add_reencoded(luaL_Buffer *buffer, const char *bytes, size_t length) {
    char *out = luaL_prepbuffsize(buffer, 3 * length);
    size_t written = 0;
    for (size_t i = 0; i < length; i++) {
        unsigned char c = (unsigned char)bytes[i];
        if (c == '%' && i + 2 < length) {
            int high = ascii_hex_value((unsigned char)bytes[i + 1]);
            int low = ascii_hex_value((unsigned char)bytes[i + 2]);
            if (high >= 0 && low >= 0) {
                c = (unsigned char)(high << 4 | low);
                i += 2;
            }
        }
        written += encode_byte(c, out + written);
    }
    luaL_addsize(buffer, written);
}

/* Adds one path segment as it is signed: encoded once more than on the wire, or (S3) encoded
 * once, whatever its spelling on the wire ("%7e", "~" and "%7E" all sign as "~"). */
static void add_segment(luaL_Buffer *buffer, const char *segment, size_t length,
                        int double_encode) {
    if (double_encode)
        sigv4_add_encoded(buffer, segment, length);
    else
        add_reencoded(buffer, segment, length);
}

/* Adds the path encoded segment by segment, the separating slashes kept as they are. */
static void add_encoded_path(luaL_Buffer *buffer, const char *path, size_t length,
                             int double_encode) {
    size_t start = 0;
    for (;;) {
        const char *slash = memchr(path + start, '/', length - start);
        size_t end = slash ? (size_t)(slash - path) : length;
        add_segment(buffer, path + start, end - start, double_encode);
        if (!slash)
            break;
        luaL_addchar(buffer, '/');
        start = end + 1;
    }
}

void sigv4_push_canonical_uri(lua_State *L, const char *path, size_t length, int normalize,
                              int double_encode) {
    luaL_Buffer buffer;
    luaL_buffinit(L, &buffer);
    if (!normalize) {
        if (length == 0)
            luaL_addchar(&buffer, '/');
        else
            add_encoded_path(&buffer, path, length, double_encode);
        luaL_pushresult(&buffer);
        return;
    }
    /* RFC 3986 remove_dot_segments, with empty segments dropped as well ("//" -> "/"). The
     * buffer holds "/segment" for each segment kept, so ".." takes back the last one. */
    int ends_in_directory = 0;
    size_t start = 0;
    while (start <= length) {
        const char *slash = memchr(path + start, '/', length - start);
        size_t end = slash ? (size_t)(slash - path) : length;
        const char *segment = path + start;
        size_t segment_length = end - start;
        int dot = segment_length == 1 && segment[0] == '.';
        int dot_dot = segment_length == 2 && segment[0] == '.' && segment[1] == '.';
        if (dot_dot) {
            while (luaL_bufflen(&buffer) > 0) {
                char last = luaL_buffaddr(&buffer)[luaL_bufflen(&buffer) - 1];
                luaL_buffsub(&buffer, 1);
                if (last == '/')
                    break;
            }
        } else if (segment_length > 0 && !dot) {
            luaL_addchar(&buffer, '/');
            add_segment(&buffer, segment, segment_length, double_encode);
        }
        ends_in_directory = segment_length == 0 || dot || dot_dot;
        start = end + 1;
    }
    if (luaL_bufflen(&buffer) == 0 || ends_in_directory)
        luaL_addchar(&buffer, '/');
    luaL_pushresult(&buffer);
}

/* One encoded parameter, name and value back to back (no '=' between) in a scratch string. */
struct encoded_param {
    size_t offset;
    size_t name_length;
    size_t length;
    const char *text; /* set once the scratch string is complete */
};

static int compare_slices(const char *a, size_t a_length, const char *b, size_t b_length) {
    int order = memcmp(a, b, a_length < b_length ? a_length : b_length);
    if (order != 0)
        return order;
    return (a_length > b_length) - (a_length < b_length);
}

static int compare_params(const void *left, const void *right) {
    const struct encoded_param *a = left, *b = right;
    int order = compare_slices(a->text, a->name_length, b->text, b->name_length);
    if (order != 0)
        return order;
    return compare_slices(a->text + a->name_length, a->length - a->name_length,
                          b->text + b->name_length, b->length - b->name_length);
}

void sigv4_push_canonical_query(lua_State *L, const char *query, size_t length,
                                const struct sigv4_param *extra, size_t extra_count) {
    size_t capacity = extra_count + 1;
    for (size_t i = 0; i < length; i++)
        capacity += query[i] == '&';
    struct encoded_param *params = lua_newuserdatauv(L, capacity * sizeof *params, 0);
    size_t count = 0;
    luaL_Buffer buffer;
    luaL_buffinit(L, &buffer);
    for (size_t start = 0; start < length;) {
        const char *ampersand = memchr(query + start, '&', length - start);
        size_t end = ampersand ? (size_t)(ampersand - query) : length;
        const char *param = query + start;
        size_t param_length = end - start;
        if (param_length > 0) { /* "a&&b" and a trailing '&' hold no parameter */
            const char *equals = memchr(param, '=', param_length);
            size_t name_length = equals ? (size_t)(equals - param) : param_length;
            params[count].offset = luaL_bufflen(&buffer);
            add_reencoded(&buffer, param, name_length);
            params[count].name_length = luaL_bufflen(&buffer) - params[count].offset;
            if (equals)
                add_reencoded(&buffer, equals + 1, param_length - name_length - 1);
            params[count].length = luaL_bufflen(&buffer) - params[count].offset;
            count++;
        }
        start = end + 1;
    }
    for (size_t i = 0; i < extra_count; i++) {
        params[count].offset = luaL_bufflen(&buffer);
        sigv4_add_encoded(&buffer, extra[i].name, strlen(extra[i].name));
        params[count].name_length = luaL_bufflen(&buffer) - params[count].offset;
        sigv4_add_encoded(&buffer, extra[i].value, extra[i].value_length);
        params[count].length = luaL_bufflen(&buffer) - params[count].offset;
        count++;
    }
    luaL_pushresult(&buffer);
    const char *scratch = lua_tostring(L, -1);
    for (size_t i = 0; i < count; i++)
        params[i].text = scratch + params[i].offset;
    qsort(params, count, sizeof *params, compare_params);

    luaL_buffinit(L, &buffer);
    for (size_t i = 0; i < count; i++) {
        if (i > 0)
            luaL_addchar(&buffer, '&');
        luaL_addlstring(&buffer, params[i].text, params[i].name_length);
        luaL_addchar(&buffer, '=');
        luaL_addlstring(&buffer, params[i].text + params[i].name_length,
                        params[i].length - params[i].name_length);
    }
    luaL_pushresult(&buffer);
    lua_replace(L, -3); /* the result takes the parameter array's slot */
    lua_pop(L, 1);
}

static int is_header_space(char c) {
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

void sigv4_add_header_value(luaL_Buffer *buffer, const char *value, size_t length) {
    while (length > 0 && is_header_space(value[0])) {
        value++;
        length--;
    }
    while (length > 0 && is_header_space(value[length - 1]))
        length--;
    char *out = luaL_prepbuffsize(buffer, length);
    size_t written = 0;
    for (size_t i = 0; i < length; i++) {
        if (!is_header_space(value[i]))
            out[written++] = value[i];
        else if (!is_header_space(value[i - 1])) /* i > 0: value[0] is not a space */
            out[written++] = ' ';
    }
    luaL_addsize(buffer, written);
}
