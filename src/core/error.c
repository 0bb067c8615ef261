/* error.c — thread-local last-error storage and status names. */
#include "core/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TL_ERROR_CAP 1024
static _Thread_local char tl_error_buf[TL_ERROR_CAP];

tl_status tl_set_error(tl_status s, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(tl_error_buf, sizeof tl_error_buf, fmt, ap);
    va_end(ap);
    return s;
}

tl_status tl_error_prefix(tl_status s, const char *fmt, ...) {
    char prefix[TL_ERROR_CAP], old[TL_ERROR_CAP];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    memcpy(old, tl_error_buf, sizeof old);
    size_t k = strlen(prefix);
    if (k > TL_ERROR_CAP - 3) k = TL_ERROR_CAP - 3;
    memcpy(tl_error_buf, prefix, k);
    memcpy(tl_error_buf + k, ": ", 2);
    size_t room = TL_ERROR_CAP - k - 3, n = strlen(old);
    if (n > room) n = room;
    memcpy(tl_error_buf + k + 2, old, n);
    tl_error_buf[k + 2 + n] = '\0';
    return s;
}

void tl_clear_error(void) { tl_error_buf[0] = '\0'; }

const char *tl_last_error(void) { return tl_error_buf; }

const char *tl_status_name(tl_status s) {
    switch (s) {
    case TL_OK: return "TL_OK";
    case TL_ERR_IO: return "TL_ERR_IO";
    case TL_ERR_FORMAT: return "TL_ERR_FORMAT";
    case TL_ERR_UNSUPPORTED: return "TL_ERR_UNSUPPORTED";
    case TL_ERR_INVALID_ARG: return "TL_ERR_INVALID_ARG";
    case TL_ERR_OOM: return "TL_ERR_OOM";
    case TL_ERR_INTERNAL: return "TL_ERR_INTERNAL";
    case TL_ERR_NUMERIC: return "TL_ERR_NUMERIC";
    }
    return "TL_ERR_UNKNOWN";
}

void tl_free(void *p) { free(p); }
