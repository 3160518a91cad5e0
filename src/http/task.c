/* lambda.http's requests from tasks (lua/lambda/task.lua): a request made from a task's own
 * thread goes on the state's lambda.event loop instead of blocking it, and the task waits.
 *
 * How: request() reads the options as always (http.c), starts the transfer on the loop
 * (plain_event.c or curl_multi.c) and yields its request userdata, an awaitable: the
 * scheduler calls its await(resume) method at once, which keeps resume. When the transfer
 * ends, from a libevent callback, resume(response) or resume(nil, message, kind) is called in
 * protected mode (event_loop_pcall): the values resume is given are what request() returns in
 * the task. They are built by the same code as the blocking call's (http_push_outcome); when
 * memory runs out, resume gets nothing and the task raises the blocking call's error, from
 * the yield's continuation.
 * A request whose end is known at once (a connection refused on the spot, libcurl missing)
 * returns without yielding, as the blocking call would.
 *
 * Lifetime: on the loop, the request userdata is kept alive by a registry reference of its
 * own, and listed in the state's struct http_async. If the task is never resumed, the
 * transfer is freed without calling into Lua: by the loop's close hook (the loop is
 * finalized), by the state's finalizer, by the request's own finalizer, or when the task's
 * coroutine is closed (its to-be-closed request). Whichever comes first cancels; the rest find
 * nothing left to do. A request closed while an on_body callback runs (its own or another's)
 * keeps its registry reference until the engine is out of its call: its cancel is put off to a
 * timer of the loop, or to the transfer's end if that comes first (http_task_cancel_now). */
#include <lauxlib.h>
#include <stdlib.h>

#include "event/loop.h"
#include "http/binding.h"

/* The registry table of the tasks' threads (lua/lambda/task.lua). */
#define TASKS_KEY "lambda.tasks"

struct http_async {
    struct event_loop *loop;
    struct http_state *state;      /* NULL once the state is finalized */
    struct http_request *requests; /* on the loop: under way, or not delivered yet */
    struct http_curl_multi *multi; /* libcurl's transfers on this loop */
};

bool http_in_task(lua_State *L) {
    if (!lua_isyieldable(L))
        return false;
    if (lua_getfield(L, LUA_REGISTRYINDEX, TASKS_KEY) != LUA_TTABLE) {
        lua_pop(L, 1);
        return false;
    }
    lua_pushthread(L);
    bool found = lua_rawget(L, -2) != LUA_TNIL;
    lua_pop(L, 2);
    return found;
}

static void unlink_request(struct http_request *r) {
    struct http_async *async = r->async;
    if (r->prev)
        r->prev->next = r->next;
    else
        async->requests = r->next;
    if (r->next)
        r->next->prev = r->prev;
    r->prev = r->next = NULL;
    r->async = NULL;
}

void http_task_cancel(lua_State *L, struct http_request *r) {
    if (!r->async)
        return;
    if (r->plain_transfer)
        http_plain_cancel(r->plain_transfer);
    if (r->curl_transfer)
        http_curl_cancel(r->curl_transfer);
    r->plain_transfer = NULL;
    r->curl_transfer = NULL;
    if (r->later_armed)
        event_del(&r->later);
    r->later_armed = false;
    r->finished = false;
    unlink_request(r);
    if (L) {
        luaL_unref(L, LUA_REGISTRYINDEX, r->self_ref);
        luaL_unref(L, LUA_REGISTRYINDEX, r->resume_ref);
    }
    r->self_ref = r->resume_ref = LUA_NOREF;
}

lua_State *http_task_thread(struct http_request *r) {
    return r->async ? r->async->loop->L : NULL;
}

/* A request closed while an on_body callback ran, once its transfer can be let go: the
 * transfer is cancelled (if it has not ended), r's allocations freed and its references
 * dropped, which lets it be collected. */
