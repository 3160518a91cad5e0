/* TOML lexing: the up-front text check, whitespace and comments, keys and the four string
 * forms. See lex.h for the conventions every scanner follows. */
#include "toml/lex.h"

#include <lauxlib.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/ascii.h"
#include "common/utf8.h"

/* Columns count characters (UTF-8 code points, a tab is one), as editors show them. */
_Noreturn void toml_fail(struct toml_parser *P, const char *at, const char *fmt, ...) {
    lua_State *L = P->L;
    lua_Integer line = 1, column = 1;
    const char *line_start = P->start;
    for (const char *c = P->start; c < at; c++) {
        if (*c == '\n') {
            line++;
            line_start = c + 1;
        }
    }
    for (const char *c = line_start; c < at; c++) {
        if (((unsigned char)*c & 0xC0) != 0x80)
            column++;
    }
    va_list args;
    va_start(args, fmt);
    lua_pushfstring(L, "line %I, column %I: ", line, column);
    lua_pushvfstring(L, fmt, args);
    va_end(args);
    lua_concat(L, 2);
    P->failed = 1;
    lua_error(L);
    abort(); /* not reached: lua_error does not return */
}

/* TOML allows no control character but tab and the newlines anywhere, not even in strings
 * (they must be escaped there), so one pass over the whole text settles encoding and control
 * characters and the scanners need not care. */
void toml_check_text(struct toml_parser *P) {
    const unsigned char *s = (const unsigned char *)P->p;
    const unsigned char *end = (const unsigned char *)P->end;
    while (s < end) {
        unsigned c = *s;
        if ((c >= 0x20 && c < 0x7F) || c == '\t' || c == '\n') {
            s++;
        } else if (c == '\r') {
            if (s[1] != '\n')
                toml_fail(P, (const char *)s, "carriage return not followed by a line feed");
            s += 2;
        } else if (c < 0x80) {
            char code[8];
            snprintf(code, sizeof code, "U+%04X", c);
            toml_fail(P, (const char *)s, "control character %s must be escaped or removed", code);
        } else {
            size_t length = utf8_sequence_length(s, end, NULL);
            if (length == 0)
                toml_fail(P, (const char *)s, "invalid UTF-8");
            s += length;
        }
    }
}

int toml_is_bare_key_char(int c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-';
}

void toml_skip_ws(struct toml_parser *P) {
    while (*P->p == ' ' || *P->p == '\t')
        P->p++;
}

/* Whitespace and an optional comment up to, not including, the end of the line. */
static void skip_ws_and_comment(struct toml_parser *P) {
    toml_skip_ws(P);
    if (*P->p == '#')
        P->p += strcspn(P->p, "\r\n");
}

static int skip_newline(struct toml_parser *P) {
    if (*P->p == '\n') {
        P->p++;
        return 1;
    }
    if (*P->p == '\r') { /* always CRLF, see toml_check_text */
        P->p += 2;
        return 1;
    }
    return 0;
}

void toml_skip_blank(struct toml_parser *P) {
    do {
        skip_ws_and_comment(P);
    } while (skip_newline(P));
}

void toml_end_line(struct toml_parser *P) {
    skip_ws_and_comment(P);
    if (!skip_newline(P) && *P->p != '\0')
        toml_fail(P, P->p, "expected the end of the line");
}

void toml_push_key(struct toml_parser *P) {
    const char *start = P->p;
    if (*start == '"' || *start == '\'') {
        if (start[1] == *start && start[2] == *start)
            toml_fail(P, start, "a multi-line string cannot be a key");
        toml_push_string(P);
        return;
    }
    while (toml_is_bare_key_char(*P->p))
        P->p++;
    if (P->p == start)
        toml_fail(P, start, "expected a key");
    lua_pushlstring(P->L, start, (size_t)(P->p - start));
}

static void add_utf8(luaL_Buffer *b, unsigned long code) {
    char bytes[4];
    luaL_addlstring(b, bytes, utf8_encode(code, bytes));
}

/* \uXXXX or \UXXXXXXXX; P->p is past the letter, `escape` at the backslash. */
static void add_unicode_escape(struct toml_parser *P, luaL_Buffer *b, const char *escape,
                               int digits) {
    unsigned long code = 0;
    for (int i = 0; i < digits; i++) {
        int value = ascii_hex_value(*P->p);
        if (value < 0)
            toml_fail(P, escape, "\\%c needs %d hexadecimal digits", escape[1], digits);
        code = code << 4 | (unsigned long)value;
        P->p++;
    }
    if (code > 0x10FFFF || (code >= 0xD800 && code <= 0xDFFF))
        toml_fail(P, escape, "\\%c escape is not a Unicode scalar value", escape[1]);
    add_utf8(b, code);
}

