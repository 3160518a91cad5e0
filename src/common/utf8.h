/* Well-formed UTF-8, shared by the parsers of outside input (JSON, TOML) and the JSON
 * decoder. */
#ifndef CLC_COMMON_UTF8_H
#define CLC_COMMON_UTF8_H

#include <stddef.h>

/* Length (1 to 4) of the well-formed UTF-8 sequence at s, reading no further than end, per
 * Unicode table 3-7: no overlong forms, no surrogates, nothing past U+10FFFF. 0 when there is
 * none; then *bad (when not NULL) is the offset from s of the first byte that cannot be part
 * of it (end - s when the text stops too early). */
size_t utf8_sequence_length(const unsigned char *s, const unsigned char *end, size_t *bad);

/* Writes the UTF-8 encoding of code (a Unicode scalar value, which the caller has checked)
 * into out and returns its length, 1 to 4. */
size_t utf8_encode(unsigned long code, char out[4]);

#endif
