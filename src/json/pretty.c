/* Single pass over the text with an explicit stack of open containers, so the run time is
 * linear and no input can recurse the C stack. */
#include "json/pretty.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "common/ascii.h"
#include "common/utf8.h"

#define INDENT_WIDTH 2

struct parser {
    const unsigned char *text;
    size_t length;
    size_t pos;
    json_sink sink;
    void *context;
    struct json_error *error;
    size_t depth;
    unsigned char open[JSON_MAX_DEPTH]; /* '{' or '[' for each enclosing container */
};

static bool fail(struct parser *p, size_t offset, const char *format, ...)
    __attribute__((format(printf, 3, 4)));

/* Records the first error; always returns false so callers can `return fail(...)`. */
static bool fail(struct parser *p, size_t offset, const char *format, ...) {
    if (!p->error)
        return false;
    p->error->offset = offset;
    int prefix =
        snprintf(p->error->message, sizeof p->error->message, "invalid JSON at byte %zu: ", offset);
    if (prefix > 0 && (size_t)prefix < sizeof p->error->message) {
        va_list args;
        va_start(args, format);
        vsnprintf(p->error->message + prefix, sizeof p->error->message - (size_t)prefix, format,
                  args);
        va_end(args);
    }
    return false;
}

static void emit(struct parser *p, const void *bytes, size_t length) {
    if (p->sink && length > 0)
        p->sink(p->context, bytes, length);
}

static void emit_newline(struct parser *p) {
    static const char blanks[] = "\n                                                ";
    const size_t most = sizeof blanks - 2;
    size_t width = p->depth * INDENT_WIDTH;
    size_t chunk = width < most ? width : most;
    emit(p, blanks, 1 + chunk);
    for (width -= chunk; width > 0; width -= chunk) {
        chunk = width < most ? width : most;
        emit(p, blanks + 1, chunk);
    }
}

static int peek(const struct parser *p) {
    return p->pos < p->length ? p->text[p->pos] : -1;
}

static void skip_whitespace(struct parser *p) {
    while (p->pos < p->length) {
        unsigned char c = p->text[p->pos];
        if (c != ' ' && c != '\t' && c != '\n' && c != '\r')
            return;
        p->pos++;
    }
}

static bool is_digit(int c) {
    return c >= '0' && c <= '9';
}

static void skip_digits(struct parser *p) {
    while (is_digit(peek(p)))
        p->pos++;
}

static bool scan_number(struct parser *p) {
    size_t start = p->pos;
    if (peek(p) == '-')
        p->pos++;
    if (!is_digit(peek(p)))
        return fail(p, p->pos, "expected digit");
    if (peek(p) == '0') {
        p->pos++;
        if (is_digit(peek(p)))
            return fail(p, p->pos, "leading zeros are not allowed");
    } else {
        skip_digits(p);
    }
    if (peek(p) == '.') {
        p->pos++;
        if (!is_digit(peek(p)))
            return fail(p, p->pos, "expected digit after '.'");
        skip_digits(p);
    }
    if (peek(p) == 'e' || peek(p) == 'E') {
        p->pos++;
        if (peek(p) == '+' || peek(p) == '-')
            p->pos++;
        if (!is_digit(peek(p)))
            return fail(p, p->pos, "expected digit in exponent");
        skip_digits(p);
    }
    emit(p, p->text + start, p->pos - start);
    return true;
}

static bool scan_literal(struct parser *p, const char *word) {
    for (size_t i = 0; word[i]; i++, p->pos++) {
        if (peek(p) != (unsigned char)word[i])
            return fail(p, p->pos, "expected '%s'", word);
    }
    emit(p, word, strlen(word));
    return true;
}

/* Reads the 4 hex digits at p->pos (just after "\u") and advances past them. */
static bool scan_hex4(struct parser *p, unsigned *unit) {
    *unit = 0;
    for (int i = 0; i < 4; i++, p->pos++) {
        int digit = ascii_hex_value(peek(p));
        if (digit < 0)
            return fail(p, p->pos, "expected 4 hex digits after \\u");
        *unit = *unit * 16 + (unsigned)digit;
    }
    return true;
}

/* A \u escape must denote a Unicode scalar value: surrogates only as a high-low pair. Lone
 * surrogates are legal in RFC 8259's grammar but cannot be decoded to UTF-8 (cjson and
 * serde_json both refuse them), so accepting them would bless text nothing can read. */
static bool scan_unicode_escape(struct parser *p, size_t backslash) {
    unsigned unit;
    if (!scan_hex4(p, &unit))
        return false;
    if (unit >= 0xDC00 && unit <= 0xDFFF)
        return fail(p, backslash, "unpaired surrogate \\u%04X", unit);
    if (unit < 0xD800 || unit > 0xDBFF)
        return true;
    if (peek(p) != '\\' || p->pos + 1 >= p->length || p->text[p->pos + 1] != 'u')
        return fail(p, backslash, "unpaired surrogate \\u%04X", unit);
    p->pos += 2;
    unsigned low;
    if (!scan_hex4(p, &low))
        return false;
    if (low < 0xDC00 || low > 0xDFFF)
        return fail(p, backslash, "unpaired surrogate \\u%04X", unit);
    return true;
}

