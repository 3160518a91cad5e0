-- Test driver for lambda.aws: `cargo-lambda run aws_probe.lua SPEC`, SPEC being JSON:
--   {"call": "resolve", "options": {profile, region, endpoint_url, service}}
--       -> {"ok": true, "settings": {...}} or {"ok": false, "message": ...}
--   {"call": "endpoint", "service": s, "region": r, "flag": f}
--       -> {"ok": true, "url": ...} or {"ok": false, "message": ...}
--   {"call": "redact", "text": t, "secrets": credentials table and/or array of strings}
--       -> {"text": ...}
-- Every output also lists "globals": global names that appeared while lambda.aws worked
-- (there must be none).
local json = require("lambda.json")

local before = {}
for name in pairs(_G) do
  before[name] = true
end

local aws = require("lambda.aws")
local spec = json.decode((assert(arg[1], "usage: aws_probe.lua SPEC")))
local out
if spec.call == "resolve" then
  local settings, message = aws.resolve(spec.options or {})
  out = settings and { ok = true, settings = settings } or { ok = false, message = message }
elseif spec.call == "endpoint" then
  local flag = spec.flag ~= json.null and spec.flag or nil
  local url, message = aws.endpoint(spec.service, spec.region, flag)
  out = url and { ok = true, url = url } or { ok = false, message = message }
elseif spec.call == "redact" then
  out = { text = aws.redact(spec.text, spec.secrets) }
else
  error("unknown call " .. tostring(spec.call))
end

local globals = {}
for name in pairs(_G) do
  if not before[name] then
    globals[#globals + 1] = name
  end
end
table.sort(globals)
out.globals = globals
io.write(json.encode(out), "\n")
