/* Unit tests of lambda.ini through the Lua API: the sample files in fixtures/aws, then one rule
 * of the shared config/credentials format at a time. */
#include <lauxlib.h>
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "host/modules.h"

/* Stack slots: the module table, and the result of the test at hand once parsed. */
#define MODULE 1
#define RESULT 2

/* ini.decode(text, kind): 1 with the result on top, or 0 with the error message on top. */
static int parse(lua_State *L, const char *text, size_t length, const char *kind) {
    lua_getfield(L, MODULE, "decode");
    lua_pushlstring(L, text, length);
    lua_pushstring(L, kind);
    lua_call(L, 2, LUA_MULTRET);
    if (lua_isnil(L, RESULT)) { /* nil, message, "input" */
        CHECK(lua_gettop(L) == RESULT + 2 && lua_type(L, -2) == LUA_TSTRING);
        CHECK(lua_type(L, -1) == LUA_TSTRING && strcmp(lua_tostring(L, -1), "input") == 0);
        lua_pop(L, 1);
        lua_remove(L, -2);
        return 0;
    }
    CHECK(lua_gettop(L) == RESULT && lua_type(L, -1) == LUA_TTABLE); /* exactly one result */
    return 1;
}

#define CONFIG(literal) parse(L, literal, sizeof literal - 1, "config")
#define CREDENTIALS(literal) parse(L, literal, sizeof literal - 1, "credentials")

/* Values in the RESULT by path: '|' separates the parts, as it appears in no name or key. */
#define push_path(L, path) check_push_path(L, RESULT, '|', path)
#define string_is(L, path, expected) check_string_at(L, RESULT, '|', path, expected)
#define is_nil(L, path) (check_type_at(L, RESULT, '|', path) == LUA_TNIL)

/* The value at path is a table with exactly `expected` entries. */
static int count_is(lua_State *L, const char *path, int expected) {
    int count = -1;
    if (push_path(L, path) == LUA_TTABLE) {
        count = 0;
        lua_pushnil(L);
        while (lua_next(L, -2)) {
            count++;
            lua_pop(L, 1);
        }
    }
    lua_pop(L, 1);
    if (count != expected)
        fprintf(stderr, "  %s: expected %d entries, got %d\n", path, expected, count);
    return count == expected;
}

/* parse fails with exactly this message. */
static int error_is(lua_State *L, const char *text, size_t length, const char *kind,
                    const char *expected) {
    int top = lua_gettop(L);
    int ok = check_failed_with(L, !parse(L, text, length, kind), expected, CHECK_WHOLE);
    lua_settop(L, top);
    return ok;
}

#define CONFIG_ERROR(literal, expected)                                                            \
    CHECK(error_is(L, literal, sizeof literal - 1, "config", expected))

/* Parses fixtures/aws/<name> as kind, leaving the result on top; or returns 0. */
static int parse_fixture(lua_State *L, const char *name, const char *kind) {
    if (!check_push_source_file(L, "fixtures/aws", name))
        return 0;
    lua_getfield(L, MODULE, "decode");
    lua_insert(L, -2);
    lua_pushstring(L, kind);
    lua_call(L, 2, 2);
    if (lua_istable(L, -2)) {
        lua_pop(L, 1);
        return 1;
    }
    fprintf(stderr, "  %s: %s\n", name, lua_tostring(L, -1));
    lua_pop(L, 2);
    return 0;
}

