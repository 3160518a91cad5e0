/* lambda.event HTTP server internals shared by its files: server.c (listening, the server
 * object), server_tls.c (TLS set-up), connection.c (connections and their timeouts), request.c
 * (the Lua request object), request_reader.c (reading requests) and response.c (the answers). */
#ifndef CLC_EVENT_SERVER_H
#define CLC_EVENT_SERVER_H

#include <arpa/inet.h>
#include <event2/bufferevent.h>
#include <event2/listener.h>
#include <lauxlib.h>
#include <lua.h>
#include <openssl/ssl.h>
#include <stdint.h>
#include <sys/socket.h>

#include "event/loop.h"
#include "event/request_parse.h"

#define HTTP_REQUEST_TYPE "lambda.event.request"

/* Server user values. */
#define SERVER_HANDLER 1
#define SERVER_STREAM_BODY 2
#define SERVER_MAX_BODY 3  /* function(request) -> bytes, or nil: the number in max_body */
#define SERVER_TOO_LARGE 4 /* function(request, limit, size), or nil: a plain 413 */

/* Request user values. */
#define REQUEST_FIELDS 1
#define REQUEST_ON_CLOSE 2
#define REQUEST_ON_CHUNK 3
#define REQUEST_ON_END 4

struct http_conn;
struct http_server;

/* The servers of one loop, and the connections of closed servers still sending their last
 * answer, so that finalizing the loop closes them all. */
struct http_server_list {
    struct event_loop *loop;
    struct http_server *servers;
    struct http_conn *draining;
};

struct http_server {
    struct event_loop *loop;
    struct http_server_list *list;
    struct evconnlistener *listener;
    SSL_CTX *tls;
    struct http_conn *conns;
    struct http_server *next, **link;  /* list->servers, while listening */
    int ref;                           /* registry reference while listening */
    unsigned choose_max_body : 1;      /* a max_body function decides per request */
    unsigned has_too_large : 1;        /* a too_large function answers over-limit requests */
    size_t max_body, max_headers;      /* max_body: when no function chooses per request */
    double idle_timeout, head_timeout; /* seconds; see server.c */
    struct event accept_retry;         /* re-enables accepting after running out of descriptors */
    unsigned accept_paused : 1;
    double shortage_said_at; /* when running out of descriptors was last said on stderr */
    int port;
    char address[INET6_ADDRSTRLEN];
};

enum read_state { READ_HEAD, READ_BODY, READ_DONE };
enum close_state { OPEN, CLOSE_AFTER_WRITE, LINGERING };
/* The deadline a connection is under while it waits for a request head. */
enum conn_timeout { NO_TIMEOUT, IDLE_TIMEOUT, HEAD_TIMEOUT };

struct http_conn {
    struct http_server *server;
    struct event_loop *loop;
    struct bufferevent *bev;
    struct event resume;  /* processes buffered input from the loop */
    struct event timeout; /* idle keep-alive, or a request head taking too long */
    enum conn_timeout timeout_kind;
    double idle_since;              /* monotonic_now() when it last became idle */
    struct http_conn *next, **link; /* server->conns */
    struct http_request *request;   /* the request being read or answered */
    struct evbuffer *body;          /* the body of a request that is not streamed */
    struct http_head head;
    struct http_chunked chunked;
    uint64_t body_left; /* of a Content-Length body */
    uint64_t body_size; /* received so far */
    uint64_t max_body;  /* of the request being read */
    size_t head_scanned;
    size_t discarded; /* bytes read while lingering */
    enum read_state state;
    enum close_state closing;
    int busy; /* callbacks running: freeing waits */
    unsigned dead : 1;
    unsigned keep_alive : 1;
    unsigned tls : 1;
    char peer[INET6_ADDRSTRLEN + 8];
};

enum response_state { RESPONSE_NONE, RESPONSE_STREAMING, RESPONSE_DONE };

struct http_request {
    struct http_conn *conn; /* NULL once finished or the connection is gone */
    int ref;                /* registry reference while conn is set */
    enum response_state response;
    unsigned streamed : 1;   /* body delivered through on_chunk / on_end */
    unsigned dispatched : 1; /* the handler has been called */
    unsigned closed : 1;     /* ended without an answer (client gone, bad body) */
    unsigned head_only : 1;  /* HEAD: no body in the response */
    unsigned http10 : 1;
    unsigned chunked_response : 1;
    unsigned no_body : 1; /* HEAD, 204, 304: the response has no body */
};

