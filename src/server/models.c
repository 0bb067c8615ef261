/* models.c — what `torchless serve` builds for one --model: the loaded model, its task (given,
 * or inferred from the checkpoint), its pipelines, its engine, after one warm-up forward.
 * Used by cmd_serve.c and by tests/fuzz/fuzz_server.c (which routes requests without
 * sockets). Errors are printed on stderr. */
#include "server/server.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Maps a task name (with aliases) to a served task; -1 when unknown. */
int tl_srv_parse_task(const char *t) {
    static const struct { const char *name; int task; } k[] = {
        {"embeddings", TL_TASK_EMBEDDINGS}, {"sentence-embedding", TL_TASK_EMBEDDINGS},
        {"sentence-similarity", TL_TASK_EMBEDDINGS}, {"feature-extraction", TL_TASK_FEATURES},
        {"text-classification", TL_TASK_TEXT_CLASSIFICATION}, {"sentiment-analysis", TL_TASK_TEXT_CLASSIFICATION},
        {"token-classification", TL_TASK_TOKEN_CLASSIFICATION}, {"ner", TL_TASK_TOKEN_CLASSIFICATION},
        {"question-answering", TL_TASK_QUESTION_ANSWERING}, {"fill-mask", TL_TASK_FILL_MASK},
        {"zero-shot-classification", TL_TASK_ZERO_SHOT}, {"text-ranking", TL_TASK_RERANK},
        {"rerank", TL_TASK_RERANK}, {"reranking", TL_TASK_RERANK}, {"text-generation", TL_TASK_TEXT_GENERATION}};
    for (size_t i = 0; i < sizeof k / sizeof k[0]; i++)
        if (!strcmp(t, k[i].name)) return k[i].task;
    return -1;
}

/* Reads dir/rel as JSON, or NULL when absent or unreadable. */
static cJSON *read_json(const char *dir, const char *rel) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, rel);
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    char *buf = malloc(1 << 20);
    size_t n = buf ? fread(buf, 1, (1 << 20) - 1, f) : 0;
    fclose(f);
    cJSON *v = buf ? cJSON_ParseWithLength(buf, n) : NULL;
    free(buf);
    return v;
}

/* Creates pipeline task on m's model into *out; prints the error and returns 0. */
static int make_pipeline(tl_srv_model *m, const char *task, tl_pipeline **out) {
    if (tl_pipeline_create(m->model, task, NULL, out) == TL_OK) return 1;
    fprintf(stderr, "torchless serve: model %s: cannot create the %s pipeline: %s\n", m->name, task ? task : "inferred", tl_last_error());
    return 0;
}

/* Loads m (path, task), its pipelines and its engine, and runs one warm-up request. */
int tl_srv_model_load(tl_srv_model *m, const tl_engine_params *ep, int threads) {
    tl_model_params mp = tl_model_default_params();
    mp.num_threads = threads;
    m->engine_params = *ep;
    if (tl_model_load(m->path, &mp, &m->model) != TL_OK) {
        fprintf(stderr, "torchless serve: model %s: %s\n", m->name, tl_last_error());
        return 0;
    }
    m->config = read_json(m->path, "config.json");
    if ((int)m->task < 0) {
        tl_pipeline *p = NULL;
        if (!make_pipeline(m, NULL, &p)) return 0;
        const char *t = tl_pipeline_task(p);
        const cJSON *i2l = cJSON_GetObjectItemCaseSensitive(m->config, "id2label");
        m->task = !strcmp(t, "feature-extraction") ? TL_TASK_EMBEDDINGS : (tl_srv_task)tl_srv_parse_task(t);
        if (m->task == TL_TASK_TEXT_CLASSIFICATION && cJSON_GetArraySize(i2l) == 1) m->task = TL_TASK_RERANK;
        tl_pipeline_free(p);
        if ((int)m->task < 0) { fprintf(stderr, "torchless serve: model %s: task %s cannot be served\n", m->name, t); return 0; }
    }
    m->task_name = tl_srv_task_name(m->task);
    if (m->task == TL_TASK_EMBEDDINGS && !make_pipeline(m, "sentence-similarity", &m->aux)) return 0;
    if (m->task == TL_TASK_RERANK && (!make_pipeline(m, "text-ranking", &m->pipeline) ||
                                      !make_pipeline(m, "text-classification", &m->aux)))
        return 0;
    if (m->task >= TL_TASK_TEXT_CLASSIFICATION && m->task != TL_TASK_RERANK && !make_pipeline(m, m->task_name, &m->pipeline))
        return 0;
    snprintf(m->pooling, sizeof m->pooling, "mean");
    cJSON *pool = read_json(m->path, "1_Pooling/config.json");
    static const char *modes[][2] = {{"pooling_mode_cls_token", "cls"}, {"pooling_mode_max_tokens", "max"},
                                     {"pooling_mode_lasttoken", "last_token"}, {"pooling_mode_mean_tokens", "mean"}};
    for (size_t i = 0; pool && i < sizeof modes / sizeof modes[0]; i++)
        if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(pool, modes[i][0]))) {
            snprintf(m->pooling, sizeof m->pooling, "%s", modes[i][1]);
            break;
        }
    cJSON_Delete(pool);
    m->max_input_length = tl_model_max_positions(m->model);
    if (tl_engine_new(m->model, ep, &m->engine) != TL_OK) {
        fprintf(stderr, "torchless serve: model %s: cannot start its engine: %s\n", m->name, tl_last_error());
        return 0;
    }
    /* warm-up: one forward (a decoder: one generated token) through the engine before the
     * server is ready */
    const char *text = "hello world";
    tl_request_params rp = tl_request_default_params();
    rp.kind = TL_REQUEST_FEATURES;
    tl_request *r = NULL;
    tl_status ws;
    if (m->task == TL_TASK_TEXT_GENERATION) {
        tl_generate_params gp = tl_generate_default_params();
        gp.max_new_tokens = 1;
        int32_t id = 0;
        ws = tl_engine_submit_generate(m->engine, &id, 1, &gp, &r);
    } else {
        ws = tl_engine_submit(m->engine, &text, NULL, 1, &rp, &r);
    }
    if (ws != TL_OK || tl_request_wait(r, -1) != TL_OK) {
        fprintf(stderr, "torchless serve: model %s: warm-up failed: %s\n", m->name, r ? tl_request_error(r) : tl_last_error());
        tl_request_free(r);
        return 0;
    }
    tl_request_free(r);
    return 1;
}

/* Frees what tl_srv_model_load built. */
void tl_srv_model_free(tl_srv_model *m) {
    tl_engine_free(m->engine);
    tl_pipeline_free(m->pipeline);
    tl_pipeline_free(m->aux);
    tl_model_free(m->model);
    cJSON_Delete(m->config);
    free(m->name);
    free(m->path);
}
