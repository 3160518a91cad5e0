-- credential_process: a command that prints credentials as JSON (Version 1). It runs through
-- the shell, as the AWS CLI runs it on POSIX; its standard error goes to a temporary file so
-- that a failure can be explained with it.
local json = require("lambda.json")
local keys = require("lambda.aws.keys")

local M = {}

-- Enough of the command's standard error to explain a failure, on one line.
M.MAX_STDERR = 400

local function shell_quote(text)
  return "'" .. text:gsub("'", "'\\''") .. "'"
end

local function read_and_remove(path)
  local file = io.open(path, "rb")
  local content = file and file:read("a") or ""
  if file then
    file:close()
  end
  os.remove(path)
  return content
end

local function one_line(text)
  text = text:gsub("%s+", " "):match("^%s*(.-)%s*$")
  if #text > M.MAX_STDERR then
    text = text:sub(1, M.MAX_STDERR) .. "..."
  end
  return text
end

-- Runs `command`; returns stdout, or nil, message.
local function run(command, describe)
  local stderr_path = os.tmpname()
  -- The command is a group of its own, closed on a new line, so that a trailing comment or
  -- "&" in it cannot swallow the redirection.
  local pipe, message = io.popen("{ " .. command .. "\n} 2>" .. shell_quote(stderr_path), "r")
  if not pipe then
    os.remove(stderr_path)
    return nil, string.format("%s: cannot run it: %s", describe, message)
  end
  local output = pipe:read("a")
  local ok, how, code = pipe:close()
  local stderr = one_line(read_and_remove(stderr_path))
  if not ok then
    local status = how == "signal" and ("was killed by signal " .. tostring(code))
      or ("exited with status " .. tostring(code))
    return nil, string.format("%s %s%s", describe, status,
      stderr ~= "" and (": " .. stderr) or " (nothing on standard error)")
  end
  return output
end

-- Returns credentials (source "process") or nil, message.
function M.load(name, profile)
  local command = profile.credential_process
  local describe = string.format("credential_process of profile '%s'", name)
  if type(command) ~= "string" or command:match("^%s*$") then
    return nil, describe .. " is empty"
  end
  local output, problem = run(command, describe)
  if not output then
    return nil, problem
  end
  local document, decode_problem = json.decode(output)
  if type(document) ~= "table" then
    return nil, string.format("%s did not print a JSON object%s", describe,
      decode_problem and (": " .. decode_problem) or "")
  end
  if document.Version ~= 1 then
    return nil, string.format("%s printed Version %s; only Version 1 is understood", describe,
      type(document.Version) == "number" and tostring(document.Version) or "missing")
  end
  return keys.from_document(document, keys.PROCESS_FIELDS, "process", describe)
end

return M
