/* Unit tests of the incremental event-stream decoder (eventstream/decoder.h) on valid
 * streams: every header type, empty payloads, many messages, the emulator's, the largest
 * names, values and header blocks, each fed in every split (eventstream_feeding.h); CRC-32;
 * memory stays bounded. Faults are test_eventstream_faults.c's, encoding
 * test_eventstream_encode.c's. */
#include "eventstream_feeding.h"
#include "eventstream_samples.h"

static void test_crc32(void) {
    CHECK(crc32_ieee(0, "123456789", 9) == 0xCBF43926u);
    CHECK(crc32_ieee(0, "", 0) == 0);
    CHECK(crc32_ieee(crc32_ieee(0, "1234", 4), "56789", 5) == 0xCBF43926u);
    /* Every length around the eight-byte steps agrees with a byte at a time. */
    char data[64];
    for (size_t i = 0; i < sizeof data; i++)
        data[i] = (char)(i * 37 + 11);
    for (size_t length = 0; length <= sizeof data; length++) {
        uint32_t bytewise = 0;
        for (size_t i = 0; i < length; i++)
            bytewise = crc32_ieee(bytewise, data + i, 1);
        check_that(crc32_ieee(0, data, length) == bytewise, "crc32 of %zu bytes", length);
    }
}

static void test_valid_streams(void) {
    static const struct stream_case cases[] = {
        {
            .name = "every header type, then an empty message",
            .input = TEXT(SAMPLE_EVERY_TYPE SAMPLE_EMPTY),
            .messages = "@0 t:0=true f:1=false b:2=-5 s:3=-300 i:4=70000 l:5=-5000000000 "
                        "ba:6=\"\\x00\\xff\\x10\" st:7=\"h\\xc3\\xa9llo\" ts:8=1700000000123 "
                        "u:9=0123abcd-4567-89ef-fedc-ba9876543210 | \"data\"\n"
                        "@105 | \"\"\n",
        },
        {
            .name = "the emulator's stream",
            .input = TEXT(SAMPLE_PAYLOAD_CHUNK SAMPLE_INVOKE_COMPLETE SAMPLE_INVOKE_COMPLETE_ERROR),
            .messages =
                "@0 :event-type:7=\"PayloadChunk\" :content-type:7=\"application/octet-stream\" "
                ":message-type:7=\"event\" | \"hello\\x00world\"\n"
                "@117 :event-type:7=\"InvokeComplete\" :content-type:7=\"application/json\" "
                ":message-type:7=\"event\" | \"{}\"\n"
                "@219 :event-type:7=\"InvokeComplete\" :content-type:7=\"application/json\" "
                ":message-type:7=\"event\" | \"{\\x22ErrorCode\\x22:\\x22Unhandled\\x22,"
                "\\x22ErrorDetails\\x22:\\x22boom \\x5c\\x22x\\x5c\\x22\\x22,"
                "\\x22LogResult\\x22:\\x22bG9n\\x22}\"\n",
        },
        {.name = "nothing at all", .input = TEXT("")},
        {
            .name = "a message at max_message",
            .input = TEXT(SAMPLE_EMPTY SAMPLE_EVERY_TYPE),
            .max_message = 105,
            .messages = "@0 | \"\"\n@16 t:0=true f:1=false b:2=-5 s:3=-300 i:4=70000 "
                        "l:5=-5000000000 ba:6=\"\\x00\\xff\\x10\" st:7=\"h\\xc3\\xa9llo\" "
                        "ts:8=1700000000123 u:9=0123abcd-4567-89ef-fedc-ba9876543210 | \"data\"\n",
        },
    };
    CHECK_CASES(cases);
}

/* 16 messages: message i has the header n (integer i) unless i is a multiple of 5, and a
 * payload of i bytes. */
static void test_many_messages(void) {
    struct bytes input = {0}, expected = {0};
    for (int i = 0; i < 16; i++) {
        char header[7] = {1, 'n', EVENTSTREAM_INTEGER}, payload[16], line[64];
        eventstream_put_u32(header + 3, (uint32_t)i);
        memset(payload, 'a' + i, sizeof payload);
        bool with_header = i % 5 != 0;
        bytes_append(&expected, line, (size_t)snprintf(line, sizeof line, "@%zu", input.length));
        if (with_header)
            bytes_append(&expected, line, (size_t)snprintf(line, sizeof line, " n:4=%d", i));
        bytes_append(&expected, " | ", 3);
        add_escaped(&expected, payload, (size_t)i);
        bytes_append(&expected, "\n", 1);
        add_message(&input, header, with_header ? sizeof header : 0, payload, (size_t)i);
    }
    bytes_append(&expected, "", 1); /* the NUL that ends the text */
    check_case(&(struct stream_case){
        .name = "16 messages", .input = text_of(&input), .messages = expected.data});
    bytes_free(&input);
    bytes_free(&expected);
}

/* Runs c fed whole and in pieces of fixed sizes only: for inputs too long to cut everywhere. */
static void check_case_in_pieces(const struct stream_case *c) {
    static const size_t pieces[] = {1, 7, 12, 100, 4096, 65536};
    size_t failed = !run_case(c, (struct feeding){c->input.length, c->input.length, 0}, true);
    for (size_t i = 0; i < sizeof pieces / sizeof pieces[0]; i++)
        failed += !run_case(c, (struct feeding){0, 0, pieces[i]}, failed == 0);
    check_that(failed == 0, "%s: %zu feedings differ from the expectation", c->name, failed);
}

