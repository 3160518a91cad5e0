-- Internal to lambda.aws (not part of the public API; see docs/scripting.md).
-- The shared config and credentials files: where they are, and their profiles merged. Each
-- file is parsed by lambda.ini; a profile found in both is merged key by key, the credentials
-- file winning (the rule of the cross-SDK conformance suite). Each file's own profiles are kept
-- too: botocore takes static keys from the credentials file before a credential_process, and
-- from the config file after it.
local fs = require("lambda.fs")
local ini = require("lambda.ini")
local env = require("lambda.aws.env")

local M = {}


-- "~" only at the start and only before "/", as the SDKs expand it; home is $HOME.
function M.expand_home(path)
  if path == "~" or path:sub(1, 2) == "~/" then
    local home = env.get("HOME")
    if not home then
      return nil, string.format("cannot find %s: HOME is not set", path)
    end
    return home:gsub("/+$", "") .. path:sub(2)
  end
  return path
end

function M.config_path()
  return M.expand_home(env.get("AWS_CONFIG_FILE") or "~/.aws/config")
end

function M.credentials_path()
  return M.expand_home(env.get("AWS_SHARED_CREDENTIALS_FILE") or "~/.aws/credentials")
end

local function empty()
  return { profiles = {}, sso_sessions = {}, services = {}, warnings = {} }
end

-- Reads and parses one file; a missing file gives an empty result, and so does /dev/null,
-- which users set AWS_CONFIG_FILE to when they want no config at all.
local function load_file(path, kind)
  local info = fs.stat(path)
  if info and info.type == "other" and path == "/dev/null" then
    return empty()
  end
  local text, message, failure = fs.read(path)
  if not text then
    if failure == "not_found" then -- a missing file is an empty one
      return empty()
    end
    return nil, string.format("cannot read the AWS %s file %s", kind, message), failure or "io"
  end
  local parsed, problem = ini.decode(text, kind)
  if not parsed then
    return nil, string.format("AWS %s file %s: %s", kind, path, problem), "input"
  end
  return parsed
end

local function copy(map)
  local result = {}
  for key, value in pairs(map or {}) do
    result[key] = value
  end
  return result
end

-- Returns {config_path, credentials_path, profiles = {name = keys} (merged), config_profiles,
-- credentials_profiles (each file's own), sso_sessions, services, warnings = {"<path>:
-- <warning>", ...}} or nil, message, kind.
function M.load()
  local config_path, problem = M.config_path()
  if not config_path then
    return nil, problem, "input"
  end
  local credentials_path
  credentials_path, problem = M.credentials_path()
  if not credentials_path then
    return nil, problem, "input"
  end
  local config, credentials, kind
  config, problem, kind = load_file(config_path, "config")
  if not config then
    return nil, problem, kind
  end
  credentials, problem, kind = load_file(credentials_path, "credentials")
  if not credentials then
    return nil, problem, kind
  end
  local profiles = {}
  for name, keys in pairs(config.profiles or {}) do
    profiles[name] = copy(keys)
  end
  for name, keys in pairs(credentials.profiles or {}) do
    local merged = profiles[name] or {}
    for key, value in pairs(keys) do
      merged[key] = value
    end
    profiles[name] = merged
  end
  local warnings = {}
  for _, source in ipairs({ { config_path, config }, { credentials_path, credentials } }) do
    for _, warning in ipairs(source[2].warnings or {}) do
      warnings[#warnings + 1] = source[1] .. ": " .. tostring(warning)
    end
  end
  return {
    config_path = config_path,
    credentials_path = credentials_path,
    profiles = profiles,
    config_profiles = config.profiles or {},
    credentials_profiles = credentials.profiles or {},
    sso_sessions = config.sso_sessions or {},
    services = config.services or {},
    warnings = warnings,
  }
end

-- "in /home/u/.aws/config or /home/u/.aws/credentials", for messages.
function M.describe(files)
  return string.format("%s or %s", files.config_path, files.credentials_path)
end

return M
