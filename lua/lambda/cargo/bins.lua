-- Internal to lambda.cargo (not part of the public API; see docs/scripting.md).
-- Bin targets, after cargo's normalize_bins: the [[bin]] tables plus the auto-discovered
-- src/main.rs, src/bin/<x>.rs and src/bin/<x>/main.rs, minus those a [[bin]] already names or
-- points at.
local fs = require("lambda.fs")
local path = require("lambda.path")
local checks = require("lambda.cargo.checks")

local join, exists, path_key = path.join, path.exists, path.path_key
local fail, kind_of, check_kind = checks.fail, checks.kind_of, checks.check_kind

local M = {}

-- Directory names cargo uses inside target/; a bin with one of these names would collide.
local RESERVED_BIN_NAMES = { deps = true, examples = true, build = true, incremental = true }

local function package_edition(manifest, workspace)
  local field = manifest.package_field .. ".edition"
  local edition = manifest.package.edition
  if edition == nil then
    return "2015"
  elseif type(edition) == "string" then
    return edition
  elseif kind_of(edition) == "table" and edition.workspace == true then
    local shared = workspace and workspace.raw.package
    local inherited = kind_of(shared) == "table" and shared.edition
    if type(inherited) ~= "string" then
      fail("%s: %s: inherits workspace.package.edition, which is not set", manifest.path, field)
    end
    return inherited
  end
  fail("%s: %s: expected a string, got %s", manifest.path, field, kind_of(edition))
end

-- The bin targets the layout implies: {name, path}, paths relative to the package.
local function inferred_bins(dir, package_name)
  local found = {}
  if exists(join(dir, "src/main.rs")) then
    found[#found + 1] = { name = package_name, path = "src/main.rs" }
  end
  local bin_dir = join(dir, "src/bin")
  for _, entry in ipairs(fs.list(bin_dir) or {}) do
    if entry:sub(1, 1) ~= "." then
      -- Like cargo, which asks the directory entry, a link is never taken for a directory.
      local st = fs.lstat(join(bin_dir, entry))
      if st and st.type == "directory" then
        if exists(join(bin_dir, entry .. "/main.rs")) then
          found[#found + 1] = { name = entry, path = "src/bin/" .. entry .. "/main.rs" }
        end
      elseif entry:sub(-3) == ".rs" then
        found[#found + 1] = { name = entry:sub(1, -4), path = "src/bin/" .. entry }
      end
    end
  end
  return found
end

-- Where a 2015-edition [[bin]] without a path may still live.
local function legacy_bin_path(dir, name, has_lib)
  local candidates = { "src/main.rs", "src/bin/main.rs" }
  if not has_lib then
    table.insert(candidates, 1, "src/" .. name .. ".rs")
  end
  for _, candidate in ipairs(candidates) do
    if exists(join(dir, candidate)) then
      return candidate
    end
  end
  return nil
end

-- [[bin]] tables as targets {name, path, field}, checked for shape.
local function explicit_bins(manifest)
  local path, bins = manifest.path, manifest.doc.bin
  if bins ~= nil and kind_of(bins) ~= "array" then
    fail("%s: bin: expected an array of tables ([[bin]]), got %s", path, kind_of(bins))
  end
  local targets = {}
  for i, bin in ipairs(bins or {}) do
    local field = string.format("bin[%d]", i)
    check_kind(path, field, bin, "table")
    targets[i] = {
      name = check_kind(path, field .. ".name", bin.name, "string"),
      path = check_kind(path, field .. ".path", bin.path, "string"),
      field = field,
    }
  end
  return targets, bins ~= nil
end

-- The sorted bin names of one package.
local function package_bins(manifest, workspace)
  local path, dir, package = manifest.path, manifest.dir, manifest.package
  local name_field = manifest.package_field .. ".name"
  if package.name == nil then
    fail("%s: %s: required field is missing", path, name_field)
  end
  check_kind(path, name_field, package.name, "string")
  local autobins_field = manifest.package_field .. ".autobins"
  local autobins = check_kind(path, autobins_field, package.autobins, "boolean")
  local edition = package_edition(manifest, workspace)

  local targets, has_bin_section = explicit_bins(manifest)
  local inferred = inferred_bins(dir, package.name)
  local discover = autobins
  if discover == nil then
    -- In the 2015 edition one declared target turns discovery off.
    discover = not has_bin_section or edition ~= "2015"
  end
  if discover then
    local seen_names, seen_paths = {}, {}
    for _, target in ipairs(targets) do
      seen_names[target.name or false] = true
      seen_paths[target.path and path_key(join(dir, target.path)) or false] = true
    end
    for _, bin in ipairs(inferred) do
      if not seen_names[bin.name] and not seen_paths[path_key(join(dir, bin.path))] then
        targets[#targets + 1] = { name = bin.name, path = bin.path, field = bin.path }
      end
    end
  end

  local has_lib = manifest.doc.lib ~= nil or exists(join(dir, "src/lib.rs"))
  local names, seen = {}, {}
  for _, target in ipairs(targets) do
    local name, field = target.name, target.field
    if name == nil then
      fail("%s: %s.name: required field is missing", path, field)
    elseif not name:find("%S") then
      fail("%s: %s: binary target names cannot be empty", path, field)
    elseif RESERVED_BIN_NAMES[name] then
      fail("%s: %s: the binary target name `%s` is forbidden, it conflicts with cargo's build "
        .. "directory names", path, field, name)
    end
    if not target.path then
      local candidates = {}
      for _, bin in ipairs(inferred) do
        if bin.name == name then
          candidates[#candidates + 1] = bin.path
        end
      end
      local legacy = edition == "2015" and #candidates ~= 1 and legacy_bin_path(dir, name, has_lib)
      if #candidates == 0 and not legacy then
        fail("%s: %s: can't find `%s` bin at `src/bin/%s.rs` or `src/bin/%s/main.rs`; "
          .. "please specify bin.path", path, field, name, name, name)
      elseif #candidates > 1 and not legacy then
        fail("%s: %s: cannot infer path for `%s` bin: both `%s` and `%s` exist", path, field, name,
          candidates[1], candidates[2])
      end
    end
    if seen[name] then
      fail("%s: bin: found duplicate binary name %s, but all binary targets must have a unique "
        .. "name", path, name)
    end
    seen[name] = true
    names[#names + 1] = name
  end
  table.sort(names)
  return names
end

M.package_bins = package_bins

return M
