-- lambda.cargo: the functions of a Cargo project, i.e. the names of its bin targets, worked out
-- from the manifests with cargo's own rules (workspace discovery, target auto-discovery) so
-- that `invoke` never has to run `cargo metadata`. The answer is the one
-- `cargo metadata --no-deps` gives; where cargo would refuse the project, the failure is
-- nil, message, kind: the message names the manifest and the field at fault, the kind is
-- "not_found" (no Cargo.toml, a manifest that is not there), "io" (one that cannot be read)
-- or "input" (one that does not parse, a field cargo refuses, a workspace cargo refuses).
local fs = require("lambda.fs")
local toml = require("lambda.toml")
local glob = require("lambda.glob")
local path = require("lambda.path")

local normalize, join, dirname = path.normalize, path.join, path.dirname
local path_key, starts_with = path.path_key, path.starts_with
local exists, is_dir = path.exists, path.is_dir

local M = {}

-- Directory names cargo uses inside target/; a bin with one of these names would collide.
local RESERVED_BIN_NAMES = { deps = true, examples = true, build = true, incremental = true }

-- Sections whose `path` entries can pull a package into the workspace (cargo accepts both
-- spellings of the dev and build sections).
local DEPENDENCY_SECTIONS = {
  "dependencies",
  "dev-dependencies",
  "dev_dependencies",
  "build-dependencies",
  "build_dependencies",
}

-- Expected failures (bad manifests, missing files) travel as errors carrying this metatable
-- up to the public functions, which turn them into nil, message, kind; anything else is a bug
-- and propagates unchanged.
local Failure = {}

local function fail_as(kind, format, ...)
  error(setmetatable({ message = string.format(format, ...), kind = kind }, Failure), 0)
end

-- Most failures are a manifest cargo refuses: "input".
local function fail(format, ...)
  fail_as("input", format, ...)
end

local function protect(body, ...)
  local ok, result = pcall(body, ...)
  if ok then
    return result
  end
  if getmetatable(result) == Failure then
    return nil, result.message, result.kind
  end
  error(result, 0)
end

local function absolute(p)
  local result, message = path.absolute(p)
  if not result then
    -- The working directory is gone.
    fail_as("io", "%s", message)
  end
  return result
end

---------------------------------------------------------------------------------------------
-- Manifests. One session caches every manifest it reads, so each file is read and decoded once
-- however often workspace discovery looks at it.

local function kind_of(value)
  local t = type(value)
  if t == "number" then
    return math.type(value)
  elseif t == "table" then
    if toml.is_array(value) then
      return "array"
    end
    return toml.is_datetime(value) and "date-time" or "table"
  end
  return t
end

local WITH_ARTICLE = { string = "a string", table = "a table", boolean = "a boolean" }

local function check_kind(manifest_path, field, value, wanted)
  if value ~= nil and kind_of(value) ~= wanted then
    fail("%s: %s: expected %s, got %s", manifest_path, field, WITH_ARTICLE[wanted], kind_of(value))
  end
  return value
end

local function string_list(manifest_path, field, value)
  if value == nil then
    return nil
  end
  if kind_of(value) ~= "array" then
    fail("%s: %s: expected an array of strings, got %s", manifest_path, field, kind_of(value))
  end
  for i, item in ipairs(value) do
    if type(item) ~= "string" then
      fail("%s: %s[%d]: expected a string, got %s", manifest_path, field, i, kind_of(item))
    end
  end
  return value
end

