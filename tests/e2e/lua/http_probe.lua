-- Test driver for lambda.http: `cargo-lambda run http_probe.lua SPEC`, SPEC being JSON:
--   request             the options table for http.request (required unless `argument`)
--   body_file           read request.body from this file (bodies too big or binary for JSON)
--   response_body_file  write the response body to this file instead of into the output
--   argument            call http.request(argument) as is, to test argument checking
--   repeat              send the request this many times (default 1); the last result counts
--   pause               seconds to wait between two of them (default 0)
--   task                send them from a lambda.task (on the event loop), pausing with
--                       lambda.sleep (the loop runs meanwhile)
--   fds                 also list, after each, how many descriptors the process has open
--                       ("open_fds")
--   cpu                 give each result in "each" the CPU seconds its request took ("cpu")
--   each                also list every result, in order, as "each": {status, body} or
--                       {message, kind, detail}
--   maps                report whether libcurl was loaded into the process ("libcurl_loaded")
-- Prints one JSON object: {"ok": true, "response": {...}} on an HTTP answer,
-- {"ok": false, "message": ..., "kind": ..., "detail": ...} on failure, {"raised": message} when
-- http.request raised an error.
local http = require("lambda.http")

local has_json, json = pcall(require, "lambda.json")
if not (has_json and json.encode and json.decode) then
  json = require("cjson")
end

local function read_file(path)
  local file = assert(io.open(path, "rb"))
  local data = file:read("a")
  file:close()
  return data
end

local function write_file(path, data)
  local file = assert(io.open(path, "wb"))
  file:write(data)
  file:close()
end

local spec_text = assert(arg[1], "usage: http_probe.lua SPEC")
local spec = json.decode(spec_text)
local argument = spec.argument
if argument == nil then
  argument = assert(spec.request, "the spec needs 'request' or 'argument'")
  if spec.body_file then
    argument.body = read_file(spec.body_file)
  end
end

local ok, response, message, kind, detail
local each, open_fds = {}, {}
local function count_fds()
  return #assert(require("lambda.fs").list("/proc/self/fd"))
end
local function send_all()
  for round = 1, spec["repeat"] or 1 do
    if round > 1 and (spec.pause or 0) > 0 then
      if spec.task then
        require("lambda").sleep(spec.pause)
      else
        require("lambda.time").sleep(spec.pause)
      end
    end
    if spec.fds then
      open_fds[#open_fds + 1] = count_fds()
    end
    local cpu = os.clock()
    ok, response, message, kind, detail = pcall(http.request, argument)
    if not ok then
      break
    end
    each[#each + 1] = response and { status = response.status, body = response.body }
      or { message = message, kind = kind, detail = detail }
    if spec.cpu then
      each[#each].cpu = os.clock() - cpu
    end
  end
  if spec.fds then
    open_fds[#open_fds + 1] = count_fds()
  end
end
if spec.task then
  require("lambda").spawn(send_all):wait()
else
  send_all()
end

local out
if not ok then
  out = { raised = tostring(response) }
elseif response then
  if spec.response_body_file then
    write_file(spec.response_body_file, response.body)
    response.body_length = #response.body
    response.body = nil
  end
  out = { ok = true, response = response }
else
  out = { ok = false, response_type = type(response), message = message, kind = kind,
    detail = detail }
end
if spec.each then
  out.each = each
end
if spec.fds then
  out.open_fds = open_fds
end

if spec.maps then
  local maps = assert(io.open("/proc/self/maps"))
  out.libcurl_loaded = maps:read("a"):find("libcurl", 1, true) ~= nil
  maps:close()
end
io.write(json.encode(out), "\n")
