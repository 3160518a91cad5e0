/* Unit tests of lambda.xml through the Lua API: the STS answers in fixtures/aws/sts, the tree
 * shape, xml.find, malformed documents and hostile ones (entities, deep nesting). */
#include <lauxlib.h>
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "host/modules.h"

/* Stack slots: the module table, and the root element of the test at hand once parsed. */
#define MODULE 1
#define ROOT 2

#define STS_NS "https://sts.amazonaws.com/doc/2011-06-15/"

/* xml.decode(text): 1 with the root element on top, or 0 with the error message on top. */
static int parse(lua_State *L, const char *text, size_t length) {
    int top = lua_gettop(L);
    lua_getfield(L, MODULE, "decode");
    lua_pushlstring(L, text, length);
    lua_call(L, 1, LUA_MULTRET);
    if (lua_isnil(L, top + 1)) { /* nil, message, "input" */
        CHECK(lua_gettop(L) == top + 3 && lua_type(L, -2) == LUA_TSTRING);
        CHECK(lua_type(L, -1) == LUA_TSTRING && strcmp(lua_tostring(L, -1), "input") == 0);
        lua_pop(L, 1);
        lua_remove(L, -2);
        return 0;
    }
    CHECK(lua_gettop(L) == top + 1 && lua_type(L, -1) == LUA_TTABLE); /* exactly one result */
    return 1;
}

#define PARSE(literal) parse(L, literal, sizeof literal - 1)

/* Values below the ROOT element by path: '/' separates the parts, all-digit ones index
 * children. */
#define push_path(L, path) check_push_path(L, ROOT, '/', path)
#define string_is(L, path, expected) check_string_at(L, ROOT, '/', path, expected)
#define is_nil(L, path) (check_type_at(L, ROOT, '/', path) == LUA_TNIL)

/* The element at path has `expected` children. */
static int children_are(lua_State *L, const char *path, lua_Integer expected) {
    int ok = push_path(L, path) == LUA_TTABLE && (lua_Integer)lua_rawlen(L, -1) == expected;
    lua_pop(L, 1);
    return ok;
}

/* The text is only whitespace (the indentation between child elements). */
static int is_blank_text(lua_State *L, const char *path) {
    int ok = push_path(L, path) == LUA_TSTRING &&
             strspn(lua_tostring(L, -1), " \t\r\n") == lua_rawlen(L, -1);
    lua_pop(L, 1);
    return ok;
}

/* xml.find(element on top, names...) equals `expected` (NULL: nil). */
static int find_is(lua_State *L, const char *expected, int count, const char *const *names) {
    int element = lua_gettop(L);
    lua_getfield(L, MODULE, "find");
    lua_pushvalue(L, element);
    for (int i = 0; i < count; i++)
        lua_pushstring(L, names[i]);
    lua_call(L, count + 1, 1);
    int ok = expected ? lua_type(L, -1) == LUA_TSTRING && strcmp(lua_tostring(L, -1), expected) == 0
                      : lua_isnil(L, -1);
    if (!ok)
        fprintf(stderr, "  find %s...: expected %s, got %s\n", count ? names[0] : "",
                expected ? expected : "nil", luaL_tolstring(L, -1, NULL));
    lua_settop(L, element);
    return ok;
}

#define FIND_IS(expected, ...)                                                                     \
    find_is(L, expected, (int)(sizeof(const char *[]){__VA_ARGS__} / sizeof(const char *)),        \
            (const char *[]){__VA_ARGS__})

/* parse fails with exactly this message. */
static int error_is(lua_State *L, const char *text, size_t length, const char *expected) {
    int top = lua_gettop(L);
    int ok = check_failed_with(L, !parse(L, text, length), expected, CHECK_WHOLE);
    lua_settop(L, top);
    return ok;
}

#define ERROR_IS(literal, expected) CHECK(error_is(L, literal, sizeof literal - 1, expected))

/* Parses fixtures/aws/sts/<name>, leaving the root element on top; or returns 0. */
static int parse_fixture(lua_State *L, const char *name) {
    if (!check_push_source_file(L, "fixtures/aws/sts", name))
        return 0;
    size_t length;
    const char *text = lua_tolstring(L, -1, &length);
    int ok = parse(L, text, length);
    if (!ok)
        fprintf(stderr, "  %s: %s\n", name, lua_tostring(L, -1));
    lua_remove(L, -2);
    if (!ok)
        lua_pop(L, 1);
    return ok;
}

