/* kserve.c — the Open Inference Protocol (KServe v2) over REST: GET /v2, /v2/health/live,
 * /v2/health/ready, /v2/models/{m}, /v2/models/{m}/ready; POST /v2/models/{m}/infer with
 * one BYTES input of texts and FP32 outputs with shapes: "embedding" [n, dim] for an
 * embeddings model, "scores" [n, labels] (the labels in id order) for a text classifier.
 * JSON tensor data only (no binary-data extension). Errors are {"error": message}. */
#include "server/server.h"

#include <stdlib.h>
#include <string.h>

/* Rewrites a TEI-style error reply as {"error": message}. */
static void to_v2_error(tl_srv_reply *rp) {
    cJSON *e = rp->body ? cJSON_Parse(rp->body) : NULL;
    const cJSON *msg = cJSON_GetObjectItemCaseSensitive(e, "error");
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "error", cJSON_IsString(msg) ? msg->valuestring : "error");
    cJSON_Delete(e);
    tl_reply_json(rp, rp->status, o);
}

/* Adds a tensor description {"name", "datatype", "shape"} to array a. */
static void add_meta(cJSON *a, const char *name, const char *dt, long d0, long d1) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "name", name);
    cJSON_AddStringToObject(o, "datatype", dt);
    cJSON *sh = cJSON_AddArrayToObject(o, "shape");
    cJSON_AddItemToArray(sh, cJSON_CreateNumber((double)d0));
    if (d1) cJSON_AddItemToArray(sh, cJSON_CreateNumber((double)d1));
    cJSON_AddItemToArray(a, o);
}

/* GET /v2/models/{m}: name, versions, platform, inputs and outputs. */
static void metadata(tl_srv_model *m, tl_srv_reply *rp) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "name", m->name);
    cJSON *v = cJSON_AddArrayToObject(o, "versions");
    cJSON_AddItemToArray(v, cJSON_CreateString("1"));
    cJSON_AddStringToObject(o, "platform", "torchless");
    add_meta(cJSON_AddArrayToObject(o, "inputs"), "text", "BYTES", -1, 0);
    cJSON *outs = cJSON_AddArrayToObject(o, "outputs");
    if (m->task == TL_TASK_EMBEDDINGS) add_meta(outs, "embedding", "FP32", -1, (long)tl_model_embedding_dim(m->model));
    else if (m->task == TL_TASK_TEXT_CLASSIFICATION) add_meta(outs, "scores", "FP32", -1, -1);
    tl_reply_json(rp, 200, o);
}

/* Reads the request's texts: the one BYTES input's "data" (a flat list of strings). */
static int infer_texts(tl_srv *s, const cJSON *b, const char ***texts, size_t *n, const char **in_name,
                       tl_srv_reply *rp) {
    const cJSON *ins = cJSON_GetObjectItemCaseSensitive(b, "inputs");
    if (!cJSON_IsArray(ins) || cJSON_GetArraySize(ins) != 1) {
        tl_reply_error(rp, 400, "Validation", "`inputs` must be a list of one BYTES tensor of texts");
        return 0;
    }
    const cJSON *t = cJSON_GetArrayItem(ins, 0);
    const cJSON *dt = cJSON_GetObjectItemCaseSensitive(t, "datatype"), *name = cJSON_GetObjectItemCaseSensitive(t, "name");
    const cJSON *shape = cJSON_GetObjectItemCaseSensitive(t, "shape"), *data = cJSON_GetObjectItemCaseSensitive(t, "data");
    if (!cJSON_IsString(name) || !cJSON_IsString(dt) || strcmp(dt->valuestring, "BYTES") || !cJSON_IsArray(shape)) {
        tl_reply_error(rp, 400, "Validation", "the input tensor needs a name, datatype \"BYTES\" and a shape");
        return 0;
    }
    if (!data) {
        tl_reply_error(rp, 400, "Validation", "the input tensor has no JSON \"data\" (the binary-data extension is not supported)");
        return 0;
    }
    double numel = 1;
    const cJSON *d;
    cJSON_ArrayForEach(d, shape) numel *= cJSON_IsNumber(d) ? d->valuedouble : -1;
    if (!cJSON_IsArray(data) || numel != (double)cJSON_GetArraySize(data)) {
        tl_reply_error(rp, 400, "Validation", "the input's data must be a flat list of as many strings as its shape holds");
        return 0;
    }
    int single;
    *in_name = name->valuestring;
    return tl_srv_texts(s, data, texts, n, &single, rp);
}