/* The largest name, value and header block there are. */
static void test_limits(void) {
    struct bytes block = {0}, input = {0}, expected = {0};
    char name[EVENTSTREAM_MAX_NAME], *value = malloc(EVENTSTREAM_MAX_VALUE);
    memset(name, 'n', sizeof name);
    memset(value, 'v', EVENTSTREAM_MAX_VALUE);
    /* A 255-byte name with a byte array of 65535 bytes: 65794 bytes; then a string filling the
     * block to 128 KiB exactly: 1 + 1 + 1 + 2 + 65272. */
    struct eventstream_header headers[2] = {
        {.name = name,
         .name_length = sizeof name,
         .type = EVENTSTREAM_BYTES,
         .bytes = value,
         .bytes_length = EVENTSTREAM_MAX_VALUE},
        {.name = "s",
         .name_length = 1,
         .type = EVENTSTREAM_STRING,
         .bytes = value,
         .bytes_length = EVENTSTREAM_MAX_HEADERS - 65794 - 5},
    };
    bytes_append_string(&expected, "@0 ");
    for (int i = 0; i < 2; i++) {
        size_t size = eventstream_header_size(&headers[i]);
        char *room = calloc(1, size);
        bytes_append(&block, room, size);
        free(room);
        eventstream_write_header(block.data + block.length - size, &headers[i]);
        bytes_append_string(&expected, i == 0 ? "" : " ");
        bytes_append(&expected, headers[i].name, headers[i].name_length);
        bytes_append_string(&expected, i == 0 ? ":6=" : ":7=");
        add_escaped(&expected, value, headers[i].bytes_length);
    }
    bytes_append(&expected, " | \"\"\n", 7);
    CHECK(block.length == EVENTSTREAM_MAX_HEADERS);
    add_message(&input, block.data, block.length, "", 0);
    check_case_in_pieces(&(struct stream_case){.name = "the largest name, value and header block",
                                               .input = text_of(&input),
                                               .messages = expected.data});
    bytes_free(&block);
    bytes_free(&input);
    bytes_free(&expected);
    free(value);
}

/* Feeds input in pieces of `piece`; returns the number of messages and sets *largest to the
 * largest buffer the decoder held meanwhile. */
static size_t feed_all(struct eventstream_decoder *d, const struct bytes *input, size_t piece,
                       size_t *largest) {
    size_t count = 0;
    *largest = 0;
    for (size_t at = 0; at < input->length; at += piece) {
        const char *data = input->data + at;
        size_t left = input->length - at < piece ? input->length - at : piece;
        struct eventstream_message m;
        enum eventstream_step step;
        while ((step = eventstream_decoder_next(d, &data, &left, &m)) == EVENTSTREAM_MESSAGE)
            count++;
        if (d->capacity > *largest)
            *largest = d->capacity;
        if (step == EVENTSTREAM_ERROR)
            break;
    }
    return count;
}

static void test_bounded_memory(void) {
    /* Many messages: at most one message's bytes are held, whatever the stream's length. */
    struct bytes input = {0};
    char payload[1000];
    memset(payload, 'p', sizeof payload);
    for (int i = 0; i < 10000; i++)
        add_message(&input, NULL, 0, payload, sizeof payload);
    struct eventstream_decoder d;
    eventstream_decoder_init(&d, 0);
    size_t largest;
    CHECK(feed_all(&d, &input, 65536, &largest) == 10000);
    check_that(largest == 1016, "10000 messages of 1016 bytes: a buffer of %zu bytes", largest);
    CHECK(eventstream_decoder_finish(&d) && d.capacity == 0);
    eventstream_decoder_free(&d);
    bytes_free(&input);

    /* A large message is buffered at its size, and let go once it has been delivered. */
    char *large = calloc(1, 1 << 20);
    add_message(&input, NULL, 0, large, 1 << 20);
    free(large);
    eventstream_decoder_init(&d, 0);
    CHECK(feed_all(&d, &input, 4096, &largest) == 1);
    check_that(largest == (1 << 20) + 16, "a message of 1 MiB + 16: a buffer of %zu", largest);
    const char *data = SAMPLE_EMPTY;
    size_t left = 16;
    struct eventstream_message m;
    CHECK(eventstream_decoder_next(&d, &data, &left, &m) == EVENTSTREAM_MESSAGE);
    check_that(d.capacity == 0, "the buffer of %zu bytes kept after its message", d.capacity);
    eventstream_decoder_free(&d);
    bytes_free(&input);

    /* A prelude announcing 16 MB gets that, no more; a larger one nothing. */
    add_prelude(&input, EVENTSTREAM_MAX_MESSAGE, 0);
    bytes_append(&input, payload, 100);
    eventstream_decoder_init(&d, 0);
    CHECK(feed_all(&d, &input, 7, &largest) == 0);
    CHECK(largest == EVENTSTREAM_MAX_MESSAGE);
    CHECK(!eventstream_decoder_finish(&d) && d.capacity == 0);
    eventstream_decoder_free(&d);
    bytes_free(&input);
    add_prelude(&input, EVENTSTREAM_MAX_MESSAGE + 1, 0);
    bytes_append(&input, payload, 100);
    eventstream_decoder_init(&d, 0);
    CHECK(feed_all(&d, &input, 7, &largest) == 0 && largest == 0 && d.failed);
    eventstream_decoder_free(&d);
    bytes_free(&input);
}

int main(void) {
    test_crc32();
    test_valid_streams();
    test_many_messages();
    test_limits();
    test_bounded_memory();
    return check_report("test_eventstream");
}
