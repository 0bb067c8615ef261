/* model.h — the inside of the opaque tl_model handle, and the encoder forward pass. */
#ifndef TL_MODEL_MODEL_H
#define TL_MODEL_MODEL_H
#include <stdatomic.h>

#include "io/safetensors.h"
#include "kernels/kernels.h"
#include "model/arch.h"
#include "model/weights.h"
#include "tasks/st_config.h"

struct tl_model {
    char *dir;                   /* resolved model directory */
    tl_arch arch;
    tl_safetensors *st;          /* mapped checkpoint (weights point into it) */
    tl_weights w;
    tl_tokenizer *tok;           /* NULL when not loaded or absent */
    char *tok_error;             /* why the tokenizer is absent, for text entry points */
    tl_st_config st_cfg;         /* sentence-transformers modules */
    tl_gemm gemm;                /* the GEMM backend and one state for it, made at load */
    int n_threads;
    void *scratch;               /* the last forward's activation arena, kept for reuse */
    size_t scratch_bytes;
    atomic_flag scratch_busy;    /* set while a forward holds the kept arena */
};

/* Returns a buffer of at least bytes for one forward's activations (contents undefined):
 * the model's kept arena when large enough, else a new one, kept when at most
 * TL_SCRATCH_KEEP_MAX bytes. Release it with tl_model_scratch_done. NULL when out of
 * memory. Safe when calls overlap: while one forward holds the kept arena, another gets
 * a private buffer (overlapping calls are still outside tl_model_forward's contract). */
void *tl_model_scratch(tl_model *m, size_t bytes);
/* Frees p unless it is the model's kept arena. */
void tl_model_scratch_done(tl_model *m, void *p);

/* Validates a packed batch against the model (ids, type ids, positions, lengths) and
 * returns the total token count in *total. Errors name the sequence and token. */
tl_status tl_batch_validate(const tl_model *m, const tl_batch *b, size_t *total);

/* Runs the encoder on a validated batch; writes the last hidden state (total, H) to out.
 * Takes one arena for the call from tl_model_scratch. */
tl_status tl_encoder_forward(tl_model *m, const tl_batch *b, size_t total, float *out);

/* The ModernBERT forward pass (encoder_modernbert.c); same contract as tl_encoder_forward. */
tl_status tl_modernbert_forward(tl_model *m, const tl_batch *b, size_t total, float *out);

/* Returns the text-entry-point error when the model has no tokenizer, else TL_OK. */
tl_status tl_model_require_tokenizer(const tl_model *m);

#endif
