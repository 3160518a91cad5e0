-- A minimal test runner for the Lua tests: named cases, equality with a readable diff, a
-- summary line, and a non-zero exit status on any failure.
local M = {}

local cases = {}

function M.case(name, fn)
  cases[#cases + 1] = { name = name, fn = fn }
end

local function show(value)
  if type(value) == "string" then
    return string.format("%q", value)
  elseif type(value) ~= "table" then
    return tostring(value)
  end
  local keys = {}
  for k in pairs(value) do
    keys[#keys + 1] = k
  end
  table.sort(keys, function(a, b)
    return tostring(a) < tostring(b)
  end)
  local parts = {}
  for _, k in ipairs(keys) do
    parts[#parts + 1] = "[" .. show(k) .. "]=" .. show(value[k])
  end
  return "{" .. table.concat(parts, ", ") .. "}"
end
M.show = show

local function deep_equal(a, b)
  if type(a) ~= type(b) then
    return false
  end
  if type(a) ~= "table" then
    if type(a) == "number" and math.type(a) ~= math.type(b) then
      return false
    end
    return a == b or (a ~= a and b ~= b)
  end
  for k, v in pairs(a) do
    if not deep_equal(v, b[k]) then
      return false
    end
  end
  for k in pairs(b) do
    if a[k] == nil then
      return false
    end
  end
  return true
end

function M.eq(actual, expected, what)
  if not deep_equal(actual, expected) then
    error(string.format("%s: expected %s, got %s", what or "value", show(expected), show(actual)), 2)
  end
end

function M.matches(text, pattern, what)
  if type(text) ~= "string" or not text:find(pattern) then
    error(string.format("%s: %s does not match %q", what or "text", show(text), pattern), 2)
  end
end

-- Runs fn and returns the error it raised (failing when it raised none).
function M.raises(fn, ...)
  local ok, err = pcall(fn, ...)
  if ok then
    error("expected an error, none was raised", 2)
  end
  return err
end

function M.run()
  local failed = 0
  for _, c in ipairs(cases) do
    local ok, err = xpcall(c.fn, debug.traceback)
    if ok then
      print("ok   " .. c.name)
    else
      failed = failed + 1
      print("FAIL " .. c.name .. "\n" .. tostring(err))
    end
  end
  print(string.format("%d passed, %d failed", #cases - failed, failed))
  return failed == 0 and 0 or 1
end

return M