static bool scan_escape(struct parser *p) {
    size_t backslash = p->pos++;
    switch (peek(p)) {
    case '"':
    case '\\':
    case '/':
    case 'b':
    case 'f':
    case 'n':
    case 'r':
    case 't':
        p->pos++;
        return true;
    case 'u':
        p->pos++;
        return scan_unicode_escape(p, backslash);
    case -1:
        return fail(p, p->pos, "unterminated string");
    default:
        return fail(p, p->pos, "invalid escape sequence");
    }
}

/* Well-formed UTF-8 (common/utf8.h). The error points at the first byte that cannot continue the
 * sequence. */
static bool scan_utf8(struct parser *p) {
    const unsigned char *start = (const unsigned char *)p->text + p->pos;
    size_t bad,
        length = utf8_sequence_length(start, (const unsigned char *)p->text + p->length, &bad);
    if (length == 0)
        return fail(p, p->pos + bad, "invalid UTF-8");
    p->pos += length;
    return true;
}

static bool scan_string(struct parser *p) {
    size_t start = p->pos++;
    for (;;) {
        while (p->pos < p->length) {
            unsigned char c = p->text[p->pos];
            if (c < 0x20 || c >= 0x80 || c == '"' || c == '\\')
                break;
            p->pos++;
        }
        int c = peek(p);
        if (c == -1)
            return fail(p, p->pos, "unterminated string");
        if (c == '"')
            break;
        if (c == '\\') {
            if (!scan_escape(p))
                return false;
        } else if (c < 0x20) {
            return fail(p, p->pos, "control character U+%04X must be escaped", (unsigned)c);
        } else if (!scan_utf8(p)) {
            return false;
        }
    }
    p->pos++;
    emit(p, p->text + start, p->pos - start);
    return true;
}

/* An object member up to its value: "key": */
static bool scan_member_key(struct parser *p, const char *expected) {
    skip_whitespace(p);
    if (peek(p) != '"')
        return fail(p, p->pos, "%s", expected);
    if (!scan_string(p))
        return false;
    skip_whitespace(p);
    if (peek(p) != ':')
        return fail(p, p->pos, "expected ':'");
    p->pos++;
    emit(p, ": ", 2);
    return true;
}

/* Opens '{' or '['. Sets *empty when the container closes at once, as serde_json prints
 * those without an inner newline. */
static bool open_container(struct parser *p, bool *empty) {
    unsigned char bracket = p->text[p->pos];
    unsigned char closing = bracket == '{' ? '}' : ']';
    if (p->depth == JSON_MAX_DEPTH)
        return fail(p, p->pos, "nesting deeper than %d levels", JSON_MAX_DEPTH);
    p->pos++;
    skip_whitespace(p);
    *empty = peek(p) == closing;
    if (*empty) {
        p->pos++;
        emit(p, bracket == '{' ? "{}" : "[]", 2);
        return true;
    }
    emit(p, &bracket, 1);
    p->open[p->depth++] = bracket;
    emit_newline(p);
    return true;
}

/* Parses one value. A scalar is complete on return (*complete = true); of a non-empty
 * container only the opening is consumed, and *next_expected is the error to report if no
 * value follows. expected is that error for this value. */
static bool scan_value(struct parser *p, const char *expected, bool *complete,
                       const char **next_expected) {
    *complete = true;
    switch (peek(p)) {
    case '{': {
        bool empty;
        if (!open_container(p, &empty))
            return false;
        if (empty)
            return true;
        *complete = false;
        *next_expected = "expected value";
        return scan_member_key(p, "expected string key or '}'");
    }
    case '[': {
        bool empty;
        if (!open_container(p, &empty))
            return false;
        *complete = empty;
        *next_expected = "expected value or ']'";
        return true;
    }
    case '"':
        return scan_string(p);
    case 't':
        return scan_literal(p, "true");
    case 'f':
        return scan_literal(p, "false");
    case 'n':
        return scan_literal(p, "null");
    default:
        if (peek(p) == '-' || is_digit(peek(p)))
            return scan_number(p);
        return fail(p, p->pos, "%s", expected);
    }
}

/* After a complete value: a separator, a closing bracket or, at the top, the end. When another
 * value must follow, sets *expected to the error to report if it is missing. */
static bool after_value(struct parser *p, bool *done, const char **expected) {
    for (;;) {
        skip_whitespace(p);
        if (p->depth == 0) {
            if (p->pos != p->length)
                return fail(p, p->pos, "expected end of input");
            *done = true;
            return true;
        }
        bool in_object = p->open[p->depth - 1] == '{';
        unsigned char closing = in_object ? '}' : ']';
        int c = peek(p);
        if (c == ',') {
            p->pos++;
            emit(p, ",", 1);
            emit_newline(p);
            *expected = "expected value";
            return !in_object || scan_member_key(p, "expected string key");
        }
        if (c != closing)
            return fail(p, p->pos, in_object ? "expected ',' or '}'" : "expected ',' or ']'");
        p->pos++;
        p->depth--;
        emit_newline(p);
        emit(p, &closing, 1);
    }
}

bool json_pretty(const char *text, size_t length, json_sink sink, void *context,
                 struct json_error *error) {
    struct parser p = {.text = (const unsigned char *)text,
                       .length = length,
                       .sink = sink,
                       .context = context,
                       .error = error};
    const char *expected = "expected value";
    for (;;) {
        skip_whitespace(&p);
        bool complete;
        if (!scan_value(&p, expected, &complete, &expected))
            return false;
        if (!complete)
            continue;
        bool done = false;
        if (!after_value(&p, &done, &expected))
            return false;
        if (done)
            return true;
    }
}
