/* The incremental event-stream decoder (decoder.h). Faults are reported as soon as the bytes
 * that show them have arrived, and the same way whatever pieces the stream came in: the
 * prelude's (its CRC, then the lengths) once its 12 bytes are in, before anything is buffered
 * for the message; the message CRC, then the header block, once the whole message is. Every
 * message names the byte of the stream where the message or header at fault starts. */
#include "eventstream/decoder.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/crc32.h"

void eventstream_decoder_init(struct eventstream_decoder *d, uint32_t max_message) {
    memset(d, 0, sizeof *d);
    d->max_message = max_message ? max_message : EVENTSTREAM_MAX_MESSAGE;
}

static void release_buffer(struct eventstream_decoder *d) {
    free(d->buffer);
    d->buffer = NULL;
    d->capacity = 0;
}

void eventstream_decoder_free(struct eventstream_decoder *d) {
    release_buffer(d);
}

__attribute__((format(printf, 2, 3))) static enum eventstream_step
fail(struct eventstream_decoder *d, const char *format, ...) {
    va_list arguments;
    va_start(arguments, format);
    vsnprintf(d->error, sizeof d->error, format, arguments);
    va_end(arguments);
    d->failed = true;
    release_buffer(d);
    return EVENTSTREAM_ERROR;
}

void eventstream_decoder_fail(struct eventstream_decoder *d, const char *message) {
    if (!d->failed)
        fail(d, "%s", message);
}

/* Checks the prelude at p and takes the message's lengths from it. */
static bool read_prelude(struct eventstream_decoder *d, const char *p) {
    uint32_t crc = crc32_ieee(0, p, 8), carried = eventstream_get_u32(p + 8);
    uint32_t total = eventstream_get_u32(p), headers_length = eventstream_get_u32(p + 4);
    uint64_t at = d->offset;
    /* The CRC first: when it is wrong, so may the lengths be. */
    if (crc != carried) {
        fail(d,
             "prelude CRC mismatch at byte %" PRIu64 ": expected 0x%08" PRIx32 ", got 0x%08" PRIx32,
             at, crc, carried);
        return false;
    }
    if (total < EVENTSTREAM_OVERHEAD) {
        fail(d, "total length %" PRIu32 " below the minimum %d at byte %" PRIu64, total,
             EVENTSTREAM_OVERHEAD, at);
        return false;
    }
    if (total > d->max_message) {
        fail(d, "message of %" PRIu32 " bytes over the limit of %" PRIu32 " at byte %" PRIu64,
             total, d->max_message, at);
        return false;
    }
    if (headers_length > total - EVENTSTREAM_OVERHEAD) {
        fail(d,
             "headers length %" PRIu32 " exceeds the message of %" PRIu32 " bytes at byte %" PRIu64,
             headers_length, total, at);
        return false;
    }
    if (headers_length > EVENTSTREAM_MAX_HEADERS) {
        fail(d, "headers length %" PRIu32 " over the limit of %d at byte %" PRIu64, headers_length,
             EVENTSTREAM_MAX_HEADERS, at);
        return false;
    }
    d->total = total;
    d->headers_length = headers_length;
    d->crc = crc;
    return true;
}

/* Checks the complete message at bytes, whose CRC up to its message CRC is crc, and describes
 * it in *m; the next message starts after it. */
static enum eventstream_step complete(struct eventstream_decoder *d, const char *bytes,
                                      uint32_t crc, struct eventstream_message *m) {
    uint32_t total = d->total, carried = eventstream_get_u32(bytes + total - 4);
    if (crc != carried)
        return fail(d,
                    "message CRC mismatch at byte %" PRIu64 ": expected 0x%08" PRIx32
                    ", got 0x%08" PRIx32,
                    d->offset, crc, carried);
    size_t count;
    char problem[sizeof d->error];
    if (!eventstream_check_headers(bytes + EVENTSTREAM_PRELUDE, d->headers_length,
                                   d->offset + EVENTSTREAM_PRELUDE, &count, problem,
                                   sizeof problem))
        return fail(d, "%s", problem);
    *m = (struct eventstream_message){
        .offset = d->offset,
        .bytes = bytes,
        .length = total,
        .headers = bytes + EVENTSTREAM_PRELUDE,
        .headers_length = d->headers_length,
        .header_count = count,
        .payload = bytes + EVENTSTREAM_PRELUDE + d->headers_length,
        .payload_length = total - EVENTSTREAM_OVERHEAD - d->headers_length,
    };
    d->offset += total;
    d->have = 0;
    d->total = 0;
    return EVENTSTREAM_MESSAGE;
}

