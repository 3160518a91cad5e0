/* libFuzzer target for lambda.histogram's decoder. Each input is decoded twice: as a text by
 * histogram.decode (the base64 layer), and, base64-encoded first, as a binary layout (so that
 * the fuzzer reaches the layout's checks without having to find base64 itself). Any crash,
 * sanitizer report or hang is a bug; so is a refusal that is not nil, "invalid histogram text:
 * ...", "input" on one line, a text that decodes but does not encode back to itself, and a
 * decoded histogram whose counts, percentiles or statistics disagree with each other. */
#include <lauxlib.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_lua.h"
#include "histogram/codec.h"
#include "histogram/hdr.h"
#include "host/modules.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* What a decoded histogram must satisfy: text is its encoding, the counts add up, the
 * percentiles climb from min to max, and merging it into itself doubles it. */
static void check_decoded(const struct hdr *h, const char *text, size_t length) {
    static struct hdr doubled;
    static char *again;
    static size_t again_size;
    if (hdr_text_length(h) != length)
        abort();
    if (again_size < length) {
        free(again);
        again = malloc(length);
        again_size = again ? length : 0;
        if (!again)
            abort();
    }
    hdr_encode(h, again);
    if (memcmp(again, text, length) != 0)
        abort();
    uint64_t sum = 0;
    for (uint32_t slot = 0; slot < HDR_SLOTS; slot++)
        sum += h->counts[slot];
    if (sum != h->total || h->clamped > h->total)
        abort();
    if (h->total == 0)
        return;
    static const double percentiles[] = {0, 0.001, 1, 50, 90, 99.9, 99.999, 100};
    double previous = h->min;
    for (size_t i = 0; i < sizeof percentiles / sizeof *percentiles; i++) {
        double value = hdr_percentile(h, percentiles[i]);
        if (!(value >= previous && value <= h->max))
            abort();
        previous = value;
    }
    if (hdr_percentile(h, 0) != h->min || hdr_percentile(h, 100) != h->max)
        abort();
    double mean = hdr_mean(h), stddev = hdr_stddev(h);
    if (!(mean >= h->min && mean <= h->max) || !(stddev >= 0) || isinf(stddev))
        abort();
    doubled = *h;
    bool merged = hdr_merge(&doubled, h);
    if (merged != (h->total <= HDR_MAX_TOTAL / 2))
        abort();
    if (merged && (doubled.total != 2 * h->total || doubled.min != h->min || doubled.max != h->max))
        abort();
    /* Doubling every count keeps the median, while the ranks stay exact in doubles. */
    if (merged && h->total < UINT64_C(1) << 52 &&
        hdr_percentile(&doubled, 50) != hdr_percentile(h, 50))
        abort();
}

/* The input as a text, through the Lua function. */
static void decode_text(const uint8_t *data, size_t size) {
    static const char *const functions[] = {"decode", NULL}; /* slot 1: histogram.decode */
    lua_State *L = fuzz_lua_state("lambda.histogram", luaopen_lambda_histogram, functions);
    lua_pushlstring(L, (const char *)data, size);
    fuzz_lua_call(L, 1, 1, 3);
    if (lua_isnil(L, -3)) {
        const char *message = lua_tostring(L, -2), *kind = lua_tostring(L, -1);
        if (!message || strncmp(message, "invalid histogram text: ", 24) != 0 ||
            strchr(message, '\n') || !kind || strcmp(kind, "input") != 0)
            abort();
        return;
    }
    if (!luaL_testudata(L, -3, "lambda.histogram") || !lua_isnil(L, -2))
        abort();
    check_decoded(lua_touserdata(L, -3), (const char *)data, size);
}

/* The input as a binary layout, base64-encoded first, through the C decoder. */
static void decode_layout(const uint8_t *data, size_t size) {
    static struct hdr h;
    size_t length = hdr_base64_length(size);
    char *text = malloc(length + 1);
    if (!text)
        abort();
    hdr_base64_encode(data, size, text);
    char error[200];
    if (hdr_decode(&h, text, length, error, sizeof error))
        check_decoded(&h, text, length);
    else if (strncmp(error, "invalid histogram text: ", 24) != 0)
        abort();
    free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    decode_text(data, size);
    decode_layout(data, size);
    return 0;
}
