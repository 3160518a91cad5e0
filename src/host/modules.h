/* The C primitives the host preloads as Lua modules (require "lambda.<name>"). */
#ifndef CLC_MODULES_H
#define CLC_MODULES_H

#include <lua.h>

int luaopen_lambda_http(lua_State *L);   /* http.c: HTTP client (own loopback engine, libcurl) */
int luaopen_lambda_json(lua_State *L);   /* json.c: exact decode/encode, order-keeping pretty */
int luaopen_lambda_toml(lua_State *L);   /* toml.c: TOML 1.0 decoder */
int luaopen_lambda_cache(lua_State *L);  /* cache.c: the user cache directory, atomic writes */
int luaopen_lambda_fs(lua_State *L);     /* fs.c: file system queries the Lua side needs */
int luaopen_lambda_time(lua_State *L);   /* clock.c: wall and monotonic clocks, sleep */
int luaopen_lambda_crypto(lua_State *L); /* crypto.c: digests, HMAC, base64, random bytes */
int luaopen_lambda_sigv4(lua_State *L);  /* sigv4.c: AWS Signature Version 4 */
int luaopen_lambda_ini(lua_State *L);    /* ini.c: the AWS shared config/credentials format */
int luaopen_lambda_xml(lua_State *L);    /* xml.c: XML documents (STS answers) on expat */
int luaopen_lambda_event(lua_State *L);  /* event_loop.c: event loop, HTTP server, processes */

#endif
