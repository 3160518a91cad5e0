/* lambda.json's decode and encode: JSON text to Lua values and back, with numbers kept exact.
 *
 *   decode(text)  -> value | nil, message, "input", offset (the same verdict and message as
 *                    json_pretty, and a number beyond a double's range refused)
 *   encode(value) -> text; a value JSON cannot hold raises
 *   null          -> the lightuserdata NULL (cjson.null), what JSON null decodes to
 *   array_mt      -> the metatable of decoded arrays (luax_push_array_mt's, which lambda.toml's
 *                    arrays carry too); a table carrying it encodes as an array
 */
#ifndef CLC_JSON_VALUE_H
#define CLC_JSON_VALUE_H

#include <lua.h>

/* Both take that metatable as their first upvalue (json.c registers them). */
int json_decode(lua_State *L); /* decode.c */
int json_encode(lua_State *L); /* encode.c */

#endif
