-- Test driver for lambda.sigv4: `cargo-lambda run sigv4_cases.lua CASES.json`.
-- CASES.json is an array of {id, presign (boolean), options (the table for sign/presign)}.
-- Prints one JSON array with, per case, {id, result} on success, {id, failed = message} when
-- the call answered nil, message, or {id, raised = message} when it raised an error.
local sigv4 = require("lambda.sigv4")
local json = require("lambda.json")

local path = assert(arg[1], "usage: sigv4_cases.lua CASES.json")
local file = assert(io.open(path, "rb"))
local cases = assert(json.decode(file:read("a")))
file:close()

local outcomes = {}
for index, case in ipairs(cases) do
  local sign = case.presign and sigv4.presign or sigv4.sign
  local ok, result, message = pcall(sign, case.options)
  local outcome = { id = case.id }
  if not ok then
    outcome.raised = tostring(result)
  elseif result == nil then
    outcome.failed = tostring(message)
  else
    outcome.result = result
  end
  outcomes[index] = outcome
end
io.write(json.encode(outcomes), "\n")
