local M = {}
function M.run(argv) print("hello") return 0 end
return M
