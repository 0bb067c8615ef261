/* block.h — the block kinds: how a family's stack of layers is configured, bound from the
 * checkpoint, planned in the arena and run. One ops record per kind; a family points at
 * one (tl_family.block). Decoder blocks (causal attention with a KV-cache step, RMSNorm,
 * SwiGLU, GPT-2's transposed Conv1D weights) become new records of the same shape. */
#ifndef TL_MODEL_BLOCK_H
#define TL_MODEL_BLOCK_H
#include "model/arch.h"
#include "model/weights.h"
#include "kernels/kernels.h"
#include "runtime/arena.h"
#include "runtime/context.h"
#include "runtime/kv_cache.h"

struct cJSON;
struct tl_kv_step;

struct tl_block_ops {
    const char *name;       /* for inspect, e.g. "post-norm" */
    int shares_layers;      /* ALBERT: num_hidden_groups weight groups serve every layer */
    int always_projects;    /* the embedding projection exists even when widths match */
    /* Reads the block's own config.json fields into arch (after the common ones); NULL:
     * none. Errors name path and the field. */
    tl_status (*config)(const struct cJSON *cfg, const char *path, tl_arch *arch);
    /* Binds every tensor the block needs from st into w (layers already allocated). */
    tl_status (*bind)(tl_weights *w, const tl_arch *a, const tl_safetensors *st);
    /* Adds the arena parts one forward of batch b (T tokens, nt threads) needs to p. */
    void (*plan)(const tl_arch *a, const tl_batch *b, size_t T, int nt, tl_arena_plan *p);
    /* Runs the stack on a validated batch into x (T, H), with arena laid out by p. */
    void (*forward)(tl_context *c, const tl_batch *b, size_t T, float *x, const tl_arena_plan *p,
                    void *arena);
    /* Decoders (NULL for encoders; forward is NULL for decoders). Adds the arena parts of
     * one decode step of batch b (T new tokens, at most max_keys keys per sequence). */
    void (*plan_decode)(const tl_arch *a, const tl_batch *b, size_t T, size_t max_keys, int nt,
                        tl_arena_plan *p);
    /* Runs the stack on T new tokens whose sequences' K / V are cached as kv says (room
     * reserved), appending theirs; writes the final-norm hidden states to x (T, H). */
    void (*decode)(tl_context *c, const tl_batch *b, size_t T, const struct tl_kv_step *kv, float *x,
                   const tl_arena_plan *p, void *arena);
};

/* What a decode step sees of the KV cache: per sequence of the batch, its page table and
 * the tokens already cached; lay(l) gives layer l's layout (model/decoder.c). */
typedef struct tl_kv_step {
    float *const *const *pages; /* n_seqs page tables */
    const size_t *past;         /* n_seqs cached lengths before this step */
    const int32_t *pos;         /* T positions: past + index in the step */
    size_t max_keys;            /* longest past + new */
    size_t kv_dim;
} tl_kv_step;

/* Layer l's K / V layout in the cache pages of a decode step. */
static inline tl_kv_layout tl_kv_step_layout(const tl_kv_step *kv, size_t l) {
    const size_t P = TL_KV_PAGE_TOKENS, k = l * 2 * P * kv->kv_dim;
    return (tl_kv_layout){.page_tokens = P, .k_off = k, .v_off = k + P * kv->kv_dim, .ld = kv->kv_dim};
}

/* Decoder helpers (model/decoder_attn.c): writes the K and V parts of qkv (T rows of
 * q_dim + 2 kv_dim: Q | K | V) of layer l into the cache, then runs causal attention of
 * the Q parts into ctx (T, q_dim). scale 0: 1 / sqrt(head_dim). */
void tl_decoder_attend(const tl_arch *a, size_t l, const tl_batch *b, const size_t *cu,
                       const tl_kv_step *kv, const float *qkv, float *ctx, float scale,
                       float *scratch, int nt);
/* Adds the attention scratch part tl_decoder_attend needs (nt threads, up to max_keys keys)
 * to p and returns its index. */
int tl_decoder_plan_scratch(size_t max_keys, int nt, tl_arena_plan *p);
/* Binds w->lm_head: LM_HEAD when the checkpoint has it, else the tied WORD_EMB (bound
 * first); error when neither (block_gpt2.c). */
tl_status tl_decoder_bind_lm_head(tl_weights *w, const tl_arch *a, const tl_safetensors *st);
/* Decoder kinds: GPT-2 (block_gpt2.c) and Llama-style (block_llama.c: llama, qwen2, mistral). */
extern const tl_block_ops tl_block_gpt2, tl_block_llama;

/* BERT-style post-norm layers (BERT, RoBERTa family, ELECTRA, DistilBERT, MPNet);
 * ALBERT's shared groups of them; DeBERTa-v2's disentangled attention; ModernBERT's
 * pre-norm layers. */
extern const tl_block_ops tl_block_post_norm, tl_block_albert, tl_block_deberta, tl_block_modernbert;

/* The GEMM a forward on c runs: the model's backend with c's own state. */
static inline tl_gemm tl_ctx_gemm(const tl_context *c, const tl_gemm_backend *be) {
    return (tl_gemm){be, c->gemm_state};
}

/* Helpers every block kind shares (encoder.c). */
/* Longest sequence of b. */
size_t tl_batch_max_len(const tl_batch *b);
/* cu (n_seqs + 1) = the offset of each sequence in the packed batch, then the total. */
void tl_batch_offsets(const tl_batch *b, size_t *cu);
/* Fills pos (T) with the position ids the family's model computes when none are given:
 * 0..len-1 per sequence (BERT), or RoBERTa's padding_idx + 1 + running count of
 * non-padding tokens, with padding tokens themselves at padding_idx. */
void tl_default_positions(const tl_arch *a, const tl_batch *b, const size_t *cu, int32_t *pos);

/* The post-norm layer (block_post_norm.c), shared by the post-norm, ALBERT and DeBERTa
 * kinds: its arena parts come first, in this order. */
enum { TL_PN_QKV, TL_PN_CTX, TL_PN_TMP, TL_PN_FFN, TL_PN_SCRATCH, TL_PN_CU, TL_PN_POS, TL_PN_PARTS };
/* Adds the post-norm parts (attention scratch sized for span, 0 without DeBERTa) to p. */
void tl_post_norm_plan(const tl_arch *a, const tl_batch *b, size_t T, int nt, size_t span,
                       tl_arena_plan *p);
/* Fills the TL_PN_CU part of the arena and returns the batch's position ids: its own, or
 * the defaults written into the TL_PN_POS part. */
const int32_t *tl_post_norm_prologue(const tl_arch *a, const tl_batch *b, const tl_arena_plan *p,
                                     void *arena);
/* One post-norm layer L on x (T, H) in place: qkv = x Wqkv^T + b; ctx = attention(qkv, ex);
 * x = LN(x + ctx Wo^T + b); x = LN(x + act(x W1^T + b1) W2^T + b2). */
void tl_post_norm_layer(tl_context *c, const tl_layer_weights *L, float *x, size_t T,
                        const tl_batch *b, const tl_attn_extras *ex, const tl_arena_plan *p,
                        void *arena);
/* Binds what every post-norm kind has: word / position / type embeddings and their norm
 * (emb_norm_width wide), the projection, MPNet's relative bias, and each layer group's
 * fused QKV, output, FFN and norms. pos_emb: whether the position table exists. */
tl_status tl_post_norm_bind_common(tl_weights *w, const tl_arch *a, const tl_safetensors *st,
                                   int pos_emb, size_t emb_norm_width);

#endif
