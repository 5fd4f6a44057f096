#ifndef CELERIAC_CCURL_SHIM_H
#define CELERIAC_CCURL_SHIM_H
// libcurl 7.88 (Debian 12, libcurl4-openssl-dev). Swift cannot call C variadics, so every
// curl_easy_setopt / curl_easy_getinfo use goes through one typed, non-variadic wrapper below.
// Imported by exactly one Swift module: Outbound.
#include <curl/curl.h>

static inline CURLcode celeriac_curl_set_long(CURL *easy, CURLoption option, long value) {
    return curl_easy_setopt(easy, option, value);
}
static inline CURLcode celeriac_curl_set_string(CURL *easy, CURLoption option, const char *value) {
    return curl_easy_setopt(easy, option, value);
}
static inline CURLcode celeriac_curl_set_pointer(CURL *easy, CURLoption option, void *value) {
    return curl_easy_setopt(easy, option, value);
}
static inline CURLcode celeriac_curl_set_slist(CURL *easy, CURLoption option, struct curl_slist *value) {
    return curl_easy_setopt(easy, option, value);
}
static inline CURLcode celeriac_curl_set_write(CURL *easy, size_t (*callback)(char *, size_t, size_t, void *)) {
    return curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, callback);
}
static inline CURLcode celeriac_curl_set_read(CURL *easy, size_t (*callback)(char *, size_t, size_t, void *)) {
    return curl_easy_setopt(easy, CURLOPT_READFUNCTION, callback);
}
static inline CURLcode celeriac_curl_set_header(CURL *easy, size_t (*callback)(char *, size_t, size_t, void *)) {
    return curl_easy_setopt(easy, CURLOPT_HEADERFUNCTION, callback);
}
static inline CURLcode celeriac_curl_get_long(CURL *easy, CURLINFO info, long *value) {
    return curl_easy_getinfo(easy, info, value);
}
static inline CURLcode celeriac_curl_get_pointer(CURL *easy, CURLINFO info, void **value) {
    return curl_easy_getinfo(easy, info, value);
}
// CURLMsg.data is a union; Swift sees it, but reading the result through a helper is clearer.
static inline CURLcode celeriac_curl_msg_result(CURLMsg *msg) { return msg->data.result; }
#endif