/* connection.c: a connection for a socket the server accepted (closed on failure). */
void http_conn_accept(struct http_server *server, evutil_socket_t fd,
                      const struct sockaddr *address);
/* Closes up to `count` connections of the server that have waited for a request with nothing
 * buffered (idle keep-alive) for at least min_idle seconds, to free descriptors; returns how
 * many it closed. */
int http_conn_close_idle(lua_State *L, struct http_server *server, int count, double min_idle);
/* The connection's life: kill closes at once (buffered output dropped; the memory goes when
 * no callback of it runs any more, see busy); lost also gives an unanswered request its
 * on_close; close_after_write sends what is queued, then lingers and closes; reject answers
 * a request that cannot be handled with a short error and closes. */
void http_conn_kill(lua_State *L, struct http_conn *conn);
void http_conn_lost(lua_State *L, struct http_conn *conn);
void http_conn_release(struct http_conn *conn); /* busy-- and destroys a killed connection */
void http_conn_close_after_write(lua_State *L, struct http_conn *conn);
void http_conn_reject(lua_State *L, struct http_conn *conn, int status);
/* Reads what is buffered from the loop (a pipelined request), not from inside the caller. */
void http_conn_resume_later(struct http_conn *conn);
/* Arms or clears the connection's idle or head timeout after its state changed. */
void http_conn_update_timeout(struct http_conn *conn);

/* request_reader.c: reads and hands over what the connection has buffered; ends a request
 * whose answer is complete (the next one is read, or the connection closes). */
void http_conn_process(struct http_conn *conn);
void http_conn_finish_request(lua_State *L, struct http_conn *conn);
/* The connection's server is closing: with notify a request waiting for its answer gets
 * on_close and an answer being written is still delivered (the connection moves to the
 * list's draining connections); without, the connection goes at once. */
void http_conn_server_closing(lua_State *L, struct http_conn *conn, int notify);
void http_conn_kill_now(lua_State *L, struct http_conn *conn);

/* Why a server could not start, beside the message: what http_server returns after it (nil,
 * message, kind[, detail], docs/scripting.md). */
struct http_server_failure {
    const char *kind;  /* "input", "transport", "tls" or "io" */
    const char *field; /* the detail when it is the option at fault ("address", "tls.cert") */
    int error;         /* else the errno number, when there is one (0: no detail) */
};

/* server_tls.c: loads cert and key into a new *context (freed by the caller, also on
 * failure); returns 0, or -1 with the message pushed and *failure set. */
int http_tls_load(lua_State *L, SSL_CTX **context, const char *cert, const char *key,
                  struct http_server_failure *failure);
/* Frees a context from http_tls_load (NULL: nothing to free). */
void http_tls_free(SSL_CTX *context);
/* A bufferevent accepting TLS on fd, or NULL (fd left open). */
struct bufferevent *http_tls_accept(struct event_base *base, evutil_socket_t fd, SSL_CTX *tls);

/* Protected functions (event_loop_pcall) of request.c. */
struct http_build_context {
    struct http_conn *conn;
    const char *data; /* the request head, parsed into conn->head */
};
int http_request_build(lua_State *L);    /* ctx: struct http_build_context */
int http_request_dispatch(lua_State *L); /* ctx: struct http_conn, calls the handler */
int http_request_on_end(lua_State *L);   /* ctx: struct http_conn */
int http_request_on_close(lua_State *L); /* ctx: struct http_request */
struct http_piece_context {
    struct http_conn *conn;
    const char *data;
    size_t length;
    const char *value; /* trailers: the value of field `data` */
    size_t value_length;
};
int http_request_on_chunk(lua_State *L);    /* ctx: struct http_piece_context */
int http_request_add_trailer(lua_State *L); /* ctx: struct http_piece_context */

/* Answers the request with a short plain-text error (no Lua allocation). */
void http_request_fail(lua_State *L, struct http_request *request, int status);
/* Writes a complete error response on the connection, which then closes. */
void http_conn_write_error(struct http_conn *conn, int status);
const char *http_reason(int status);

/* request_reader.c: called by response.c when the last byte of a response has been queued. */
void http_conn_response_done(lua_State *L, struct http_conn *conn);
/* Releases the request from its connection (registry reference included). */
void http_request_detach(lua_State *L, struct http_request *request);

/* request.c: the request object's metatable (with response.c's methods). */
void http_request_open(lua_State *L);
struct http_request *http_check_request(lua_State *L); /* argument 1 */
int http_request_is_open(const struct http_request *request);
/* response.c: respond, start_stream, send_chunk, finish_stream. */
extern const luaL_Reg http_response_methods[];

#endif
