-- Test driver for lambda.event child processes as the whole program sees them:
-- `cargo-lambda run event_children.lua MODE`. It prints `PIDS <pid> <pid>` once its children
-- run, then, by MODE:
--   exit     calls os.exit(0) at once, without closing the Lua state (atexit cleanup)
--   return   returns from the script (the state is closed: the loop's finalizer cleans up)
--   wait     keeps running until killed from outside
--   signal   on SIGTERM or SIGINT ends its children with kill_all, waits for them, prints
--            `EXITED <signal> <signal>`, and returns once nothing is left
--   inherit  runs `echo` with the standard output inherited and prints `EXIT <code>`
local event = require("lambda.event")

local mode = assert(arg[1], "usage: event_children.lua MODE")

if mode == "inherit" then
  assert(event.spawn({
    argv = { "echo", "straight to stdout" },
    on_exit = function(code)
      io.stdout:write("EXIT ", code, "\n")
    end,
  }))
  event.run()
  return
end

local exits = {}
local children = {}
local function started()
  io.stdout:write("PIDS ", children[1]:pid(), " ", children[2]:pid(), "\n")
  io.stdout:flush()
end

-- One child ignores SIGTERM, so that ending it takes SIGKILL.
children[1] = assert(event.spawn({
  argv = { "/bin/sh", "-c", "trap '' TERM; echo ready; while :; do sleep 1; done" },
  on_stdout = function(line)
    if line == "ready" then -- its trap is set
      started()
      if mode == "exit" then
        os.exit(0)
      elseif mode == "return" then
        event.stop()
      end
    end
  end,
  on_exit = function(_, signal)
    exits[#exits + 1] = signal
  end,
}))
children[2] = assert(event.spawn({
  argv = { "sleep", "60" },
  on_exit = function(_, signal)
    exits[#exits + 1] = signal
  end,
}))

if mode == "signal" then
  local handlers = {}
  local function shut_down(name)
    for _, handler in ipairs(handlers) do
      handler:cancel()
    end
    event.kill_all("TERM")
    -- The child that ignores TERM gets KILL after a moment.
    event.timer(0.2, function()
      event.kill_all("KILL")
    end)
    io.stdout:write("GOT ", name, "\n")
  end
  handlers[1] = event.on_signal("TERM", shut_down)
  handlers[2] = event.on_signal("INT", shut_down)
end

event.run()
if mode == "signal" then
  table.sort(exits)
  io.stdout:write("EXITED ", table.concat(exits, " "), "\n")
end
