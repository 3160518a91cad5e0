-- Test driver for lambda.aws: `cargo-lambda run aws_probe.lua SPEC`, SPEC being JSON:
--   {"call": "resolve", "options": {profile, region, endpoint_url, service, timeout}}
--       -> {"ok": true, "settings": {...}} or {"ok": false, "message": ..., "kind": ...,
--          "field": ...}
--     with "in_callback": true, resolve runs inside a callback of a running lambda.event loop;
--     with "pending_timer": s, a timer of the script's own is pending (s seconds away) while
--     resolve runs outside the loop, and "timer_fired" says whether it fired meanwhile.
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
local function resolve()
  local settings, message, kind, field = aws.resolve(spec.options or {})
  return settings and { ok = true, settings = settings }
    or { ok = false, message = message, kind = kind or json.null, field = field or json.null }
end
if spec.call == "resolve" and spec.in_callback then
  local event = require("lambda.event")
  event.timer(0, function()
    out = resolve()
  end)
  event.run()
elseif spec.call == "resolve" and spec.pending_timer then
  local event = require("lambda.event")
  local fired = false
  local timer = event.timer(spec.pending_timer, function()
    fired = true
  end)
  out = resolve()
  timer:cancel()
  out.timer_fired = fired
elseif spec.call == "resolve" then
  out = resolve()
elseif spec.call == "endpoint" then
  local flag = spec.flag ~= json.null and spec.flag or nil
  local url, message, kind = aws.endpoint(spec.service, spec.region, flag)
  out = url and { ok = true, url = url } or { ok = false, message = message, kind = kind }
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
