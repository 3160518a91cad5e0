/* Unit tests of histogram.decode's refusals: hand-built layouts (codec.h) and texts that are
 * malformed, of another version, inconsistent or hostile each fail with their message and the
 * kind "input"; every truncation and every one-character change of a real text either fails
 * that way or decodes to a histogram that encodes back to the same text. */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "histogram/codec.h"
#include "host/modules.h"

/* What each chunk gets as `...`: the module and lambda.crypto (for base64_encode, the same
 * alphabet and padding as the text form). */
static int push_modules(lua_State *L) {
    luaL_requiref(L, "lambda.histogram", luaopen_lambda_histogram, 0);
    luaL_requiref(L, "lambda.crypto", luaopen_lambda_crypto, 0);
    return 2;
}

/* varint(n) and layout(total, clamped, min, max, gap, count, ...) build the binary layout;
 * refused(text, message) and accepted(text) decode a text and check the outcome. */
#define DECODE_HELPERS                                                                             \
    "local histogram, crypto = ...\n"                                                              \
    "local function varint(n)\n"                                                                   \
    "  local out = {}\n"                                                                           \
    "  repeat\n"                                                                                   \
    "    local byte = n & 127\n"                                                                   \
    "    n = n >> 7\n"                                                                             \
    "    out[#out + 1] = string.char(n ~= 0 and byte | 128 or byte)\n"                             \
    "  until n == 0\n"                                                                             \
    "  return table.concat(out)\n"                                                                 \
    "end\n"                                                                                        \
    "local function layout(total, clamped, min, max, ...)\n"                                       \
    "  local parts = {'H\\1', varint(total), varint(clamped)}\n"                                   \
    "  if min then parts[#parts + 1] = string.pack('<d<d', min, max) end\n"                        \
    "  for _, n in ipairs({...}) do parts[#parts + 1] = varint(n) end\n"                           \
    "  return crypto.base64_encode(table.concat(parts))\n"                                         \
    "end\n"                                                                                        \
    "local function refused(text, want)\n"                                                         \
    "  local h, message, kind = histogram.decode(text)\n"                                          \
    "  eq(h, nil, 'decoded ' .. text:sub(1, 60))\n"                                                \
    "  eq(message, 'invalid histogram text: ' .. want, 'message')\n"                               \
    "  eq(kind, 'input', 'kind')\n"                                                                \
    "end\n"                                                                                        \
    "local function accepted(text)\n"                                                              \
    "  local h, message = histogram.decode(text)\n"                                                \
    "  assert(h, message)\n"                                                                       \
    "  eq(h:encode(), text, 'encode(decode(text))')\n"                                             \
    "  return h\n"                                                                                 \
    "end\n"                                                                                        \
    "local top = histogram.highest\n"

#define LUA(L, chunk)                                                                              \
    check_lua(L, CHECK_HERE, CHECK_LUA_HELPERS DECODE_HELPERS, chunk, push_modules(L))

static void test_base64_refusals(lua_State *L) {
    LUA(L, "refused('', 'it is empty')\n"
           "refused('SAE', 'its length (3) is not a multiple of 4, as base64\\'s is')\n"
           "refused('SAE=\\n', 'its length (5) is not a multiple of 4, as base64\\'s is')\n"
           "refused('SA=E', 'character 3 is not base64')\n"
           "refused('S@E=', 'character 2 is not base64')\n"
           "refused('S\\0E=', 'character 2 is not base64')\n"
           "refused('SAE=SAE=', 'character 4 is not base64')\n"
           "refused('SAF=', 'character 3 has bits the padding should hide')\n"
           "refused('SA==', 'it ends inside the header at byte 1')\n"
           "refused('AAAA', 'no histogram (it starts with byte 0x00, not 0x48)')\n"
           /* Megabytes of text are refused at their first bytes. */
           "refused(string.rep('A', 8 << 20), 'no histogram (it starts with byte 0x00, not "
           "0x48)')\n"
           "raises('bad argument #1', histogram.decode, 42)\n"
           "raises('bad argument #1', histogram.decode)\n");
}

static void test_header_refusals(lua_State *L) {
    LUA(L, "local b64 = crypto.base64_encode\n"
           "refused(b64('H\\2'), 'version 2, this build reads version 1')\n"
           "refused(b64('H\\1'), 'it ends inside the total at byte 2')\n"
           "refused(b64('H\\1\\1'), 'it ends inside the clamped count at byte 3')\n"
           "refused(layout(1, 0), 'it ends inside the min at byte 4')\n"
           "refused(b64('H\\1\\129\\0\\0'), 'the total at byte 2 has needless zero bytes')\n"
           "refused(b64('H\\1' .. string.rep('\\255', 9) .. '\\2\\0'),\n"
           "        'the total at byte 2 is over 64 bits')\n"
           "refused(b64('H\\1' .. string.rep('\\128', 20)), 'the total at byte 2 is over 64 "
           "bits')\n"
           "refused(layout(1 << 63, 0), 'the total 9223372036854775808 is over 2^63 - 1')\n"
           "refused(layout(-1, 0), 'the total 18446744073709551615 is over 2^63 - 1')\n"
           "refused(layout(1, 2), 'the clamped count 2 is over the total 1')\n"
           "refused(b64('H\\1\\0\\0\\0'), 'bytes follow the header of an empty histogram')\n"
           "local bad = 'is not between 0 and 4294.967295 seconds'\n"
           "refused(layout(1, 0, 0/0, 0.001, 1000, 1), 'the min at byte 4 ' .. bad)\n"
           "refused(layout(1, 0, -1, 0.001, 1000, 1), 'the min at byte 4 ' .. bad)\n"
           "refused(layout(1, 0, -0.0, 0.001, 1000, 1), 'the min at byte 4 ' .. bad)\n"
           "refused(layout(1, 0, 0.001, 1/0, 1000, 1), 'the max at byte 12 ' .. bad)\n"
           "refused(layout(1, 0, 0.001, 5000, 1000, 1), 'the max at byte 12 ' .. bad)\n"
           "refused(layout(1, 0, 0.002, 0.001, 1000, 1), 'min 0.002 is over max 0.001')\n"
           "refused(layout(1, 1, 0.001, 0.001, 1000, 1),\n"
           "        'values were clamped but max 0.001 is not the highest value')\n");
}

