/* Unit tests of lambda.event.watch_tree on a scratch directory: what is reported for created,
 * modified, deleted and moved entries, ignored directories, directories created after the
 * watch started, coalescing, and the failures. Each case is a Lua chunk in a fresh state with
 * `event`, `fs` (C helpers) and `root` (an empty directory of its own). */
#define _XOPEN_SOURCE 700

#include <lauxlib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "host/modules.h"

static char scratch[] = "/tmp/test_event_watch.XXXXXX";

static int helper_mkdir(lua_State *L) {
    const char *path = luaL_checkstring(L, 1);
    if (mkdir(path, 0755) != 0)
        return luaL_error(L, "mkdir %s failed", path);
    return 0;
}

static int helper_write(lua_State *L) {
    const char *path = luaL_checkstring(L, 1);
    FILE *file = fopen(path, luaL_optstring(L, 3, "w"));
    if (!file)
        return luaL_error(L, "cannot write %s", path);
    fputs(luaL_checkstring(L, 2), file);
    fclose(file);
    return 0;
}

static int helper_rename(lua_State *L) {
    if (rename(luaL_checkstring(L, 1), luaL_checkstring(L, 2)) != 0)
        return luaL_error(L, "rename failed");
    return 0;
}

static int helper_remove(lua_State *L) {
    if (remove(luaL_checkstring(L, 1)) != 0)
        return luaL_error(L, "remove failed");
    return 0;
}

static const luaL_Reg helpers[] = {
    {"mkdir", helper_mkdir},
    {"write", helper_write},
    {"rename", helper_rename},
    {"remove", helper_remove},
    {NULL, NULL},
};

/* The chunk sees: event, fs, root, and `steps(list)`, which runs each function of list after
 * the previous report arrived (the first one right away) and returns the reports; the watch
 * is `watch`, created by the chunk before calling steps. */
static const char prelude[] =
    "local event = require('lambda.event')\n"
    "local fs, root = ...\n"
    "local reports = {}\n"
    "local function describe(changes)\n"
    "  local parts = {}\n"
    "  for _, c in ipairs(changes) do\n"
    "    parts[#parts + 1] = c.kind .. ' ' .. c.path .. (c.is_dir and '/' or '')\n"
    "  end\n"
    "  table.sort(parts)\n"
    "  return table.concat(parts, ', ')\n"
    "end\n"
    "local pending_steps\n"
    "local function on_changes(changes)\n"
    "  reports[#reports + 1] = describe(changes)\n"
    "  local step = table.remove(pending_steps, 1)\n"
    "  if step then event.timer(0, step) else event.stop() end\n"
    "end\n"
    "local function steps(list)\n"
    "  pending_steps = list\n"
    "  local deadline = event.timer(10, function() error('no report for 10 s') end)\n"
    "  event.timer(0, table.remove(pending_steps, 1))\n"
    "  event.run()\n"
    "  deadline:cancel()\n"
    "  return reports\n"
    "end\n";

/* Runs chunk in a fresh state, with a directory of its own as root. */
static void run_case(const char *name, const char *chunk) {
    static int cases;
    char root[256];
    snprintf(root, sizeof root, "%s/%d", scratch, ++cases);
    mkdir(root, 0755);
    lua_State *L = check_new_state();
    check_preload(L, "lambda.event", luaopen_lambda_event);
    luaL_newlib(L, helpers);
    lua_pushstring(L, root);
    check_lua(L, name, prelude, chunk, 2);
    lua_close(L);
}

