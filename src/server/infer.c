/* infer.c — what every protocol does with a request: parse and check the JSON body, read
 * text inputs, run them through a model's engine (embeddings, features, pipelines), map
 * library errors to status codes. */
#include "server/server.h"
#include "io/json.h"

#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

/* Returns 1 when s (n bytes) is valid UTF-8 with no NUL; else 0 and the offset in *bad. */
static int valid_utf8(const char *s, size_t n, size_t *bad) {
    size_t i = 0;
    while (i < n) {
        utf8proc_int32_t cp;
        utf8proc_ssize_t k = utf8proc_iterate((const utf8proc_uint8_t *)s + i, (utf8proc_ssize_t)(n - i), &cp);
        if (k <= 0 || cp == 0) { *bad = i; return 0; }
        i += (size_t)k;
    }
    return 1;
}

/* Returns 1 when the JSON text holds a \u0000 escape (an unescaped backslash before it). */
static int has_nul_escape(const char *s, size_t n) {
    for (size_t i = 0; i + 6 <= n; i++) {
        if (s[i] != '\\' || s[i + 1] != 'u' || strncmp(s + i + 2, "0000", 4)) continue;
        size_t k = 0;
        while (k < i && s[i - 1 - k] == '\\') k++;
        if (k % 2 == 0) return 1;
    }
    return 0;
}

int tl_srv_valid_text(const char *s, size_t n, size_t *bad) { return valid_utf8(s, n, bad); }

int tl_srv_check_text(const char *s, size_t n, tl_srv_reply *rp) {
    size_t bad;
    if (n == 0) { tl_reply_error(rp, 400, "Empty", "the request body is empty"); return 0; }
    if (!valid_utf8(s, n, &bad)) {
        tl_reply_error(rp, 400, "Validation", "the request body is not valid UTF-8 (or holds a NUL byte) at byte %zu", bad);
        return 0;
    }
    return 1;
}

cJSON *tl_srv_parse_body(const tl_srv_req *rq, tl_srv_reply *rp) {
    size_t bad;
    if (rq->body_len == 0) { tl_reply_error(rp, 400, "Validation", "the request body is empty: send JSON"); return NULL; }
    if (!valid_utf8(rq->body, rq->body_len, &bad)) {
        tl_reply_error(rp, 400, "Validation", "the request body is not valid UTF-8 (or holds a NUL byte) at byte %zu", bad);
        return NULL;
    }
    if (has_nul_escape(rq->body, rq->body_len)) {
        tl_reply_error(rp, 400, "Validation", "the request body holds a \\u0000 escape: NUL characters are not accepted");
        return NULL;
    }
    const char *end = NULL;
    cJSON *v = cJSON_ParseWithLengthOpts(rq->body, rq->body_len, &end, 0);
    if (v && tl_json_dedupe(v) != 0) { /* duplicate keys: the last one wins, as Python's json */
        cJSON_Delete(v);
        tl_reply_error(rp, 503, "Backend", "out of memory");
        return NULL;
    }
    if (!v) {
        size_t at = end && end >= rq->body ? (size_t)(end - rq->body) : 0;
        tl_reply_error(rp, 400, "Validation", "the request body is not valid JSON (near byte %zu)", at);
        return NULL;
    }
    return v;
}

int tl_srv_texts(const tl_srv *s, const cJSON *inputs, const char ***texts, size_t *n, int *single,
                 tl_srv_reply *rp) {
    *texts = NULL;
    *n = 0;
    *single = 0;
    if (!inputs) { tl_reply_error(rp, 422, "Validation", "missing field `inputs`"); return 0; }
    if (cJSON_IsString(inputs)) {
        *texts = malloc(sizeof **texts);
        if (!*texts) { tl_reply_error(rp, 503, "Backend", "out of memory"); return 0; }
        (*texts)[0] = inputs->valuestring;
        *n = 1;
        *single = 1;
        return 1;
    }
    if (!cJSON_IsArray(inputs)) {
        tl_reply_error(rp, 422, "Validation", "`inputs` must be a string or a list of strings");
        return 0;
    }
    size_t count = (size_t)cJSON_GetArraySize(inputs);
    if (count == 0) { tl_reply_error(rp, 400, "Empty", "`inputs` cannot be empty"); return 0; }
    if (count > s->cfg.max_client_batch_size) {
        tl_reply_error(rp, 422, "Validation", "batch size %zu > maximum allowed batch size %zu", count,
                       s->cfg.max_client_batch_size);
        return 0;
    }
    *texts = malloc(count * sizeof **texts);
    if (!*texts) { tl_reply_error(rp, 503, "Backend", "out of memory"); return 0; }
    size_t i = 0;
    const cJSON *e;
    cJSON_ArrayForEach(e, inputs) {
        if (!cJSON_IsString(e)) {
            tl_reply_error(rp, 422, "Validation", "`inputs[%zu]` must be a string", i);
            free(*texts);
            *texts = NULL;
            return 0;
        }
        (*texts)[i++] = e->valuestring;
    }
    *n = count;
    return 1;
}

int tl_srv_opt_bool(const cJSON *obj, const char *key, int def, int *out, tl_srv_reply *rp) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!v || cJSON_IsNull(v)) { *out = def; return 1; }
    if (!cJSON_IsBool(v)) { tl_reply_error(rp, 422, "Validation", "`%s` must be a boolean", key); return 0; }
    *out = cJSON_IsTrue(v);
    return 1;
}

