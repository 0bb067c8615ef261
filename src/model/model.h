/* model.h — the inside of the opaque tl_model handle, and the encoder forward pass. */
#ifndef TL_MODEL_MODEL_H
#define TL_MODEL_MODEL_H
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
    const tl_gemm_backend *gemm;
    int n_threads;
};

/* Validates a packed batch against the model (ids, type ids, positions, lengths) and
 * returns the total token count in *total. Errors name the sequence and token. */
tl_status tl_batch_validate(const tl_model *m, const tl_batch *b, size_t *total);

/* Runs the encoder on a validated batch; writes the last hidden state (total, H) to out.
 * Allocates one arena for the call. */
tl_status tl_encoder_forward(const tl_model *m, const tl_batch *b, size_t total, float *out);

/* The ModernBERT forward pass (encoder_modernbert.c); same contract as tl_encoder_forward. */
tl_status tl_modernbert_forward(const tl_model *m, const tl_batch *b, size_t total, float *out);

/* Returns the text-entry-point error when the model has no tokenizer, else TL_OK. */
tl_status tl_model_require_tokenizer(const tl_model *m);

#endif