static void test_count_refusals(lua_State *L) {
    LUA(L, "refused(layout(3, 0, 0.001, 0.001, 1000, 2), 'the counts add up to 2, the total is "
           "3')\n"
           "refused(layout(1, 0, 0.001, 0.001, 1000, 1, 0, 1),\n"
           "        'the counts add up to more than the total 1 at byte 23')\n"
           "refused(layout(1, 0, 0.001, 0.001, 1000, 0), 'the pair at byte 20 has a count of 0')\n"
           "refused(layout(1, 0, top, top, 23552, 1), 'the pair at byte 20 is past the last "
           "slot')\n"
           "refused(layout(1, 0, top, top, -1, 1), 'the pair at byte 20 is past the last slot')\n"
           "refused(layout(2, 0, top, top, 23551, 1, 0, 1),\n"
           "        'the pair at byte 24 is past the last slot')\n"
           "local wrong = 'min and max are not in the first and last slots holding values'\n"
           "refused(layout(1, 0, 0.0005, 0.001, 1000, 1), wrong)\n"
           "refused(layout(2, 0, 0.0005, 0.002, 500, 1, 499, 1), wrong)\n"
           "refused(layout(2, 2, 0.001, top, 1000, 1, 22550, 1),\n"
           "        'the clamped count 2 is over the top slot\\'s 1')\n"
           "refused(layout(1, 0, 0.001, 0.001, 1000, 1) .. 'AA==', 'character 32 is not "
           "base64')\n"
           "refused(crypto.base64_encode(crypto.base64_decode(layout(1, 0, 0.001, 0.001, 1000, "
           "1)) .. '\\0'),\n"
           "        'it ends inside the count at byte 24')\n");
}

static void test_accepted(lua_State *L) {
    LUA(L, "local empty = accepted(layout(0, 0))\n"
           "eq(empty:count(), 0, 'empty count')\n"
           "eq(empty:min(), nil, 'empty min')\n"
           "local one = accepted(layout(1, 0, 0.001, 0.001, 1000, 1))\n"
           "eq(one:count(), 1, 'count')\n"
           "eq(one:percentile(50), 0.001, 'p50')\n"
           "local clamped = accepted(layout(2, 1, 0.001, top, 1000, 1, 22550, 1))\n"
           "eq(clamped:clamped(), 1, 'clamped')\n"
           "eq(clamped:max(), top, 'max')\n"
           /* The largest total and a count in the top slot. */
           "local big = accepted(layout(math.maxinteger, 0, top, top, 23551, math.maxinteger))\n"
           "eq(big:count(), math.maxinteger, 'largest count')\n");
}

/* A real text: every prefix fails, and every one-character change fails or decodes to a
 * histogram that encodes back to the changed text (the only way to decode is canonically). */
static void test_mutations(void) {
    struct hdr *h = malloc(sizeof *h);
    char *text = NULL;
    if (!h) {
        fputs("out of memory\n", stderr);
        exit(EXIT_FAILURE);
    }
    hdr_reset(h);
    for (int i = 0; i < 300; i++)
        hdr_record(h, 1e-6 * i * i * i, (uint64_t)(i % 7 + 1) * 1000003);
    hdr_record(h, 1e4, 3);
    size_t length = hdr_text_length(h);
    text = malloc(length);
    char *again = malloc(length);
    if (!text || !again) {
        fputs("out of memory\n", stderr);
        exit(EXIT_FAILURE);
    }
    hdr_encode(h, text);
    char error[200];
    int ok = 1;
    for (size_t n = 0; n < length && ok; n++)
        ok = check_that(!hdr_decode(h, text, n, error, sizeof error) &&
                            strncmp(error, "invalid histogram text: ", 24) == 0,
                        "the first %zu of %zu characters decode", n, length);
    static const char replacements[] = "AB/+=9a\n\0\xff";
    size_t changed_ok = 0;
    for (size_t i = 0; i < length && ok; i++) {
        for (size_t r = 0; r < sizeof replacements - 1 && ok; r++) {
            char kept = text[i];
            if (replacements[r] == kept)
                continue;
            text[i] = replacements[r];
            if (hdr_decode(h, text, length, error, sizeof error)) {
                changed_ok++;
                ok = check_that(hdr_text_length(h) == length, "change at %zu: length", i);
                if (ok) {
                    hdr_encode(h, again);
                    ok = check_that(memcmp(again, text, length) == 0,
                                    "change at %zu decodes but encodes differently", i);
                }
            } else {
                ok = check_that(strncmp(error, "invalid histogram text: ", 24) == 0 &&
                                    strlen(error) < sizeof error - 1,
                                "change at %zu: %s", i, error);
            }
            text[i] = kept;
        }
    }
    /* Changes inside min and max that keep them in their slots decode: the test saw some. */
    CHECK(changed_ok > 0);
    free(h);
    free(text);
    free(again);
}

int main(void) {
    lua_State *L = check_new_state();
    test_base64_refusals(L);
    test_header_refusals(L);
    test_count_refusals(L);
    test_accepted(L);
    lua_close(L);
    test_mutations();
    return check_report("test_histogram_decode");
}
