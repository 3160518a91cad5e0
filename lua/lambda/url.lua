-- URL pieces the invoke paths need. Kept apart from the HTTP client so scripts can build the
-- same URLs the commands do.
local M = {}

-- Percent-encodes everything but RFC 3986's unreserved characters, so that a function name
-- such as "name:alias" or a full ARN stays one path segment.
function M.encode_segment(text)
  return (text:gsub("[^%w%-%._~]", function(c)
    return string.format("%%%02X", c:byte())
  end))
end

-- An address for the authority part: IPv6 literals need brackets.
function M.format_host(address)
  if address:find(":", 1, true) and address:sub(1, 1) ~= "[" then
    return "[" .. address .. "]"
  end
  return address
end

-- Host names and IP literals only: no scheme, path, port, user info or spaces. Returns the
-- address or nil, reason.
function M.check_host(address)
  if address == "" then
    return nil, "it is empty"
  end
  local bare = address:match("^%[(.*)%]$") or address
  if bare:find(":", 1, true) then
    if not bare:match("^[%x:%.]+$") then
      return nil, "it is not a valid IPv6 address"
    end
    return bare
  end
  if not bare:match("^[%w%.%-]+$") then
    return nil, "expected a host name or an IP address"
  end
  return bare
end

return M
