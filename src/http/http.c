/* lambda.http: one HTTP request per call.
 *
 * This file is the Lua binding: it reads and checks the caller's options into a struct
 * http_call, hands it to one of two engines (engine.h: the plain engine for loopback
 * http, libcurl for the rest) and turns the struct http_result into Lua values. The call's
 * C allocations live in a to-be-closed userdata, so a Lua error raised at any point, while
 * reading the options or while building the result, frees them; the engines never raise.
 *
 * Called from a task (lua/lambda/task.lua), the same request goes on the lambda.event loop
 * instead of blocking, and the task waits for it (task.c); the options are read and the
 * result built by the same code here.
 *
 * With opts.on_body the engines hand each piece of the body over as it arrives
 * (http_body_fn): the function is called from inside the engine, in protected mode, on the
 * caller's thread (blocking) or the loop's (from a task). An error it raises stops the
 * transfer and is kept; request() raises it once the engine has returned, so that it never
 * unwinds through libcurl or the plain engine. While it runs, request() is refused, and a
 * request of a task closed meanwhile is cancelled only once it has returned (task.c). */
#include <lauxlib.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/ascii.h"
#include "common/luax.h"
#include "host/modules.h"
#include "http/binding.h"

#define STATE_METATABLE "lambda.http.state"
/* Registry key of the state: one per Lua state, however often the module is loaded. */
#define STATE_KEY "lambda.http.instance"

/* Stack indices in request(). */
#define OPTIONS 1
#define REQUEST 2
#define ANCHOR 3

void http_result_free(struct http_result *result) {
    bytes_free(&result->head);
    bytes_free(&result->body);
    bytes_free(&result->sent_head);
}

void http_request_free_parts(lua_State *L, struct http_request *r) {
    free(r->headers);
    r->headers = NULL;
    r->header_count = r->header_capacity = 0;
    http_result_free(&r->result);
    if (L) {
        luaL_unref(L, LUA_REGISTRYINDEX, r->on_body_ref);
        luaL_unref(L, LUA_REGISTRYINDEX, r->body_response_ref);
        luaL_unref(L, LUA_REGISTRYINDEX, r->body_error_ref);
        r->on_body_ref = r->body_response_ref = r->body_error_ref = LUA_NOREF;
    }
}

static int request_release(lua_State *L) {
    struct http_request *r = luaL_checkudata(L, 1, REQUEST_METATABLE);
    if (!http_task_cancel_now(r))
        return 0; /* task.c releases it once the on_body callback running now returns */
    http_task_cancel(L, r);
    http_request_free_parts(L, r);
    return 0;
}

static int state_release(lua_State *L) {
    struct http_state *state = luaL_checkudata(L, 1, STATE_METATABLE);
    http_task_state_closing(L, state);
    http_plain_pool_free(state->pool);
    http_curl_share_free(state->share);
    state->pool = NULL;
    state->share = NULL;
    return 0;
}

/* ---- reading the options table (argument 1) ---- */

static int bad_field(lua_State *L, const char *field, const char *expected) {
    return luaL_argerror(
        L, 1,
        lua_pushfstring(L, "field '%s' must be %s, got %s", field, expected, luaL_typename(L, -1)));
}

/* Keeps the string on top of the stack alive as long as the request (the caller may change
 * its table while a request from a task is under way) and pops it. */
static void anchor(lua_State *L, struct http_request *r) {
    lua_rawseti(L, ANCHOR, ++r->anchored);
}

/* opts[field] as a string (NULL when nil), anchored. */
static const char *string_field(lua_State *L, struct http_request *r, const char *field,
                                size_t *length) {
    int type = lua_getfield(L, OPTIONS, field);
    const char *text = NULL;
    if (type == LUA_TSTRING)
        text = lua_tolstring(L, -1, length);
    else if (type != LUA_TNIL)
        bad_field(L, field, "a string");
    anchor(L, r);
    return text;
}

/* opts[field] as a number of seconds; 0 when nil. */
static double seconds_field(lua_State *L, const char *field) {
    int type = lua_getfield(L, OPTIONS, field);
    double seconds = 0;
    if (type != LUA_TNIL) {
        int is_number;
        seconds = (double)lua_tonumberx(L, -1, &is_number);
        if (!is_number)
            bad_field(L, field, "a number of seconds");
        if (!(seconds >= 0) || isinf(seconds))
            luaL_argerror(L, 1, lua_pushfstring(L, "field '%s' must be 0 or more", field));
    }
    lua_pop(L, 1);
    return seconds;
}

