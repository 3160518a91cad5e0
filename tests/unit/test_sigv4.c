/* Unit tests of lambda.sigv4 that need no vector files: the canonical path and query rules, the
 * header rules, a Lambda Invoke whose function ARN is encoded twice in the canonical request,
 * the AWS documentation's IAM example, S3's single path encoding with the S3 API reference's
 * examples, the signing-key cache, presigned URLs and argument checking. Signatures are
 * cross-checked with an HMAC chain written in Lua on lambda.crypto.
 * The cases are Lua chunks that get both modules as `...`. */
#include <lauxlib.h>

#include "check.h"
#include "host/modules.h"

/* Each chunk gets both modules as `...`. */
static int push_modules(lua_State *L) {
    luaL_requiref(L, "lambda.sigv4", luaopen_lambda_sigv4, 0);
    luaL_requiref(L, "lambda.crypto", luaopen_lambda_crypto, 0);
    return 2;
}

/* Helpers every chunk gets: CHECK_LUA_HELPERS, reference_signature (the HMAC chain on
 * lambda.crypto) and base (options of a valid request, copied and overridden by `with`). */
#define PRELUDE                                                                                    \
    "local sigv4, crypto = ...\n" CHECK_LUA_HELPERS                                                \
    "local function signing_key(secret, date, region, service)\n"                                  \
    "  local key = crypto.hmac_sha256('AWS4' .. secret, date)\n"                                   \
    "  key = crypto.hmac_sha256(key, region)\n"                                                    \
    "  key = crypto.hmac_sha256(key, service)\n"                                                   \
    "  return crypto.hmac_sha256(key, 'aws4_request')\n"                                           \
    "end\n"                                                                                        \
    "local function reference_signature(result, secret, region, service)\n"                        \
    "  local sts = 'AWS4-HMAC-SHA256\\n' .. result.amz_date .. '\\n' .. result.credential_scope\n" \
    "    .. '\\n' .. crypto.sha256_hex(result.canonical_request)\n"                                \
    "  eq(result.string_to_sign, sts, 'string to sign')\n"                                         \
    "  local key = signing_key(secret, result.amz_date:sub(1, 8), region, service)\n"              \
    "  return hex(crypto.hmac_sha256(key, sts))\n"                                                 \
    "end\n"                                                                                        \
    "local SECRET = 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY'\n"                                  \
    "local function with(changes)\n"                                                               \
    "  local options = {method = 'GET', url = 'https://example.amazonaws.com/',\n"                 \
    "    service = 'service', region = 'us-east-1', time = '20150830T123600Z',\n"                  \
    "    credentials = {access_key_id = 'AKIDEXAMPLE', secret_access_key = SECRET}}\n"             \
    "  for k, v in pairs(changes or {}) do options[k] = v end\n"                                   \
    "  return options\n"                                                                           \
    "end\n"                                                                                        \
    "local function without(name)\n"                                                               \
    "  local options = with()\n"                                                                   \
    "  options[name] = nil\n"                                                                      \
    "  return options\n"                                                                           \
    "end\n"                                                                                        \
    "local function lines(text)\n"                                                                 \
    "  local list = {}\n"                                                                          \
    "  for line in (text .. '\\n'):gmatch('(.-)\\n') do list[#list + 1] = line end\n"              \
    "  return list\n"                                                                              \
    "end\n"

#define LUA(L, chunk) check_lua(L, CHECK_HERE, PRELUDE, chunk, push_modules(L))

static void test_canonical_uri(lua_State *L) {
    LUA(L,
        "local normalized = {\n"
        "  {'', '/'}, {'/', '/'}, {'/example/..', '/'}, {'/example1/example2/../..', '/'},\n"
        "  {'//', '/'}, {'/./', '/'}, {'/./example', '/example'}, {'//example//', '/example/'},\n"
        "  {'/a/b/../c', '/a/c'}, {'/a/b/..', '/a/'}, {'/a/./b/', '/a/b/'}, {'/../a', '/a'},\n"
        "  {'/a/b/.', '/a/b/'}, {'/a..b/.c', '/a..b/.c'},\n"
        "  {'/example space/', '/example%20space/'},\n"
        "  {'/\\xE1\\x88\\xB4', '/%E1%88%B4'},\n"
        "  {'/-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz',\n"
        "   '/-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz'},\n"
        /* Already encoded on the wire: encoded once more (the Lambda ARN rule). */
        "  {'/2015-03-31/functions/f%3Aprod/invocations',\n"
        "   '/2015-03-31/functions/f%253Aprod/invocations'},\n"
        "  {'/my%20fn', '/my%2520fn'}, {'/a%2Fb', '/a%252Fb'},\n"
        "  {'/a+b=c@d$e', '/a%2Bb%3Dc%40d%24e'},\n"
        "}\n"
        "for _, case in ipairs(normalized) do\n"
        "  eq(sigv4.canonical_uri(case[1]), case[2], 'normalized ' .. case[1])\n"
        "  eq(sigv4.canonical_uri(case[1], true), case[2], 'normalize=true ' .. case[1])\n"
        "end\n"
        "local kept = {\n"
        "  {'', '/'}, {'//example//', '//example//'}, {'/example/..', '/example/..'},\n"
        "  {'/./', '/./'}, {'/a%3Ab c', '/a%253Ab%20c'},\n"
        "}\n"
        "for _, case in ipairs(kept) do\n"
        "  eq(sigv4.canonical_uri(case[1], false), case[2], 'unnormalized ' .. case[1])\n"
        "end\n"
        "raises('bad argument #1', sigv4.canonical_uri, nil)\n");
}

