-- Internal to lambda.emulator (not part of the public API; see docs/scripting.md).
-- The emulator's limits, AWS Lambda's own (README.md, "Limits", lists them): what an invoker
-- may send, what a function may answer, how many instances may live and how long one may take
-- to start.
local M = {}

-- Invoke request payloads: RequestResponse (and the streaming route, and function URLs), and
-- Event. AWS answers 413 RequestEntityTooLargeException over them.
M.REQUEST_BYTES = 6291456 -- 6 MiB
M.EVENT_REQUEST_BYTES = 1048576 -- 1 MiB (it was 256 KiB)
-- A function's buffered answer (and its /error): AWS's 6 MiB + 100 bytes. Over it the
-- invocation fails with Function.ResponseSizeTooLarge and the runtime's POST gets 413.
M.RESPONSE_BYTES = 6291556
-- A streamed answer to a streaming invoker (InvokeWithResponseStream, function URLs): 200 MiB,
-- AWS's documented limit (20 MiB before).
M.STREAMED_RESPONSE_BYTES = 200 * 1024 * 1024
-- Everything else the main port or a Runtime API server reads (a /next has no body).
M.OTHER_BYTES = 6291456

-- Seconds a new instance has to ask for its first invocation (AWS's Init phase limit).
M.INIT_TIMEOUT = 10
-- Live function instances across all functions (--max-instances).
M.MAX_INSTANCES = 64
-- The longest --timeout and --init-timeout: the original's --timeout is a u32 of seconds.
-- Longer ones would overflow the deadline the Runtime API hands out (epoch milliseconds).
M.MAX_SECONDS = 4294967295

return M
