/* torchserve.c — TorchServe's inference API: POST /predictions/{model} (a raw text body, or
 * the task's JSON: a string, {"text": ...}, {"question", "context"}, lists for batches),
 * GET /ping, and the read-only management calls GET /models, GET /models/{model}; plus
 * POST /models/{model}, the Hugging Face Inference API task call (hf_api.c). Errors use
 * TorchServe's body {"code", "type", "message"}. */
#include "server/server.h"

#include <stdlib.h>
#include <string.h>

/* Rewrites a TEI-style error reply as TorchServe's {"code", "type", "message"}. */
static void to_ts_error(tl_srv_reply *rp) {
    cJSON *e = rp->body ? cJSON_Parse(rp->body) : NULL;
    const cJSON *msg = cJSON_GetObjectItemCaseSensitive(e, "error");
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "code", rp->status);
    cJSON_AddStringToObject(o, "type", rp->status == 404 ? "ModelNotFoundException" : rp->status == 413 ? "PayloadTooLarge"
                                       : rp->status >= 500 ? "InternalServerException" : "BadRequestException");
    cJSON_AddStringToObject(o, "message", cJSON_IsString(msg) ? msg->valuestring : "error");
    cJSON_Delete(e);
    tl_reply_json(rp, rp->status, o);
}

/* Embeddings of a string, {"text": s}, or a list of those -> one vector, or a list. */
static void predict_embed(tl_srv *s, tl_srv_model *m, const cJSON *in, tl_srv_reply *rp) {
    cJSON *list = cJSON_CreateArray();
    int single = !cJSON_IsArray(in);
    const cJSON *e;
    if (single) cJSON_AddItemReferenceToArray(list, (cJSON *)in);
    else cJSON_ArrayForEach(e, in) cJSON_AddItemReferenceToArray(list, (cJSON *)e);
    cJSON *texts = cJSON_CreateArray();
    cJSON_ArrayForEach(e, list) {
        const cJSON *t = cJSON_IsObject(e) ? cJSON_GetObjectItemCaseSensitive(e, "text") : e;
        cJSON_AddItemReferenceToArray(texts, (cJSON *)t);
    }
    cJSON *body = cJSON_CreateObject();
    cJSON_AddItemReferenceToObject(body, "inputs", texts);
    tl_tei_embed(s, m, body, rp);
    cJSON_Delete(body);
    cJSON_Delete(texts);
    cJSON_Delete(list);
    if (rp->status == 200 && single) { /* [[...]] -> [...] for one input */
        size_t n = rp->len;
        if (n >= 2 && rp->body[0] == '[' && rp->body[n - 1] == ']') {
            memmove(rp->body, rp->body + 1, n - 2);
            rp->len = n - 2;
            rp->body[rp->len] = 0;
        }
    }
}

/* The pipeline input and parameters of a TorchServe body: "parameters" split off, and
 * zero-shot's candidate_labels / multi_label / hypothesis_template moved into them. */
static void split_params(cJSON *in, cJSON **params) {
    *params = NULL;
    if (!cJSON_IsObject(in)) return;
    cJSON *p = cJSON_DetachItemFromObjectCaseSensitive(in, "parameters");
    *params = cJSON_IsObject(p) ? p : (cJSON_Delete(p), cJSON_CreateObject());
    static const char *moved[] = {"candidate_labels", "multi_label", "hypothesis_template"};
    for (size_t i = 0; i < sizeof moved / sizeof moved[0]; i++) {
        cJSON *v = cJSON_DetachItemFromObjectCaseSensitive(in, moved[i]);
        if (v) cJSON_AddItemToObject(*params, moved[i], v);
    }
}

/* POST /predictions/{model}. */
static void predictions(tl_srv *s, const char *name, const tl_srv_req *rq, tl_srv_reply *rp) {
    tl_srv_model *m = tl_srv_find_model(s, name, rp);
    if (!m) return;
    int is_json = rq->content_type && strstr(rq->content_type, "json");
    cJSON *in = is_json ? tl_srv_parse_body(rq, rp) : NULL;
    if (is_json && !in) return;
    if (!in) { /* a raw text body: the whole body is one text */
        if (!tl_srv_check_text(rq->body, rq->body_len, rp)) return;
        char *raw = strndup(rq->body, rq->body_len);
        in = raw ? cJSON_CreateString(raw) : NULL;
        free(raw);
        if (!in) { tl_reply_error(rp, 503, "Backend", "out of memory"); return; }
    }
    if (m->task == TL_TASK_EMBEDDINGS) {
        predict_embed(s, m, in, rp);
    } else if (m->task == TL_TASK_FEATURES) {
        cJSON *body = cJSON_CreateObject();
        cJSON_AddItemReferenceToObject(body, "inputs", in);
        tl_tei_embed_all(s, m, body, rp);
        cJSON_Delete(body);
    } else {
        cJSON *params = NULL;
        split_params(in, &params);
        if (cJSON_IsArray(in) && (size_t)cJSON_GetArraySize(in) > s->cfg.max_client_batch_size) {
            tl_reply_error(rp, 422, "Validation", "batch size %d > maximum allowed batch size %zu",
                           cJSON_GetArraySize(in), s->cfg.max_client_batch_size);
        } else {
            if (s->cfg.auto_truncate) {
                if (!params) params = cJSON_CreateObject();
                if (!cJSON_GetObjectItemCaseSensitive(params, "truncation")) cJSON_AddTrueToObject(params, "truncation");
            }
            cJSON *out = tl_srv_run_pipeline(s, m, m->pipeline, in, params, rp);
            if (out) tl_reply_json(rp, 200, out);
        }
        cJSON_Delete(params);
    }
    cJSON_Delete(in);
}

