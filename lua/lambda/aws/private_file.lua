-- Internal to lambda.aws (not part of the public API; see docs/scripting.md).
-- Writing the files the AWS tools share (cached role credentials, refreshed SSO tokens):
-- never readable by others, never seen half-written. lambda.fs.write_private does it: missing
-- folders made with mode 0700 (one that exists is left as the AWS CLI made it), the data in a
-- new file of mode 0600 beside the target, which then replaces it with a rename.
local M = {}

-- Returns true or nil, message.
function M.write(path, data)
  local written, message = require("lambda.fs").write_private(path, data)
  if not written then
    return nil, message
  end
  return true
end

return M
