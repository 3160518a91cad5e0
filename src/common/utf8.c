#include "common/utf8.h"

static size_t invalid_at(size_t *bad, size_t offset) {
    if (bad)
        *bad = offset;
    return 0;
}

size_t utf8_sequence_length(const unsigned char *s, const unsigned char *end, size_t *bad) {
    size_t available = (size_t)(end - s), length;
    if (available == 0)
        return invalid_at(bad, 0);
    unsigned lead = s[0];
    unsigned low = 0x80, high = 0xBF; /* the range of the second byte */
    if (lead < 0x80)
        return 1;
    if (lead >= 0xC2 && lead <= 0xDF) {
        length = 2;
    } else if (lead >= 0xE0 && lead <= 0xEF) {
        length = 3;
        if (lead == 0xE0)
            low = 0xA0;
        else if (lead == 0xED)
            high = 0x9F;
    } else if (lead >= 0xF0 && lead <= 0xF4) {
        length = 4;
        if (lead == 0xF0)
            low = 0x90;
        else if (lead == 0xF4)
            high = 0x8F;
    } else {
        return invalid_at(bad, 0);
    }
    for (size_t i = 1; i < length; i++) {
        if (i >= available || s[i] < low || s[i] > high)
            return invalid_at(bad, i);
        low = 0x80;
        high = 0xBF;
    }
    return length;
}

size_t utf8_encode(unsigned long code, char out[4]) {
    size_t length = code < 0x80 ? 1 : code < 0x800 ? 2 : code < 0x10000 ? 3 : 4;
    static const unsigned char lead[] = {0, 0x00, 0xC0, 0xE0, 0xF0};
    out[0] = (char)(lead[length] | code >> (6 * (length - 1)));
    for (size_t i = 1; i < length; i++)
        out[i] = (char)(0x80 | ((code >> (6 * (length - 1 - i))) & 0x3F));
    return length;
}
