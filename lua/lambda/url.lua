-- Internal helper of the library (not part of the public API; see docs/scripting.md).
-- URL pieces the invoke paths need: path segments, hosts in URLs, host checks.
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

-- A dotted-quad IPv4 address (no leading zeros, which some parsers read as octal).
local function is_ipv4(text)
  local parts = { text:match("^(%d+)%.(%d+)%.(%d+)%.(%d+)$") }
  if #parts ~= 4 then
    return false
  end
  for _, part in ipairs(parts) do
    if #part > 3 or tonumber(part) > 255 or (#part > 1 and part:sub(1, 1) == "0") then
      return false
    end
  end
  return true
end

-- Groups of 1 to 4 hex digits separated by single colons; "" is no group at all.
local function ipv6_groups(text)
  if text == "" then
    return 0
  end
  local count = 0
  for group in (text .. ":"):gmatch("([^:]*):") do
    if not group:match("^%x%x?%x?%x?$") then
      return nil
    end
    count = count + 1
  end
  return count
end

-- RFC 4291 text form: eight groups, or fewer with one "::", the last two groups possibly
-- written as an IPv4 address. Zone ids ("%eth0") are not accepted.
function M.is_ipv6(text)
  local head, ipv4 = text:match("^(.*:)([^:]*%.[^:]*)$")
  local extra = 0
  if head then
    if not is_ipv4(ipv4) then
      return false
    end
    -- "::1.2.3.4" keeps its "::"; "a:b:...:1.2.3.4" loses only the colon before the IPv4.
    text = head:sub(-2) == "::" and head or head:sub(1, -2)
    extra = 2
  end
  local first, last = text:find("::", 1, true)
  if not first then
    local groups = ipv6_groups(text)
    return groups ~= nil and groups + extra == 8
  end
  if text:find("::", last, true) then
    return false
  end
  local left, right = ipv6_groups(text:sub(1, first - 1)), ipv6_groups(text:sub(last + 1))
  return left ~= nil and right ~= nil and left + right + extra <= 7
end

-- A DNS name: labels of letters, digits and hyphens (not at either end), at most 63 bytes
-- each and 253 in all; one trailing dot allowed. All-numeric names must be IPv4 addresses.
local function is_host_name(text)
  local name = text:gsub("%.$", "")
  if name == "" or #name > 253 or name:match("^[%d%.]+$") then
    return false
  end
  for label in (name .. "."):gmatch("([^.]*)%.") do
    if #label == 0 or #label > 63 or not label:match("^[%w%-]+$") or label:match("^%-")
      or label:match("%-$") then
      return false
    end
  end
  return true
end

-- Host names and IP literals only: no scheme, path, port, user info or spaces. Returns the
-- address (IPv6 without brackets) or nil, reason.
function M.check_host(address)
  if address == "" then
    return nil, "it is empty"
  end
  local bracketed = address:match("^%[(.*)%]$")
  local bare = bracketed or address
  if M.is_ipv6(bare) then
    return bare
  end
  if not bracketed and (is_ipv4(bare) or is_host_name(bare)) then
    return bare
  end
  -- host:port and [v6]:port: a port given where only the address belongs.
  local host = address:match("^%[(.*)%]:%d+$") or address:match("^([^:]*):%d+$")
  if host and (M.is_ipv6(host) or is_ipv4(host) or is_host_name(host)) then
    return nil, "it has a port: give the port on its own"
  end
  if bare:match("^[%x:%.]*:[%x:%.]*%%") then
    return nil, "IPv6 zone ids (%...) are not supported"
  elseif bracketed or bare:match("^[%x:%.]*:[%x:%.]*$") then
    return nil, "it is not a valid IPv6 address"
  end
  if bare:match("^[%d%.]+$") then
    return nil, "it is not a valid IPv4 address"
  end
  return nil, "expected a host name or an IP address (no scheme, path or port)"
end

return M
