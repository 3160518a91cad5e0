/* lambda.eventstream: AWS event streams (application/vnd.amazon.eventstream), the answer body
 * of InvokeWithResponseStream, decoded incrementally as the bytes arrive, and encoded.
 *
 *   eventstream.decoder([{max_message = bytes}]) -> d     (default and AWS SDKs' limit: 16 MB)
 *   d:feed(bytes) -> {message, ...}     the messages the new bytes complete, in stream order
 *                 | nil, message, "input", {message, ...}   a damaged stream; the list holds
 *                   the messages the same bytes completed before the fault
 *   d:finish() -> true | nil, message, "input"     the stream has ended: between messages?
 *   eventstream.encode(headers, [payload]) -> bytes      one message
 *
 * A message is {headers = {[name] = value}, header_list = {{name, type, value}, ...},
 * payload = bytes}: header_list in wire order with the type numbers (0 true, 1 false, 2 byte,
 * 3 short, 4 integer, 5 long, 6 byte array, 7 string, 8 timestamp, 9 UUID), headers by name
 * (a repeated name: the last). Values: booleans; Lua integers for 2 to 5; strings for byte
 * arrays and strings; a timestamp as {timestamp = milliseconds since the epoch} (an integer:
 * exact, and distinct from a long); a UUID as its lower-case 8-4-4-4-12 text.
 *
 * A fault is final: every later feed or finish returns the same message. The messages say
 * what and where, the byte being the stream offset (from 0) of the message or header at fault:
 *   prelude CRC mismatch at byte N: expected 0x..., got 0x...   (expected: what the bytes
 *   message CRC mismatch at byte N: expected 0x..., got 0x...    sum to; got: what was sent)
 *   total length L below the minimum 16 at byte N
 *   message of L bytes over the limit of M at byte N
 *   headers length H exceeds the message of L bytes at byte N
 *   headers length H over the limit of 131072 at byte N
 *   unknown header type T at byte N;  header at byte N runs past the headers
 *   empty header name at byte N;  header name at byte N is not UTF-8
 *   string value of the header at byte N is not UTF-8
 *   the stream ended inside a message (K bytes of L)            (finish; "of its 12-byte
 *                                                                 prelude" before its lengths)
 *   an earlier feed was cut short by an error      (it raised: out of memory; bytes are lost)
 * The prelude's faults are found as soon as its 12 bytes are in, before anything is buffered
 * for the message, so a decoder holds at most one incomplete message (max_message bytes) and
 * a stream of any number of messages is decoded in bounded memory.
 *
 * encode takes headers as a list {{name, type, value}, ...} (written in that order; values as
 * a decoded message has them, a timestamp also as a plain integer, a UUID's text in either
 * case) or a map {[name] = string} (type 7, written in byte order of the names). It raises
 * for what no decoder would take back: a name not of 1 to 255 bytes of UTF-8, a value out of
 * its type's range, a string or byte array over 65535 bytes, headers over 128 KiB, a message
 * over 16 MB. What decodes encodes to the same bytes. */
#include <lauxlib.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/luax.h"
#include "eventstream/decoder.h"
#include "eventstream/message.h"
#include "host/modules.h"

#define DECODER_TYPE "lambda.eventstream.decoder"

struct lua_decoder {
    struct eventstream_decoder d;
    /* Set while a feed runs: still set when the next call comes, the feed was cut short by an
     * error (lack of memory) and the rest of its bytes are lost to the decoder. */
    bool busy;
};

/* decoder([{max_message = bytes}]) */
static int es_decoder(lua_State *L) {
    lua_Integer max_message = EVENTSTREAM_MAX_MESSAGE;
    if (!lua_isnoneornil(L, 1)) {
        luaL_checktype(L, 1, LUA_TTABLE);
        lua_pushnil(L);
        while (lua_next(L, 1)) {
            lua_pop(L, 1);
            if (lua_type(L, -1) != LUA_TSTRING || strcmp(lua_tostring(L, -1), "max_message") != 0)
                return luaL_argerror(
                    L, 1, lua_pushfstring(L, "unknown option %s", luaL_tolstring(L, -1, NULL)));
        }
        if (lua_getfield(L, 1, "max_message") != LUA_TNIL) {
            int is_integer;
            max_message = lua_tointegerx(L, -1, &is_integer);
            if (lua_type(L, -1) != LUA_TNUMBER || !is_integer ||
                max_message < EVENTSTREAM_OVERHEAD || max_message > UINT32_MAX)
                return luaL_argerror(L, 1, "max_message must be an integer from 16 to 4294967295");
        }
        lua_pop(L, 1);
    }
    struct lua_decoder *ld = lua_newuserdatauv(L, sizeof *ld, 0);
    eventstream_decoder_init(&ld->d, (uint32_t)max_message);
    ld->busy = false;
    luaL_setmetatable(L, DECODER_TYPE);
    return 1;
}

