-- Internal to lambda.aws (not part of the public API; see docs/scripting.md).
-- Hides secrets in text meant for people (-v traces, error messages): the known secret values
-- themselves, and whatever stands where AWS protocols carry secrets (signatures, session and
-- bearer tokens, secret keys in JSON or XML answers), even when the value is not known here.
local M = {}

M.MARK = "<redacted>"

-- Header fields whose whole value is a secret. Authorization is handled apart.
local SECRET_HEADERS = {
  ["x-amz-security-token"] = true,
  ["x-amz-sso_bearer_token"] = true,
  ["x-aws-ec2-metadata-token"] = true,
}

-- Names (lower case) whose value is a secret as a query or form parameter, a JSON field or an
-- XML element.
local SECRET_FIELDS = {
  ["x-amz-security-token"] = true,
  ["x-amz-signature"] = true,
  ["signature"] = true,
  ["secretaccesskey"] = true,
  ["secret_access_key"] = true,
  ["aws_secret_access_key"] = true,
  ["sessiontoken"] = true,
  ["session_token"] = true,
  ["aws_session_token"] = true,
  ["token"] = true,
  ["accesstoken"] = true,
  ["refreshtoken"] = true,
  ["clientsecret"] = true,
  ["webidentitytoken"] = true,
}

local function percent_encode(text)
  return (text:gsub("[^%w%-%._~]", function(c)
    return string.format("%%%02X", c:byte())
  end))
end

local function replace_plain(text, secret)
  local parts, position = {}, 1
  while true do
    local first, last = text:find(secret, position, true)
    if not first then
      break
    end
    parts[#parts + 1] = text:sub(position, first - 1)
    parts[#parts + 1] = M.MARK
    position = last + 1
  end
  parts[#parts + 1] = text:sub(position)
  return table.concat(parts)
end

-- The secret strings of `secrets`: a credentials table, strings in its array part, or both.
local function known_values(secrets)
  local values = {}
  if type(secrets) ~= "table" then
    return values
  end
  for _, field in ipairs({ "secret_access_key", "session_token" }) do
    if type(secrets[field]) == "string" then
      values[#values + 1] = secrets[field]
    end
  end
  for _, value in ipairs(secrets) do
    if type(value) == "string" then
      values[#values + 1] = value
    elseif type(value) == "table" then
      for _, nested in ipairs(known_values(value)) do
        values[#values + 1] = nested
      end
    end
  end
  return values
end

local function is_secret_field(name)
  return SECRET_FIELDS[name:lower():gsub("^.*:", "")] == true
end

-- One line of a message head ("Name: value"), with a secret value replaced. An Authorization
-- value signed with SigV4 names the key id and the scope, which help when reading a trace:
-- only its Signature (handled with the parameters) is secret; any other scheme's value is.
local function redact_header_line(line)
  local name, separator, value = line:match("^([%w%-_]+)([ \t]*:[ \t]*)(.-)\r?$")
  if not name or value == "" then
    return line
  end
  local lower = name:lower()
  if SECRET_HEADERS[lower] or (lower == "authorization" and not value:match("^AWS4%-")) then
    return name .. separator .. M.MARK .. (line:match("\r$") or "")
  end
  return line
end

local function redact_headers(text)
  return (text:gsub("[^\n]+", redact_header_line))
end

function M.redact(text, secrets)
  text = tostring(text)
  local values = known_values(secrets)
  -- Longest first, so that a secret containing another is replaced whole.
  table.sort(values, function(a, b)
    return #a > #b
  end)
  for _, value in ipairs(values) do
    if value ~= "" then
      text = replace_plain(text, value)
      local encoded = percent_encode(value)
      if encoded ~= value then
        text = replace_plain(text, encoded)
      end
    end
  end
  -- Header lines: "Name: value" up to the end of the line.
  text = redact_headers(text)
  -- Query strings, form bodies and SigV4's "Signature=..." inside an Authorization value.
  text = text:gsub("([%w%-_]+)=([^&%s,;\"']+)", function(name, value)
    if is_secret_field(name) and value ~= M.MARK then
      return name .. "=" .. M.MARK
    end
  end)
  -- JSON string fields.
  text = text:gsub('"([%w%-_]+)"(%s*:%s*)"([^"]*)"', function(name, separator, value)
    if is_secret_field(name) and value ~= "" then
      return '"' .. name .. '"' .. separator .. '"' .. M.MARK .. '"'
    end
  end)
  -- XML elements.
  text = text:gsub("<([%w:_%-]+)>([^<]*)</", function(name, value)
    if is_secret_field(name) and value ~= "" then
      return "<" .. name .. ">" .. M.MARK .. "</"
    end
  end)
  return text
end

return M