static void test_tree(void) {
    run_case("created, modified, deleted, moved; new and ignored directories",
             "fs.mkdir(root .. '/src')\n"
             "fs.mkdir(root .. '/target')\n"
             "fs.mkdir(root .. '/target/debug')\n"
             "fs.mkdir(root .. '/.git')\n"
             "fs.write(root .. '/src/main.rs', 'fn main() {}')\n"
             "local asked = {}\n"
             "local watch = assert(event.watch_tree(root .. '/', {\n"
             "  debounce = 0.05,\n"
             "  ignore = function(path, is_dir)\n"
             "    asked[path] = is_dir\n"
             "    return path == 'target' or path == '.git' or path:match('%.swp$') ~= nil\n"
             "  end}, on_changes))\n"
             /* The initial walk asked about every entry, not about what is below ignored
              * directories. */
             "assert(asked['src'] == true and asked['src/main.rs'] == false)\n"
             "assert(asked['target'] == true and asked['target/debug'] == nil)\n"
             "local got = steps({\n"
             "  function()\n"
             "    fs.write(root .. '/src/main.rs', 'fn main() { }')\n"
             "    fs.write(root .. '/src/.main.rs.swp', 'x')\n"
             "    fs.write(root .. '/target/debug/out', 'binary')\n"
             "    fs.write(root .. '/.git/index', 'x')\n"
             "    fs.mkdir(root .. '/new')\n"
             "    fs.write(root .. '/new/early.rs', 'x')\n"
             "  end,\n"
             "  function()\n" /* the new directory is watched */
             "    fs.write(root .. '/new/late.rs', 'x')\n"
             "    fs.mkdir(root .. '/new/deeper')\n"
             "  end,\n"
             "  function() fs.write(root .. '/new/deeper/file', 'x') end,\n"
             "  function() fs.rename(root .. '/src/main.rs', root .. '/src/lib.rs') end,\n"
             "  function() fs.remove(root .. '/src/lib.rs') end,\n"
             /* A directory moved away is no longer watched; one moved in is. */
             "  function() fs.rename(root .. '/new', root .. '/target/new') end,\n"
             "  function()\n"
             "    fs.write(root .. '/target/new/ignored', 'x')\n"
             "    fs.rename(root .. '/target/new', root .. '/back')\n"
             "  end,\n"
             "  function() fs.write(root .. '/back/deeper/again', 'x') end,\n"
             "})\n"
             "local expected = {\n"
             "  'created new/, created new/early.rs, modified src/main.rs',\n"
             "  'created new/deeper/, created new/late.rs',\n"
             "  'created new/deeper/file',\n"
             "  'moved src/lib.rs, moved src/main.rs',\n"
             "  'deleted src/lib.rs',\n"
             "  'moved new/',\n"
             "  'moved back/',\n"
             "  'created back/deeper/again',\n"
             "}\n"
             "for i, want in ipairs(expected) do\n"
             "  assert(got[i] == want, 'report ' .. i .. ': ' .. tostring(got[i]))\n"
             "end\n"
             "assert(#got == #expected, #got)\n"
             "watch:close()\n"
             "watch:close()\n");
    run_case("bursts are coalesced",
             "fs.write(root .. '/existing', 'x')\n"
             "local reports_at = {}\n"
             "local watch = assert(event.watch_tree(root, {debounce = 0.1}, function(changes)\n"
             "  reports_at[#reports_at + 1] = event.now()\n"
             "  on_changes(changes)\n"
             "end))\n"
             "local started\n"
             "local got = steps({function()\n"
             "  started = event.now()\n"
             "  for i = 1, 20 do fs.write(root .. '/existing', 'line ' .. i .. '\\n', 'a') end\n"
             "  for i = 1, 5 do fs.write(root .. '/fresh', 'v' .. i) end\n"
             "  fs.write(root .. '/gone', 'x')\n"
             "  fs.remove(root .. '/gone')\n"
             "end})\n"
             "assert(got[1] == 'created fresh, deleted gone, modified existing', got[1])\n"
             "assert(reports_at[1] - started >= 0.09, reports_at[1] - started)\n"
             "watch:close()\n");
    run_case("a steady stream of changes is still reported",
             "local ticks = 0\n"
             "local watch = assert(event.watch_tree(root, {debounce = 0.05}, on_changes))\n"
             "local writer = event.every(0.01, function()\n"
             "  ticks = ticks + 1\n"
             "  fs.write(root .. '/busy', tostring(ticks))\n"
             "end)\n"
             "local got = steps({function() end})\n"
             "writer:cancel()\n"
             /* At the latest 10 x debounce after the first change. */
             "assert(got[1] == 'created busy', got[1])\n"
             "assert(ticks < 100, ticks)\n"
             "watch:close()\n");
    run_case("closing stops reports and lets the loop end",
             "local calls = 0\n"
             "local watch = assert(event.watch_tree(root, function() calls = calls + 1 end))\n"
             "event.timer(0, function()\n"
             "  fs.write(root .. '/a', 'x')\n"
             "  watch:close()\n"
             "end)\n"
             "event.run()\n"
             "assert(calls == 0)\n");
}

static void test_failures(void) {
    run_case(
        "failures",
        "local watch, message = event.watch_tree(root .. '/absent', function() end)\n"
        "assert(watch == nil and message == \"cannot watch '\" .. root .. \"/absent': No such"
        " file or directory\", message)\n"
        "fs.write(root .. '/file', 'x')\n"
        "watch, message = event.watch_tree(root .. '/file', function() end)\n"
        "assert(message == \"cannot watch '\" .. root .. \"/file': Not a directory\", message)\n"
        "local ok\n"
        "ok, message = pcall(event.watch_tree, root, {debounce = -1}, function() end)\n"
        "assert(not ok and message:find(\"'debounce' must be\", 1, true), message)\n"
        "ok, message = pcall(event.watch_tree, root, {ignored = 1}, function() end)\n"
        "assert(not ok and message:find(\"unknown option 'ignored'\", 1, true), message)\n"
        "assert(not pcall(event.watch_tree, root, {}))\n"
        "assert(not pcall(event.watch_tree, root, {ignore = 1}, function() end))\n"
        /* An error in ignore during the first walk reaches the caller. */
        "fs.mkdir(root .. '/sub')\n"
        "ok, message = pcall(event.watch_tree, root,\n"
        "  {ignore = function() error('ignore failed') end}, function() end)\n"
        "assert(not ok and message:find('ignore failed', 1, true), message)\n"
        "collectgarbage()\n");
}

int main(void) {
    if (!mkdtemp(scratch)) {
        perror("mkdtemp");
        return 2;
    }
    test_tree();
    test_failures();
    check_remove_tree(scratch);
    return check_report("test_event_watch");
}
