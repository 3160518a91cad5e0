/* lambda.xml: XML documents, such as the answers of AWS STS, read with expat into Lua tables.
 *
 *   xml.decode(text)             -> element | nil, "line L, column C: message", "input"
 *                                   | nil, "cannot load libexpat: ...", "io"
 *   xml.find(element, name, ...) -> the text of the first element reached through children
 *                                   with these local names, in document order; or nil
 *
 *   element = { name = local name, ns = namespace URI (nil without one),
 *               attributes = { [name] = value }, text = its own character data,
 *               [1], [2], ... = child elements }
 *
 * Attributes in a namespace are keyed "{uri}name". `text` concatenates the character data
 * directly inside the element (not its children's), untrimmed.
 *
 * The input is untrusted (it comes off the network): entity declarations are refused, so no
 * entity can expand or point outside the document, and nesting is limited. Expat loads no
 * external entity unless given a handler for them, and none is given. */
#include <lauxlib.h>
#include <stdlib.h>
#include <string.h>

#include "host/modules.h"
#include "xml/expat.h"

/* Elements become nested Lua tables held on the Lua stack while open; deeper documents are
 * rejected rather than allowed to exhaust it. */
#define MAX_DEPTH 256

/* Expat reports a namespaced name as "URI<separator>local". Expat refuses namespace URIs that
 * contain the separator, so the first one splits the name unambiguously. */
#define NS_SEPARATOR '\n'

/* Stack slots of xml_decode. Open elements are pushed above SLOT_ERROR, innermost on top. */
enum { SLOT_INPUT = 1, SLOT_ROOT, SLOT_ERROR };

/* Why the parser was stopped early. */
enum stop { NOT_STOPPED, REFUSED, LUA_FAILED, OUT_OF_MEMORY };

/* A Lua error must not unwind through expat: Debian's expat leaks what a parse had allocated
 * when a handler longjmps out of it, even after XML_ParserFree. So handlers call the Lua API
 * only through lua_pcall (or functions that cannot raise), stop the parser on failure, and
 * xml_decode raises the error once expat is freed. */
struct xml_reader {
    lua_State *L;
    const struct expat_api *expat;
    XML_Parser parser;
    /* Character data of the open elements, as a stack: an element's text runs from its start
     * offset to the end, since the text of any child is cut off again when the child closes. */
    char *text;
    size_t text_length, text_capacity;
    size_t text_start[MAX_DEPTH];
    int depth;
    const XML_Char *name, **attributes; /* the start tag being turned into a table */
    enum stop stop;
    const char *refusal;                   /* why the document was refused */
    XML_Size refusal_line, refusal_column; /* where: the event that was refused */
};

static void stop(struct xml_reader *R, enum stop why) {
    if (R->stop == NOT_STOPPED)
        R->stop = why;
    R->expat->XML_StopParser(R->parser, XML_FALSE);
}

/* Inside a handler expat reports the position of the event; once stopped, a later one. */
static void refuse(struct xml_reader *R, const char *why) {
    if (R->stop != NOT_STOPPED)
        return;
    R->refusal = why;
    R->refusal_line = R->expat->XML_GetCurrentLineNumber(R->parser);
    R->refusal_column = R->expat->XML_GetCurrentColumnNumber(R->parser);
    stop(R, REFUSED);
}

/* Calls the function and arguments pushed, keeping any error in SLOT_ERROR. */
static int call_protected(struct xml_reader *R, int arguments, int results) {
    if (lua_pcall(R->L, arguments, results, 0) == LUA_OK)
        return 1;
    lua_replace(R->L, SLOT_ERROR);
    stop(R, LUA_FAILED);
    return 0;
}

/* Sets fields `ns` and `name` of the table on top from an expat name. */
static void set_name(lua_State *L, const char *name) {
    const char *separator = strchr(name, NS_SEPARATOR);
    if (separator) {
        lua_pushlstring(L, name, (size_t)(separator - name));
        lua_setfield(L, -2, "ns");
        name = separator + 1;
    }
    lua_pushstring(L, name);
    lua_setfield(L, -2, "name");
}

static void push_attribute_name(lua_State *L, const char *name) {
    const char *separator = strchr(name, NS_SEPARATOR);
    if (!separator) {
        lua_pushstring(L, name);
        return;
    }
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    luaL_addchar(&b, '{');
    luaL_addlstring(&b, name, (size_t)(separator - name));
    luaL_addchar(&b, '}');
    luaL_addstring(&b, separator + 1);
    luaL_pushresult(&b);
}

