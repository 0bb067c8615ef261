/* tei.c — the Text Embeddings Inference protocol: POST /embed, /embed_all, /predict,
 * /rerank, /similarity, /tokenize, /decode and / (routed by the model's task), GET /info
 * and /health, with TEI's request fields, response shapes and error bodies. */
#include "server/server.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define TASK(t) (1u << (t))
#define CLASSIFIERS (TASK(TL_TASK_TEXT_CLASSIFICATION) | TASK(TL_TASK_RERANK))

/* Reads truncate (bool/null: -1 = server default) and truncation_direction ("Left" /
 * "Right", any case). Replies 422 and returns 0 on a bad value. */
static int read_truncation(const cJSON *body, int *truncate, int *left, tl_srv_reply *rp) {
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(body, "truncate");
    *truncate = -1;
    *left = 0;
    if (t && !cJSON_IsNull(t)) {
        if (!cJSON_IsBool(t)) { tl_reply_error(rp, 422, "Validation", "`truncate` must be a boolean"); return 0; }
        *truncate = cJSON_IsTrue(t);
    }
    const cJSON *d = cJSON_GetObjectItemCaseSensitive(body, "truncation_direction");
    if (d && !cJSON_IsNull(d)) {
        if (!cJSON_IsString(d) || (strcasecmp(d->valuestring, "left") && strcasecmp(d->valuestring, "right"))) {
            tl_reply_error(rp, 422, "Validation", "`truncation_direction` must be \"Left\" or \"Right\"");
            return 0;
        }
        *left = !strcasecmp(d->valuestring, "left");
    }
    return 1;
}

/* Parses the body as a JSON object (replying 400 / 422 otherwise). */
static cJSON *body_object(const tl_srv_req *rq, tl_srv_reply *rp) {
    cJSON *b = tl_srv_parse_body(rq, rp);
    if (b && !cJSON_IsObject(b)) {
        cJSON_Delete(b);
        tl_reply_error(rp, 422, "Validation", "the request body must be a JSON object");
        return NULL;
    }
    return b;
}

/* POST /embed: {"inputs", "truncate", "truncation_direction", "normalize", "dimensions"}
 * -> [[float]] (one row per input, also for a single string). */
static void embed(tl_srv *s, tl_srv_model *m, const cJSON *b, tl_srv_reply *rp) {
    const char **texts = NULL;
    size_t n;
    int single, trunc, left, normalize;
    if (!read_truncation(b, &trunc, &left, rp) || !tl_srv_opt_bool(b, "normalize", 1, &normalize, rp)) return;
    const cJSON *dims = cJSON_GetObjectItemCaseSensitive(b, "dimensions");
    size_t D = tl_model_embedding_dim(m->model);
    if (dims && !cJSON_IsNull(dims) && (!cJSON_IsNumber(dims) || dims->valuedouble != (double)D)) {
        tl_reply_error(rp, 422, "Validation", "`dimensions` must be %zu: the model has no other (matryoshka) sizes", D);
        return;
    }
    if (!tl_srv_texts(s, cJSON_GetObjectItemCaseSensitive(b, "inputs"), &texts, &n, &single, rp)) return;
    tl_request *r = tl_srv_run_texts(s, m, TL_REQUEST_EMBED, texts, n, trunc, left, normalize, rp);
    free(texts);
    if (!r) return;
    size_t rows, dim;
    const float *e = tl_request_embeddings(r, &rows, &dim);
    tl_sbuf out = {0};
    tl_sbuf_put(&out, "[", 1);
    for (size_t i = 0; i < rows; i++) {
        if (i) tl_sbuf_put(&out, ",", 1);
        tl_sbuf_floats(&out, e + i * dim, dim);
    }
    tl_sbuf_put(&out, "]", 1);
    tl_request_free(r);
    tl_reply_sbuf(rp, 200, &out);
}

/* POST /embed_all: {"inputs", "truncate", "truncation_direction"} -> [[[float]]]: every
 * token's last hidden state, per input. */
