/* Unit tests of lambda.histogram's core (src/histogram/hdr.c, codec.c): the layout, percentiles
 * against a sorted-array oracle on a million random values from several distributions, merge
 * against recording everything in one histogram, the text round trip, and recording without
 * allocating. The decoder's refusals are in test_histogram_decode.c. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "histogram/codec.h"
#include "histogram/hdr.h"
#include "host/modules.h"

#define VALUES 1000000
#define PI 3.14159265358979323846

/* splitmix64: a fixed seed makes every run draw the same values. */
static uint64_t random_state = UINT64_C(0x9e3779b97f4a7c15);

static uint64_t next_random(void) {
    uint64_t z = (random_state += UINT64_C(0x9e3779b97f4a7c15));
    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}

/* Uniform in (0, 1). */
static double uniform(void) {
    return ((double)(next_random() >> 11) + 0.5) / 9007199254740992.0;
}

static double normal(double mean, double deviation) {
    return mean + deviation * sqrt(-2 * log(uniform())) * cos(2 * PI * uniform());
}

/* The distributions, in seconds, all within 1 µs to 1 hour but the exponential's smallest
 * values (below 1 µs, recorded as 0 µs). */
static double draw_uniform(void) {
    return 1e-6 + uniform() * (3600 - 1e-6);
}

static double draw_log_uniform(void) {
    return exp(log(1e-6) + uniform() * (log(3600) - log(1e-6)));
}

static double draw_exponential(void) {
    return -0.02 * log(uniform()); /* mean 20 ms */
}

static double draw_bimodal(void) {
    /* A warm path around 5 ms and cold starts around 800 ms. */
    double value = uniform() < 0.9 ? normal(0.005, 0.001) : normal(0.8, 0.1);
    return fabs(value);
}

