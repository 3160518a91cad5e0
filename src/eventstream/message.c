/* The event-stream wire format: header blocks read and written, messages framed. What a
 * header block may hold follows the AWS SDKs' decoders: names of 1 to 255 bytes of UTF-8 (the
 * SDKs take an empty name; the format's specification forbids it, and so do we, so that
 * whatever decodes can be encoded again), the ten value types, string values in UTF-8. */
#include "eventstream/message.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "common/ascii.h"
#include "common/crc32.h"
#include "common/utf8.h"

uint32_t eventstream_get_u32(const char *p) {
    const unsigned char *u = (const unsigned char *)p;
    return (uint32_t)u[0] << 24 | (uint32_t)u[1] << 16 | (uint32_t)u[2] << 8 | (uint32_t)u[3];
}

void eventstream_put_u32(char *p, uint32_t value) {
    for (int i = 3; i >= 0; i--, value >>= 8)
        p[i] = (char)(value & 0xFF);
}

/* The n-byte (1, 2, 4 or 8) big-endian two's complement value at p. */
static int64_t get_signed(const unsigned char *p, size_t n) {
    uint64_t value = 0;
    for (size_t i = 0; i < n; i++)
        value = value << 8 | p[i];
    if (n < 8) { /* sign-extend, modulo 2^64 */
        uint64_t sign = (uint64_t)1 << (8 * n - 1);
        value = (value ^ sign) - sign;
    }
    /* Converting a uint64_t above INT64_MAX is implementation-defined; this is not. */
    return value <= INT64_MAX ? (int64_t)value : -(int64_t)~value - 1;
}

bool eventstream_utf8_valid(const char *data, size_t length) {
    const unsigned char *s = (const unsigned char *)data, *end = s + length;
    while (s < end) {
        if (*s < 0x80) {
            s++;
            continue;
        }
        size_t n = utf8_sequence_length(s, end, NULL);
        if (n == 0)
            return false;
        s += n;
    }
    return true;
}

/* The bytes a value of `type` takes after the type byte, given the `available` bytes at
 * value; 0 for the booleans. SIZE_MAX when the type is unknown. */
static size_t value_size(enum eventstream_type type, const unsigned char *value, size_t available) {
    switch (type) {
    case EVENTSTREAM_TRUE:
    case EVENTSTREAM_FALSE:
        return 0;
    case EVENTSTREAM_BYTE:
        return 1;
    case EVENTSTREAM_SHORT:
        return 2;
    case EVENTSTREAM_INTEGER:
        return 4;
    case EVENTSTREAM_LONG:
    case EVENTSTREAM_TIMESTAMP:
        return 8;
    case EVENTSTREAM_UUID:
        return 16;
    case EVENTSTREAM_BYTES:
    case EVENTSTREAM_STRING:
        /* Without its two length bytes the value runs past the block, which 2 + 0 > 0 or 1
         * available bytes says as well as any length. */
        return available < 2 ? 2 : 2 + ((size_t)value[0] << 8 | value[1]);
    default:
        return SIZE_MAX;
    }
}

bool eventstream_check_headers(const char *headers, size_t length, uint64_t offset, size_t *count,
                               char *problem, size_t size) {
    const unsigned char *start = (const unsigned char *)headers, *p = start, *end = p + length;
    size_t n = 0;
    while (p < end) {
        uint64_t at = offset + (uint64_t)(p - start);
        size_t name_length = p[0];
        if (name_length == 0) {
            snprintf(problem, size, "empty header name at byte %" PRIu64, at);
            return false;
        }
        /* The length byte, the name and the type byte. */
        if ((size_t)(end - p) < 2 + name_length) {
            snprintf(problem, size, "header at byte %" PRIu64 " runs past the headers", at);
            return false;
        }
        if (!eventstream_utf8_valid((const char *)p + 1, name_length)) {
            snprintf(problem, size, "header name at byte %" PRIu64 " is not UTF-8", at);
            return false;
        }
        unsigned type = p[1 + name_length];
        const unsigned char *value = p + 2 + name_length;
        size_t available = (size_t)(end - value);
        size_t size_of_value = value_size((enum eventstream_type)type, value, available);
        if (size_of_value == SIZE_MAX) {
            snprintf(problem, size, "unknown header type %u at byte %" PRIu64, type, at);
            return false;
        }
        if (size_of_value > available) {
            snprintf(problem, size, "header at byte %" PRIu64 " runs past the headers", at);
            return false;
        }
        if (type == EVENTSTREAM_STRING &&
            !eventstream_utf8_valid((const char *)value + 2, size_of_value - 2)) {
            snprintf(problem, size, "string value of the header at byte %" PRIu64 " is not UTF-8",
                     at);
            return false;
        }
        p = value + size_of_value;
        n++;
    }
    *count = n;
    return true;
}