static void push_value(lua_State *L, const struct eventstream_header *h) {
    switch (h->type) {
    case EVENTSTREAM_TRUE:
    case EVENTSTREAM_FALSE:
        lua_pushboolean(L, h->type == EVENTSTREAM_TRUE);
        break;
    case EVENTSTREAM_BYTES:
    case EVENTSTREAM_STRING:
        lua_pushlstring(L, h->bytes, h->bytes_length);
        break;
    case EVENTSTREAM_TIMESTAMP:
        lua_createtable(L, 0, 1);
        lua_pushinteger(L, h->integer);
        lua_setfield(L, -2, "timestamp");
        break;
    case EVENTSTREAM_UUID: {
        char text[EVENTSTREAM_UUID_TEXT];
        eventstream_uuid_format(h->bytes, text);
        lua_pushlstring(L, text, sizeof text);
        break;
    }
    default: /* byte, short, integer, long */
        lua_pushinteger(L, h->integer);
        break;
    }
}

/* Pushes {headers, header_list, payload}. */
static void push_message(lua_State *L, const struct eventstream_message *m) {
    lua_createtable(L, 0, 3);
    lua_createtable(L, 0, (int)m->header_count); /* headers */
    lua_createtable(L, (int)m->header_count, 0); /* header_list */
    const char *cursor = m->headers;
    for (size_t i = 1; i <= m->header_count; i++) {
        struct eventstream_header h;
        eventstream_next_header(&cursor, &h);
        lua_createtable(L, 3, 0);
        lua_pushlstring(L, h.name, h.name_length);
        lua_rawseti(L, -2, 1);
        lua_pushinteger(L, h.type);
        lua_rawseti(L, -2, 2);
        push_value(L, &h);
        lua_pushvalue(L, -1);
        lua_rawseti(L, -3, 3);
        lua_pushlstring(L, h.name, h.name_length);
        lua_insert(L, -2);
        lua_rawset(L, -5); /* headers[name] = value */
        lua_rawseti(L, -2, (lua_Integer)i);
    }
    lua_setfield(L, -3, "header_list");
    lua_setfield(L, -2, "headers");
    lua_pushlstring(L, m->payload, m->payload_length);
    lua_setfield(L, -2, "payload");
}

static struct lua_decoder *check_decoder(lua_State *L) {
    struct lua_decoder *ld = luaL_checkudata(L, 1, DECODER_TYPE);
    if (ld->busy) {
        eventstream_decoder_fail(&ld->d, "an earlier feed was cut short by an error");
        ld->busy = false;
    }
    return ld;
}

/* d:feed(bytes) */
static int es_feed(lua_State *L) {
    struct lua_decoder *ld = check_decoder(L);
    size_t length = 0;
    const char *data = luaL_checklstring(L, 2, &length);
    lua_settop(L, 2);
    lua_newtable(L); /* 3: the messages */
    lua_Integer count = 0;
    ld->busy = true;
    for (;;) {
        struct eventstream_message m;
        enum eventstream_step step = eventstream_decoder_next(&ld->d, &data, &length, &m);
        if (step == EVENTSTREAM_MORE)
            break;
        if (step == EVENTSTREAM_ERROR) {
            ld->busy = false;
            luax_push_failure(L, "input", ld->d.error);
            lua_pushvalue(L, 3);
            return 4;
        }
        push_message(L, &m);
        lua_rawseti(L, 3, ++count);
    }
    ld->busy = false;
    return 1;
}

/* d:finish() */
static int es_finish(lua_State *L) {
    struct lua_decoder *ld = check_decoder(L);
    if (!eventstream_decoder_finish(&ld->d))
        return luax_push_failure(L, "input", ld->d.error);
    lua_pushboolean(L, 1);
    return 1;
}

static int es_decoder_gc(lua_State *L) {
    struct lua_decoder *ld = luaL_checkudata(L, 1, DECODER_TYPE);
    eventstream_decoder_free(&ld->d);
    return 0;
}

static int es_decoder_tostring(lua_State *L) {
    struct lua_decoder *ld = luaL_checkudata(L, 1, DECODER_TYPE);
    lua_pushfstring(L, "eventstream decoder (%s)", ld->d.failed ? "failed" : "ok");
    return 1;
}

/* A header to encode; uuid holds a UUID's bytes, which h.bytes then points to. */
struct header_in {
    struct eventstream_header h;
    char uuid[16];
};

