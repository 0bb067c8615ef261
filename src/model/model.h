/* model.h — the inside of the opaque tl_model handle (immutable after load), and the
 * encoder forward pass, which runs on a caller's context (runtime/context.h). */
#ifndef TL_MODEL_MODEL_H
#define TL_MODEL_MODEL_H
#include <stdatomic.h>

#include "io/safetensors.h"
#include "kernels/kernels.h"
#include "model/arch.h"
#include "model/weights.h"
#include "model/st_config.h"
#include "runtime/context.h"

/* One linear layer's drift as the accuracy guard measured it: its own output against its
 * fp32 twin's on the same input, over the calibration tokens. */
typedef struct tl_layer_drift {
    int layer;        /* layer group, -1 for the embedding projection */
    const char *name; /* static: "qkv", "attn_out", "ffn_in", "ffn_out", "emb_proj" */
    int precision;    /* the tl_precision it runs */
    float max_rel;    /* worst per-token ||y - y_fp32|| / ||y_fp32|| */
    float min_cos;    /* least per-token cosine */
} tl_layer_drift;
/* Most eos ids a model's generation defaults hold. */
#define TL_GEN_MAX_EOS 16

/* Everything here is set at load and never changes, except `spare`: a one-slot cache of
 * an idle context for the calls that take none, exchanged atomically. */
struct tl_model {
    char *dir;                   /* resolved model directory */
    tl_arch arch;
    tl_safetensors *st;          /* mapped checkpoint (weights point into it) */
    tl_weights w;
    tl_tokenizer *tok;           /* NULL when not loaded or absent */
    char *tok_error;             /* why the tokenizer is absent, for text entry points */
    tl_st_config st_cfg;         /* sentence-transformers modules */
    const tl_gemm_backend *gemm;
    int n_threads;               /* default thread count of its contexts (resolved, >= 1) */
    tl_accuracy_report accuracy; /* the precision it runs and what its guard measured */
    tl_layer_drift *drift;       /* per linear layer, when the guard ran a reduced precision */
    size_t n_drift;
    tl_generate_params gen;      /* decoders: generation defaults (gen_config.c) */
    int32_t gen_eos[TL_GEN_MAX_EOS]; /* gen.eos_ids points here */
    _Atomic(tl_context *) spare; /* an idle context for tl_model_forward & co, or NULL */
};

/* Returns a context for a call that got none: the model's spare one when idle, else a new
 * one (NULL with an error when out of memory). Give it back with tl_model_ctx_put. */
tl_context *tl_model_ctx_get(const tl_model *m);
/* Keeps c as the model's spare context when the slot is empty, else frees it. */
void tl_model_ctx_put(const tl_model *m, tl_context *c);

/* Validates a packed batch against the model (ids, type ids, positions, lengths) and
 * returns the total token count in *total. Errors name the sequence and token. */
tl_status tl_batch_validate(const tl_model *m, const tl_batch *b, size_t *total);

/* Runs c's model on a validated batch (its family's block kind, model/block.h); writes the
 * last hidden state (total, H) to out. Uses c's arena and thread count; c runs nothing
 * else meanwhile. */
tl_status tl_encoder_forward(tl_context *c, const tl_batch *b, size_t total, float *out);

/* Reads m's generation defaults into m->gen (gen_config.c): generation_config.json in
 * m->dir when present, config.json's eos / bos. Errors name the file and field. */
tl_status tl_gen_config_load(tl_model *m);

/* Returns the text-entry-point error when the model has no tokenizer, else TL_OK. */
tl_status tl_model_require_tokenizer(const tl_model *m);

#endif
