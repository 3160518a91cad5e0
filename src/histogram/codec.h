/* The text form of a histogram (hdr.h): base64 (RFC 4648, standard alphabet, padded) of a
 * versioned binary layout holding only the non-zero counts, so that histograms recorded on
 * several machines travel in JSON and merge into one. The layout, version 1:
 *
 *   byte 0    'H' (0x48)
 *   byte 1    the version, 1 (it also fixes the slot layout of hdr.h)
 *   varint    total: values recorded (at most 2^63 - 1)
 *   varint    clamped: how many of them were above the range (at most total)
 *   when total > 0:
 *     8 bytes min, 8 bytes max: seconds, IEEE 754 binary64, little-endian
 *     then to the end, one pair per slot holding values, in increasing slot order:
 *     varint    gap: slots skipped since the previous pair's slot (for the first: slot 0)
 *     varint    count (>= 1)
 *
 * A varint is LEB128: 7 bits a byte, low bits first, the high bit set on every byte but the
 * last, in the fewest bytes. The reader takes only this canonical form, so a text that decodes
 * encodes back to the same text. It checks everything: the counts add up to the total, min and
 * max lie in the first and last slots, clamped values sit in the top slot under max = the
 * highest trackable value; anything else is refused with a message, never read past. */
#ifndef CLC_HISTOGRAM_CODEC_H
#define CLC_HISTOGRAM_CODEC_H

#include <stdbool.h>
#include <stddef.h>

#include "histogram/hdr.h"

#define HDR_FORMAT_MAGIC 'H'
#define HDR_FORMAT_VERSION 1

/* The length of h's text, and the text itself written to text (that many characters, no NUL). */
size_t hdr_text_length(const struct hdr *h);
void hdr_encode(const struct hdr *h, char *text);

/* Reads text[0, length) into h. False when it is no histogram text of this version, with a
 * one-line message in error (h's contents are then meaningless). */
bool hdr_decode(struct hdr *h, const char *text, size_t length, char *error, size_t error_size);

/* The base64 underneath, for the tests and the fuzzer to build texts from raw layouts. */
size_t hdr_base64_length(size_t size);
void hdr_base64_encode(const unsigned char *bytes, size_t size, char *text);

#endif