/* Adds the header whose name and value are at the given stack indices, both anchored (a
 * number value is converted to a new string). */
static void add_header(lua_State *L, struct http_request *r, int name_index, int value_index) {
    size_t name_length, value_length;
    if (lua_type(L, name_index) != LUA_TSTRING)
        luaL_argerror(L, 1,
                      lua_pushfstring(L, "header name must be a string, got %s",
                                      luaL_typename(L, name_index)));
    const char *name = lua_tolstring(L, name_index, &name_length);
    if (!ascii_is_token(name, name_length))
        luaL_argerror(L, 1, lua_pushfstring(L, "invalid header name '%s'", name));
    if (!lua_isstring(L, value_index))
        luaL_argerror(L, 1,
                      lua_pushfstring(L, "header '%s' must have a string value, got %s", name,
                                      luaL_typename(L, value_index)));
    lua_pushvalue(L, value_index);
    const char *value = lua_tolstring(L, -1, &value_length);
    if (strcspn(value, "\r\n") != value_length)
        luaL_argerror(L, 1,
                      lua_pushfstring(L, "header '%s' has a line break or NUL in its value", name));
    anchor(L, r);
    lua_pushvalue(L, name_index);
    anchor(L, r);
    if (r->header_count == r->header_capacity) {
        size_t capacity = r->header_capacity ? r->header_capacity * 2 : 8;
        struct http_header *grown = realloc(r->headers, capacity * sizeof *grown);
        if (!grown)
            luaL_error(L, "not enough memory");
        r->headers = grown;
        r->header_capacity = capacity;
    }
    r->headers[r->header_count++] = (struct http_header){name, value};
}

/* opts.headers: a map name -> value, or an array of {name, value} that keeps order and
 * repeats. */
static void read_headers(lua_State *L, struct http_request *r) {
    int type = lua_getfield(L, OPTIONS, "headers");
    if (type == LUA_TTABLE) {
        int headers = lua_gettop(L);
        if (lua_rawgeti(L, headers, 1) != LUA_TNIL) {
            lua_pop(L, 1);
            lua_Integer count = luaL_len(L, headers);
            for (lua_Integer i = 1; i <= count; i++) {
                if (lua_rawgeti(L, headers, i) != LUA_TTABLE)
                    luaL_argerror(
                        L, 1, lua_pushfstring(L, "headers[%I] must be a {name, value} pair", i));
                lua_rawgeti(L, -1, 1);
                lua_rawgeti(L, -2, 2);
                add_header(L, r, -2, -1);
                lua_pop(L, 3);
            }
        } else {
            lua_pop(L, 1);
            lua_pushnil(L);
            while (lua_next(L, headers)) {
                add_header(L, r, -2, -1);
                lua_pop(L, 1);
            }
        }
    } else if (type != LUA_TNIL) {
        bad_field(L, "headers", "a table");
    }
    lua_pop(L, 1);
    r->call.headers = r->headers;
    r->call.header_count = r->header_count;
}

static void read_method_and_body(lua_State *L, struct http_request *r) {
    struct http_call *call = &r->call;
    size_t method_length, body_length = 0;
    call->method = string_field(L, r, "method", &method_length);
    if (!call->method) {
        call->method = "GET";
        method_length = strlen(call->method);
    }
    if (!ascii_is_token(call->method, method_length))
        luaL_argerror(L, 1, lua_pushfstring(L, "invalid method '%s'", call->method));
    call->body = string_field(L, r, "body", &body_length);
    call->body_length = body_length;
    if (call->body && strcmp(call->method, "HEAD") == 0)
        luaL_argerror(L, 1, "a HEAD request cannot have a body");
}

static void read_tls(lua_State *L, struct http_request *r) {
    struct http_call *call = &r->call;
    int type = lua_getfield(L, OPTIONS, "tls");
    if (type == LUA_TNIL) {
        lua_pop(L, 1);
        return;
    }
    if (type != LUA_TTABLE)
        bad_field(L, "tls", "a table");
    int tls = lua_gettop(L);
    static const char *const fields[] = {"cert", "key", "ca", NULL};
    luax_check_fields(L, tls, OPTIONS, "tls.", fields);
    const char **targets[] = {&call->tls_cert, &call->tls_key, &call->tls_ca};
    for (size_t i = 0; i < 3; i++) {
        type = lua_getfield(L, tls, fields[i]);
        if (type != LUA_TNIL && type != LUA_TSTRING)
            luaL_argerror(L, 1,
                          lua_pushfstring(L, "field 'tls.%s' must be a path, got %s", fields[i],
                                          luaL_typename(L, -1)));
        *targets[i] = lua_tostring(L, -1);
        anchor(L, r);
    }
    lua_pop(L, 1);
}

