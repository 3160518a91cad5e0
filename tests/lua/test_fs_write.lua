-- lambda.fs.write_private: folders made 0700 (an existing one left as it is), the file 0600,
-- its content exact, a link at the path replaced and not written through, failures as
-- nil, message, kind, errno, and misuse raising. (Also what lambda.aws writes its caches with.)
local t = require("testing")
local fs = require("lambda.fs")

local function quote(text)
  return "'" .. text:gsub("'", "'\\''") .. "'"
end

local made = assert(io.popen("mktemp -d"):read("l"))
local root = assert(fs.realpath(made))

local function read(path)
  local file = assert(io.open(path, "rb"))
  local data = file:read("a")
  file:close()
  return data
end

t.case("a new file in new folders: 0600 and 0700, the bytes as given", function()
  local path = root .. "/a/b/c/file.json"
  local data = "{\"x\":1}\0\255\n"
  t.eq(fs.write_private(path, data), true)
  t.eq(read(path), data)
  t.eq(fs.stat(path).mode, tonumber("600", 8))
  for _, folder in ipairs({ root .. "/a", root .. "/a/b", root .. "/a/b/c" }) do
    t.eq(fs.stat(folder).mode, tonumber("700", 8), folder)
  end
  -- Replaced whole, and no temporary file left beside it.
  t.eq(fs.write_private(path, "second"), true)
  t.eq(read(path), "second")
  t.eq(fs.list(root .. "/a/b/c"), { "file.json" })
end)

t.case("an existing folder keeps its mode", function()
  local folder = root .. "/shared"
  assert(os.execute("mkdir -m 755 " .. quote(folder)))
  t.eq(fs.write_private(folder .. "/entry", "x"), true)
  t.eq(fs.stat(folder).mode, tonumber("755", 8))
  t.eq(fs.stat(folder .. "/entry").mode, tonumber("600", 8))
end)

t.case("a link at the path is replaced, its target untouched", function()
  local target = root .. "/target"
  local f = assert(io.open(target, "w"))
  f:write("keep")
  f:close()
  assert(os.execute("ln -s " .. quote(target) .. " " .. quote(root .. "/link")))
  t.eq(fs.write_private(root .. "/link", "new"), true)
  t.eq(read(target), "keep")
  t.eq(fs.lstat(root .. "/link").type, "file")
end)

t.case("failures: nil, message, kind[, errno]", function()
  local f = assert(io.open(root .. "/plain", "w"))
  f:close()
  local none, message, kind, errno = fs.write_private(root .. "/plain/inside/file", "x")
  t.eq({ none, kind, type(errno) }, { nil, "not_found", "number" }) -- ENOTDIR
  t.matches(message, "^cannot create " .. root:gsub("%p", "%%%0") .. "/plain: Not a directory$")
  none, message, kind = fs.write_private("relative/file", "x")
  t.eq({ none, kind }, { nil, "input" })
  t.matches(message, "not an absolute path")
  none, message, kind = fs.write_private(root .. "/", "x")
  t.eq({ none, kind }, { nil, "input" })
end)

t.case("misuse raises", function()
  t.matches(tostring(t.raises(fs.write_private, root .. "/x")), "bad argument #2")
  t.matches(tostring(t.raises(fs.write_private, nil, "x")), "bad argument #1")
end)

local status = t.run()
os.execute("rm -rf " .. quote(root))
return status
