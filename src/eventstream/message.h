/* The AWS event-stream wire format (application/vnd.amazon.eventstream): one message is
 *   total length u32 | headers length u32 | prelude CRC u32 | headers | payload | message CRC u32
 * (big-endian; the prelude CRC covers the first 8 bytes, the message CRC every byte before
 * it), one header
 *   name length u8 | name (UTF-8) | type u8 | value (by type).
 * Reading and writing header blocks and framing messages; decoder.h splits a stream. */
#ifndef CLC_EVENTSTREAM_MESSAGE_H
#define CLC_EVENTSTREAM_MESSAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define EVENTSTREAM_PRELUDE 12  /* the two lengths and the prelude CRC */
#define EVENTSTREAM_OVERHEAD 16 /* the prelude and the message CRC: the smallest message */
#define EVENTSTREAM_MAX_MESSAGE (16 * 1024 * 1024) /* total length, as the AWS SDKs limit it */
#define EVENTSTREAM_MAX_HEADERS (128 * 1024)       /* headers length, likewise */
#define EVENTSTREAM_MAX_NAME 255                   /* a name's length is one byte */
#define EVENTSTREAM_MAX_VALUE 65535                /* a string or byte array's length is two */
#define EVENTSTREAM_UUID_TEXT 36                   /* 8-4-4-4-12 hex digits */

/* The header value types; their numbers are the wire's type byte. */
enum eventstream_type {
    EVENTSTREAM_TRUE = 0,
    EVENTSTREAM_FALSE = 1,
    EVENTSTREAM_BYTE = 2,      /* i8 */
    EVENTSTREAM_SHORT = 3,     /* i16 */
    EVENTSTREAM_INTEGER = 4,   /* i32 */
    EVENTSTREAM_LONG = 5,      /* i64 */
    EVENTSTREAM_BYTES = 6,     /* u16 length, bytes */
    EVENTSTREAM_STRING = 7,    /* u16 length, UTF-8 */
    EVENTSTREAM_TIMESTAMP = 8, /* i64 milliseconds since the epoch */
    EVENTSTREAM_UUID = 9,      /* 16 bytes */
    EVENTSTREAM_TYPES = 10,
};

struct eventstream_header {
    const char *name;
    size_t name_length;
    enum eventstream_type type;
    int64_t integer;     /* BYTE to LONG and TIMESTAMP: the value; TRUE 1, FALSE 0 */
    const char *bytes;   /* BYTES and STRING: the value; UUID: its 16 bytes */
    size_t bytes_length; /* of bytes */
};

/* One decoded message. Its pointers are into the decoder's input or its buffer: valid until
 * the decoder is called again. The header block has been checked (eventstream_check_headers). */
struct eventstream_message {
    uint64_t offset;   /* of its first byte in the stream */
    const char *bytes; /* the whole message, as it came */
    size_t length;     /* its total length */
    const char *headers;
    size_t headers_length;
    size_t header_count;
    const char *payload;
    size_t payload_length;
};

uint32_t eventstream_get_u32(const char *p);
void eventstream_put_u32(char *p, uint32_t value);

/* Checks the header block headers[0..length), which starts at byte `offset` of the stream:
 * true with *count set; or false with a one-line problem naming the byte where the header at
 * fault starts, written into problem[0..size). */
bool eventstream_check_headers(const char *headers, size_t length, uint64_t offset, size_t *count,
                               char *problem, size_t size);

/* Reads the header at *cursor of a block that eventstream_check_headers accepted, and moves
 * *cursor past it. */
void eventstream_next_header(const char **cursor, struct eventstream_header *header);

/* The number of bytes h takes in a header block (h's lengths and type being valid). */
size_t eventstream_header_size(const struct eventstream_header *h);
/* Writes h at out, which has eventstream_header_size(h) bytes; returns the end. */
char *eventstream_write_header(char *out, const struct eventstream_header *h);

/* Frames a message: out has EVENTSTREAM_OVERHEAD + headers_length + payload_length bytes,
 * which must fit the total length's u32, and the header block is already at
 * out + EVENTSTREAM_PRELUDE; writes the lengths, the payload and both CRCs. */
void eventstream_frame(char *out, size_t headers_length, const char *payload,
                       size_t payload_length);

/* Canonical UUID text (lower-case 8-4-4-4-12) of 16 bytes, into text[36]; and back, with
 * either case: false when text is not that form. */
void eventstream_uuid_format(const char *bytes, char text[EVENTSTREAM_UUID_TEXT]);
bool eventstream_uuid_parse(const char *text, size_t length, char bytes[16]);

/* Whether data[0..length) is well-formed UTF-8. */
bool eventstream_utf8_valid(const char *data, size_t length);

#endif
