/* Unit tests of the faults the event-stream decoder (eventstream/decoder.h) reports: damaged
 * CRCs, impossible lengths, header blocks that are not, streams that end inside a message; each
 * named with its text and place, after the messages before it, in every split of the stream
 * (eventstream_feeding.h), and final. */
#include "eventstream_feeding.h"
#include "eventstream_samples.h"

/* The description of SAMPLE_PAYLOAD_CHUNK at byte 0. */
#define PAYLOAD_CHUNK_AT_0                                                                         \
    "@0 :event-type:7=\"PayloadChunk\" :content-type:7=\"application/octet-stream\" "              \
    ":message-type:7=\"event\" | \"hello\\x00world\"\n"

/* A stream that ends in a fault: input, then the expected error (printf-formatted). */
__attribute__((format(printf, 5, 6))) static void
check_fault(const char *name, const struct bytes *input, uint32_t max_message, const char *messages,
            const char *format, ...) {
    char error[200];
    va_list arguments;
    va_start(arguments, format);
    vsnprintf(error, sizeof error, format, arguments);
    va_end(arguments);
    bool at_finish = strncmp(error, "the stream ended", 16) == 0;
    check_case(&(struct stream_case){.name = name,
                                     .input = text_of(input),
                                     .max_message = max_message,
                                     .messages = messages,
                                     .error = error,
                                     .at_finish = at_finish});
}

static void test_checksums(void) {
    struct bytes input = {0};
    /* The second message's total length changed from 105 to 104. */
    bytes_append(&input, SAMPLE_PAYLOAD_CHUNK SAMPLE_EVERY_TYPE,
                 sizeof SAMPLE_PAYLOAD_CHUNK SAMPLE_EVERY_TYPE - 1);
    input.data[117 + 3] ^= 1;
    check_fault("a damaged prelude", &input, 0, PAYLOAD_CHUNK_AT_0,
                "prelude CRC mismatch at byte 117: expected 0x%08" PRIx32 ", got 0x%08" PRIx32,
                crc32_ieee(0, input.data + 117, 8), eventstream_get_u32(input.data + 125));
    bytes_free(&input);

    /* The payload "data" becomes "dAta". */
    bytes_append(&input, SAMPLE_EVERY_TYPE, sizeof SAMPLE_EVERY_TYPE - 1);
    input.data[98] = 'A';
    check_fault("a damaged payload", &input, 0, NULL,
                "message CRC mismatch at byte 0: expected 0x%08" PRIx32 ", got 0x%08" PRIx32,
                crc32_ieee(0, input.data, 101), eventstream_get_u32(input.data + 101));
    /* Its header block damaged as well: the CRC is what is reported. */
    input.data[13] = 10;
    check_fault("a damaged header and payload", &input, 0, NULL,
                "message CRC mismatch at byte 0: expected 0x%08" PRIx32 ", got 0x%08" PRIx32,
                crc32_ieee(0, input.data, 101), eventstream_get_u32(input.data + 101));
    bytes_free(&input);

    bytes_append_string(&input, "HTTP/1.1 200 OK\r\n\r\n");
    check_fault("no event stream at all", &input, 0, NULL,
                "prelude CRC mismatch at byte 0: expected 0x%08" PRIx32 ", got 0x%08" PRIx32,
                crc32_ieee(0, "HTTP/1.1", 8), eventstream_get_u32(" 200"));
    bytes_free(&input);
}

static void test_lengths(void) {
    struct bytes input = {0};
    add_prelude(&input, 10, 0);
    check_fault("total length below 16", &input, 0, NULL,
                "total length 10 below the minimum 16 at byte 0");
    bytes_free(&input);

    bytes_append(&input, SAMPLE_EMPTY, 16);
    add_prelude(&input, 15, 0);
    check_fault("total length 15 after a message", &input, 0, "@0 | \"\"\n",
                "total length 15 below the minimum 16 at byte 16");
    bytes_free(&input);

    add_prelude(&input, EVENTSTREAM_MAX_MESSAGE + 1, 0);
    check_fault("a message over 16 MB", &input, 0, NULL,
                "message of 16777217 bytes over the limit of 16777216 at byte 0");
    bytes_free(&input);

    bytes_append(&input, SAMPLE_EVERY_TYPE, sizeof SAMPLE_EVERY_TYPE - 1);
    check_fault("a message over max_message", &input, 104, NULL,
                "message of 105 bytes over the limit of 104 at byte 0");
    bytes_free(&input);

    add_prelude(&input, 20, 5);
    check_fault("headers longer than the message", &input, 0, NULL,
                "headers length 5 exceeds the message of 20 bytes at byte 0");
    bytes_free(&input);

    add_prelude(&input, 200000, EVENTSTREAM_MAX_HEADERS + 1);
    check_fault("headers over 128 KiB", &input, 0, NULL,
                "headers length 131073 over the limit of 131072 at byte 0");
    bytes_free(&input);
}