static void check_name(lua_State *L, int at, const char *where, struct header_in *in) {
    size_t length = 0;
    const char *name = lua_type(L, at) == LUA_TSTRING ? lua_tolstring(L, at, &length) : NULL;
    if (!name || length == 0 || length > EVENTSTREAM_MAX_NAME ||
        !eventstream_utf8_valid(name, length))
        luaL_argerror(L, 1,
                      lua_pushfstring(L, "%s: a name must be 1 to 255 bytes of UTF-8", where));
    in->h.name = name;
    in->h.name_length = length;
}

static const char *const type_names[EVENTSTREAM_TYPES] = {
    "boolean true", "boolean false", "byte",   "short",     "integer",
    "long",         "byte array",    "string", "timestamp", "UUID",
};

/* The value at `at` for in->h.type, or raises. */
static void check_value(lua_State *L, int at, const char *where, struct header_in *in) {
    static const lua_Integer bits[] = {[EVENTSTREAM_BYTE] = 8,
                                       [EVENTSTREAM_SHORT] = 16,
                                       [EVENTSTREAM_INTEGER] = 32,
                                       [EVENTSTREAM_LONG] = 64};
    struct eventstream_header *h = &in->h;
    at = lua_absindex(L, at);
    int type = lua_type(L, at), is_integer = 0;
    const char *problem = NULL;
    switch (h->type) {
    case EVENTSTREAM_TRUE:
    case EVENTSTREAM_FALSE:
        if (type != LUA_TBOOLEAN || lua_toboolean(L, at) != (h->type == EVENTSTREAM_TRUE))
            problem =
                h->type == EVENTSTREAM_TRUE ? "its value must be true" : "its value must be false";
        break;
    case EVENTSTREAM_BYTE:
    case EVENTSTREAM_SHORT:
    case EVENTSTREAM_INTEGER:
    case EVENTSTREAM_LONG: {
        h->integer = lua_tointegerx(L, at, &is_integer);
        lua_Integer high = (lua_Integer)(((uint64_t)1 << (bits[h->type] - 1)) - 1);
        if (type != LUA_TNUMBER || !is_integer || h->integer > high || h->integer < -high - 1)
            problem = lua_pushfstring(L, "its value must be an integer from %I to %I",
                                      (LUAI_UACINT)(-high - 1), (LUAI_UACINT)high);
        break;
    }
    case EVENTSTREAM_BYTES:
    case EVENTSTREAM_STRING:
        h->bytes = type == LUA_TSTRING ? lua_tolstring(L, at, &h->bytes_length) : NULL;
        if (!h->bytes || h->bytes_length > EVENTSTREAM_MAX_VALUE ||
            (h->type == EVENTSTREAM_STRING && !eventstream_utf8_valid(h->bytes, h->bytes_length)))
            problem = h->type == EVENTSTREAM_STRING
                          ? "its value must be UTF-8 text of at most 65535 bytes"
                          : "its value must be a string of at most 65535 bytes";
        break;
    case EVENTSTREAM_TIMESTAMP:
        if (type == LUA_TTABLE) {
            lua_pushliteral(L, "timestamp");
            lua_rawget(L, at);
            h->integer = lua_tointegerx(L, -1, &is_integer);
            is_integer = is_integer && lua_type(L, -1) == LUA_TNUMBER;
            lua_pop(L, 1);
        } else if (type == LUA_TNUMBER) {
            h->integer = lua_tointegerx(L, at, &is_integer);
        }
        if (!is_integer)
            problem = "its value must be {timestamp = milliseconds} or an integer";
        break;
    case EVENTSTREAM_UUID: {
        size_t length = 0;
        const char *text = type == LUA_TSTRING ? lua_tolstring(L, at, &length) : NULL;
        if (!text || !eventstream_uuid_parse(text, length, in->uuid))
            problem = "its value must be the UUID's text (8-4-4-4-12 hex digits)";
        h->bytes = in->uuid;
        h->bytes_length = 16;
        break;
    }
    default:
        break;
    }
    if (problem)
        luaL_argerror(L, 1,
                      lua_pushfstring(L, "%s: type %d (%s): %s", where, (int)h->type,
                                      type_names[h->type], problem));
}

/* Fills in[0..count) from the list at index 1. */
static void read_list(lua_State *L, struct header_in *in, size_t count) {
    for (size_t i = 0; i < count; i++) {
        const char *where = lua_pushfstring(L, "header %I", (LUAI_UACINT)(i + 1));
        if (lua_rawgeti(L, 1, (lua_Integer)(i + 1)) != LUA_TTABLE)
            luaL_argerror(L, 1,
                          lua_pushfstring(L, "%s must be a table {name, type, value}", where));
        int entry = lua_gettop(L);
        lua_rawgeti(L, entry, 1);
        check_name(L, -1, where, &in[i]);
        lua_rawgeti(L, entry, 2);
        int is_integer;
        lua_Integer type = lua_tointegerx(L, -1, &is_integer);
        if (lua_type(L, -1) != LUA_TNUMBER || !is_integer || type < 0 || type >= EVENTSTREAM_TYPES)
            luaL_argerror(L, 1,
                          lua_pushfstring(L, "%s: its type must be an integer from 0 to 9", where));
        in[i].h.type = (enum eventstream_type)type;
        lua_rawgeti(L, entry, 3);
        check_value(L, -1, where, &in[i]);
        /* The strings stay reachable from the headers table, which nothing changes meanwhile. */
        lua_pop(L, 5);
    }
}