static void embed_all(tl_srv *s, tl_srv_model *m, const cJSON *b, tl_srv_reply *rp) {
    const char **texts = NULL;
    size_t n;
    int single, trunc, left;
    if (!read_truncation(b, &trunc, &left, rp)) return;
    if (!tl_srv_texts(s, cJSON_GetObjectItemCaseSensitive(b, "inputs"), &texts, &n, &single, rp)) return;
    tl_request *r = tl_srv_run_texts(s, m, TL_REQUEST_FEATURES, texts, n, trunc, left, -1, rp);
    free(texts);
    if (!r) return;
    tl_sbuf out = {0};
    tl_sbuf_put(&out, "[", 1);
    for (size_t i = 0; i < n; i++) {
        size_t nt, hid;
        const float *f = tl_request_features(r, i, &nt, &hid);
        tl_sbuf_put(&out, i ? ",[" : "[", i ? 2 : 1);
        for (size_t t = 0; t < nt; t++) {
            if (t) tl_sbuf_put(&out, ",", 1);
            tl_sbuf_floats(&out, f + t * hid, hid);
        }
        tl_sbuf_put(&out, "]", 1);
    }
    tl_sbuf_put(&out, "]", 1);
    tl_request_free(r);
    tl_reply_sbuf(rp, 200, &out);
}

/* Converts one TEI sequence (a string, or a [text, pair] array of two strings) into a
 * pipeline input; NULL when it is neither. */
static cJSON *predict_item(const cJSON *v) {
    if (cJSON_IsString(v)) return cJSON_CreateString(v->valuestring);
    if (cJSON_IsArray(v) && cJSON_GetArraySize(v) == 2 && cJSON_IsString(cJSON_GetArrayItem(v, 0)) &&
        cJSON_IsString(cJSON_GetArrayItem(v, 1))) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "text", cJSON_GetArrayItem(v, 0)->valuestring);
        cJSON_AddStringToObject(o, "text_pair", cJSON_GetArrayItem(v, 1)->valuestring);
        return o;
    }
    return NULL;
}

/* The pipeline parameters of TEI's truncate / raw_scores for a classification pipeline. */
static cJSON *cls_params(const tl_srv *s, int trunc, int raw, const char *raw_key, const char *raw_val) {
    cJSON *p = cJSON_CreateObject();
    if (trunc < 0 ? s->cfg.auto_truncate : trunc) cJSON_AddTrueToObject(p, "truncation");
    if (raw) cJSON_AddStringToObject(p, raw_key, raw_val);
    return p;
}

/* POST /predict: {"inputs": text | [text, pair] | [sequence, ...], "truncate",
 * "raw_scores"} -> [{"score", "label"}] sorted (one input) or a list of those. */
static void predict(tl_srv *s, tl_srv_model *m, const cJSON *b, tl_srv_reply *rp) {
    int trunc, left, raw;
    if (!read_truncation(b, &trunc, &left, rp) || !tl_srv_opt_bool(b, "raw_scores", 0, &raw, rp)) return;
    const cJSON *in = cJSON_GetObjectItemCaseSensitive(b, "inputs");
    if (!in) { tl_reply_error(rp, 422, "Validation", "missing field `inputs`"); return; }
    cJSON *items = predict_item(in);
    if (!items) {
        if (!cJSON_IsArray(in)) { tl_reply_error(rp, 422, "Validation", "`inputs` must be a string, a [text, pair] list or a list of those"); return; }
        size_t n = (size_t)cJSON_GetArraySize(in);
        if (n == 0) { tl_reply_error(rp, 400, "Empty", "`inputs` cannot be empty"); return; }
        if (n > s->cfg.max_client_batch_size) {
            tl_reply_error(rp, 422, "Validation", "batch size %zu > maximum allowed batch size %zu", n, s->cfg.max_client_batch_size);
            return;
        }
        items = cJSON_CreateArray();
        size_t i = 0;
        const cJSON *e;
        cJSON_ArrayForEach(e, in) {
            cJSON *it = predict_item(e);
            if (!it) {
                cJSON_Delete(items);
                tl_reply_error(rp, 422, "Validation", "`inputs[%zu]` must be a string or a [text, pair] list", i);
                return;
            }
            cJSON_AddItemToArray(items, it);
            i++;
        }
    }
    cJSON *params = cls_params(s, trunc, raw, "function_to_apply", "none");
    cJSON_AddNullToObject(params, "top_k");
    tl_pipeline *pl = m->task == TL_TASK_RERANK ? m->aux : m->pipeline;
    cJSON *out = tl_srv_run_pipeline(s, m, pl, items, params, rp);
    cJSON_Delete(items);
    cJSON_Delete(params);
    if (out) tl_reply_json(rp, 200, out);
}

