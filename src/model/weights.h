/* weights.h — an encoder's weights bound from safetensors to fp32 pointers, checked
 * against the architecture's shapes. */
#ifndef TL_MODEL_WEIGHTS_H
#define TL_MODEL_WEIGHTS_H
#include "io/safetensors.h"
#include "kernels/linear.h"
#include "model/arch.h"

/* One layer's weights. In ModernBERT's pre-norm block the same slots hold: qkv the
 * checkpoint's fused Wqkv (mapped, not copied), attn_ln_* the pre-attention norm (NULL in
 * layer 0), ffn_in Wi (2I, H), ffn_ln_* the pre-MLP norm; biases may be NULL. Each linear
 * layer's w may be NULL once packed (pk set) and its owned copy freed. */
typedef struct tl_layer_weights {
    tl_linear qkv;      /* (3H, H) and (3H): Q, K, V concatenated at load */
    tl_linear attn_out; /* (H, H) */
    tl_linear ffn_in;   /* (I, H), ModernBERT (2I, H) */
    tl_linear ffn_out;  /* (H, I) */
    const float *attn_ln_w, *attn_ln_b, *ffn_ln_w, *ffn_ln_b;
    /* DeBERTa: relative embeddings projected for p2c (pos_q) and c2p (pos_k), computed once
     * at load, (2 * att_span) rows of stride pos_ld; NULL when the term is off */
    const float *pos_q, *pos_k;
    size_t pos_ld;
} tl_layer_weights;

typedef struct tl_weights {
    const float *word_emb, *pos_emb, *type_emb, *emb_ln_w, *emb_ln_b; /* type_emb may be NULL */
    tl_linear emb_proj;                  /* (H, E) and (H) when arch->has_emb_proj */
    const float *rel_bias;               /* (rel_buckets, n_heads) when arch->rel_buckets */
    const float *final_ln_w, *final_ln_b; /* a norm after the last layer (ModernBERT), or NULL */
    tl_linear lm_head;                   /* decoders: (vocab, H), LM_HEAD or the tied WORD_EMB */
    tl_layer_weights *layers;            /* n_layer_groups distinct sets */
    size_t n_layer_groups;
    const tl_layer_weights **layer_of;   /* n_layers: the set layer l uses */
    const tl_family *family; /* whose role names are bound */
    const char *prefix;   /* the name prefix the checkpoint uses ("bert." or "") */
    size_t n_params;      /* parameters bound */
    size_t n_converted;   /* tensors copied to fp32 (not F32, or unaligned) */
    char dtypes[64];      /* the checkpoint dtypes seen, e.g. "F32" or "F16, F32" */
    void **owned;         /* buffers to free */
    size_t n_owned, cap_owned;
} tl_weights;

/* Binds every tensor the arch needs from st into w: picks the name prefix, allocates the
 * layer sets, then runs the family's block bind. Pointers to F32 tensors point into the
 * mapping (zero copy) when aligned; others are converted once. Errors name the tensor
 * and the expected vs. found shape. On error w is left empty. */
tl_status tl_weights_bind(tl_weights *w, const tl_arch *arch, const tl_safetensors *st);

/* For block binds: sets *out to the fp32 data of the tensor playing role r (layer fills
 * the template's %d) with shape (d0) or (d0, d1) (d1 == 0: 1-D). Errors name the tensor
 * and the shapes. */
tl_status tl_weights_get(tl_weights *w, const tl_safetensors *st, tl_role r, int layer,
                         size_t d0, size_t d1, const float **out);
/* The same when want is set and the family names role r; else *out = NULL and TL_OK. */
tl_status tl_weights_get_opt(tl_weights *w, const tl_safetensors *st, tl_role r, int layer,
                             size_t d0, size_t d1, int want, const float **out);
/* Fuses layer's Q, K, V weights (H, H) and biases (H) into the linear layer L->qkv (owned). */
tl_status tl_weights_fuse_qkv(tl_weights *w, const tl_safetensors *st, int layer, size_t H,
                             tl_layer_weights *L);
/* Gives w ownership of p (freed by tl_weights_free); frees p and returns 0 on OOM. */
int tl_weights_keep(tl_weights *w, void *p);
/* Frees p when w owns it; else, when drop is set, p (bytes long) lies in a read-only file
 * mapping whose resident pages are dropped. NULL is ignored. */
void tl_weights_forget(tl_weights *w, const void *p, size_t bytes, int drop);

/* Sets *out to the tensor of role r looked up without the prefix (lm_head.weight beside
 * transformer.* names), shape (d0, d1) checked; NULL and TL_OK when absent. */
tl_status tl_weights_get_root_opt(tl_weights *w, const tl_safetensors *st, tl_role r, size_t d0,
                                  size_t d1, const float **out);

/* Binds linear layer L (out, in), F32 compute, from the tensors playing roles rw and rb
 * (the bias only when want_b and the family names it; else L->b = NULL). */
tl_status tl_weights_get_linear(tl_weights *w, const tl_safetensors *st, tl_role rw, tl_role rb,
                                int layer, size_t out, size_t in, int want_b, tl_linear *L);

/* Packs every encoder linear layer (embedding projection, QKV, attention output, FFN in
 * and out) once for backend g when g packs its dtype (tl_linear_pack), and frees the
 * plain copies this struct owns (fused QKV, converted tensors). A weight it does not own
 * stays where it is; with drop_mapped set it must lie in a read-only file mapping, whose
 * pages are then dropped from memory (re-read from the file only if a fallback touches
 * them). A decoder's lm_head is packed too; tied to the word embeddings it keeps them.
 * A weight g declines to pack stays plain. Never fails: packing is an optimization. */
void tl_weights_pack(tl_weights *w, const tl_arch *arch, const tl_gemm_backend *g, int drop_mapped);

/* Frees what tl_weights_bind and tl_weights_pack allocated; safe on a zeroed struct. */
void tl_weights_free(tl_weights *w);

/* TL_ERR_FORMAT naming t (file and tensor) when its n fp32 values x hold a NaN or Inf. */
tl_status tl_weights_check_finite(const tl_st_tensor *t, const float *x, size_t n);

#endif
