/* heads.h — task heads on top of the encoder: the per-family table of head layouts
 * (heads_table.c), binding a head's weights from the mapped checkpoint with shape checks,
 * and applying it to packed hidden states with the model's GEMM backend. */
#ifndef TL_MODEL_HEADS_H
#define TL_MODEL_HEADS_H
#include <stddef.h>
#include <stdint.h>
#include "model/model.h"

/* What a head computes, and on which rows of the packed hidden states. */
typedef enum tl_head_kind {
    TL_HEAD_SEQ_CLS,   /* *ForSequenceClassification: first token of each sequence -> labels */
    TL_HEAD_TOKEN_CLS, /* *ForTokenClassification: every token -> labels */
    TL_HEAD_QA,        /* *ForQuestionAnswering: every token -> (start, end) logits */
    TL_HEAD_MLM,       /* *ForMaskedLM: chosen (mask) tokens -> vocabulary logits */
    TL_HEAD_RTD,       /* ElectraForPreTraining: every token -> one "replaced" logit */
    TL_HEAD_N_KINDS
} tl_head_kind;

/* One step of a head: y = x W^T + b, an activation, or a LayerNorm. */
typedef enum tl_head_op_kind { TL_HOP_END = 0, TL_HOP_LINEAR, TL_HOP_ACT, TL_HOP_LAYERNORM } tl_head_op_kind;

/* Activations a head may use besides the encoder's. */
typedef enum tl_head_act {
    TL_HACT_CONFIG,     /* config.json hidden_act (as the encoder) */
    TL_HACT_TANH, TL_HACT_RELU, TL_HACT_GELU,
    TL_HACT_POOLER,     /* config.json pooler_hidden_act (DeBERTa ContextPooler) */
    TL_HACT_CLASSIFIER  /* config.json classifier_activation (ModernBERT head) */
} tl_head_act;

/* When a step's bias exists (ModernBERT makes biases optional in config.json). */
typedef enum tl_head_bias_if {
    TL_HBIAS_ALWAYS = 0,
    TL_HBIAS_CLASSIFIER, /* classifier_bias */
    TL_HBIAS_NORM,       /* norm_bias */
    TL_HBIAS_DECODER     /* decoder_bias */
} tl_head_bias_if;

/* Which config a layout is for, when a family has two (DeBERTa-v2's MLM heads). */
typedef enum tl_head_cond { TL_HCOND_ANY = 0, TL_HCOND_LEGACY, TL_HCOND_NOT_LEGACY } tl_head_cond;

/* The row a sequence head reads: the first token, or as config.json classifier_pooling
 * says (ModernBERT: "cls" or the attention-masked "mean" of the sequence). */
typedef enum tl_head_pool { TL_HPOOL_FIRST = 0, TL_HPOOL_CONFIG } tl_head_pool;

/* Output width a final linear must have (checked against the tensor's shape). */
typedef enum tl_head_out { TL_HOUT_ANY = 0, TL_HOUT_LABELS, TL_HOUT_TWO, TL_HOUT_VOCAB, TL_HOUT_ONE } tl_head_out;

typedef struct tl_head_op {
    tl_head_op_kind op;
    const char *w, *b;   /* tensor names; NULL b = no bias */
    const char *b_alt;   /* another name the bias may have (e.g. a tied decoder.bias) */
    int base;            /* 1: names are under the encoder's prefix ("bert." + name) */
    int tied;            /* 1: a missing weight means the word embeddings (tied decoder) */
    tl_head_out out;     /* required output width of a linear */
    tl_head_act act;     /* for TL_HOP_ACT */
    tl_head_bias_if bias_if; /* when b exists */
} tl_head_op;

#define TL_HEAD_MAX_OPS 6

/* One head layout: a model_type, a task kind, the steps in order. */
typedef struct tl_head_def {
    const char *model_type;
    tl_head_kind kind;
    tl_head_op ops[TL_HEAD_MAX_OPS];
    tl_head_cond cond;
    tl_head_pool pool;
} tl_head_def;

/* Returns the table entry for (arch's model_type, kind) whose condition arch meets, NULL
 * when the family has none. */
const tl_head_def *tl_head_def_find(const tl_arch *arch, tl_head_kind kind);

/* Static task name of a head kind ("text-classification", ...). */
const char *tl_head_kind_task(tl_head_kind kind);

/* A bound step: fp32 pointers (into the mapping, or owned copies) and sizes. */
typedef struct tl_head_step {
    tl_head_op_kind op;
    const float *w, *b;  /* weight and bias (of a linear step: also in lin) */
    tl_linear lin;       /* linear: the layer (plain fp32 weights) */
    size_t in, out;      /* linear: (out, in); layernorm: in == out */
    int tanh;            /* activation: tanh, else fn */
    tl_activation fn;
} tl_head_step;

typedef struct tl_head {
    const tl_head_def *def;
    tl_head_step steps[TL_HEAD_MAX_OPS];
    size_t n_steps;
    size_t n_out;        /* width of the head's output rows */
    size_t max_width;    /* widest intermediate row, for scratch sizing */
    int mean_pool;       /* sequence head over the masked mean of the tokens (else the first) */
    void *owned[2 * TL_HEAD_MAX_OPS];
    size_t n_owned;
} tl_head;

/* Binds the head of `kind` for model m from its checkpoint. n_labels is the label count
 * from config.json (for classification heads; ignored otherwise). Errors: no head layout
 * for the model_type (TL_ERR_UNSUPPORTED), a missing tensor ("model.safetensors: missing
 * tensor 'classifier.weight': this checkpoint has no text-classification head") or a
 * wrong shape (TL_ERR_FORMAT). On error h is left empty. Free with tl_head_free. */
tl_status tl_head_bind(tl_head *h, const tl_model *m, tl_head_kind kind, size_t n_labels);

/* Frees the converted copies; safe on a zeroed struct. */
void tl_head_free(tl_head *h);

/* Applies the head to rows of the packed hidden states hidden (T, H): row r of the input
 * is hidden[rows[r]] (rows == NULL: rows 0..n_rows-1). Writes (n_rows, n_out) to out.
 * Allocates one scratch buffer; TL_ERR_OOM when it cannot. */
tl_status tl_head_apply(const tl_head *h, const tl_model *m, const float *hidden,
                        const size_t *rows, size_t n_rows, float *out);

/* Applies a sequence head to n_seqs sequences of the packed hidden states (T, H): cu holds
 * n_seqs + 1 token offsets; each sequence gives its first token's row, or, for a mean-pooling
 * head, the mean of its rows whose mask entry is 1 (mask NULL: all ones; none set gives NaN,
 * as torch). A sequence must not be empty. Writes (n_seqs, n_out) to out. */
tl_status tl_head_apply_seqs(const tl_head *h, const tl_model *m, const float *hidden, const size_t *cu,
                             const int32_t *mask, size_t n_seqs, float *out);

#endif
