-- lambda.examples: example event payloads (the invoke command's --data-example), downloaded
-- once from the examples site and kept in <cache dir>/cargo-lambda/invoke-fixtures/<name>.
-- Examples the original cargo-lambda cached in its old place, ~/.cargo/lambda/invoke-fixtures
-- ($CARGO_HOME/lambda/invoke-fixtures), are read from there when the cache has none; nothing
-- is ever written there.
local cache = require("lambda.cache")
local http = require("lambda.http")
local text = require("lambda.text")

local M = {}

M.DEFAULT_URL = "https://event-examples.cargo-lambda.info"
M.CACHE_NAMESPACE = "invoke-fixtures"
-- Longer names could not be cache keys (255 bytes) once normalized.
M.MAX_NAME = 240
-- The most read from the old cache without max_bytes: AWS's Invoke payload limit (6 MiB), as
-- no larger example could be sent.
M.MAX_BYTES = 6291456

-- The original's old cache folder: $CARGO_HOME/lambda/invoke-fixtures, CARGO_HOME being
-- ~/.cargo unless set (to an absolute path, as cargo wants it); nil without a home.
function M.old_cache_directory()
  local cargo_home = os.getenv("CARGO_HOME")
  if not (cargo_home and cargo_home:sub(1, 1) == "/") then
    local home = os.getenv("HOME")
    if not (home and home:sub(1, 1) == "/") then
      return nil
    end
    cargo_home = home .. "/.cargo"
  end
  return cargo_home:gsub("/+$", "") .. "/lambda/invoke-fixtures"
end

-- The example from the old cache folder, read with the cache's rules (no link followed, only
-- this user's regular files in folders others cannot write to, at most max_bytes), never
-- changed. Returns the data, or nil (absent, or refused with a warning).
local function from_old_cache(file, options)
  local directory = M.old_cache_directory()
  if not directory then
    return nil
  end
  local old = cache.open_read_only(directory, options.on_warning)
  local data, problem = old:get(file, options.max_bytes or M.MAX_BYTES)
  if not data and problem and options.on_warning then
    options.on_warning("ignoring the example in the old cache folder: " .. problem)
  end
  return data
end

-- The original's normalisation: "apigw-request", "apigw-request.json",
-- "example-apigw-request" and "example-apigw-request.json" all name
-- "example-apigw-request.json".
function M.normalize(name)
  if name:sub(1, 8) ~= "example-" then
    name = "example-" .. name
  end
  if name:sub(-5) ~= ".json" then
    name = name .. ".json"
  end
  return name
end

function M.base_url()
  local url = os.getenv("CARGO_LAMBDA_EXAMPLES_URL")
  if not url or url == "" then
    url = M.DEFAULT_URL
  end
  return (url:gsub("/+$", ""))
end

-- Why name cannot be an example's name, or nil when it can: the published names are made of
-- letters, digits, '-', '_' and '.', and a name becomes a URL path segment and a file name.
function M.name_problem(name)
  if name == "" then
    return "it is empty"
  elseif #name > M.MAX_NAME then
    return string.format("it is longer than %d bytes", M.MAX_NAME)
  elseif not name:match("^[%w%._%-]+$") then
    return "use only letters, digits, '-', '_' and '.'"
  elseif name:find("..", 1, true) then
    return "it must not contain '..'"
  end
  return nil
end

-- Returns the payload, or nil, message, kind: "input" (a bad name, checked before anything
-- else happens), "not_found" (no such example), "too_large" (a file:// example over
-- max_bytes), "service" (the site answered with another error), "transport" or "timeout"
-- (the site could not be reached).
-- options: {skip_cache = bool, timeout = seconds, max_bytes = n (file:// and old-cache reads
--   stop there),
--   on_warning = function(message): a cache entry ignored, a cache folder fixed (without it
--   lambda.cache writes its own warnings on stderr)}
function M.fetch(name, options)
  options = options or {}
  local problem = M.name_problem(name)
  if problem then
    return nil, string.format("invalid example name %s: %s", text.quote(name), problem), "input"
  end
  local file = M.normalize(name)
  local store = nil
  if not options.skip_cache then
    -- No cache directory (no HOME) just means no caching, as in the original. Warnings of
    -- the cache itself (a folder made private) go to on_warning too.
    store = cache.open(M.CACHE_NAMESPACE, options.on_warning)
  end
  if store then
    local cached, read_error = store:get(file)
    if cached then
      return cached
    elseif read_error then
      -- An entry that cannot be read (a link, another user's file) is left as it is.
      store = nil
      if options.on_warning then
        options.on_warning("ignoring the cached example: " .. read_error)
      end
    end
  end
  if not options.skip_cache then
    local old = from_old_cache(file, options)
    if old then
      return old
    end
  end
  local url = M.base_url() .. "/" .. file
  -- A file:// base serves examples from a local folder (offline use, the quickstart); they
  -- are read as they are, without going through the cache.
  local folder = url:match("^file://(/.*)$")
  if folder then
    local data, read_error, kind = require("lambda.fs").read(folder,
      { max_bytes = options.max_bytes })
    if not data then
      return nil, read_error, kind == "io" and "input" or kind
    end
    return data
  end
  local response, message, failure = http.request({ method = "GET", url = url,
    timeout = options.timeout })
  if not response then
    return nil, string.format("downloading %s failed: %s", url, message),
      failure == "timeout" and "timeout" or "transport"
  end
  if response.status ~= 200 then
    return nil, string.format("downloading %s failed: HTTP %d", url, response.status),
      response.status == 404 and "not_found" or "service"
  end
  if store then
    local ok, write_error = store:put(file, response.body)
    if not ok and options.on_warning then
      options.on_warning("could not cache the example: " .. write_error)
    end
  end
  return response.body
end

return M
