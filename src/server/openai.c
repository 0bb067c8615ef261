/* openai.c — the OpenAI embeddings API: POST /v1/embeddings (float or base64 encoding,
 * dimensions where the model allows) and GET /v1/models, with OpenAI's error body
 * {"error": {"message", "type", "param", "code"}}. */
#include "server/server.h"

#include <stdlib.h>
#include <string.h>

/* Appends the standard base64 of n bytes. */
static void base64(tl_sbuf *b, const unsigned char *p, size_t n) {
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    char q[4];
    for (size_t i = 0; i < n; i += 3) {
        unsigned v = (unsigned)p[i] << 16 | (i + 1 < n ? (unsigned)p[i + 1] << 8 : 0) | (i + 2 < n ? p[i + 2] : 0);
        q[0] = tab[v >> 18 & 63];
        q[1] = tab[v >> 12 & 63];
        q[2] = i + 1 < n ? tab[v >> 6 & 63] : '=';
        q[3] = i + 2 < n ? tab[v & 63] : '=';
        tl_sbuf_put(b, q, 4);
    }
}

/* Rewrites a TEI-style error reply as OpenAI's error object. */
static void to_openai_error(tl_srv_reply *rp) {
    cJSON *e = rp->body ? cJSON_Parse(rp->body) : NULL;
    const cJSON *msg = cJSON_GetObjectItemCaseSensitive(e, "error");
    const char *type = rp->status == 429 ? "rate_limit_error" : rp->status == 401 ? "authentication_error"
                       : rp->status == 404 ? "not_found_error" : rp->status >= 500 ? "server_error"
                                                                 : "invalid_request_error";
    cJSON *o = cJSON_CreateObject(), *in = cJSON_AddObjectToObject(o, "error");
    cJSON_AddStringToObject(in, "message", cJSON_IsString(msg) ? msg->valuestring : "error");
    cJSON_AddStringToObject(in, "type", type);
    cJSON_AddNullToObject(in, "param");
    cJSON_AddNumberToObject(in, "code", rp->status);
    cJSON_Delete(e);
    tl_reply_json(rp, rp->status, o);
}

/* POST /v1/embeddings: {"input": string | [string], "model", "encoding_format",
 * "dimensions"} -> {"object": "list", "data": [{"object": "embedding", "index",
 * "embedding"}], "model", "usage": {"prompt_tokens", "total_tokens"}}. */
static void embeddings(tl_srv *s, const tl_srv_req *rq, tl_srv_reply *rp) {
    cJSON *b = tl_srv_parse_body(rq, rp);
    if (!b) return;
    const cJSON *model = cJSON_GetObjectItemCaseSensitive(b, "model");
    const cJSON *fmt = cJSON_GetObjectItemCaseSensitive(b, "encoding_format");
    const cJSON *dims = cJSON_GetObjectItemCaseSensitive(b, "dimensions");
    const cJSON *input = cJSON_GetObjectItemCaseSensitive(b, "input");
    tl_srv_model *m = NULL;
    int b64 = 0;
    if (!cJSON_IsObject(b)) tl_reply_error(rp, 422, "Validation", "the request body must be a JSON object");
    else if (!cJSON_IsString(model)) tl_reply_error(rp, 422, "Validation", "`model` must be a string naming a served model");
    else if (fmt && !cJSON_IsNull(fmt) && (!cJSON_IsString(fmt) || (strcmp(fmt->valuestring, "float") && strcmp(fmt->valuestring, "base64"))))
        tl_reply_error(rp, 422, "Validation", "`encoding_format` must be \"float\" or \"base64\"");
    else if ((m = tl_srv_find_model(s, model->valuestring, rp)) && m->task != TL_TASK_EMBEDDINGS) {
        tl_reply_error(rp, 400, "Validation", "model '%s' serves %s, not embeddings", m->name, tl_srv_task_name(m->task));
        m = NULL;
    } else if (m && dims && !cJSON_IsNull(dims) &&
               (!cJSON_IsNumber(dims) || dims->valuedouble != (double)tl_model_embedding_dim(m->model))) {
        tl_reply_error(rp, 422, "Validation", "`dimensions` must be %zu: the model has no other (matryoshka) sizes",
                       tl_model_embedding_dim(m->model));
        m = NULL;
    }
    const char **texts = NULL;
    size_t n = 0;
    int single;
    if (m && cJSON_IsArray(input) && cJSON_IsNumber(cJSON_GetArrayItem(input, 0))) {
        tl_reply_error(rp, 422, "Validation", "token-id inputs are not supported: send text");
        m = NULL;
    }
    tl_request *r = NULL;
    if (m && tl_srv_texts(s, input, &texts, &n, &single, rp)) {
        b64 = cJSON_IsString(fmt) && !strcmp(fmt->valuestring, "base64");
        r = tl_srv_run_texts(s, m, TL_REQUEST_EMBED, texts, n, -1, 0, -1, rp);
    }
    free(texts);
    if (r) {
        size_t rows, dim, tokens = 0;
        const float *e = tl_request_embeddings(r, &rows, &dim);
        tl_sbuf out = {0};
        tl_sbuf_put(&out, "{\"object\":\"list\",\"data\":[", 25);
        for (size_t i = 0; i < rows; i++) {
            tl_sbuf_printf(&out, "%s{\"object\":\"embedding\",\"index\":%zu,\"embedding\":", i ? "," : "", i);
            if (b64) {
                tl_sbuf_put(&out, "\"", 1);
                base64(&out, (const unsigned char *)(e + i * dim), dim * sizeof(float));
                tl_sbuf_put(&out, "\"", 1);
            } else {
                tl_sbuf_floats(&out, e + i * dim, dim);
            }
            tl_sbuf_put(&out, "}", 1);
            tokens += tl_request_tokens(r, i);
        }
        tl_sbuf_put(&out, "],\"model\":", 10);
        tl_sbuf_json_str(&out, m->name);
        tl_sbuf_printf(&out, ",\"usage\":{\"prompt_tokens\":%zu,\"total_tokens\":%zu}}", tokens, tokens);
        tl_request_free(r);
        tl_reply_sbuf(rp, 200, &out);
    }
    cJSON_Delete(b);
}

/* GET /v1/models: {"object": "list", "data": [{"id", "object": "model", "created", "owned_by"}]}. */
static void models(tl_srv *s, tl_srv_reply *rp) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "object", "list");
    cJSON *d = cJSON_AddArrayToObject(o, "data");
    for (size_t i = 0; i < s->n_models; i++) {
        cJSON *e = cJSON_CreateObject();
        cJSON_AddStringToObject(e, "id", s->models[i].name);
        cJSON_AddStringToObject(e, "object", "model");
        cJSON_AddNumberToObject(e, "created", 0);
        cJSON_AddStringToObject(e, "owned_by", "torchless");
        cJSON_AddItemToArray(d, e);
    }
    tl_reply_json(rp, 200, o);
}

int tl_openai_route(tl_srv *s, const tl_srv_req *rq, tl_srv_reply *rp) {
    if (!strcmp(rq->path, "/v1/embeddings")) {
        rp->route = "openai_embeddings";
        if (strcmp(rq->method, "POST")) tl_reply_error(rp, 405, "Validation", "/v1/embeddings takes POST");
        else embeddings(s, rq, rp);
    } else if (!strcmp(rq->path, "/v1/models")) {
        rp->route = "openai_models";
        if (strcmp(rq->method, "GET")) tl_reply_error(rp, 405, "Validation", "/v1/models takes GET");
        else models(s, rp);
    } else {
        return 0;
    }
    if (rp->status >= 400) to_openai_error(rp);
    return 1;
}