static void release_cancelled(lua_State *L, struct http_request *r) {
    r->cancel_pending = false;
    http_task_cancel(NULL, r);
    http_request_free_parts(L, r);
    if (L) {
        luaL_unref(L, LUA_REGISTRYINDEX, r->self_ref);
        luaL_unref(L, LUA_REGISTRYINDEX, r->resume_ref);
        r->self_ref = r->resume_ref = LUA_NOREF;
    }
}

static void cancel_later(evutil_socket_t fd, short what, void *arg) {
    (void)fd;
    (void)what;
    struct http_request *r = arg;
    r->later_armed = false;
    release_cancelled(http_task_thread(r), r);
}

bool http_task_cancel_now(struct http_request *r) {
    if (!r->async)
        return true;
    if (r->cancel_pending)
        return false;
    bool under_way = r->plain_transfer || r->curl_transfer;
    if (!under_way || r->state->in_body_callback == 0)
        return true;
    r->cancel_pending = true;
    /* From the loop, once the callback and the engine call around it have returned; if the
     * loop refuses the timer, the transfer's end releases it. */
    struct timeval now = {0, 0};
    evtimer_assign(&r->later, r->async->loop->base, cancel_later, r);
    r->later_armed = evtimer_add(&r->later, &now) == 0;
    return false;
}

static void cancel_all(lua_State *L, struct http_async *async) {
    while (async->requests) {
        struct http_request *r = async->requests;
        /* Closed during an on_body callback and not yet released (its timer has not run, and
         * will not now): its release falls to us, or its buffers would outlive it. */
        if (r->cancel_pending)
            release_cancelled(L, r);
        else
            http_task_cancel(L, r);
    }
    if (async->state)
        http_plain_pool_unwatch(async->state->pool);
    http_curl_multi_free(async->multi);
    async->multi = NULL;
}

/* The loop's close hook: before its base is freed, nothing of ours may stay on it. */
static void close_async(lua_State *L, void *data) {
    struct http_async *async = data;
    cancel_all(L, async);
    if (async->state)
        async->state->async = NULL;
    free(async);
}

void http_task_state_closing(lua_State *L, struct http_state *state) {
    struct http_async *async = state->async;
    if (!async)
        return;
    /* The loop may outlive the state: async stays for the close hook to free. */
    cancel_all(L, async);
    async->state = NULL;
    state->async = NULL;
}

/* ---- delivering the outcome ---- */

static int push_outcome(lua_State *L) {
    return http_push_outcome(L, lua_touserdata(L, 1));
}

/* In protected mode on the loop's thread: resume(outcome...). */
static int resume_task(lua_State *L) {
    struct http_request *r = lua_touserdata(L, 1);
    lua_settop(L, 0);
    lua_rawgeti(L, LUA_REGISTRYINDEX, r->resume_ref);
    luaL_unref(L, LUA_REGISTRYINDEX, r->resume_ref);
    lua_rawgeti(L, LUA_REGISTRYINDEX, r->self_ref); /* alive while its outcome is built */
    luaL_unref(L, LUA_REGISTRYINDEX, r->self_ref);
    r->self_ref = r->resume_ref = LUA_NOREF;
    int count = 0;
    /* After an error in on_body the task raises it (resumed), with no outcome to build. */
    if (!r->result.out_of_memory && r->body_error_ref == LUA_NOREF) {
        lua_pushcfunction(L, push_outcome);
        lua_pushlightuserdata(L, r);
        if (lua_pcall(L, 1, LUA_MULTRET, 0) == LUA_OK) {
            count = lua_gettop(L) - 2;
        } else {
            lua_settop(L, 2);
            r->result.out_of_memory = true;
        }
    }
    r->raise_oom = r->result.out_of_memory;
    lua_remove(L, 2);
    lua_call(L, count, 0); /* r may be collected from here on */
    return 0;
}

static void deliver(struct http_request *r) {
    struct event_loop *loop = r->async->loop;
    unlink_request(r);
    r->finished = false;
    /* Loop callbacks only run inside event.run(), which sets loop->L; the check is for the
     * loop's own last non-blocking turn when it is finalized, once our hook has run. */
    if (loop->L && !loop->closed)
        event_loop_pcall(loop, loop->L, resume_task, r);
}