/* Appends one output tensor {"name", "datatype": "FP32", "shape": [d0, d1], "data"}. */
static void put_output(tl_sbuf *b, const char *name, const float *x, size_t d0, size_t d1) {
    tl_sbuf_put(b, "{\"name\":", 8);
    tl_sbuf_json_str(b, name);
    tl_sbuf_printf(b, ",\"datatype\":\"FP32\",\"shape\":[%zu,%zu],\"data\":", d0, d1);
    tl_sbuf_floats(b, x, d0 * d1);
    tl_sbuf_put(b, "}", 1);
}

/* Scores of a text classifier for n texts, labels in id order (pipeline with top_k null). */
static float *class_scores(tl_srv *s, tl_srv_model *m, const char **texts, size_t n, size_t *n_labels,
                           tl_srv_reply *rp) {
    const cJSON *i2l = cJSON_GetObjectItemCaseSensitive(m->config, "id2label");
    size_t L = (size_t)cJSON_GetArraySize(i2l);
    cJSON *in = cJSON_CreateArray(), *params = cJSON_CreateObject();
    for (size_t i = 0; i < n; i++) cJSON_AddItemToArray(in, cJSON_CreateString(texts[i]));
    cJSON_AddNullToObject(params, "top_k");
    if (s->cfg.auto_truncate) cJSON_AddTrueToObject(params, "truncation");
    cJSON *out = tl_srv_run_pipeline(s, m, m->pipeline, in, params, rp);
    cJSON_Delete(in);
    cJSON_Delete(params);
    if (!out) return NULL;
    float *x = calloc(n * (L ? L : 1), sizeof *x);
    for (size_t i = 0; x && i < n; i++) {
        const cJSON *e;
        cJSON_ArrayForEach(e, cJSON_GetArrayItem(out, (int)i)) {
            const cJSON *lab = cJSON_GetObjectItemCaseSensitive(e, "label");
            const cJSON *l;
            size_t k = 0;
            cJSON_ArrayForEach(l, i2l) {
                if (cJSON_IsString(l) && cJSON_IsString(lab) && !strcmp(l->valuestring, lab->valuestring) && k < L)
                    x[i * L + (size_t)atoi(l->string)] = (float)cJSON_GetObjectItemCaseSensitive(e, "score")->valuedouble;
                k++;
            }
        }
    }
    cJSON_Delete(out);
    *n_labels = L;
    return x;
}