/* POST /rerank: {"query", "texts", "truncate", "raw_scores", "return_text"} ->
 * [{"index", "score"[, "text"]}] sorted by score, best first. */
static void rerank(tl_srv *s, tl_srv_model *m, const cJSON *b, tl_srv_reply *rp) {
    int trunc, left, raw, ret_text;
    if (!read_truncation(b, &trunc, &left, rp) || !tl_srv_opt_bool(b, "raw_scores", 0, &raw, rp) ||
        !tl_srv_opt_bool(b, "return_text", 0, &ret_text, rp))
        return;
    const cJSON *q = cJSON_GetObjectItemCaseSensitive(b, "query");
    if (!cJSON_IsString(q)) { tl_reply_error(rp, 422, "Validation", "`query` must be a string"); return; }
    const char **texts = NULL;
    size_t n;
    int single;
    if (!tl_srv_texts(s, cJSON_GetObjectItemCaseSensitive(b, "texts"), &texts, &n, &single, rp)) return;
    free(texts);
    if (single) { tl_reply_error(rp, 422, "Validation", "`texts` must be a list of strings"); return; }
    cJSON *in = cJSON_CreateObject();
    cJSON_AddStringToObject(in, "query", q->valuestring);
    cJSON_AddItemToObject(in, "documents", cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(b, "texts"), 1));
    cJSON *params = cls_params(s, trunc, raw, "activation_fn", "identity");
    if (ret_text) cJSON_AddTrueToObject(params, "return_documents");
    cJSON *out = tl_srv_run_pipeline(s, m, m->pipeline, in, params, rp);
    cJSON_Delete(in);
    cJSON_Delete(params);
    if (!out) return;
    cJSON *res = cJSON_CreateArray(), *e;
    cJSON_ArrayForEach(e, out) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddItemToObject(o, "index", cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(e, "corpus_id"), 1));
        cJSON_AddItemToObject(o, "score", cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(e, "score"), 1));
        const cJSON *t = cJSON_GetObjectItemCaseSensitive(e, "text");
        if (t) cJSON_AddItemToObject(o, "text", cJSON_Duplicate(t, 1));
        cJSON_AddItemToArray(res, o);
    }
    cJSON_Delete(out);
    tl_reply_json(rp, 200, res);
}

/* POST /similarity: {"inputs": {"source_sentence", "sentences"}} -> [float]. */
static void similarity(tl_srv *s, tl_srv_model *m, const cJSON *b, tl_srv_reply *rp) {
    const cJSON *in = cJSON_GetObjectItemCaseSensitive(b, "inputs");
    const cJSON *src = cJSON_GetObjectItemCaseSensitive(in, "source_sentence");
    const cJSON *sents = cJSON_GetObjectItemCaseSensitive(in, "sentences");
    if (!cJSON_IsObject(in) || !cJSON_IsString(src) || !cJSON_IsArray(sents)) {
        tl_reply_error(rp, 422, "Validation", "`inputs` must be {\"source_sentence\": string, \"sentences\": [string]}");
        return;
    }
    const char **texts = NULL;
    size_t n;
    int single;
    if (!tl_srv_texts(s, sents, &texts, &n, &single, rp)) return;
    free(texts);
    cJSON *out = tl_srv_run_pipeline(s, m, m->aux, in, NULL, rp);
    if (out) tl_reply_json(rp, 200, out);
}

