/* ASCII character classes shared by the parsers of outside input (HTTP, URLs, SigV4, INI,
 * JSON, TOML). Locale-independent on purpose: <ctype.h> follows the locale a script may set. */
#ifndef CLC_COMMON_ASCII_H
#define CLC_COMMON_ASCII_H

#include <stdbool.h>
#include <stddef.h>
#include <string.h>

/* Space or horizontal tab: HTTP's OWS, INI's and TOML's whitespace. */
static inline bool ascii_is_blank(int c) {
    return c == ' ' || c == '\t';
}

static inline bool ascii_is_digit(int c) {
    return c >= '0' && c <= '9';
}

static inline bool ascii_is_alpha(int c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static inline int ascii_to_lower(int c) {
    return c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c;
}

/* The value of a hexadecimal digit of either case, or -1. */
static inline int ascii_hex_value(int c) {
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* RFC 3986 unreserved: A-Z a-z 0-9 - . _ ~ (what percent-encoding leaves alone). */
static inline bool ascii_is_unreserved(int c) {
    return ascii_is_alpha(c) || ascii_is_digit(c) || c == '-' || c == '.' || c == '_' || c == '~';
}

/* RFC 9110 tchar: what a method, a header name or a token in a header value consists of. */
static inline bool ascii_is_tchar(int c) {
    return ascii_is_alpha(c) || ascii_is_digit(c) || (c > 0 && strchr("!#$%&'*+-.^_`|~", c));
}

/* A non-empty RFC 9110 token. */
static inline bool ascii_is_token(const char *text, size_t length) {
    if (length == 0)
        return false;
    for (size_t i = 0; i < length; i++)
        if (!ascii_is_tchar((unsigned char)text[i]))
            return false;
    return true;
}

/* Writes value in decimal at out (room for 20 digits; no terminating NUL) and returns the
 * number of digits: the hot paths' replacement for snprintf's "%zu", which costs hundreds of
 * instructions a number. */
static inline size_t ascii_format_decimal(char *out, size_t value) {
    char reversed[20];
    size_t count = 0;
    do {
        reversed[count++] = (char)('0' + value % 10);
        value /= 10;
    } while (value);
    for (size_t i = 0; i < count; i++)
        out[i] = reversed[count - 1 - i];
    return count;
}

#endif
