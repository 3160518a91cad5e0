/* libFuzzer target for the event-stream decoder (eventstream/decoder.h) and lambda.eventstream.
 * The first input byte chooses the size of the pieces the rest is fed in (its low bits) and
 * whether max_message is 64 bytes rather than 16 MB (its high bit); then the stream ends.
 * Checks that a fault is final, that the messages are contiguous and the buffer within the
 * limit, that the pieces change nothing (the same messages and the same error as when the
 * input comes whole), that every message decoded encodes to its own bytes again, with the C
 * functions and through Lua (feed, then encode each header_list and payload), and that Lua
 * reports the C decoder's error. */
#include <lauxlib.h>
#include <lualib.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/bytes.h"
#include "eventstream/decoder.h"
#include "eventstream/message.h"
#include "fuzz_lua.h"
#include "host/modules.h"

#define REQUIRE(condition)                                                                         \
    do {                                                                                           \
        if (!(condition))                                                                          \
            abort();                                                                               \
    } while (0)

/* What a decoding made of the input: the messages' bytes end to end, and the error. */
struct result {
    size_t consumed; /* bytes of the input in complete messages */
    size_t messages;
    bool failed;
    char error[sizeof((struct eventstream_decoder *)0)->error];
};

/* Writes m's headers and payload again and compares with its bytes. */
static void check_encodes_again(const struct eventstream_message *m, struct bytes *scratch) {
    scratch->length = 0;
    REQUIRE(bytes_append(scratch, m->bytes, m->length)); /* room; overwritten below */
    memset(scratch->data, 0, m->length);
    const char *cursor = m->headers;
    char *at = scratch->data + EVENTSTREAM_PRELUDE;
    for (size_t i = 0; i < m->header_count; i++) {
        struct eventstream_header h;
        eventstream_next_header(&cursor, &h);
        REQUIRE(h.name_length >= 1 && h.type < EVENTSTREAM_TYPES);
        at = eventstream_write_header(at, &h);
    }
    REQUIRE(cursor == m->headers + m->headers_length);
    REQUIRE(at == scratch->data + EVENTSTREAM_PRELUDE + m->headers_length);
    eventstream_frame(scratch->data, m->headers_length, m->payload, m->payload_length);
    REQUIRE(memcmp(scratch->data, m->bytes, m->length) == 0);
}

static void decode(const char *data, size_t size, size_t piece, uint32_t max_message,
                   struct result *r, struct bytes *scratch) {
    struct eventstream_decoder d;
    eventstream_decoder_init(&d, max_message);
    *r = (struct result){0};
    for (size_t at = 0; at < size; at += piece) {
        const char *p = data + at;
        size_t left = size - at < piece ? size - at : piece;
        enum eventstream_step step;
        struct eventstream_message m;
        while ((step = eventstream_decoder_next(&d, &p, &left, &m)) == EVENTSTREAM_MESSAGE) {
            REQUIRE(!r->failed);
            /* Read where it is when it came in one piece, else from the buffer. */
            REQUIRE(m.bytes == data + r->consumed || m.bytes == d.buffer);
            REQUIRE(m.offset == r->consumed && m.length >= EVENTSTREAM_OVERHEAD);
            REQUIRE(m.length <= max_message);
            REQUIRE(memcmp(m.bytes, data + m.offset, m.length) == 0);
            check_encodes_again(&m, scratch);
            r->consumed += m.length;
            r->messages++;
        }
        REQUIRE(d.capacity <= max_message);
        if (step == EVENTSTREAM_ERROR)
            r->failed = true;
        else
            REQUIRE(!r->failed && left == 0); /* a fault is final; MORE means all was taken */
    }
    bool finished = eventstream_decoder_finish(&d);
    REQUIRE(!(finished && r->failed));
    REQUIRE(!finished || r->consumed == size);
    r->failed = !finished;
    REQUIRE(r->failed == (d.error[0] != '\0'));
    memcpy(r->error, d.error, sizeof r->error);
    eventstream_decoder_free(&d);
}

/* A function of (input, piece size, max_message) -> the messages encoded again end to end,
 * the error or nil; it uses lambda.eventstream as a script would. */
static const char lua_round_trip[] =
    "local eventstream = ...\n"
    "return function(input, size, max_message)\n"
    "  local d, again, failure = eventstream.decoder({max_message = max_message}), {}, nil\n"
    "  for first = 1, #input, size do\n"
    "    local messages, message, kind, before = d:feed(input:sub(first, first + size - 1))\n"
    "    if not messages then\n"
    "      assert(kind == 'input' and type(message) == 'string')\n"
    "      failure, messages = message, before\n"
    "    end\n"
    "    for _, m in ipairs(messages) do\n"
    "      again[#again + 1] = eventstream.encode(m.header_list, m.payload)\n"
    "    end\n"
    "    if failure then break end\n"
    "  end\n"
    "  if not failure then\n"
    "    local ok, message = d:finish()\n"
    "    if not ok then failure = message end\n"
    "  end\n"
    "  return table.concat(again), failure\n"
    "end\n";

static lua_State *lua_state(void) {
    static const char *const functions[] = {NULL};
    static int round_trip = LUA_NOREF;
    lua_State *L = fuzz_lua_state("lambda.eventstream", luaopen_lambda_eventstream, functions);
    if (round_trip == LUA_NOREF) {
        luaL_openlibs(L);
        luaL_requiref(L, "lambda.eventstream", luaopen_lambda_eventstream, 0);
        if (luaL_loadbuffer(L, lua_round_trip, sizeof lua_round_trip - 1, "=round_trip") != LUA_OK)
            abort();
        lua_insert(L, -2);
        fuzz_lua_call(L, lua_gettop(L) - 1, 1, 1); /* the chunk, with the module */
        lua_remove(L, -2);                         /* the chunk */
        round_trip = luaL_ref(L, LUA_REGISTRYINDEX);
    }
    lua_rawgeti(L, LUA_REGISTRYINDEX, round_trip);
    return L;
}

int LLVMFuzzerTestOneInput(const uint8_t *bytes, size_t size) {
    if (size == 0)
        return 0;
    size_t piece = (size_t)(bytes[0] & 0x7f) + 1;
    uint32_t max_message = (bytes[0] & 0x80) ? 64 : EVENTSTREAM_MAX_MESSAGE;
    const char *data = (const char *)bytes + 1;
    size--;

    static struct bytes scratch;
    struct result pieces, whole;
    decode(data, size, piece, max_message, &pieces, &scratch);
    decode(data, size, size ? size : 1, max_message, &whole, &scratch);
    REQUIRE(pieces.consumed == whole.consumed && pieces.messages == whole.messages);
    REQUIRE(pieces.failed == whole.failed && strcmp(pieces.error, whole.error) == 0);

    lua_State *L = lua_state();
    int round_trip = lua_gettop(L);
    lua_pushlstring(L, data, size);
    lua_pushinteger(L, (lua_Integer)piece);
    lua_pushinteger(L, (lua_Integer)max_message);
    fuzz_lua_call(L, round_trip, 3, 2);
    size_t again_length;
    const char *again = lua_tolstring(L, -2, &again_length);
    REQUIRE(again_length == whole.consumed && memcmp(again, data, again_length) == 0);
    if (whole.failed)
        REQUIRE(lua_type(L, -1) == LUA_TSTRING && strcmp(lua_tostring(L, -1), whole.error) == 0);
    else
        REQUIRE(lua_isnil(L, -1));
    return 0;
}
