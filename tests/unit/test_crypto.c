/* Unit tests of lambda.crypto with published vectors: FIPS 180-2 (SHA-1, SHA-256), RFC 4231
 * (HMAC-SHA256), RFC 4648 (base64), plus the strict decoder's rejections. The cases are Lua
 * chunks that get the module as `...`. */
#include <lauxlib.h>

#include "check.h"
#include "host/modules.h"

/* What each chunk gets as `...`: the module (CHECK_LUA_HELPERS come before the chunk). */
static int push_module(lua_State *L) {
    luaL_requiref(L, "lambda.crypto", luaopen_lambda_crypto, 0);
    return 1;
}

#define LUA(L, chunk)                                                                              \
    check_lua(L, CHECK_HERE, "local crypto = ...\n" CHECK_LUA_HELPERS, chunk, push_module(L))

static void test_digests(lua_State *L) {
    LUA(L,
        "local long = 'abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq'\n"
        "eq(crypto.sha256_hex('abc'),\n"
        "   'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad', 'sha256 abc')\n"
        "eq(crypto.sha256_hex(''),\n"
        "   'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855', 'sha256 empty')\n"
        "eq(crypto.sha256_hex(long),\n"
        "   '248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1', 'sha256 448')\n"
        "eq(crypto.sha256_hex(string.rep('a', 1000000)),\n"
        "   'cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0', 'sha256 1M')\n"
        "eq(crypto.sha1_hex('abc'), 'a9993e364706816aba3e25717850c26c9cd0d89d', 'sha1 abc')\n"
        "eq(crypto.sha1_hex(''), 'da39a3ee5e6b4b0d3255bfef95601890afd80709', 'sha1 empty')\n"
        "eq(crypto.sha1_hex(long), '84983e441c3bd26ebaae4aa1f95129e5e54670f1', 'sha1 448')\n"
        /* Binary input with NUL bytes is hashed whole. */
        "assert(crypto.sha256_hex('a\\0b') ~= crypto.sha256_hex('a'))\n"
        "raises('bad argument #1', crypto.sha256_hex)\n"
        "raises('bad argument #1', crypto.sha1_hex, {})\n");
}

static void test_hmac(lua_State *L) {
    LUA(L,
        "local cases = {\n"
        "  {string.rep('\\x0b', 20), 'Hi There',\n"
        "   'b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7'},\n"
        "  {'Jefe', 'what do ya want for nothing?',\n"
        "   '5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843'},\n"
        "  {string.rep('\\xaa', 20), string.rep('\\xdd', 50),\n"
        "   '773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe'},\n"
        "  {string.rep('\\xaa', 131), 'Test Using Larger Than Block-Size Key - Hash Key First',\n"
        "   '60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54'},\n"
        "  {string.rep('\\xaa', 131), 'This is a test using a larger than block-size key and '\n"
        "   .. 'a larger than block-size data. The key needs to be hashed before being used '\n"
        "   .. 'by the HMAC algorithm.',\n"
        "   '9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2'},\n"
        "  {'', '', 'b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad'},\n"
        "}\n"
        "for i, case in ipairs(cases) do\n"
        "  local mac = crypto.hmac_sha256(case[1], case[2])\n"
        "  eq(#mac, 32, 'raw length ' .. i)\n"
        "  eq(hex(mac), case[3], 'RFC 4231 case ' .. i)\n"
        "end\n"
        /* An empty key after a non-empty one is still empty (no key reuse). */
        "crypto.hmac_sha256('Jefe', 'x')\n"
        "eq(hex(crypto.hmac_sha256('', '')), cases[6][3], 'empty key after another key')\n"
        "raises('bad argument #2', crypto.hmac_sha256, 'key')\n");
}

