/* The arithmetic of the histogram layout (hdr.h): recording, merging, percentiles, mean and
 * standard deviation. Nothing here allocates. */
#include "histogram/hdr.h"

#include <float.h>
#include <math.h>
#include <string.h>

/* A slot's power of two: slots below 2048 are 1 µs wide; slot s >= 2048 is 2^(s/1024 - 1) µs
 * wide (the inverse of hdr_slot_of). */
static unsigned slot_shift(uint32_t slot) {
    unsigned power = slot >> HDR_SUB_BITS;
    return power == 0 ? 0 : power - 1;
}

uint64_t hdr_slot_lowest(uint32_t slot) {
    unsigned shift = slot_shift(slot);
    return (uint64_t)(slot - (shift << HDR_SUB_BITS)) << shift;
}

uint64_t hdr_slot_highest(uint32_t slot) {
    return hdr_slot_lowest(slot) + (UINT64_C(1) << slot_shift(slot)) - 1;
}

void hdr_reset(struct hdr *h) {
    memset(h, 0, sizeof *h);
}

enum hdr_record_result hdr_record(struct hdr *h, double seconds, uint64_t count) {
    if (!(seconds >= 0) || isinf(seconds)) /* NaN fails the comparison */
        return HDR_BAD_VALUE;
    if (count == 0)
        return HDR_BAD_COUNT;
    if (count > HDR_MAX_TOTAL - h->total)
        return HDR_TOO_MANY;
    seconds += 0.0; /* -0.0 becomes 0.0, so that min() never shows a sign */
    if (seconds > HDR_HIGHEST_SECONDS) {
        seconds = HDR_HIGHEST_SECONDS;
        h->clamped += count;
    }
    h->counts[hdr_slot_of(hdr_us_of(seconds))] += count;
    if (h->total == 0) {
        h->min = h->max = seconds;
    } else if (seconds < h->min) {
        h->min = seconds;
    } else if (seconds > h->max) {
        h->max = seconds;
    }
    h->total += count;
    return HDR_RECORDED;
}

bool hdr_merge(struct hdr *h, const struct hdr *other) {
    if (other->total > HDR_MAX_TOTAL - h->total)
        return false;
    if (other->total == 0)
        return true;
    /* Reading other's fields before writing h's keeps h:merge(h) right. */
    double min = other->min, max = other->max;
    if (h->total == 0 || min < h->min)
        h->min = min;
    if (h->total == 0 || max > h->max)
        h->max = max;
    for (uint32_t slot = hdr_first_slot(other), last = hdr_last_slot(other); slot <= last; slot++)
        h->counts[slot] += other->counts[slot];
    h->total += other->total;
    h->clamped += other->clamped;
    return true;
}

uint32_t hdr_first_slot(const struct hdr *h) {
    return hdr_slot_of(hdr_us_of(h->min));
}

uint32_t hdr_last_slot(const struct hdr *h) {
    return hdr_slot_of(hdr_us_of(h->max));
}

uint64_t hdr_rank(double percentile, uint64_t total) {
    double exact = percentile / 100.0 * (double)total;
    double whole = floor(exact);
    /* A percentile such as 99.9 is a decimal no double holds: 99.9 / 100 * 1,000,000 comes
     * out as 999000.0000000001, which must stay rank 999,000 rather than take the next value.
     * The three roundings (the decimal, the division, the product) move it by less than
     * exact * 4 * DBL_EPSILON. (Past 2^50 values, a rank is only as exact as a double.) */
    double rank = exact - whole <= exact * 4 * DBL_EPSILON ? whole : whole + 1;
    if (!(rank >= 1)) /* NaN too: converting it would be undefined */
        return 1;
    if (rank >= (double)total)
        return total;
    return (uint64_t)rank;
}

double hdr_percentile(const struct hdr *h, double percentile) {
    if (!(percentile > 0)) /* NaN too */
        return h->min;
    uint64_t rank = hdr_rank(percentile, h->total);
    uint32_t last = hdr_last_slot(h);
    uint32_t slot = hdr_first_slot(h);
    uint64_t seen = h->counts[slot];
    while (seen < rank && slot < last)
        seen += h->counts[++slot];
    /* Every value of the slot is equivalent; the highest is reported, but never beyond the
     * exact extremes (the first and last slots hold min and max). */
    double value = (double)hdr_slot_highest(slot) / 1e6;
    if (value > h->max)
        return h->max;
    if (value < h->min)
        return h->min;
    return value;
}

/* The value a slot's counts stand for in the mean: the middle of the whole microseconds it
 * holds (the value itself in the 1 µs slots). */
static double slot_middle(uint32_t slot) {
    return ((double)hdr_slot_lowest(slot) + (double)hdr_slot_highest(slot)) / 2 / 1e6;
}

/* The mean of the slots' middles, not yet kept within [min, max]. */
static double middle_mean(const struct hdr *h) {
    double sum = 0;
    for (uint32_t slot = hdr_first_slot(h), last = hdr_last_slot(h); slot <= last; slot++)
        if (h->counts[slot])
            sum += (double)h->counts[slot] * slot_middle(slot);
    return sum / (double)h->total;
}

double hdr_mean(const struct hdr *h) {
    double mean = middle_mean(h);
    return mean < h->min ? h->min : mean > h->max ? h->max : mean;
}

/* Around the middles' own mean, so that values sharing one slot deviate by 0. */
double hdr_stddev(const struct hdr *h) {
    double mean = middle_mean(h), squares = 0;
    for (uint32_t slot = hdr_first_slot(h), last = hdr_last_slot(h); slot <= last; slot++) {
        if (h->counts[slot]) {
            double deviation = slot_middle(slot) - mean;
            squares += (double)h->counts[slot] * deviation * deviation;
        }
    }
    return sqrt(squares / (double)h->total);
}
