-- lambda.fs: stat/lstat, sorted listings, cwd, realpath and binary-safe whole-file reads,
-- checked against files this test creates in a fresh temporary directory.
local fs = require("lambda.fs")

local function shell_quote(text)
  return "'" .. text:gsub("'", "'\\''") .. "'"
end

local function run(command)
  local ok = os.execute(command)
  assert(ok, "command failed: " .. command)
end

local function write(path, contents)
  local file = assert(io.open(path, "wb"))
  file:write(contents)
  file:close()
end

local function show(value)
  if type(value) ~= "table" then
    return string.format("%q", value)
  end
  local parts = {}
  for i, item in ipairs(value) do
    parts[i] = show(item)
  end
  return "{" .. table.concat(parts, ", ") .. "}"
end

local function check_list(actual, expected, what)
  assert(type(actual) == "table", what .. ": expected a list, got " .. show(actual))
  local same = #actual == #expected
  for i = 1, #expected do
    same = same and actual[i] == expected[i]
  end
  assert(same, string.format("%s: expected %s, got %s", what, show(expected), show(actual)))
end

local function check_failure(what, expected_message, value, message, errno)
  assert(value == nil, what .. ": expected nil, got " .. show(value))
  assert(message == expected_message,
    string.format("%s: expected message %q, got %q", what, expected_message, tostring(message)))
  assert(math.type(errno) == "integer", what .. ": expected an errno, got " .. tostring(errno))
end

local pipe = assert(io.popen("mktemp -d"))
local made = pipe:read("l")
pipe:close()
assert(made and made ~= "", "mktemp -d gave no directory")
local root = assert(fs.realpath(made))

local ok, failure = pcall(function()
  -- read: exact bytes, including NULs and every byte value, across the read chunk size.
  local all_bytes = {}
  for byte = 0, 255 do
    all_bytes[#all_bytes + 1] = string.char(byte)
  end
  local binary = table.concat(all_bytes) .. "\0\r\n\0"
  write(root .. "/binary", binary)
  assert(fs.read(root .. "/binary") == binary, "read: binary contents differ")
  local large = string.rep("0123456789abcdef", 20000) .. "tail"
  write(root .. "/large", large)
  local got = fs.read(root .. "/large")
  assert(got == large, "read: large file differs (got " .. #tostring(got) .. " bytes)")
  write(root .. "/empty", "")
  assert(fs.read(root .. "/empty") == "", "read: empty file should give an empty string")

  check_failure("read missing", root .. "/missing: No such file or directory",
    fs.read(root .. "/missing"))
  check_failure("read directory", root .. ": Is a directory", fs.read(root))
  run("mkfifo " .. shell_quote(root .. "/fifo"))
  -- Must answer at once instead of waiting for a writer.
  check_failure("read fifo", root .. "/fifo: not a regular file", fs.read(root .. "/fifo"))

  -- stat and lstat.
  write(root .. "/file", "12345")
  run("chmod 640 " .. shell_quote(root .. "/file"))
  run("touch -m -d @1000000000 " .. shell_quote(root .. "/file"))
  local st = fs.stat(root .. "/file")
  assert(st, "stat file failed")
  assert(st.type == "file", "stat file: type " .. tostring(st.type))
  assert(st.size == 5, "stat file: size " .. tostring(st.size))
  assert(st.mode == 416, string.format("stat file: mode %o, expected 640", st.mode))
  assert(st.mtime == 1000000000, "stat file: mtime " .. tostring(st.mtime))
  assert(fs.stat(root).type == "directory", "stat directory")
  assert(fs.stat("/dev/null").type == "other", "stat character device")
  check_failure("stat missing", root .. "/missing: No such file or directory",
    fs.stat(root .. "/missing"))

  run("ln -s file " .. shell_quote(root .. "/link"))
  run("ln -s nowhere " .. shell_quote(root .. "/dangling"))
  assert(fs.stat(root .. "/link").type == "file", "stat follows links")
  assert(fs.stat(root .. "/link").size == 5, "stat of a link gives the target's size")
  assert(fs.lstat(root .. "/link").type == "link", "lstat does not follow links")
  assert(fs.lstat(root .. "/file").type == "file", "lstat of a plain file")
  check_failure("stat dangling link", root .. "/dangling: No such file or directory",
    fs.stat(root .. "/dangling"))
  assert(fs.lstat(root .. "/dangling").type == "link", "lstat of a dangling link")
  assert(fs.read(root .. "/link") == "12345", "read follows links")

  -- list: bytewise order (not the locale's), no "." or "..", hidden entries included.
  run("mkdir " .. shell_quote(root .. "/listing"))
  for _, name in ipairs({ "b", "a", "B", ".hidden", "\195\169", "10", "9", "_" }) do
    write(root .. "/listing/" .. name, "")
  end
  run("mkdir " .. shell_quote(root .. "/listing/dir"))
  check_list(fs.list(root .. "/listing"),
    { ".hidden", "10", "9", "B", "_", "a", "b", "dir", "\195\169" }, "list")
  run("mkdir " .. shell_quote(root .. "/nothing"))
  check_list(fs.list(root .. "/nothing"), {}, "list of an empty directory")
  check_failure("list a file", root .. "/file: Not a directory", fs.list(root .. "/file"))
  check_failure("list missing", root .. "/missing: No such file or directory",
    fs.list(root .. "/missing"))

  run("mkdir " .. shell_quote(root .. "/many"))
  local expected = {}
  for i = 1, 500 do
    local name = string.format("f%04d", i)
    expected[i] = name
    write(root .. "/many/" .. name, "")
  end
  check_list(fs.list(root .. "/many"), expected, "list of 500 entries")

  -- realpath and cwd.
  run("mkdir " .. shell_quote(root .. "/sub"))
  assert(fs.realpath(root .. "/sub/../file") == root .. "/file", "realpath resolves ..")
  assert(fs.realpath(root .. "/link") == root .. "/file", "realpath resolves links")
  assert(fs.realpath(root .. "//sub/.") == root .. "/sub", "realpath drops . and //")
  check_failure("realpath missing", root .. "/missing/x: No such file or directory",
    fs.realpath(root .. "/missing/x"))
  local cwd = fs.cwd()
  assert(cwd == fs.realpath("."), "cwd: " .. tostring(cwd) .. " is not realpath(.)")
  assert(cwd:sub(1, 1) == "/", "cwd is absolute")

  -- Wrong argument types are programming errors.
  for name, f in pairs({ stat = fs.stat, lstat = fs.lstat, list = fs.list, read = fs.read,
    realpath = fs.realpath }) do
    local raised, message = pcall(f)
    assert(not raised and message:find("bad argument #1", 1, true),
      name .. "() without a path: " .. tostring(message))
    raised, message = pcall(f, {})
    assert(not raised and message:find("string expected", 1, true),
      name .. "({}): " .. tostring(message))
    raised, message = pcall(f, root .. "/file\0x")
    assert(not raised and message:find("path contains a NUL byte", 1, true),
      name .. " with a NUL: " .. tostring(message))
  end
end)

os.execute("rm -rf " .. shell_quote(root))
if not ok then
  error(failure, 0)
end
print("lambda.fs: all checks passed")
