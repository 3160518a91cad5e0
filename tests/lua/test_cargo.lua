-- lambda.cargo: function (bin target) names from Cargo manifests, checked on the fixture trees
-- in fixtures/manifests (one per project shape), on generated trees, and on the real-world
-- trees of $CARGO_LAMBDA_SHARED_DIR/acceptance/manifests against their expected.json.
local cargo = require("lambda.cargo")
local fs = require("lambda.fs")
local json = require("lambda.json")

local source_dir = os.getenv("CARGO_LAMBDA_SOURCE_DIR") or (assert(fs.cwd()) .. "/../..")
local FIXTURES = assert(fs.realpath(source_dir .. "/fixtures/manifests"))

local function fixture(name)
  return FIXTURES .. "/" .. name
end

local function manifest(name)
  return fixture(name) .. "/Cargo.toml"
end

local function show(value)
  if type(value) ~= "table" then
    return string.format("%q", value)
  end
  local parts = {}
  for i, item in ipairs(value) do
    parts[i] = show(item)
  end
  return "{" .. table.concat(parts, ", ") .. "}"
end

local function same_list(actual, expected)
  if type(actual) ~= "table" or #actual ~= #expected then
    return false
  end
  for i = 1, #expected do
    if actual[i] ~= expected[i] then
      return false
    end
  end
  return true
end

local function check_list(actual, expected, what)
  assert(same_list(actual, expected),
    string.format("%s: expected %s, got %s", what, show(expected), show(actual)))
end

local function check_functions(path, expected)
  local names, message = cargo.functions(path)
  assert(names, path .. ": unexpected failure: " .. tostring(message))
  check_list(names, expected, path)
end

-- Failures are nil, message, kind: the message names the manifest and the field at fault.
local function check_error(path, expected_message, expected_kind)
  local names, message, kind = cargo.functions(path)
  assert(names == nil, path .. ": expected an error, got " .. show(names))
  assert(message == expected_message,
    string.format("%s:\n  expected message %q\n  got              %q", path, expected_message,
      tostring(message)))
  assert(kind == expected_kind, string.format("%s: expected kind %q, got %s", path,
    expected_kind, show(kind)))
  -- project() fails the same way.
  local project, project_message, project_kind = cargo.project(path)
  assert(project == nil and project_message == message and project_kind == kind,
    path .. ": project() and functions() disagree")
end

local function shell_quote(text)
  return "'" .. text:gsub("'", "'\\''") .. "'"
end

local temp_root, tree_count = nil, 0