static void test_config_file(lua_State *L) {
    if (!CHECK(parse_fixture(L, "config", "config")))
        return;
    CHECK(count_is(L, "profiles", 4));
    CHECK(string_is(L, "profiles|default|region", "us-east-1"));
    CHECK(string_is(L, "profiles|default|output", "json"));
    CHECK(string_is(L, "profiles|dev|role_arn", "arn:aws:iam::123456789012:role/deploy"));
    CHECK(string_is(L, "profiles|dev|role_session_name", "cargo-lambda"));
    CHECK(string_is(L, "profiles|dev|external_id", "a;b#c"));
    CHECK(count_is(L, "profiles|dev", 5));
    CHECK(string_is(L, "profiles|sso-dev|sso_session", "my-sso"));
    CHECK(string_is(L, "profiles|sso-dev|sso_account_id", "111122223333"));
    CHECK(count_is(L, "sso_sessions", 1));
    CHECK(string_is(L, "sso_sessions|my-sso|sso_start_url",
                    "https://my-sso-portal.awsapps.com/start"));
    CHECK(string_is(L, "sso_sessions|my-sso|sso_region", "us-east-1"));
    CHECK(string_is(L, "profiles|localstack|endpoint_url", "http://localhost:4566"));
    CHECK(count_is(L, "profiles|localstack|s3", 2));
    CHECK(string_is(L, "profiles|localstack|s3|addressing_style", "path"));
    CHECK(string_is(L, "profiles|localstack|s3|max_attempts", "3"));
    CHECK(count_is(L, "services", 1));
    CHECK(string_is(L, "services|local-services|lambda|endpoint_url", "http://127.0.0.1:9001"));
    CHECK(string_is(L, "services|local-services|sts|endpoint_url", "http://localhost:4566"));
    CHECK(is_nil(L, "profiles|staging"));
    CHECK(count_is(L, "warnings", 1));
    CHECK(string_is(L, "warnings|1",
                    "line 37: section [staging] ignored: config file profiles are written "
                    "[profile NAME]"));
    lua_pop(L, 1);
}

static void test_credentials_file(lua_State *L) {
    if (!CHECK(parse_fixture(L, "credentials", "credentials")))
        return;
    CHECK(count_is(L, "profiles", 2));
    CHECK(string_is(L, "profiles|default|aws_access_key_id", "AKIAIOSFODNN7EXAMPLE"));
    CHECK(string_is(L, "profiles|default|aws_secret_access_key",
                    "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"));
    CHECK(string_is(L, "profiles|dev|aws_access_key_id", "AKIAI44QH8DHBEXAMPLE"));
    CHECK(string_is(L, "profiles|dev|aws_session_token", "FwoGZXIvYXdzEXAMPLE="));
    CHECK(count_is(L, "profiles|dev", 3)); /* [profile dev] added nothing */
    CHECK(count_is(L, "sso_sessions", 0));
    CHECK(count_is(L, "services", 0));
    CHECK(string_is(L, "warnings|1",
                    "line 12: section [profile dev] ignored: credentials file profiles are "
                    "written [NAME]"));
    CHECK(count_is(L, "warnings", 1));
    lua_pop(L, 1);
}

