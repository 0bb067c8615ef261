/* precision.h — the precision of an encoder's linear layers (tl_precision): whether this
 * CPU runs it natively, converting the bound fp32 weights at load, the accuracy guard
 * (accuracy_guard.c) and AUTO's choice. */
#ifndef TL_MODEL_PRECISION_H
#define TL_MODEL_PRECISION_H
#include <stddef.h>

#include "model/model.h"

/* The guard also refuses a precision when one linear layer's output, against its fp32
 * twin on the same input, falls below this cosine on some calibration token (measured
 * worst on all-MiniLM-L6-v2: bf16 0.99998, int8 0.9994; docs/precision.md). */
#define TL_MIN_LAYER_COSINE 0.99f

/* int8's SmoothQuant migration strength (docs/precision.md has the measurements). */
#define TL_INT8_SMOOTH_ALPHA 0.5f
/* The linear kinds an int8 load keeps in bf16 where bf16 is native too (else they stay
 * int8): a comma list of qkv, attn_out, ffn_in, ffn_out, emb_proj, or "none". FFN out
 * (the GELU output's product) drifts most on all-MiniLM-L6-v2 (docs/precision.md). */
#define TL_INT8_KEEP "ffn_out"

/* TL_OK when precision (not AUTO) runs natively here, else TL_ERR_UNSUPPORTED naming the
 * missing CPU feature (a level forced lower with $TORCHLESS_ISA counts as missing). */
tl_status tl_precision_available(int precision);

/* The instruction set bf16 or int8 runs on here ("amx-bf16", "avx512-bf16", "amx-int8",
 * "avx512-vnni", "avx-vnni"), NULL when not native (or for fp32 / auto). */
const char *tl_precision_path(int precision);

/* Applies p->precision to m (arch, weights bound fp32, gemm, n_threads set): converts the
 * encoder's linear layers (packed for m->gemm when pack is set), runs the accuracy guard
 * when asked (always for AUTO) and records the outcome in m->accuracy. FP32 without the
 * guard leaves everything as it was. drop: the fp32 originals lie in a read-only file
 * mapping whose pages may be dropped once converted. Errors: TL_ERR_INVALID_ARG (bad
 * value), TL_ERR_UNSUPPORTED (missing CPU feature, backend without the dtype, guard
 * refused: the message names precision, measured value and threshold), TL_ERR_OOM. */
tl_status tl_precision_apply(tl_model *m, const tl_model_params *p, int pack, int drop);

/* The accuracy guard: runs m's built-in calibration batch (token ids of a few lengths,
 * fixed seed) and returns its last hidden state in *out (malloc'd, n_tokens x
 * tl_guard_width(m)); a decoder's is the logits of every token. */
tl_status tl_guard_forward(const tl_model *m, float **out, size_t *n_tokens);

/* The width of a row of tl_guard_forward's output: hidden (encoders), vocab (decoders). */
size_t tl_guard_width(const tl_model *m);

/* Largest ||got - ref|| / ||ref|| and least cosine over the n rows of width H (rows whose
 * reference is zero are skipped). */
void tl_guard_compare(const float *ref, const float *got, size_t n, size_t H, float *max_rel,
                      float *min_cos);

#endif
