/* reply.c — filling a reply: JSON and text bodies, TEI-style error bodies, status codes of
 * library errors, engine timings. */
#include "server/server.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void tl_reply_text(tl_srv_reply *rp, int status, const char *ctype, const char *text) {
    free(rp->body);
    rp->len = strlen(text);
    rp->body = malloc(rp->len + 1);
    if (!rp->body) { rp->len = 0; rp->status = 500; return; }
    memcpy(rp->body, text, rp->len + 1);
    rp->status = status;
    rp->content_type = ctype;
}

void tl_reply_json(tl_srv_reply *rp, int status, cJSON *v) {
    char *s = v ? cJSON_PrintUnformatted(v) : NULL;
    cJSON_Delete(v);
    if (!s) { tl_reply_text(rp, 500, "application/json", "{\"error\":\"out of memory\",\"error_type\":\"Backend\"}"); return; }
    free(rp->body);
    rp->body = s;
    rp->len = strlen(s);
    rp->status = status;
    rp->content_type = "application/json";
}

void tl_reply_error(tl_srv_reply *rp, int status, const char *type, const char *fmt, ...) {
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "error", msg);
    cJSON_AddStringToObject(o, "error_type", type);
    tl_reply_json(rp, status, o);
    if (rp->status == 500 && status != 500) rp->status = status;
}

int tl_reply_status_of(tl_status s) {
    return s == TL_ERR_INVALID_ARG ? 422 : s == TL_ERR_OOM ? 503 : 500;
}

void tl_reply_add_timing(tl_srv_reply *rp, const tl_request *r) {
    tl_request_timing t;
    tl_request_get_timing(r, &t);
    rp->tokenize_us += t.tokenize_us;
    rp->queue_us += t.queue_us;
    rp->inference_us += t.inference_us;
    rp->batch_tokens = t.batch_tokens;
    rp->batch_requests = t.batch_requests;
    rp->engine_runs++;
}