static void test_section_headers(lua_State *L) {
    if (CHECK(CONFIG("[profile\tone]\n[   profile two   ]\n[profile \t three \t]\n"
                     "[profile  a-Z_0.9/%@:+]\n[profile]\n[profilefour]\n[profile fo!ur]\n"
                     "[profile five]; comment\n[profile six]#comment\n[]\n"))) {
        CHECK(count_is(L, "profiles", 6));
        CHECK(count_is(L, "profiles|one", 0));
        CHECK(count_is(L, "profiles|two", 0));
        CHECK(count_is(L, "profiles|three", 0));
        CHECK(count_is(L, "profiles|a-Z_0.9/%@:+", 0));
        CHECK(count_is(L, "profiles|five", 0));
        CHECK(count_is(L, "profiles|six", 0));
        CHECK(count_is(L, "warnings", 4));
        CHECK(string_is(L, "warnings|1",
                        "line 5: section [profile] ignored: config file profiles are written "
                        "[profile NAME]"));
        CHECK(string_is(L, "warnings|2",
                        "line 6: section [profilefour] ignored: config file profiles are written "
                        "[profile NAME]"));
        CHECK(string_is(L, "warnings|3",
                        "line 7: section [profile fo!ur] ignored: 'fo!ur' is not a valid profile "
                        "name"));
        CHECK(string_is(L, "warnings|4",
                        "line 10: section [] ignored: config file profiles are written [profile "
                        "NAME]"));
        lua_pop(L, 1);
    }
    /* Properties of an ignored section go with it; the next section is read again. */
    if (CHECK(
            CONFIG("[profile a]\nx = 1\n[profile in valid]\nx = 2\n  more\n[profile b]\nx = 3"))) {
        CHECK(string_is(L, "profiles|a|x", "1"));
        CHECK(string_is(L, "profiles|b|x", "3"));
        CHECK(count_is(L, "profiles", 2));
        CHECK(count_is(L, "warnings", 1));
        lua_pop(L, 1);
    }
    /* Other section kinds of the config file, and their names. */
    if (CHECK(CONFIG("[sso-session corp]\nsso_region = eu-west-1\n[services  dev ]\n"
                     "[sso-sessioncorp]\n[sso-session bad name]\n[services]\n"))) {
        CHECK(string_is(L, "sso_sessions|corp|sso_region", "eu-west-1"));
        CHECK(count_is(L, "sso_sessions", 1));
        CHECK(count_is(L, "services|dev", 0));
        CHECK(count_is(L, "services", 1));
        CHECK(count_is(L, "profiles", 0));
        CHECK(count_is(L, "warnings", 3));
        CHECK(string_is(L, "warnings|2",
                        "line 5: section [sso-session bad name] ignored: 'bad name' is not a "
                        "valid sso-session name"));
        lua_pop(L, 1);
    }
    /* Duplicate sections merge, the later value of a key winning. */
    if (CHECK(CONFIG("[profile a]\nx = 1\ny = 1\n[profile b]\n[profile a]\nY = 2\nz = 2\n"))) {
        CHECK(string_is(L, "profiles|a|x", "1"));
        CHECK(string_is(L, "profiles|a|y", "2"));
        CHECK(string_is(L, "profiles|a|z", "2"));
        CHECK(count_is(L, "profiles|a", 3));
        lua_pop(L, 1);
    }
    /* A NUL byte is no name character. */
    static const char nul_name[] = "[profile a\0b]\n[c\0d]\n";
    if (CHECK(parse(L, nul_name, sizeof nul_name - 1, "config"))) {
        CHECK(count_is(L, "profiles", 0));
        CHECK(count_is(L, "warnings", 2));
        lua_pop(L, 1);
    }
    if (CHECK(parse(L, nul_name, sizeof nul_name - 1, "credentials"))) {
        CHECK(count_is(L, "profiles", 0));
        lua_pop(L, 1);
    }
    /* Long names are cut short in warnings. */
    static const char long_name[] = "[profile aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
                                    "aaaaaaaaaaaaaaaaaaaaaaaaaaa!]";
    if (CHECK(CONFIG(long_name))) {
        char expected[256];
        const char *a = long_name + 9;
        snprintf(expected, sizeof expected,
                 "line 1: section [profile %.56s...] ignored: '%.64s...' is not a valid profile "
                 "name",
                 a, a);
        CHECK(string_is(L, "warnings|1", expected));
        lua_pop(L, 1);
    }
}

static void test_credentials_sections(lua_State *L) {
    if (!CHECK(CREDENTIALS("[ one ]\nx = 1\n[profile two]\nx = 2\n[sso-sessionthree]\n"
                           "[sso-session four]\n[default]\nx = 5\n[services five]\n")))
        return;
    CHECK(string_is(L, "profiles|one|x", "1"));
    CHECK(count_is(L, "profiles|sso-sessionthree", 0));
    CHECK(string_is(L, "profiles|default|x", "5"));
    CHECK(count_is(L, "profiles", 3));
    CHECK(count_is(L, "sso_sessions", 0));
    CHECK(count_is(L, "services", 0));
    CHECK(count_is(L, "warnings", 3));
    CHECK(string_is(L, "warnings|1",
                    "line 3: section [profile two] ignored: credentials file profiles are "
                    "written [NAME]"));
    CHECK(string_is(L, "warnings|2",
                    "line 6: section [sso-session four] ignored: 'sso-session four' is not a "
                    "valid profile name"));
    lua_pop(L, 1);
}