static void test_canonical_query(lua_State *L) {
    LUA(L, "local cases = {\n"
           "  {'', ''},\n"
           "  {'Param2=value2&Param1=value1', 'Param1=value1&Param2=value2'},\n"
           "  {'Param1=value2&Param1=Value1', 'Param1=Value1&Param1=value2'},\n"
           "  {'b=2&a=1&A=0', 'A=0&a=1&b=2'},\n"
           /* By name first: 'a' sorts before 'a-b' although '=' sorts after '-'. */
           "  {'a-b=1&a=2', 'a=2&a-b=1'},\n"
           "  {'a', 'a='}, {'a=', 'a='}, {'&&a=1&', 'a=1'}, {'=v', '=v'},\n"
           "  {'\\xE1\\x88\\xB4=bar', '%E1%88%B4=bar'}, {'%E1%88%B4=bar', '%E1%88%B4=bar'},\n"
           "  {'Param-3=Value3&Param=Value2&%E1%88%B4=Value1',\n"
           "   '%E1%88%B4=Value1&Param=Value2&Param-3=Value3'},\n"
           /* Decoded, then encoded: never encoded twice; lower-case hex comes out upper. */
           "  {'a=b%2fc', 'a=b%2Fc'}, {'a=b/c', 'a=b%2Fc'}, {'a=%7e', 'a=~'},\n"
           "  {'Qualifier=%24LATEST', 'Qualifier=%24LATEST'}, {'Qualifier=$LATEST',\n"
           "   'Qualifier=%24LATEST'},\n"
           "  {'a=x y', 'a=x%20y'}, {'a=1+2', 'a=1%2B2'}, {'a=b=c', 'a=b%3Dc'},\n"
           /* A '%' without two hex digits stands for itself. */
           "  {'a=%zz', 'a=%25zz'}, {'a=%', 'a=%25'}, {'a=%4', 'a=%254'},\n"
           "}\n"
           "for _, case in ipairs(cases) do\n"
           "  eq(sigv4.canonical_query(case[1]), case[2], 'query ' .. case[1])\n"
           "end\n");
}

/* A Lambda Invoke of a full function ARN with a qualifier, a session token and two Invoke
 * headers. The expected canonical request is written out from the rules; the signature was
 * computed from it with Python's hmac module, and is cross-checked with lambda.crypto. */
