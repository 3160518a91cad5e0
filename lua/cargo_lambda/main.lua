-- Entry point: the host calls the returned function with argv (arg[0] is the program name)
-- and exits with the status it returns.
local cli = require("cargo_lambda.cli")

return function(argv)
  return cli.run(argv)
end