/* Protected: (reader) -> a new element table for the start tag in R->name, R->attributes. */
static int new_element(lua_State *L) {
    struct xml_reader *R = lua_touserdata(L, 1);
    lua_createtable(L, 0, 4);
    set_name(L, R->name);
    lua_newtable(L);
    for (const XML_Char **a = R->attributes; a[0]; a += 2) {
        push_attribute_name(L, a[0]);
        lua_pushstring(L, a[1]);
        lua_rawset(L, -3);
    }
    lua_setfield(L, -2, "attributes");
    return 1;
}

/* Protected: (reader, element, parent or nil): sets the element's text from the text stack and
 * appends it to its parent's children. */
static int finish_element(lua_State *L) {
    struct xml_reader *R = lua_touserdata(L, 1);
    size_t start = R->text_start[R->depth - 1];
    lua_pushlstring(L, R->text + start, R->text_length - start);
    lua_setfield(L, 2, "text");
    if (!lua_isnil(L, 3)) {
        lua_pushvalue(L, 2);
        lua_rawseti(L, 3, (lua_Integer)lua_rawlen(L, 3) + 1);
    }
    return 0;
}

static void XMLCALL start_element(void *user_data, const XML_Char *name, const XML_Char **atts) {
    struct xml_reader *R = user_data;
    lua_State *L = R->L;
    if (R->stop != NOT_STOPPED)
        return;
    if (R->depth == MAX_DEPTH) {
        refuse(R, "elements nested deeper than 256 levels");
        return;
    }
    if (!lua_checkstack(L, 6)) { /* the element, and room to call finish_element for it */
        stop(R, OUT_OF_MEMORY);
        return;
    }
    R->name = name;
    R->attributes = atts;
    lua_pushcfunction(L, new_element);
    lua_pushlightuserdata(L, R);
    if (call_protected(R, 1, 1))
        R->text_start[R->depth++] = R->text_length;
}

static void XMLCALL end_element(void *user_data, const XML_Char *name) {
    struct xml_reader *R = user_data;
    lua_State *L = R->L;
    (void)name; /* expat has checked that it matches the start tag */
    if (R->stop != NOT_STOPPED)
        return;
    int element = lua_gettop(L);
    lua_pushcfunction(L, finish_element);
    lua_pushlightuserdata(L, R);
    lua_pushvalue(L, element);
    if (R->depth > 1)
        lua_pushvalue(L, element - 1);
    else
        lua_pushnil(L);
    if (!call_protected(R, 3, 0))
        return;
    R->text_length = R->text_start[--R->depth];
    if (R->depth == 0)
        lua_replace(L, SLOT_ROOT);
    else
        lua_pop(L, 1);
}

static void XMLCALL character_data(void *user_data, const XML_Char *data, int length) {
    struct xml_reader *R = user_data;
    if (R->stop != NOT_STOPPED || R->depth == 0 || length <= 0)
        return;
    size_t needed = R->text_length + (size_t)length;
    if (needed > R->text_capacity) {
        size_t capacity = R->text_capacity ? R->text_capacity : 256;
        while (capacity < needed)
            capacity *= 2;
        char *grown = realloc(R->text, capacity);
        if (!grown) {
            stop(R, OUT_OF_MEMORY);
            return;
        }
        R->text = grown;
        R->text_capacity = capacity;
    }
    memcpy(R->text + R->text_length, data, (size_t)length);
    R->text_length = needed;
}

/* Entities are the only way a small document can grow huge or reach outside itself, and
 * nothing this reads needs them: the predefined ones and character references still work. */
static void XMLCALL entity_declaration(void *user_data, const XML_Char *entity_name,
                                       int is_parameter_entity, const XML_Char *value,
                                       int value_length, const XML_Char *base,
                                       const XML_Char *system_id, const XML_Char *public_id,
                                       const XML_Char *notation_name) {
    (void)entity_name, (void)is_parameter_entity, (void)value, (void)value_length, (void)base;
    (void)system_id, (void)public_id, (void)notation_name;
    refuse(user_data, "entity declarations are not allowed");
}

/* Called for references to entities that an external DTD might declare; expat would drop them
 * silently, losing text. */
static void XMLCALL skipped_entity(void *user_data, const XML_Char *entity_name,
                                   int is_parameter_entity) {
    (void)entity_name, (void)is_parameter_entity;
    refuse(user_data, "reference to an undeclared entity");
}

