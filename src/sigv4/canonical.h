/* The canonical forms Signature Version 4 signs: URL pieces, the canonical URI, the canonical
 * query string and canonical header values. Everything is built on Lua buffers, so a Lua error
 * half-way leaks nothing. */
#ifndef CLC_SIGV4_CANONICAL_H
#define CLC_SIGV4_CANONICAL_H

#include <lauxlib.h>
#include <stddef.h>

/* A query parameter given as raw bytes (not yet percent-encoded). */
struct sigv4_param {
    const char *name;
    const char *value;
    size_t value_length;
};

/* Adds bytes percent-encoded: everything but A-Za-z0-9-._~ becomes %XX (upper-case hex). */
void sigv4_add_encoded(luaL_Buffer *buffer, const char *bytes, size_t length);

/* Pushes the canonical URI of a path as sent on the wire: dot segments removed and repeated
 * slashes collapsed when normalize is set, then every segment percent-encoded once more when
 * double_encode is set (every service but S3), else percent-decoded and encoded again, so
 * that it is signed encoded exactly once (S3). */
void sigv4_push_canonical_uri(lua_State *L, const char *path, size_t length, int normalize,
                              int double_encode);

/* Pushes the canonical query string: the wire query's parameters percent-decoded and encoded
 * again, with `extra` parameters (raw values) merged in, sorted by name, then value. */
void sigv4_push_canonical_query(lua_State *L, const char *query, size_t length,
                                const struct sigv4_param *extra, size_t extra_count);

/* Adds a header value as it is signed: leading and trailing whitespace dropped, inner runs of
 * whitespace (line breaks of folded lines included) squeezed to one space. */
void sigv4_add_header_value(luaL_Buffer *buffer, const char *value, size_t length);

#endif
