-- Where the emulator listens (lambda.emulator.listen): localhost is 127.0.0.1 and ::1 on one port,
-- ::1 left out without a word when the machine has no IPv6, any other address one server. The
-- event module is a stand-in that records what was asked and fails as told.
local t = require("testing")
local watch = require("lambda.emulator")

-- fails: address -> message for http_server to return instead of a server.
local function fake_event(fails)
  local event = { asked = {}, closed = {} }
  function event.http_server(settings)
    event.asked[#event.asked + 1] = settings.address .. " " .. settings.port
    if fails[settings.address] then
      return nil, fails[settings.address]
    end
    local port = settings.port
    return {
      address = function()
        return settings.address
      end,
      port = function()
        return port
      end,
      close = function()
        event.closed[#event.closed + 1] = settings.address
      end,
      handler = settings.handler,
    }
  end
  return event
end

local handler = function() end

t.case("localhost is both loopbacks on one port, one handler", function()
  local event = fake_event({})
  local servers = assert(watch.listen(event, { handler = handler }, "localhost", 9000))
  t.eq(#servers, 2)
  t.eq({ servers[1]:address(), servers[2]:address() }, { "127.0.0.1", "::1" })
  t.eq(event.asked, { "127.0.0.1 9000", "::1 9000" })
  t.eq(servers[1].handler == handler and servers[2].handler == handler, true, "same handler")
end)

t.case("without IPv6, 127.0.0.1 alone and no error", function()
  for _, reason in ipairs({ "Cannot assign requested address",
    "Address family not supported by protocol" }) do
    local event = fake_event({ ["::1"] = "cannot listen on [::1]:9000: " .. reason })
    local servers, problem = watch.listen(event, { handler = handler }, "localhost", 9000)
    t.eq(problem, nil, reason)
    t.eq(#servers, 1)
    t.eq(servers[1]:address(), "127.0.0.1")
    t.eq(event.closed, {})
  end
end)

t.case("::1 taken by another program is an error, and 127.0.0.1 is released", function()
  local message = "cannot listen on [::1]:9000: Address already in use"
  local event = fake_event({ ["::1"] = message })
  local servers, problem = watch.listen(event, { handler = handler }, "localhost", 9000)
  t.eq(servers, nil)
  t.eq(problem, message)
  t.eq(event.closed, { "127.0.0.1" })
end)

t.case("127.0.0.1 taken is an error before ::1 is tried", function()
  local message = "cannot listen on 127.0.0.1:9000: Address already in use"
  local event = fake_event({ ["127.0.0.1"] = message })
  local servers, problem = watch.listen(event, { handler = handler }, "localhost", 9000)
  t.eq({ servers, problem }, { nil, message })
  t.eq(event.asked, { "127.0.0.1 9000" })
end)

t.case("any other address is one server there", function()
  for _, address in ipairs({ "::", "0.0.0.0", "::1", "127.0.0.2" }) do
    local event = fake_event({})
    local servers = assert(watch.listen(event, { handler = handler }, address, 9001))
    t.eq(#servers, 1)
    t.eq(event.asked, { address .. " 9001" })
  end
end)

return t.run()