static XML_Parser new_parser(struct xml_reader *R) {
    const struct expat_api *X = R->expat;
    XML_Parser parser = X->XML_ParserCreateNS(NULL, NS_SEPARATOR);
    if (!parser)
        return NULL;
    X->XML_SetUserData(parser, R);
    X->XML_SetElementHandler(parser, start_element, end_element);
    X->XML_SetCharacterDataHandler(parser, character_data);
    X->XML_SetEntityDeclHandler(parser, entity_declaration);
    X->XML_SetSkippedEntityHandler(parser, skipped_entity);
    X->XML_SetParamEntityParsing(parser, XML_PARAM_ENTITY_PARSING_NEVER);
    /* Unreachable with entity declarations refused; kept in case that ever changes. */
    X->XML_SetBillionLaughsAttackProtectionMaximumAmplification(parser, 10.0f);
    X->XML_SetBillionLaughsAttackProtectionActivationThreshold(parser, 1 << 20);
    return parser;
}

static int xml_decode(lua_State *L) {
    size_t remaining;
    const char *p = luaL_checklstring(L, 1, &remaining);
    const char *load_error;
    const struct expat_api *X = expat_api(&load_error);
    if (!X) {
        luaL_pushfail(L);
        lua_pushstring(L, load_error);
        lua_pushliteral(L, "io");
        return 3;
    }
    struct xml_reader R = {.L = L, .expat = X};
    lua_settop(L, SLOT_INPUT);
    lua_pushnil(L); /* SLOT_ROOT */
    lua_pushnil(L); /* SLOT_ERROR */
    R.parser = new_parser(&R);
    if (!R.parser)
        return luaL_error(L, "not enough memory");
    enum XML_Status status;
    do { /* XML_Parse takes an int length */
        int chunk = remaining > (1 << 24) ? (1 << 24) : (int)remaining;
        remaining -= (size_t)chunk;
        status = X->XML_Parse(R.parser, p, chunk, remaining == 0);
        p += chunk;
    } while (status == XML_STATUS_OK && remaining > 0);
    XML_Size line = R.refusal_line, column = R.refusal_column;
    const char *message = R.refusal;
    if (status != XML_STATUS_OK && R.stop == NOT_STOPPED) {
        line = X->XML_GetCurrentLineNumber(R.parser);
        column = X->XML_GetCurrentColumnNumber(R.parser);
        message = X->XML_ErrorString(X->XML_GetErrorCode(R.parser));
    }
    X->XML_ParserFree(R.parser);
    free(R.text);
    if (R.stop == LUA_FAILED) {
        lua_settop(L, SLOT_ERROR);
        return lua_error(L);
    }
    if (R.stop == OUT_OF_MEMORY)
        return luaL_error(L, "not enough memory");
    if (status != XML_STATUS_OK || R.stop == REFUSED) {
        luaL_pushfail(L);
        lua_pushfstring(L, "line %I, column %I: %s", (lua_Integer)line, (lua_Integer)column + 1,
                        message);
        lua_pushliteral(L, "input");
        return 3;
    }
    lua_settop(L, SLOT_ROOT);
    return 1;
}

/* With the element at `element` on the stack: pushes the text of the first element reached from
 * it through children named by the arguments first..last, and returns 1; or returns 0 having
 * pushed nothing. Each element is visited at most once (its depth fixes the name it is compared
 * with), so the search is linear in the size of the tree. */
static int find_path(lua_State *L, int element, int first, int last) {
    if (first > last) {
        if (lua_getfield(L, element, "text") == LUA_TSTRING)
            return 1;
        lua_pop(L, 1);
        return 0;
    }
    for (lua_Integer i = 1; lua_rawgeti(L, element, i) == LUA_TTABLE; i++) {
        int child = lua_gettop(L);
        lua_getfield(L, child, "name");
        int matches = lua_rawequal(L, -1, first);
        lua_pop(L, 1);
        if (matches && find_path(L, child, first + 1, last)) {
            lua_remove(L, child);
            return 1;
        }
        lua_settop(L, child - 1);
    }
    lua_pop(L, 1);
    return 0;
}

static int xml_find(lua_State *L) {
    int last = lua_gettop(L);
    luaL_checktype(L, 1, LUA_TTABLE);
    luaL_argcheck(L, last - 1 <= MAX_DEPTH, MAX_DEPTH + 2, "too many names");
    for (int i = 2; i <= last; i++)
        luaL_checkstring(L, i);
    luaL_checkstack(L, 3 * last + LUA_MINSTACK, "xml.find path");
    if (!find_path(L, 1, 2, last))
        lua_pushnil(L);
    return 1;
}

int luaopen_lambda_xml(lua_State *L) {
    static const luaL_Reg functions[] = {
        {"decode", xml_decode},
        {"find", xml_find},
        {NULL, NULL},
    };
    luaL_newlib(L, functions);
    return 1;
}
