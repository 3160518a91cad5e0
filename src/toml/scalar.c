/* TOML numbers and date-times. Both start with a digit, a sign or the i/n of inf/nan, so the
 * scanner first takes the whole token and then decides from its shape which grammar applies. */
#include <lauxlib.h>
#include <math.h>
#include <string.h>

#include "toml/lex.h"

static int is_digit(int c) {
    return c >= '0' && c <= '9';
}

static int digit_value(int c, int base) {
    int value;
    if (c >= '0' && c <= '9')
        value = c - '0';
    else if (c >= 'a' && c <= 'f')
        value = c - 'a' + 10;
    else if (c >= 'A' && c <= 'F')
        value = c - 'A' + 10;
    else
        return -1;
    return value < base ? value : -1;
}

static int is_token_char(int c) {
    return toml_is_bare_key_char(c) || c == '.' || c == '+' || c == ':';
}

/* A number token being decoded: [token, end). */
struct number {
    struct toml_parser *P;
    const char *token;
    const char *end;
};

_Noreturn static void fail_number(const struct number *n, const char *at, const char *problem) {
    lua_pushlstring(n->P->L, n->token, (size_t)(n->end - n->token));
    toml_fail(n->P, at, "%s in number '%s'", problem, lua_tostring(n->P->L, -1));
}

/* Skips digits from s where single underscores may stand between two digits. */
static const char *skip_digits(const struct number *n, const char *s, int base) {
    if (s >= n->end || digit_value(*s, base) < 0)
        fail_number(n, s, "expected a digit");
    for (;;) {
        while (s < n->end && digit_value(*s, base) >= 0)
            s++;
        if (s >= n->end || *s != '_')
            return s;
        if (s + 1 >= n->end || digit_value(s[1], base) < 0)
            fail_number(n, s, "an underscore must stand between two digits");
        s++;
    }
}

/* The value of the digits (and underscores) from s to the end, range-checked against int64. */
static lua_Integer integer_value(const struct number *n, const char *s, int base, int negative) {
    lua_Unsigned limit = (lua_Unsigned)LUA_MAXINTEGER + (negative ? 1 : 0);
    lua_Unsigned value = 0;
    for (; s < n->end; s++) {
        if (*s == '_')
            continue;
        lua_Unsigned digit = (lua_Unsigned)digit_value(*s, base);
        if (value > (limit - digit) / (lua_Unsigned)base)
            fail_number(n, n->token, "value out of the 64-bit integer range");
        value = value * (lua_Unsigned)base + digit;
    }
    if (!negative)
        return (lua_Integer)value;
    return value > (lua_Unsigned)LUA_MAXINTEGER ? LUA_MININTEGER : -(lua_Integer)value;
}

static void push_float(const struct number *n) {
    lua_State *L = n->P->L;
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    for (const char *s = n->token; s < n->end; s++) {
        if (*s != '_')
            luaL_addchar(&b, *s);
    }
    luaL_pushresult(&b);
    /* Lua's own conversion, so the locale's decimal point cannot get in the way. */
    if (lua_stringtonumber(L, lua_tostring(L, -1)) == 0)
        fail_number(n, n->token, "invalid float");
    lua_remove(L, -2);
}

static void push_number(struct toml_parser *P, const char *token, const char *end) {
    const struct number n = {P, token, end};
    lua_State *L = P->L;
    const char *s = token;
    int negative = 0;
    if (*s == '+' || *s == '-') {
        negative = *s == '-';
        s++;
    }
    if (end - s == 3 && (memcmp(s, "inf", 3) == 0 || memcmp(s, "nan", 3) == 0)) {
        lua_Number value = s[0] == 'i' ? HUGE_VAL : (lua_Number)NAN;
        lua_pushnumber(L, negative ? -value : value);
        return;
    }
    if (end - s > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'o' || s[1] == 'b')) {
        int base = s[1] == 'x' ? 16 : s[1] == 'o' ? 8 : 2;
        if (s != token)
            fail_number(&n, token, "a sign on a hexadecimal, octal or binary integer");
        const char *digits_end = skip_digits(&n, s + 2, base);
        if (digits_end != end)
            fail_number(&n, digits_end, "unexpected character");
        lua_pushinteger(L, integer_value(&n, s + 2, base, 0));
        return;
    }
    const char *integer_end = skip_digits(&n, s, 10);
    if (*s == '0' && integer_end - s > 1)
        fail_number(&n, token, "leading zeros");
    if (integer_end == end) {
        lua_pushinteger(L, integer_value(&n, s, 10, negative));
        return;
    }
    const char *rest = integer_end;
    if (*rest == '.')
        rest = skip_digits(&n, rest + 1, 10);
    if (rest < end && (*rest == 'e' || *rest == 'E')) {
        rest++;
        if (rest < end && (*rest == '+' || *rest == '-'))
            rest++;
        rest = skip_digits(&n, rest, 10);
    }
    if (rest != end || rest == integer_end)
        fail_number(&n, rest, "unexpected character");
    push_float(&n);
}

