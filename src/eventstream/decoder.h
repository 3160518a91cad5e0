/* An incremental decoder of event streams: bytes go in as they arrive, in pieces of any size,
 * and complete messages come out, each checked (both CRCs, the lengths, the header block). It
 * buffers only the message that spans pieces, and no more than its total length, which the
 * limit bounds; a message wholly inside one piece is read where it is. */
#ifndef CLC_EVENTSTREAM_DECODER_H
#define CLC_EVENTSTREAM_DECODER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "eventstream/message.h"

/* A buffer above this size is let go once its message has been delivered. */
#define EVENTSTREAM_KEEP_BUFFER (64 * 1024)

enum eventstream_step {
    EVENTSTREAM_MORE,    /* the input is used up: feed more, or call _finish */
    EVENTSTREAM_MESSAGE, /* a message is complete; more may follow in the input */
    EVENTSTREAM_ERROR,   /* the stream is damaged: error says where and how */
};

struct eventstream_decoder {
    uint32_t max_message; /* the largest total length taken */
    bool failed;          /* final: every later call answers ERROR */
    char error[160];

    /* The current message. */
    uint64_t offset;                   /* of its first byte in the stream */
    size_t have;                       /* bytes of it received */
    uint32_t total;                    /* its total length once its prelude has been read, else 0 */
    uint32_t headers_length;           /* likewise */
    uint32_t crc;                      /* running CRC of its bytes up to the message CRC */
    char prelude[EVENTSTREAM_PRELUDE]; /* a prelude that spans pieces */
    char *buffer;                      /* a message that spans pieces */
    size_t capacity;                   /* of buffer */
};

/* max_message from EVENTSTREAM_OVERHEAD up; 0 means EVENTSTREAM_MAX_MESSAGE. */
void eventstream_decoder_init(struct eventstream_decoder *d, uint32_t max_message);
void eventstream_decoder_free(struct eventstream_decoder *d);

/* Consumes *data[0..*length) up to the end of the next complete message, or all of it, and
 * advances *data and *length past what it consumed. On MESSAGE, *message points into the input
 * or the decoder's buffer until the next call. Call again until MORE (or ERROR). */
enum eventstream_step eventstream_decoder_next(struct eventstream_decoder *d, const char **data,
                                               size_t *length, struct eventstream_message *message);

/* The stream has ended: true when it ended between messages; else false and d fails with
 * "the stream ended inside a message (N bytes of M)". */
bool eventstream_decoder_finish(struct eventstream_decoder *d);

/* Makes d fail with message (a caller's own reason, such as lack of memory), unless it has
 * failed already. */
void eventstream_decoder_fail(struct eventstream_decoder *d, const char *message);

#endif
