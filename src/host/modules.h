/* The C primitives the host preloads as Lua modules: require "lambda.<name>" finds its C in
 * src/<name>/, whose <name>.c (module.c for event) holds the luaopen function below. */
#ifndef CLC_HOST_MODULES_H
#define CLC_HOST_MODULES_H

#include <lua.h>

int luaopen_lambda_http(lua_State *L);        /* HTTP client (own loopback engine, libcurl) */
int luaopen_lambda_json(lua_State *L);        /* exact decode/encode, order-keeping pretty */
int luaopen_lambda_toml(lua_State *L);        /* TOML 1.0 decoder */
int luaopen_lambda_cache(lua_State *L);       /* the user cache directory, atomic writes */
int luaopen_lambda_fs(lua_State *L);          /* file system queries the Lua side needs */
int luaopen_lambda_time(lua_State *L);        /* wall and monotonic clocks, sleep */
int luaopen_lambda_crypto(lua_State *L);      /* digests, HMAC, base64, random bytes */
int luaopen_lambda_sigv4(lua_State *L);       /* AWS Signature Version 4 */
int luaopen_lambda_ini(lua_State *L);         /* the AWS shared config/credentials format */
int luaopen_lambda_xml(lua_State *L);         /* XML documents (STS answers) on expat */
int luaopen_lambda_event(lua_State *L);       /* event loop, timers, HTTP server, processes */
int luaopen_lambda_histogram(lua_State *L);   /* latency histogram: percentiles, merge, text */
int luaopen_lambda_eventstream(lua_State *L); /* AWS event streams: incremental decoder */

#endif
