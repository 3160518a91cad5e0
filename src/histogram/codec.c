/* The text form of a histogram (layout in codec.h). Encoding writes the binary layout through
 * a base64 writer straight into the caller's buffer; decoding reads the base64 a group at a
 * time into the caller's histogram, so neither needs memory beyond those two. */
#include "histogram/codec.h"

#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

_Static_assert(sizeof(double) == sizeof(uint64_t), "doubles travel as their 64 bits");

static const char base64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* Bytes in, base64 out: 3 bytes make 4 characters; flush pads the last group. */
struct base64_writer {
    char *out;
    uint32_t group;
    int bytes; /* in group */
};

static void write_byte(struct base64_writer *w, unsigned char byte) {
    w->group = w->group << 8 | byte;
    if (++w->bytes < 3)
        return;
    for (int shift = 18; shift >= 0; shift -= 6)
        *w->out++ = base64_alphabet[w->group >> shift & 63];
    w->group = 0;
    w->bytes = 0;
}

static void flush(struct base64_writer *w) {
    if (w->bytes == 0)
        return;
    uint32_t group = w->group << (8 * (3 - w->bytes));
    *w->out++ = base64_alphabet[group >> 18 & 63];
    *w->out++ = base64_alphabet[group >> 12 & 63];
    *w->out++ = w->bytes == 2 ? base64_alphabet[group >> 6 & 63] : '=';
    *w->out++ = '=';
}

size_t hdr_base64_length(size_t size) {
    return (size + 2) / 3 * 4;
}

void hdr_base64_encode(const unsigned char *bytes, size_t size, char *text) {
    struct base64_writer w = {text, 0, 0};
    for (size_t i = 0; i < size; i++)
        write_byte(&w, bytes[i]);
    flush(&w);
}

static size_t varint_length(uint64_t value) {
    size_t length = 1;
    while (value >= 128) {
        value >>= 7;
        length++;
    }
    return length;
}

static void write_varint(struct base64_writer *w, uint64_t value) {
    while (value >= 128) {
        write_byte(w, (unsigned char)(value & 127) | 128);
        value >>= 7;
    }
    write_byte(w, (unsigned char)value);
}

static void write_double(struct base64_writer *w, double value) {
    uint64_t bits;
    memcpy(&bits, &value, sizeof bits);
    for (int i = 0; i < 8; i++)
        write_byte(w, (unsigned char)(bits >> (8 * i)));
}

size_t hdr_text_length(const struct hdr *h) {
    size_t size = 2 + varint_length(h->total) + varint_length(h->clamped);
    if (h->total > 0) {
        size += 16;
        uint32_t next = 0;
        for (uint32_t slot = hdr_first_slot(h), last = hdr_last_slot(h); slot <= last; slot++) {
            if (h->counts[slot]) {
                size += varint_length(slot - next) + varint_length(h->counts[slot]);
                next = slot + 1;
            }
        }
    }
    return hdr_base64_length(size);
}

void hdr_encode(const struct hdr *h, char *text) {
    struct base64_writer w = {text, 0, 0};
    write_byte(&w, HDR_FORMAT_MAGIC);
    write_byte(&w, HDR_FORMAT_VERSION);
    write_varint(&w, h->total);
    write_varint(&w, h->clamped);
    if (h->total > 0) {
        write_double(&w, h->min);
        write_double(&w, h->max);
        uint32_t next = 0;
        for (uint32_t slot = hdr_first_slot(h), last = hdr_last_slot(h); slot <= last; slot++) {
            if (h->counts[slot]) {
                write_varint(&w, slot - next);
                write_varint(&w, h->counts[slot]);
                next = slot + 1;
            }
        }
    }
    flush(&w);
}

/* Base64 in, bytes out, one group of 4 characters at a time; the first problem is kept with
 * its message, and every read after it fails. */
struct reader {
    const unsigned char *text;
    size_t length;
    size_t next; /* the next group's first character */
    unsigned char group[3];
    int group_length; /* bytes the current group decoded to */
    int group_next;
    size_t offset; /* bytes read so far: where the next byte is in the binary layout */
    char *error;
    size_t error_size;
    bool failed;
};

__attribute__((format(printf, 2, 3))) static bool fail(struct reader *r, const char *format, ...) {
    if (r->failed)
        return false;
    r->failed = true;
    int written = snprintf(r->error, r->error_size, "invalid histogram text: ");
    va_list arguments;
    va_start(arguments, format);
    if (written >= 0 && (size_t)written < r->error_size)
        vsnprintf(r->error + written, r->error_size - (size_t)written, format, arguments);
    va_end(arguments);
    return false;
}

static int base64_value(unsigned char c) {
    const char *found = c ? strchr(base64_alphabet, c) : NULL;
    return found ? (int)(found - base64_alphabet) : -1;
}

/* Decodes the next group of 4 characters; strict RFC 4648: '=' only as the final group's
 * padding, zero bits under it. */
static bool read_group(struct reader *r) {
    size_t at = r->next;
    bool last = at + 4 == r->length;
    uint32_t group = 0;
    int padding = 0;
    for (int i = 0; i < 4; i++) {
        unsigned char c = r->text[at + i];
        int value = base64_value(c);
        if (c == '=' && last && i >= 2 && (i == 3 || r->text[at + 3] == '=')) {
            padding++;
            value = 0;
        } else if (value < 0 || padding > 0) {
            return fail(r, "character %zu is not base64", at + (size_t)i + 1);
        }
        group = group << 6 | (uint32_t)value;
    }
    if (group & ((UINT32_C(1) << (8 * padding)) - 1))
        return fail(r, "character %zu has bits the padding should hide", at + 4 - (size_t)padding);
    r->group[0] = (unsigned char)(group >> 16);
    r->group[1] = (unsigned char)(group >> 8);
    r->group[2] = (unsigned char)group;
    r->group_length = 3 - padding;
    r->group_next = 0;
    r->next = at + 4;
    return true;
}

