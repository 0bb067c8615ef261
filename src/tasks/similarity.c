/* similarity.c — the sentence-similarity task (the Hugging Face inference task of that name):
 * {"source_sentence": s, "sentences": [...]} -> one score per sentence, computed as
 * SentenceTransformer.similarity does on SentenceTransformer.encode's embeddings: the
 * model's similarity_fn_name (config_sentence_transformers.json; cosine by default, or
 * dot, euclidean, manhattan), overridable with the "similarity_fn_name" parameter. */
#include "core/error.h"
#include "core/util.h"
#include "io/json.h"
#include "tasks/pipeline.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { SIM_COSINE, SIM_DOT, SIM_EUCLIDEAN, SIM_MANHATTAN };

/* Maps a similarity function name to SIM_*; 0 when unknown. */
static int sim_from_name(const char *name, int *fn) {
    static const char *const names[] = {"cosine", "dot", "euclidean", "manhattan"};
    for (int i = 0; i < 4; i++)
        if (!strcmp(name, names[i])) { *fn = i; return 1; }
    return 0;
}

/* The similarity function: the parameter, else config_sentence_transformers.json, else cosine. */
static tl_status resolve_sim(const tl_pipeline *p, const cJSON *params, int *fn) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(params, "similarity_fn_name");
    *fn = SIM_COSINE;
    if (v && !cJSON_IsNull(v)) {
        if (cJSON_IsString(v) && sim_from_name(v->valuestring, fn)) return TL_OK;
        return tl_set_error(TL_ERR_INVALID_ARG, "similarity_fn_name must be \"cosine\", \"dot\", \"euclidean\" "
                            "or \"manhattan\"");
    }
    char *path = tl_path_join(p->m->dir ? p->m->dir : ".", "config_sentence_transformers.json");
    if (!path) return tl_set_error(TL_ERR_OOM, "out of memory");
    cJSON *cfg = NULL;
    tl_status s = TL_OK;
    if (p->m->dir && tl_file_exists(path) && (s = tl_json_load_file(path, &cfg)) == TL_OK) {
        const char *name = tl_json_str(cfg, "similarity_fn_name");
        if (name && !sim_from_name(name, fn))
            s = tl_set_error(TL_ERR_UNSUPPORTED, "%s: similarity_fn_name '%s' is not supported (cosine, dot, "
                             "euclidean, manhattan)", path, name);
    }
    cJSON_Delete(cfg);
    free(path);
    return s;
}

/* The score of embeddings a and b (d floats each), in double, rounded to float32 as torch. */
static float score(const float *a, const float *b, size_t d, int fn) {
    double dot = 0, na = 0, nb = 0, l1 = 0, l2 = 0;
    for (size_t i = 0; i < d; i++) {
        double x = a[i], y = b[i];
        dot += x * y;
        na += x * x;
        nb += y * y;
        l1 += fabs(x - y);
        l2 += (x - y) * (x - y);
    }
    switch (fn) {
    case SIM_DOT: return (float)dot;
    case SIM_EUCLIDEAN: return (float)-sqrt(l2);
    case SIM_MANHATTAN: return (float)-l1;
    default: /* torch.nn.functional.normalize: x / max(||x||, 1e-12) */
        return (float)(dot / (fmax(sqrt(na), 1e-12) * fmax(sqrt(nb), 1e-12)));
    }
}

/* The settings of one call: similarity function and embedding parameters. */
typedef struct sim_ctx {
    int fn;
    tl_embed_params ep;
} sim_ctx;

/* Scores one {"source_sentence", "sentences"} input (ctx: a sim_ctx); *out is the list of
 * scores. */
static tl_status sim_one(tl_pipeline *p, const cJSON *item, size_t index, const void *ctx, cJSON **out) {
    const int fn = ((const sim_ctx *)ctx)->fn;
    const tl_embed_params *ep = &((const sim_ctx *)ctx)->ep;
    const cJSON *src = cJSON_GetObjectItemCaseSensitive(item, "source_sentence");
    const cJSON *sents = cJSON_GetObjectItemCaseSensitive(item, "sentences");
    *out = NULL;
    if (!cJSON_IsString(src) || !cJSON_IsArray(sents))
        return tl_set_error(TL_ERR_INVALID_ARG, "input %zu: expected {\"source_sentence\": \"...\", "
                            "\"sentences\": [\"...\", ...]}", index);
    size_t n = (size_t)cJSON_GetArraySize(sents) + 1, d = tl_model_embedding_dim(p->m), cnt;
    const char **texts = malloc(n * sizeof *texts);
    float *emb = NULL;
    tl_status s = TL_OK;
    if (!texts || tl_mul_overflow(n, d, &cnt) || !(emb = malloc(cnt * sizeof *emb))) {
        free(texts);
        return tl_set_error(TL_ERR_OOM, "out of memory for %zu embeddings", n);
    }
    texts[0] = src->valuestring;
    for (size_t i = 1; s == TL_OK && i < n; i++) {
        const cJSON *e = cJSON_GetArrayItem(sents, (int)(i - 1));
        if (!cJSON_IsString(e)) s = tl_set_error(TL_ERR_INVALID_ARG, "input %zu: sentence %zu is not a string", index, i - 1);
        else texts[i] = e->valuestring;
    }
    if (s == TL_OK) s = tl_embed(p->m, texts, n, ep, emb, cnt);
    cJSON *res = s == TL_OK ? cJSON_CreateArray() : NULL;
    if (s == TL_OK && !res) s = tl_set_error(TL_ERR_OOM, "out of memory");
    for (size_t i = 1; s == TL_OK && i < n; i++) cJSON_AddItemToArray(res, cJSON_CreateNumber(score(emb, emb + i * d, d, fn)));
    free(texts);
    free(emb);
    *out = res;
    return s;
}

/* Reads the parameters: similarity function, normalize (as sentence-embedding), max_length. */
static tl_status sim_params(tl_pipeline *p, const cJSON *params, int *fn, tl_embed_params *ep) {
    long ml = 0;
    int norm = -1;
    const cJSON *nv = cJSON_GetObjectItemCaseSensitive(params, "normalize");
    tl_status s = resolve_sim(p, params, fn);
    if (s == TL_OK) s = tl_pl_int(params, "max_length", 0, 1, &ml);
    if (s == TL_OK && nv && !cJSON_IsNull(nv)) s = tl_pl_bool(params, "normalize", 0, &norm);
    *ep = tl_embed_default_params();
    ep->normalize = norm;
    ep->max_length = (size_t)ml;
    return s;
}

/* Validates the options of a sentence-similarity pipeline. */
static tl_status sim_check(tl_pipeline *p, const cJSON *params) {
    int fn;
    tl_embed_params ep;
    return sim_params(p, params, &fn, &ep);
}

/* Runs sentence-similarity on one input object or a list of them. */
static tl_status sim_run(tl_pipeline *p, const cJSON *inputs, const cJSON *params, const cJSON *call, cJSON **out) {
    (void)call;
    sim_ctx c;
    *out = NULL;
    tl_status s = sim_params(p, params, &c.fn, &c.ep);
    return s != TL_OK ? s : tl_pl_map(p, inputs, sim_one, &c, out);
}

const tl_task tl_task_sentence_similarity = {"sentence-similarity", -1, sim_run, sim_check, TL_MERGE_NONE, 0, NULL};