/* POST /v2/models/{m}/infer. */
static void infer(tl_srv *s, tl_srv_model *m, const tl_srv_req *rq, tl_srv_reply *rp) {
    cJSON *b = tl_srv_parse_body(rq, rp);
    if (!b) return;
    const char **texts = NULL, *in_name = NULL;
    size_t n = 0;
    if (!cJSON_IsObject(b)) tl_reply_error(rp, 400, "Validation", "the request body must be a JSON object");
    else if (m->task != TL_TASK_EMBEDDINGS && m->task != TL_TASK_TEXT_CLASSIFICATION)
        tl_reply_error(rp, 400, "Validation", "model '%s' (%s) has no v2 tensor interface: use /models/%s", m->name,
                       tl_srv_task_name(m->task), m->name);
    else if (infer_texts(s, b, &texts, &n, &in_name, rp)) {
        tl_sbuf out = {0};
        tl_sbuf_put(&out, "{\"model_name\":", 14);
        tl_sbuf_json_str(&out, m->name);
        tl_sbuf_put(&out, ",\"model_version\":\"1\"", 20);
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(b, "id");
        if (cJSON_IsString(id)) {
            tl_sbuf_put(&out, ",\"id\":", 6);
            tl_sbuf_json_str(&out, id->valuestring);
        }
        tl_sbuf_put(&out, ",\"outputs\":[", 12);
        int ok = 0;
        if (m->task == TL_TASK_EMBEDDINGS) {
            tl_request *r = tl_srv_run_texts(s, m, TL_REQUEST_EMBED, texts, n, -1, 0, -1, rp);
            if (r) {
                size_t rows, dim;
                const float *e = tl_request_embeddings(r, &rows, &dim);
                put_output(&out, "embedding", e, rows, dim);
                tl_request_free(r);
                ok = 1;
            }
        } else {
            size_t L = 0;
            float *x = class_scores(s, m, texts, n, &L, rp);
            if (x) {
                put_output(&out, "scores", x, n, L);
                free(x);
                ok = 1;
            }
        }
        tl_sbuf_put(&out, "]}", 2);
        if (ok) tl_reply_sbuf(rp, 200, &out);
        else free(out.s);
    }
    free(texts);
    cJSON_Delete(b);
}

int tl_kserve_route(tl_srv *s, const tl_srv_req *rq, tl_srv_reply *rp) {
    const char *p = rq->path;
    if (strncmp(p, "/v2", 3) || (p[3] && p[3] != '/')) return 0;
    int get = !strcmp(rq->method, "GET"), post = !strcmp(rq->method, "POST");
    if (!strcmp(p, "/v2/health/live") && get) {
        rp->route = "v2_live";
        tl_reply_text(rp, 200, "application/json", "{\"live\":true}");
    } else if (!strcmp(p, "/v2/health/ready") && get) {
        rp->route = "v2_ready";
        if (atomic_load(&s->stopping)) tl_reply_text(rp, 503, "application/json", "{\"ready\":false}");
        else tl_reply_text(rp, 200, "application/json", "{\"ready\":true}");
    } else if (!strcmp(p, "/v2") && get) {
        rp->route = "v2_server";
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "name", "torchless");
        cJSON_AddStringToObject(o, "version", tl_version());
        cJSON_AddArrayToObject(o, "extensions");
        tl_reply_json(rp, 200, o);
    } else if (!strncmp(p, "/v2/models/", 11)) {
        char name[256];
        const char *rest = strchr(p + 11, '/');
        size_t len = rest ? (size_t)(rest - (p + 11)) : strlen(p + 11);
        rp->route = "v2_model";
        if (len == 0 || len >= sizeof name) {
            tl_reply_error(rp, 404, "NotFound", "no such model");
        } else {
            memcpy(name, p + 11, len);
            name[len] = 0;
            /* Triton's clients may name a version: /v2/models/{m}/versions/{v}/... */
            if (rest && !strncmp(rest, "/versions/", 10)) rest = strchr(rest + 10, '/');
            tl_srv_model *m = tl_srv_find_model(s, name, rp);
            if (!m) {
            } else if (!rest && get) {
                metadata(m, rp);
            } else if (rest && !strcmp(rest, "/ready") && get) {
                rp->route = "v2_model_ready";
                cJSON *o = cJSON_CreateObject();
                cJSON_AddStringToObject(o, "name", m->name);
                cJSON_AddBoolToObject(o, "ready", !atomic_load(&s->stopping));
                tl_reply_json(rp, atomic_load(&s->stopping) ? 503 : 200, o);
            } else if (rest && !strcmp(rest, "/infer") && post) {
                rp->route = "v2_infer";
                infer(s, m, rq, rp);
            } else {
                tl_reply_error(rp, 404, "NotFound", "no route %s %.200s", rq->method, p);
            }
        }
    } else {
        rp->route = "not_found";
        tl_reply_error(rp, 404, "NotFound", "no route %s %.200s", rq->method, p);
    }
    if (rp->status >= 400) to_v2_error(rp);
    return 1;
}