static void test_base64(lua_State *L) {
    LUA(L,
        "local vectors = {{'', ''}, {'f', 'Zg=='}, {'fo', 'Zm8='}, {'foo', 'Zm9v'},\n"
        "  {'foob', 'Zm9vYg=='}, {'fooba', 'Zm9vYmE='}, {'foobar', 'Zm9vYmFy'}}\n"
        "for _, v in ipairs(vectors) do\n"
        "  eq(crypto.base64_encode(v[1]), v[2], 'encode ' .. v[1])\n"
        "  eq(crypto.base64_decode(v[2]), v[1], 'decode ' .. v[2])\n"
        "end\n"
        "local all = {}\n"
        "for i = 0, 255 do all[#all + 1] = string.char(i) end\n"
        "all = table.concat(all)\n"
        "local encoded = crypto.base64_encode(all)\n"
        "assert(encoded:find('+', 1, true) and encoded:find('/', 1, true), 'standard alphabet')\n"
        "assert(not encoded:find('[\\r\\n]'), 'no line breaks')\n"
        "eq(crypto.base64_decode(encoded), all, 'all bytes round trip')\n"
        /* Inputs longer than one encoding chunk (3 MiB) encode seamlessly. */
        "local head = string.rep('\\1\\2\\3', 1024 * 1024)\n"
        "local tail = 'tail!'\n"
        "eq(crypto.base64_encode(head .. tail),\n"
        "   crypto.base64_encode(head) .. crypto.base64_encode(tail), 'chunked encoding')\n"
        "eq(crypto.base64_decode(crypto.base64_encode(head .. tail)), head .. tail, 'big')\n");
    LUA(L, "local rejected = {\n"
           "  {'Zg=', 'offset 3: length is not a multiple of 4'},\n"
           "  {'Zm9v\\n', 'length'},\n"
           "  {'Zm 9', 'offset 2: invalid character'},\n"
           "  {'Zm9v\\0\\0\\0\\0', 'offset 4: invalid character'},\n"
           "  {'ab-_', 'offset 2: invalid character'},\n"
           "  {'Zg=a', 'offset 3: padding'},\n"
           "  {'Z===', 'offset 1: padding'},\n"
           "  {'====', 'offset 0: padding'},\n"
           "  {'Zm9vYg==Zm9v', 'offset 6: padding'},\n"
           "  {'Zh==', 'offset 1: non%-zero bits'},\n"
           "  {'Zm9=', 'offset 2: non%-zero bits'},\n"
           "}\n"
           "for _, case in ipairs(rejected) do\n"
           "  local value, message, kind, offset = crypto.base64_decode(case[1])\n"
           "  eq(value, nil, 'rejects ' .. case[1])\n"
           "  assert(message:find('^invalid base64 at ') and message:find(case[2]),\n"
           "         case[1] .. ': ' .. message)\n"
           /* The library's convention: kind "input", the offset the message names after it. */
           "  eq(kind, 'input', 'kind for ' .. case[1])\n"
           "  eq(message:match('^invalid base64 at offset (%d+): '), tostring(offset),\n"
           "     'offset for ' .. case[1])\n"
           "end\n"
           "raises('bad argument #1', crypto.base64_decode, nil)\n");
}

static void test_random_and_compare(lua_State *L) {
    LUA(L, "eq(crypto.random_bytes(0), '', 'zero bytes')\n"
           "local a, b = crypto.random_bytes(32), crypto.random_bytes(32)\n"
           "eq(#a, 32, 'length')\n"
           "assert(a ~= b, 'two draws differ')\n"
           "local seen, distinct = {}, 0\n"
           "for c in crypto.random_bytes(4096):gmatch('.') do\n"
           "  if not seen[c] then seen[c] = true; distinct = distinct + 1 end\n"
           "end\n"
           "assert(distinct > 200, 'byte values look random: ' .. distinct)\n"
           "eq(#crypto.random_bytes(65536), 65536, 'largest request')\n"
           "raises('bad argument #1', crypto.random_bytes, -1)\n"
           "raises('bad argument #1', crypto.random_bytes, 65537)\n"
           "raises('bad argument #1', crypto.random_bytes, 1.5)\n"
           "eq(crypto.constant_time_equal('abc', 'abc'), true, 'equal')\n"
           "eq(crypto.constant_time_equal('', ''), true, 'empty')\n"
           "eq(crypto.constant_time_equal('abc', 'abd'), false, 'last byte differs')\n"
           "eq(crypto.constant_time_equal('abc', 'abcd'), false, 'lengths differ')\n"
           "eq(crypto.constant_time_equal('a\\0x', 'a\\0y'), false, 'after a NUL')\n"
           "raises('bad argument #2', crypto.constant_time_equal, 'a', {})\n");
}

int main(void) {
    lua_State *L = check_new_state();
    test_digests(L);
    test_hmac(L);
    test_base64(L);
    test_random_and_compare(L);
    lua_close(L);
    return check_report("test_crypto");
}