/* Byte offset of code point cp in s (n bytes): walks UTF-8 lead bytes. */
static size_t cp_to_byte(const char *s, size_t n, size_t cp) {
    size_t i = 0;
    while (i < n && cp > 0) {
        i++;
        while (i < n && ((unsigned char)s[i] & 0xC0) == 0x80) i++;
        cp--;
    }
    return i;
}

/* POST /tokenize: {"inputs", "add_special_tokens"} -> [[{"id", "text", "special",
 * "start", "stop"}]] with byte offsets (null for special tokens), one list per input. */
static void tokenize(tl_srv *s, tl_srv_model *m, const cJSON *b, tl_srv_reply *rp) {
    const char **texts = NULL;
    size_t n;
    int single, add;
    if (!tl_srv_opt_bool(b, "add_special_tokens", 1, &add, rp)) return;
    if (!tl_srv_texts(s, cJSON_GetObjectItemCaseSensitive(b, "inputs"), &texts, &n, &single, rp)) return;
    const tl_tokenizer *tok = tl_model_tokenizer(m->model);
    tl_encode_params ep = tl_encode_default_params();
    ep.add_special_tokens = add;
    cJSON *res = cJSON_CreateArray();
    for (size_t i = 0; i < n; i++) {
        tl_encoding *enc = NULL;
        size_t len = strlen(texts[i]);
        if (tl_tokenizer_encode(tok, texts[i], len, NULL, 0, &ep, &enc) != TL_OK) {
            tl_reply_error(rp, 422, "Tokenizer", "input %zu: %s", i, tl_last_error());
            cJSON_Delete(res);
            free(texts);
            return;
        }
        cJSON *toks = cJSON_CreateArray();
        const int32_t *ids = tl_encoding_ids(enc), *sp = tl_encoding_special_tokens_mask(enc);
        const int32_t *off = tl_encoding_offsets(enc);
        for (size_t t = 0; t < tl_encoding_length(enc); t++) {
            cJSON *o = cJSON_CreateObject();
            cJSON_AddNumberToObject(o, "id", ids[t]);
            if (sp[t]) {
                cJSON_AddStringToObject(o, "text", tl_encoding_token(enc, t));
                cJSON_AddTrueToObject(o, "special");
                cJSON_AddNullToObject(o, "start");
                cJSON_AddNullToObject(o, "stop");
            } else {
                size_t a = cp_to_byte(texts[i], len, (size_t)off[2 * t]), z = cp_to_byte(texts[i], len, (size_t)off[2 * t + 1]);
                char *piece = strndup(texts[i] + a, z - a);
                cJSON_AddStringToObject(o, "text", piece ? piece : "");
                free(piece);
                cJSON_AddFalseToObject(o, "special");
                cJSON_AddNumberToObject(o, "start", (double)a);
                cJSON_AddNumberToObject(o, "stop", (double)z);
            }
            cJSON_AddItemToArray(toks, o);
        }
        cJSON_AddItemToArray(res, toks);
        tl_encoding_free(enc);
    }
    free(texts);
    tl_reply_json(rp, 200, res);
}

/* Reads one list of token ids into a malloc'd array; 0 when v is not a list of ids. */
static int read_ids(const cJSON *v, int32_t **ids, size_t *n) {
    *ids = NULL;
    *n = 0;
    if (!cJSON_IsArray(v)) return 0;
    size_t k = (size_t)cJSON_GetArraySize(v), i = 0;
    *ids = malloc((k ? k : 1) * sizeof **ids);
    if (!*ids) return 0;
    const cJSON *e;
    cJSON_ArrayForEach(e, v) {
        if (!cJSON_IsNumber(e) || e->valuedouble < 0 || e->valuedouble > 2147483647.0 ||
            e->valuedouble != (double)(int32_t)e->valuedouble) {
            free(*ids);
            *ids = NULL;
            return 0;
        }
        (*ids)[i++] = (int32_t)e->valuedouble;
    }
    *n = k;
    return 1;
}

