/* The Lua state's allocator: small blocks from size-class free lists (lua_pool.c). */
#ifndef CLC_HOST_LUA_POOL_H
#define CLC_HOST_LUA_POOL_H

#include <stddef.h>

struct lua_pool;

/* A pool for one state; NULL when out of memory. */
struct lua_pool *lua_pool_new(void);
/* A lua_Alloc: lua_newstate(lua_pool_alloc, pool). */
void *lua_pool_alloc(void *ud, void *ptr, size_t osize, size_t nsize);
/* Frees the pool's memory: after lua_close of the state that used it. */
void lua_pool_free(struct lua_pool *pool);

#endif