static void test_lambda_invoke(lua_State *L) {
    LUA(L,
        "local body = '{\"hello\":\"world\"}'\n"
        "local token = 'FQoGZXIvYXdzEXAMPLE//token+/='\n"
        "local result = assert(sigv4.sign(with{\n"
        "  method = 'POST',\n"
        "  url = 'https://lambda.us-east-1.amazonaws.com/2015-03-31/functions/'\n"
        "    .. 'arn%3Aaws%3Alambda%3Aus-east-1%3A123456789012%3Afunction%3Amy-function'\n"
        "    .. '/invocations?Qualifier=live',\n"
        "  headers = {{'X-Amz-Invocation-Type', 'RequestResponse'}, {'X-Amz-Log-Type', 'Tail'}},\n"
        "  body = body, service = 'lambda', time = 1440938160,\n"
        "  credentials = {access_key_id = 'AKIDEXAMPLE', secret_access_key = SECRET,\n"
        "                 session_token = token},\n"
        "}))\n"
        "local expected = table.concat({'POST',\n"
        "  '/2015-03-31/functions/arn%253Aaws%253Alambda%253Aus-east-1%253A123456789012'\n"
        "    .. '%253Afunction%253Amy-function/invocations',\n"
        "  'Qualifier=live',\n"
        "  'host:lambda.us-east-1.amazonaws.com',\n"
        "  'x-amz-date:20150830T123600Z',\n"
        "  'x-amz-invocation-type:RequestResponse',\n"
        "  'x-amz-log-type:Tail',\n"
        "  'x-amz-security-token:' .. token,\n"
        "  '',\n"
        "  'host;x-amz-date;x-amz-invocation-type;x-amz-log-type;x-amz-security-token',\n"
        "  '93a23971a914e5eacbf0a8d25154cda309c3c1c72fbb9914d47c60f3cb681588'}, '\\n')\n"
        "eq(result.canonical_request, expected, 'canonical request')\n"
        "eq(result.amz_date, '20150830T123600Z', 'amz_date from epoch seconds')\n"
        "eq(result.credential_scope, '20150830/us-east-1/lambda/aws4_request', 'scope')\n"
        "eq(result.signed_headers,\n"
        "   'host;x-amz-date;x-amz-invocation-type;x-amz-log-type;x-amz-security-token', 'sh')\n"
        "local signature = '09152d82450b7ca535213f88d122bf4f2ceae2b2e5ca62c9abc0ad1026e1d3ed'\n"
        "eq(result.signature, signature, 'signature')\n"
        "eq(reference_signature(result, SECRET, 'us-east-1', 'lambda'), signature, 'crypto')\n"
        "local authorization = 'AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/'\n"
        "  .. 'lambda/aws4_request, SignedHeaders=' .. result.signed_headers\n"
        "  .. ', Signature=' .. signature\n"
        "eq(result.authorization, authorization, 'authorization')\n"
        "eq(#result.headers, 3, 'headers returned')\n"
        "eq(result.headers[1][1], 'Authorization', 'h1') eq(result.headers[1][2], authorization, "
        "'v1')\n"
        "eq(result.headers[2][1], 'X-Amz-Date', 'h2') eq(result.headers[2][2], result.amz_date, "
        "'v2')\n"
        "eq(result.headers[3][1], 'X-Amz-Security-Token', 'h3') eq(result.headers[3][2], token, "
        "'v3')\n");
}

/* The example of the AWS General Reference ("signature version 4 signing process"): IAM
 * ListUsers, with its published signing key and signature. */
static void test_documented_example(lua_State *L) {
    LUA(L,
        "local result = assert(sigv4.sign(with{\n"
        "  url = 'https://iam.amazonaws.com/?Action=ListUsers&Version=2010-05-08',\n"
        "  headers = {['Content-Type'] = 'application/x-www-form-urlencoded; charset=utf-8'},\n"
        "  service = 'iam',\n"
        "}))\n"
        "eq(hex(signing_key(SECRET, '20150830', 'us-east-1', 'iam')),\n"
        "   'c4afb1cc5771d871763a393e44b703571b55cc28424d1a5e86da6ed3c154a4b9', 'documented key')\n"
        "eq(crypto.sha256_hex(result.canonical_request),\n"
        "   'f536975d06c0309214f805bb90ccff089219ecd68b2577efef23edd43b7e1a59', 'creq hash')\n"
        "eq(result.signature,\n"
        "   '5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7', 'signature')\n");
}

/* S3 signs the path encoded once (double_encode = false), not once more than on the wire:
 * the canonical URI is the key as AWS encodes it (every byte but A-Za-z0-9-._~, the slashes
 * kept), whether the URL spells it encoded or not. */