/* POST /decode: {"ids": [id] | [[id]], "skip_special_tokens"} -> [string]. */
static void decode(tl_srv *s, tl_srv_model *m, const cJSON *b, tl_srv_reply *rp) {
    int skip;
    if (!tl_srv_opt_bool(b, "skip_special_tokens", 1, &skip, rp)) return;
    const cJSON *ids = cJSON_GetObjectItemCaseSensitive(b, "ids");
    int nested = cJSON_IsArray(ids) && cJSON_IsArray(cJSON_GetArrayItem(ids, 0));
    if (!cJSON_IsArray(ids)) { tl_reply_error(rp, 422, "Validation", "`ids` must be a list of token ids or a list of those"); return; }
    size_t rows = nested ? (size_t)cJSON_GetArraySize(ids) : 1;
    if (rows > s->cfg.max_client_batch_size) {
        tl_reply_error(rp, 422, "Validation", "batch size %zu > maximum allowed batch size %zu", rows, s->cfg.max_client_batch_size);
        return;
    }
    cJSON *res = cJSON_CreateArray();
    for (size_t r = 0; r < rows; r++) {
        int32_t *v;
        size_t n;
        if (!read_ids(nested ? cJSON_GetArrayItem(ids, (int)r) : ids, &v, &n)) {
            cJSON_Delete(res);
            tl_reply_error(rp, 422, "Validation", "`ids` must hold non-negative integer token ids");
            return;
        }
        char *text = NULL;
        tl_status st = tl_tokenizer_decode(tl_model_tokenizer(m->model), v, n, skip, 0, &text);
        free(v);
        if (st != TL_OK) {
            cJSON_Delete(res);
            tl_reply_error(rp, 422, "Tokenizer", "%s", tl_last_error());
            return;
        }
        cJSON_AddItemToArray(res, cJSON_CreateString(text));
        tl_free(text);
    }
    tl_reply_json(rp, 200, res);
}

/* GET /info: the model and the router's limits, as TEI's Info. */
static void info(tl_srv *s, tl_srv_model *m, tl_srv_reply *rp) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "model_id", m->name);
    cJSON_AddNullToObject(o, "model_sha");
    cJSON_AddStringToObject(o, "model_dtype", "float32");
    cJSON *mt = cJSON_AddObjectToObject(o, "model_type");
    if (m->task == TL_TASK_EMBEDDINGS || m->task == TL_TASK_FEATURES) {
        cJSON_AddStringToObject(cJSON_AddObjectToObject(mt, "embedding"), "pooling", m->pooling);
    } else if (m->task == TL_TASK_TEXT_GENERATION) { /* with TGI's limits */
        cJSON *g = cJSON_AddObjectToObject(mt, "generator");
        cJSON_AddNumberToObject(g, "kv_cache_tokens", (double)m->engine_params.kv_cache_tokens);
        cJSON_AddNumberToObject(o, "max_total_tokens", (double)m->max_input_length);
        cJSON_AddNumberToObject(o, "max_input_tokens", (double)(m->max_input_length - 1));
        cJSON_AddNumberToObject(o, "max_stop_sequences", 16);
        cJSON_AddNumberToObject(o, "max_best_of", 1);
    } else {
        cJSON *c = cJSON_AddObjectToObject(mt, m->task == TL_TASK_RERANK ? "reranker" : "classifier");
        const cJSON *i2l = cJSON_GetObjectItemCaseSensitive(m->config, "id2label");
        const cJSON *l2i = cJSON_GetObjectItemCaseSensitive(m->config, "label2id");
        cJSON_AddItemToObject(c, "id2label", i2l ? cJSON_Duplicate(i2l, 1) : cJSON_CreateObject());
        cJSON_AddItemToObject(c, "label2id", l2i ? cJSON_Duplicate(l2i, 1) : cJSON_CreateObject());
    }
    cJSON_AddNumberToObject(o, "max_concurrent_requests", s->cfg.max_concurrent_requests);
    cJSON_AddNumberToObject(o, "max_input_length", (double)m->max_input_length);
    const tl_engine_params ep = m->engine_params; /* as the flags set them */
    cJSON_AddNumberToObject(o, "max_batch_tokens", (double)ep.max_batch_tokens);
    cJSON_AddNumberToObject(o, "max_batch_requests", (double)ep.max_batch_requests);
    cJSON_AddNumberToObject(o, "max_client_batch_size", (double)s->cfg.max_client_batch_size);
    cJSON_AddBoolToObject(o, "auto_truncate", s->cfg.auto_truncate);
    cJSON_AddNumberToObject(o, "tokenization_workers", s->cfg.max_connections);
    cJSON_AddStringToObject(o, "version", tl_version());
    cJSON_AddNullToObject(o, "sha");
    cJSON_AddNullToObject(o, "docker_label");
    tl_reply_json(rp, 200, o);
}

