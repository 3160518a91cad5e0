/* Unit tests of event-stream encoding (eventstream/message.h, lambda.eventstream.encode):
 * messages other encoders wrote (the emulator's own Lua encoder before lambda.eventstream,
 * Python's struct and zlib) are written again byte for byte, by the C functions, by
 * lambda.eventstream.encode and by the emulator's module as it is now; whatever decodes
 * encodes to the same bytes; random messages survive encoding and decoding; UUID text. */
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "common/bytes.h"
#include "eventstream/decoder.h"
#include "eventstream/message.h"
#include "eventstream_samples.h"
#include "host/modules.h"

/* Writes the headers of the message at m and its payload again with the C functions. */
static void encode_again(const struct eventstream_message *m, struct bytes *out) {
    out->length = 0;
    char *room = calloc(1, m->length);
    bytes_append(out, room, m->length);
    free(room);
    const char *cursor = m->headers;
    char *at = out->data + EVENTSTREAM_PRELUDE;
    for (size_t i = 0; i < m->header_count; i++) {
        struct eventstream_header h;
        eventstream_next_header(&cursor, &h);
        at = eventstream_write_header(at, &h);
    }
    eventstream_frame(out->data, m->headers_length, m->payload, m->payload_length);
}

/* Every sample decodes to messages that encode to the sample's bytes. */
static void test_samples_round_trip(void) {
    static const struct {
        const char *name, *bytes;
        size_t length;
    } samples[] = {
        {"payload chunk", SAMPLE_PAYLOAD_CHUNK, sizeof SAMPLE_PAYLOAD_CHUNK - 1},
        {"invoke complete", SAMPLE_INVOKE_COMPLETE, sizeof SAMPLE_INVOKE_COMPLETE - 1},
        {"invoke complete error", SAMPLE_INVOKE_COMPLETE_ERROR,
         sizeof SAMPLE_INVOKE_COMPLETE_ERROR - 1},
        {"every type", SAMPLE_EVERY_TYPE, sizeof SAMPLE_EVERY_TYPE - 1},
        {"empty", SAMPLE_EMPTY, sizeof SAMPLE_EMPTY - 1},
    };
    struct bytes again = {0};
    for (size_t i = 0; i < sizeof samples / sizeof samples[0]; i++) {
        struct eventstream_decoder d;
        eventstream_decoder_init(&d, 0);
        const char *data = samples[i].bytes;
        size_t left = samples[i].length;
        struct eventstream_message m;
        if (check_that(eventstream_decoder_next(&d, &data, &left, &m) == EVENTSTREAM_MESSAGE &&
                           left == 0,
                       "%s: one message", samples[i].name)) {
            encode_again(&m, &again);
            check_that(again.length == samples[i].length &&
                           memcmp(again.data, samples[i].bytes, again.length) == 0,
                       "%s: encoded again differently", samples[i].name);
        }
        eventstream_decoder_free(&d);
    }
    bytes_free(&again);
}

static lua_State *new_state(void) {
    lua_State *L = check_new_state();
    check_preload(L, "lambda.eventstream", luaopen_lambda_eventstream);
    check_preload(L, "lambda.json", luaopen_lambda_json);
    return L;
}

/* The samples as strings, for the Lua chunks: sample.payload_chunk, ... */
static void push_samples(lua_State *L) {
    lua_createtable(L, 0, 5);
    lua_pushlstring(L, SAMPLE_PAYLOAD_CHUNK, sizeof SAMPLE_PAYLOAD_CHUNK - 1);
    lua_setfield(L, -2, "payload_chunk");
    lua_pushlstring(L, SAMPLE_INVOKE_COMPLETE, sizeof SAMPLE_INVOKE_COMPLETE - 1);
    lua_setfield(L, -2, "invoke_complete");
    lua_pushlstring(L, SAMPLE_INVOKE_COMPLETE_ERROR, sizeof SAMPLE_INVOKE_COMPLETE_ERROR - 1);
    lua_setfield(L, -2, "invoke_complete_error");
    lua_pushlstring(L, SAMPLE_EVERY_TYPE, sizeof SAMPLE_EVERY_TYPE - 1);
    lua_setfield(L, -2, "every_type");
    lua_pushlstring(L, SAMPLE_EMPTY, sizeof SAMPLE_EMPTY - 1);
    lua_setfield(L, -2, "empty");
}

#define PRELUDE                                                                                    \
    CHECK_LUA_HELPERS                                                                              \
    "local eventstream = require('lambda.eventstream')\n"                                          \
    "local sample, emulator = ...\n"

/* lambda.eventstream.encode writes the samples from their parts, and the emulator's module,
 * loaded from the source tree as it is now, writes what its Lua encoder wrote. */