static void test_s3_path_encoding(lua_State *L) {
    LUA(L,
        "local cases = {\n"
        /* Keys with a space, UTF-8 (ü) and '%', as an SDK sends them, and raw. */
        "  {'/examplebucket/my%20file%20%C3%BC%25.txt', "
        "'/examplebucket/my%20file%20%C3%BC%25.txt',\n"
        "   '/examplebucket/my%2520file%2520%25C3%25BC%2525.txt'},\n"
        "  {'/examplebucket/my file \\xC3\\xBC.txt', '/examplebucket/my%20file%20%C3%BC.txt',\n"
        "   '/examplebucket/my%20file%20%C3%BC.txt'},\n"
        /* The forward slash in a key is not encoded (AWS S3 API reference). */
        "  {'/photos/Jan/sample.jpg', '/photos/Jan/sample.jpg', '/photos/Jan/sample.jpg'},\n"
        /* Any spelling of an encoded byte signs as AWS encodes it. */
        "  {'/a%3ab%7Ec~d', '/a%3Ab~c~d', '/a%253ab%257Ec~d'},\n"
        "  {'/a+b=c$d', '/a%2Bb%3Dc%24d', '/a%2Bb%3Dc%24d'},\n"
        "  {'/a%2Bb', '/a%2Bb', '/a%252Bb'},\n"
        /* An encoded slash stays inside its segment. */
        "  {'/a%2Fb', '/a%2Fb', '/a%252Fb'},\n"
        /* A '%' without two hex digits after it stands for itself. */
        "  {'/100%', '/100%25', '/100%25'}, {'/a%4', '/a%254', '/a%254'},\n"
        "  {'/a%zz', '/a%25zz', '/a%25zz'},\n"
        "}\n"
        "for _, case in ipairs(cases) do\n"
        "  eq(sigv4.canonical_uri(case[1], false, false), case[2], 'single ' .. case[1])\n"
        "  eq(sigv4.canonical_uri(case[1], false), case[3], 'double ' .. case[1])\n"
        "  eq(sigv4.canonical_uri(case[1], false, true), case[3], 'double=true ' .. case[1])\n"
        "end\n"
        /* S3 does not normalize: the key keeps its empty and dot segments. */
        "eq(sigv4.canonical_uri('//my-object//example//photo.user', false, false),\n"
        "   '//my-object//example//photo.user', 'S3 key with repeated slashes')\n"
        "eq(sigv4.canonical_uri('/a/./b/../c%20d', false, false), '/a/./b/../c%20d', 'dots kept')\n"
        /* The two switches are independent. */
        "eq(sigv4.canonical_uri('/a/./b/../c%20d', true, false), '/a/c%20d', 'normalized once')\n"
        "eq(sigv4.canonical_uri('', false, false), '/', 'empty path')\n");
    /* The examples of the Amazon S3 API reference (sig-v4-header-based-auth.html and
     * sigv4-query-string-auth.html), with their published signatures. The PUT's key holds '$',
     * which S3 signs encoded once: the default (double) encoding gives another signature. */
    LUA(L,
        "local s3 = {access_key_id = 'AKIAIOSFODNN7EXAMPLE',\n"
        "  secret_access_key = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY'}\n"
        "local function s3_options(changes)\n"
        "  local options = with{service = 's3', credentials = s3, time = '20130524T000000Z',\n"
        "    normalize_path = false, double_encode = false}\n"
        "  for k, v in pairs(changes) do options[k] = v end\n"
        "  return options\n"
        "end\n"
        "local put = {method = 'PUT', body = 'Welcome to Amazon S3.', content_sha256_header = "
        "true,\n"
        "  headers = {{'Date', 'Fri, 24 May 2013 00:00:00 GMT'},\n"
        "             {'x-amz-storage-class', 'REDUCED_REDUNDANCY'}}}\n"
        "for _, url in ipairs({'https://examplebucket.s3.amazonaws.com/test%24file.text',\n"
        "                      'https://examplebucket.s3.amazonaws.com/test$file.text'}) do\n"
        "  put.url = url\n"
        "  local r = assert(sigv4.sign(s3_options(put)))\n"
        "  eq(lines(r.canonical_request)[2], '/test%24file.text', 'PUT canonical URI of ' .. url)\n"
        "  eq(r.signed_headers, 'date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class',\n"
        "     'PUT signed headers')\n"
        "  eq(r.signature, '98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd',\n"
        "     'PUT signature for ' .. url)\n"
        "  eq(reference_signature(r, s3.secret_access_key, 'us-east-1', 's3'), r.signature, "
        "'ref')\n"
        "end\n"
        "put.url, put.double_encode = 'https://examplebucket.s3.amazonaws.com/test%24file.text', "
        "true\n"
        "local double = assert(sigv4.sign(s3_options(put)))\n"
        "eq(lines(double.canonical_request)[2], '/test%2524file.text', 'encoded twice')\n"
        "assert(double.signature ~= "
        "'98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd')\n"
        "local get = assert(sigv4.sign(s3_options{url = "
        "'https://examplebucket.s3.amazonaws.com/test.txt',\n"
        "  headers = {Range = 'bytes=0-9'}, content_sha256_header = true}))\n"
        "eq(get.signature, 'f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41',\n"
        "   'GET Object signature')\n"
        "local presigned = assert(sigv4.presign(s3_options{\n"
        "  url = 'https://examplebucket.s3.amazonaws.com/test.txt', expires = 86400,\n"
        "  payload_hash = 'UNSIGNED-PAYLOAD'}))\n"
        "eq(presigned.signature, "
        "'aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404',\n"
        "   'presigned GET signature')\n"
        "raises(\"'double_encode'\", sigv4.sign, with{double_encode = 'no'})\n");
}

