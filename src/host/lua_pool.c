/* The Lua state's allocator (lua_Alloc): blocks of up to POOL_LARGEST bytes come from free
 * lists, one per 16-byte size class, refilled from 64 KB slabs; larger blocks from malloc.
 *
 * Why: almost everything Lua allocates is small (strings, tables and their parts, closures,
 * userdata), and a load run makes and frees some twenty such blocks per request. The
 * collector frees them by the hundred at once, far more than glibc's per-thread cache keeps
 * (seven per size), so most went through malloc's slow paths: callgrind counted a quarter of
 * a load run's user-space instructions in malloc and free. Here taking a block is a pop from a
 * list and freeing one a push. Start-up gains too: loading the modules allocates thousands of
 * small blocks.
 *
 * What it costs: memory freed by the collector stays in the free lists (of its size class)
 * until the state is closed, where glibc would keep most of it in its own bins anyway. The
 * sanitizer builds keep malloc for every block (host.c), so that they see each one. */
#include "host/lua_pool.h"

#include <stdalign.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define POOL_GRAIN 16
#define POOL_LARGEST 256
#define POOL_CLASSES (POOL_LARGEST / POOL_GRAIN)
#define POOL_SLAB (64 * 1024)

struct pool_block {
    struct pool_block *next;
};

/* The head of a slab, one grain long so that the blocks after it keep malloc's alignment. */
struct pool_slab {
    alignas(POOL_GRAIN) struct pool_slab *next;
};

struct lua_pool {
    struct pool_block *free[POOL_CLASSES];
    char *bump, *bump_end; /* the current slab's part not handed out yet */
    struct pool_slab *slabs;
};

_Static_assert(sizeof(struct pool_slab) == POOL_GRAIN, "a slab's head is one grain");

static size_t class_of(size_t size) {
    return (size - 1) / POOL_GRAIN;
}

/* A block of size class c; NULL when memory ran out. */
static void *take(struct lua_pool *pool, size_t c) {
    struct pool_block *block = pool->free[c];
    if (block) {
        pool->free[c] = block->next;
        return block;
    }
    size_t size = (c + 1) * POOL_GRAIN;
    if (!pool->bump || (size_t)(pool->bump_end - pool->bump) < size) {
        /* (What is left of the slab, less than POOL_LARGEST, is not used.) */
        struct pool_slab *slab = malloc(POOL_SLAB);
        if (!slab)
            return NULL;
        slab->next = pool->slabs;
        pool->slabs = slab;
        pool->bump = (char *)(slab + 1);
        pool->bump_end = (char *)slab + POOL_SLAB;
    }
    void *taken = pool->bump;
    pool->bump += size;
    return taken;
}

static void give_back(struct lua_pool *pool, void *block, size_t size) {
    struct pool_block *freed = block;
    size_t c = class_of(size);
    freed->next = pool->free[c];
    pool->free[c] = freed;
}

/* Frees a block of the given size, wherever it came from. */
static void release(struct lua_pool *pool, void *block, size_t size) {
    if (size <= POOL_LARGEST)
        give_back(pool, block, size);
    else
        free(block);
}

void *lua_pool_alloc(void *ud, void *ptr, size_t osize, size_t nsize) {
    struct lua_pool *pool = ud;
    if (!ptr)
        osize = 0; /* (Lua then passes the kind of object in osize) */
    if (nsize == 0) {
        if (ptr)
            release(pool, ptr, osize);
        return NULL;
    }
    bool pooled = ptr && osize <= POOL_LARGEST;
    if (nsize > POOL_LARGEST && !pooled)
        return realloc(ptr, nsize);
    if (pooled && nsize <= POOL_LARGEST && class_of(osize) == class_of(nsize))
        return ptr;
    void *moved = nsize <= POOL_LARGEST ? take(pool, class_of(nsize)) : malloc(nsize);
    if (!moved) {
        /* Lua counts on a block never failing to shrink: kept where it is, the block is at
         * least as large as nsize, and is freed (into nsize's class, or to malloc) as such. */
        return nsize <= osize ? ptr : NULL;
    }
    if (ptr) {
        memcpy(moved, ptr, osize < nsize ? osize : nsize);
        release(pool, ptr, osize);
    }
    return moved;
}

struct lua_pool *lua_pool_new(void) {
    return calloc(1, sizeof(struct lua_pool));
}

void lua_pool_free(struct lua_pool *pool) {
    if (!pool)
        return;
    while (pool->slabs) {
        struct pool_slab *slab = pool->slabs;
        pool->slabs = slab->next;
        free(slab);
    }
    free(pool);
}