static void test_assume_role(lua_State *L) {
    if (!CHECK(parse_fixture(L, "assume-role.xml")))
        return;
    CHECK(string_is(L, "name", "AssumeRoleResponse"));
    CHECK(string_is(L, "ns", STS_NS));
    CHECK(children_are(L, "", 2));
    CHECK(is_blank_text(L, "text"));
    CHECK(string_is(L, "1/name", "AssumeRoleResult"));
    CHECK(string_is(L, "1/ns", STS_NS));
    CHECK(children_are(L, "1", 4));
    CHECK(string_is(L, "1/3/name", "Credentials"));
    CHECK(string_is(L, "1/3/1/name", "AccessKeyId"));
    CHECK(string_is(L, "1/3/1/text", "ASIAIOSFODNN7EXAMPLE"));
    CHECK(children_are(L, "1/3/1", 0));
    CHECK(string_is(L, "2/1/text", "5b7e1c2a-0f3d-4e8a-9c1b-2d4f6a8b0c1e"));
    /* xmlns is a namespace declaration, not an attribute. */
    CHECK(push_path(L, "attributes") == LUA_TTABLE);
    lua_pushnil(L);
    CHECK(lua_next(L, -2) == 0);
    lua_pop(L, 1);
    CHECK(FIND_IS("ASIAIOSFODNN7EXAMPLE", "AssumeRoleResult", "Credentials", "AccessKeyId"));
    CHECK(FIND_IS("wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY", "AssumeRoleResult", "Credentials",
                  "SecretAccessKey"));
    CHECK(FIND_IS("IQoJb3JpZ2luX2VjEXAMPLE/Session+Token==", "AssumeRoleResult", "Credentials",
                  "SessionToken"));
    CHECK(FIND_IS("2024-05-01T12:30:00Z", "AssumeRoleResult", "Credentials", "Expiration"));
    CHECK(FIND_IS("arn:aws:sts::123456789012:assumed-role/deploy/cargo-lambda", "AssumeRoleResult",
                  "AssumedRoleUser", "Arn"));
    CHECK(FIND_IS("5b7e1c2a-0f3d-4e8a-9c1b-2d4f6a8b0c1e", "ResponseMetadata", "RequestId"));
    /* Paths start at the children of the element given, and must match all the way. */
    CHECK(FIND_IS(NULL, "AssumeRoleResponse", "AssumeRoleResult"));
    CHECK(FIND_IS(NULL, "Credentials", "AccessKeyId"));
    CHECK(FIND_IS(NULL, "AssumeRoleResult", "Credentials", "AccessKeyId", "More"));
    CHECK(FIND_IS(NULL, "AssumeRoleResult", "credentials", "AccessKeyId"));
    lua_pop(L, 1);
}

static void test_assume_role_with_web_identity(lua_State *L) {
    if (!CHECK(parse_fixture(L, "assume-role-with-web-identity.xml")))
        return;
    CHECK(string_is(L, "name", "AssumeRoleWithWebIdentityResponse"));
    static const char *const result = "AssumeRoleWithWebIdentityResult";
    CHECK(FIND_IS("ASIAJ7Q2EXAMPLEWEBID", result, "Credentials", "AccessKeyId"));
    CHECK(FIND_IS("AQoDYXdzEE0a8ANXXXXXXXXNO1ewxE5TijQyp+IEXAMPLE", result, "Credentials",
                  "SessionToken"));
    CHECK(FIND_IS("2024-05-01T13:00:00Z", result, "Credentials", "Expiration"));
    CHECK(FIND_IS("system:serviceaccount:ci:deployer", result, "SubjectFromWebIdentityToken"));
    CHECK(FIND_IS("sts.amazonaws.com", result, "Audience"));
    lua_pop(L, 1);
}

static void test_error_response(lua_State *L) {
    if (!CHECK(parse_fixture(L, "error-access-denied.xml")))
        return;
    CHECK(string_is(L, "name", "ErrorResponse"));
    CHECK(FIND_IS("Sender", "Error", "Type"));
    CHECK(FIND_IS("AccessDenied", "Error", "Code"));
    CHECK(FIND_IS("User: arn:aws:iam::123456789012:user/dev is not authorized to perform: "
                  "sts:AssumeRole on resource: arn:aws:iam::123456789012:role/deploy",
                  "Error", "Message"));
    CHECK(FIND_IS("0d3a7e4c-6b1f-4c8e-a2d5-9f0b1e3c5a7d", "RequestId"));
    CHECK(FIND_IS(NULL, "AssumeRoleResult", "Credentials", "AccessKeyId"));
    lua_pop(L, 1);
}