static void test_headers(lua_State *L) {
    /* Map and pair list sign the same; names are lower-cased and sorted, values trimmed with
     * inner whitespace (folded lines too) squeezed, repeats joined in their order. */
    LUA(L, "local as_map = assert(sigv4.sign(with{headers = {\n"
           "  ['My-Header'] = '  a   b \\t c  ', ['Content-Length'] = 13}}))\n"
           "local as_list = assert(sigv4.sign(with{headers = {\n"
           "  {'content-length', '13'}, {'MY-HEADER', 'a b c'}}}))\n"
           "eq(as_map.canonical_request, as_list.canonical_request, 'map and list agree')\n"
           "local l = lines(as_map.canonical_request)\n"
           "eq(l[4], 'content-length:13', 'number value')\n"
           "eq(l[5], 'host:example.amazonaws.com', 'host from the URL')\n"
           "eq(l[6], 'my-header:a b c', 'trimmed and squeezed')\n"
           "eq(l[9], 'content-length;host;my-header;x-amz-date', 'signed list')\n"
           "local folded = assert(sigv4.sign(with{headers = {\n"
           "  {'X-B', 'value1\\r\\n  value2\\n\\tvalue3'}, {'x-a', '2'}, {'X-A', ' 1 '},\n"
           "  {'X-A', ''}, {'x-c', '\"a   b\"'}}}))\n"
           "l = lines(folded.canonical_request)\n"
           "eq(l[5], 'x-a:2,1,', 'repeats joined in order, empty value kept')\n"
           "eq(l[7], 'x-b:value1 value2 value3', 'folded lines')\n"
           "eq(l[8], 'x-c:\"a b\"', 'squeezed inside quotes too')\n");
    /* Host: from the URL as a client sends it, or the caller's own. */
    LUA(L, "local function host_of(url, headers)\n"
           "  local result = assert(sigv4.sign(with{url = url, headers = headers}))\n"
           "  return lines(result.canonical_request)[4]\n"
           "end\n"
           "eq(host_of('https://h.example:443/'), 'host:h.example', 'default https port')\n"
           "eq(host_of('http://h.example:80/'), 'host:h.example', 'default http port')\n"
           "eq(host_of('https://h.example:80/'), 'host:h.example:80', 'http port on https')\n"
           "eq(host_of('HTTP://127.0.0.1:9001/x'), 'host:127.0.0.1:9001', 'port kept')\n"
           "eq(host_of('https://[::1]:9001/'), 'host:[::1]:9001', 'IPv6')\n"
           "eq(host_of('https://[::1]/'), 'host:[::1]', 'IPv6, default port')\n"
           "eq(host_of('https://h.example:/'), 'host:h.example', 'empty port')\n"
           "eq(host_of('https://H.Example/'), 'host:H.Example', 'case kept')\n"
           "eq(host_of('https://h.example/', {HOST = 'other:8443'}), 'host:other:8443', 'given')\n"
           "local r = assert(sigv4.sign(with{url = 'https://h.example'}))\n"
           "eq(lines(r.canonical_request)[2], '/', 'no path')\n"
           "r = assert(sigv4.sign(with{url = 'https://h.example?b=2&a=1#frag'}))\n"
           "eq(lines(r.canonical_request)[3], 'a=1&b=2', 'query without a path')\n"
           "r = assert(sigv4.sign(with{url = 'https://h.example/p#x?y=1'}))\n"
           "eq(lines(r.canonical_request)[3], '', 'fragment dropped')\n");
    /* signed_headers, omit_session_token, content_sha256_header, payload_hash. */
    LUA(L, "local headers = {{'X-Amz-Invocation-Type', 'Event'}, {'User-Agent', 'test/1'}}\n"
           "local r = assert(sigv4.sign(with{headers = headers,\n"
           "  signed_headers = {'X-Amz-Invocation-Type'}}))\n"
           "eq(r.signed_headers, 'host;x-amz-date;x-amz-invocation-type', 'chosen + required')\n"
           "assert(not r.canonical_request:find('user-agent'), 'unsigned header left out')\n"
           "eq(reference_signature(r, SECRET, 'us-east-1', 'service'), r.signature, 'signature')\n"
           "raises(\"no header 'x-missing'\", sigv4.sign, with{headers = headers,\n"
           "  signed_headers = {'x-missing'}})\n"
           "raises('signed_headers', sigv4.sign, with{signed_headers = {42}})\n"
           "local credentials = {access_key_id = 'AKID', secret_access_key = 'secret',\n"
           "  session_token = 'tok'}\n"
           "r = assert(sigv4.sign(with{credentials = credentials, omit_session_token = true}))\n"
           "eq(r.signed_headers, 'host;x-amz-date', 'token not signed')\n"
           "eq(r.headers[3][1], 'X-Amz-Security-Token', 'token still sent')\n"
           "eq(r.headers[3][2], 'tok', 'token value')\n"
           "credentials.session_token = ''\n"
           "r = assert(sigv4.sign(with{credentials = credentials}))\n"
           "eq(#r.headers, 2, 'an empty token is no token')\n"
           "r = assert(sigv4.sign(with{body = 'Param1=value1', content_sha256_header = true}))\n"
           "local hash = crypto.sha256_hex('Param1=value1')\n"
           "eq(r.signed_headers, 'host;x-amz-content-sha256;x-amz-date', 'content hash signed')\n"
           "eq(r.headers[3][1], 'X-Amz-Content-Sha256', 'content hash header')\n"
           "eq(r.headers[3][2], hash, 'content hash value')\n"
           "eq(lines(r.canonical_request)[9], hash, 'payload line')\n"
           "r = assert(sigv4.sign(with{payload_hash = 'UNSIGNED-PAYLOAD', normalize_path = false,\n"
           "  url = 'https://bucket.s3.amazonaws.com//my-object//example//photo.user'}))\n"
           "eq(lines(r.canonical_request)[2], '//my-object//example//photo.user', 'S3 path')\n"
           "eq(lines(r.canonical_request)[8], 'UNSIGNED-PAYLOAD', 'unsigned payload')\n"
           "r = assert(sigv4.sign(with{payload_hash = hash}))\n"
           "eq(lines(r.canonical_request)[8], hash, 'given payload hash')\n"
           "r = assert(sigv4.sign(with{}))\n"
           "eq(lines(r.canonical_request)[8], crypto.sha256_hex(''), 'no body')\n");
}

