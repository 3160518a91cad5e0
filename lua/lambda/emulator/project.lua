-- Internal to lambda.emulator: what a Cargo project gives the emulator (its functions, the
-- cargo flags to build them with, the environment its manifests set), and which names may be
-- invoked.
local M = {}

-- The project at `project` (a Cargo.toml, a folder holding one, or true: the project around
-- the current directory), narrowed to `bins`. Returns the project (cargo.project's table), or
-- false when `project` is true and there is none, or nil, message, kind, field.
function M.load(project, bins)
  local cargo = require("lambda.cargo")
  local fs = require("lambda.fs")
  local manifest
  if project == true then
    manifest = cargo.find_manifest()
    if not manifest then
      return false
    end
  else
    local info = fs.stat(project)
    if not info then
      return nil, string.format("project: %s does not exist", project), "not_found", "project"
    elseif info.type == "directory" then
      manifest = project:gsub("/+$", "") .. "/Cargo.toml"
      if not fs.stat(manifest) then
        return nil, string.format("project: %s holds no Cargo.toml", project), "not_found",
          "project"
      end
    elseif info.type == "file" then
      manifest = project
    else
      return nil, string.format("project: %s is a special file, not a Cargo.toml", project),
        "input", "project"
    end
  end
  local loaded, message, kind = cargo.project(manifest)
  if not loaded then
    -- lambda.cargo's kind: "not_found" for a manifest that is not there (a workspace member
    -- that does not exist), "input" for one cargo refuses, "io" for one that cannot be read.
    return nil, message, kind or "input", "project"
  end
  if bins then
    local wanted, chosen = {}, {}
    for _, name in ipairs(bins) do
      wanted[name] = true
    end
    for _, name in ipairs(loaded.functions) do
      if wanted[name] then
        chosen[#chosen + 1] = name
        wanted[name] = nil
      end
    end
    local missing = next(wanted)
    if missing then
      return nil, string.format("bins: %s is not a function of %s (functions: %s)", missing,
        loaded.manifest, table.concat(loaded.functions, ", ")), "not_found", "bins"
    end
    loaded.functions = chosen
  end
  if #loaded.functions == 0 then
    return nil, loaded.manifest .. " has no bin targets (src/main.rs, src/bin/<name>.rs, "
      .. "src/bin/<name>/main.rs or [[bin]]): nothing to run as a function", "not_found",
      "project"
  end
  return loaded
end

-- cargo run's flags from {release, features = {...}, all_features, no_default_features}.
function M.cargo_arguments(options)
  local args = {}
  if options.release then
    args[#args + 1] = "--release"
  end
  for _, features in ipairs(options.features or {}) do
    args[#args + 1] = "--features"
    args[#args + 1] = features
  end
  if options.all_features then
    args[#args + 1] = "--all-features"
  end
  if options.no_default_features then
    args[#args + 1] = "--no-default-features"
  end
  return args
end

-- The manifest's [package.metadata.lambda.env] and [package.metadata.lambda.bin.<name>.env],
-- as fn(name) -> {K = V}. Read again at every start of an instance, as the original does: an
-- edit of Cargo.toml restarts the functions, and the restarted ones must see the new values.
function M.manifest_environment(project)
  local toml = require("lambda.toml")
  local manifest_of = {}
  for _, package in ipairs(project.packages) do
    for _, bin in ipairs(package.bins) do
      manifest_of[bin] = manifest_of[bin] or package.manifest
    end
  end
  return function(name)
    local env = {}
    local text = manifest_of[name] and require("lambda.fs").read(manifest_of[name])
    -- A manifest made unreadable by an edit gives no values; cargo run reports its error.
    local doc = text and toml.decode(text)
    local lambda = type(doc) == "table" and type(doc.package) == "table"
      and type(doc.package.metadata) == "table" and doc.package.metadata.lambda
    if type(lambda) ~= "table" then
      return env
    end
    local bins = type(lambda.bin) == "table" and lambda.bin or {}
    local own = type(bins[name]) == "table" and bins[name].env or nil
    for _, source in ipairs({ lambda.env, own }) do
      if type(source) == "table" then
        for k, v in pairs(source) do
          -- Strings, numbers and booleans; a table has no sensible text form.
          if type(v) ~= "table" then
            env[k] = tostring(v)
          end
        end
      end
    end
    return env
  end
end

-- Which names may be invoked, and what `_` means. any_name: every name is a function (a
-- command, or functions started by hand).
function M.registry(functions, any_name, region)
  local registry = {}
  local known = {}
  -- The project's functions, again after a change to it (a bin added or removed).
  function registry.set_functions(list)
    functions, known = list, {}
    for _, name in ipairs(list) do
      known[name] = true
    end
  end
  registry.set_functions(functions)
  function registry.functions()
    return { table.unpack(functions) }
  end
  function registry.default_name()
    if #functions == 1 then
      return functions[1]
    end
    return "_"
  end
  function registry.resolve(name)
    if name == "" then
      name = "_"
    end
    if any_name then
      return name
    end
    if name == "_" then
      if #functions == 1 then
        return functions[1]
      end
      return nil, 404, "ResourceNotFoundException", string.format("Function not found: the "
        .. "project has several functions, name one of them: %s", table.concat(functions, ", "))
    end
    if known[name] then
      return name
    end
    local arn = require("lambda.emulator.ids").function_arn(region, name)
    return nil, 404, "ResourceNotFoundException", string.format("Function not found: %s "
      .. "(functions: %s)", arn, #functions > 0 and table.concat(functions, ", ") or "none")
  end
  return registry
end

return M
