-- Internal to lambda.emulator (not part of the public API; see docs/scripting.md).
-- Which changed paths should not restart functions: target/, .git/, any other Cargo build
-- directory (one holding the CACHEDIR.TAG cargo writes), and what .gitignore files (at the
-- project root and in subdirectories) ignore. Supports the common gitignore forms: comments,
-- `!` negation, a trailing `/` for directories, a leading or inner `/` anchoring the pattern,
-- `*`, `?`, `[...]` and `**`.
local fs = require("lambda.fs")
local glob = require("lambda.glob")

local M = {}

local ALWAYS = { target = true, [".git"] = true }

local function compile(line, base)
  line = line:gsub("\r$", "")
  if line == "" or line:sub(1, 1) == "#" then
    return nil
  end
  line = line:gsub("%s+$", "")
  local rule = { base = base }
  if line:sub(1, 1) == "!" then
    rule.negated, line = true, line:sub(2)
  end
  if line:sub(-1) == "/" then
    rule.directory_only, line = true, line:sub(1, -2)
  end
  rule.anchored = line:find("/", 1, true) ~= nil
  line = line:gsub("^/", "")
  rule.parts = {}
  for part in line:gmatch("[^/]+") do
    if part == "**" then
      rule.parts[#rule.parts + 1] = "**"
    else
      local tokens = glob.compile_component(part)
      if not tokens then
        return nil
      end
      rule.parts[#rule.parts + 1] = tokens
    end
  end
  return #rule.parts > 0 and rule or nil
end

-- Matches pattern parts against path components from index i.
local function match_parts(parts, p, components, c)
  if p > #parts then
    return c > #components
  end
  if parts[p] == "**" then
    for skip = c, #components + 1 do
      if match_parts(parts, p + 1, components, skip) then
        return true
      end
    end
    return false
  end
  return c <= #components and glob.component_matches(parts[p], components[c])
    and match_parts(parts, p + 1, components, c + 1)
end

local function rule_matches(rule, components, is_dir)
  if rule.directory_only and not is_dir then
    return false
  end
  if rule.anchored then
    return match_parts(rule.parts, 1, components, 1)
  end
  -- An unanchored pattern matches the last component (any depth).
  return match_parts(rule.parts, 1, { components[#components] }, 1)
end

-- A matcher for paths relative to root: ignored(relative_path, is_dir) -> boolean.
function M.new(root)
  local rules_by_dir = {}
  local function rules_for(dir)
    if rules_by_dir[dir] == nil then
      local text = fs.read(root .. (dir == "" and "" or "/" .. dir) .. "/.gitignore")
      local rules = {}
      for line in (text or ""):gmatch("[^\n]+") do
        rules[#rules + 1] = compile(line, dir)
      end
      rules_by_dir[dir] = rules
    end
    return rules_by_dir[dir]
  end
  -- A build directory set elsewhere than target/ (CARGO_TARGET_DIR, build.target-dir) inside
  -- the project: without this, every build would write there, restart the functions, and so
  -- build again, forever. Only positive answers are kept: cargo creates the directory before
  -- the tag, so a directory may become one later.
  local build_dirs = {}
  local function is_build_dir(dir)
    if not build_dirs[dir] and fs.stat(root .. "/" .. dir .. "/CACHEDIR.TAG") then
      build_dirs[dir] = true
    end
    return build_dirs[dir]
  end
  return function(relative, is_dir)
    local components = {}
    for part in relative:gmatch("[^/]+") do
      components[#components + 1] = part
    end
    if ALWAYS[components[1]] then
      return true
    end
    -- An edited .gitignore applies from now on (its own change is not ignored).
    if components[#components] == ".gitignore" then
      rules_by_dir[table.concat(components, "/", 1, #components - 1)] = nil
    end
    for depth = 1, is_dir and #components or #components - 1 do
      if is_build_dir(table.concat(components, "/", 1, depth)) then
        return true
      end
    end
    -- Every prefix directory may be ignored by a .gitignore above it.
    local ignored = false
    for depth = 1, #components do
      local sub = table.move(components, 1, depth, 1, {})
      local sub_is_dir = depth < #components or is_dir
      ignored = false
      for level = 0, depth - 1 do
        local dir = table.concat(components, "/", 1, level)
        local relative_parts = table.move(sub, level + 1, #sub, 1, {})
        for _, rule in ipairs(rules_for(dir)) do
          if rule_matches(rule, relative_parts, sub_is_dir) then
            ignored = not rule.negated
          end
        end
      end
      if ignored and depth < #components then
        return true
      end
    end
    return ignored
  end
end

return M