static void test_lua_encode(void) {
    lua_State *L = new_state();
    push_samples(L);
    if (!check_push_source_file(L, "lua/lambda/emulator", "eventstream.lua")) {
        check_that(false, "the emulator's eventstream.lua is not in the source tree");
        lua_close(L);
        return;
    }
    if (!check_that(luaL_loadbuffer(L, lua_tostring(L, -1), lua_rawlen(L, -1),
                                    "=lambda.emulator.eventstream") == LUA_OK &&
                        lua_pcall(L, 0, 1, 0) == LUA_OK,
                    "loading the emulator's eventstream.lua: %s", lua_tostring(L, -1))) {
        lua_close(L);
        return;
    }
    lua_remove(L, -2); /* its source */
    check_lua(
        L, CHECK_HERE, PRELUDE,
        "local chunk = {{':event-type', 7, 'PayloadChunk'},\n"
        "  {':content-type', 7, 'application/octet-stream'}, {':message-type', 7, 'event'}}\n"
        "local complete = {{':event-type', 7, 'InvokeComplete'},\n"
        "  {':content-type', 7, 'application/json'}, {':message-type', 7, 'event'}}\n"
        "eq(hex(eventstream.encode(chunk, 'hello\\0world')), hex(sample.payload_chunk),\n"
        "   'encode: payload chunk')\n"
        "eq(hex(eventstream.encode(complete, '{}')), hex(sample.invoke_complete),\n"
        "   'encode: invoke complete')\n"
        "eq(hex(emulator.payload_chunk('hello\\0world')), hex(sample.payload_chunk),\n"
        "   'emulator: payload chunk')\n"
        "eq(hex(emulator.invoke_complete({})), hex(sample.invoke_complete),\n"
        "   'emulator: invoke complete')\n"
        "eq(hex(emulator.invoke_complete({ErrorCode = 'Unhandled',\n"
        "   ErrorDetails = 'boom \"x\"', LogResult = 'bG9n'})),\n"
        "   hex(sample.invoke_complete_error), 'emulator: invoke complete with an error')\n"
        "eq(hex(eventstream.encode({{'t', 0, true}, {'f', 1, false}, {'b', 2, -5},\n"
        "  {'s', 3, -300}, {'i', 4, 70000}, {'l', 5, -5000000000}, {'ba', 6, '\\0\\255\\16'},\n"
        "  {'st', 7, 'h\\u{e9}llo'}, {'ts', 8, 1700000000123},\n"
        "  {'u', 9, '0123ABCD-4567-89EF-FEDC-BA9876543210'}}, 'data')),\n"
        "   hex(sample.every_type), 'encode: every type')\n"
        "eq(hex(eventstream.encode({})), hex(sample.empty), 'encode: empty')\n",
        2);
    lua_close(L);
}

/* Through the Lua API: feed a stream, encode each message's header_list and payload; the
 * bytes are the stream's. */
static void test_lua_round_trip(void) {
    lua_State *L = new_state();
    push_samples(L);
    check_lua(L, CHECK_HERE, PRELUDE,
              "local stream = sample.every_type .. sample.payload_chunk .. sample.empty\n"
              "  .. sample.invoke_complete_error .. sample.invoke_complete\n"
              "for _, size in ipairs({1, 5, 16, 100, #stream}) do\n"
              "  local d, again = eventstream.decoder(), {}\n"
              "  for first = 1, #stream, size do\n"
              "    for _, m in ipairs(assert(d:feed(stream:sub(first, first + size - 1)))) do\n"
              "      again[#again + 1] = eventstream.encode(m.header_list, m.payload)\n"
              "    end\n"
              "  end\n"
              "  eq(d:finish(), true, 'finish')\n"
              "  eq(#again, 5, 'messages')\n"
              "  eq(hex(table.concat(again)), hex(stream), 'in pieces of ' .. size)\n"
              "end\n",
              1);
    lua_close(L);
}

/* A small deterministic generator: the same messages on every run. */
static uint64_t random_state = 0x9E3779B97F4A7C15u;

static uint64_t next_random(void) {
    random_state ^= random_state << 13;
    random_state ^= random_state >> 7;
    random_state ^= random_state << 17;
    return random_state;
}

/* A random header of a random type; its name and bytes are in storage[0..64) and
 * storage[64..). Strings are ASCII. */
static void random_header(struct eventstream_header *h, char *storage) {
    h->type = (enum eventstream_type)(next_random() % EVENTSTREAM_TYPES);
    h->name_length = 1 + next_random() % 40;
    for (size_t i = 0; i < h->name_length; i++)
        storage[i] = (char)('a' + next_random() % 26);
    h->name = storage;
    static const int bits[EVENTSTREAM_TYPES] = {0, 0, 8, 16, 32, 64, 0, 0, 64, 0};
    h->integer = h->type == EVENTSTREAM_TRUE;
    if (bits[h->type]) {
        int shift = 64 - bits[h->type]; /* sign-extend the low bits */
        h->integer = (int64_t)(next_random() << shift) >> shift;
    }
    h->bytes = NULL;
    h->bytes_length = 0;
    if (h->type == EVENTSTREAM_BYTES || h->type == EVENTSTREAM_STRING ||
        h->type == EVENTSTREAM_UUID) {
        h->bytes_length = h->type == EVENTSTREAM_UUID ? 16 : next_random() % 300;
        for (size_t i = 0; i < h->bytes_length; i++)
            storage[64 + i] = h->type == EVENTSTREAM_STRING ? (char)(' ' + next_random() % 95)
                                                            : (char)next_random();
        h->bytes = storage + 64;
    }
}

