-- lambda.event's subreaper: a process that leaves its parent (setsid, double fork) is adopted
-- by this process, listed by event.adopted(), ended by event.kill_adopted() and reaped once
-- it has exited; children of event.spawn and of io.popen are never taken for adopted ones.
local t = require("testing")
local event = require("lambda.event")
local time = require("lambda.time")

local function exists(pid)
  local stat = io.open("/proc/" .. pid .. "/stat")
  if stat then
    stat:close()
  end
  return stat ~= nil
end

local function contains(list, value)
  for _, item in ipairs(list) do
    if item == value then
      return true
    end
  end
  return false
end

-- Runs the loop until done() holds (checked every 10 ms) or `seconds` have passed.
local function run_until(done, seconds)
  local deadline = time.monotonic() + seconds
  local poll = event.every(0.01, function()
    if done() or time.monotonic() > deadline then
      event.stop()
    end
  end)
  event.run()
  poll:cancel()
  return done()
end

-- Starts `sh -c` with a background command that leaves with setsid and prints its own pid,
-- and waits for sh to exit: the background process has lost its parent.
local function start_escaping(command)
  local pid, exited
  local process = assert(event.spawn({
    argv = { "/bin/sh", "-c", "setsid sh -c 'echo $$; exec " .. command
      .. " >/dev/null 2>&1' </dev/null &" },
    on_stdout = function(line)
      pid = math.tointeger(tonumber(line))
    end,
    on_exit = function()
      exited = true
    end,
  }))
  t.eq(run_until(function()
    return exited and pid ~= nil
  end, 5), true, "sh printed the pid and exited")
  return pid, process
end

t.case("an escaped process is adopted, killed on demand and reaped", function()
  t.eq(event.subreaper(), true)
  local pid = start_escaping("sleep 300")
  t.eq(run_until(function()
    return contains(event.adopted(), pid)
  end, 5), true, "adopted() lists the escaped sleep " .. pid)
  t.eq(event.kill_adopted("KILL") >= 1, true, "kill_adopted signalled it")
  -- Killed, then reaped here: not even a zombie is left.
  t.eq(run_until(function()
    return not exists(pid)
  end, 5), true, "the killed process is gone, zombie included")
  t.eq(contains(event.adopted(), pid), false)
end)

t.case("an environment entry picks the processes one owner left", function()
  local function start_tagged(tag)
    local pid, exited
    assert(event.spawn({
      argv = { "/bin/sh", "-c", "setsid sh -c 'echo $$; exec sleep 300 >/dev/null 2>&1' </dev/null &" },
      env = { PATH = os.getenv("PATH"), OWNER = tag },
      on_stdout = function(line)
        pid = math.tointeger(tonumber(line))
      end,
      on_exit = function()
        exited = true
      end,
    }))
    run_until(function()
      return exited and pid ~= nil and contains(event.adopted(), pid)
    end, 5)
    return pid
  end
  local mine, theirs = start_tagged("mine"), start_tagged("theirs")
  t.eq(event.adopted("OWNER=mine"), { mine })
  t.eq(event.adopted("OWNER=min"), {}, "the whole entry, not a prefix")
  t.eq(event.kill_adopted("KILL", "OWNER=mine"), 1)
  t.eq(run_until(function()
    return not exists(mine)
  end, 5), true, "the selected one is gone")
  t.eq(contains(event.adopted(), theirs), true, "the other one is left alone")
  t.eq(event.kill_adopted("KILL"), 1)
  run_until(function()
    return not exists(theirs)
  end, 5)
end)

t.case("one that exits by itself is reaped, not left a zombie", function()
  local pid = start_escaping("sleep 0.2")
  t.eq(run_until(function()
    return not exists(pid)
  end, 5), true, "the exited process was reaped")
end)

t.case("spawned and popen children are not adopted ones", function()
  local spawned = assert(event.spawn({ argv = { "sleep", "30" } }))
  local popen = assert(io.popen("exec sleep 30", "r"))
  time.sleep(0.1)
  local adopted = event.adopted()
  t.eq(contains(adopted, spawned:pid()), false, "the spawned child")
  t.eq(#adopted, 0, "nothing else: " .. t.show(adopted))
  t.eq(event.kill_adopted("KILL"), 0)
  -- Both end; the loop then runs the SIGCHLD handlers, and popen's child must still be there
  -- for pclose to wait for: the reaper did not take it.
  spawned:kill("KILL")
  local own_pid = io.open("/proc/self/stat"):read("n")
  os.execute("pkill -KILL -P " .. own_pid .. " -x sleep")
  t.eq(run_until(function()
    return not spawned:running()
  end, 5), true, "the spawned child ended")
  run_until(function()
    return false
  end, 0.2)
  local _, how, code = popen:close()
  t.eq({ how, code }, { "signal", 9 }, "pclose saw its child killed")
end)

t.case("bad arguments raise", function()
  t.matches(tostring(t.raises(event.kill_adopted, "NOPE")), "unknown signal")
end)

return t.run()
