/* lambda.event HTTP/1.1 server: listening sockets and the server object.
 *
 *   event.http_server{address = "127.0.0.1" (IPv4 or IPv6 literal; "::" takes IPv4 too),
 *     port = 0 (any), handler = fn(request), stream_body = fn(request) -> bool | bool,
 *     max_body = 8 MiB | fn(request) -> bytes, too_large = fn(request, limit, size),
 *     max_headers = 64 KiB (431),
 *     idle_timeout = 60 (seconds a connection may wait, idle, for its next request),
 *     head_timeout = 30 (seconds a request head may take to arrive, then 408),
 *     tls = {cert = path, key = path}}
 *     -> server (:port(), :address(), :close())
 *      | nil, message, kind[, detail]: "input" (an address that is not one: "address"; a
 *        certificate or key that cannot be loaded: "tls.cert", "tls.key"), "transport" (the
 *        system refused to listen: "cannot listen on [::]:9000: ...", errno), "io" (libssl
 *        cannot be loaded)
 *   event.http_draining() -> connections of closed servers still sending their last answer
 *
 * Body limits: max_body is a byte count for every request, or a function that chooses one per
 * request from its head (method, path, query, headers; called once, before any of the body is
 * read, like stream_body). A body over its limit, by its Content-Length or while a chunked
 * body arrives, ends the request: too_large(request, limit, size) is called to answer it
 * (size: the Content-Length, or the bytes received when a chunked body passed the limit),
 * before the handler has seen the request or, for a streamed body, after. It may answer with
 * request:respond; a request it leaves unanswered (or with no too_large) gets a plain 413.
 * The connection then closes once the answer is out, and what the client still sends is read
 * and thrown away, never buffered (see start_lingering in connection.c).
 *
 * Connections are in connection.c, reading requests in request_reader.c, TLS in
 * server_tls.c, the request object and the answers in request.c and response.c. Keep-alive
 * and pipelining are supported; requests on one connection are answered in order: the next
 * is read once the current one has been read completely and answered. A client that
 * half-closes its side is taken as gone.
 *
 * Out of file descriptors (EMFILE, ENFILE), a server does not spin on its listening socket:
 * it closes a few connections that have been idle for at least ACCEPT_RETRY_SECONDS to make
 * room (a connection just accepted gets that long to send its request), and when there are
 * none it stops accepting for ACCEPT_RETRY_SECONDS and tries again; new clients wait in the
 * kernel's backlog meanwhile. One line on stderr says so, once per episode (shortages less
 * than SHORTAGE_EPISODE_SECONDS apart).
 *
 * The server is written on libevent bufferevents rather than on evhttp: evhttp 2.1 decides
 * how to read a request body before any user code sees the request (no per-request hook
 * before the body), cannot tell that a client went away while a request waits for its answer
 * (it stops reading), and adds headers of its own. Here the connection keeps reading while a
 * request is pending, so a closed connection is noticed at once (request:on_close), and
 * stream_body chooses per request, from its head, between a buffered body and one delivered
 * piece by piece (request:on_chunk / request:on_end, with the chunked trailers). */
#define _GNU_SOURCE

#include "event/server.h"

#include <errno.h>
#include <lauxlib.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/luax.h"
#include "event/parts.h"

#define SERVER_TYPE "lambda.event.http_server"
#define DEFAULT_MAX_BODY (8u << 20)
#define DEFAULT_MAX_HEADERS (64u << 10)
#define DEFAULT_IDLE_TIMEOUT 60
#define DEFAULT_HEAD_TIMEOUT 30
#define ACCEPT_RETRY_SECONDS 0.1
/* A shortage of descriptors within this long of the last is the same episode: not said again. */
#define SHORTAGE_EPISODE_SECONDS 10
/* Idle connections closed at a time when descriptors run out. */
#define IDLE_CLOSED_PER_SHORTAGE 16

static const char *const server_options[] = {
    "address",     "port",         "handler",      "stream_body", "max_body", "too_large",
    "max_headers", "idle_timeout", "head_timeout", "tls",         NULL,
};

static void on_accept(struct evconnlistener *listener, evutil_socket_t fd, struct sockaddr *address,
                      int length, void *arg) {
    (void)listener;
    (void)length;
    http_conn_accept(arg, fd, address);
}

static void on_accept_retry(evutil_socket_t fd, short what, void *arg) {
    (void)fd;
    (void)what;
    struct http_server *server = arg;
    if (server->accept_paused && server->listener) {
        server->accept_paused = 0;
        evconnlistener_enable(server->listener);
    }
}