static int by_name(const void *a, const void *b) {
    const struct eventstream_header *x = a, *y = b;
    size_t shorter = x->name_length < y->name_length ? x->name_length : y->name_length;
    int order = memcmp(x->name, y->name, shorter);
    return order ? order : (x->name_length > y->name_length) - (x->name_length < y->name_length);
}

/* Fills in[] from the map at index 1, in byte order of the names. */
static void read_map(lua_State *L, struct header_in *in) {
    size_t i = 0;
    lua_pushnil(L);
    while (lua_next(L, 1)) {
        if (lua_type(L, -2) != LUA_TSTRING)
            luaL_argerror(L, 1, "a header map's keys must be strings");
        in[i].h.type = EVENTSTREAM_STRING;
        check_name(L, -2, "header map", &in[i]);
        check_value(L, -1, "header map", &in[i]);
        lua_pop(L, 1);
        i++;
    }
    qsort(in, i, sizeof *in, by_name);
}

/* encode(headers, [payload]) */
static int es_encode(lua_State *L) {
    luaL_checktype(L, 1, LUA_TTABLE);
    size_t payload_length;
    const char *payload = luaL_optlstring(L, 2, "", &payload_length);
    lua_settop(L, 2);
    /* A list has 1..n only; anything else in it is a mistake. A map has string keys. */
    size_t list_length = lua_rawlen(L, 1), entries = 0;
    lua_pushnil(L);
    while (lua_next(L, 1)) {
        lua_pop(L, 1);
        entries++;
        if (list_length && (!lua_isinteger(L, -1) || lua_tointeger(L, -1) < 1 ||
                            (size_t)lua_tointeger(L, -1) > list_length))
            luaL_argerror(L, 1,
                          "headers must be a list {{name, type, value}, ...} or a map "
                          "{[name] = string}, not both");
    }
    /* A list with holes stops at the first: "header N must be a table". */
    size_t count = list_length ? list_length : entries;
    struct header_in *in = lua_newuserdatauv(L, count ? count * sizeof *in : 1, 0);
    if (list_length)
        read_list(L, in, count);
    else
        read_map(L, in);
    size_t headers_length = 0;
    for (size_t i = 0; i < count; i++)
        headers_length += eventstream_header_size(&in[i].h);
    if (headers_length > EVENTSTREAM_MAX_HEADERS)
        return luaL_argerror(L, 1,
                             lua_pushfstring(L, "headers of %I bytes over the limit of %d",
                                             (LUAI_UACINT)headers_length, EVENTSTREAM_MAX_HEADERS));
    if (payload_length > EVENTSTREAM_MAX_MESSAGE - EVENTSTREAM_OVERHEAD - headers_length)
        return luaL_argerror(
            L, 2,
            lua_pushfstring(L, "a message of %I bytes is over the limit of %d",
                            (LUAI_UACINT)(EVENTSTREAM_OVERHEAD + headers_length + payload_length),
                            EVENTSTREAM_MAX_MESSAGE));
    size_t total = EVENTSTREAM_OVERHEAD + headers_length + payload_length;
    luaL_Buffer buffer;
    char *out = luaL_buffinitsize(L, &buffer, total);
    char *at = out + EVENTSTREAM_PRELUDE;
    for (size_t i = 0; i < count; i++)
        at = eventstream_write_header(at, &in[i].h);
    eventstream_frame(out, headers_length, payload, payload_length);
    luaL_pushresultsize(&buffer, total);
    return 1;
}

static const luaL_Reg decoder_methods[] = {
    {"feed", es_feed},
    {"finish", es_finish},
    {NULL, NULL},
};

static const luaL_Reg decoder_metamethods[] = {
    {"__gc", es_decoder_gc},
    {"__tostring", es_decoder_tostring},
    {NULL, NULL},
};

static const luaL_Reg eventstream_functions[] = {
    {"decoder", es_decoder},
    {"encode", es_encode},
    {NULL, NULL},
};

int luaopen_lambda_eventstream(lua_State *L) {
    luax_new_class(L, DECODER_TYPE, decoder_metamethods, decoder_methods);
    luaL_newlib(L, eventstream_functions);
    return 1;
}