void eventstream_next_header(const char **cursor, struct eventstream_header *header) {
    const unsigned char *p = (const unsigned char *)*cursor;
    header->name_length = p[0];
    header->name = (const char *)p + 1;
    header->type = (enum eventstream_type)p[1 + header->name_length];
    const unsigned char *value = p + 2 + header->name_length;
    size_t size = value_size(header->type, value, 2);
    header->integer = 0;
    header->bytes = NULL;
    header->bytes_length = 0;
    switch (header->type) {
    case EVENTSTREAM_TRUE:
        header->integer = 1;
        break;
    case EVENTSTREAM_BYTE:
    case EVENTSTREAM_SHORT:
    case EVENTSTREAM_INTEGER:
    case EVENTSTREAM_LONG:
    case EVENTSTREAM_TIMESTAMP:
        header->integer = get_signed(value, size);
        break;
    case EVENTSTREAM_BYTES:
    case EVENTSTREAM_STRING:
        header->bytes = (const char *)value + 2;
        header->bytes_length = size - 2;
        break;
    case EVENTSTREAM_UUID:
        header->bytes = (const char *)value;
        header->bytes_length = 16;
        break;
    default: /* FALSE; nothing else passes eventstream_check_headers */
        break;
    }
    *cursor = (const char *)value + size;
}

size_t eventstream_header_size(const struct eventstream_header *h) {
    static const unsigned char fixed[EVENTSTREAM_TYPES] = {0, 0, 1, 2, 4, 8, 2, 2, 8, 16};
    size_t size = 2 + h->name_length + fixed[h->type];
    if (h->type == EVENTSTREAM_BYTES || h->type == EVENTSTREAM_STRING)
        size += h->bytes_length;
    return size;
}

static char *put_big_endian(char *out, uint64_t value, size_t n) {
    for (size_t i = n; i-- > 0; value >>= 8)
        out[i] = (char)(value & 0xFF);
    return out + n;
}

char *eventstream_write_header(char *out, const struct eventstream_header *h) {
    *out++ = (char)h->name_length;
    memcpy(out, h->name, h->name_length);
    out += h->name_length;
    *out++ = (char)h->type;
    /* Negative values are written in two's complement: their uint64_t conversion is that. */
    uint64_t integer = (uint64_t)h->integer;
    switch (h->type) {
    case EVENTSTREAM_BYTE:
        return put_big_endian(out, integer, 1);
    case EVENTSTREAM_SHORT:
        return put_big_endian(out, integer, 2);
    case EVENTSTREAM_INTEGER:
        return put_big_endian(out, integer, 4);
    case EVENTSTREAM_LONG:
    case EVENTSTREAM_TIMESTAMP:
        return put_big_endian(out, integer, 8);
    case EVENTSTREAM_BYTES:
    case EVENTSTREAM_STRING:
        out = put_big_endian(out, h->bytes_length, 2);
        if (h->bytes_length)
            memcpy(out, h->bytes, h->bytes_length);
        return out + h->bytes_length;
    case EVENTSTREAM_UUID:
        memcpy(out, h->bytes, 16);
        return out + 16;
    default: /* the booleans: the type says it all */
        return out;
    }
}

void eventstream_frame(char *out, size_t headers_length, const char *payload,
                       size_t payload_length) {
    size_t total = EVENTSTREAM_OVERHEAD + headers_length + payload_length;
    eventstream_put_u32(out, (uint32_t)total);
    eventstream_put_u32(out + 4, (uint32_t)headers_length);
    uint32_t crc = crc32_ieee(0, out, 8);
    eventstream_put_u32(out + 8, crc);
    if (payload_length)
        memcpy(out + EVENTSTREAM_PRELUDE + headers_length, payload, payload_length);
    /* The message CRC goes on from the prelude's: the first 8 bytes are not read twice. */
    crc = crc32_ieee(crc, out + 8, total - 12);
    eventstream_put_u32(out + total - 4, crc);
}

static const char hex_digits[] = "0123456789abcdef";

void eventstream_uuid_format(const char *bytes, char text[EVENTSTREAM_UUID_TEXT]) {
    size_t at = 0;
    for (int i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            text[at++] = '-';
        unsigned char b = (unsigned char)bytes[i];
        text[at++] = hex_digits[b >> 4];
        text[at++] = hex_digits[b & 15];
    }
}

bool eventstream_uuid_parse(const char *text, size_t length, char bytes[16]) {
    if (length != EVENTSTREAM_UUID_TEXT)
        return false;
    size_t at = 0;
    for (int i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10) {
            if (text[at++] != '-')
                return false;
        }
        int high = ascii_hex_value(text[at]), low = ascii_hex_value(text[at + 1]);
        if (high < 0 || low < 0)
            return false;
        bytes[i] = (char)(high << 4 | low);
        at += 2;
    }
    return true;
}