static void on_accept_error(struct evconnlistener *listener, void *arg) {
    struct http_server *server = arg;
    int error = EVUTIL_SOCKET_ERROR();
    if (error != EMFILE && error != ENFILE && error != ENOBUFS && error != ENOMEM)
        return; /* a connection that failed before it was accepted: nothing to do */
    double now = monotonic_now();
    if (server->shortage_said_at == 0 ||
        now - server->shortage_said_at > SHORTAGE_EPISODE_SECONDS) {
        fprintf(stderr,
                "lambda.event: cannot accept connections on port %d: %s; closing idle "
                "connections and retrying\n",
                server->port, strerror(error));
        fflush(stderr);
    }
    server->shortage_said_at = now;
    if (http_conn_close_idle(server->loop->L, server, IDLE_CLOSED_PER_SHORTAGE,
                             ACCEPT_RETRY_SECONDS) > 0)
        return; /* accepting again frees nothing; the next accept finds room */
    evconnlistener_disable(listener);
    server->accept_paused = 1;
    struct timeval delay = {0, (suseconds_t)(ACCEPT_RETRY_SECONDS * 1e6)};
    event_add(&server->accept_retry, &delay);
}

/* Pushes "cannot listen on ADDRESS:PORT: reason". */
static void push_listen_error(lua_State *L, const char *address, int family, int port,
                              const char *reason) {
    if (family == AF_INET6)
        lua_pushfstring(L, "cannot listen on [%s]:%d: %s", address, port, reason);
    else
        lua_pushfstring(L, "cannot listen on %s:%d: %s", address, port, reason);
}

/* Returns 0, or -1 with the message pushed and *failure set. */
static int listen_on(lua_State *L, struct http_server *server, const char *text, int port,
                     struct http_server_failure *failure) {
    /* The address and port are well-formed once parsed: the system refused them. */
    *failure = (struct http_server_failure){"transport", NULL, 0};
    char host[INET6_ADDRSTRLEN + 2];
    size_t length = strlen(text);
    if (length >= 2 && text[0] == '[' && text[length - 1] == ']' && length - 2 < sizeof host) {
        memcpy(host, text + 1, length - 2);
        host[length - 2] = '\0';
    } else {
        snprintf(host, sizeof host, "%s", text);
    }
    struct sockaddr_storage storage;
    memset(&storage, 0, sizeof storage);
    struct sockaddr_in *in = (struct sockaddr_in *)&storage;
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&storage;
    socklen_t size;
    if (length < sizeof host && inet_pton(AF_INET, host, &in->sin_addr) == 1) {
        in->sin_family = AF_INET;
        in->sin_port = htons((uint16_t)port);
        size = sizeof *in;
    } else if (length < sizeof host && inet_pton(AF_INET6, host, &in6->sin6_addr) == 1) {
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons((uint16_t)port);
        size = sizeof *in6;
    } else {
        lua_pushfstring(L, "invalid address '%s': expected an IPv4 or IPv6 address", text);
        *failure = (struct http_server_failure){"input", "address", 0};
        return -1;
    }
    int family = storage.ss_family;
    inet_ntop(family, family == AF_INET ? (void *)&in->sin_addr : (void *)&in6->sin6_addr,
              server->address, sizeof server->address);
    int fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        failure->error = errno;
        push_listen_error(L, server->address, family, port, strerror(failure->error));
        return -1;
    }
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (family == AF_INET6) {
        /* "::" takes IPv4 clients too; a specific IPv6 address leaves IPv4 to others. */
        int v6only = !IN6_IS_ADDR_UNSPECIFIED(&in6->sin6_addr);
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, sizeof v6only);
    }
    if (bind(fd, (struct sockaddr *)&storage, size) != 0 || listen(fd, SOMAXCONN) != 0) {
        failure->error = errno;
        close(fd);
        push_listen_error(L, server->address, family, port, strerror(failure->error));
        return -1;
    }
    socklen_t bound_size = sizeof storage;
    getsockname(fd, (struct sockaddr *)&storage, &bound_size);
    server->port = ntohs(family == AF_INET ? in->sin_port : in6->sin6_port);
    server->listener = evconnlistener_new(server->loop->base, on_accept, server,
                                          LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, 0, fd);
    if (!server->listener) {
        close(fd);
        push_listen_error(L, server->address, family, port, "cannot watch the socket");
        return -1;
    }
    evconnlistener_set_error_cb(server->listener, on_accept_error);
    evtimer_assign(&server->accept_retry, server->loop->base, on_accept_retry, server);
    return 0;
}

/* With notify, requests still waiting for an answer get on_close and answers already given
 * are still delivered; without (finalizers), everything goes at once. */
