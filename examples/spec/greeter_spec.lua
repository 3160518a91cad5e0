-- A scenario for the greeter function (examples/functions/greeter.lua): the same specs run
-- against the emulator, started here for this file, and against the deployed function.
-- Run: cargo-lambda test examples/spec
--      cargo-lambda test examples/spec --remote --alias live --region eu-west-1
--      cargo-lambda test examples/spec -o junit > greeter.xml        (for CI)
local lambda = require("lambda")

-- The folder of this file, so that the spec runs from anywhere.
local here = debug.getinfo(1, "S").source:match("^@(.*)/[^/]*$") or "."

-- Locally: the emulator running the Lua function. With --remote (or --invoke-port): nothing
-- starts, and lambda.invoke goes where the command line says.
local fixture = lambda.test.fixture({
  command = { lambda.executable, "run", here .. "/../functions/greeter.lua" },
})

describe("greeter", function()
  it("greets the event's name", function()
    local result = lambda.invoke({ name = "greeter", payload = { name = "Ada" } })
    assert.invoked(result)
    assert.are.equal("Hello, Ada", result:json().message)
  end)

  it("refuses an event without a name, as a function error", function()
    local result = lambda.invoke({ name = "greeter", payload = { nom = "Ada" } })
    assert.function_error(result)
    assert.matches("the event needs a name", result.error.message, 1, true)
  end)

  it("answers within a second", function()
    assert.faster_than(1, lambda.invoke({ name = "greeter", payload = { name = "Grace" } }))
  end)

  it("holds 20 invocations at once", function()
    local requests = {}
    for i = 1, 20 do
      requests[i] = { name = "greeter", payload = { name = "caller " .. i } }
    end
    local results = assert(fixture.client:invoke_all(requests, { concurrency = 8 }))
    for i, result in ipairs(results) do
      assert.invoked(result)
      assert.json_equal({ message = "Hello, caller " .. i, alias = result:json().alias }, result)
    end
  end)

  describe("through an alias", function()
    -- Locally any alias can be invoked; the greeter answers "Hi" through v2.
    it("v2 says hi #local", function()
      if fixture.remote then
        pending("the deployed function's aliases are its own")
        return
      end
      local result = lambda.invoke({ name = "greeter", qualifier = "v2", payload = { name = "Ada" } })
      assert.json_equal({ alias = "v2", message = "Hi, Ada" }, result)
    end)
  end)
end)