/* Sets result.headers (lower-case names, repeats joined with ", ") and result.header_list
 * ({name, value} pairs as received) from the collected header lines. */
static void set_response_headers(lua_State *L, const struct bytes *head, int result) {
    /* Both tables made at their size (at most a header a line): grown a key at a time, they
     * cost a load run several allocations an answer. */
    int lines = 0;
    for (size_t i = 0; i < head->length; i++)
        lines += head->data[i] == '\n';
    lua_createtable(L, 0, lines);
    int map = lua_gettop(L);
    lua_createtable(L, lines, 0);
    int list = lua_gettop(L);
    lua_Integer count = 0;
    const char *line = head->data, *end = head->data + head->length;
    while (line < end) {
        const char *line_end = memchr(line, '\n', (size_t)(end - line));
        const char *colon = memchr(line, ':', (size_t)(line_end - line));
        if (colon && colon > line) {
            const char *value = colon + 1, *value_end = line_end;
            while (value < value_end && ascii_is_blank(*value))
                value++;
            while (value_end > value && ascii_is_blank(value_end[-1]))
                value_end--;
            lua_createtable(L, 2, 0);
            lua_pushlstring(L, line, (size_t)(colon - line));
            lua_rawseti(L, -2, 1);
            lua_pushlstring(L, value, (size_t)(value_end - value));
            lua_rawseti(L, -2, 2);
            lua_rawseti(L, list, ++count);

            luax_push_lower(L, line, (size_t)(colon - line));
            lua_pushvalue(L, -1);
            if (lua_rawget(L, map) == LUA_TSTRING) {
                lua_pushliteral(L, ", ");
                lua_pushlstring(L, value, (size_t)(value_end - value));
                lua_concat(L, 3);
            } else {
                lua_pop(L, 1);
                lua_pushlstring(L, value, (size_t)(value_end - value));
            }
            lua_rawset(L, map);
        }
        line = line_end + 1;
    }
    lua_setfield(L, result, "header_list");
    lua_setfield(L, result, "headers");
}

static int push_response(lua_State *L, const struct http_result *r, bool trace) {
    lua_createtable(L, 0, 10);
    int result = lua_gettop(L);
    lua_pushinteger(L, r->status);
    lua_setfield(L, result, "status");
    set_response_headers(L, &r->head, result);
    lua_pushlstring(L, r->body.data ? r->body.data : "", r->body.length);
    lua_setfield(L, result, "body");
    lua_pushnumber(L, r->elapsed);
    lua_setfield(L, result, "elapsed");
    lua_pushnumber(L, r->connect_elapsed);
    lua_setfield(L, result, "connect_elapsed");
    lua_pushnumber(L, r->received_at);
    lua_setfield(L, result, "received_at");
    lua_pushstring(L, r->primary_ip);
    lua_setfield(L, result, "primary_ip");
    lua_pushinteger(L, r->primary_port);
    lua_setfield(L, result, "primary_port");
    if (trace) {
        lua_pushlstring(L, r->sent_head.data ? r->sent_head.data : "", r->sent_head.length);
        lua_setfield(L, result, "request_head");
    }
    return 1;
}

/* ---- opts.on_body: the body as it arrives ---- */

struct body_piece {
    struct http_request *r;
    long status;
    const struct bytes *head;
    const char *data;
    size_t length;
};

/* In protected mode on the thread on_body runs on: on_body(piece, response), response being
 * {status, headers, header_list}, built once. What on_body raises is kept for request() to
 * raise when the transfer is over: it must not unwind through the engine. */