/* The derived key is cached per (secret, date, region, service): every combination, also after
 * evictions from the small cache, must sign as a fresh derivation does. */
static void test_key_cache(lua_State *L) {
    LUA(L,
        "local secrets = {SECRET, 'other-secret', SECRET .. 'x'}\n"
        "local dates = {'20150830T123600Z', '20150831T000000Z', '20210511T154045Z'}\n"
        "local regions = {'us-east-1', 'eu-west-1'}\n"
        "for round = 1, 2 do\n"
        "  for _, secret in ipairs(secrets) do\n"
        "    for _, date in ipairs(dates) do\n"
        "      for _, region in ipairs(regions) do\n"
        "        local r = assert(sigv4.sign(with{time = date, region = region,\n"
        "          credentials = {access_key_id = 'AKID', secret_access_key = secret}}))\n"
        "        eq(r.signature, reference_signature(r, secret, region, 'service'),\n"
        "           secret .. ' ' .. date .. ' ' .. region .. ' round ' .. round)\n"
        "      end\n"
        "    end\n"
        "  end\n"
        "end\n"
        /* The same options twice in a row (a cache hit) sign the same. */
        "local a = assert(sigv4.sign(with{})).signature\n"
        "eq(assert(sigv4.sign(with{})).signature, a, 'repeatable')\n"
        "local t0 = os.time()\n"
        "local now = assert(sigv4.sign(without('time'))).amz_date\n"
        "local t1 = os.time()\n"
        "assert(now == os.date('!%Y%m%dT%H%M%SZ', t0) or now == os.date('!%Y%m%dT%H%M%SZ', t1),\n"
        "       'default time is now: ' .. now)\n");
}