-- Writes files ({relative path = contents}) under a new temporary directory; returns its path.
local function make_tree(files)
  if not temp_root then
    local pipe = assert(io.popen("mktemp -d"))
    temp_root = assert(fs.realpath(pipe:read("l")))
    pipe:close()
  end
  tree_count = tree_count + 1
  local dir = temp_root .. "/tree" .. tree_count
  assert(os.execute("mkdir " .. shell_quote(dir)))
  local parents, seen = {}, {}
  for path in pairs(files) do
    local parent = path:match("^(.*)/")
    if parent and not seen[parent] then
      seen[parent] = true
      parents[#parents + 1] = shell_quote(dir .. "/" .. parent)
    end
  end
  if #parents > 0 then
    assert(os.execute("mkdir -p " .. table.concat(parents, " ")))
  end
  for path, contents in pairs(files) do
    local file = assert(io.open(dir .. "/" .. path, "wb"))
    file:write(contents)
    file:close()
  end
  return dir
end

local function package_toml(name, extra)
  return string.format('[package]\nname = "%s"\nversion = "0.1.0"\nedition = "2021"\n%s', name,
    extra or "")
end

local function cases()
  -- One fixture per project shape: the names `cargo metadata --no-deps` lists as bin targets.
  local shapes = {
    { "single-main", { "hello-fn" } },
    { "renamed-bin", { "renamed" } },
    { "bin-discovery", { "alpha", "beta", "discovery" } },
    { "autobins-false", { "kept", "named" } },
    { "bin-claims-file", { "main-alias", "server", "worker" } },
    { "edition-2015", { "explicit", "legacy" } },
    { "workspace-glob", { "admin", "auth-svc", "billing-worker", "helpers", "svc-api" } },
    { "virtual", { "api-fn", "migrate", "worker-fn" } },
    { "root-package", { "member-fn", "root-fn" } },
    { "lib-only", {} },
    { "pointer/root", { "outside-fn" } },
    -- A member's manifest gives the functions of its whole workspace.
    { "pointer/outside", { "outside-fn" } },
    { "root-package/member", { "member-fn", "root-fn" } },
    { "virtual/worker", { "api-fn", "migrate", "worker-fn" } },
    { "workspace-glob/services/billing",
      { "admin", "auth-svc", "billing-worker", "helpers", "svc-api" } },
    -- Excluded from the workspace above it, so a package on its own.
    { "workspace-glob/crates/legacy", { "legacy" } },
  }
  for _, shape in ipairs(shapes) do
    check_functions(manifest(shape[1]), shape[2])
  end

  -- Errors name the file, and the field or position at fault.
  check_error(manifest("missing-manifest"),
    manifest("missing-manifest") .. ": cannot read: No such file or directory", "not_found")
  local _, syntax, syntax_kind = cargo.functions(manifest("malformed"))
  local prefix = manifest("malformed") .. ": line 3, column 11: "
  assert(type(syntax) == "string" and syntax:sub(1, #prefix) == prefix and #syntax > #prefix,
    "malformed TOML: expected " .. prefix .. "..., got " .. tostring(syntax))
  assert(syntax_kind == "input", "malformed TOML: kind " .. tostring(syntax_kind))
  check_error(manifest("bin-without-name"),
    manifest("bin-without-name") .. ": bin[2].name: required field is missing", "input")
  check_error(manifest("bad-members"),
    manifest("bad-members") .. ": workspace.members[2]: expected a string, got integer", "input")
  check_error(manifest("duplicate-bin"), manifest("duplicate-bin")
    .. ": bin: found duplicate binary name dup, but all binary targets must have a unique name",
    "input")
  check_error(manifest("bin-path-unknown"), manifest("bin-path-unknown")
    .. ": bin[1]: can't find `ghost` bin at `src/bin/ghost.rs` or `src/bin/ghost/main.rs`; "
    .. "please specify bin.path", "input")
  -- cargo refuses a members glob that matches a directory without a Cargo.toml.
  check_error(manifest("missing-member"), manifest("missing-member/crates/docs")
    .. ": cannot read: No such file or directory (workspace.members entry `crates/*` of "
    .. manifest("missing-member") .. ")", "not_found")
  -- Below a workspace root that neither lists nor excludes it.
  check_error(manifest("workspace-glob/tools/client"), manifest("workspace-glob/tools/client")
    .. ": current package believes it's in a workspace when it's not: add it to "
    .. "workspace.members or workspace.exclude of " .. manifest("workspace-glob"), "input")

  -- project(): packages (sorted by name) with their bins, the root, the manifest asked about.
  local project = assert(cargo.project(manifest("workspace-glob/crates/api")))
  assert(project.manifest == manifest("workspace-glob/crates/api"), "project.manifest")
  assert(project.workspace_root == fixture("workspace-glob"),
    "project.workspace_root: " .. tostring(project.workspace_root))
  local expected_packages = {
    { "auth-svc", "workspace-glob/services/auth", { "auth-svc" } },
    { "billing", "workspace-glob/services/billing", { "billing-worker" } },
    { "cli-tool", "workspace-glob/tools/cli", { "admin" } },
    { "helpers", "workspace-glob/helpers", { "helpers" } },
    { "shared", "workspace-glob/crates/shared", {} },
    { "svc-api", "workspace-glob/crates/api", { "svc-api" } },
  }
  assert(#project.packages == #expected_packages,
    "workspace-glob: " .. #project.packages .. " packages")
  for i, want in ipairs(expected_packages) do
    local got = project.packages[i]
    assert(got.name == want[1], "package " .. i .. ": name " .. tostring(got.name))
    assert(got.manifest == manifest(want[2]), want[1] .. ": manifest " .. tostring(got.manifest))
    check_list(got.bins, want[3], want[1] .. " bins")
  end
  check_list(project.functions, { "admin", "auth-svc", "billing-worker", "helpers", "svc-api" },
    "project.functions")
  local single = assert(cargo.project(manifest("single-main")))
  assert(single.workspace_root == fixture("single-main"), "single package: workspace_root")
  assert(#single.packages == 1 and single.packages[1].name == "hello-fn", "single: packages")
  local pointed = assert(cargo.project(manifest("pointer/outside")))
  assert(pointed.workspace_root == fixture("pointer/root"), "package.workspace: workspace_root")

  -- find_manifest walks up like cargo; the result leads to the whole workspace.
  local member = cargo.find_manifest(fixture("root-package/member/src/handlers"))
  assert(member == manifest("root-package/member"), "find_manifest from a subdirectory: "
    .. tostring(member))
  check_functions(member, { "member-fn", "root-fn" })
  assert(cargo.find_manifest(fixture("single-main")) == manifest("single-main"),
    "find_manifest in the package directory")
  assert(cargo.find_manifest(fixture("single-main/src/../src")) == manifest("single-main"),
    "find_manifest normalizes the directory")
  local cwd = assert(fs.cwd())
  assert(cargo.find_manifest() == cargo.find_manifest(cwd), "find_manifest defaults to the cwd")
  local relative = "../../fixtures/manifests/single-main"
  if source_dir:sub(1, 1) == "/" and fs.realpath(cwd .. "/" .. relative) == fixture("single-main")
  then
    assert(cargo.find_manifest(relative) == manifest("single-main"), "relative directory")
    check_functions(relative .. "/Cargo.toml", { "hello-fn" })
  end
  local empty = make_tree({ ["sub/file.txt"] = "" })
  local found, none_message, none_kind = cargo.find_manifest(empty .. "/sub")
  if found == nil then
    assert(none_message == "could not find `Cargo.toml` in `" .. empty
      .. "/sub` or any parent directory", "find_manifest: message " .. tostring(none_message))
    assert(none_kind == "not_found", "find_manifest: kind " .. tostring(none_kind))
  else
    -- Some directory above the temporary directory has a Cargo.toml: it must be outside it.
    assert(found:sub(1, #empty + 1) ~= empty .. "/" and fs.stat(found), "found " .. found)
  end

  -- Wrong argument types are programming errors.
  for name, f in pairs({ functions = cargo.functions, project = cargo.project,
    find_manifest = cargo.find_manifest }) do
    local ok, message = pcall(f, 42)
    assert(not ok and message:find("bad argument #1 to '" .. name
      .. "' (string expected, got number)", 1, true), name .. "(42): " .. tostring(message))
  end
  assert(not pcall(cargo.functions), "functions() without a path must raise")
end

local function generated_cases()
  -- Glob syntax: negated classes, `*` and `[!x]` matching dot names, `**` at any depth,
  -- `?` matching one (UTF-8) character.
  local globs = make_tree({
    ["Cargo.toml"] = '[workspace]\nmembers = ["pkgs/[!x]*", "deep/**/leaf*", "u/?1"]\n',
    ["pkgs/alpha/Cargo.toml"] = package_toml("alpha"),
    ["pkgs/alpha/src/main.rs"] = "",
    ["pkgs/.dot/Cargo.toml"] = package_toml("dot"),
    ["pkgs/.dot/src/main.rs"] = "",
    ["pkgs/xeno/README"] = "not a package: the negated class must skip it\n",
    ["deep/leaf0/Cargo.toml"] = package_toml("leaf0"),
    ["deep/leaf0/src/main.rs"] = "",
    ["deep/one/two/leaf1/Cargo.toml"] = package_toml("leaf1"),
    ["deep/one/two/leaf1/src/main.rs"] = "",
    ["u/\195\1691/Cargo.toml"] = package_toml("utf"),
    ["u/\195\1691/src/main.rs"] = "",
  })
  check_functions(globs .. "/Cargo.toml", { "alpha", "dot", "leaf0", "leaf1", "utf" })

  local bad_glob = make_tree({ ["Cargo.toml"] = '[workspace]\nmembers = ["ok", "crates/[ab"]\n' })
  check_error(bad_glob .. "/Cargo.toml", bad_glob .. "/Cargo.toml: workspace.members[2]: "
    .. "invalid glob pattern `crates/[ab`: unclosed character class", "input")
  local bad_star = make_tree({ ["Cargo.toml"] = '[workspace]\nmembers = ["a**"]\n' })
  check_error(bad_star .. "/Cargo.toml", bad_star .. "/Cargo.toml: workspace.members[1]: "
    .. "invalid glob pattern `a**`: `**` must be a whole path component", "input")

  -- A member with its own [workspace] belongs to another workspace.
  local nested = make_tree({
    ["Cargo.toml"] = '[workspace]\nmembers = ["inner"]\n',
    ["inner/Cargo.toml"] = package_toml("inner", "\n[workspace]\n"),
    ["inner/src/main.rs"] = "",
  })
  check_error(nested .. "/Cargo.toml", nested .. "/inner/Cargo.toml: package is a member of "
    .. "the wrong workspace: expected " .. nested .. "/Cargo.toml, found " .. nested
    .. "/inner/Cargo.toml", "input")

  -- A path dependency inside the root must exist (it would be a member).
  local broken_dep = make_tree({
    ["Cargo.toml"] = package_toml("top", '\n[dependencies]\ngone = { path = "gone" }\n'
      .. "\n[workspace]\n"),
    ["src/main.rs"] = "",
  })
  check_error(broken_dep .. "/Cargo.toml", broken_dep .. "/gone/Cargo.toml: cannot read: "
    .. "No such file or directory (path dependency `gone` of " .. broken_dep .. "/Cargo.toml)",
    "not_found")

  -- autobins = false with no [[bin]]: no bin at all, src/main.rs included.
  local no_bins = make_tree({
    ["Cargo.toml"] = package_toml("quiet", "autobins = false\n"),
    ["src/main.rs"] = "",
    ["src/bin/tool.rs"] = "",
  })
  check_functions(no_bins .. "/Cargo.toml", {})

  -- A manifest that cannot be read is "io" (a directory in its place; as root, a mode 000
  -- file would be read anyway).
  local unreadable = make_tree({ ["Cargo.toml/placeholder"] = "" })
  check_error(unreadable .. "/Cargo.toml", unreadable .. "/Cargo.toml: cannot read: Is a "
    .. "directory", "io")

  -- Field types are checked with the field named.
  local typed = make_tree({ ["Cargo.toml"] = '[package]\nname = 5\n' })
  check_error(typed .. "/Cargo.toml", typed .. "/Cargo.toml: package.name: expected a string, "
    .. "got integer", "input")
  local no_table = make_tree({ ["Cargo.toml"] = 'name = "x"\n' })
  check_error(no_table .. "/Cargo.toml", no_table .. "/Cargo.toml: manifest is missing either "
    .. "a [package] or a [workspace]", "input")
  local bin_table = make_tree({ ["Cargo.toml"] = package_toml("t", '[bin]\nname = "x"\n') })
  check_error(bin_table .. "/Cargo.toml", bin_table .. "/Cargo.toml: bin: expected an array "
    .. "of tables ([[bin]]), got table", "input")

  -- Work stays linear and each manifest is read once, however big the workspace.
  local count = 300
  local files = { ["Cargo.toml"] = '[workspace]\nmembers = ["members/*", "members/m0001"]\n' }
  local expected = {}
  for i = 1, count do
    local name = string.format("m%04d", i)
    expected[i] = name
    -- Each member also depends on the next, so discovery meets every manifest twice.
    local next_dep = i < count
      and string.format('\n[dependencies]\nm%04d = { path = "../m%04d" }\n', i + 1, i + 1) or ""
    files["members/" .. name .. "/Cargo.toml"] = package_toml(name, next_dep)
    files["members/" .. name .. "/src/main.rs"] = ""
  end
  local big = make_tree(files)
  local reads, stats = {}, 0
  local real_read, real_stat = fs.read, fs.stat
  fs.read = function(path)
    reads[path] = (reads[path] or 0) + 1
    return real_read(path)
  end
  fs.stat = function(path)
    stats = stats + 1
    return real_stat(path)
  end
  local started = os.clock()
  local ok, names, message = pcall(cargo.functions, big .. "/Cargo.toml")
  print(string.format("big workspace: %d members in %.3f s of CPU", count, os.clock() - started))
  fs.read, fs.stat = real_read, real_stat
  assert(ok, names)
  assert(names, "big workspace: " .. tostring(message))
  check_list(names, expected, "big workspace")
  local files_read = 0
  for path, times in pairs(reads) do
    files_read = files_read + 1
    assert(times == 1, path .. " was read " .. times .. " times")
  end
  assert(files_read == count + 1, "big workspace: " .. files_read .. " manifests read")
  assert(stats < 20 * count, "big workspace: " .. stats .. " stat calls for " .. count
    .. " members")
end

-- The real-world trees: every folder's functions must equal expected.json's bin_targets
-- (and the package names its packages), as `cargo metadata --no-deps` reported them.
local function acceptance()
  local shared = os.getenv("CARGO_LAMBDA_SHARED_DIR")
  local trees = shared and shared ~= "" and shared .. "/acceptance/manifests"
  local expected_text = trees and fs.read(trees .. "/expected.json")
  if not expected_text then
    print("skipped: acceptance manifests (no $CARGO_LAMBDA_SHARED_DIR/acceptance/manifests)")
    return
  end
  local expected = json.decode(expected_text)
  local mismatches, checked = {}, 0
  for _, name in ipairs(assert(fs.list(trees))) do
    local st = fs.stat(trees .. "/" .. name)
    if st.type == "directory" and not expected[name] then
      mismatches[#mismatches + 1] = name .. ": folder without an entry in expected.json"
    end
  end
  local names = {}
  for name in pairs(expected) do
    names[#names + 1] = name
  end
  table.sort(names)
  for _, name in ipairs(names) do
    checked = checked + 1
    local want = expected[name]
    local project, message = cargo.project(trees .. "/" .. name .. "/Cargo.toml")
    if not project then
      mismatches[#mismatches + 1] = name .. ": " .. message
    else
      if not same_list(project.functions, want.bin_targets) then
        mismatches[#mismatches + 1] = string.format("%s: functions %s, expected %s", name,
          show(project.functions), show(want.bin_targets))
      end
      local package_names = {}
      for i, package in ipairs(project.packages) do
        package_names[i] = package.name
      end
      if want.packages and not same_list(package_names, want.packages) then
        mismatches[#mismatches + 1] = string.format("%s: packages %s, expected %s", name,
          show(package_names), show(want.packages))
      end
    end
  end
  assert(checked > 0, "expected.json lists no trees")
  assert(#mismatches == 0, "acceptance mismatches:\n  " .. table.concat(mismatches, "\n  "))
  print(string.format("acceptance: %d manifest trees match expected.json", checked))
end

local ok, failure = pcall(function()
  cases()
  generated_cases()
  acceptance()
end)
if temp_root then
  os.execute("rm -rf " .. shell_quote(temp_root))
end
if not ok then
  error(failure, 0)
end
print("lambda.cargo: all checks passed")
