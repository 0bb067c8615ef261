/* gen_config.c — a decoder's generation defaults: generation_config.json beside the
 * checkpoint (when present) over config.json's eos / bos ids and transformers'
 * GenerationConfig defaults; errors name the file and field. */
#include "core/error.h"
#include "core/util.h"
#include "io/json.h"
#include "model/model.h"

#include <stdlib.h>
#include <string.h>


/* The defaults of tl_generate (defined here, below tasks/, so the model reads
 * generation_config.json over them without calling up a layer). */
tl_generate_params tl_generate_default_params(void) {
    tl_generate_params p = {.max_new_tokens = 20, .eos_ids = NULL, .n_eos = 0, .do_sample = 0,
                            .temperature = 1.0f, .top_k = 0, .top_p = 1.0f,
                            .repetition_penalty = 1.0f, .seed = 0, .min_p = 0.0f,
                            .no_repeat_ngram_size = 0, .min_new_tokens = 0, .bos_token_id = -1,
                            .stop_strings = NULL, .n_stop_strings = 0, .tokenizer = NULL,
                            .out_logprobs = NULL, .on_token = NULL, .user_data = NULL};
    return p;
}

/* Reads key (an id or a list of ids) into ids (at most cap), *n their count; absent or
 * null leaves them. 0 and an error naming path on a bad value. */
static tl_status read_ids(const cJSON *obj, const char *key, const char *path, int32_t *ids, size_t cap,
                          size_t *n) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!v || cJSON_IsNull(v)) return TL_OK;
    size_t k = 0;
    const cJSON *e = cJSON_IsArray(v) ? v->child : v;
    for (; e; e = cJSON_IsArray(v) ? e->next : NULL) {
        if (!cJSON_IsNumber(e) || e->valuedouble < 0 || e->valuedouble > 2147483647.0 ||
            e->valuedouble != (double)(int32_t)e->valuedouble)
            return tl_set_error(TL_ERR_FORMAT, "%s: '%s' must be a token id or a list of ids", path, key);
        if (k == cap)
            return tl_set_error(TL_ERR_FORMAT, "%s: '%s' lists more than %zu ids", path, key, cap);
        ids[k++] = (int32_t)e->valuedouble;
    }
    *n = k;
    return TL_OK;
}

/* Overlays generation_config.json's sampling and length fields on g. */
static tl_status read_settings(const cJSON *j, const char *path, tl_generate_params *g) {
    int ok = 1;
    g->do_sample = tl_json_bool(j, "do_sample", g->do_sample, &ok);
    g->temperature = (float)tl_json_num(j, "temperature", g->temperature, &ok);
    g->top_k = (int)tl_json_int(j, "top_k", g->top_k, &ok);
    g->top_p = (float)tl_json_num(j, "top_p", g->top_p, &ok);
    g->min_p = (float)tl_json_num(j, "min_p", g->min_p, &ok);
    g->repetition_penalty = (float)tl_json_num(j, "repetition_penalty", g->repetition_penalty, &ok);
    long nr = tl_json_int(j, "no_repeat_ngram_size", 0, &ok);
    long mx = tl_json_int(j, "max_new_tokens", (long)g->max_new_tokens, &ok);
    long mn = tl_json_int(j, "min_new_tokens", 0, &ok);
    if (!ok || nr < 0 || mx < 1 || mn < 0 || g->top_k < 0)
        return tl_set_error(TL_ERR_FORMAT, "%s: a bad value in do_sample, temperature, top_k, top_p, min_p, "
                            "repetition_penalty, no_repeat_ngram_size, max_new_tokens or min_new_tokens", path);
    g->no_repeat_ngram_size = (size_t)nr;
    g->max_new_tokens = (size_t)mx;
    g->min_new_tokens = (size_t)mn;
    return TL_OK;
}

tl_status tl_gen_config_load(tl_model *m) {
    tl_generate_params *g = &m->gen;
    *g = tl_generate_default_params();
    if (!tl_model_is_decoder(m)) return TL_OK;
    g->top_k = 50; /* transformers' GenerationConfig default */
    size_t n = 0;
    if (m->arch.eos_token_id >= 0) m->gen_eos[n++] = m->arch.eos_token_id;
    g->bos_token_id = m->arch.bos_token_id;
    if (strcmp(m->dir, "(tensors in memory)")) {
        /* config.json's full eos list */
        char *cp = tl_path_join(m->dir, "config.json"), *gp = tl_path_join(m->dir, "generation_config.json");
        if (!cp || !gp) { free(cp); free(gp); return tl_set_error(TL_ERR_OOM, "out of memory"); }
        cJSON *cfg = NULL, *gen = NULL;
        tl_status s = tl_file_exists(cp) ? tl_json_load_file(cp, &cfg) : TL_OK;
        if (s == TL_OK && cfg) s = read_ids(cfg, "eos_token_id", cp, m->gen_eos, TL_GEN_MAX_EOS, &n);
        if (s == TL_OK && tl_file_exists(gp)) s = tl_json_load_file(gp, &gen);
        if (s == TL_OK && gen) {
            size_t one = 0;
            int32_t bos = -1;
            s = read_ids(gen, "eos_token_id", gp, m->gen_eos, TL_GEN_MAX_EOS, &n);
            if (s == TL_OK) s = read_ids(gen, "bos_token_id", gp, &bos, 1, &one);
            if (s == TL_OK && one) g->bos_token_id = bos;
            if (s == TL_OK) s = read_settings(gen, gp, g);
        }
        cJSON_Delete(cfg);
        cJSON_Delete(gen);
        free(cp);
        free(gp);
        if (s) return s;
    }
    g->eos_ids = n ? m->gen_eos : NULL;
    g->n_eos = n;
    return TL_OK;
}

tl_generate_params tl_model_generate_params(const tl_model *m) {
    if (!m || !tl_model_is_decoder(m)) return tl_generate_default_params();
    return m->gen;
}