static void test_presign(lua_State *L) {
    LUA(L,
        "local credentials = {access_key_id = 'AKIDEXAMPLE', secret_access_key = SECRET,\n"
        "  session_token = 'a/b+c='}\n"
        "local r = assert(sigv4.presign(with{url = 'https://example.amazonaws.com/p?z=1#f',\n"
        "  credentials = credentials, expires = 60, headers = {['X-Custom'] = 'v'}}))\n"
        "local prefix = 'https://example.amazonaws.com/p?z=1&X-Amz-Algorithm=AWS4-HMAC-SHA256'\n"
        "  .. '&X-Amz-Credential=AKIDEXAMPLE%2F20150830%2Fus-east-1%2Fservice%2Faws4_request'\n"
        "  .. '&X-Amz-Date=20150830T123600Z&X-Amz-SignedHeaders=host%3Bx-custom'\n"
        "  .. '&X-Amz-Expires=60&X-Amz-Security-Token=a%2Fb%2Bc%3D&X-Amz-Signature='\n"
        "eq(r.url, prefix .. r.signature, 'presigned URL')\n"
        "eq(lines(r.canonical_request)[3], 'X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential='\n"
        "  .. 'AKIDEXAMPLE%2F20150830%2Fus-east-1%2Fservice%2Faws4_request&X-Amz-Date='\n"
        "  .. '20150830T123600Z&X-Amz-Expires=60&X-Amz-Security-Token=a%2Fb%2Bc%3D'\n"
        "  .. '&X-Amz-SignedHeaders=host%3Bx-custom&z=1', 'canonical query')\n"
        "eq(r.signed_headers, 'host;x-custom', 'no x-amz-date header')\n"
        "eq(r.headers, nil, 'no headers to add')\n"
        "eq(reference_signature(r, SECRET, 'us-east-1', 'service'), r.signature, 'signature')\n"
        "r = assert(sigv4.presign(with{credentials = credentials, omit_session_token = true}))\n"
        "assert(r.url:find('&X-Amz-Expires=900&X-Amz-Security-Token=a%2Fb%2Bc%3D&', 1, true),\n"
        "       'default expiry, token in the URL: ' .. r.url)\n"
        "assert(not r.canonical_request:find('Security', 1, true), 'token not signed')\n"
        "raises(\"'content_sha256_header'\", sigv4.presign, with{content_sha256_header = true})\n"
        "raises(\"'expires'\", sigv4.presign, with{expires = 0})\n"
        "raises(\"'expires'\", sigv4.presign, with{expires = 604801})\n"
        "raises(\"'expires'\", sigv4.presign, with{expires = '60'})\n");
}