/* One model's description, as TorchServe's describe-model entry. */
static cJSON *describe(const tl_srv_model *m) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "modelName", m->name);
    cJSON_AddStringToObject(o, "modelVersion", "1.0");
    cJSON_AddStringToObject(o, "modelUrl", m->path);
    cJSON_AddStringToObject(o, "runtime", "torchless");
    cJSON_AddStringToObject(o, "task", tl_srv_task_name(m->task));
    cJSON_AddNumberToObject(o, "minWorkers", 1);
    cJSON_AddNumberToObject(o, "maxWorkers", 1);
    const tl_engine_params ep = m->engine_params; /* as the flags set them */
    cJSON_AddNumberToObject(o, "batchSize", (double)ep.max_batch_requests);
    cJSON_AddNumberToObject(o, "maxBatchDelay", ep.max_batch_delay_ms);
    cJSON_AddTrueToObject(o, "loadedAtStartup");
    cJSON *w = cJSON_AddArrayToObject(o, "workers"), *w0 = cJSON_CreateObject();
    cJSON_AddStringToObject(w0, "id", "0");
    cJSON_AddStringToObject(w0, "status", "READY");
    cJSON_AddItemToArray(w, w0);
    return o;
}

int tl_torchserve_route(tl_srv *s, const tl_srv_req *rq, tl_srv_reply *rp) {
    const char *p = rq->path;
    int get = !strcmp(rq->method, "GET"), post = !strcmp(rq->method, "POST");
    if (!strcmp(p, "/ping")) {
        rp->route = "torchserve_ping";
        if (atomic_load(&s->stopping)) tl_reply_text(rp, 503, "application/json", "{\"status\":\"Unhealthy\"}");
        else tl_reply_text(rp, 200, "application/json", "{\"status\":\"Healthy\"}");
        return 1;
    }
    if (!strcmp(p, "/models") && get) {
        rp->route = "torchserve_models";
        cJSON *o = cJSON_CreateObject(), *a = cJSON_AddArrayToObject(o, "models");
        for (size_t i = 0; i < s->n_models; i++) {
            cJSON *e = cJSON_CreateObject();
            cJSON_AddStringToObject(e, "modelName", s->models[i].name);
            cJSON_AddStringToObject(e, "modelUrl", s->models[i].path);
            cJSON_AddItemToArray(a, e);
        }
        tl_reply_json(rp, 200, o);
        return 1;
    }
    if (!strncmp(p, "/models/", 8) && p[8] && !strchr(p + 8, '/')) {
        if (get) {
            rp->route = "torchserve_describe";
            tl_srv_model *m = tl_srv_find_model(s, p + 8, rp);
            if (m) {
                cJSON *a = cJSON_CreateArray();
                cJSON_AddItemToArray(a, describe(m));
                tl_reply_json(rp, 200, a);
            } else {
                to_ts_error(rp);
            }
        } else if (post) {
            rp->route = "hf_task";
            tl_srv_model *m = tl_srv_find_model(s, p + 8, rp);
            if (m) tl_tei_task_post(s, m, rq, rp);
        } else {
            rp->route = "torchserve_describe";
            tl_reply_error(rp, 405, "Validation", "%s takes GET or POST", p);
            to_ts_error(rp);
        }
        return 1;
    }
    if (!strncmp(p, "/predictions/", 13) && p[13] && !strchr(p + 13, '/')) {
        rp->route = "torchserve_predictions";
        if (post || !strcmp(rq->method, "PUT")) predictions(s, p + 13, rq, rp);
        else tl_reply_error(rp, 405, "Validation", "%s takes POST", p);
        if (rp->status >= 400) to_ts_error(rp);
        return 1;
    }
    return 0;
}
