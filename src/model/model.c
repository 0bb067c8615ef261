/* model.c — tl_model: load (resolve dir, config, weights, tokenizer, sentence-
 * transformers modules), free, accessors and the packed-batch forward entry point. */
#include "model/model.h"
#include "core/error.h"
#include "core/util.h"
#include "io/hub.h"
#include "kernels/vec.h"
#include "model/precision.h"
#include "runtime/threads.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

tl_model_params tl_model_default_params(void) {
    tl_model_params p = {.num_threads = 0, .load_tokenizer = 1};
    return p;
}

static tl_status finish_load(tl_model *m, const tl_model_params *p, int pack);

/* Loads the tokenizer beside the weights; its absence is remembered, not fatal. */
static tl_status load_tokenizer(tl_model *m) {
    char *tj = tl_path_join(m->dir, "tokenizer.json"), *vt = tl_path_join(m->dir, "vocab.txt");
    if (!tj || !vt) { free(tj); free(vt); return tl_set_error(TL_ERR_OOM, "out of memory"); }
    int present = tl_file_exists(tj) || tl_file_exists(vt);
    free(tj);
    free(vt);
    if (!present) {
        size_t n = strlen(m->dir) + 96;
        m->tok_error = malloc(n);
        if (!m->tok_error) return tl_set_error(TL_ERR_OOM, "out of memory");
        snprintf(m->tok_error, n, "%s: no tokenizer.json or vocab.txt; text input needs a tokenizer", m->dir);
        return TL_OK;
    }
    return tl_tokenizer_load(m->dir, &m->tok);
}

tl_status tl_model_load(const char *path_or_id, const tl_model_params *params, tl_model **out) {
    if (!out) return tl_set_error(TL_ERR_INVALID_ARG, "tl_model_load: out is NULL");
    *out = NULL;
    if (!path_or_id || !*path_or_id)
        return tl_set_error(TL_ERR_INVALID_ARG, "tl_model_load: empty model path or id");
    tl_model_params p = params ? *params : tl_model_default_params();
    tl_model *m = calloc(1, sizeof *m);
    if (!m) return tl_set_error(TL_ERR_OOM, "out of memory");
    tl_status s = tl_resolve_model_dir(path_or_id, &m->dir);
    if (s == TL_OK) s = tl_arch_from_config(m->dir, &m->arch);
    if (s == TL_OK) s = tl_st_open_dir(m->dir, &m->st);
    if (s == TL_OK) s = finish_load(m, &p, 1);
    if (s == TL_OK) s = tl_st_config_load(m->dir, &m->st_cfg);
    if (s == TL_OK) s = tl_gen_config_load(m);
    if (s == TL_OK && p.load_tokenizer) s = load_tokenizer(m);
    if (s != TL_OK) {
        tl_model_free(m);
        return s;
    }
    *out = m;
    return TL_OK;
}

/* Finishes a model whose arch, st and dir are set: head-size check, weights (packed for
 * the GEMM backend when pack is set: only for weights from files, whose mapped pages
 * tl_weights_pack may drop), threads. */
static tl_status finish_load(tl_model *m, const tl_model_params *p, int pack) {
    tl_status s = TL_OK;
    atomic_init(&m->spare, NULL);
    if (m->arch.head_dim > TL_ATTN_MAX_HEAD_DIM)
        s = tl_set_error(TL_ERR_UNSUPPORTED, "%s: head size %zu (hidden_size / num_attention_heads) "
                         "exceeds the supported %d", m->dir, m->arch.head_dim, TL_ATTN_MAX_HEAD_DIM);
    if (s == TL_OK) s = tl_weights_bind(&m->w, &m->arch, m->st);
    if (s == TL_OK && !(m->gemm = tl_gemm_select())) s = TL_ERR_INVALID_ARG;
    if (s == TL_OK) s = tl_vec_check();
    if (s == TL_OK && p->num_threads <= 0) s = tl_threads_check_env();
    if (s == TL_OK) {
        m->n_threads = tl_threads_resolve(p->num_threads);
        const char *pk = getenv("TORCHLESS_PACK"); /* "0": keep plain weights (A/B runs) */
        const int do_pack = pack && !(pk && strcmp(pk, "0") == 0);
        /* reduced precisions pack their own copies, also for tensors from memory */
        s = tl_precision_apply(m, p, !(pk && strcmp(pk, "0") == 0), pack);
        if (s == TL_OK && do_pack) {
            tl_threads_saved prev = tl_threads_enter(m->n_threads);
            tl_weights_pack(&m->w, &m->arch, m->gemm, 1);
            tl_threads_leave(prev);
        }
    }
    return s;
}

tl_status tl_model_load_tensors(const char *config_json, const tl_tensor_view *tensors, size_t n,
                                const tl_model_params *params, tl_model **out) {
    if (!out) return tl_set_error(TL_ERR_INVALID_ARG, "tl_model_load_tensors: out is NULL");
    *out = NULL;
    tl_model_params p = params ? *params : tl_model_default_params();
    tl_model *m = calloc(1, sizeof *m);
    if (!m || !(m->dir = tl_strdup("(tensors in memory)")) ||
        !(m->tok_error = tl_strdup("a model loaded from tensors has no tokenizer: pass token ids"))) {
        tl_model_free(m);
        return tl_set_error(TL_ERR_OOM, "out of memory");
    }
    tl_status s = tl_arch_from_json(config_json, "config", &m->arch);
    if (s == TL_OK) s = tl_st_from_views(tensors, n, "state_dict", &m->st);
    if (s == TL_OK) s = tl_st_config_load(NULL, &m->st_cfg);
    /* no packing: the caller's tensors stay the weights, so later changes to them show */
    if (s == TL_OK) s = finish_load(m, &p, 0);
    if (s == TL_OK) s = tl_gen_config_load(m);
    if (s != TL_OK) {
        tl_model_free(m);
        return s;
    }
    *out = m;
    return TL_OK;
}

void tl_model_free(tl_model *m) {
    if (!m) return;
    tl_context_free(atomic_exchange(&m->spare, NULL));
    tl_tokenizer_free(m->tok);
    tl_weights_free(&m->w);
    tl_st_close(m->st);
    free(m->tok_error);
    free(m->drift);
    free(m->dir);
    free(m);
}

size_t tl_model_hidden_size(const tl_model *m) { return m ? m->arch.hidden : 0; }
size_t tl_model_max_positions(const tl_model *m) { return m ? m->arch.max_seq_len : 0; }
const char *tl_model_type(const tl_model *m) { return m ? m->arch.model_type : NULL; }
const tl_tokenizer *tl_model_tokenizer(const tl_model *m) { return m ? m->tok : NULL; }

tl_status tl_model_require_tokenizer(const tl_model *m) {
    if (m->tok) return TL_OK;
    return tl_set_error(TL_ERR_INVALID_ARG, "%s",
                        m->tok_error ? m->tok_error : "the model was loaded without its tokenizer");
}