/* Room in the buffer for the current message, whose prelude has been read: at most
 * max_message bytes, allocated once it is known the message spans pieces. */
static bool reserve(struct eventstream_decoder *d) {
    if (d->capacity >= d->total)
        return true;
    release_buffer(d); /* nothing in it is kept: a new message starts */
    d->buffer = malloc(d->total);
    if (!d->buffer) {
        fail(d, "not enough memory for the message of %" PRIu32 " bytes at byte %" PRIu64, d->total,
             d->offset);
        return false;
    }
    d->capacity = d->total;
    return true;
}

/* Adds bytes of the current message to the buffer, and to the running CRC those between the
 * prelude's first 8 (already in it) and the message CRC. */
static void append(struct eventstream_decoder *d, const char *data, size_t n) {
    if (n == 0)
        return;
    memcpy(d->buffer + d->have, data, n);
    size_t from = d->have > 8 ? d->have : 8, to = d->have + n;
    if (to > (size_t)d->total - 4)
        to = (size_t)d->total - 4;
    if (to > from)
        d->crc = crc32_ieee(d->crc, d->buffer + from, to - from);
    d->have += n;
}

static void consume(const char **data, size_t *length, size_t n) {
    *data += n;
    *length -= n;
}

enum eventstream_step eventstream_decoder_next(struct eventstream_decoder *d, const char **data,
                                               size_t *length, struct eventstream_message *m) {
    if (d->failed)
        return EVENTSTREAM_ERROR;
    if (*length == 0) /* (and *data may be NULL) */
        return EVENTSTREAM_MORE;
    if (d->total == 0) { /* between messages, or inside a prelude */
        if (d->have == 0 && d->capacity > EVENTSTREAM_KEEP_BUFFER)
            release_buffer(d); /* the last large message has been delivered */
        if (d->have == 0 && *length >= EVENTSTREAM_PRELUDE) {
            const char *bytes = *data;
            if (!read_prelude(d, bytes))
                return EVENTSTREAM_ERROR;
            if (*length >= d->total) { /* all in the input: read it there */
                uint32_t total = d->total;
                uint32_t crc = crc32_ieee(d->crc, bytes + 8, total - 12);
                enum eventstream_step step = complete(d, bytes, crc, m);
                if (step == EVENTSTREAM_MESSAGE)
                    consume(data, length, total);
                return step;
            }
            if (!reserve(d))
                return EVENTSTREAM_ERROR;
        } else {
            size_t n = EVENTSTREAM_PRELUDE - d->have;
            if (n > *length)
                n = *length;
            memcpy(d->prelude + d->have, *data, n);
            consume(data, length, n);
            d->have += n;
            if (d->have < EVENTSTREAM_PRELUDE)
                return EVENTSTREAM_MORE;
            if (!read_prelude(d, d->prelude) || !reserve(d))
                return EVENTSTREAM_ERROR;
            d->have = 0;
            append(d, d->prelude, EVENTSTREAM_PRELUDE);
        }
    }
    size_t n = d->total - d->have;
    if (n > *length)
        n = *length;
    append(d, *data, n);
    consume(data, length, n);
    if (d->have < d->total)
        return EVENTSTREAM_MORE;
    return complete(d, d->buffer, d->crc, m);
}

bool eventstream_decoder_finish(struct eventstream_decoder *d) {
    if (d->failed)
        return false;
    release_buffer(d);
    if (d->have == 0)
        return true;
    if (d->total)
        fail(d, "the stream ended inside a message (%zu bytes of %" PRIu32 ")", d->have, d->total);
    else
        fail(d, "the stream ended inside a message (%zu bytes of its %d-byte prelude)", d->have,
             EVENTSTREAM_PRELUDE);
    return false;
}