/* Header blocks that are not, each in a message after an empty one: the first header starts
 * at byte 16 + 12. */
static void test_headers(void) {
    static const struct {
        struct text block;
        const char *error;
    } cases[] = {
        {TEXT("\1a\12"), "unknown header type 10 at byte 28"},
        {TEXT("\1a\377"), "unknown header type 255 at byte 28"},
        {TEXT("\5ab"), "header at byte 28 runs past the headers"},
        {TEXT("\1a"), "header at byte 28 runs past the headers"},
        {TEXT("\1a\7\0\5ab"), "header at byte 28 runs past the headers"},
        {TEXT("\1a\7\0"), "header at byte 28 runs past the headers"},
        {TEXT("\1a\6\0"), "header at byte 28 runs past the headers"},
        {TEXT("\1a\4\0\0"), "header at byte 28 runs past the headers"},
        {TEXT("\1a\11\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0"), "header at byte 28 runs past the headers"},
        {TEXT("\1a\0\1b\5\0"), "header at byte 31 runs past the headers"},
        {TEXT("\0\7\0\0"), "empty header name at byte 28"},
        {TEXT("\1\377\0"), "header name at byte 28 is not UTF-8"},
        {TEXT("\2\303\50\0"), "header name at byte 28 is not UTF-8"},
        {TEXT("\1a\7\0\2\303\50"), "string value of the header at byte 28 is not UTF-8"},
        {TEXT("\1a\7\0\3\355\240\200"), "string value of the header at byte 28 is not UTF-8"},
        {TEXT("\1a\1\1b\7\0\1\200"), "string value of the header at byte 31 is not UTF-8"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct bytes input = {0};
        bytes_append(&input, SAMPLE_EMPTY, 16);
        add_message(&input, cases[i].block.data, cases[i].block.length, "p", 1);
        char name[40];
        snprintf(name, sizeof name, "header block %zu", i + 1);
        check_fault(name, &input, 0, "@0 | \"\"\n", "%s", cases[i].error);
        bytes_free(&input);
    }
    /* A byte array holds any bytes; a string any UTF-8. */
    struct bytes input = {0};
    add_message(&input, "\1a\6\0\2\303\50\1b\7\0\3\355\237\277", 15, "", 0);
    check_case(
        &(struct stream_case){.name = "bytes and text",
                              .input = text_of(&input),
                              .messages = "@0 a:6=\"\\xc3(\" b:7=\"\\xed\\x9f\\xbf\" | \"\"\n"});
    bytes_free(&input);
}

static void test_early_end(void) {
    struct bytes input = {0};
    bytes_append(&input, SAMPLE_EMPTY SAMPLE_PAYLOAD_CHUNK, 16 + 20);
    check_fault("inside a message", &input, 0, "@0 | \"\"\n",
                "the stream ended inside a message (20 bytes of 117)");
    input.length = 16 + 5;
    check_fault("inside a prelude", &input, 0, "@0 | \"\"\n",
                "the stream ended inside a message (5 bytes of its 12-byte prelude)");
    bytes_free(&input);
    bytes_append(&input, SAMPLE_PAYLOAD_CHUNK, 12);
    check_fault("after the prelude", &input, 0, NULL,
                "the stream ended inside a message (12 bytes of 117)");
    bytes_free(&input);
    bytes_append(&input, SAMPLE_PAYLOAD_CHUNK, 116);
    check_fault("before the message CRC's last byte", &input, 0, NULL,
                "the stream ended inside a message (116 bytes of 117)");
    bytes_free(&input);
}

/* eventstream_decoder_fail, as the Lua binding uses it: final, and the first reason stays. */
static void test_fail(void) {
    struct eventstream_decoder d;
    eventstream_decoder_init(&d, 0);
    eventstream_decoder_fail(&d, "an earlier feed was cut short by an error");
    eventstream_decoder_fail(&d, "another reason");
    const char *data = SAMPLE_EMPTY;
    size_t left = 16;
    struct eventstream_message m;
    CHECK(eventstream_decoder_next(&d, &data, &left, &m) == EVENTSTREAM_ERROR && left == 16);
    CHECK(!eventstream_decoder_finish(&d));
    CHECK(strcmp(d.error, "an earlier feed was cut short by an error") == 0);
    eventstream_decoder_free(&d);
}

int main(void) {
    test_checksums();
    test_lengths();
    test_headers();
    test_early_end();
    test_fail();
    return check_report("test_eventstream_faults");
}
