/* lambda.histogram: a high-dynamic-range latency histogram (the HdrHistogram idea, written
 * for this project) for load runs, which record every invocation's latency, report
 * percentiles and merge the histograms of several machines into one summary.
 *
 *   histogram.new()              -> h: empty; all the memory h will ever use (184 KiB)
 *   histogram.decode(text)       -> h | nil, message, "input"
 *   histogram.highest            the highest trackable value, 4294.967295 (seconds)
 *   h:record(seconds [, count])  records count values (an integer >= 1, default 1)
 *   h:count(), h:clamped()       values recorded; how many of them were above the range
 *   h:min(), h:max()             the smallest and largest values, exactly as recorded
 *   h:mean(), h:stddev()         mean and population standard deviation
 *   h:percentile(p)              the value at or below which p% of the values fall
 *   h:merge(other)               adds other's values to h (other is unchanged; may be h)
 *   h:reset()                    empties h
 *   h:encode()                   -> text: printable ASCII, for a JSON payload
 *   h:buckets()                  -> {{upper_seconds, count}, ...}: the buckets holding values,
 *                                   in increasing order, with the highest value each stands for
 *
 * Values are seconds, like every duration of the library, kept as whole microseconds (the
 * nearest). Range: 0 to 4294.967295 s (2^32 - 1 µs, 1 h 11 min 35 s). A value above it is
 * recorded as that highest value and counted in h:clamped(), so the count stays right and
 * max() shows the clamp. Precision: 3 significant decimal digits. Below 2,048 µs every
 * microsecond has its bucket; above, buckets are at most 1/1024 of their values wide (see
 * hdr.h for the layout: 23,552 buckets of 64-bit counts). A percentile is therefore within
 * 0.1% (or 1 µs) of the exact one; min() and max() are exact.
 *
 * percentile(p) is HdrHistogram's nearest rank: the value of rank ceil(p / 100 * count) in
 * sorted order (at least 1; a p written as a decimal, such as 99.9, is taken as that decimal).
 * It reports the highest value of the bucket holding that value, as HdrHistogram does, but
 * never above max() nor below min(): percentile(0) is min() and percentile(100) is max().
 * mean() and stddev() count each value as the middle of its bucket (the mean kept within
 * [min, max]): each value is off by at most half a bucket.
 *
 * An empty histogram: count() and clamped() are 0; min, max, mean, stddev and percentile
 * return nil. Misuse raises: a value that is not a number (strings included), NaN, infinite
 * or negative; a count that is not an integer >= 1; p not a number from 0 to 100; a total
 * over 2^63 - 1 from record or merge (nothing is recorded then).
 *
 * The text form (codec.h) is base64 of a versioned binary layout of the non-zero counts with
 * the total, the clamped count, min and max. decode() takes only what encode() writes and
 * checks all of it (counts adding up, min and max in their buckets); anything else is
 * nil, "invalid histogram text: <why>", "input". A text that decodes encodes to itself.
 *
 * Cost of h:record(seconds), on the project's 2-core machine: 54-60 ns a call from Lua, of
 * which a method call doing nothing (h:count()) takes 46-50 ns (bench/histogram.lua); the C
 * function underneath, hdr_record, 2.6-2.8 ns. */
#include <lauxlib.h>
#include <stdint.h>

#include "common/luax.h"
#include "histogram/codec.h"
#include "histogram/hdr.h"
#include "host/modules.h"

#define HISTOGRAM_TYPE "lambda.histogram"

static struct hdr *check_histogram(lua_State *L, int index) {
    return luaL_checkudata(L, index, HISTOGRAM_TYPE);
}

/* A number, and not a string that converts to one (luaL_checknumber would take "1"). */
static lua_Number check_number(lua_State *L, int index) {
    luaL_checktype(L, index, LUA_TNUMBER);
    return lua_tonumber(L, index);
}

static struct hdr *push_histogram(lua_State *L) {
    struct hdr *h = lua_newuserdatauv(L, sizeof *h, 0);
    hdr_reset(h);
    luaL_setmetatable(L, HISTOGRAM_TYPE);
    return h;
}

/* histogram.new() -> h */
static int histogram_new(lua_State *L) {
    push_histogram(L);
    return 1;
}

/* histogram.decode(text) -> h | nil, message, "input" */
static int histogram_decode(lua_State *L) {
    luaL_checktype(L, 1, LUA_TSTRING);
    size_t length;
    const char *text = lua_tolstring(L, 1, &length);
    struct hdr *h = push_histogram(L);
    char error[200];
    if (!hdr_decode(h, text, length, error, sizeof error))
        return luax_push_failure(L, "input", error);
    return 1;
}

