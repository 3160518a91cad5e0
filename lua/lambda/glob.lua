-- Internal helper of the library (not part of the public API; see docs/scripting.md).
-- lambda.glob: glob patterns as in workspace.members, in the syntax of the glob crate cargo
-- uses: `?`, `*`, `[abc]`, `[a-z]`, `[!abc]` within one path component, and `**` as a whole
-- component for any number of directories. As in that crate, wildcards also match names
-- starting with a dot.
local fs = require("lambda.fs")
local path = require("lambda.path")

local join, exists, is_dir = path.join, path.exists, path.is_dir

-- Characters as code points when the text is UTF-8 (so `?` matches "é"), bytes otherwise.
local function characters(text)
  local chars = {}
  if utf8.len(text) then
    for _, code in utf8.codes(text) do
      chars[#chars + 1] = code
    end
  else
    for i = 1, #text do
      chars[i] = text:byte(i)
    end
  end
  return chars
end

local QUESTION, STAR, OPEN, CLOSE, BANG, DASH = ("?*[]!-"):byte(1, 6)

-- Compiles one path component into tokens: a code point, ANY, STAR_TOKEN or a character class
-- {ranges, negated}. Returns nil, reason for a malformed pattern.
local ANY, STAR_TOKEN = {}, {}

local function compile_component(component)
  if component:find("**", 1, true) and component ~= "**" then
    return nil, "`**` must be a whole path component"
  end
  local chars, tokens, i = characters(component), {}, 1
  while i <= #chars do
    local c = chars[i]
    if c == QUESTION then
      tokens[#tokens + 1], i = ANY, i + 1
    elseif c == STAR then
      tokens[#tokens + 1], i = STAR_TOKEN, i + 1
    elseif c == OPEN then
      local j, negated, ranges = i + 1, false, {}
      if chars[j] == BANG then
        negated, j = true, j + 1
      end
      -- A ']' right after the opening bracket belongs to the class.
      local first = j
      while j <= #chars and (chars[j] ~= CLOSE or j == first) do
        if chars[j + 1] == DASH and chars[j + 2] and chars[j + 2] ~= CLOSE then
          ranges[#ranges + 1], j = { chars[j], chars[j + 2] }, j + 3
        else
          ranges[#ranges + 1], j = { chars[j], chars[j] }, j + 1
        end
      end
      if j > #chars then
        return nil, "unclosed character class"
      end
      tokens[#tokens + 1], i = { ranges = ranges, negated = negated }, j + 1
    else
      tokens[#tokens + 1], i = c, i + 1
    end
  end
  return tokens
end

local function token_matches(token, c)
  if token == ANY then
    return true
  elseif type(token) == "number" then
    return token == c
  end
  for _, range in ipairs(token.ranges) do
    if c >= range[1] and c <= range[2] then
      return not token.negated
    end
  end
  return token.negated
end

-- Wildcard matching that backtracks only to the last star, so it stays linear per star.
local function component_matches(tokens, name)
  local chars = characters(name)
  local t, n, star_t, star_n = 1, 1, nil, nil
  while n <= #chars do
    local token = tokens[t]
    if token == STAR_TOKEN then
      star_t, star_n, t = t, n, t + 1
    elseif token and token_matches(token, chars[n]) then
      t, n = t + 1, n + 1
    elseif star_t then
      star_n = star_n + 1
      t, n = star_t + 1, star_n
    else
      return false
    end
  end
  while tokens[t] == STAR_TOKEN do
    t = t + 1
  end
  return t > #tokens
end

-- Every existing path matching the absolute pattern, or nil, reason.
local function expand(pattern)
  local steps = {}
  for part in pattern:gmatch("[^/]+") do
    local tokens, problem = nil, nil
    if part ~= "**" and part:find("[%?%*%[]") then
      tokens, problem = compile_component(part)
      if not tokens then
        return nil, problem
      end
    elseif part:find("**", 1, true) and part ~= "**" then
      return nil, "`**` must be a whole path component"
    end
    steps[#steps + 1] = { text = part, tokens = tokens }
  end
  local matches = {}
  local function walk(base, index)
    local step = steps[index]
    if not step then
      matches[#matches + 1] = base
    elseif step.text == "**" then
      walk(base, index + 1)
      for _, name in ipairs(fs.list(base) or {}) do
        local child = join(base, name)
        -- Links are not followed, so a cycle of directory links cannot recurse forever.
        local st = fs.lstat(child)
        if st and st.type == "directory" then
          walk(child, index)
        end
      end
    elseif step.tokens then
      for _, name in ipairs(fs.list(base) or {}) do
        if component_matches(step.tokens, name) then
          walk(join(base, name), index + 1)
        end
      end
    else
      local child = join(base, step.text)
      local special = step.text == "." or step.text == ".."
      if (special and is_dir(base)) or (not special and exists(child)) then
        walk(child, index + 1)
      end
    end
  end
  walk("/", 1)
  return matches
end

return { expand = expand, compile_component = compile_component, component_matches = component_matches }
