/* Small Lua helpers the C modules share. */
#ifndef CLC_COMMON_LUAX_H
#define CLC_COMMON_LUAX_H

#include <dirent.h>
#include <lauxlib.h>
#include <lua.h>
#include <stddef.h>

/* Expected failures, as every lambda.* module returns them: nil, message, kind[, detail]. The
 * kinds are documented in docs/scripting.md. */
int luax_push_failure(lua_State *L, const char *kind, const char *message);
/* nil, "<name>: <strerror(error)>", "not_found" (ENOENT, ENOTDIR) or "io", error. */
int luax_push_errno_failure(lua_State *L, const char *name, int error);
/* The kind an errno number stands for: "not_found" for ENOENT, ENOTDIR and ESRCH (no such
 * file, directory or process), else "io". */
const char *luax_errno_kind(int error);

/* Raises, as a bad argument arg, "unknown field '<prefix><key>'" for the first key of the table
 * at index that is not in allowed (NULL-terminated): a misspelt option must not be ignored.
 * prefix names the table for a nested one ("tls."), "" at the top. */
void luax_check_fields(lua_State *L, int index, int arg, const char *prefix,
                       const char *const allowed[]);

/* Pushes the one metatable that marks a table as an array, whichever module made it:
 * lambda.json's and lambda.toml's array_mt, so that an empty TOML array encodes as JSON []. It
 * lives in the registry, so every require of either module finds the same one. */
void luax_push_array_mt(lua_State *L);

/* Registers the metatable of a userdata type: its metamethods (__gc, __tostring, ...) and an
 * __index table of its methods (either list may be NULL). Leaves the stack as it was. */
void luax_new_class(lua_State *L, const char *type, const luaL_Reg *metamethods,
                    const luaL_Reg *methods);

/* A message handler for lua_pcall: the error (converted to a string) with a traceback. */
int luax_traceback(lua_State *L);

/* Pushes text[0, length) with A-Z lower-cased (header and key names). */
void luax_push_lower(lua_State *L, const char *text, size_t length);

/* Pushes a guard for a file descriptor and returns its slot, set to -1: store the descriptor
 * there right after opening it. The guard closes it when collected, when closed as a
 * to-be-closed variable or by luax_close_fd, so that a Lua error (out of memory while
 * reading, say) cannot leak it. */
int *luax_push_fd_guard(lua_State *L);
/* Closes the guarded descriptor now (once); returns close's result, 0 when already closed. */
int luax_close_fd(int *slot);

/* The same for a directory stream: store the opendir result in the returned slot. */
DIR **luax_push_dir_guard(lua_State *L);
void luax_close_dir(DIR **slot);

#endif
