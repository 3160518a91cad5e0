/* lambda.event HTTP server internals shared by event_http.c (listening, connections, reading
 * requests) and event_http_request.c (the Lua request object and the responses). */
#ifndef CLC_EVENT_HTTP_H
#define CLC_EVENT_HTTP_H

#include <arpa/inet.h>
#include <event2/bufferevent.h>
#include <event2/listener.h>
#include <lua.h>
#include <openssl/ssl.h>
#include <stdint.h>

#include "event_http_parse.h"
#include "event_loop.h"

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

struct http_server {
    struct event_loop *loop;
    struct evconnlistener *listener;
    SSL_CTX *tls;
    struct http_conn *conns;
    struct http_server *next, **link; /* loop->servers, while listening */
    int ref;                          /* registry reference while listening */
    unsigned choose_max_body : 1;     /* a max_body function decides per request */
    unsigned has_too_large : 1;       /* a too_large function answers over-limit requests */
    size_t max_body, max_headers;     /* max_body: when no function chooses per request */
    int port;
    char address[INET6_ADDRSTRLEN];
};

enum read_state { READ_HEAD, READ_BODY, READ_DONE };
enum close_state { OPEN, CLOSE_AFTER_WRITE, LINGERING };

struct http_conn {
    struct http_server *server;
    struct event_loop *loop;
    struct bufferevent *bev;
    struct event resume;            /* processes buffered input from the loop */
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

/* Protected functions (event_loop_pcall) of event_http_request.c. */
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

/* Called by event_http_request.c when the last byte of a response has been queued. */
void http_conn_response_done(lua_State *L, struct http_conn *conn);
/* Releases the request from its connection (registry reference included). */
void http_request_detach(lua_State *L, struct http_request *request);

void event_http_request_open(lua_State *L);

#endif
