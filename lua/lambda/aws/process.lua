-- Internal to lambda.aws (not part of the public API; see docs/scripting.md).
-- credential_process: a command that prints credentials as JSON (Version 1). It runs through
-- `/bin/sh -c`, as the AWS CLI runs it on POSIX, as a child of lambda.event (event.spawn) in a
-- process group of its own, with standard input from /dev/null and both outputs captured.
--
-- It gets no terminal: standard input may be the payload (`invoke --data-file -`), and a
-- process group that is not the terminal's foreground group is stopped (SIGTTIN, SIGTTOU) the
-- moment it reads the terminal, which would look like a hang until the time limit. The shell
-- ignores both signals before it runs the command, so a command that tries to prompt on
-- /dev/tty fails at once (EIO) and its message is reported.
--
-- Every run has a time limit: the caller's timeout, else DEFAULT_TIMEOUT. When it
-- expires, or when the command prints more than MAX_STDOUT bytes, its whole process group is
-- killed (SIGKILL) and the look-up fails naming the profile. Standard error is kept up to
-- MAX_STDERR_KEPT bytes (the rest is read and dropped) to explain a failure.
--
-- The wait is lambda.task's: in a task the other tasks run meanwhile; from a plain script it
-- runs the loop until the command has ended; in a callback of a loop the script runs itself
-- it cannot wait and fails saying so (resolve credentials from a task instead).
local json = require("lambda.json")
local keys = require("lambda.aws.keys")

local M = {}

M.DEFAULT_TIMEOUT = 60
-- The AWS SDK for Go reads at most 64 KiB of a credential process's output; so do we.
M.MAX_STDOUT = 64 * 1024
M.MAX_STDERR_KEPT = 4096
-- Enough of the command's standard error to explain a failure, on one line.
M.MAX_STDERR = 400
-- How long to wait for the exit of a killed process group before giving up on it.
local KILL_GRACE = 2

local function one_line(text)
  text = text:gsub("%s+", " "):match("^%s*(.-)%s*$")
  if #text > M.MAX_STDERR then
    text = text:sub(1, M.MAX_STDERR) .. "..."
  end
  return text
end

-- Runs command with a time limit; returns {stdout, stderr, code, signal, timed_out,
-- overflowed} once it has ended, or nil, message. The wait is lambda.task's: in a task it lets
-- the others run; elsewhere it runs the loop until the command has ended.
local function run_bounded(command, timeout)
  local task = require("lambda.task")
  if not task.can_wait() then
    return nil, task.CANNOT_WAIT -- and nothing was started
  end
  local event = require("lambda.event")
  local stdout, stdout_size = {}, 0
  local stderr, stderr_size = {}, 0
  local outcome = {}
  local ended, resume
  local child, timer, grace

  local function finish()
    if ended then
      return
    end
    ended = true
    if timer then
      timer:cancel()
    end
    if grace then
      grace:cancel()
    end
    if resume then
      resume()
    end
  end

  local function kill_group()
    child:kill("KILL") -- kill_group: the signal goes to the whole process group
    if timer then
      timer:cancel()
      timer = nil
    end
    -- A group that does not go within the grace is given up on (it was sent SIGKILL).
    grace = event.timer(KILL_GRACE, finish)
  end

  local spawn_error
  child, spawn_error = event.spawn({
    argv = { "/bin/sh", "-c", "trap '' TTIN TTOU\n" .. command },
    kill_group = true,
    on_stdout = function(line)
      if outcome.overflowed or ended then
        return
      end
      stdout_size = stdout_size + #line + 1
      if stdout_size > M.MAX_STDOUT then
        outcome.overflowed = true
        kill_group()
        return
      end
      stdout[#stdout + 1] = line
    end,
    on_stderr = function(line)
      if stderr_size < M.MAX_STDERR_KEPT then
        stderr[#stderr + 1] = line:sub(1, M.MAX_STDERR_KEPT - stderr_size)
        stderr_size = stderr_size + #line + 1
      end
    end,
    on_exit = function(code, signal)
      outcome.code, outcome.signal = code, signal
      finish()
    end,
  })
  if not child then
    return nil, string.format("cannot run it: %s", tostring(spawn_error))
  end
  timer = event.timer(timeout, function()
    timer = nil
    outcome.timed_out = true
    kill_group()
  end)
  local ok, problem = pcall(task.await, {
    await = function(_, resume_task)
      if ended then
        event.timer(0, resume_task)
      else
        resume = resume_task
      end
    end,
  })
  if not ok then
    child:kill("KILL")
    finish()
    return nil, tostring(problem)
  end
  outcome.stdout = table.concat(stdout, "\n")
  outcome.stderr = table.concat(stderr, "\n")
  return outcome
end

-- Runs `command`; returns stdout, or nil, message, kind[, field].
local function run(command, describe, timeout)
  local outcome, problem = run_bounded(command, timeout)
  if not outcome then
    return nil, string.format("%s: %s", describe, problem), "input"
  end
  if outcome.timed_out then
    return nil, string.format("timeout: %s timed out after %g s (default %d s); its process "
      .. "group was killed", describe, timeout, M.DEFAULT_TIMEOUT), "timeout", "timeout"
  end
  if outcome.overflowed then
    return nil, string.format("%s printed more than %d bytes; its process group was killed",
      describe, M.MAX_STDOUT), "too_large"
  end
  if outcome.code ~= 0 then
    local stderr = one_line(outcome.stderr)
    local status = outcome.code and ("exited with status " .. tostring(outcome.code))
      or ("was killed by signal " .. tostring(outcome.signal))
    return nil, string.format("%s %s%s", describe, status,
      stderr ~= "" and (": " .. stderr) or " (nothing on standard error)"), "input"
  end
  return outcome.stdout
end

-- Returns credentials (source "process") or nil, message, kind[, field]. timeout: seconds
-- (nil: DEFAULT_TIMEOUT).
function M.load(name, profile, timeout)
  local command = profile.credential_process
  local describe = string.format("credential_process of profile '%s'", name)
  if type(command) ~= "string" or command:match("^%s*$") then
    return nil, describe .. " is empty", "input"
  end
  local output, problem, kind, field = run(command, describe, timeout or M.DEFAULT_TIMEOUT)
  if not output then
    return nil, problem, kind, field
  end
  local document, decode_problem = json.decode(output)
  if type(document) ~= "table" then
    return nil, string.format("%s did not print a JSON object%s", describe,
      decode_problem and (": " .. decode_problem) or ""), "input"
  end
  if document.Version ~= 1 then
    return nil, string.format("%s printed Version %s; only Version 1 is understood", describe,
      type(document.Version) == "number" and tostring(document.Version) or "missing"), "input"
  end
  local credentials
  credentials, problem = keys.from_document(document, keys.PROCESS_FIELDS, "process", describe)
  if not credentials then
    return nil, problem, "input"
  end
  return credentials
end

return M
