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
local starts_with = path.starts_with
local exists, is_dir = path.exists, path.is_dir

local M = {}

-- Sections whose `path` entries can pull a package into the workspace (cargo accepts both
-- spellings of the dev and build sections).
local DEPENDENCY_SECTIONS = {
  "dependencies",
  "dev-dependencies",
  "dev_dependencies",
  "build-dependencies",
  "build_dependencies",
}

local checks = require("lambda.cargo.checks")
local package_bins = require("lambda.cargo.bins").package_bins

local Failure, fail_as, fail, protect = checks.Failure, checks.fail_as, checks.fail, checks.protect
local kind_of, check_kind, string_list = checks.kind_of, checks.check_kind, checks.string_list

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