static void close_server(lua_State *L, struct http_server *server, int notify) {
    if (!server->listener)
        return;
    evconnlistener_free(server->listener);
    server->listener = NULL;
    event_del(&server->accept_retry);
    server->accept_paused = 0;
    if (server->link) {
        *server->link = server->next;
        if (server->next)
            server->next->link = server->link;
        server->link = NULL;
    }
    while (server->conns)
        http_conn_server_closing(L, server->conns, notify);
    http_tls_free(server->tls);
    server->tls = NULL;
    event_unref(L, &server->ref);
}

static lua_Integer integer_option(lua_State *L, const char *name, lua_Integer fallback,
                                  lua_Integer min, lua_Integer max) {
    int type = lua_getfield(L, 1, name);
    lua_Integer value = fallback;
    if (type != LUA_TNIL) {
        int exact;
        value = lua_tointegerx(L, -1, &exact);
        if (!exact || value < min || value > max)
            luaL_error(L, "http_server: '%s' must be an integer from %I to %I", name, min, max);
    }
    lua_pop(L, 1);
    return value;
}

/* Seconds, 0 meaning none. */
static double seconds_option(lua_State *L, const char *name, double fallback) {
    int type = lua_getfield(L, 1, name);
    double value = fallback;
    if (type != LUA_TNIL) {
        int is_number;
        value = lua_tonumberx(L, -1, &is_number);
        if (!is_number || !(value >= 0 && value <= 1e9))
            luaL_error(L, "http_server: '%s' must be a number of seconds (0: none)", name);
    }
    lua_pop(L, 1);
    return value;
}

static const char *string_option(lua_State *L, int table, const char *name, const char *fallback) {
    int type = lua_getfield(L, table, name);
    if (type == LUA_TNIL && fallback) {
        lua_pop(L, 1);
        return fallback;
    }
    if (type != LUA_TSTRING)
        luaL_error(L, "http_server: '%s' must be a string", name);
    const char *value = lua_tostring(L, -1);
    lua_pop(L, 1); /* still referenced by the options table */
    return value;
}

/* Pushes nil, the message on top of the stack, the kind and the detail when there is one. */
static int push_server_failure(lua_State *L, const struct http_server_failure *failure) {
    luax_push_failure(L, failure->kind, lua_tostring(L, -1));
    if (failure->field)
        lua_pushstring(L, failure->field);
    else if (failure->error)
        lua_pushinteger(L, failure->error);
    else
        return 3;
    return 4;
}

/* http_server{address, port, handler, stream_body, max_body, too_large, max_headers,
 *   idle_timeout, head_timeout, tls} -> server | nil, message, kind[, detail] */
