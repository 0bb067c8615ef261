/* openai.c — the OpenAI API: POST /v1/embeddings, POST /v1/completions (completions.c) (float or base64 encoding,
 * dimensions where the model allows) and GET /v1/models, with OpenAI's error body
 * {"error": {"message", "type", "param", "code"}}. */
#include "server/server.h"

#include <stdint.h>
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

/* Token-id inputs: a list of ints (one sequence) or a list of lists of ints. Returns 1 and
 * fills *ids / *lens (malloc'd; free with free_ids) when input has that form, 0 when it is
 * not token ids (texts), -1 after a 422 reply on a malformed or oversized one. */
static int token_inputs(const tl_srv *s, const cJSON *input, int32_t ***ids, size_t **lens, size_t *n,
                        tl_srv_reply *rp) {
    *ids = NULL, *lens = NULL, *n = 0;
    const cJSON *first = cJSON_IsArray(input) ? cJSON_GetArrayItem(input, 0) : NULL;
    int nested = cJSON_IsArray(first);
    if (!first || (!cJSON_IsNumber(first) && !(nested && cJSON_IsNumber(cJSON_GetArrayItem(first, 0))))) return 0;
    size_t count = nested ? (size_t)cJSON_GetArraySize(input) : 1;
    if (count > s->cfg.max_client_batch_size) {
        tl_reply_error(rp, 422, "Validation", "batch size %zu > maximum allowed batch size %zu", count,
                       s->cfg.max_client_batch_size);
        return -1;
    }
    *ids = calloc(count, sizeof **ids);
    *lens = calloc(count, sizeof **lens);
    if (!*ids || !*lens) { tl_reply_error(rp, 503, "Backend", "out of memory"); return -1; }
    *n = count;
    for (size_t i = 0; i < count; i++) {
        const cJSON *seq = nested ? cJSON_GetArrayItem(input, (int)i) : input;
        size_t len = cJSON_IsArray(seq) ? (size_t)cJSON_GetArraySize(seq) : 0;
        if (!cJSON_IsArray(seq) || len == 0) {
            tl_reply_error(rp, 422, "Validation", "`input[%zu]` must be a non-empty list of token ids", i);
            return -1;
        }
        if (!((*ids)[i] = malloc(len * sizeof(int32_t)))) { tl_reply_error(rp, 503, "Backend", "out of memory"); return -1; }
        (*lens)[i] = len;
        size_t k = 0;
        const cJSON *t;
        cJSON_ArrayForEach(t, seq) {
            double v = cJSON_IsNumber(t) ? t->valuedouble : -1;
            if (v < 0 || v > INT32_MAX || v != (double)(int32_t)v) {
                if (nested)
                    tl_reply_error(rp, 422, "Validation", "`input[%zu][%zu]` must be a token id (an integer >= 0)", i, k);
                else
                    tl_reply_error(rp, 422, "Validation", "`input[%zu]` must be a token id (an integer >= 0)", k);
                return -1;
            }
            (*ids)[i][k++] = (int32_t)v;
        }
    }
    return 1;
}

/* Frees what token_inputs allocated. */
static void free_ids(int32_t **ids, size_t *lens, size_t n) {
    for (size_t i = 0; ids && i < n; i++) free(ids[i]);
    free(ids);
    free(lens);
}

/* POST /v1/embeddings: {"input": string | [string] | [token id] | [[token id]], "model", "encoding_format",
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
    int32_t **ids = NULL;
    size_t n = 0, *lens = NULL;
    int single, tok = m ? token_inputs(s, input, &ids, &lens, &n, rp) : 0;
    tl_request *r = NULL;
    b64 = cJSON_IsString(fmt) && !strcmp(fmt->valuestring, "base64");
    if (m && tok == 1) r = tl_srv_run_ids(s, m, (const int32_t *const *)ids, lens, n, rp);
    else if (m && tok == 0 && tl_srv_texts(s, input, &texts, &n, &single, rp))
        r = tl_srv_run_texts(s, m, TL_REQUEST_EMBED, texts, n, -1, 0, -1, rp);
    free(texts);
    free_ids(ids, lens, n);
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
    } else if (!strcmp(rq->path, "/v1/completions") || !strcmp(rq->path, "/v1/chat/completions")) {
        rp->route = rq->path[4] == 'c' && rq->path[5] == 'h' ? "openai_chat" : "openai_completions";
        tl_openai_completions(s, rq, rp);
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
