/* What lambda.http's Lua binding (http.c) shares with its part for requests made from tasks
 * (task.c). */
#ifndef CLC_HTTP_BINDING_H
#define CLC_HTTP_BINDING_H

#include <event2/event.h>
#include <event2/event_struct.h>
#include <lua.h>
#include <stdbool.h>

#include "http/engine.h"

#define REQUEST_METATABLE "lambda.http.request"

struct http_async; /* the requests of one Lua state under way on its lambda.event loop */

/* What one Lua state keeps between requests (one per state, anchored in the registry). */
struct http_state {
    struct http_plain_pool *pool;
    struct http_curl_share *share;
    struct http_async *async; /* created by the first request from a task */
    int in_body_callback;     /* on_body callbacks running now (see http.c) */
    bool curl_only;           /* CARGO_LAMBDA_HTTP=curl, read once when the module is opened */
};

/* One call of request(): its options as read and checked, and its result. The userdata sits
 * at stack index 2 of request() as a to-be-closed value, so that its C allocations are freed
 * however the call ends; its user value 1 is a table that anchors every string the call
 * points to (the caller's table may change meanwhile), user value 2 the state. From a task it
 * is also the awaitable request() yields. */
struct http_request {
    struct http_state *state;
    struct http_call call;
    struct http_plain_target target;
    bool plain; /* the plain engine takes it, else libcurl */
    struct http_header *headers;
    size_t header_count, header_capacity;
    int anchored; /* strings in the anchor table */
    struct http_result result;
    bool ok;

    /* opts.on_body (http.c): registry references of the caller's function, of the response
     * table it is given (built for the first piece), and of the error it raised (request()
     * raises it once the transfer is over). */
    int on_body_ref, body_response_ref, body_error_ref;
    lua_State *body_thread; /* where on_body runs: the caller's thread while request() runs;
                               NULL on the loop (the thread inside event.run()) */

    /* From a task (task.c). */
    struct http_async *async;         /* while the loop has it: set by the start, cleared once
                                         its outcome is delivered or it is cancelled */
    struct http_request *prev, *next; /* in async's list */
    struct http_plain_async *plain_transfer; /* the transfer under way, one of the two */
    struct http_curl_async *curl_transfer;
    int self_ref;   /* registry reference that keeps the userdata alive on the loop */
    int resume_ref; /* the resume function given to await */
    int height;     /* the task's stack height below the yielded awaitable */
    bool finished;  /* the transfer is over, the outcome not delivered yet */
    bool raise_oom; /* the task raises "not enough memory" when it resumes */
    bool later_armed;
    struct event later;  /* delivers an end that came before await was called, or cancels */
    bool cancel_pending; /* closed while an on_body callback ran: cancelled once it is safe */
};

/* The blocking request, by the engine chosen. */
void http_perform(struct http_state *state, struct http_request *r);
/* Pushes what request() returns for r: the response, or nil, message, kind; raises when
 * memory ran out. */
int http_push_outcome(lua_State *L, struct http_request *r);
/* Raises the error r's on_body raised, if it raised one. */
void http_raise_body_error(lua_State *L, struct http_request *r);
/* Frees r's C allocations and drops its on_body references (L NULL: only the allocations). */
void http_request_free_parts(lua_State *L, struct http_request *r);

/* Whether L is a task's own thread (registry["lambda.tasks"][L]) that can yield. */
bool http_in_task(lua_State *L);
/* request() from a task: starts r (at stack index 2) on the loop and yields the awaitable, or
 * returns the outcome at once when it is known at once. */
int http_task_request(lua_State *L, struct http_state *state, struct http_request *r);
/* request:await(resume), the awaitable protocol (lua/lambda/task.lua). */
int http_task_await(lua_State *L);
/* Abandons r's transfer if it is under way (nothing is called in Lua; with L, r's registry
 * references are dropped). */
void http_task_cancel(lua_State *L, struct http_request *r);
/* Whether r's transfer can be cancelled now: not while an on_body callback runs, since an
 * engine may then be inside a call on the transfer's own handles (libcurl refuses to remove a
 * transfer from inside its callbacks). Otherwise the cancel is put off until the callback has
 * returned, and r, kept alive, is released then. */
bool http_task_cancel_now(struct http_request *r);
/* The thread on_body runs on for r's transfer on the loop (NULL when the loop is not
 * running). */
lua_State *http_task_thread(struct http_request *r);
/* The state is being finalized: every transfer is abandoned. */
void http_task_state_closing(lua_State *L, struct http_state *state);

#endif