static void test_tree(lua_State *L) {
    if (CHECK(PARSE("<?xml version='1.0'?>\n<!-- comment -->\n"
                    "<root a='1' b=\"two &amp; &#x33;\" xmlns:x='urn:x' x:c='see'>"
                    "head<?pi data?><child/>mid<!-- c --><![CDATA[<raw> & ]]>"
                    "<x:child x:d='4'>&lt;inner&gt;</x:child>tail &#233;</root>\n"))) {
        CHECK(string_is(L, "name", "root"));
        CHECK(is_nil(L, "ns"));
        CHECK(string_is(L, "attributes/a", "1"));
        CHECK(string_is(L, "attributes/b", "two & 3"));
        CHECK(string_is(L, "attributes/{urn:x}c", "see"));
        CHECK(is_nil(L, "attributes/xmlns:x"));
        /* Own character data only, CDATA included, children's left out. */
        CHECK(string_is(L, "text", "headmid<raw> & tail \xC3\xA9"));
        CHECK(children_are(L, "", 2));
        CHECK(string_is(L, "1/name", "child"));
        CHECK(string_is(L, "1/text", ""));
        CHECK(is_nil(L, "1/ns"));
        CHECK(string_is(L, "2/name", "child"));
        CHECK(string_is(L, "2/ns", "urn:x"));
        CHECK(string_is(L, "2/attributes/{urn:x}d", "4"));
        CHECK(string_is(L, "2/text", "<inner>"));
        /* Names match the local name whatever the namespace; the first full match wins. */
        CHECK(FIND_IS("", "child"));
        lua_pop(L, 1);
    }
    /* find goes on to the next candidate when a path breaks off below the first. */
    if (CHECK(PARSE("<r><c><x>1</x></c><c><k>first</k></c><c><k>second</k></c></r>"))) {
        CHECK(FIND_IS("first", "c", "k"));
        CHECK(FIND_IS("1", "c", "x"));
        CHECK(FIND_IS(NULL, "c", "y"));
        /* No names: the element's own text. */
        lua_getfield(L, MODULE, "find");
        push_path(L, "2/1");
        lua_call(L, 1, 1);
        CHECK(lua_type(L, -1) == LUA_TSTRING && strcmp(lua_tostring(L, -1), "first") == 0);
        lua_pop(L, 2);
    }
    /* Documents in other encodings come out as UTF-8. */
    if (CHECK(PARSE("<?xml version='1.0' encoding='ISO-8859-1'?><a b='\xE9'>caf\xE9</a>"))) {
        CHECK(string_is(L, "text", "caf\xC3\xA9"));
        CHECK(string_is(L, "attributes/b", "\xC3\xA9"));
        lua_pop(L, 1);
    }
    static const char utf16[] = "\xFF\xFE<\0a\0>\0x\0<\0/\0a\0>\0";
    if (CHECK(parse(L, utf16, sizeof utf16 - 1))) {
        CHECK(string_is(L, "text", "x"));
        lua_pop(L, 1);
    }
    /* Character data arrives in many pieces; all of it is kept, in order. */
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    luaL_addstring(&b, "<big>");
    for (int i = 0; i < 20000; i++)
        luaL_addstring(&b, i % 2 ? "line\n" : "<!-- -->&amp;");
    luaL_addstring(&b, "</big>");
    luaL_pushresult(&b);
    size_t length;
    const char *text = lua_tolstring(L, -1, &length);
    if (CHECK(parse(L, text, length))) {
        lua_getfield(L, -1, "text");
        CHECK(lua_rawlen(L, -1) == 10000 * 6);
        CHECK(strncmp(lua_tostring(L, -1), "&line\n&line\n", 12) == 0);
        lua_pop(L, 2);
    }
    lua_pop(L, 1);
}

static void test_malformed(lua_State *L) {
    ERROR_IS("", "line 1, column 1: no element found");
    ERROR_IS("   \n", "line 2, column 1: no element found");
    ERROR_IS("<a><b></a>", "line 1, column 9: mismatched tag");
    ERROR_IS("<a>\n  <b>\n", "line 3, column 1: no element found");
    ERROR_IS("<a/><b/>", "line 1, column 5: junk after document element");
    ERROR_IS("<a>&nope;</a>", "line 1, column 4: undefined entity");
    ERROR_IS("<a b='1' b='2'/>", "line 1, column 10: duplicate attribute");
    ERROR_IS("<a>\x01</a>", "line 1, column 4: not well-formed (invalid token)");
    ERROR_IS("<a>\xFF</a>", "line 1, column 4: not well-formed (invalid token)");
    ERROR_IS("<x:a/>", "line 1, column 1: unbound prefix");
    ERROR_IS("<?xml version='1.0' encoding='EBCDIC-XYZ'?><a/>",
             "line 1, column 31: unknown encoding");
    static const char with_nul[] = "<a>\0</a>";
    CHECK(error_is(L, with_nul, sizeof with_nul - 1,
                   "line 1, column 4: not well-formed (invalid token)"));
    /* A plain HTML error page, as a proxy might send instead of an STS answer. */
    ERROR_IS("<html><body><p>Bad Gateway<br></body></html>", "line 1, column 33: mismatched tag");
    /* An error carries exactly three results: nil, the message and the kind. */
    lua_getfield(L, MODULE, "decode");
    lua_pushliteral(L, "<a>");
    lua_call(L, 1, LUA_MULTRET);
    CHECK(lua_gettop(L) == 4 && lua_isnil(L, 2) && lua_type(L, 3) == LUA_TSTRING &&
          strcmp(lua_tostring(L, 4), "input") == 0);
    lua_settop(L, MODULE);
}