static void deliver_later(evutil_socket_t fd, short what, void *arg) {
    (void)fd;
    (void)what;
    struct http_request *r = arg;
    r->later_armed = false;
    deliver(r);
}

/* The engine's end of the transfer (http_finished_fn). */
static void transfer_finished(void *owner, bool ok) {
    struct http_request *r = owner;
    r->plain_transfer = NULL;
    r->curl_transfer = NULL;
    if (r->cancel_pending) { /* closed from an on_body callback: nobody waits any more */
        release_cancelled(http_task_thread(r), r);
        return;
    }
    r->ok = ok;
    r->finished = true;
    if (r->resume_ref != LUA_NOREF)
        deliver(r);
    /* else await has not been called yet: it delivers */
}

/* ---- the request and its awaitable ---- */

/* request:await(resume) */
int http_task_await(lua_State *L) {
    struct http_request *r = luaL_checkudata(L, 1, REQUEST_METATABLE);
    luaL_checktype(L, 2, LUA_TFUNCTION);
    if (!r->async)
        return luaL_error(L, "await: this request is not under way");
    if (r->resume_ref != LUA_NOREF)
        return luaL_error(L, "await: this request is already awaited");
    lua_settop(L, 2);
    r->resume_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    if (r->finished) { /* resume is called later, as the protocol says, never from here */
        struct timeval now = {0, 0};
        evtimer_assign(&r->later, r->async->loop->base, deliver_later, r);
        r->later_armed = evtimer_add(&r->later, &now) == 0;
        if (!r->later_armed)
            return luaL_error(L, "await: the event loop refused a timer");
    }
    return 0;
}

/* Where the task goes on once resumed: the values given to resume are request()'s. */
static int resumed(lua_State *L, int status, lua_KContext index) {
    (void)status;
    struct http_request *r = lua_touserdata(L, (int)index);
    http_raise_body_error(L, r);
    if (r->raise_oom)
        return luaL_error(L, "not enough memory for the request to %s", r->call.url);
    return lua_gettop(L) - r->height;
}

static struct http_async *async_of(lua_State *L, struct http_state *state) {
    if (state->async)
        return state->async;
    struct event_loop *loop = event_loop_get(L); /* the task runs on it: it exists */
    if (loop->closed)
        return NULL;
    struct http_async *async = calloc(1, sizeof *async);
    if (!async)
        luaL_error(L, "not enough memory for the request");
    async->loop = loop;
    async->state = state;
    state->async = async;
    event_loop_on_close(loop, close_async, async);
    return async;
}

int http_task_request(lua_State *L, struct http_state *state, struct http_request *r) {
    const int index = 2; /* of r, see binding.h */
    struct http_async *async = async_of(L, state);
    if (!async) { /* only while the state closes */
        http_perform(state, r);
        return http_push_outcome(L, r);
    }
    struct event_base *base = async->loop->base;
    /* What the start does at once (the plain engine may even read the answer) runs on this
     * thread; what comes from the loop later, on the loop's. */
    r->body_thread = L;
    enum http_start started =
        r->plain ? http_plain_start(base, &state->pool, &r->call, &r->target, &r->result,
                                    transfer_finished, r, &r->plain_transfer)
                 : http_curl_start(&async->multi, base, &state->share, &r->call, &r->result,
                                   transfer_finished, r, &r->curl_transfer);
    r->body_thread = NULL;
    if (started != HTTP_IN_FLIGHT) {
        r->ok = started == HTTP_SUCCEEDED;
        http_raise_body_error(L, r);
        return http_push_outcome(L, r);
    }
    r->async = async;
    r->next = async->requests;
    if (r->next)
        r->next->prev = r;
    async->requests = r;
    /* From here a Lua error (no memory for the reference) closes r, which cancels. */
    lua_pushvalue(L, index);
    r->self_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    r->height = lua_gettop(L);
    lua_pushvalue(L, index);
    return lua_yieldk(L, 1, index, resumed);
}
