/* arch.h — the architecture description read from config.json, and the table of
 * encoder families (one entry per model_type) that maps it to weight names. */
#ifndef TL_MODEL_ARCH_H
#define TL_MODEL_ARCH_H
#include <stddef.h>
#include "torchless.h"
#include "kernels/act.h"

struct cJSON;


/* How a stack of layers is wired, bound and run: an ops record of model/block.h. */
typedef struct tl_block_ops tl_block_ops;

typedef enum tl_position_scheme {
    TL_POS_ABSOLUTE,        /* learned table indexed 0..len-1 (BERT) */
    TL_POS_ABSOLUTE_PADDED, /* learned table indexed from pad_token_id+1 (RoBERTa family) */
    TL_POS_ROTARY           /* no table: rotary embeddings on Q and K (ModernBERT) */
} tl_position_scheme;

/* Task-head settings of config.json (read by tl_head_config_parse, heads_config.c). */
typedef struct tl_head_config {
    char pooler_act[32];          /* DeBERTa ContextPooler: pooler_hidden_act (default gelu) */
    char classifier_act[32];      /* ModernBERT head: classifier_activation (default gelu) */
    int classifier_mean;          /* ModernBERT classifier_pooling is "mean" (else "cls") */
    int classifier_bias;          /* ModernBERT head.dense has a bias (default 0) */
    int decoder_bias;             /* ModernBERT MLM decoder has a bias (default 1) */
    int legacy;                   /* DeBERTa-v2 MLM: cls.predictions (1, default) or lm_predictions */
} tl_head_config;

/* config.json key names of one family (NULL: the field does not exist there). */
typedef struct tl_config_keys {
    const char *vocab, *hidden, *layers, *heads, *intermediate, *max_positions, *type_vocab,
        *ln_eps, *act, *embedding_size;
    const char *default_act; /* when the activation key is absent */
    double default_ln_eps;   /* when the eps key is absent (0: 1e-12) */
    int no_types_by_default; /* type_vocab_size defaults to 0 (else 2) */
} tl_config_keys;

/* The role a tensor plays in a model, whatever the family calls it. Roles from
 * TL_ROLE_FIRST_LAYER on are per layer: their templates hold one "%d" for the layer
 * index (the layer group index when the block shares layers, ALBERT). */
typedef enum tl_role {
    TL_ROLE_WORD_EMB, TL_ROLE_POS_EMB, TL_ROLE_TYPE_EMB, TL_ROLE_EMB_LN_W, TL_ROLE_EMB_LN_B,
    TL_ROLE_EMB_PROJ_W, TL_ROLE_EMB_PROJ_B, /* embedding_size -> hidden projection */
    TL_ROLE_REL_BIAS,                       /* MPNet: relative position bias (buckets, heads) */
    TL_ROLE_REL_EMB, TL_ROLE_REL_LN_W, TL_ROLE_REL_LN_B, /* DeBERTa: relative embeddings, norm */
    TL_ROLE_FINAL_LN_W, TL_ROLE_FINAL_LN_B, /* a norm after the last layer (ModernBERT, decoders) */
    TL_ROLE_LM_HEAD,                        /* decoders: the output projection, looked up without
                                               the prefix; absent when tied to WORD_EMB */
    TL_ROLE_FIRST_LAYER,
    TL_ROLE_Q_W = TL_ROLE_FIRST_LAYER, TL_ROLE_Q_B, TL_ROLE_K_W, TL_ROLE_K_B, TL_ROLE_V_W, TL_ROLE_V_B,
    TL_ROLE_QKV_W, TL_ROLE_QKV_B,           /* Q, K and V in one checkpoint tensor (ModernBERT) */
    TL_ROLE_POS_K_W, TL_ROLE_POS_K_B, TL_ROLE_POS_Q_W, TL_ROLE_POS_Q_B, /* DeBERTa, per layer */
    TL_ROLE_ATTN_OUT_W, TL_ROLE_ATTN_OUT_B,
    TL_ROLE_ATTN_LN_W, TL_ROLE_ATTN_LN_B,   /* the norm of the attention sub-block (post or pre) */
    TL_ROLE_FFN_IN_W, TL_ROLE_FFN_IN_B, TL_ROLE_FFN_OUT_W, TL_ROLE_FFN_OUT_B,
    TL_ROLE_FFN_LN_W, TL_ROLE_FFN_LN_B,     /* the norm of the feed-forward sub-block */
    TL_ROLE_GATE_W, TL_ROLE_UP_W,           /* Llama-style MLP: gate and up projections */
    TL_ROLE_COUNT
} tl_role;

/* One encoder family: its config.json keys, its block kind and the tensor-name template
 * of each role it has (NULL: the family has no such tensor), as llama.cpp's architecture
 * table maps (architecture, tensor) to names. Names are looked up with each of `prefixes`
 * in front (e.g. "bert." then ""). */
