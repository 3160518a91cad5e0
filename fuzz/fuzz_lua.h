/* What the libFuzzer targets that drive a Lua module share: one state for the whole run (a
 * fresh state per input would cost more than most inputs), with the functions under test kept
 * in the lowest stack slots, and the check of the position an error message starts with. */
#ifndef CLC_FUZZ_LUA_H
#define CLC_FUZZ_LUA_H

#include <lauxlib.h>
#include <stdio.h>
#include <stdlib.h>

/* The state kept across inputs. The first call loads module through open and keeps its
 * functions named in `functions` (NULL-terminated) in stack slots 1, 2, ...; every call
 * drops whatever the previous input left above them. */
static inline lua_State *fuzz_lua_state(const char *module, lua_CFunction open,
                                        const char *const functions[]) {
    static lua_State *L;
    static int kept;
    if (!L) {
        L = luaL_newstate();
        if (!L)
            abort();
        luaL_requiref(L, module, open, 0);
        while (functions[kept])
            lua_getfield(L, 1, functions[kept++]);
        lua_remove(L, 1);
    }
    lua_settop(L, kept);
    return L;
}

/* Calls the function in slot with the nargs values on top of the stack, leaving nresults.
 * The modules raise only for wrong arguments or lack of memory, so a raise is a bug. */
static inline void fuzz_lua_call(lua_State *L, int slot, int nargs, int nresults) {
    lua_pushvalue(L, slot);
    lua_insert(L, -nargs - 1);
    if (lua_pcall(L, nargs, nresults, 0) != LUA_OK) {
        const char *message = lua_tostring(L, -1);
        fprintf(stderr, "the call raised: %s\n", message ? message : "(no message)");
        abort();
    }
}

/* message starts "line L, column C: " with L and C from 1 (the TOML and XML errors). */
static inline int fuzz_has_line_and_column(const char *message) {
    long line, column;
    return message && sscanf(message, "line %ld, column %ld: ", &line, &column) == 2 && line >= 1 &&
           column >= 1;
}

#endif
