-- Which of the libraries loaded on first use (OpenSSL's, expat, libm) the process has mapped
-- after one action:
-- `cargo-lambda run openssl_probe.lua ACTION [CERT KEY]`, ACTION being
--   require   require lambda.crypto, lambda.sigv4, lambda.event and lambda.xml, and call none
--             of them
--   digest    crypto.sha256_hex("abc")
--   random    crypto.random_bytes(8)
--   sign      sigv4.sign a GET request
--   https     event.http_server with tls = {cert = CERT, key = KEY}, then close it
--   xml       xml.decode an STS-like document (twice: "second_error" is the second failure)
--   math      every libm function Lua calls, on fixed arguments: a table of name = "%.17g" text
-- Prints one JSON object: {"result": <text or true>, "error": <message>, "kind": <kind>} as the
-- call returned (or {"raised": <message>}), and "libcrypto", "libssl", "libevent_openssl",
-- "libexpat", "libm": whether /proc/self/maps shows the library.
local json = require("cjson")
local crypto = require("lambda.crypto")
local sigv4 = require("lambda.sigv4")
local event = require("lambda.event")
local xml = require("lambda.xml")

local action, cert, key = ...
local actions = {
  require = function()
    return true
  end,
  digest = function()
    return crypto.sha256_hex("abc")
  end,
  random = function()
    local bytes, message, kind = crypto.random_bytes(8)
    return bytes and #bytes, message, kind
  end,
  sign = function()
    local signed, message, kind = sigv4.sign({
      method = "GET", url = "https://lambda.us-east-1.amazonaws.com/", service = "lambda",
      region = "us-east-1", time = 1440938160,
      credentials = { access_key_id = "AKIDEXAMPLE", secret_access_key = "secret" },
    })
    return signed and signed.signature, message, kind
  end,
  https = function()
    local server, message, kind = event.http_server({
      address = "127.0.0.1", port = 0, handler = function() end,
      tls = { cert = cert, key = key },
    })
    if server then
      server:close()
    end
    return server and true, message, kind
  end,
}

-- No float literal in this file: the parser hashes float constants with frexp, which would load
-- libm while the file is compiled, before any action.
actions.math = function()
  local function text(x)
    return string.format("%.17g", x)
  end
  local x, y, z, w = tonumber("0.375"), tonumber("-2.5"), tonumber("7.25"), tonumber("1234.5")
  local mantissa, exponent = math.frexp(w)
  return {
    acos = text(math.acos(x)), asin = text(math.asin(x)), atan2 = text(math.atan(x, y)),
    cos = text(math.cos(x)), cosh = text(math.cosh(x)), exp = text(math.exp(x)),
    fmod = text(math.fmod(z, y)), mod = text(z % y),
    frexp = text(mantissa) .. " " .. exponent, ldexp = text(math.ldexp(x, 9)),
    log = text(math.log(x)), log10 = text(math.log(x, 10)), log2 = text(math.log(x, 2)),
    pow = text(x ^ -y), sin = text(math.sin(x)), sinh = text(math.sinh(x)),
    sqrt = text(math.sqrt(x)), tan = text(math.tan(x)), tanh = text(math.tanh(x)),
  }
end

local out = {}
actions.xml = function()
  local document = "<R><Result><Account>123456789012</Account></Result></R>"
  local root, message, kind = xml.decode(document)
  if not root then
    out.second_error = select(2, xml.decode(document))
    return nil, message, kind
  end
  return xml.find(root, "Result", "Account")
end
local ok, result, message, kind = pcall(assert(actions[action], "unknown action"))
if ok then
  out.result, out.error, out.kind = result, message, kind
else
  out.raised = result
end
local maps = assert(io.open("/proc/self/maps"))
local mapped = maps:read("a")
maps:close()
local files = { libcrypto = "libcrypto", libssl = "libssl", libevent_openssl = "libevent_openssl",
  libexpat = "libexpat", libm = "/libm.so" }
for library, file in pairs(files) do
  out[library] = mapped:find(file, 1, true) ~= nil
end
io.write(json.encode(out), "\n")
