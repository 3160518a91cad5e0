/* What the two halves of lambda.http's libcurl engine share: the functions loaded from
 * libcurl with dlopen (curl.c) and one transfer's easy handle, set up and read the same way
 * whether curl_easy_perform carries it out (curl.c) or the multi handle driven by a
 * lambda.event loop does (curl_multi.c). */
#ifndef CLC_HTTP_CURL_ENGINE_H
#define CLC_HTTP_CURL_ENGINE_H

#include <curl/curl.h>
#include <stdbool.h>

#include "http/engine.h"

/* The libcurl functions used, looked up once per process. */
struct curl_api {
    bool tried, loaded;
    char error[256];
    CURLcode (*global_init)(long flags);
    CURL *(*easy_init)(void);
    CURLcode (*easy_setopt)(CURL *easy, CURLoption option, ...);
    CURLcode (*easy_perform)(CURL *easy);
    CURLcode (*easy_getinfo)(CURL *easy, CURLINFO info, ...);
    void (*easy_cleanup)(CURL *easy);
    const char *(*easy_strerror)(CURLcode code);
    struct curl_slist *(*slist_append)(struct curl_slist *list, const char *line);
    void (*slist_free_all)(struct curl_slist *list);
    CURLSH *(*share_init)(void);
    CURLSHcode (*share_setopt)(CURLSH *share, CURLSHoption option, ...);
    CURLSHcode (*share_cleanup)(CURLSH *share);
    CURLM *(*multi_init)(void);
    CURLMcode (*multi_setopt)(CURLM *multi, CURLMoption option, ...);
    CURLMcode (*multi_add_handle)(CURLM *multi, CURL *easy);
    CURLMcode (*multi_remove_handle)(CURLM *multi, CURL *easy);
    CURLMcode (*multi_socket_action)(CURLM *multi, curl_socket_t fd, int events, int *running);
    CURLMsg *(*multi_info_read)(CURLM *multi, int *left);
    CURLMcode (*multi_assign)(CURLM *multi, curl_socket_t fd, void *data);
    CURLMcode (*multi_cleanup)(CURLM *multi);
};
extern struct curl_api curl_api;

struct http_curl_transfer {
    CURL *easy;
    struct curl_slist *headers;
    struct http_result *result;
    const struct http_call *call;
    bool head_complete; /* the blank line ending the head was seen (later lines: trailers) */
    bool setopt_failed;
    char error[CURL_ERROR_SIZE];
};

/* Loads libcurl (once) and sets up t for the call; false with the failure in result (libcurl
 * missing, or out of memory), t then needing no release. */
bool http_curl_prepare(struct http_curl_transfer *t, struct http_curl_share **share,
                       const struct http_call *call, struct http_result *result);
/* Fills the result once libcurl has ended the transfer with code: true for an answer. */
bool http_curl_conclude(struct http_curl_transfer *t, const struct http_call *call, CURLcode code);
void http_curl_release(struct http_curl_transfer *t);

#endif