static void test_hostile(lua_State *L) {
    /* Billion laughs: refused at the first declaration, before anything expands. Expat places
     * a declaration at its value (internal entities) or at its closing '>' (external ones). */
    ERROR_IS("<?xml version='1.0'?>\n"
             "<!DOCTYPE lolz [\n"
             " <!ENTITY lol 'lol'>\n"
             " <!ENTITY lol2 '&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;'>\n"
             " <!ENTITY lol3 '&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;'>\n"
             "]>\n"
             "<lolz>&lol3;</lolz>",
             "line 3, column 15: entity declarations are not allowed");
    /* External entities: no file or URL is read. */
    ERROR_IS("<!DOCTYPE a [<!ENTITY x SYSTEM 'file:///etc/passwd'>]><a>&x;</a>",
             "line 1, column 52: entity declarations are not allowed");
    ERROR_IS("<!DOCTYPE a [<!ENTITY % p SYSTEM 'http://127.0.0.1/evil.dtd'> %p;]><a/>",
             "line 1, column 61: entity declarations are not allowed");
    ERROR_IS("<!DOCTYPE a SYSTEM 'http://127.0.0.1/evil.dtd'><a>&x;</a>",
             "line 1, column 51: reference to an undeclared entity");
    /* A DOCTYPE without entities is harmless and allowed. */
    if (CHECK(PARSE("<!DOCTYPE a [<!ELEMENT a (#PCDATA)>]><a>ok</a>"))) {
        CHECK(string_is(L, "text", "ok"));
        lua_pop(L, 1);
    }
    /* Nesting: 256 levels are fine, 257 are not, and far deeper input fails the same way. */
    enum { LIMIT = 256 };
    static const int depths[] = {LIMIT, LIMIT + 1, 100000};
    for (size_t d = 0; d < sizeof depths / sizeof *depths; d++) {
        int depth = depths[d];
        luaL_Buffer b;
        luaL_buffinit(L, &b);
        for (int i = 0; i < depth; i++)
            luaL_addstring(&b, "<e>");
        luaL_addstring(&b, "deep");
        for (int i = 0; i < depth; i++)
            luaL_addstring(&b, "</e>");
        luaL_pushresult(&b);
        size_t length;
        const char *text = lua_tolstring(L, -1, &length);
        if (depth == LIMIT) {
            if (CHECK(parse(L, text, length))) {
                static const char *path[LIMIT - 1];
                for (int i = 0; i < LIMIT - 1; i++)
                    path[i] = "e";
                CHECK(find_is(L, "deep", LIMIT - 1, path));
                lua_pop(L, 1);
            }
        } else {
            CHECK(error_is(L, text, length,
                           "line 1, column 769: elements nested deeper than 256 levels"));
        }
        lua_pop(L, 1);
    }
}

static void test_arguments(lua_State *L) {
    static const char *const bad_calls[] = {
        "return xml.decode()",
        "return xml.decode({})",
        "return xml.find('<a/>', 'a')",
        "return xml.find({}, {})",
        "local t = {} for i = 1, 300 do t[i] = 'e' end return xml.find({}, table.unpack(t))",
    };
    lua_pushvalue(L, MODULE);
    lua_setglobal(L, "xml");
    for (size_t i = 0; i < sizeof bad_calls / sizeof *bad_calls; i++)
        CHECK_RAISES(L, bad_calls[i]);
    /* Tables that are not elements are simply not matched. */
    CHECK(luaL_dostring(L, "return xml.find({ {name = 1}, {name = 'a'} }, 'a')") == LUA_OK &&
          lua_isnil(L, -1));
    lua_settop(L, MODULE);
    CHECK(luaL_dostring(L, "return xml.find({ {name = 'a', text = 'x'} }, 'a')") == LUA_OK &&
          lua_type(L, -1) == LUA_TSTRING && strcmp(lua_tostring(L, -1), "x") == 0);
    lua_settop(L, MODULE);
    lua_pushnil(L);
    lua_setglobal(L, "xml");
}

int main(void) {
    lua_State *L = check_new_state();
    luaL_requiref(L, "lambda.xml", luaopen_lambda_xml, 0);
    test_assume_role(L);
    test_assume_role_with_web_identity(L);
    test_error_response(L);
    test_tree(L);
    test_malformed(L);
    test_hostile(L);
    test_arguments(L);
    CHECK(lua_gettop(L) == MODULE); /* every test leaves the stack as it found it */
    lua_close(L);
    return check_report("test_xml");
}
