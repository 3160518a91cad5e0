-- lambda.fs: stat/lstat, sorted listings, cwd, realpath and binary-safe whole-file reads (with
-- their limits: max_bytes, timeout, special files), checked against files this test creates
-- in a fresh temporary directory.
local fs = require("lambda.fs")
local time = require("lambda.time")

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

-- A failure of the file system: nil, message, "not_found" or "io", errno; or one of read's
-- own refusals: nil, message, "input".
local function check_failure(what, expected_message, value, message, kind, errno)
  assert(value == nil, what .. ": expected nil, got " .. show(value))
  assert(message == expected_message,
    string.format("%s: expected message %q, got %q", what, expected_message, tostring(message)))
  if kind == "input" then
    return
  end
  local missing = expected_message:find("No such file", 1, true)
    or expected_message:find("Not a directory", 1, true)
  assert(kind == (missing and "not_found" or "io"),
    what .. ": expected kind " .. (missing and "not_found" or "io") .. ", got " .. tostring(kind))
  assert(math.type(errno) == "integer", what .. ": expected an errno, got " .. tostring(errno))
end

-- A failure of read's own limits ("too_large", "timeout").
local function check_kind(what, expected_message, expected_kind, value, message, kind)
  assert(value == nil, what .. ": expected nil, got " .. show(value))
  assert(message == expected_message,
    string.format("%s: expected message %q, got %q", what, expected_message, tostring(message)))
  assert(kind == expected_kind,
    string.format("%s: expected kind %q, got %s", what, expected_kind, show(kind)))
end

-- Runs fn and returns its results and how long it took (seconds).
local function timed(fn, ...)
  local started = time.monotonic()
  local results = table.pack(fn(...))
  return time.monotonic() - started, table.unpack(results, 1, results.n)
end

-- Runs a shell command in the background (a writer for a FIFO), for 30 s at most: a writer
-- left waiting for a reader by a failed check must not outlive the test for long.
local function background(command)
  run("timeout 30 sh -c " .. shell_quote(command) .. " >/dev/null 2>&1 &")
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

  -- read with max_bytes: exactly the limit is fine, one byte more is refused.
  write(root .. "/ten", "0123456789")
  assert(fs.read(root .. "/ten", { max_bytes = 10 }) == "0123456789", "read at the limit")
  check_kind("read over the limit", root .. "/ten: larger than 9 bytes", "too_large",
    fs.read(root .. "/ten", { max_bytes = 9 }))
  check_kind("read with max_bytes 0", root .. "/ten: larger than 0 bytes", "too_large",
    fs.read(root .. "/ten", { max_bytes = 0 }))
  assert(fs.read(root .. "/empty", { max_bytes = 0 }) == "", "empty file at max_bytes 0")
  assert(fs.read(root .. "/large", { max_bytes = #large }) == large, "large file at the limit")
  -- A sparse 100 MB file: refused by its size, at once, without reading it.
  local sparse = assert(io.open(root .. "/sparse", "wb"))
  sparse:seek("set", 100 * 1024 * 1024 - 1)
  sparse:write("x")
  sparse:close()
  local elapsed, value, message, kind = timed(fs.read, root .. "/sparse", { max_bytes = 6291456 })
  check_kind("read sparse", root .. "/sparse: larger than 6291456 bytes", "too_large", value,
    message, kind)
  assert(elapsed < 1, "read sparse took " .. elapsed .. " s")

  -- Special files: refused by default, read with special = true, within max_bytes.
  check_failure("read /dev/zero", "/dev/zero: not a regular file", fs.read("/dev/zero"))
  assert(fs.read("/dev/null", { special = true }) == "", "read /dev/null")
  elapsed, value, message, kind = timed(fs.read, "/dev/zero", { special = true,
    max_bytes = 6291456 })
  check_kind("read /dev/zero", "/dev/zero: larger than 6291456 bytes", "too_large", value,
    message, kind)
  assert(elapsed < 5, "read /dev/zero took " .. elapsed .. " s")

  -- FIFOs, each case its own, with writers that end by themselves: no writer within the
  -- timeout, a writer that comes late, one that writes in pieces, one that writes slowly for
  -- longer than the timeout (which bounds the whole read), one that writes too much, and a
  -- late writer without a timeout (the read waits, like cat).
  local fifos = 0
  local function new_fifo()
    fifos = fifos + 1
    local path = root .. "/fifo" .. fifos
    run("mkfifo " .. shell_quote(path))
    return path
  end
  local fifo = new_fifo()
  elapsed, value, message, kind = timed(fs.read, fifo, { special = true, timeout = 0.3 })
  check_kind("read fifo without writer", fifo .. ": timed out after 0.3 s waiting for data",
    "timeout", value, message, kind)
  assert(elapsed >= 0.29 and elapsed < 3, "fifo timeout took " .. elapsed .. " s")
  fifo = new_fifo()
  background("sleep 0.2; printf late > " .. shell_quote(fifo))
  value, message = fs.read(fifo, { special = true, timeout = 20 })
  assert(value == "late", "read fifo with a late writer: " .. show(value) .. " " .. show(message))
  fifo = new_fifo()
  background("{ printf one; sleep 0.3; printf two; } > " .. shell_quote(fifo))
  value, message = fs.read(fifo, { special = true, timeout = 20 })
  assert(value == "onetwo", "read fifo in pieces: " .. show(value) .. " " .. show(message))
  fifo = new_fifo()
  background("for i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20; do printf x; "
    .. "sleep 0.1; done > " .. shell_quote(fifo))
  elapsed, value, message, kind = timed(fs.read, fifo, { special = true, timeout = 0.5 })
  check_kind("read a slow fifo", fifo .. ": timed out after 0.5 s waiting for data",
    "timeout", value, message, kind)
  assert(elapsed < 1.5, "slow fifo took " .. elapsed .. " s")
  fifo = new_fifo()
  background("head -c 100000 /dev/zero > " .. shell_quote(fifo))
  check_kind("read a fifo over the limit", fifo .. ": larger than 1000 bytes", "too_large",
    fs.read(fifo, { special = true, max_bytes = 1000, timeout = 20 }))
  fifo = new_fifo()
  background("sleep 0.3; printf patient > " .. shell_quote(fifo))
  assert(fs.read(fifo, { special = true, max_bytes = 100 }) == "patient",
    "read fifo without a timeout")

  -- Options are checked: misuse raises.
  for _, options in ipairs({ { max_bytes = -1 }, { max_bytes = 1.5 }, { max_bytes = "x" },
    { timeout = -1 }, { timeout = "soon" }, { timeout = math.huge }, { timeout = 0 / 0 } }) do
    local raised, problem = pcall(fs.read, root .. "/ten", options)
    assert(not raised and problem:find("bad argument #2", 1, true),
      "read options " .. show(next(options)) .. ": " .. tostring(problem))
    raised, problem = pcall(fs.read_stdin, options)
    assert(not raised and problem:find("bad argument #1", 1, true),
      "read_stdin options " .. show(next(options)) .. ": " .. tostring(problem))
  end
  assert(not pcall(fs.read, root .. "/ten", "max"), "read with options that are not a table")

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