static void add_escape(struct toml_parser *P, luaL_Buffer *b) {
    const char *escape = P->p;
    char letter = escape[1];
    static const char simple[] = "b\bt\tn\nf\fr\r\"\"\\\\";
    for (const char *s = simple; *s; s += 2) {
        if (letter == s[0]) {
            luaL_addchar(b, s[1]);
            P->p += 2;
            return;
        }
    }
    if (letter == 'u' || letter == 'U') {
        P->p += 2;
        add_unicode_escape(P, b, escape, letter == 'u' ? 4 : 8);
        return;
    }
    if (letter > ' ' && letter < 0x7F)
        toml_fail(P, escape, "invalid escape sequence '\\%c'", letter);
    toml_fail(P, escape, "invalid escape sequence");
}

static void push_basic_string(struct toml_parser *P) {
    static const char special[] = "\"\\\r\n";
    lua_State *L = P->L;
    const char *open = P->p++;
    const char *run = P->p;
    P->p += strcspn(P->p, special);
    if (*P->p == '"') { /* the common case: no escapes, no copy through a buffer */
        lua_pushlstring(L, run, (size_t)(P->p - run));
        P->p++;
        return;
    }
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    for (;;) {
        luaL_addlstring(&b, run, (size_t)(P->p - run));
        if (*P->p != '\\')
            break;
        add_escape(P, &b);
        run = P->p;
        P->p += strcspn(P->p, special);
    }
    if (*P->p != '"')
        toml_fail(P, open, "unterminated string");
    P->p++;
    luaL_pushresult(&b);
}

static void push_literal_string(struct toml_parser *P) {
    const char *open = P->p++;
    const char *run = P->p;
    P->p += strcspn(P->p, "'\r\n");
    if (*P->p != '\'')
        toml_fail(P, open, "unterminated string");
    lua_pushlstring(P->L, run, (size_t)(P->p - run));
    P->p++;
}

/* At a run of quotes in a multi-line string. Fewer than three are content; three or more close
 * the string, and the (at most two) quotes before the closing three are content. */
static int end_of_multiline(struct toml_parser *P, luaL_Buffer *b) {
    size_t count = strspn(P->p, P->p[0] == '"' ? "\"" : "'");
    if (count > 5)
        toml_fail(P, P->p, "more than two quotes in a row inside a multi-line string");
    size_t content = count < 3 ? count : count - 3;
    luaL_addlstring(b, P->p, content);
    P->p += count;
    return count >= 3;
}

/* A backslash that ends a line in a multi-line basic string drops itself and all whitespace
 * and newlines after it. */
static int skip_line_ending_backslash(struct toml_parser *P) {
    const char *after = P->p + 1;
    after += strspn(after, " \t");
    if (*after != '\n' && *after != '\r')
        return 0;
    P->p = after + strspn(after, " \t\r\n");
    return 1;
}

static void push_multiline_string(struct toml_parser *P) {
    lua_State *L = P->L;
    const char *open = P->p;
    int basic = *open == '"';
    const char *special = basic ? "\"\\\r" : "'\r";
    P->p += 3;
    if (*P->p == '\n') /* a newline right after the delimiter is trimmed */
        P->p++;
    else if (*P->p == '\r')
        P->p += 2;
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    for (;;) {
        const char *run = P->p;
        P->p += strcspn(P->p, special);
        luaL_addlstring(&b, run, (size_t)(P->p - run));
        switch (*P->p) {
        case '\0':
            toml_fail(P, open, "unterminated multi-line string");
        case '\r': /* CRLF reads as LF, whatever the file's line ends */
            luaL_addchar(&b, '\n');
            P->p += 2;
            break;
        case '\\':
            if (!skip_line_ending_backslash(P))
                add_escape(P, &b);
            break;
        default:
            if (end_of_multiline(P, &b)) {
                luaL_pushresult(&b);
                return;
            }
        }
    }
}

void toml_push_string(struct toml_parser *P) {
    const char *open = P->p;
    if (open[1] == open[0] && open[2] == open[0])
        push_multiline_string(P);
    else if (open[0] == '"')
        push_basic_string(P);
    else
        push_literal_string(P);
}
