/* hf_api.c — the Hugging Face Inference API's task call, on POST / (the first model, where
 * clients given only a base URL post, as TEI routes it) and POST /models/{m}: a body
 * {"inputs": ..., "parameters": {...}} answered by the model's task as
 * huggingface_hub.InferenceClient reads it (feature extraction and embeddings as TEI's
 * /embed, sentence similarity, text / token classification, question answering,
 * fill-mask, zero-shot as a [{label, score}] list, reranking as TEI's /rerank). */
#include "server/server.h"

#include <stdlib.h>
#include <string.h>

/* Zero-shot: the pipeline's {"sequence", "labels", "scores"} as [{"label", "score"}]. */
static cJSON *zero_shot_list(cJSON *out) {
    const cJSON *labels = cJSON_GetObjectItemCaseSensitive(out, "labels");
    const cJSON *scores = cJSON_GetObjectItemCaseSensitive(out, "scores");
    cJSON *res = cJSON_CreateArray();
    for (int i = 0; i < cJSON_GetArraySize(labels); i++) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddItemToObject(o, "label", cJSON_Duplicate(cJSON_GetArrayItem(labels, i), 1));
        cJSON_AddItemToObject(o, "score", cJSON_Duplicate(cJSON_GetArrayItem(scores, i), 1));
        cJSON_AddItemToArray(res, o);
    }
    cJSON_Delete(out);
    return res;
}

void tl_tei_task_post(tl_srv *s, tl_srv_model *m, const tl_srv_req *rq, tl_srv_reply *rp) {
    cJSON *b = tl_srv_parse_body(rq, rp);
    if (!b) return;
    if (!cJSON_IsObject(b)) {
        cJSON_Delete(b);
        tl_reply_error(rp, 422, "Validation", "the request body must be a JSON object");
        return;
    }
    const cJSON *in = cJSON_GetObjectItemCaseSensitive(b, "inputs");
    const cJSON *params = cJSON_GetObjectItemCaseSensitive(b, "parameters");
    if (params && !cJSON_IsNull(params) && !cJSON_IsObject(params)) {
        tl_reply_error(rp, 422, "Validation", "`parameters` must be an object");
    } else if (!in) {
        if (m->task == TL_TASK_RERANK && cJSON_GetObjectItemCaseSensitive(b, "query")) tl_tei_rerank(s, m, b, rp);
        else tl_reply_error(rp, 422, "Validation", "missing field `inputs`");
    } else if (m->task == TL_TASK_EMBEDDINGS) {
        if (cJSON_IsObject(in)) tl_tei_similarity(s, m, b, rp);
        else tl_tei_embed(s, m, b, rp);
    } else if (m->task == TL_TASK_FEATURES) {
        tl_tei_embed_all(s, m, b, rp);
    } else if (m->task == TL_TASK_RERANK) {
        tl_tei_predict(s, m, b, rp);
    } else {
        int single_text = cJSON_IsString(in);
        if (!single_text && !cJSON_IsArray(in) && !cJSON_IsObject(in)) {
            tl_reply_error(rp, 422, "Validation", "`inputs` must be a string, an object or a list");
        } else if (cJSON_IsArray(in) && (size_t)cJSON_GetArraySize(in) > s->cfg.max_client_batch_size) {
            tl_reply_error(rp, 422, "Validation", "batch size %d > maximum allowed batch size %zu",
                           cJSON_GetArraySize(in), s->cfg.max_client_batch_size);
        } else if (cJSON_IsArray(in) && cJSON_GetArraySize(in) == 0) {
            tl_reply_error(rp, 400, "Empty", "`inputs` cannot be empty");
        } else {
            cJSON *p = params && cJSON_IsObject(params) ? cJSON_Duplicate(params, 1) : cJSON_CreateObject();
            if (m->task == TL_TASK_TEXT_CLASSIFICATION && !cJSON_GetObjectItemCaseSensitive(p, "top_k"))
                cJSON_AddNullToObject(p, "top_k"); /* every label, as the Inference API gives */
            if (s->cfg.auto_truncate && !cJSON_GetObjectItemCaseSensitive(p, "truncation"))
                cJSON_AddTrueToObject(p, "truncation");
            cJSON *out = tl_srv_run_pipeline(s, m, m->pipeline, in, p, rp);
            cJSON_Delete(p);
            if (out && m->task == TL_TASK_TEXT_CLASSIFICATION && single_text) {
                cJSON *wrap = cJSON_CreateArray(); /* [[{label, score}, ...]] for one text */
                cJSON_AddItemToArray(wrap, out);
                out = wrap;
            }
            if (out && m->task == TL_TASK_ZERO_SHOT && cJSON_IsObject(out)) out = zero_shot_list(out);
            if (out) tl_reply_json(rp, 200, out);
        }
    }
    cJSON_Delete(b);
}

int tl_hf_root_route(tl_srv *s, const tl_srv_req *rq, tl_srv_reply *rp) {
    if (strcmp(rq->path, "/")) return 0;
    rp->route = "tei_root";
    if (strcmp(rq->method, "POST")) { tl_reply_error(rp, 405, "Validation", "/ takes POST"); return 1; }
    tl_srv_model *m = tl_srv_pick_model(s, rq, ~0u, rp);
    if (m && m->task == TL_TASK_TEXT_GENERATION) tl_tgi_compat(s, m, rq, rp); /* as TGI's POST / */
    else if (m) tl_tei_task_post(s, m, rq, rp);
    return 1;
}
