#include "common/bytes.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

bool bytes_append(struct bytes *b, const char *data, size_t length) {
    if (b->failed)
        return false;
    if (length > b->capacity - b->length) {
        /* Small to start: most heads and bodies are a few hundred bytes, and a block this size
         * comes from malloc's per-thread cache, where a 16 KB start went through its slow path
         * three times a request of a load run. Doubling, a large body costs a few more copies. */
        size_t capacity = b->capacity ? b->capacity : 256;
        while (capacity - b->length < length) {
            if (capacity > SIZE_MAX / 2) {
                b->failed = true;
                return false;
            }
            capacity *= 2;
        }
        char *grown = realloc(b->data, capacity);
        if (!grown) {
            b->failed = true;
            return false;
        }
        b->data = grown;
        b->capacity = capacity;
    }
    if (length)
        memcpy(b->data + b->length, data, length);
    b->length += length;
    return true;
}

bool bytes_append_string(struct bytes *b, const char *text) {
    return bytes_append(b, text, strlen(text));
}

void bytes_free(struct bytes *b) {
    free(b->data);
    *b = (struct bytes){0};
}
