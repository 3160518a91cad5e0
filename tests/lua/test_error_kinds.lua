-- The error convention of the C-backed public modules (docs/scripting.md, section 7), one case
-- per module and kind: an expected failure is nil, message, kind[, detail], with the message
-- naming what is at fault, the kind from the documented set and the documented detail. The
-- table KINDS lists what each module can return; every pair in it has a case here, or names
-- the test that provokes it where this process cannot (a library that cannot be loaded, a
-- system call the kernel does not refuse), so that the convention cannot drift unnoticed.
local t = require("testing")
local lambda = require("lambda")
local http, json, toml, ini, xml = lambda.http, lambda.json, lambda.toml, lambda.ini, lambda.xml
local fs, crypto, sigv4, event = lambda.fs, lambda.crypto, lambda.sigv4, lambda.event
local eventstream, histogram = require("lambda.eventstream"), require("lambda.histogram")

-- The documented kinds: a case with any other fails.
local DOCUMENTED = {
  input = true, not_found = true, transport = true, timeout = true, tls = true,
  service = true, io = true, too_large = true,
}

-- module -> kind -> where it is checked ("here", or the test that does).
local KINDS = {
  http = { input = "here", transport = "here", timeout = "here", tls = "here",
    io = "tests/e2e/test_http_module.py MissingLibcurlTests" },
  json = { input = "here" },
  toml = { input = "here" },
  ini = { input = "here" },
  xml = { input = "here" },
  fs = { not_found = "here", io = "here", input = "here", too_large = "here", timeout = "here" },
  crypto = { input = "here", io = "tests/e2e/test_openssl_loading.py (no libcrypto)" },
  sigv4 = { input = "here", io = "tests/e2e/test_openssl_loading.py (no libcrypto)" },
  cache = { input = "here", not_found = "here", io = "here" },
  event = { input = "here", transport = "here", not_found = "here",
    io = "here; subreaper: tests/unit/test_event_subreaper.c, http_server without libssl: "
      .. "tests/e2e/test_openssl_loading.py",
    tls = "not provoked: OpenSSL refusing to create a context" },
  eventstream = { input = "here" },
  histogram = { input = "here" },
}

local seen = {}

