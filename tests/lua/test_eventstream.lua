-- CRC-32 (lambda.crypto.crc32), the event-stream decoder and encoder (lambda.eventstream) as a
-- script sees them, and the messages the emulator streams with (lambda.emulator.eventstream).
-- The framing itself, in every split and with every fault, is tests/unit/test_eventstream.c's.
local t = require("testing")
local crypto = require("lambda.crypto")
local eventstream = require("lambda.eventstream")
local emulator = require("lambda.emulator.eventstream")

-- Every message d makes of bytes fed in pieces of `size`, then d:finish()'s answer.
local function decode_in_pieces(bytes, size, d)
  d = d or eventstream.decoder()
  local messages = {}
  for first = 1, #bytes, size do
    local decoded, err = d:feed(bytes:sub(first, first + size - 1))
    assert(decoded, err)
    table.move(decoded, 1, #decoded, #messages + 1, messages)
  end
  return messages, d:finish()
end

t.case("crc32 check values", function()
  t.eq(crypto.crc32("123456789"), 0xCBF43926, "standard check value")
  t.eq(crypto.crc32(""), 0)
  t.eq(crypto.crc32("The quick brown fox jumps over the lazy dog"), 0x414FA339)
  t.eq(crypto.crc32("56789", crypto.crc32("1234")), 0xCBF43926, "running CRC")
  t.matches(tostring(t.raises(crypto.crc32, "x", -1)), "CRC%-32 value")
end)

t.case("a message has the documented layout", function()
  local message = eventstream.encode({ { ":event-type", 7, "PayloadChunk" } }, "hi")
  local total, headers_length = string.unpack(">I4I4", message)
  t.eq(total, #message)
  t.eq(headers_length, 1 + 11 + 1 + 2 + 12)
  t.eq(total, 16 + headers_length + 2)
  t.eq(string.unpack(">I4", message, 9), crypto.crc32(message:sub(1, 8)), "prelude CRC")
  t.eq(string.unpack(">I4", message, total - 3), crypto.crc32(message:sub(1, total - 4)))
  t.eq(message:sub(13, 13), "\11", "name length")
  t.eq(message:sub(14, 24), ":event-type")
  t.eq(message:sub(25, 25), "\7", "string type")
  t.eq(message:sub(-6, -5), "hi", "payload")
end)

t.case("decoded messages: headers by name and in order, payload", function()
  local bytes = eventstream.encode({
    { "yes", 0, true }, { "no", 1, false }, { "byte", 2, -128 }, { "short", 3, 32767 },
    { "int", 4, -2147483648 }, { "long", 5, math.maxinteger }, { "blob", 6, "\0\255" },
    { "text", 7, "h\u{e9}llo" }, { "when", 8, { timestamp = -1 } },
    { "id", 9, "0123ABCD-4567-89ef-FEDC-ba9876543210" }, { "text", 7, "again" },
  }, "payload\0")
  local messages, finished = decode_in_pieces(bytes, 1)
  t.eq(finished, true, "finish")
  t.eq(#messages, 1)
  local m = messages[1]
  t.eq(m.payload, "payload\0")
  t.eq(m.headers, { yes = true, no = false, byte = -128, short = 32767, int = -2147483648,
    long = math.maxinteger, blob = "\0\255", text = "again", when = { timestamp = -1 },
    id = "0123abcd-4567-89ef-fedc-ba9876543210" }, "headers (a repeated name: the last)")
  t.eq(#m.header_list, 11)
  t.eq(m.header_list[3], { "byte", 2, -128 })
  t.eq(m.header_list[10], { "id", 9, "0123abcd-4567-89ef-fedc-ba9876543210" })
  t.eq(m.header_list[11], { "text", 7, "again" })
  t.eq(math.type(m.headers.long), "integer")
  -- The list form of a decoded message encodes to the same bytes.
  t.eq(eventstream.encode(m.header_list, m.payload) == bytes, true, "round trip")
end)

t.case("a map of strings encodes in name order; a timestamp may be a plain integer", function()
  t.eq(eventstream.encode({ b = "2", a = "1" }),
    eventstream.encode({ { "a", 7, "1" }, { "b", 7, "2" } }))
  t.eq(eventstream.encode({ { "t", 8, 1700000000123 } }),
    eventstream.encode({ { "t", 8, { timestamp = 1700000000123 } } }))
  t.eq(eventstream.encode({}), eventstream.encode({}, ""), "no headers, no payload")
  t.eq(#eventstream.encode({}), 16)
end)

t.case("feed returns the messages the new bytes complete", function()
  local one = eventstream.encode({ n = "1" }, "first")
  local two = eventstream.encode({ n = "2" }, "second")
  local d = eventstream.decoder()
  t.eq(d:feed(""), {}, "nothing fed")
  t.eq(d:feed(one:sub(1, 5)), {}, "inside the prelude")
  local got = d:feed(one:sub(6) .. two:sub(1, 20))
  t.eq(#got, 1)
  t.eq(got[1].payload, "first")
  got = d:feed(two:sub(21))
  t.eq(got[1].headers.n, "2")
  t.eq(d:finish(), true)
end)

t.case("faults are final and name where they are", function()
  local message = eventstream.encode({ n = "1" }, "data")
  local damaged = message:sub(1, -2) .. string.char(message:byte(-1) ~ 1)
  local d = eventstream.decoder()
  local decoded, err, kind, before = d:feed(message .. damaged)
  t.eq(decoded, nil)
  t.matches(err, "^message CRC mismatch at byte " .. #message .. ": expected 0x%x+, got 0x%x+$")
  t.eq(kind, "input")
  t.eq(#before, 1, "the message before the fault")
  t.eq(before[1].payload, "data")
  t.eq({ d:feed(message) }, { nil, err, "input", {} }, "a later feed")
  t.eq({ d:finish() }, { nil, err, "input" }, "finish")

  local prelude = eventstream.decoder()
  t.eq(prelude:feed(message:sub(1, 8) .. "\0\0\0\0"), nil)
  t.matches(select(2, prelude:feed("")), "^prelude CRC mismatch at byte 0: ")

  local cut = eventstream.decoder()
  t.eq(cut:feed(message:sub(1, 20)), {})
  t.eq({ cut:finish() }, { nil, "the stream ended inside a message (20 bytes of " .. #message
    .. ")", "input" })
end)

t.case("max_message bounds a message", function()
  local message = eventstream.encode({}, string.rep("x", 100))
  local d = eventstream.decoder({ max_message = 116 })
  t.eq(#d:feed(message), 1, "at the limit")
  local small = eventstream.decoder({ max_message = 115 })
  t.eq(select(2, small:feed(message:sub(1, 12))),
    "message of 116 bytes over the limit of 115 at byte 0")
end)

t.case("misuse raises", function()
  t.matches(t.raises(eventstream.decoder, "big"), "table expected")
  t.matches(t.raises(eventstream.decoder, { max_message = 15 }), "max_message must be")
  t.matches(t.raises(eventstream.decoder, { max_message = 2 ^ 32 }), "max_message must be")
  t.matches(t.raises(eventstream.decoder, { max_message = 100.5 }), "max_message must be")
  t.matches(t.raises(eventstream.decoder, { max_size = 100 }), "unknown option max_size")
  local d = eventstream.decoder()
  t.matches(t.raises(d.feed, d, {}), "string expected")
  t.matches(t.raises(d.feed, {}, "x"), "lambda.eventstream.decoder expected")
  t.matches(t.raises(eventstream.encode, "x"), "table expected")
  t.matches(t.raises(eventstream.encode, {}, {}), "string expected")
  local function encode_problem(headers)
    return tostring(t.raises(eventstream.encode, headers))
  end
  t.matches(encode_problem({ { "", 7, "x" } }), "header 1: a name must be 1 to 255 bytes")
  t.matches(encode_problem({ { string.rep("n", 256), 7, "x" } }), "1 to 255 bytes of UTF%-8")
  t.matches(encode_problem({ { "\255", 7, "x" } }), "1 to 255 bytes of UTF%-8")
  t.matches(encode_problem({ { "a", 7, "x" }, "b" }), "header 2 must be a table")
  t.matches(encode_problem({ { "a", 10, "x" } }), "type must be an integer from 0 to 9")
  t.matches(encode_problem({ { "a", 0, false } }),
    "type 0 %(boolean true%): its value must be true")
  t.matches(encode_problem({ { "a", 2, 128 } }), "from %-128 to 127")
  t.matches(encode_problem({ { "a", 3, 1.5 } }), "from %-32768 to 32767")
  t.matches(encode_problem({ { "a", 4, "1" } }), "from %-2147483648 to 2147483647")
  t.matches(encode_problem({ { "a", 6, string.rep("x", 65536) } }), "at most 65535 bytes")
  t.matches(encode_problem({ { "a", 7, "\192" } }), "UTF%-8 text of at most 65535 bytes")
  t.matches(encode_problem({ { "a", 8, "now" } }), "{timestamp = milliseconds} or an integer")
  t.matches(encode_problem({ { "a", 9, "0123abcd-4567-89ef-fedc-ba987654321" } }), "8%-4%-4%-4%-12")
  t.matches(encode_problem({ a = 1 }), "header map: type 7 %(string%)")
  t.matches(encode_problem({ [1] = { "a", 7, "x" }, b = "y" }), "not both")
  local many = {}
  for i = 1, 3 do
    many[i] = { "h" .. i, 6, string.rep("x", 65000) } -- 1 + 2 + 1 + 2 + 65000 bytes each
  end
  t.matches(encode_problem(many), "headers of 195018 bytes over the limit of 131072")
  t.matches(tostring(t.raises(eventstream.encode, {}, string.rep("x", 16 * 1024 * 1024))),
    "a message of 16777232 bytes is over the limit of 16777216")
end)

t.case("the emulator's messages decode to their parts", function()
  local stream = emulator.payload_chunk("part one\0") .. emulator.payload_chunk("")
    .. emulator.invoke_complete({ ErrorCode = "Unhandled", LogResult = "bG9n" })
  local messages, finished = decode_in_pieces(stream, 7)
  t.eq(finished, true)
  t.eq(#messages, 3)
  t.eq(messages[1].headers, { [":event-type"] = "PayloadChunk",
    [":content-type"] = "application/octet-stream", [":message-type"] = "event" })
  t.eq(messages[1].payload, "part one\0")
  t.eq(messages[2].payload, "")
  t.eq(messages[3].headers[":event-type"], "InvokeComplete")
  t.eq(messages[3].headers[":content-type"], "application/json")
  t.eq(messages[3].payload, '{"ErrorCode":"Unhandled","LogResult":"bG9n"}')
  t.eq(emulator.invoke_complete({}):sub(-6, -5), "{}", "empty completion")
end)

t.case("the emulator splits data over the message limit into several chunks", function()
  local data = string.rep("0123456789abcdef", (emulator.MAX_CHUNK + 100) // 16)
  local messages, finished = decode_in_pieces(emulator.payload_chunk(data), 64 * 1024)
  t.eq(finished, true)
  t.eq(#messages, 2)
  t.eq(#messages[1].payload, emulator.MAX_CHUNK)
  t.eq(messages[2].headers[":event-type"], "PayloadChunk")
  t.eq(messages[1].payload .. messages[2].payload == data, true, "the data, in order")
end)

return t.run()