-- Reads a manifest into {path, dir, doc, package, package_field, workspace}: package is the
-- [package] table (nil in a virtual manifest); workspace, present when the manifest has
-- [workspace], holds its root_dir, members (nil when not given), exclude and raw table.
local function read_manifest(path)
  local text, read_error, read_kind = fs.read(path)
  if not text then
    -- lambda.fs says "<path>: <reason>"; keep only the reason. Its kinds carry over: a
    -- manifest that is not there is "not_found", one that cannot be read "io", one that is
    -- not a regular file "input".
    local prefix = path .. ": "
    local reason = read_error
    if reason:sub(1, #prefix) == prefix then
      reason = reason:sub(#prefix + 1)
    end
    fail_as(read_kind or "io", "%s: cannot read: %s", path, reason)
  end
  local doc, syntax_error = toml.decode(text)
  if not doc then
    fail("%s: %s", path, syntax_error)
  end
  local manifest = { path = path, dir = dirname(path), doc = doc }
  -- [project] is the old name of [package], still accepted by cargo.
  manifest.package_field = doc.package == nil and doc.project ~= nil and "project" or "package"
  manifest.package = check_kind(path, manifest.package_field, doc[manifest.package_field], "table")
  local workspace = check_kind(path, "workspace", doc.workspace, "table")
  if not manifest.package and not workspace then
    fail("%s: manifest is missing either a [package] or a [workspace]", path)
  end
  if workspace then
    manifest.workspace = {
      root_dir = manifest.dir,
      members = string_list(path, "workspace.members", workspace.members),
      exclude = string_list(path, "workspace.exclude", workspace.exclude) or {},
      raw = workspace,
    }
  end
  if manifest.package then
    check_kind(path, manifest.package_field .. ".workspace", manifest.package.workspace, "string")
  elseif doc.bin ~= nil then
    fail("%s: bin: a virtual manifest cannot have [[bin]] targets", path)
  end
  return manifest
end

local Session = {}
Session.__index = Session

local function new_session()
  return setmetatable({ manifests = {}, roots = {} }, Session)
end

function Session:load(path)
  local manifest = self.manifests[path]
  if not manifest then
    manifest = read_manifest(path)
    self.manifests[path] = manifest
  end
  return manifest
end

---------------------------------------------------------------------------------------------
-- Workspaces, after cargo's Workspace::new: find the root, collect the members (the globs of
-- workspace.members, the root itself, path dependencies below the root), then check that they
-- all agree on that root.

-- Whether workspace.exclude keeps manifest_path out; a members entry naming it wins.
local function is_excluded(workspace, manifest_path)
  local function listed(entries)
    for _, entry in ipairs(entries) do
      if starts_with(manifest_path, join(workspace.root_dir, entry)) then
        return true
      end
    end
    return false
  end
  return listed(workspace.exclude) and not listed(workspace.members or {})
end

-- What one manifest says about the workspace root of manifest_path, where the search started:
-- itself when it is a root that does not exclude manifest_path, a package.workspace pointer,
-- or nothing.
local function root_named_by(manifest, manifest_path)
  if manifest.workspace then
    if not is_excluded(manifest.workspace, manifest_path) then
      return manifest.path
    end
  elseif manifest.package and manifest.package.workspace then
    return normalize(join(join(manifest.dir, manifest.package.workspace), "Cargo.toml"))
  end
  return nil
end

local function cargo_home()
  local home = os.getenv("CARGO_HOME")
  if home and home ~= "" then
    return normalize(home)
  end
  home = os.getenv("HOME")
  return home and home ~= "" and normalize(join(home, ".cargo")) or nil
end

-- The root manifest of the workspace manifest_path belongs to, or false when it is in none.
function Session:find_root(manifest_path)
  local cached = self.roots[manifest_path]
  if cached ~= nil then
    return cached
  end
  local manifest = self:load(manifest_path)
  local root = root_named_by(manifest, manifest_path)
  local home = cargo_home()
  local dir, previous = manifest.dir, nil
  while not root and dir ~= "/" do
    previous, dir = dir, dirname(dir)
    -- Packaged copies under target/package and crates under CARGO_HOME belong to no workspace
    -- above them.
    if dir:sub(-#"/target/package") == "/target/package" then
      break
    end
    if previous ~= manifest.dir and previous == home then
      break
    end
    local candidate = join(dir, "Cargo.toml")
    if exists(candidate) then
      root = root_named_by(self:load(candidate), manifest_path)
    end
  end
  self.roots[manifest_path] = root or false
  return root or false
end

-- Manifest paths of the path dependencies of a package, each with its dependency name.
local function path_dependencies(manifest, workspace)
  local inherited = workspace and workspace.raw.dependencies
  if kind_of(inherited) ~= "table" then
    inherited = {}
  end
  local found = {}
  local function scan(section)
    if kind_of(section) ~= "table" then
      return
    end
    for name, spec in pairs(section) do
      local base = manifest.dir
      if kind_of(spec) == "table" and spec.workspace == true then
        -- `x = { workspace = true }` takes x's source from the root, relative to the root.
        spec, base = inherited[name], workspace and workspace.root_dir
      end
      if kind_of(spec) == "table" and type(spec.path) == "string" and spec.git == nil then
        local dependency_dir = join(base, spec.path)
        found[#found + 1] = { name = name, path = normalize(join(dependency_dir, "Cargo.toml")) }
      end
    end
  end
  local doc = manifest.doc
  for _, section in ipairs(DEPENDENCY_SECTIONS) do
    scan(doc[section])
  end
  if kind_of(doc.target) == "table" then
    for _, platform in pairs(doc.target) do
      if kind_of(platform) == "table" then
        for _, section in ipairs(DEPENDENCY_SECTIONS) do
          scan(platform[section])
        end
      end
    end
  end
  table.sort(found, function(a, b)
    return a.path < b.path
  end)
  return found
end

-- The manifest paths of the members of the workspace rooted at root_path.
function Session:find_members(root_path)
  local workspace = self:load(root_path).workspace
  local members, is_member = {}, {}

  local function add(manifest_path, is_path_dependency, referrer)
    if is_member[manifest_path] then
      return
    end
    if is_path_dependency and not starts_with(dirname(manifest_path), workspace.root_dir) then
      -- A path dependency outside the root joins only when it names this root itself. cargo
      -- also fails on one that does not exist; it is skipped here, as it cannot hold a
      -- function of this workspace.
      if not exists(manifest_path) or self:find_root(manifest_path) ~= root_path then
        return
      end
    end
    if is_excluded(workspace, manifest_path) then
      return
    end
    is_member[manifest_path] = true
    members[#members + 1] = manifest_path
    local ok, manifest = pcall(self.load, self, manifest_path)
    if not ok then
      if getmetatable(manifest) == Failure and referrer then
        manifest.message = manifest.message .. " (" .. referrer .. ")"
      end
      error(manifest, 0)
    end
    if manifest.package then
      for _, dependency in ipairs(path_dependencies(manifest, workspace)) do
        local via = "path dependency `" .. dependency.name .. "` of " .. manifest_path
        add(dependency.path, true, via)
      end
    end
  end

  -- All patterns are expanded before any member is loaded, so a bad pattern is reported first.
  local listed = {}
  for i, entry in ipairs(workspace.members or {}) do
    local pattern = join(workspace.root_dir, entry)
    local matches, problem = glob.expand(pattern)
    if not matches then
      fail("%s: workspace.members[%d]: invalid glob pattern `%s`: %s", root_path, i, entry, problem)
    end
    -- Like cargo: a pattern matching nothing is taken literally (and fails to load below), and
    -- stray files a glob picks up (README.md, .DS_Store) are not members.
    local referrer = "workspace.members entry `" .. entry .. "` of " .. root_path
    if #matches == 0 then
      listed[#listed + 1] = { dir = pattern, referrer = referrer }
    end
    for _, match in ipairs(matches) do
      if is_dir(match) then
        listed[#listed + 1] = { dir = match, referrer = referrer }
      end
    end
  end
  for _, member in ipairs(listed) do
    add(normalize(join(member.dir, "Cargo.toml")), false, member.referrer)
  end
  add(root_path, false)
  return members
end

-- cargo's Workspace::validate: every member agrees on the root, package names are unique, and
-- the manifest the search started from is a member.
function Session:validate(root_path, members, current_path)
  local names, current_is_member = {}, false
  for _, member_path in ipairs(members) do
    local root = self:find_root(member_path)
    if not root then
      fail("%s: workspace member is not hierarchically below the workspace root %s", member_path,
        root_path)
    elseif root ~= root_path then
      fail("%s: package is a member of the wrong workspace: expected %s, found %s", member_path,
        root_path, root)
    end
    local package = self:load(member_path).package
    local name = package and package.name
    if type(name) == "string" then
      if names[name] then
        fail("%s: two packages named `%s` in this workspace: %s and %s", root_path, name,
          names[name], member_path)
      end
      names[name] = member_path
    end
    current_is_member = current_is_member or member_path == current_path
  end
  if not current_is_member then
    fail("%s: current package believes it's in a workspace when it's not: add it to "
      .. "workspace.members or workspace.exclude of %s", current_path, root_path)
  end
end

---------------------------------------------------------------------------------------------
-- Bin targets, after cargo's normalize_bins: the [[bin]] tables plus the auto-discovered
-- src/main.rs, src/bin/<x>.rs and src/bin/<x>/main.rs, minus those a [[bin]] already names or
-- points at.

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

---------------------------------------------------------------------------------------------
-- Public API

local function check_string_argument(value, position, function_name, optional)
  if type(value) ~= "string" and not (optional and value == nil) then
    error(string.format("bad argument #%d to '%s' (string expected, got %s)", position,
      function_name, value == nil and "no value" or type(value)), 3)
  end
end

local function find_manifest(dir)
  local start = absolute(dir or ".")
  local current = start
  while true do
    local candidate = join(current, "Cargo.toml")
    if exists(candidate) then
      return candidate
    end
    if current == "/" then
      fail_as("not_found", "could not find `Cargo.toml` in `%s` or any parent directory", start)
    end
    current = dirname(current)
  end
end

local function project(manifest_path)
  local session = new_session()
  local current = absolute(manifest_path)
  local manifest = session:load(current)
  local root = session:find_root(current)
  local members, root_manifest = { current }, manifest
  if root then
    root_manifest = session:load(root)
    if not root_manifest.workspace then
      fail("%s: package.workspace points to %s, which has no [workspace]", current, root)
    end
    members = session:find_members(root)
    session:validate(root, members, current)
  end

  local packages, functions, seen = {}, {}, {}
  for _, member_path in ipairs(members) do
    local member = session:load(member_path)
    if member.package then
      local bins = package_bins(member, root_manifest.workspace)
      packages[#packages + 1] = { name = member.package.name, manifest = member_path, bins = bins }
      for _, name in ipairs(bins) do
        if not seen[name] then
          seen[name], functions[#functions + 1] = true, name
        end
      end
    end
  end
  table.sort(packages, function(a, b)
    return a.name < b.name or (a.name == b.name and a.manifest < b.manifest)
  end)
  table.sort(functions)
  return {
    manifest = current,
    workspace_root = root_manifest.dir,
    packages = packages,
    functions = functions,
  }
end

--- Path of the nearest Cargo.toml in dir (default: the working directory) or a parent of it,
--- found the way cargo finds it; nil, message, "not_found" when there is none.
function M.find_manifest(dir)
  check_string_argument(dir, 1, "find_manifest", true)
  return protect(find_manifest, dir)
end

--- The workspace manifest_path belongs to, as `cargo metadata --no-deps` run there sees it:
--- {manifest, workspace_root, packages = {{name, manifest, bins}}, functions}, packages sorted
--- by name, functions the sorted bin names of all packages; or nil, message, kind.
function M.project(manifest_path)
  check_string_argument(manifest_path, 1, "project")
  return protect(project, manifest_path)
end

--- The sorted function (bin target) names of that workspace, or nil, message, kind.
function M.functions(manifest_path)
  check_string_argument(manifest_path, 1, "functions")
  local result, message, kind = protect(project, manifest_path)
  if not result then
    return nil, message, kind
  end
  return result.functions
end

return M
