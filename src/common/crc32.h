/* CRC-32 with the zlib/IEEE polynomial: the checksum event-stream messages carry twice each
 * (lambda.eventstream) and lambda.crypto's crc32. */
#ifndef CLC_COMMON_CRC32_H
#define CLC_COMMON_CRC32_H

#include <stddef.h>
#include <stdint.h>

/* The CRC of data[0..length) continuing from crc, the CRC of the bytes before them (0 for
 * none): crc32(crc32(0, a), b) is the CRC of a followed by b, as zlib's crc32 has it. */
uint32_t crc32_ieee(uint32_t crc, const void *data, size_t length);

#endif
