/* What the event-stream decoder's unit tests share (test_eventstream.c,
 * test_eventstream_faults.c): streams and what the decoder must make of them, run fed whole,
 * cut into two and into three pieces at every offset, and in fixed-size pieces from one byte
 * up, because a connection delivers bytes in arbitrary pieces and the result must not depend
 * on them; a fault must be final, the buffer within the limit and let go at the end. Messages
 * are compared as text (describe). */
#ifndef CLC_TESTS_UNIT_EVENTSTREAM_FEEDING_H
#define CLC_TESTS_UNIT_EVENTSTREAM_FEEDING_H

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "common/bytes.h"
#include "common/crc32.h"
#include "eventstream/decoder.h"

/* Bytes that may hold a NUL, written as a string literal. */
struct text {
    const char *data;
    size_t length;
};
#define TEXT(literal)                                                                              \
    { literal, sizeof literal - 1 }

/* One stream and everything the decoder must make of it. */
struct stream_case {
    const char *name;
    struct text input;
    uint32_t max_message; /* 0: the default */
    const char *messages; /* every message decoded before the end or the fault, described */
    const char *error;    /* NULL: the stream is fine */
    bool at_finish;       /* the error comes from finish (the stream ended too early) */
};

static inline void add_escaped(struct bytes *out, const char *data, size_t length) {
    bytes_append(out, "\"", 1);
    for (size_t i = 0; i < length; i++) {
        unsigned char c = (unsigned char)data[i];
        char escaped[8];
        if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\')
            bytes_append(out, (const char *)&c, 1);
        else
            bytes_append(out, escaped, (size_t)snprintf(escaped, sizeof escaped, "\\x%02x", c));
    }
    bytes_append(out, "\"", 1);
}

/* "@offset name:type=value ... | payload\n": booleans as true/false, numbers in decimal,
 * strings and byte arrays quoted with \xNN escapes, UUIDs as text. */
static inline void describe(struct bytes *out, const struct eventstream_message *m) {
    char text[64];
    bytes_append(out, text, (size_t)snprintf(text, sizeof text, "@%" PRIu64, m->offset));
    const char *cursor = m->headers;
    for (size_t i = 0; i < m->header_count; i++) {
        struct eventstream_header h;
        eventstream_next_header(&cursor, &h);
        bytes_append(out, " ", 1);
        bytes_append(out, h.name, h.name_length);
        bytes_append(out, text, (size_t)snprintf(text, sizeof text, ":%d=", (int)h.type));
        if (h.type == EVENTSTREAM_TRUE || h.type == EVENTSTREAM_FALSE) {
            bytes_append_string(out, h.integer ? "true" : "false");
        } else if (h.type == EVENTSTREAM_BYTES || h.type == EVENTSTREAM_STRING) {
            add_escaped(out, h.bytes, h.bytes_length);
        } else if (h.type == EVENTSTREAM_UUID) {
            eventstream_uuid_format(h.bytes, text);
            bytes_append(out, text, EVENTSTREAM_UUID_TEXT);
        } else {
            bytes_append(out, text, (size_t)snprintf(text, sizeof text, "%" PRId64, h.integer));
        }
    }
    if (cursor != m->headers + m->headers_length)
        check_that(false, "the headers of the message at %" PRIu64 " end early", m->offset);
    bytes_append(out, " | ", 3);
    add_escaped(out, m->payload, m->payload_length);
    bytes_append(out, "\n", 1);
}

/* How a run cuts the input: input[0..first), then input[first..second) unless empty, then
 * the rest in pieces of `piece` bytes (0: in one piece). */
struct feeding {
    size_t first, second, piece;
};

static inline void describe_feeding(struct feeding f, size_t length) {
    if (f.first == length)
        fprintf(stderr, "fed whole");
    else if (f.piece)
        fprintf(stderr, "in pieces of %zu", f.piece);
    else if (f.second > f.first)
        fprintf(stderr, "cut after %zu and %zu of %zu bytes", f.first, f.second, length);
    else
        fprintf(stderr, "cut after %zu of %zu bytes", f.first, length);
}

/* Feeds c's input as f says, then finishes, and compares everything with c; prints the
 * differences when `report` is set. Returns whether everything matched. */