static void test_bad_options(lua_State *L) {
    LUA(L, "raises('bad argument #1', sigv4.sign, nil)\n"
           "raises(\"'method'\", sigv4.sign, with{method = false})\n"
           "raises(\"'method'\", sigv4.sign, with{method = 'GET /'})\n"
           "raises(\"'url'\", sigv4.sign, with{url = 42})\n"
           "raises(\"'service'\", sigv4.sign, without('service'))\n"
           "raises(\"'region'\", sigv4.sign, with{region = 'us/east'})\n"
           "raises(\"'region'\", sigv4.sign, with{region = ''})\n"
           "raises(\"'credentials'\", sigv4.sign, with{credentials = 'AKID:secret'})\n"
           "raises(\"'credentials.access_key_id'\", sigv4.sign,\n"
           "  with{credentials = {secret_access_key = SECRET}})\n"
           "raises(\"'credentials.access_key_id'\", sigv4.sign,\n"
           "  with{credentials = {access_key_id = 'AK ID', secret_access_key = SECRET}})\n"
           "raises(\"'credentials.session_token'\", sigv4.sign,\n"
           "  with{credentials = {access_key_id = 'AKID', secret_access_key = SECRET,\n"
           "                      session_token = 1}})\n"
           "raises(\"'time'\", sigv4.sign, with{time = '2015-08-30T12:36:00Z'})\n"
           "raises(\"'time'\", sigv4.sign, with{time = '20151330T123600Z'})\n"
           "raises(\"'time'\", sigv4.sign, with{time = -1})\n"
           "raises(\"'time'\", sigv4.sign, with{time = 1.5})\n"
           "eq(assert(sigv4.sign(with{time = 1440938160.0})).amz_date, '20150830T123600Z', 'x.0')\n"
           "raises('exclude each other', sigv4.sign, with{body = '', payload_hash = "
           "'UNSIGNED-PAYLOAD'})\n"
           "raises(\"'payload_hash'\", sigv4.sign, with{payload_hash = string.rep('A', 64)})\n"
           "raises(\"'payload_hash'\", sigv4.sign, with{payload_hash = 'UNSIGNED-PAYLOAD\\0'})\n"
           "raises(\"'body'\", sigv4.sign, with{body = {}})\n"
           "raises(\"'normalize_path'\", sigv4.sign, with{normalize_path = 'no'})\n"
           /* A misspelt option is not ignored: it would change the signature silently. */
           "raises(\"unknown field 'normalise_path'\", sigv4.sign, with{normalise_path = false})\n"
           "raises(\"unknown field 'expire'\", sigv4.presign, with{expire = 60})\n"
           "raises('unknown field', sigv4.sign, with{[1] = 'GET'})\n"
           /* The credentials may carry more (lambda.aws's have an expiration). */
           "assert(sigv4.sign(with{credentials = {access_key_id = 'AKID',\n"
           "  secret_access_key = SECRET, expiration = 1700000000, source = 'env'}}))\n"
           "raises(\"'headers'\", sigv4.sign, with{headers = 'Host: x'})\n"
           "raises(\"invalid header name 'bad name'\", sigv4.sign, with{headers = {['bad name'] = "
           "'v'}})\n"
           "raises('header name must be a string', sigv4.sign, with{headers = {[true] = 'v'}})\n"
           "raises('headers[2]', sigv4.sign, with{headers = {{'a', 'b'}, 'c'}})\n"
           "raises(\"header 'X-A' must have a string value\", sigv4.sign, with{headers = {['X-A'] "
           "= {}}})\n"
           "raises(\"'X-Amz-Date' is added by the signer\", sigv4.sign,\n"
           "  with{headers = {['X-Amz-Date'] = '20150830T123600Z'}})\n"
           "raises(\"'authorization' is added by the signer\", sigv4.sign,\n"
           "  with{headers = {{'authorization', 'x'}}})\n"
           "raises('x-amz-content-sha256', sigv4.sign, with{content_sha256_header = true,\n"
           "  headers = {{'x-amz-content-sha256', 'UNSIGNED-PAYLOAD'}}})\n"
           /* Without content_sha256_header the caller may send that header (S3 does). */
           "assert(sigv4.sign(with{headers = {{'x-amz-content-sha256', 'UNSIGNED-PAYLOAD'}}}))\n");
    /* No message, for any failure, quotes the secret. */
    LUA(L, "local secret = 'TOPSECRET-' .. string.rep('k', 30)\n"
           "local function check(options)\n"
           "  local ok, a, b = pcall(sigv4.sign, options)\n"
           "  local message = tostring(ok and b or a)\n"
           "  assert(not message:find('TOPSECRET', 1, true), 'secret leaked: ' .. message)\n"
           "end\n"
           "local credentials = {access_key_id = 'AKID', secret_access_key = secret}\n"
           "check(with{credentials = credentials, url = 'ftp://x/'})\n"
           "check(with{credentials = credentials, region = 42})\n"
           "check(with{credentials = {access_key_id = 'AKID', secret_access_key = {secret}}})\n"
           "check(with{credentials = {access_key_id = 'AKID',\n"
           "  secret_access_key = secret .. string.rep('x', 1024)}})\n"
           "raises(\"'credentials.secret_access_key'\", sigv4.sign, with{credentials =\n"
           "  {access_key_id = 'AKID', secret_access_key = secret .. string.rep('x', 1024)}})\n");
    /* A URL that cannot be parsed is an expected failure: nil, message, "input", "url". */
    LUA(L, "local bad = {\n"
           "  {'ftp://h/', 'scheme must be http or https'},\n"
           "  {'lambda.us-east-1.amazonaws.com/x', 'not an absolute URL'},\n"
           "  {'https:///x', 'missing host'},\n"
           "  {'https://:443/x', 'missing host'},\n"
           "  {'https://user:pw@h/', 'user information'},\n"
           "  {'https://h:99999/', 'port is out of range'},\n"
           "  {'https://h:0/', 'port is out of range'},\n"
           "  {'https://h:8o/', 'port is not a number'},\n"
           "  {'https://h/\\r\\nX-Injected: 1', 'control character'},\n"
           "  {'https://h\\0/', 'control character'},\n"
           "  {'https://[::1/', 'malformed IPv6 address'},\n"
           "  {'https://[::1]x/', 'malformed IPv6 address'},\n"
           "  {'https://h st/', 'invalid character in the host name'},\n"
           "}\n"
           "for _, case in ipairs(bad) do\n"
           "  local result, message, kind, detail = sigv4.sign(with{url = case[1]})\n"
           "  eq(result, nil, 'rejects ' .. case[1])\n"
           "  local expected = \"field 'url': \" .. case[2]\n"
           "  eq(message:sub(1, #expected), expected, 'message for ' .. case[1])\n"
           "  eq(kind .. ' ' .. detail, 'input url', 'kind and detail for ' .. case[1])\n"
           "  result, message, kind, detail = sigv4.presign(with{url = case[1]})\n"
           "  eq(result, nil, 'presign rejects ' .. case[1])\n"
           "  eq(kind .. ' ' .. detail, 'input url', 'presign: kind and detail for ' .. case[1])\n"
           "end\n");
}

int main(void) {
    lua_State *L = check_new_state();
    test_canonical_uri(L);
    test_canonical_query(L);
    test_lambda_invoke(L);
    test_documented_example(L);
    test_s3_path_encoding(L);
    test_headers(L);
    test_key_cache(L);
    test_presign(L);
    test_bad_options(L);
    lua_close(L);
    return check_report("test_sigv4");
}