typedef struct tl_family {
    const char *model_type;
    const char *prefixes[4];
    tl_position_scheme positions;
    const tl_block_ops *block; /* how its layers are bound and run (model/block.h) */
    tl_config_keys keys;
    int fixed_padding_idx; /* > 0: the padding index the model hard-codes, whatever
                              config.json's pad_token_id says (MPNet: 1) */
    const char *names[TL_ROLE_COUNT];
} tl_family;

/* The name template of role r in family f, or NULL when f has no such tensor. */
static inline const char *tl_role_name(const tl_family *f, tl_role r) { return f->names[r]; }

typedef struct tl_arch {
    char model_type[64];
    const tl_family *family;
    size_t vocab_size, hidden, n_layers, n_heads, head_dim, intermediate;
    size_t ffn_in_width;   /* rows of the FFN input weight: intermediate, 2x when gated */
    size_t max_positions, type_vocab_size;
    size_t embedding_size; /* width of the embedding tables (== hidden unless factorized) */
    size_t max_seq_len;    /* tokens one sequence may have (positions table minus offset) */
    size_t n_layer_groups; /* distinct layer weight sets (n_layers unless shared) */
    int has_emb_proj;      /* embeddings are projected embedding_size -> hidden */
    size_t rel_buckets;    /* rows of the relative position bias table (0: none) */
    /* DeBERTa only: */
    int relative_attention, c2p, p2c, share_att_key, rel_ln, position_biased_input;
    size_t att_span;        /* rows of relative embeddings = 2 * att_span */
    long position_buckets;  /* > 0: log buckets; else plain offsets clamped to the span */
    long max_relative_positions;
    /* ModernBERT only: */
    int norm_bias, attn_bias, mlp_bias; /* which norms / linears carry a bias */
    size_t local_window;                /* a local layer attends to |i - j| <= local_window */
    double rope_theta_global, rope_theta_local;
    unsigned char layer_local[1024];    /* 1 for a sliding-window (local) layer */
    /* Decoders only (gpt2_config.c, llama_config.c): */
    size_t n_kv_heads;      /* key / value heads (grouped-query attention; n_heads for GPT-2) */
    size_t q_dim, kv_dim;   /* n_heads * head_dim, n_kv_heads * head_dim */
    double rope_theta;
    size_t sliding_window;  /* > 0: a query sees the last sliding_window keys (Mistral) */
    int tie_embeddings;     /* the output projection is WORD_EMB when LM_HEAD is absent */
    int scale_by_layer;     /* GPT-2 scale_attn_by_inverse_layer_idx */
    int eos_token_id;       /* config.json eos_token_id (its first when a list), -1 when none */
    int bos_token_id;       /* config.json bos_token_id, -1 when none */
    double ln_eps;
    tl_activation act;
    char act_name[32];
    int pad_token_id;
    tl_head_config head; /* settings of the task heads */
} tl_arch;

/* Parses dir/config.json into *arch. Errors name config.json and the field at fault:
 * missing file (TL_ERR_IO), malformed JSON or bad values (TL_ERR_FORMAT), an unknown
 * model_type or activation (TL_ERR_UNSUPPORTED, listing the supported ones). */
tl_status tl_arch_from_config(const char *dir, tl_arch *arch);

/* Same as tl_arch_from_config for config text already in memory; label names it in
 * errors (e.g. "config"). */
tl_status tl_arch_from_json(const char *json, const char *label, tl_arch *arch);

/* Returns the family entry for model_type, NULL when unsupported. */
const tl_family *tl_family_find(const char *model_type);

/* Writes the comma-separated supported model_type names into buf. */
void tl_family_list(char *buf, size_t cap);

/* Fills the DeBERTa-only fields of arch (deberta_config.c). */
tl_status tl_deberta_config(const struct cJSON *cfg, const char *path, tl_arch *arch);

/* Fill the decoder-only fields of arch: GPT-2 (gpt2_config.c), Llama-style (llama_config.c). */
tl_status tl_gpt2_config(const struct cJSON *cfg, const char *path, tl_arch *arch);
tl_status tl_llama_config(const struct cJSON *cfg, const char *path, tl_arch *arch);

/* Fills the ModernBERT-only fields of arch (modernbert_config.c). */
tl_status tl_modernbert_config(const struct cJSON *cfg, const char *path, tl_arch *arch);

/* Maps a transformers activation name ("gelu", "gelu_new", ...) to ours; 0 when unknown. */
int tl_activation_parse(const char *name, tl_activation *out);

/* Fills arch->head from cfg (after the common fields); errors name path and the field. */
tl_status tl_head_config_parse(const struct cJSON *cfg, const char *path, tl_arch *arch);

/* Static name of an activation ("gelu", ...). */
const char *tl_activation_name(tl_activation a);

#endif
