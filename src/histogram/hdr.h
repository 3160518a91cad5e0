/* The high-dynamic-range histogram behind lambda.histogram, without Lua: a fixed log-linear
 * layout of counts over whole microseconds, recorded without allocating (the caller owns the
 * struct), with the exact min and max beside it. histogram.c documents the behaviour users
 * see; this header documents the layout.
 *
 * Layout. A value is a whole number of microseconds v, 0 <= v <= HDR_HIGHEST_US. Values below
 * 2048 have a slot each. Above, v's highest set bit is bit 10 + k (k >= 1) and the slot is
 * picked by v's top 11 bits, so the 1024 slots of [1024 << k, 2048 << k) are 2^k µs wide: at
 * most 1/1024 of any value they hold, which keeps 3 significant decimal digits
 * (HdrHistogram's idea: linear sub-buckets inside power-of-two buckets). With
 * k = max(0, msb(v) - 10) the slot is k * 1024 + (v >> k), which numbers the slots 0, 1, ...
 * without a gap. The top value, 2^32 - 1 µs (4294.967295 s, 1 h 11 min 35 s), is in slot
 * 21 * 1024 + 2047, so there are 23,552 slots. */
#ifndef CLC_HISTOGRAM_HDR_H
#define CLC_HISTOGRAM_HDR_H

#include <stdbool.h>
#include <stdint.h>

#define HDR_SUB_BITS 10                     /* 1024 slots per power of two above 2047 µs */
#define HDR_HALF_COUNT (1u << HDR_SUB_BITS) /* 1024 */
#define HDR_HIGHEST_US UINT64_C(4294967295) /* 2^32 - 1 µs */
#define HDR_SLOTS (23u * HDR_HALF_COUNT)    /* HDR_HIGHEST_US is in slot 23 * 1024 - 1 */
#define HDR_HIGHEST_SECONDS 4294.967295     /* HDR_HIGHEST_US in seconds */
/* Counts are Lua integers to a script, so the total stays at or below 2^63 - 1. */
#define HDR_MAX_TOTAL ((uint64_t)INT64_MAX)

struct hdr {
    uint64_t total;   /* values recorded, the clamped ones included */
    uint64_t clamped; /* values above HDR_HIGHEST_SECONDS, recorded as that value */
    double min;       /* the smallest and largest values recorded, in seconds, exactly as */
    double max;       /* given (after clamping); 0 while total is 0 */
    uint64_t counts[HDR_SLOTS];
};

/* The slot of v microseconds (v <= HDR_HIGHEST_US). */
static inline uint32_t hdr_slot_of(uint64_t v) {
    unsigned shift = (unsigned)(63 - __builtin_clzll(v | (2 * HDR_HALF_COUNT - 1))) - HDR_SUB_BITS;
    return (uint32_t)(shift << HDR_SUB_BITS) + (uint32_t)(v >> shift);
}

/* The microseconds a value of seconds (>= 0) counts as: rounded to the nearest microsecond,
 * at most HDR_HIGHEST_US (the test comes first: converting a double beyond uint64_t's range
 * is undefined). */
static inline uint64_t hdr_us_of(double seconds) {
    double us = seconds * 1e6 + 0.5;
    return us < (double)HDR_HIGHEST_US ? (uint64_t)us : HDR_HIGHEST_US;
}

/* The lowest and highest microseconds that share slot. */
uint64_t hdr_slot_lowest(uint32_t slot);
uint64_t hdr_slot_highest(uint32_t slot);

void hdr_reset(struct hdr *h);

enum hdr_record_result { HDR_RECORDED, HDR_BAD_VALUE, HDR_BAD_COUNT, HDR_TOO_MANY };

/* Records count (>= 1) values of seconds: HDR_BAD_VALUE for NaN, infinity or a negative
 * value, HDR_BAD_COUNT for count 0, HDR_TOO_MANY when the total would pass HDR_MAX_TOTAL
 * (nothing is recorded then). A value above HDR_HIGHEST_SECONDS is recorded as that value
 * and counted in h->clamped. */
enum hdr_record_result hdr_record(struct hdr *h, double seconds, uint64_t count);

/* Adds other's counts to h (other may be h); false, with h unchanged, when the total would
 * pass HDR_MAX_TOTAL. */
bool hdr_merge(struct hdr *h, const struct hdr *other);

/* The value at percentile (0 to 100) in seconds: the nearest-rank value, i.e. the value of
 * rank ceil(percentile / 100 * total) in sorted order, reported as the highest value of its
 * slot, kept within [min, max]; 0 gives min and 100 max. h must not be empty. */
double hdr_percentile(const struct hdr *h, double percentile);

/* The rank (1 to total) the percentile above is the value of; h must not be empty. */
uint64_t hdr_rank(double percentile, uint64_t total);

/* Mean and population standard deviation in seconds, each value counted as the middle of
 * its slot (the mean kept within [min, max]); h must not be empty. */
double hdr_mean(const struct hdr *h);
double hdr_stddev(const struct hdr *h);

/* The first and last slots holding a value (h not empty): the slots of min and max. */
uint32_t hdr_first_slot(const struct hdr *h);
uint32_t hdr_last_slot(const struct hdr *h);

#endif
