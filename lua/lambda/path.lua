-- Internal helper of the library (not part of the public API; see docs/scripting.md).
-- lambda.path: lexical POSIX path handling, without resolving symlinks. Manifest paths are made
-- absolute and normalized this way, as cargo does, so that one file has one spelling.
local fs = require("lambda.fs")

local function components(path)
  local parts = {}
  for part in path:gmatch("[^/]+") do
    if part ~= "." then
      parts[#parts + 1] = part
    end
  end
  return parts
end

-- Drops ".", empty components and "x/.." pairs; ".." above the root stays at the root.
local function normalize(path)
  local parts = {}
  for _, part in ipairs(components(path)) do
    if part == ".." then
      parts[#parts] = nil
    else
      parts[#parts + 1] = part
    end
  end
  return "/" .. table.concat(parts, "/")
end

local function join(dir, relative)
  if relative:sub(1, 1) == "/" then
    return relative
  end
  return dir == "/" and "/" .. relative or dir .. "/" .. relative
end

local function dirname(path)
  return path:match("^(.+)/[^/]*$") or "/"
end

-- Returns the absolute, normalized path, or nil, message when the current directory is gone.
local function absolute(path)
  if path:sub(1, 1) == "/" then
    return normalize(path)
  end
  local cwd, message = fs.cwd()
  if not cwd then
    return nil, message
  end
  return normalize(join(cwd, path))
end

-- Rust's Path equality: component-wise, ignoring "." and repeated slashes, keeping "..".
local function path_key(path)
  return "/" .. table.concat(components(path), "/")
end

-- Rust's Path::starts_with, with the same component-wise comparison.
local function starts_with(path, prefix)
  local key, prefix_key = path_key(path), path_key(prefix)
  return prefix_key == "/" or key == prefix_key or key:sub(1, #prefix_key + 1) == prefix_key .. "/"
end

local function exists(path)
  return fs.stat(path) ~= nil
end

local function is_dir(path)
  local st = fs.stat(path)
  return st ~= nil and st.type == "directory"
end

return {
  components = components,
  normalize = normalize,
  join = join,
  dirname = dirname,
  absolute = absolute,
  path_key = path_key,
  starts_with = starts_with,
  exists = exists,
  is_dir = is_dir,
}
