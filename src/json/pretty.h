/* A strict RFC 8259 validator and re-indenter that keeps the text's own spelling: key order,
 * number digits and string escapes are copied byte for byte. Plain C, no Lua, so the fuzz
 * target and unit tests can drive it directly. */
#ifndef CLC_JSON_PRETTY_H
#define CLC_JSON_PRETTY_H

#include <stdbool.h>
#include <stddef.h>

/* Containers nested deeper than this are rejected: the nesting stack is a fixed array, so
 * hostile input cannot exhaust memory or the C stack. Same limit as cjson's decoder. */
#define JSON_MAX_DEPTH 1000

/* Receives the output piece by piece; the bytes are only valid during the call. */
typedef void (*json_sink)(void *context, const char *bytes, size_t length);

struct json_error {
    size_t offset;    /* 0-based byte offset of the first error */
    char message[96]; /* "invalid JSON at byte <offset>: <what was expected>" */
};

/* Validates text and, when sink is not NULL, writes it re-indented the way serde_json's pretty
 * printer lays it out (2-space indent, "key": value, [] and {} for empty containers, no final
 * newline). Returns true when text is valid; otherwise fills *error (when not NULL) and
 * returns false, and whatever was written to the sink must be discarded. */
bool json_pretty(const char *text, size_t length, json_sink sink, void *context,
                 struct json_error *error);

#endif