/* Runs one body-taking TEI route on model m. */
static void with_body(tl_srv *s, tl_srv_model *m, const tl_srv_req *rq, tl_srv_reply *rp,
                      void (*fn)(tl_srv *, tl_srv_model *, const cJSON *, tl_srv_reply *)) {
    cJSON *b = body_object(rq, rp);
    if (!b) return;
    fn(s, m, b, rp);
    cJSON_Delete(b);
}

int tl_tei_route(tl_srv *s, const tl_srv_req *rq, tl_srv_reply *rp) {
    static const struct {
        const char *path, *route;
        unsigned tasks;
        void (*fn)(tl_srv *, tl_srv_model *, const cJSON *, tl_srv_reply *);
    } posts[] = {
        {"/embed", "tei_embed", TASK(TL_TASK_EMBEDDINGS), embed},
        {"/embed_all", "tei_embed_all", TASK(TL_TASK_EMBEDDINGS) | TASK(TL_TASK_FEATURES), embed_all},
        {"/predict", "tei_predict", CLASSIFIERS, predict},
        {"/rerank", "tei_rerank", TASK(TL_TASK_RERANK), rerank},
        {"/similarity", "tei_similarity", TASK(TL_TASK_EMBEDDINGS), similarity},
        {"/tokenize", "tei_tokenize", ~0u, tokenize},
        {"/decode", "tei_decode", ~0u, decode},
    };
    int post = !strcmp(rq->method, "POST"), get = !strcmp(rq->method, "GET");
    for (size_t i = 0; i < sizeof posts / sizeof posts[0]; i++) {
        if (strcmp(rq->path, posts[i].path)) continue;
        rp->route = posts[i].route;
        if (!post) { tl_reply_error(rp, 405, "Validation", "%s takes POST", rq->path); return 1; }
        tl_srv_model *m = tl_srv_pick_model(s, rq, posts[i].tasks, rp);
        if (m) with_body(s, m, rq, rp, posts[i].fn);
        return 1;
    }
    if (!strcmp(rq->path, "/info") && get) {
        rp->route = "tei_info";
        tl_srv_model *m = tl_srv_pick_model(s, rq, ~0u, rp);
        if (m) info(s, m, rp);
        return 1;
    }
    if (!strcmp(rq->path, "/health") && get) {
        rp->route = "tei_health";
        if (atomic_load(&s->stopping)) tl_reply_error(rp, 503, "Unhealthy", "the server is stopping");
        else tl_reply_text(rp, 200, "application/json", "");
        return 1;
    }
    return 0;
}

void tl_tei_embed(tl_srv *s, tl_srv_model *m, const cJSON *b, tl_srv_reply *rp) { embed(s, m, b, rp); }
void tl_tei_embed_all(tl_srv *s, tl_srv_model *m, const cJSON *b, tl_srv_reply *rp) { embed_all(s, m, b, rp); }
void tl_tei_predict(tl_srv *s, tl_srv_model *m, const cJSON *b, tl_srv_reply *rp) { predict(s, m, b, rp); }
void tl_tei_rerank(tl_srv *s, tl_srv_model *m, const cJSON *b, tl_srv_reply *rp) { rerank(s, m, b, rp); }
void tl_tei_similarity(tl_srv *s, tl_srv_model *m, const cJSON *b, tl_srv_reply *rp) { similarity(s, m, b, rp); }
