-- Internal to lambda.aws (not part of the public API; see docs/scripting.md).
-- Writing the files the AWS tools share (cached role credentials, refreshed SSO tokens):
-- never readable by others, never seen half-written. Folders that are missing are created
-- with mode 0700 (one that exists is left as it is: the AWS CLI may have made it); the data
-- goes to a new file of mode 0600 in the same folder, which then replaces the old one with a
-- rename, so a reader finds the old content or the new, whole.
--
-- Lua's io cannot choose a file's mode, so the folder and the empty file are made by
-- /bin/sh with umask 077 (mkdir -p, mktemp): one short process per write, which only happens
-- after a round trip to AWS.
local M = {}

local function quote(text)
  return "'" .. text:gsub("'", "'\\''") .. "'"
end

-- Returns true or nil, message.
function M.write(path, data)
  local folder = path:match("^(.*)/[^/]+$")
  if not folder or folder == "" then
    return nil, "cannot write " .. path .. ": not an absolute path"
  end
  local command = string.format("umask 077 && mkdir -p -- %s && mktemp %s 2>&1",
    quote(folder), quote(folder .. "/.cargo-lambda-XXXXXX"))
  local shell = io.popen(command, "r")
  if not shell then
    return nil, "cannot write " .. path .. ": cannot run /bin/sh"
  end
  local output = shell:read("a") or ""
  local ok = shell:close()
  local temporary = output:match("^([^\n]+)\n?$")
  if not ok or not temporary or temporary:sub(1, #folder + 1) ~= folder .. "/" then
    return nil, string.format("cannot write %s: %s", path,
      (output:gsub("%s+", " "):match("^%s*(.-)%s*$")))
  end
  local file, problem = io.open(temporary, "wb")
  if not file then
    os.remove(temporary)
    return nil, "cannot write " .. tostring(problem)
  end
  local written, write_problem = file:write(data)
  local closed, close_problem = file:close()
  if not written or not closed then
    os.remove(temporary)
    return nil, string.format("cannot write %s: %s", path, tostring(write_problem or close_problem))
  end
  local renamed, rename_problem = os.rename(temporary, path)
  if not renamed then
    os.remove(temporary)
    return nil, "cannot replace " .. tostring(rename_problem)
  end
  return true
end

return M
