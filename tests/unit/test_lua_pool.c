/* The Lua state's allocator (host/lua_pool.c): random allocations, growths, shrinks and frees
 * across the pooled size classes and past them, each block filled with a pattern of its own
 * and checked until it is freed, so that two live blocks that overlapped, or a move that lost
 * bytes, would show; then a Lua state on the pool, collecting as it goes. */
#include <lauxlib.h>
#include <lualib.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "host/lua_pool.h"

#define SLOTS 512
#define ROUNDS 200000

struct slot {
    unsigned char *block;
    size_t size;
    unsigned char pattern;
};

static uint32_t random_state = 12345;
static uint32_t next_random(void) { /* xorshift32: the same run every time */
    random_state ^= random_state << 13;
    random_state ^= random_state >> 17;
    random_state ^= random_state << 5;
    return random_state;
}

/* Mostly small sizes (what Lua allocates), some around the largest pooled one, some large. */
static size_t random_size(void) {
    uint32_t pick = next_random() % 10;
    if (pick < 7)
        return 1 + next_random() % 128;
    if (pick < 9)
        return 200 + next_random() % 120;
    return 257 + next_random() % 5000;
}

static int intact(const struct slot *s, size_t length) {
    for (size_t i = 0; i < length; i++)
        if (s->block[i] != (unsigned char)(s->pattern + i))
            return 0;
    return 1;
}

static void fill(struct slot *s) {
    for (size_t i = 0; i < s->size; i++)
        s->block[i] = (unsigned char)(s->pattern + i);
}

static void test_blocks_keep_their_bytes(void) {
    struct lua_pool *pool = lua_pool_new();
    CHECK(pool != NULL);
    static struct slot slots[SLOTS];
    int damaged = 0, misaligned = 0;
    for (int round = 0; round < ROUNDS; round++) {
        struct slot *s = &slots[next_random() % SLOTS];
        if (!s->block) { /* (osize is then a type tag, as Lua passes it) */
            s->size = random_size();
            s->block = lua_pool_alloc(pool, NULL, LUA_TTABLE, s->size);
            s->pattern = (unsigned char)next_random();
            misaligned += ((uintptr_t)s->block % 16) != 0;
            fill(s);
        } else if (next_random() % 3 == 0) {
            damaged += !intact(s, s->size);
            lua_pool_alloc(pool, s->block, s->size, 0);
            s->block = NULL;
        } else {
            size_t size = random_size();
            damaged += !intact(s, s->size);
            s->block = lua_pool_alloc(pool, s->block, s->size, size);
            damaged += !intact(s, s->size < size ? s->size : size);
            s->size = size;
            misaligned += ((uintptr_t)s->block % 16) != 0;
            fill(s);
        }
    }
    for (int i = 0; i < SLOTS; i++) {
        if (!slots[i].block)
            continue;
        damaged += !intact(&slots[i], slots[i].size);
        lua_pool_alloc(pool, slots[i].block, slots[i].size, 0);
    }
    check_that(damaged == 0, "%d blocks lost or shared bytes", damaged);
    check_that(misaligned == 0, "%d blocks not 16-byte aligned", misaligned);
    lua_pool_free(pool);
}

/* A block that stays in its size class stays where it is; a freed one is the next one given. */
static void test_same_class_in_place_and_reuse(void) {
    struct lua_pool *pool = lua_pool_new();
    void *a = lua_pool_alloc(pool, NULL, 0, 20);
    CHECK(lua_pool_alloc(pool, a, 20, 32) == a); /* 17-32: one class */
    CHECK(lua_pool_alloc(pool, a, 32, 17) == a);
    lua_pool_alloc(pool, a, 17, 0);
    CHECK(lua_pool_alloc(pool, NULL, 0, 25) == a);
    lua_pool_free(pool);
    lua_pool_free(NULL); /* nothing */
}

static void test_a_state_on_the_pool(void) {
    struct lua_pool *pool = lua_pool_new();
    lua_State *L = lua_newstate(lua_pool_alloc, pool);
    CHECK(L != NULL);
    luaL_openlibs(L);
    const char *churn = "local kept, n = {}, 0\n"
                        "for i = 1, 20000 do\n"
                        "  local t = { string.rep('y', i % 300), i, {} }\n"
                        "  kept[i % 100 + 1] = t\n"
                        "  if i % 5000 == 0 then collectgarbage() end\n"
                        "  n = n + #t[1]\n"
                        "end\n"
                        "return n";
    long expected = 0;
    for (int i = 1; i <= 20000; i++)
        expected += i % 300;
    CHECK(luaL_dostring(L, churn) == LUA_OK && lua_tointeger(L, -1) == expected);
    lua_close(L);
    lua_pool_free(pool);
}

int main(void) {
    test_blocks_keep_their_bytes();
    test_same_class_in_place_and_reuse();
    test_a_state_on_the_pool();
    return check_report("test_lua_pool");
}