static bool same_header(const struct eventstream_header *a, const struct eventstream_header *b) {
    return a->type == b->type && a->name_length == b->name_length &&
           memcmp(a->name, b->name, a->name_length) == 0 && a->integer == b->integer &&
           a->bytes_length == b->bytes_length &&
           (a->bytes_length == 0 || memcmp(a->bytes, b->bytes, a->bytes_length) == 0);
}

#define RANDOM_MESSAGES 500
#define MAX_RANDOM_HEADERS 8

/* Random messages, encoded with the C functions into one stream and decoded in random
 * pieces, come back as they were. */
static void test_random_round_trip(void) {
    static char storage[RANDOM_MESSAGES][MAX_RANDOM_HEADERS][64 + 300];
    static struct eventstream_header headers[RANDOM_MESSAGES][MAX_RANDOM_HEADERS];
    static size_t counts[RANDOM_MESSAGES], payload_lengths[RANDOM_MESSAGES];
    static char payloads[RANDOM_MESSAGES][2000];
    struct bytes stream = {0};
    for (size_t i = 0; i < RANDOM_MESSAGES; i++) {
        counts[i] = next_random() % (MAX_RANDOM_HEADERS + 1);
        size_t headers_length = 0;
        for (size_t j = 0; j < counts[i]; j++) {
            random_header(&headers[i][j], storage[i][j]);
            headers_length += eventstream_header_size(&headers[i][j]);
        }
        payload_lengths[i] = next_random() % 2000;
        for (size_t j = 0; j < payload_lengths[i]; j++)
            payloads[i][j] = (char)next_random();
        size_t total = EVENTSTREAM_OVERHEAD + headers_length + payload_lengths[i];
        size_t at = stream.length;
        char *room = calloc(1, total);
        bytes_append(&stream, room, total);
        free(room);
        char *out = stream.data + at + EVENTSTREAM_PRELUDE;
        for (size_t j = 0; j < counts[i]; j++)
            out = eventstream_write_header(out, &headers[i][j]);
        CHECK(out == stream.data + at + EVENTSTREAM_PRELUDE + headers_length);
        eventstream_frame(stream.data + at, headers_length, payloads[i], payload_lengths[i]);
    }

    struct eventstream_decoder d;
    eventstream_decoder_init(&d, 0);
    size_t decoded = 0, wrong = 0;
    for (size_t at = 0; at < stream.length;) {
        size_t piece = 1 + next_random() % 3000;
        if (piece > stream.length - at)
            piece = stream.length - at;
        const char *data = stream.data + at;
        size_t left = piece;
        struct eventstream_message m;
        enum eventstream_step step;
        while ((step = eventstream_decoder_next(&d, &data, &left, &m)) == EVENTSTREAM_MESSAGE) {
            size_t i = decoded++;
            bool same = i < RANDOM_MESSAGES && m.header_count == counts[i] &&
                        m.payload_length == payload_lengths[i] &&
                        memcmp(m.payload, payloads[i], m.payload_length) == 0;
            const char *cursor = m.headers;
            for (size_t j = 0; same && j < m.header_count; j++) {
                struct eventstream_header h;
                eventstream_next_header(&cursor, &h);
                same = same_header(&h, &headers[i][j]);
            }
            wrong += !same;
        }
        if (!check_that(step == EVENTSTREAM_MORE, "random stream: %s", d.error))
            break;
        at += piece;
    }
    CHECK(eventstream_decoder_finish(&d));
    check_that(decoded == RANDOM_MESSAGES && wrong == 0, "%zu messages decoded, %zu of them wrong",
               decoded, wrong);
    eventstream_decoder_free(&d);
    bytes_free(&stream);
}

static void test_uuid_text(void) {
    char bytes[16], text[EVENTSTREAM_UUID_TEXT];
    CHECK(eventstream_uuid_parse("00112233-4455-6677-8899-aAbBcCdDeEfF", 36, bytes));
    CHECK(memcmp(bytes, "\x00\x11\x22\x33\x44\x55\x66\x77\x88\x99\xaa\xbb\xcc\xdd\xee\xff", 16) ==
          0);
    eventstream_uuid_format(bytes, text);
    CHECK(memcmp(text, "00112233-4455-6677-8899-aabbccddeeff", 36) == 0);
    static const char *const refused[] = {
        "00112233-4455-6677-8899-aabbccddeef",   "00112233-4455-6677-8899-aabbccddeeff0",
        "001122334-455-6677-8899-aabbccddeeff",  "00112233-4455-6677-8899_aabbccddeeff",
        "00112233-4455-6677-8899-aabbccddeefg",  "0011223344556677-8899-aabbccddeeff----",
        "{0112233-4455-6677-8899-aabbccddeeff}", "",
    };
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++)
        check_that(!eventstream_uuid_parse(refused[i], strlen(refused[i]), bytes),
                   "UUID text \"%s\" taken", refused[i]);
}

int main(void) {
    test_samples_round_trip();
    test_lua_encode();
    test_lua_round_trip();
    test_random_round_trip();
    test_uuid_text();
    return check_report("test_eventstream_encode");
}