static inline bool run_case(const struct stream_case *c, struct feeding f, bool report) {
    struct eventstream_decoder d;
    eventstream_decoder_init(&d, c->max_message);
    uint32_t limit = c->max_message ? c->max_message : EVENTSTREAM_MAX_MESSAGE;
    struct bytes described = {0};
    /* went_back: anything but ERROR after an ERROR. */
    bool went_back = false, feed_failed = false, over_limit = false;
    size_t length = c->input.length, at = 0;
    while (at < length) {
        size_t end = at < f.first    ? f.first
                     : at < f.second ? f.second
                     : f.piece       ? at + f.piece
                                     : length;
        if (end > length)
            end = length;
        const char *data = c->input.data + at;
        size_t left = end - at;
        for (;;) {
            struct eventstream_message m;
            enum eventstream_step step = eventstream_decoder_next(&d, &data, &left, &m);
            if (step != EVENTSTREAM_ERROR && feed_failed)
                went_back = true;
            if (step == EVENTSTREAM_ERROR)
                feed_failed = true;
            if (step != EVENTSTREAM_MESSAGE)
                break;
            describe(&described, &m);
        }
        over_limit = over_limit || d.capacity > limit;
        at = end;
    }
    char feed_error[sizeof d.error];
    memcpy(feed_error, d.error, sizeof d.error);
    bool finished = eventstream_decoder_finish(&d);
    if (feed_failed && (finished || strcmp(d.error, feed_error) != 0))
        went_back = true;
    if (!finished) { /* the same fault, and nothing taken, after the end too */
        char final_error[sizeof d.error];
        memcpy(final_error, d.error, sizeof d.error);
        const char *more = "x";
        size_t one = 1;
        struct eventstream_message m;
        if (eventstream_decoder_next(&d, &more, &one, &m) != EVENTSTREAM_ERROR || one != 1 ||
            eventstream_decoder_finish(&d) || strcmp(d.error, final_error) != 0)
            went_back = true;
    }

    const char *messages = c->messages ? c->messages : "";
    bool same_messages =
        described.length == strlen(messages) &&
        memcmp(described.data ? described.data : "", messages, described.length) == 0;
    bool same_end =
        c->error ? !finished && strcmp(d.error, c->error) == 0 && feed_failed == !c->at_finish
                 : finished;
    bool ok = !went_back && !over_limit && same_messages && same_end && d.capacity == 0;
    if (!ok && report) {
        fprintf(stderr, "  %s, ", c->name);
        describe_feeding(f, length);
        fprintf(stderr, ":\n");
        if (went_back)
            fprintf(stderr, "    the decoder went on after a fault\n");
        if (over_limit || d.capacity)
            fprintf(stderr, "    buffer of %zu bytes (limit %" PRIu32 ", 0 after the end)\n",
                    d.capacity, limit);
        if (!same_messages) { /* from the first difference, shortened */
            size_t same = 0;
            while (same < described.length && messages[same] == described.data[same])
                same++;
            fprintf(stderr, "    messages differ from byte %zu:\n%.300s\n    expected:\n%.300s\n",
                    same, described.data ? described.data + same : "", messages + same);
        }
        if (!same_end)
            fprintf(stderr, "    ended %s \"%s\" (%s), expected %s \"%s\" (%s)\n",
                    finished ? "well" : "with", finished ? "" : d.error,
                    feed_failed ? "in a feed" : "at finish", c->error ? "the error" : "well",
                    c->error ? c->error : "", c->at_finish ? "at finish" : "in a feed");
    }
    bytes_free(&described);
    eventstream_decoder_free(&d);
    return ok;
}

/* Runs c fed whole, cut in two and in three at every offset (three only up to 1 KiB: the
 * runs grow with the cube of the length), and in pieces of fixed sizes. One check per case. */
static inline void check_case(const struct stream_case *c) {
    size_t length = c->input.length, runs = 0, failed = 0;
    failed += !run_case(c, (struct feeding){length, length, 0}, true);
    runs++;
    for (size_t first = 0; first <= length; first++) {
        size_t last_second = length <= 1024 ? length : first;
        for (size_t second = first; second <= last_second; second++) {
            failed += !run_case(c, (struct feeding){first, second, 0}, failed == 0);
            runs++;
        }
    }
    static const size_t pieces[] = {1, 2, 3, 4, 5, 7, 8, 11, 12, 13, 16, 17, 64, 4096};
    for (size_t i = 0; i < sizeof pieces / sizeof pieces[0]; i++) {
        failed += !run_case(c, (struct feeding){0, 0, pieces[i]}, failed == 0);
        runs++;
    }
    check_that(failed == 0, "%s: %zu of %zu feedings differ from the expectation", c->name, failed,
               runs);
}

static inline void check_cases(const struct stream_case *cases, size_t count) {
    for (size_t i = 0; i < count; i++)
        check_case(&cases[i]);
}

#define CHECK_CASES(cases) check_cases(cases, sizeof cases / sizeof cases[0])

/* The framing around a header block and a payload, with both CRCs right, appended to out. */
static inline void add_message(struct bytes *out, const char *headers, size_t headers_length,
                               const char *payload, size_t payload_length) {
    size_t total = EVENTSTREAM_OVERHEAD + headers_length + payload_length, at = out->length;
    char *room = calloc(1, total);
    bytes_append(out, room, total);
    free(room);
    if (headers_length)
        memcpy(out->data + at + EVENTSTREAM_PRELUDE, headers, headers_length);
    eventstream_frame(out->data + at, headers_length, payload, payload_length);
}

/* A prelude with the lengths given (true or not) and a right CRC, appended to out. */
static inline void add_prelude(struct bytes *out, uint32_t total, uint32_t headers_length) {
    char prelude[EVENTSTREAM_PRELUDE];
    eventstream_put_u32(prelude, total);
    eventstream_put_u32(prelude + 4, headers_length);
    eventstream_put_u32(prelude + 8, crc32_ieee(0, prelude, 8));
    bytes_append(out, prelude, sizeof prelude);
}

static inline struct text text_of(const struct bytes *b) {
    return (struct text){b->data, b->length};
}

#endif
