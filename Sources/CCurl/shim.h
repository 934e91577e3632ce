// Typed wrappers for libcurl's variadic curl_easy_setopt/getinfo, which Swift cannot call.
#ifndef DR_AUDIT_CURL_SHIM_H
#define DR_AUDIT_CURL_SHIM_H
#include <curl/curl.h>

typedef size_t (*drcurl_write_callback)(char *data, size_t size, size_t count, void *context);

static inline CURLcode drcurl_set_long(CURL *h, CURLoption option, long value) { return curl_easy_setopt(h, option, value); }
static inline CURLcode drcurl_set_string(CURL *h, CURLoption option, const char *value) { return curl_easy_setopt(h, option, value); }
static inline CURLcode drcurl_set_pointer(CURL *h, CURLoption option, void *value) { return curl_easy_setopt(h, option, value); }
static inline CURLcode drcurl_set_headers(CURL *h, struct curl_slist *headers) { return curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers); }
static inline CURLcode drcurl_set_write(CURL *h, drcurl_write_callback callback, void *context) {
    CURLcode rc = curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, callback);
    return rc != CURLE_OK ? rc : curl_easy_setopt(h, CURLOPT_WRITEDATA, context);
}
static inline long drcurl_response_code(CURL *h) {
    long code = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
    return code;
}
static inline long drcurl_error_size(void) { return CURL_ERROR_SIZE; }
/// In-memory PEM (CA bundle, client certificate or key); curl keeps its own copy.
static inline CURLcode drcurl_set_blob(CURL *h, CURLoption option, const void *data, size_t length) {
    struct curl_blob blob = { (void *)data, length, CURL_BLOB_COPY };
    return curl_easy_setopt(h, option, &blob);
}
#endif