static int call_on_body(lua_State *L) {
    struct body_piece *piece = lua_touserdata(L, 1);
    struct http_request *r = piece->r;
    lua_rawgeti(L, LUA_REGISTRYINDEX, r->on_body_ref);
    lua_pushlstring(L, piece->data, piece->length);
    if (r->body_response_ref == LUA_NOREF) {
        lua_createtable(L, 0, 3);
        int response = lua_gettop(L);
        lua_pushinteger(L, piece->status);
        lua_setfield(L, response, "status");
        set_response_headers(L, piece->head, response);
        lua_pushvalue(L, response);
        r->body_response_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    } else {
        lua_rawgeti(L, LUA_REGISTRYINDEX, r->body_response_ref);
    }
    if (lua_pcall(L, 2, 0, 0) != LUA_OK)
        r->body_error_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    return 0;
}

/* The engines' http_body_fn: hands a piece of the body to on_body at once. false (the
 * transfer stops) once on_body has raised, or the request was closed from inside it. */
static bool deliver_body(void *owner, long status, const struct bytes *head, const char *data,
                         size_t length) {
    struct http_request *r = owner;
    if (r->body_error_ref != LUA_NOREF || r->cancel_pending || r->result.out_of_memory)
        return false;
    lua_State *L = r->body_thread ? r->body_thread : http_task_thread(r);
    if (!L || !lua_checkstack(L, 8)) {
        r->result.out_of_memory = true; /* no stack to call it on */
        return false;
    }
    struct body_piece piece = {r, status, head, data, length};
    r->state->in_body_callback++;
    lua_pushcfunction(L, call_on_body);
    lua_pushlightuserdata(L, &piece);
    bool called = lua_pcall(L, 1, 0, 0) == LUA_OK;
    r->state->in_body_callback--;
    if (!called) { /* only memory can have failed outside on_body itself */
        lua_pop(L, 1);
        r->result.out_of_memory = true;
        return false;
    }
    return r->body_error_ref == LUA_NOREF && !r->cancel_pending;
}

void http_raise_body_error(lua_State *L, struct http_request *r) {
    if (r->body_error_ref == LUA_NOREF)
        return;
    lua_rawgeti(L, LUA_REGISTRYINDEX, r->body_error_ref);
    luaL_unref(L, LUA_REGISTRYINDEX, r->body_error_ref);
    r->body_error_ref = LUA_NOREF;
    lua_error(L);
}

static void read_on_body(lua_State *L, struct http_request *r) {
    int type = lua_getfield(L, OPTIONS, "on_body");
    if (type == LUA_TNIL) {
        lua_pop(L, 1);
        return;
    }
    if (type != LUA_TFUNCTION)
        bad_field(L, "on_body", "a function");
    r->on_body_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    r->call.on_body = deliver_body;
    r->call.on_body_owner = r;
}

/* Reads and checks every option into r->call. */
static void read_options(lua_State *L, struct http_request *r) {
    static const char *const known[] = {
        "url", "method", "headers", "body", "timeout", "connect_timeout",
        "tls", "trace",  "on_body", NULL};
    luax_check_fields(L, OPTIONS, OPTIONS, "", known);
    struct http_call *call = &r->call;
    size_t url_length;
    call->url = string_field(L, r, "url", &url_length);
    if (!call->url) {
        lua_getfield(L, OPTIONS, "url");
        bad_field(L, "url", "a string");
    }
    if (strlen(call->url) != url_length)
        luaL_argerror(L, 1, "field 'url' contains a NUL byte");
    call->url_problem = url_parse(call->url, url_length, &call->parts);
    call->timeout = seconds_field(L, "timeout");
    call->connect_timeout = seconds_field(L, "connect_timeout");
    lua_getfield(L, OPTIONS, "trace");
    call->trace = lua_toboolean(L, -1);
    lua_pop(L, 1);
    call->curl_only = r->state->curl_only;
    read_method_and_body(L, r);
    read_headers(L, r);
    read_tls(L, r);
    read_on_body(L, r);
    r->plain = http_plain_accepts(call, &r->target);
}

void http_perform(struct http_state *state, struct http_request *r) {
    r->ok = r->plain ? http_plain_perform(&state->pool, &r->call, &r->target, &r->result)
                     : http_curl_perform(&state->share, &r->call, &r->result);
}