static void test_default_profile(lua_State *L) {
    /* [profile default] wins over [default], before or after it. */
    if (CHECK(CONFIG("[profile default]\na = 1\n[default]\nb = 2\n"))) {
        CHECK(string_is(L, "profiles|default|a", "1"));
        CHECK(count_is(L, "profiles|default", 1));
        CHECK(string_is(L, "warnings|1",
                        "line 3: section [default] ignored: [profile default] takes precedence"));
        lua_pop(L, 1);
    }
    if (CHECK(CONFIG("[foo]\n[default]\nb = 2\n[bar]\n[profile default]\na = 1\n[default]\n"
                     "c = 3\n[profile default]\nd = 4\n"))) {
        CHECK(string_is(L, "profiles|default|a", "1"));
        CHECK(string_is(L, "profiles|default|d", "4"));
        CHECK(count_is(L, "profiles|default", 2));
        /* One warning for [default], in line order among the others. */
        CHECK(count_is(L, "warnings", 3));
        CHECK(string_is(L, "warnings|1",
                        "line 1: section [foo] ignored: config file profiles are written "
                        "[profile NAME]"));
        CHECK(string_is(L, "warnings|2",
                        "line 2: section [default] ignored: [profile default] takes precedence"));
        CHECK(string_is(L, "warnings|3",
                        "line 4: section [bar] ignored: config file profiles are written "
                        "[profile NAME]"));
        lua_pop(L, 1);
    }
    /* Alone, and written twice, [default] is the default profile. */
    if (CHECK(CONFIG("[ default ]\na = 1\n[profile x]\n[default]\nb = 2\n"))) {
        CHECK(string_is(L, "profiles|default|a", "1"));
        CHECK(string_is(L, "profiles|default|b", "2"));
        CHECK(count_is(L, "warnings", 0));
        lua_pop(L, 1);
    }
}

static void test_properties(lua_State *L) {
    if (!CHECK(CONFIG("[profile p]\n"
                      "equals = a=b==\n"
                      "empty =\n"
                      "spaced \t=  \tvalue \t\n"
                      "Mixed_Case = 1\n"
                      "mixed_case = 2\n"
                      "pound = value # comment with # sign\n"
                      "semicolon = value ; comment\n"
                      "tab = value\t;comment\n"
                      "adjacent = value;kept\n"
                      "adjacent2 = value#kept\n"
                      "empty_comment = value ;\n"
                      "only_comment = # nothing\n"
                      "unicode = h\xC3\xA9llo \xF0\x9F\x98\x82\n"
                      "ABCxyz019-_ = all\n"
                      "in valid = dropped\n"
                      "this.is/ok:too = kept\n")))
        return;
    CHECK(string_is(L, "profiles|p|equals", "a=b=="));
    CHECK(string_is(L, "profiles|p|empty", ""));
    CHECK(string_is(L, "profiles|p|spaced", "value"));
    CHECK(string_is(L, "profiles|p|mixed_case", "2"));
    CHECK(is_nil(L, "profiles|p|Mixed_Case"));
    CHECK(string_is(L, "profiles|p|pound", "value"));
    CHECK(string_is(L, "profiles|p|semicolon", "value"));
    CHECK(string_is(L, "profiles|p|tab", "value"));
    CHECK(string_is(L, "profiles|p|adjacent", "value;kept"));
    CHECK(string_is(L, "profiles|p|adjacent2", "value#kept"));
    CHECK(string_is(L, "profiles|p|empty_comment", "value"));
    CHECK(string_is(L, "profiles|p|only_comment", ""));
    CHECK(string_is(L, "profiles|p|unicode", "h\xC3\xA9llo \xF0\x9F\x98\x82"));
    CHECK(string_is(L, "profiles|p|abcxyz019-_", "all"));
    CHECK(string_is(L, "profiles|p|this.is/ok:too", "kept"));
    CHECK(count_is(L, "warnings", 1));
    CHECK(string_is(L, "warnings|1",
                    "line 16: property 'in valid' ignored: not a valid property name"));
    lua_pop(L, 1);
}