/* h:record(seconds [, count]) */
static int histogram_record(lua_State *L) {
    struct hdr *h = check_histogram(L, 1);
    double seconds = check_number(L, 2);
    lua_Integer count = 1;
    if (!lua_isnoneornil(L, 3)) {
        check_number(L, 3);
        count = luaL_checkinteger(L, 3);
        luaL_argcheck(L, count >= 1, 3, "must be an integer >= 1");
    }
    switch (hdr_record(h, seconds, (uint64_t)count)) {
    case HDR_RECORDED:
        return 0;
    case HDR_BAD_VALUE:
        return luaL_argerror(L, 2, "must be a finite number of seconds >= 0");
    case HDR_BAD_COUNT:
        return luaL_argerror(L, 3, "must be an integer >= 1");
    case HDR_TOO_MANY:
        break;
    }
    return luaL_error(L, "histogram: record would take the count over 2^63 - 1");
}

static int histogram_count(lua_State *L) {
    lua_pushinteger(L, (lua_Integer)check_histogram(L, 1)->total);
    return 1;
}

static int histogram_clamped(lua_State *L) {
    lua_pushinteger(L, (lua_Integer)check_histogram(L, 1)->clamped);
    return 1;
}

/* The statistics below are nil for an empty histogram. */
static int push_statistic(lua_State *L, double (*statistic)(const struct hdr *)) {
    const struct hdr *h = check_histogram(L, 1);
    if (h->total == 0)
        luaL_pushfail(L);
    else
        lua_pushnumber(L, statistic(h));
    return 1;
}

static double min_of(const struct hdr *h) {
    return h->min;
}

static double max_of(const struct hdr *h) {
    return h->max;
}

static int histogram_min(lua_State *L) {
    return push_statistic(L, min_of);
}

static int histogram_max(lua_State *L) {
    return push_statistic(L, max_of);
}

static int histogram_mean(lua_State *L) {
    return push_statistic(L, hdr_mean);
}

static int histogram_stddev(lua_State *L) {
    return push_statistic(L, hdr_stddev);
}

/* h:percentile(p) -> seconds | nil */
static int histogram_percentile(lua_State *L) {
    const struct hdr *h = check_histogram(L, 1);
    double p = check_number(L, 2);
    luaL_argcheck(L, p >= 0 && p <= 100, 2, "must be a percentile from 0 to 100");
    if (h->total == 0)
        luaL_pushfail(L);
    else
        lua_pushnumber(L, hdr_percentile(h, p));
    return 1;
}

/* h:merge(other) */
static int histogram_merge(lua_State *L) {
    struct hdr *h = check_histogram(L, 1);
    if (!hdr_merge(h, check_histogram(L, 2)))
        return luaL_error(L, "histogram: merge would take the count over 2^63 - 1");
    return 0;
}

static int histogram_reset(lua_State *L) {
    hdr_reset(check_histogram(L, 1));
    return 0;
}

/* h:encode() -> text */
static int histogram_encode(lua_State *L) {
    const struct hdr *h = check_histogram(L, 1);
    size_t length = hdr_text_length(h);
    luaL_Buffer buffer;
    char *text = luaL_buffinitsize(L, &buffer, length);
    hdr_encode(h, text);
    luaL_pushresultsize(&buffer, length);
    return 1;
}

/* h:buckets() -> {{upper_seconds, count}, ...} */
static int histogram_buckets(lua_State *L) {
    const struct hdr *h = check_histogram(L, 1);
    lua_newtable(L);
    if (h->total == 0)
        return 1;
    lua_Integer n = 0;
    for (uint32_t slot = hdr_first_slot(h), last = hdr_last_slot(h); slot <= last; slot++) {
        if (h->counts[slot] == 0)
            continue;
        lua_createtable(L, 2, 0);
        lua_pushnumber(L, (double)hdr_slot_highest(slot) / 1e6);
        lua_rawseti(L, -2, 1);
        lua_pushinteger(L, (lua_Integer)h->counts[slot]);
        lua_rawseti(L, -2, 2);
        lua_rawseti(L, -2, ++n);
    }
    return 1;
}

static int histogram_tostring(lua_State *L) {
    const struct hdr *h = check_histogram(L, 1);
    lua_pushfstring(L, "histogram (%I values)", (LUAI_UACINT)h->total);
    return 1;
}

static const luaL_Reg histogram_methods[] = {
    {"record", histogram_record},
    {"count", histogram_count},
    {"clamped", histogram_clamped},
    {"min", histogram_min},
    {"max", histogram_max},
    {"mean", histogram_mean},
    {"stddev", histogram_stddev},
    {"percentile", histogram_percentile},
    {"merge", histogram_merge},
    {"reset", histogram_reset},
    {"encode", histogram_encode},
    {"buckets", histogram_buckets},
    {NULL, NULL},
};

static const luaL_Reg histogram_metamethods[] = {
    {"__tostring", histogram_tostring},
    {NULL, NULL},
};

static const luaL_Reg histogram_functions[] = {
    {"new", histogram_new},
    {"decode", histogram_decode},
    {NULL, NULL},
};

int luaopen_lambda_histogram(lua_State *L) {
    luax_new_class(L, HISTOGRAM_TYPE, histogram_metamethods, histogram_methods);
    luaL_newlib(L, histogram_functions);
    lua_pushnumber(L, HDR_HIGHEST_SECONDS);
    lua_setfield(L, -2, "highest");
    return 1;
}
