-- Internal to lambda.client: which certificate files a local invocation uses (the original's
-- rule): each one given, else <config dir>/cert.pem, key.pem, ca.pem when present. TLS is on
-- when a certificate AND a key are found, or a CA is given.
local fs = require("lambda.fs")

local M = {}

local function is_file(path)
  local info = path and fs.stat(path)
  return info ~= nil and info.type == "file"
end

local function is_dir(path)
  local info = path and fs.stat(path)
  return info ~= nil and info.type == "directory"
end

-- $XDG_CONFIG_HOME/cargo-lambda when that directory exists, else ~/.config/cargo-lambda.
function M.config_dir()
  local xdg = os.getenv("XDG_CONFIG_HOME")
  if xdg and xdg ~= "" and is_dir(xdg .. "/cargo-lambda") then
    return xdg .. "/cargo-lambda"
  end
  local home = os.getenv("HOME")
  if not home or home == "" then
    return nil
  end
  return home .. "/.config/cargo-lambda"
end

-- given: {cert =, key =, ca =} (paths). Returns the effective {cert, key, ca, secure, https}
-- or nil, message, field ("tls.cert", ...) when a file given is missing or a pair incomplete.
function M.resolve(flags)
  local dir = M.config_dir()
  local look_in_dir = dir and is_dir(dir) -- one stat, not one per file, when there is none
  local chosen = {}
  for _, field in ipairs({ "cert", "key", "ca" }) do
    local given = flags[field]
    if given then
      if not is_file(given) then
        return nil, string.format("tls.%s: %s is not a readable file", field, given),
          "tls." .. field
      end
      chosen[field] = given
    elseif look_in_dir and is_file(dir .. "/" .. field .. ".pem") then
      chosen[field] = dir .. "/" .. field .. ".pem"
    end
  end
  chosen.secure = chosen.cert ~= nil and chosen.key ~= nil
  -- The original silently stays on plain http with a lone certificate; say so instead.
  if (flags.cert or flags.key) and not chosen.secure then
    local given, missing = flags.cert and "cert" or "key", flags.cert and "key" or "cert"
    return nil, string.format("tls.%s needs tls.%s (or %s.pem in %s)", given, missing,
      missing, dir or "the config directory"), "tls." .. given
  end
  -- An explicit CA alone means https to a server that CA vouches for, without a client
  -- certificate; a ca.pem merely lying in the config directory does not switch to https.
  chosen.https = chosen.secure or flags.ca ~= nil
  return chosen
end

return M