static int event_http_server(lua_State *L) {
    struct http_server_list *list = lua_touserdata(L, lua_upvalueindex(1));
    struct event_loop *loop = list->loop;
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_settop(L, 1);
    event_check_options(L, 1, "http_server", server_options);
    const char *address = string_option(L, 1, "address", "127.0.0.1");
    int port = (int)integer_option(L, "port", 0, 0, 65535);
    int max_body_type = lua_getfield(L, 1, "max_body");
    lua_pop(L, 1);
    if (max_body_type != LUA_TFUNCTION && max_body_type != LUA_TNUMBER && max_body_type != LUA_TNIL)
        return luaL_error(L, "http_server: 'max_body' must be a byte count or a function");
    lua_Integer max_body = DEFAULT_MAX_BODY;
    if (max_body_type != LUA_TFUNCTION)
        max_body = integer_option(L, "max_body", DEFAULT_MAX_BODY, 0, INT64_MAX / 2);
    lua_Integer max_headers =
        integer_option(L, "max_headers", DEFAULT_MAX_HEADERS, 256, UINT32_MAX / 2);
    double idle_timeout = seconds_option(L, "idle_timeout", DEFAULT_IDLE_TIMEOUT);
    double head_timeout = seconds_option(L, "head_timeout", DEFAULT_HEAD_TIMEOUT);
    if (lua_getfield(L, 1, "handler") != LUA_TFUNCTION) /* 2 */
        return luaL_error(L, "http_server: 'handler' must be a function");
    int stream_type = lua_getfield(L, 1, "stream_body"); /* 3 */
    if (stream_type != LUA_TNIL && stream_type != LUA_TBOOLEAN && stream_type != LUA_TFUNCTION)
        return luaL_error(L, "http_server: 'stream_body' must be a function or a boolean");
    const char *cert = NULL, *key = NULL;
    int tls_type = lua_getfield(L, 1, "tls"); /* 4 */
    if (tls_type == LUA_TTABLE) {
        cert = string_option(L, 4, "cert", NULL);
        key = string_option(L, 4, "key", NULL);
    } else if (tls_type != LUA_TNIL) {
        return luaL_error(L, "http_server: 'tls' must be a table {cert = path, key = path}");
    }
    int too_large_type = lua_getfield(L, 1, "too_large"); /* 5 */
    if (too_large_type != LUA_TNIL && too_large_type != LUA_TFUNCTION)
        return luaL_error(L, "http_server: 'too_large' must be a function");
    lua_getfield(L, 1, "max_body"); /* 6 */
    struct http_server *server = lua_newuserdatauv(L, sizeof *server, 4);
    memset(server, 0, sizeof *server);
    server->loop = loop;
    server->list = list;
    server->ref = LUA_NOREF;
    server->max_body = (size_t)max_body;
    server->max_headers = (size_t)max_headers;
    server->idle_timeout = idle_timeout;
    server->head_timeout = head_timeout;
    luaL_setmetatable(L, SERVER_TYPE);
    lua_pushvalue(L, 2);
    lua_setiuservalue(L, -2, SERVER_HANDLER);
    lua_pushvalue(L, 3);
    lua_setiuservalue(L, -2, SERVER_STREAM_BODY);
    server->choose_max_body = max_body_type == LUA_TFUNCTION;
    server->has_too_large = too_large_type == LUA_TFUNCTION;
    if (server->choose_max_body) {
        lua_pushvalue(L, 6);
        lua_setiuservalue(L, -2, SERVER_MAX_BODY);
    }
    lua_pushvalue(L, 5);
    lua_setiuservalue(L, -2, SERVER_TOO_LARGE);
    struct http_server_failure failure;
    if ((cert && http_tls_load(L, &server->tls, cert, key, &failure) != 0) ||
        listen_on(L, server, address, port, &failure) != 0)
        return push_server_failure(L, &failure); /* the collector frees the TLS context */
    lua_pushvalue(L, -1);
    server->ref = luaL_ref(L, LUA_REGISTRYINDEX);
    server->next = list->servers;
    if (server->next)
        server->next->link = &server->next;
    server->link = &list->servers;
    list->servers = server;
    return 1;
}

static struct http_server *check_server(lua_State *L) {
    return luaL_checkudata(L, 1, SERVER_TYPE);
}

/* server:port() -> the port it listens on (the one chosen when asked for 0) */
static int server_port(lua_State *L) {
    lua_pushinteger(L, check_server(L)->port);
    return 1;
}

/* server:address() -> the address it listens on, in numeric form ("::", "127.0.0.1") */
static int server_address(lua_State *L) {
    lua_pushstring(L, check_server(L)->address);
    return 1;
}

/* server:close(): stops listening and closes every connection; requests still waiting for an
 * answer get their on_close callback before this returns. */
static int server_close(lua_State *L) {
    close_server(L, check_server(L), 1);
    return 0;
}

static int server_gc(lua_State *L) {
    struct http_server *server = check_server(L);
    close_server(L, server, 0);
    http_tls_free(server->tls);
    server->tls = NULL;
    return 0;
}

/* When the loop is finalized: every server and connection goes at once. */
static void close_servers(lua_State *L, void *state) {
    struct http_server_list *list = state;
    while (list->servers)
        close_server(L, list->servers, 0);
    while (list->draining)
        http_conn_kill_now(L, list->draining);
}

static void open_servers(lua_State *L, struct event_loop *loop) {
    static const luaL_Reg methods[] = {
        {"port", server_port},
        {"address", server_address},
        {"close", server_close},
        {NULL, NULL},
    };
    static const luaL_Reg metamethods[] = {
        {"__gc", server_gc},
        {NULL, NULL},
    };
    luax_new_class(L, SERVER_TYPE, metamethods, methods);
    http_request_open(L);
    struct http_server_list *list = lua_newuserdatauv(L, sizeof *list, 0);
    memset(list, 0, sizeof *list);
    list->loop = loop;
    event_loop_on_close(loop, close_servers, list);
}

/* http_draining() -> how many connections of closed servers are still delivering their last
 * answer (server:close() lets them finish, within DRAIN_SECONDS). */
static int event_http_draining(lua_State *L) {
    struct http_server_list *list = lua_touserdata(L, lua_upvalueindex(1));
    lua_Integer count = 0;
    for (struct http_conn *conn = list->draining; conn; conn = conn->next)
        count++;
    lua_pushinteger(L, count);
    return 1;
}

static const luaL_Reg server_functions[] = {
    {"http_server", event_http_server},
    {"http_draining", event_http_draining},
    {NULL, NULL},
};

const struct event_part event_server_part = {open_servers, server_functions};