static void test_continuations(lua_State *L) {
    if (CHECK(CONFIG("[profile p]\n"
                     "name = value\n"
                     " -continued\n"
                     "\n"
                     "# a comment line does not end the value\n"
                     " \t -and continued \t \n"
                     "\t# comment ; kept\n"
                     "next = x\n"))) {
        CHECK(
            string_is(L, "profiles|p|name", "value\n-continued\n-and continued\n# comment ; kept"));
        CHECK(string_is(L, "profiles|p|next", "x"));
        lua_pop(L, 1);
    }
    /* Continuing a property that is being ignored is not an error. */
    if (CHECK(CONFIG("[foo]\nx = 1\n  more\n[profile p]\nbad! = 1\n  more\n"))) {
        CHECK(count_is(L, "profiles|p", 0));
        lua_pop(L, 1);
    }
    CONFIG_ERROR("[profile foo]\n -continued", "line 2: indented line continues no property");
    CONFIG_ERROR("[profile foo]\nname = value\n[profile foo]\n -continued",
                 "line 4: indented line continues no property");
    CONFIG_ERROR(" -continued", "line 1: indented line outside of any [section]");
}

static void test_subproperties(lua_State *L) {
    if (CHECK(CONFIG("[profile p]\n"
                     "s3 =\n"
                     "  Addressing_Style = virtual\n"
                     "\t \n"
                     "  use_accelerate_endpoint =\n"
                     "  in valid = kept # not a comment\n"
                     "  url = http://x/?a=b\n"
                     "region = eu-west-3\n"
                     "[profile p]\n"
                     "dynamodb = \n"
                     "  endpoint_url = http://localhost:8000\n"))) {
        CHECK(count_is(L, "profiles|p|s3", 4));
        CHECK(string_is(L, "profiles|p|s3|addressing_style", "virtual"));
        CHECK(string_is(L, "profiles|p|s3|use_accelerate_endpoint", ""));
        CHECK(string_is(L, "profiles|p|s3|in valid", "kept # not a comment"));
        CHECK(string_is(L, "profiles|p|s3|url", "http://x/?a=b"));
        CHECK(string_is(L, "profiles|p|region", "eu-west-3"));
        CHECK(string_is(L, "profiles|p|dynamodb|endpoint_url", "http://localhost:8000"));
        CHECK(count_is(L, "warnings", 0));
        lua_pop(L, 1);
    }
    /* A later plain value replaces a sub-property table (last one wins). */
    if (CHECK(CONFIG("[profile p]\ns3 =\n  a = 1\ns3 = flat\n"))) {
        CHECK(string_is(L, "profiles|p|s3", "flat"));
        lua_pop(L, 1);
    }
    CONFIG_ERROR("[profile foo]\ns3 =\n invalid",
                 "line 3: expected 'subkey = value' in a sub-property block, found no '='");
    CONFIG_ERROR("[profile foo]\ns3 =\n  a = 1\n = value",
                 "line 4: sub-property without a name before '='");
}

