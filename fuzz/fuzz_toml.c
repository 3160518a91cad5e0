/* libFuzzer target for lambda.toml: decodes arbitrary bytes. Any crash, sanitizer report or
 * hang is a bug; so is an error that does not follow the "line L, column C: " format or a
 * result that is neither a table nor nil plus a message. */
#include <lauxlib.h>
#include <stdint.h>
#include <stdlib.h>

#include "fuzz_lua.h"
#include "host/modules.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static const char *const functions[] = {"decode", NULL}; /* slot 1: toml.decode */
    lua_State *L = fuzz_lua_state("lambda.toml", luaopen_lambda_toml, functions);
    lua_pushlstring(L, (const char *)data, size);
    fuzz_lua_call(L, 1, 1, 2);
    if (lua_isnil(L, -2)) {
        if (!fuzz_has_line_and_column(lua_tostring(L, -1)))
            abort();
    } else if (!lua_istable(L, -2) || !lua_isnil(L, -1)) {
        abort();
    }
    return 0;
}
