/* Internal interface of the TOML decoder: the document parser (toml.c) drives the scanners for
 * whitespace, keys and strings (lex.c) and for numbers and date-times (scalar.c).
 *
 * Every scanner reads at P->p, advances it past what it consumed and pushes at most one value.
 * Malformed input raises a Lua error through toml_fail, so a parse runs under lua_pcall and
 * keeps all its data on the Lua stack: nothing leaks when it unwinds.
 *
 * The input is a Lua string, so *P->end is a NUL sentinel. toml_check_text rejects embedded
 * NULs, bare CRs, other control characters and invalid UTF-8 up front; after it, '\0' means end
 * of input, '\r' is always followed by '\n', and one byte of look-ahead past any non-NUL byte
 * stays inside the buffer. */
#ifndef CLC_TOML_LEX_H
#define CLC_TOML_LEX_H

#include <lua.h>

struct toml_parser {
    lua_State *L;
    const char *start; /* first byte after an optional BOM: line 1, column 1 */
    const char *p;
    const char *end;
    int datetime_mt; /* stack index of the metatable given to date-time values */
    int failed;      /* set when the error being raised is a TOML error, not e.g. out of memory */
};

/* Raises "line L, column C: <message>" for the position `at`. */
_Noreturn void toml_fail(struct toml_parser *P, const char *at, const char *fmt, ...);

void toml_check_text(struct toml_parser *P);

int toml_is_bare_key_char(int c);
void toml_skip_ws(struct toml_parser *P);    /* spaces and tabs */
void toml_skip_blank(struct toml_parser *P); /* whitespace, comments and newlines */
void toml_end_line(struct toml_parser *P);   /* optional comment, then a newline or the end */

void toml_push_key(struct toml_parser *P);    /* one bare or quoted key */
void toml_push_string(struct toml_parser *P); /* any of the four string forms */
/* Integers, floats (inf and nan included) and the four date-time kinds. */
void toml_push_number_or_datetime(struct toml_parser *P);

#endif
