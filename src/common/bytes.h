/* A growable byte buffer for data whose size is only known once it has all arrived (HTTP
 * response heads and bodies). An allocation failure is remembered rather than reported at
 * once, so that code which must not fail midway (a libcurl callback) can check it later. */
#ifndef CLC_COMMON_BYTES_H
#define CLC_COMMON_BYTES_H

#include <stdbool.h>
#include <stddef.h>

struct bytes {
    char *data;
    size_t length;
    size_t capacity;
    bool failed; /* an allocation failed; nothing is appended after that */
};

/* Appends data[0..length); false (and failed set) when memory runs out. */
bool bytes_append(struct bytes *b, const char *data, size_t length);
bool bytes_append_string(struct bytes *b, const char *text);
void bytes_free(struct bytes *b);

#endif
