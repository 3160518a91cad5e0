-- Signs a typical Lambda Invoke with lambda.sigv4 and prints the CPU time per signature:
-- 1 KB and 6 MB bodies, with the derived signing key cached (every request on the same day)
-- and not (a new day for every request, so every call derives the key again). Each figure is
-- the best of 5 rounds.
-- Usage: cargo-lambda run bench/sigv4_sign.lua [ITERATIONS]   (bench/sigv4.sh wraps it)
local sigv4 = require("lambda.sigv4")

local iterations = math.tointeger(tonumber(arg[1] or "")) or 20000
local DAY = 86400
local START = 1440938160 -- 2015-08-30T12:36:00Z

local function invoke_options(body)
  return {
    method = "POST",
    url = "https://lambda.us-east-1.amazonaws.com/2015-03-31/functions/"
      .. "arn%3Aaws%3Alambda%3Aus-east-1%3A123456789012%3Afunction%3Amy-function"
      .. "/invocations?Qualifier=live",
    headers = {
      { "X-Amz-Invocation-Type", "RequestResponse" },
      { "X-Amz-Log-Type", "Tail" },
      { "Content-Type", "application/json" },
    },
    body = body,
    service = "lambda",
    region = "us-east-1",
    credentials = {
      access_key_id = "AKIDEXAMPLE",
      secret_access_key = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
      session_token = "FQoGZXIvYXdzEXAMPLEtoken",
    },
    time = START,
  }
end

local ROUNDS = 5

-- Microseconds of CPU time per call of sign(options) with options.time = time_of(i): the best
-- of ROUNDS rounds of `count` calls, as the machine may be busy with other work.
local function per_signature(options, count, time_of)
  for i = 1, math.min(count, 100) do -- warm-up
    options.time = time_of(-i)
    assert(sigv4.sign(options))
  end
  local best = math.huge
  for round = 1, ROUNDS do
    local started = os.clock()
    for i = 1, count do
      options.time = time_of(round * count + i)
      sigv4.sign(options)
    end
    best = math.min(best, (os.clock() - started) * 1e6 / count)
  end
  return best
end

local function same_day()
  return START
end

-- Never the same day twice in a row (the years stay below 9999 however many iterations).
local function new_day(i)
  return START + ((i + 1000) % 2000000) * DAY
end

local function report(label, body, count)
  local options = invoke_options(body)
  local warm = per_signature(options, count, same_day)
  local cold = per_signature(options, count, new_day)
  print(string.format("%-10s %6d signatures   key cached: %9.2f us/signature   "
    .. "key derived: %9.2f us/signature", label, count, warm, cold))
  return warm, cold
end

local kilobyte = ('{"payload":"' .. string.rep("x", 1024 - 14) .. '"}')
assert(#kilobyte == 1024)
local warm, cold = report("1 KB body", kilobyte, iterations)
report("6 MB body", string.rep("y", 6 * 1024 * 1024), math.max(10, iterations // 1000))
print(string.format("the key cache saves %.2f us per signature (%.0f%% of a 1 KB signature)",
  cold - warm, 100 * (cold - warm) / cold))