/* Reads exactly `count` digits at *s; -1 when they are not all there. */
static int read_digits(const char **s, const char *end, int count) {
    int value = 0;
    for (int i = 0; i < count; i++, (*s)++) {
        if (*s >= end || !is_digit(**s))
            return -1;
        value = value * 10 + (**s - '0');
    }
    return value;
}

static int read_char(const char **s, const char *end, char expected) {
    if (*s >= end || **s != expected)
        return 0;
    (*s)++;
    return 1;
}

static int days_in_month(int year, int month) {
    static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    return days[month - 1] + (month == 2 && leap);
}

/* YYYY-MM-DD; returns an error message or NULL. */
static const char *read_date(const char **s, const char *end) {
    int year = read_digits(s, end, 4);
    if (year < 0 || !read_char(s, end, '-'))
        return "malformed date";
    int month = read_digits(s, end, 2);
    if (month < 0 || !read_char(s, end, '-'))
        return "malformed date";
    int day = read_digits(s, end, 2);
    if (day < 0)
        return "malformed date";
    if (month < 1 || month > 12)
        return "month out of range";
    if (day < 1 || day > days_in_month(year, month))
        return "day out of range for its month";
    return NULL;
}

/* HH:MM:SS[.fraction]: TOML 1.0 requires the seconds. */
static const char *read_time(const char **s, const char *end) {
    int hour = read_digits(s, end, 2);
    if (hour < 0 || !read_char(s, end, ':'))
        return "malformed time (expected HH:MM:SS)";
    int minute = read_digits(s, end, 2);
    if (minute < 0 || !read_char(s, end, ':'))
        return "malformed time (expected HH:MM:SS)";
    int second = read_digits(s, end, 2);
    if (second < 0)
        return "malformed time (expected HH:MM:SS)";
    if (read_char(s, end, '.')) {
        if (*s >= end || !is_digit(**s))
            return "expected digits after the decimal point of the seconds";
        while (*s < end && is_digit(**s))
            (*s)++;
    }
    if (hour > 23 || minute > 59 || second > 60) /* 60: a leap second */
        return "time out of range";
    return NULL;
}

/* Z or +HH:MM / -HH:MM. */
static const char *read_offset(const char **s, const char *end) {
    if (read_char(s, end, 'Z') || read_char(s, end, 'z'))
        return NULL;
    if (!read_char(s, end, '+') && !read_char(s, end, '-'))
        return "malformed date-time";
    int hours = read_digits(s, end, 2);
    if (hours < 0 || !read_char(s, end, ':'))
        return "malformed time offset";
    int minutes = read_digits(s, end, 2);
    if (minutes < 0)
        return "malformed time offset";
    if (hours > 23 || minutes > 59)
        return "time offset out of range";
    return NULL;
}

static int looks_like_date(const char *s, const char *end) {
    return end - s >= 5 && is_digit(s[0]) && is_digit(s[1]) && is_digit(s[2]) && is_digit(s[3]) &&
           s[4] == '-';
}

static int looks_like_time(const char *s, const char *end) {
    return end - s >= 3 && is_digit(s[0]) && is_digit(s[1]) && s[2] == ':';
}

static void push_datetime(struct toml_parser *P, const char *token, const char *end) {
    lua_State *L = P->L;
    const char *s = token;
    const char *kind = "time-local";
    const char *error;
    if (looks_like_date(token, end)) {
        kind = "date-local";
        error = read_date(&s, end);
        if (!error && s < end) {
            kind = "datetime-local";
            if (*s == 'T' || *s == 't' || *s == ' ') {
                s++;
                error = read_time(&s, end);
            } else {
                error = "malformed date-time";
            }
            if (!error && s < end) {
                kind = "datetime";
                error = read_offset(&s, end);
            }
        }
    } else {
        error = read_time(&s, end);
    }
    if (!error && s != end)
        error = "malformed date-time";
    if (error) {
        lua_pushlstring(L, token, (size_t)(end - token));
        toml_fail(P, token, "%s in '%s'", error, lua_tostring(L, -1));
    }
    lua_createtable(L, 0, 2);
    lua_pushstring(L, kind);
    lua_setfield(L, -2, "kind");
    /* RFC 3339 spelling: 'T' between date and time, upper-case 'Z'. */
    luaL_Buffer text;
    luaL_buffinit(L, &text);
    for (s = token; s < end; s++) {
        char c = *s;
        luaL_addchar(&text, c == 't' || c == ' ' ? 'T' : c == 'z' ? 'Z' : c);
    }
    luaL_pushresult(&text);
    lua_setfield(L, -2, "text");
    lua_pushvalue(L, P->datetime_mt);
    lua_setmetatable(L, -2);
}

void toml_push_number_or_datetime(struct toml_parser *P) {
    const char *token = P->p;
    const char *end = token;
    while (is_token_char(*end))
        end++;
    /* A space may separate date and time: "1979-05-27 07:32:00". */
    if (end - token == 10 && looks_like_date(token, end) && end[0] == ' ' && is_digit(end[1])) {
        end++;
        while (is_token_char(*end))
            end++;
    }
    P->p = end;
    if (looks_like_date(token, end) || looks_like_time(token, end))
        push_datetime(P, token, end);
    else
        push_number(P, token, end);
}