-- Checks that values (a table.pack of the call's results) are nil, message, kind[, detail]:
-- message equal to the expected text, or matching it when given as {pattern = ...}.
local function failure(module, values, message, kind, detail)
  local what = module .. " " .. kind
  t.eq(values[1], nil, what .. ": first value")
  if type(message) == "table" then
    t.matches(values[2], message.pattern, what .. ": message")
  else
    t.eq(values[2], message, what .. ": message")
  end
  t.eq(values[3], kind, what .. ": kind")
  t.eq(values[4], detail, what .. ": detail")
  t.eq(values.n, detail == nil and 3 or 4, what .. ": number of values")
  t.eq(values[2]:find("\n"), nil, what .. ": one line")
  t.eq(DOCUMENTED[kind], true, what .. ": a documented kind")
  seen[module .. "." .. kind] = true
end

local function call(fn, ...)
  return table.pack(fn(...))
end

-- A fresh scratch directory, removed at the end.
local scratch = assert(io.popen("mktemp -d /tmp/test_error_kinds.XXXXXX")):read("l")
local function sh(command)
  assert(os.execute(command), "command failed: " .. command)
end
local function write(path, contents)
  local file = assert(io.open(path, "wb"))
  file:write(contents)
  file:close()
end

-- A self-signed certificate for 127.0.0.1, and a key that is not its.
local cert, key, other_key = scratch .. "/cert.pem", scratch .. "/key.pem", scratch .. "/other.pem"
sh(string.format("openssl req -x509 -newkey rsa:2048 -nodes -subj /CN=127.0.0.1 -days 1 "
  .. "-keyout %s -out %s 2>/dev/null", key, cert))
sh(string.format("openssl genrsa -out %s 2048 2>/dev/null", other_key))

-- Runs fn as a task, with the loop serving, and returns what it returned.
local function in_task(fn)
  return lambda.spawn(fn):wait()
end

t.case("lambda.http", function()
  local url = "ftp//x"
  failure("http", call(http.request, { url = url }),
    "ftp//x: not an absolute URL (scheme://host/path expected)", "input", "url")

  -- A port nothing listens on: taken, then given back.
  local closed = assert(event.http_server({ handler = function() end }))
  url = "http://127.0.0.1:" .. closed:port() .. "/"
  closed:close()
  failure("http", call(http.request, { url = url }), url .. ": connection refused",
    "transport", "refused")

  url = "http://" .. string.rep("a", 64) .. ".invalid/"
  failure("http", call(http.request, { url = url, timeout = 20 }),
    { pattern = "^" .. url:gsub("%p", "%%%0") .. ": " }, "transport", "resolve")

  -- A server that never answers, and one speaking TLS.
  local silent = assert(event.http_server({ handler = function() end }))
  local secure = assert(event.http_server({ handler = function(request)
    request:respond(200, {}, "secret")
  end, tls = { cert = cert, key = key } }))
  url = "http://127.0.0.1:" .. silent:port() .. "/"
  failure("http", in_task(function()
    return table.pack(http.request({ url = url, timeout = 0.2 }))
  end), url .. ": timed out after 0.2 s", "timeout")

  -- https without trusting the certificate: the handshake fails.
  url = "https://127.0.0.1:" .. secure:port() .. "/"
  failure("http", in_task(function()
    return table.pack(http.request({ url = url, timeout = 10 }))
  end), { pattern = "^" .. url:gsub("%p", "%%%0") .. ": TLS: certificate verify failed" },
    "tls")

  -- Plain http to the TLS port: the server gives up on the handshake and closes, without an
  -- answer. A transport failure of no more precise sort: no detail.
  url = "http://127.0.0.1:" .. secure:port() .. "/"
  failure("http", in_task(function()
    return table.pack(http.request({ url = url, timeout = 10 }))
  end), { pattern = "^" .. url:gsub("%p", "%%%0") .. ": " }, "transport")
  silent:close()
  secure:close()
end)

t.case("lambda.json", function()
  failure("json", call(json.decode, "[1,"), "invalid JSON at byte 3: expected value", "input", 3)
  failure("json", call(json.decode, "[1e400]"),
    "invalid JSON at byte 1: number out of a double's range", "input", 1)
  failure("json", call(json.pretty, "{]"),
    "invalid JSON at byte 1: expected string key or '}'", "input", 1)
  failure("json", call(json.valid, ""), "invalid JSON at byte 0: expected value", "input", 0)
end)

t.case("lambda.toml", function()
  failure("toml", call(toml.decode, "a = 1\nb =\n"), { pattern = "^line 2, column %d+: " },
    "input")
end)

t.case("lambda.ini", function()
  failure("ini", call(ini.decode, "[profile dev\nregion = x\n", "config"),
    { pattern = "^line 1: " }, "input")
end)

t.case("lambda.xml", function()
  failure("xml", call(xml.decode, "<a><b></a>"), { pattern = "^line 1, column %d+: " }, "input")
end)

t.case("lambda.fs", function()
  local missing = scratch .. "/missing"
  failure("fs", call(fs.stat, missing), missing .. ": No such file or directory", "not_found", 2)
  failure("fs", call(fs.read, scratch), scratch .. ": Is a directory", "io", 21)
  local big = scratch .. "/big"
  write(big, string.rep("x", 100))
  failure("fs", call(fs.read, big, { max_bytes = 10 }), big .. ": larger than 10 bytes",
    "too_large")
  local fifo = scratch .. "/fifo"
  sh("mkfifo " .. fifo)
  failure("fs", call(fs.read, fifo), fifo .. ": not a regular file", "input")
  failure("fs", call(fs.read, fifo, { special = true, timeout = 0.1 }),
    { pattern = "^" .. fifo:gsub("%p", "%%%0") .. ": " }, "timeout")
end)

t.case("lambda.crypto", function()
  failure("crypto", call(crypto.base64_decode, "Zg="),
    "invalid base64 at offset 3: length is not a multiple of 4", "input", 3)
  failure("crypto", call(crypto.base64_decode, "Zm 9"),
    "invalid base64 at offset 2: invalid character", "input", 2)
end)

t.case("lambda.sigv4", function()
  local options = {
    method = "GET", url = "ftp://h/", service = "s3", region = "us-east-1",
    credentials = { access_key_id = "AKID", secret_access_key = "secret" },
  }
  failure("sigv4", call(sigv4.sign, options), "field 'url': scheme must be http or https",
    "input", "url")
  failure("sigv4", call(sigv4.presign, options), "field 'url': scheme must be http or https",
    "input", "url")
end)

-- lambda.cache works in the user's cache folder: its cases run in a child process whose
-- XDG_CACHE_HOME is a scratch folder, and print their results as JSON.
t.case("lambda.cache", function()
  local bin = assert(os.getenv("CARGO_LAMBDA_BIN"), "CARGO_LAMBDA_BIN is not set")
  local child = scratch .. "/cache_child.lua"
  write(child, [[
    local cache, json = require("lambda.cache"), require("lambda.json")
    local mode = ...
    local out = {}
    local function add(...)
      local values = table.pack(...)
      out[#out + 1] = { n = values.n, value = tostring(values[1]), message = values[2],
        kind = values[3], detail = values[4] }
    end
    if mode == "file" then
      add(assert(cache.open("kinds")):put("key", "value"))
    else
      add(cache.open("a/b"))
      local c = assert(cache.open("kinds"))
      add(c:get("bad/key"))
      assert(c:put("plain", "x"))
      os.execute("ln -s /etc/hostname " .. assert(c:path("link")))
      add(c:get("link"))
    end
    io.write(json.encode(out))
  ]])
  local function run(home, mode)
    local pipe = assert(io.popen(string.format("XDG_CACHE_HOME=%s %s run %s %s", home, bin,
      child, mode)))
    local out = pipe:read("a")
    assert(pipe:close(), "the cache child failed: " .. out)
    return json.decode(out)
  end
  local results = run(scratch .. "/cache", "dir")
  local function values(result)
    t.eq(result.value, "nil", "the first value")
    return { n = result.n, nil, result.message, result.kind, result.detail }
  end
  failure("cache", values(results[1]), "invalid cache namespace 'a/b': must not contain '/' or '\\'",
    "input")
  failure("cache", values(results[2]), "invalid cache key 'bad/key': must not contain '/' or '\\'",
    "input")
  failure("cache", values(results[3]), "cannot read " .. scratch
    .. "/cache/cargo-lambda/kinds/link: it is a symbolic link (not followed)", "io")
  -- The cache folder under a regular file: it cannot be made.
  write(scratch .. "/file", "")
  results = run(scratch .. "/file", "file")
  failure("cache", values(results[1]), "cannot create " .. scratch .. "/file: Not a directory",
    "not_found")
end)

t.case("lambda.event", function()
  local handler = function() end
  failure("event", call(event.http_server, { handler = handler, address = "localhost" }),
    "invalid address 'localhost': expected an IPv4 or IPv6 address", "input", "address")
  local missing = scratch .. "/missing.pem"
  failure("event", call(event.http_server, { handler = handler,
    tls = { cert = missing, key = key } }),
    "cannot load TLS certificate '" .. missing .. "': No such file or directory", "input",
    "tls.cert")
  failure("event", call(event.http_server, { handler = handler,
    tls = { cert = cert, key = other_key } }),
    "cannot load TLS key '" .. other_key .. "': key values mismatch", "input", "tls.key")
  local taken = assert(event.http_server({ handler = handler }))
  failure("event", call(event.http_server, { handler = handler, port = taken:port() }),
    "cannot listen on 127.0.0.1:" .. taken:port() .. ": Address already in use", "transport",
    98)
  taken:close()

  failure("event", call(event.spawn, { argv = { scratch .. "/missing" } }),
    "cannot run '" .. scratch .. "/missing': No such file or directory", "not_found", 2)
  local data = scratch .. "/data.txt"
  write(data, "not a program")
  failure("event", call(event.spawn, { argv = { data } }),
    "cannot run '" .. data .. "': Permission denied", "io", 13)

  failure("event", call(event.watch_tree, scratch .. "/missing", function() end),
    "cannot watch '" .. scratch .. "/missing': No such file or directory", "not_found", 2)
  failure("event", call(event.watch_tree, data, function() end),
    "cannot watch '" .. data .. "': Not a directory", "not_found", 20)
end)

t.case("lambda.eventstream", function()
  local decoder = eventstream.decoder()
  local bytes = string.rep("\0", 12) .. "abcd"
  local values = call(decoder.feed, decoder, bytes)
  t.eq(values[4], {}, "no message before the fault")
  values[4], values.n = nil, 3
  failure("eventstream", values, { pattern = "at byte 0" }, "input")
  decoder = eventstream.decoder()
  assert(decoder:feed("\0\0"))
  failure("eventstream", call(decoder.finish, decoder), { pattern = "^the stream ended inside" },
    "input")
end)

t.case("lambda.histogram", function()
  failure("histogram", call(histogram.decode, "not a histogram"),
    { pattern = "^invalid histogram text: " }, "input")
end)

t.case("every kind of every module is checked", function()
  for module, kinds in pairs(KINDS) do
    for kind, where in pairs(kinds) do
      t.eq(DOCUMENTED[kind], true, module .. " " .. kind .. " is documented")
      if where == "here" then
        t.eq(seen[module .. "." .. kind], true, module .. " " .. kind .. " has a case")
      end
    end
  end
  for pair in pairs(seen) do
    local module, kind = pair:match("^(.-)%.(.*)$")
    t.eq(KINDS[module][kind] ~= nil, true, pair .. " is listed in KINDS")
  end
end)

local status = t.run()
os.execute("rm -rf " .. scratch)
os.exit(status)
