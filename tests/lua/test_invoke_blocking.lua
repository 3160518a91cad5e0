-- A script with no event loop (nothing has loaded lambda.event) invokes without creating one:
-- the request blocks, as a one-shot invoke from the command line does, and the result is the
-- same shape. Once the loop is in use, invocations outside tasks run on it.
local t = require("testing")
local lambda = require("lambda")

t.case("no loop: the invocation blocks and loads no loop", function()
  local client = assert(lambda.client({ address = "127.0.0.1", port = 1, tls = false }))
  local result = client:invoke("f", { payload = "{}" })
  t.eq(result.ok, false)
  t.eq(result.error.source, "transport")
  t.eq(result.error.detail, "refused")
  t.eq(package.loaded["lambda.event"], nil, "lambda.event was loaded")
  t.eq(package.loaded["lambda.task"], nil, "lambda.task was loaded")
end)

t.case("with the loop in use: an invocation outside a task runs on it", function()
  local event = require("lambda.event")
  local server = assert(event.http_server({ address = "127.0.0.1", port = 0,
    handler = function(request)
      request:respond(200, { ["Content-Type"] = "application/json" }, '{"n":1}')
    end }))
  local client = assert(lambda.client({ address = "127.0.0.1", port = server:port(), tls = false }))
  -- The server answers from the loop: a blocking call could never get its answer.
  local result = client:invoke("f", { payload = "{}" })
  t.eq(result.ok, true, tostring(result))
  t.eq(result:json(), { n = 1 })
  server:close()
end)

return t.run()