int http_push_outcome(lua_State *L, struct http_request *r) {
    if (r->result.out_of_memory)
        return luaL_error(L, "not enough memory for the request to %s", r->call.url);
    if (!r->ok) {
        luaL_pushfail(L);
        lua_pushfstring(L, "%s: %s", r->call.url, r->result.message);
        /* The library's kinds (docs/scripting.md); how the connection failed is the detail,
         * and the field at fault for a URL that cannot be sent. */
        const char *kind = r->result.failure_kind;
        if (strcmp(kind, "refused") == 0 || strcmp(kind, "resolve") == 0) {
            lua_pushliteral(L, "transport");
            lua_pushstring(L, kind);
            return 4;
        }
        lua_pushstring(L, kind);
        if (strcmp(kind, "input") == 0) {
            lua_pushliteral(L, "url");
            return 4;
        }
        return 3;
    }
    return push_response(L, &r->result, r->call.trace);
}

/* request(opts) -> response | nil, message, kind[, detail]: kind "input" (a URL that cannot be
 * sent; detail "url"), "transport" (detail "refused" or "resolve" when that is what happened),
 * "timeout", "tls" or "io" (libcurl cannot be loaded); raises what opts.on_body raised */
static int http_request(lua_State *L) {
    luaL_checktype(L, OPTIONS, LUA_TTABLE);
    lua_settop(L, OPTIONS);
    struct http_state *state = lua_touserdata(L, lua_upvalueindex(1));
    /* A request from inside on_body would run inside the engine's call carrying the first. */
    if (state->in_body_callback > 0)
        return luaL_error(L, "request: cannot be called from an on_body function");
    struct http_request *r = lua_newuserdatauv(L, sizeof *r, 2);
    memset(r, 0, sizeof *r);
    r->state = state;
    r->self_ref = r->resume_ref = LUA_NOREF;
    r->on_body_ref = r->body_response_ref = r->body_error_ref = LUA_NOREF;
    luaL_setmetatable(L, REQUEST_METATABLE);
    lua_toclose(L, REQUEST);
    /* Sized for the url, method and body and a few headers, so that a load run's request does
     * not grow it (each growth is an allocation). */
    lua_createtable(L, 8, 0);
    lua_pushvalue(L, ANCHOR);
    lua_setiuservalue(L, REQUEST, 1);
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_setiuservalue(L, REQUEST, 2);
    read_options(L, r);
    /* A URL neither engine can send is the caller's input, refused before anything is sent
     * (libcurl would report most of these as a failure to connect). */
    if (r->call.url_problem) {
        r->result.failure_kind = "input";
        snprintf(r->result.message, sizeof r->result.message, "%s", r->call.url_problem);
        return http_push_outcome(L, r);
    }

    if (http_in_task(L))
        return http_task_request(L, state, r);
    r->body_thread = L;
    http_perform(state, r);
    r->body_thread = NULL;
    http_raise_body_error(L, r);
    return http_push_outcome(L, r);
}

static const luaL_Reg http_functions[] = {
    {"request", http_request},
    {NULL, NULL},
};

int luaopen_lambda_http(lua_State *L) {
    if (luaL_newmetatable(L, REQUEST_METATABLE)) {
        lua_pushcfunction(L, request_release);
        lua_setfield(L, -2, "__close");
        lua_pushcfunction(L, request_release);
        lua_setfield(L, -2, "__gc");
        lua_createtable(L, 0, 1);
        lua_pushcfunction(L, http_task_await);
        lua_setfield(L, -2, "await");
        lua_setfield(L, -2, "__index");
    }
    lua_pop(L, 1);
    luaL_newlibtable(L, http_functions);
    /* Loading the module again (package.loaded cleared) keeps the state: its pool, and the
     * requests under way. */
    if (lua_getfield(L, LUA_REGISTRYINDEX, STATE_KEY) != LUA_TUSERDATA) {
        lua_pop(L, 1);
        struct http_state *state = lua_newuserdatauv(L, sizeof *state, 0);
        memset(state, 0, sizeof *state);
        /* Read once: getenv walks the whole environment, which a load run paid for on
         * every request. */
        const char *engine = getenv("CARGO_LAMBDA_HTTP");
        state->curl_only = engine && strcmp(engine, "curl") == 0;
        if (luaL_newmetatable(L, STATE_METATABLE)) {
            lua_pushcfunction(L, state_release);
            lua_setfield(L, -2, "__gc");
        }
        lua_setmetatable(L, -2);
        lua_pushvalue(L, -1);
        lua_setfield(L, LUA_REGISTRYINDEX, STATE_KEY);
    }
    luaL_setfuncs(L, http_functions, 1);
    return 1;
}