static bool at_end(struct reader *r) {
    return r->group_next == r->group_length && r->next == r->length;
}

/* The next byte of the layout, or false when there is none: field names it for the message. */
static bool read_byte(struct reader *r, unsigned char *byte, const char *field) {
    if (r->failed)
        return false;
    if (r->group_next == r->group_length) {
        if (r->next == r->length)
            return fail(r, "it ends inside the %s at byte %zu", field, r->offset);
        if (!read_group(r))
            return false;
    }
    *byte = r->group[r->group_next++];
    r->offset++;
    return true;
}

static bool read_varint(struct reader *r, uint64_t *value, const char *field) {
    size_t start = r->offset;
    *value = 0;
    for (int shift = 0;; shift += 7) {
        unsigned char byte = 0;
        if (!read_byte(r, &byte, field))
            return false;
        if (shift == 63 && byte > 1)
            return fail(r, "the %s at byte %zu is over 64 bits", field, start);
        *value |= (uint64_t)(byte & 127) << shift;
        if (!(byte & 128)) {
            if (byte == 0 && shift > 0)
                return fail(r, "the %s at byte %zu has needless zero bytes", field, start);
            return true;
        }
    }
}

static bool read_double(struct reader *r, double *value, const char *field) {
    uint64_t bits = 0;
    size_t start = r->offset;
    for (int i = 0; i < 8; i++) {
        unsigned char byte = 0;
        if (!read_byte(r, &byte, field))
            return false;
        bits |= (uint64_t)byte << (8 * i);
    }
    memcpy(value, &bits, sizeof bits);
    /* Also refuses NaN and infinities, and -0.0, which record() never leaves. */
    if (signbit(*value) || !(*value <= HDR_HIGHEST_SECONDS))
        return fail(r, "the %s at byte %zu is not between 0 and %.6f seconds", field, start,
                    HDR_HIGHEST_SECONDS);
    return true;
}

static bool read_header(struct reader *r, struct hdr *h) {
    unsigned char magic = 0, version = 0;
    if (!read_byte(r, &magic, "header") || !read_byte(r, &version, "header"))
        return false;
    if (magic != HDR_FORMAT_MAGIC)
        return fail(r, "no histogram (it starts with byte 0x%02x, not 0x%02x)", magic,
                    HDR_FORMAT_MAGIC);
    if (version != HDR_FORMAT_VERSION)
        return fail(r, "version %d, this build reads version %d", version, HDR_FORMAT_VERSION);
    if (!read_varint(r, &h->total, "total") || !read_varint(r, &h->clamped, "clamped count"))
        return false;
    if (h->total > HDR_MAX_TOTAL)
        return fail(r, "the total %" PRIu64 " is over 2^63 - 1", h->total);
    if (h->clamped > h->total)
        return fail(r, "the clamped count %" PRIu64 " is over the total %" PRIu64, h->clamped,
                    h->total);
    if (h->total == 0)
        return true;
    if (!read_double(r, &h->min, "min") || !read_double(r, &h->max, "max"))
        return false;
    if (h->min > h->max)
        return fail(r, "min %.17g is over max %.17g", h->min, h->max);
    if (h->clamped > 0 && h->max != HDR_HIGHEST_SECONDS)
        return fail(r, "values were clamped but max %.17g is not the highest value", h->max);
    return true;
}

/* The (gap, count) pairs up to the end; each slot is checked as it comes, the sums at the end. */
static bool read_counts(struct reader *r, struct hdr *h) {
    uint64_t sum = 0;
    uint32_t next = 0, first = 0, last = 0;
    while (!at_end(r)) {
        size_t start = r->offset;
        uint64_t gap, count;
        if (!read_varint(r, &gap, "slot gap") || !read_varint(r, &count, "count"))
            return false;
        if (gap >= HDR_SLOTS - next)
            return fail(r, "the pair at byte %zu is past the last slot", start);
        if (count == 0)
            return fail(r, "the pair at byte %zu has a count of 0", start);
        if (count > h->total - sum)
            return fail(r, "the counts add up to more than the total %" PRIu64 " at byte %zu",
                        h->total, start);
        uint32_t slot = next + (uint32_t)gap;
        if (sum == 0)
            first = slot;
        last = slot;
        h->counts[slot] = count;
        sum += count;
        next = slot + 1;
    }
    if (r->failed)
        return false;
    if (sum != h->total)
        return fail(r, "the counts add up to %" PRIu64 ", the total is %" PRIu64, sum, h->total);
    if (first != hdr_first_slot(h) || last != hdr_last_slot(h))
        return fail(r, "min and max are not in the first and last slots holding values");
    if (h->clamped > h->counts[HDR_SLOTS - 1])
        return fail(r, "the clamped count %" PRIu64 " is over the top slot's %" PRIu64, h->clamped,
                    h->counts[HDR_SLOTS - 1]);
    return true;
}

bool hdr_decode(struct hdr *h, const char *text, size_t length, char *error, size_t error_size) {
    struct reader r = {
        (const unsigned char *)text, length, 0, {0}, 0, 0, 0, error, error_size, false};
    hdr_reset(h);
    if (length == 0)
        return fail(&r, "it is empty");
    /* Whole groups of 4 from here on. */
    if (length % 4 != 0)
        return fail(&r, "its length (%zu) is not a multiple of 4, as base64's is", length);
    if (!read_header(&r, h))
        return false;
    if (h->total == 0)
        return at_end(&r) || fail(&r, "bytes follow the header of an empty histogram");
    return read_counts(&r, h);
}