static void test_line_ends_and_encoding(lua_State *L) {
    if (CHECK(CREDENTIALS("\xEF\xBB\xBF[default]\r\naws_access_key_id = AKID\r\n\r\n"
                          "multi = a\r\n  b\r\n[x]\r"))) {
        CHECK(string_is(L, "profiles|default|aws_access_key_id", "AKID"));
        CHECK(string_is(L, "profiles|default|multi", "a\nb"));
        CHECK(count_is(L, "profiles|x", 0));
        lua_pop(L, 1);
    }
    /* Bytes are passed through: a NUL inside a value stays. */
    static const char with_nul[] = "[a]\nk = x\0y\n";
    if (CHECK(parse(L, with_nul, sizeof with_nul - 1, "credentials"))) {
        size_t length = 0;
        push_path(L, "profiles|a|k");
        const char *value = lua_tolstring(L, -1, &length);
        CHECK(value && length == 3 && memcmp(value, "x\0y", 3) == 0);
        lua_pop(L, 2);
    }
    if (CHECK(CONFIG(""))) {
        CHECK(count_is(L, "profiles", 0));
        CHECK(count_is(L, "warnings", 0));
        lua_pop(L, 1);
    }
    if (CHECK(CONFIG("\n  \n\t\n# only comments\n; here\n"))) {
        CHECK(count_is(L, "profiles", 0));
        lua_pop(L, 1);
    }
}

static void test_errors(lua_State *L) {
    CONFIG_ERROR("name = value", "line 1: property outside of any [section]");
    CONFIG_ERROR("# comment\n\nname = value", "line 3: property outside of any [section]");
    CONFIG_ERROR("[profile foo", "line 1: section header must end with ']'");
    CONFIG_ERROR("[profile foo] junk", "line 1: section header must end with ']'");
    CONFIG_ERROR("[profile a;b]", "line 1: section header must end with ']'");
    CONFIG_ERROR("[", "line 1: section header must end with ']'");
    CONFIG_ERROR("[profile foo]\r\nx = 1\r\n= value", "line 3: property without a name before '='");
    CONFIG_ERROR("[profile foo]\nkey : value", "line 2: expected 'key = value', found no '='");
    /* A line with a comment cut off before its '=' has no '='. */
    CONFIG_ERROR("[profile foo]\nkey ;= value", "line 2: expected 'key = value', found no '='");
    /* Even in an ignored section, a broken line breaks the file (as in every SDK). */
    CONFIG_ERROR("[ignored]\nbroken", "line 2: expected 'key = value', found no '='");
    /* The message never repeats the line: in a credentials file it may hold a secret. */
    static const char secret[] = "[default]\naws_secret_access_key wJalrXUtnFEMIEXAMPLE\n";
    CHECK(error_is(L, secret, sizeof secret - 1, "credentials",
                   "line 2: expected 'key = value', found no '='"));
}

static void test_arguments(lua_State *L) {
    static const char *const bad_calls[] = {
        "return ini.decode('[a]', 'profile')",
        "return ini.decode('[a]')",
        "return ini.decode({}, 'config')",
    };
    lua_pushvalue(L, MODULE);
    lua_setglobal(L, "ini");
    for (size_t i = 0; i < sizeof bad_calls / sizeof *bad_calls; i++)
        CHECK_RAISES(L, bad_calls[i]);
    CHECK(luaL_dostring(L, "return ini.decode(42, 'credentials')") == LUA_OK && lua_isnil(L, -3) &&
          strcmp(lua_tostring(L, -2), "line 1: property outside of any "
                                      "[section]") == 0 &&
          strcmp(lua_tostring(L, -1), "input") == 0);
    lua_settop(L, MODULE);
    lua_pushnil(L);
    lua_setglobal(L, "ini");
}

int main(void) {
    lua_State *L = check_new_state();
    luaL_requiref(L, "lambda.ini", luaopen_lambda_ini, 0);
    test_config_file(L);
    test_credentials_file(L);
    test_section_headers(L);
    test_credentials_sections(L);
    test_default_profile(L);
    test_properties(L);
    test_continuations(L);
    test_subproperties(L);
    test_line_ends_and_encoding(L);
    test_errors(L);
    test_arguments(L);
    CHECK(lua_gettop(L) == MODULE); /* every test leaves the stack as it found it */
    lua_close(L);
    return check_report("test_ini");
}