static int compare_doubles(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The percentiles checked, as decimals num / den, and the oracle's nearest rank for them:
 * ceil(num / den / 100 * n) in exact integers. */
static const struct {
    uint64_t num, den;
} percentiles[] = {{1, 10}, {1, 1},  {10, 1},   {25, 1},     {50, 1},       {75, 1},
                   {90, 1}, {99, 1}, {999, 10}, {9999, 100}, {99999, 1000}, {100, 1}};

static uint64_t oracle_rank(uint64_t num, uint64_t den, uint64_t n) {
    uint64_t rank = (num * n + den * 100 - 1) / (den * 100);
    return rank == 0 ? 1 : rank;
}

static int same_slot(double a, double b) {
    return hdr_slot_of(hdr_us_of(a)) == hdr_slot_of(hdr_us_of(b));
}

static void test_layout(void) {
    CHECK(sizeof(struct hdr) == 188448); /* 23,552 counts and 4 fields, allocated by new() */
    CHECK(hdr_slot_of(0) == 0);
    CHECK(hdr_slot_of(HDR_HIGHEST_US) == HDR_SLOTS - 1);
    CHECK(hdr_slot_highest(HDR_SLOTS - 1) == HDR_HIGHEST_US);
    CHECK(HDR_HIGHEST_US >= UINT64_C(3600000000));
    int ok = 1;
    for (uint32_t slot = 0; slot < HDR_SLOTS && ok; slot++) {
        uint64_t low = hdr_slot_lowest(slot), high = hdr_slot_highest(slot);
        ok = check_that(hdr_slot_of(low) == slot && hdr_slot_of(high) == slot,
                        "slot %u: its bounds map elsewhere", slot) &&
             check_that(slot == 0 || hdr_slot_highest(slot - 1) + 1 == low,
                        "slot %u: a gap or overlap below it", slot) &&
             /* 3 significant digits: a slot is at most 1/1024 of its values wide. */
             check_that(low < 2048 ? high == low : (high - low + 1) * 1024 <= low,
                        "slot %u is too wide", slot);
    }
    /* Rounding to the nearest microsecond, and the clamp of the conversion. */
    CHECK(hdr_us_of(0.0000014) == 1 && hdr_us_of(0.0000015) == 2);
    CHECK(hdr_us_of(HDR_HIGHEST_SECONDS) == HDR_HIGHEST_US);
    CHECK(hdr_us_of(1e300) == HDR_HIGHEST_US);
}

/* hdr_rank takes a percentile written as a decimal as that decimal: the naive
 * ceil(99.9 / 100 * 1000000) is 999001. */
static void test_rank(void) {
    int ok = 1;
    for (uint64_t n = 1; n <= 3000 && ok; n++)
        for (size_t i = 0; i < sizeof percentiles / sizeof *percentiles && ok; i++) {
            double p = (double)percentiles[i].num / (double)percentiles[i].den;
            uint64_t want = oracle_rank(percentiles[i].num, percentiles[i].den, n);
            ok = check_that(hdr_rank(p, n) == want, "rank of %g%% of %llu: %llu, want %llu", p,
                            (unsigned long long)n, (unsigned long long)hdr_rank(p, n),
                            (unsigned long long)want);
        }
    CHECK(hdr_rank(99.9, 1000000) == 999000);
    CHECK(hdr_rank(99.99, 1000000) == 999900);
    CHECK(hdr_rank(0, 10) == 1 && hdr_rank(100, 10) == 10 && hdr_rank(50, 1) == 1);
    CHECK(hdr_rank(NAN, 10) == 1 && hdr_rank(-5, 10) == 1 && hdr_rank(1e300, 10) == 10);
    CHECK(hdr_rank(50, HDR_MAX_TOTAL) >= UINT64_C(4611686018427387000));
}

/* Values 1..1000 µs each have a slot of their own, so every percentile is exact. */
static void test_exact_small_values(struct hdr *h) {
    hdr_reset(h);
    for (int us = 1000; us >= 1; us--)
        CHECK(hdr_record(h, us / 1e6, 1) == HDR_RECORDED);
    CHECK(h->total == 1000 && h->min == 1e-6 && h->max == 1e-3);
    CHECK(hdr_percentile(h, 0) == 1e-6);
    CHECK(hdr_percentile(h, 50) == 500e-6);
    CHECK(hdr_percentile(h, 99.9) == 999e-6);
    CHECK(hdr_percentile(h, 99.95) == 1e-3);
    CHECK(hdr_percentile(h, 100) == 1e-3);
    CHECK(fabs(hdr_mean(h) - 500.5e-6) < 1e-15);
    CHECK(fabs(hdr_stddev(h) - sqrt((1000.0 * 1000 - 1) / 12) * 1e-6) < 1e-12);
    /* One value, in a wide slot: every statistic is that value, and no spread. */
    hdr_reset(h);
    hdr_record(h, 3.0000007, 5);
    CHECK(hdr_percentile(h, 50) == 3.0000007 && hdr_mean(h) == 3.0000007 && hdr_stddev(h) == 0);
}

/* The histogram of values against the values sorted: counts, exact min and max, every
 * percentile in the same slot as the oracle's value and within 0.1% (or 1 µs) of it. */
static void check_against_oracle(const char *name, const struct hdr *h, const double *sorted,
                                 size_t n) {
    check_that(h->total == n && h->clamped == 0, "%s: total %llu", name,
               (unsigned long long)h->total);
    check_that(h->min == sorted[0] && h->max == sorted[n - 1], "%s: min %.17g max %.17g", name,
               h->min, h->max);
    for (size_t i = 0; i < sizeof percentiles / sizeof *percentiles; i++) {
        double p = (double)percentiles[i].num / (double)percentiles[i].den;
        double want = sorted[oracle_rank(percentiles[i].num, percentiles[i].den, n) - 1];
        double got = hdr_percentile(h, p);
        check_that(same_slot(got, want) && fabs(got - want) <= fmax(want * 1e-3, 1e-6),
                   "%s: p%g is %.9g, the oracle's %.9g", name, p, got, want);
    }
    check_that(hdr_percentile(h, 0) == sorted[0] && hdr_percentile(h, 100) == sorted[n - 1],
               "%s: p0 and p100 are not min and max", name);
    double sum = 0, squares = 0;
    for (size_t i = 0; i < n; i++)
        sum += sorted[i];
    double mean = sum / (double)n;
    for (size_t i = 0; i < n; i++)
        squares += (sorted[i] - mean) * (sorted[i] - mean);
    double stddev = sqrt(squares / (double)n);
    /* Each value moves by at most half a slot (< 1/2048 of it) plus the rounding to 1 µs. */
    double rms = sqrt(squares / (double)n + mean * mean);
    check_that(fabs(hdr_mean(h) - mean) <= mean * 1e-3 + 1e-6, "%s: mean %.9g, exact %.9g", name,
               hdr_mean(h), mean);
    check_that(fabs(hdr_stddev(h) - stddev) <= rms * 1e-3 + 2e-6, "%s: stddev %.9g, exact %.9g",
               name, hdr_stddev(h), stddev);
}

static int same_histogram(const struct hdr *a, const struct hdr *b) {
    return memcmp(a, b, sizeof *a) == 0;
}

/* encode, decode, encode: the same histogram and the same text. */
static void check_round_trip(const char *name, const struct hdr *h, struct hdr *scratch) {
    size_t length = hdr_text_length(h);
    char *text = malloc(length + 1), *again = malloc(length + 1);
    if (!text || !again) {
        fputs("out of memory\n", stderr);
        exit(EXIT_FAILURE);
    }
    hdr_encode(h, text);
    int printable = 1;
    for (size_t i = 0; i < length; i++)
        printable &= text[i] > ' ' && text[i] < 127 && text[i] != '"' && text[i] != '\\';
    check_that(printable, "%s: the text is not printable ASCII for JSON", name);
    char error[200];
    if (check_that(hdr_decode(scratch, text, length, error, sizeof error), "%s: %s", name, error)) {
        check_that(same_histogram(h, scratch), "%s: decode(encode(h)) differs from h", name);
        check_that(hdr_text_length(scratch) == length, "%s: length differs", name);
        hdr_encode(scratch, again);
        check_that(memcmp(text, again, length) == 0, "%s: the text changed", name);
    }
    free(text);
    free(again);
}

/* Four "machines" record parts of the values; merged, they equal one histogram of them all. */
static void check_merge(const char *name, const double *values, size_t n, const struct hdr *whole,
                        struct hdr *parts) {
    size_t cuts[5] = {0, n / 7, n / 2, n / 2 + 1, n};
    for (int i = 0; i < 4; i++) {
        hdr_reset(&parts[i]);
        for (size_t j = cuts[i]; j < cuts[i + 1]; j++)
            hdr_record(&parts[i], values[j], 1);
    }
    for (int i = 1; i < 4; i++)
        CHECK(hdr_merge(&parts[0], &parts[i]));
    check_that(same_histogram(&parts[0], whole), "%s: merged parts differ from the whole", name);
    int same = 1;
    for (size_t i = 0; i < sizeof percentiles / sizeof *percentiles; i++) {
        double p = (double)percentiles[i].num / (double)percentiles[i].den;
        same &= hdr_percentile(&parts[0], p) == hdr_percentile(whole, p);
    }
    check_that(same, "%s: merged percentiles differ", name);
    /* Merging an empty histogram changes nothing; merging into one copies. */
    hdr_reset(&parts[1]);
    CHECK(hdr_merge(&parts[0], &parts[1]) && same_histogram(&parts[0], whole));
    CHECK(hdr_merge(&parts[1], whole) && same_histogram(&parts[1], whole));
}

static void test_distributions(struct hdr *h, struct hdr *scratch) {
    static const struct {
        const char *name;
        double (*draw)(void);
    } distributions[] = {{"uniform 1 µs-1 h", draw_uniform},
                         {"log-uniform 1 µs-1 h", draw_log_uniform},
                         {"exponential 20 ms", draw_exponential},
                         {"bimodal 5 ms / 800 ms", draw_bimodal}};
    double *values = malloc(VALUES * sizeof *values), *sorted = malloc(VALUES * sizeof *sorted);
    if (!values || !sorted) {
        fputs("out of memory\n", stderr);
        exit(EXIT_FAILURE);
    }
    for (size_t d = 0; d < sizeof distributions / sizeof *distributions; d++) {
        hdr_reset(h);
        for (size_t i = 0; i < VALUES; i++) {
            values[i] = distributions[d].draw();
            hdr_record(h, values[i], 1);
        }
        memcpy(sorted, values, VALUES * sizeof *values);
        qsort(sorted, VALUES, sizeof *sorted, compare_doubles);
        check_against_oracle(distributions[d].name, h, sorted, VALUES);
        check_merge(distributions[d].name, values, VALUES, h, scratch);
        check_round_trip(distributions[d].name, h, scratch);
    }
    free(values);
    free(sorted);
}

/* Values above the range: recorded as the highest value and counted. */
static void test_clamping(struct hdr *h, struct hdr *scratch) {
    hdr_reset(h);
    hdr_record(h, 0.25, 3);
    CHECK(hdr_record(h, 5000, 2) == HDR_RECORDED);
    CHECK(hdr_record(h, HDR_HIGHEST_SECONDS, 1) == HDR_RECORDED);
    CHECK(h->total == 6 && h->clamped == 2 && h->max == HDR_HIGHEST_SECONDS);
    CHECK(h->counts[HDR_SLOTS - 1] == 3);
    CHECK(hdr_percentile(h, 100) == HDR_HIGHEST_SECONDS && same_slot(hdr_percentile(h, 50), 0.25));
    check_round_trip("clamped", h, scratch);
    CHECK(hdr_record(h, -1e-9, 1) == HDR_BAD_VALUE && hdr_record(h, NAN, 1) == HDR_BAD_VALUE);
    CHECK(hdr_record(h, INFINITY, 1) == HDR_BAD_VALUE && hdr_record(h, 1, 0) == HDR_BAD_COUNT);
    CHECK(h->total == 6);
    /* -0.0 is recorded as 0.0: min() shows no sign and the text stays canonical. */
    hdr_reset(h);
    hdr_record(h, -0.0, 1);
    CHECK(h->min == 0 && !signbit(h->min));
    check_round_trip("zero", h, scratch);
}

/* The total stays a Lua integer: record and merge refuse to pass 2^63 - 1, changing nothing. */
static void test_overflow(struct hdr *h, struct hdr *other) {
    hdr_reset(h);
    CHECK(hdr_record(h, 1, HDR_MAX_TOTAL - 1) == HDR_RECORDED);
    CHECK(hdr_record(h, 2, 2) == HDR_TOO_MANY && h->total == HDR_MAX_TOTAL - 1);
    CHECK(hdr_record(h, 2, 1) == HDR_RECORDED && h->total == HDR_MAX_TOTAL && h->max == 2);
    hdr_reset(other);
    hdr_record(other, 3, 1);
    CHECK(!hdr_merge(h, other) && h->total == HDR_MAX_TOTAL && h->max == 2);
    CHECK(hdr_percentile(h, 100) == 2 && same_slot(hdr_percentile(h, 50), 1));
    check_round_trip("largest total", h, other);
}

/* lua_Alloc that counts the bytes in use. */
static void *counting_alloc(void *ud, void *block, size_t old_size, size_t new_size) {
    size_t *in_use = ud;
    if (block)
        *in_use -= old_size;
    if (new_size == 0) {
        free(block);
        return NULL;
    }
    void *moved = realloc(block, new_size);
    *in_use += moved ? new_size : (block ? old_size : 0);
    return moved;
}

static int bytes_in_use(lua_State *L) {
    lua_pushinteger(L, (lua_Integer) * (size_t *)lua_touserdata(L, lua_upvalueindex(1)));
    return 1;
}

/* new() allocates the whole histogram; recording, whatever the values, allocates nothing. */
static void test_fixed_memory(void) {
    size_t in_use = 0;
    lua_State *L = lua_newstate(counting_alloc, &in_use);
    luaL_openlibs(L);
    luaL_requiref(L, "lambda.histogram", luaopen_lambda_histogram, 0);
    lua_pushlightuserdata(L, &in_use);
    lua_pushcclosure(L, bytes_in_use, 1);
    check_lua(L, CHECK_HERE, "local histogram, in_use = ...\n" CHECK_LUA_HELPERS,
              "collectgarbage('stop')\n"
              "local before = in_use()\n"
              "local h = histogram.new()\n"
              "local size = in_use() - before\n"
              "assert(size >= 188448 and size < 188448 + 256, 'new() takes ' .. size)\n"
              "local x = 1e-6\n"
              "local function record(n)\n"
              "  for i = 1, n do\n"
              "    h:record(x)\n"
              "    x = x * 1.0001 % 5000\n"
              "  end\n"
              "  h:record(0.5, 1000)\n"
              "  h:record(1e9)\n"
              "end\n"
              /* The first calls may grow Lua's stack; from then on nothing may change. */
              "record(10)\n"
              "before = in_use()\n"
              "record(300000)\n"
              "eq(in_use(), before, 'bytes in use after 300,002 more records')\n"
              "eq(h:count(), 302012, 'count')\n"
              "eq(h:clamped() > 2, true, 'some values were clamped')\n",
              2);
    lua_close(L);
    CHECK(in_use == 0);
}

int main(void) {
    struct hdr *h = malloc(sizeof *h), *scratch = malloc(4 * sizeof *scratch);
    if (!h || !scratch) {
        fputs("out of memory\n", stderr);
        return EXIT_FAILURE;
    }
    test_layout();
    test_rank();
    test_exact_small_values(h);
    test_distributions(h, scratch);
    test_clamping(h, scratch);
    test_overflow(h, scratch);
    test_fixed_memory();
    free(h);
    free(scratch);
    return check_report("test_histogram");
}