/* Submits texts, or token ids when ids is not NULL, to m's engine and waits (see
 * tl_srv_run_texts). */
static tl_request *run_engine(tl_srv *s, tl_srv_model *m, int kind, const char *const *texts,
                              const int32_t *const *ids, const size_t *lens, size_t n, int truncate,
                              int truncate_left, int normalize, tl_srv_reply *rp) {
    tl_request_params p = tl_request_default_params();
    p.kind = kind;
    p.truncate = truncate < 0 ? s->cfg.auto_truncate : truncate;
    p.truncate_left = truncate_left;
    p.normalize = normalize;
    tl_request *r = NULL;
    tl_status st = ids ? tl_engine_submit_ids(m->engine, ids, lens, n, &p, &r)
                       : tl_engine_submit(m->engine, texts, NULL, n, &p, &r);
    if (st != TL_OK) {
        tl_reply_error(rp, tl_reply_status_of(st), st == TL_ERR_INVALID_ARG ? "Validation" : "Backend", "%s",
                       tl_last_error());
        return NULL;
    }
    st = tl_request_wait(r, -1);
    tl_reply_add_timing(rp, r);
    if (st != TL_OK) {
        tl_reply_error(rp, tl_reply_status_of(st), st == TL_ERR_INVALID_ARG ? "Validation" : "Backend", "%s",
                       tl_request_error(r));
        tl_request_free(r);
        return NULL;
    }
    return r;
}

tl_request *tl_srv_run_texts(tl_srv *s, tl_srv_model *m, int kind, const char *const *texts, size_t n,
                             int truncate, int truncate_left, int normalize, tl_srv_reply *rp) {
    return run_engine(s, m, kind, texts, NULL, NULL, n, truncate, truncate_left, normalize, rp);
}

tl_request *tl_srv_run_ids(tl_srv *s, tl_srv_model *m, const int32_t *const *ids, const size_t *lens, size_t n,
                           tl_srv_reply *rp) {
    return run_engine(s, m, TL_REQUEST_EMBED, NULL, ids, lens, n, -1, 0, -1, rp);
}

cJSON *tl_srv_run_pipeline(tl_srv *s, tl_srv_model *m, tl_pipeline *pl, const cJSON *inputs,
                           const cJSON *params, tl_srv_reply *rp) {
    (void)s;
    char *in = cJSON_PrintUnformatted(inputs);
    char *pj = params ? cJSON_PrintUnformatted(params) : NULL;
    if (!in || (params && !pj)) {
        free(in);
        free(pj);
        tl_reply_error(rp, 503, "Backend", "out of memory");
        return NULL;
    }
    tl_request_params p = tl_request_default_params();
    p.kind = TL_REQUEST_PIPELINE;
    p.pipeline = pl;
    p.inputs_json = in;
    p.params_json = pj;
    tl_request *r = NULL;
    tl_status st = tl_engine_submit(m->engine, NULL, NULL, 0, &p, &r);
    free(in);
    free(pj);
    if (st == TL_OK) {
        st = tl_request_wait(r, -1);
        tl_reply_add_timing(rp, r);
    }
    cJSON *out = NULL;
    if (st != TL_OK) {
        tl_reply_error(rp, tl_reply_status_of(st), st == TL_ERR_INVALID_ARG ? "Validation" : "Backend", "%s",
                       r ? tl_request_error(r) : tl_last_error());
    } else if (!(out = cJSON_Parse(tl_request_output_json(r)))) {
        tl_reply_error(rp, 500, "Backend", "the pipeline's output is not JSON");
    }
    tl_request_free(r);
    return out;
}

tl_srv_model *tl_srv_find_model(tl_srv *s, const char *name, tl_srv_reply *rp) {
    if (!name) return s->n_models ? &s->models[0] : NULL;
    for (size_t i = 0; i < s->n_models; i++)
        if (!strcmp(s->models[i].name, name)) return &s->models[i];
    tl_reply_error(rp, 404, "NotFound", "model '%.200s' is not served here", name);
    return NULL;
}

tl_srv_model *tl_srv_pick_model(tl_srv *s, const tl_srv_req *rq, unsigned tasks, tl_srv_reply *rp) {
    const char *name = rq->query;
    tl_srv_model *m = NULL;
    if (name) {
        if (!(m = tl_srv_find_model(s, name, rp))) return NULL;
        if (!(tasks & (1u << m->task))) {
            tl_reply_error(rp, 400, "Validation", "model '%s' serves %s, which has no %s route", m->name,
                           tl_srv_task_name(m->task), rq->path);
            return NULL;
        }
        return m;
    }
    for (size_t i = 0; i < s->n_models; i++)
        if (tasks & (1u << s->models[i].task)) return &s->models[i];
    tl_reply_error(rp, 400, "Validation", "no served model has a task that answers %s", rq->path);
    return NULL;
}

const char *tl_srv_task_name(tl_srv_task t) {
    static const char *names[] = {"embeddings", "feature-extraction", "text-classification",
                                  "token-classification", "question-answering", "fill-mask",
                                  "zero-shot-classification", "text-ranking", "text-generation"};
    return (unsigned)t < sizeof names / sizeof names[0] ? names[t] : "unknown";
}
