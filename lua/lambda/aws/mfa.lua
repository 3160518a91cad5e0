-- Internal to lambda.aws (not part of the public API; see docs/scripting.md).
-- The MFA code of an assume-role profile with mfa_serial: the one given (the mfa_token field;
-- it is good for one AssumeRole call), else typed on the terminal, asked for as the AWS CLI
-- asks ("Enter MFA code for <serial>: ", on /dev/tty). Without a controlling terminal, a code
-- that was not given is an error naming the profile. The answer is waited for at most
-- `timeout` seconds (the settings' timeout, else DEFAULT_TIMEOUT).
--
-- The read runs in /bin/sh (io.popen): Lua's io has no read with a time limit, and a child of
-- lambda.event leads a process group of its own, which the terminal would stop (SIGTTIN) as
-- soon as it reads. The shell stays in this process's group, as the AWS CLI's prompt does; a
-- watcher ends it when the time is up. The loop does not run meanwhile (a person is typing).
local M = {}

M.DEFAULT_TIMEOUT = 60
M.PATTERN = "^%d%d%d%d%d%d$"

local function check(code, origin)
  if not code:match(M.PATTERN) then
    return nil, string.format("%s: the MFA code must be six digits", origin), "input",
      origin == "mfa_token" and "mfa_token" or nil
  end
  return code
end

-- The shell reads one line from the terminal within the time limit, and prints it; exit 3:
-- no terminal, killed by SIGTERM: time is up.
local READ_LINE = [[
exec </dev/tty 2>/dev/null || exit 3
( sleep "$1" & sleeper=$!
  trap 'kill $sleeper 2>/dev/null; exit 0' TERM
  wait $sleeper && kill -s TERM $$ ) >/dev/null 2>&1 &
watcher=$!
IFS= read -r code
status=$?
kill -s TERM $watcher 2>/dev/null
[ $status -eq 0 ] || exit 4
printf '%s\n' "$code"
]]

local function ask(prompt, timeout)
  local terminal = io.open("/dev/tty", "w")
  if not terminal then
    return nil, "no terminal"
  end
  terminal:write(prompt)
  terminal:flush()
  local shell = io.popen(string.format("set -- %d\n%s", math.max(1, math.ceil(timeout)),
    READ_LINE), "r")
  local line, how, status
  if shell then
    line = shell:read("l")
    local _
    _, how, status = shell:close()
  end
  if not line then
    terminal:write("\n")
  end
  terminal:close()
  if line then
    return line
  end
  if how == "exit" and status == 3 then
    return nil, "no terminal"
  elseif how == "signal" then
    return nil, string.format("no code typed within %g s", timeout)
  end
  return nil, "the terminal was closed"
end

-- context: {mfa_token, mfa_used, timeout}. Returns the code or nil, message, kind, field.
function M.code(context, profile_name, serial)
  if context.mfa_token and not context.mfa_used then
    context.mfa_used = true
    return check(context.mfa_token, "mfa_token")
  end
  local timeout = context.timeout or M.DEFAULT_TIMEOUT
  local typed, problem = ask(string.format("Enter MFA code for %s: ", serial), timeout)
  if typed == nil and problem == "no terminal" then
    return nil, string.format("mfa_token: profile '%s' needs an MFA code (mfa_serial %s) and "
      .. "there is no terminal to ask for it", profile_name, serial), "input", "mfa_token"
  elseif typed == nil then
    -- The field is the way around the prompt.
    return nil, string.format("the MFA code for profile '%s' (mfa_serial %s): %s",
      profile_name, serial, problem), problem:match("^no code") and "timeout" or "input",
      "mfa_token"
  end
  return check(typed:match("^%s*(.-)%s*$"), string.format("the MFA code typed for profile '%s'",
    profile_name))
end

return M
