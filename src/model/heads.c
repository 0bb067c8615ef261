/* heads.c — binds a task head's tensors from the mapped checkpoint (shape-checked, fp32)
 * and applies it to selected rows of the packed hidden states with the model's GEMM. */
#include "model/heads.h"
#include "core/error.h"
#include "core/util.h"
#include "model/weights.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The checkpoint file to name in messages. */
static const char *st_file(const tl_safetensors *st) {
    return tl_st_count(st) ? tl_st_at(st, 0)->file : "checkpoint";
}

/* Looks up a head tensor by name (under the encoder prefix when base); NULL if absent. */
static const tl_st_tensor *lookup(const tl_model *m, const char *name, int base, char *full, size_t cap) {
    snprintf(full, cap, "%s%s", base ? m->w.prefix : "", name);
    return tl_st_find(m->st, full);
}

/* Returns an fp32 view of t (the mapping when F32 and aligned, else a copy owned by h). */
static tl_status as_f32(tl_head *h, const tl_st_tensor *t, const float **out) {
    float *buf;
    tl_status s = tl_st_view_f32(t, out, &buf);
    if (s == TL_OK && buf) h->owned[h->n_owned++] = buf;
    return s == TL_OK ? tl_weights_check_finite(t, *out, t->numel) : s;
}

/* The error for a head tensor that is not in the checkpoint. */
static tl_status missing(const tl_model *m, const char *full, tl_head_kind kind) {
    return tl_set_error(TL_ERR_FORMAT,
                        "%s: missing tensor '%s': this checkpoint has no %s head (load a model "
                        "fine-tuned for %s, e.g. one whose config.json architectures names a %s class)",
                        st_file(m->st), full, tl_head_kind_task(kind), tl_head_kind_task(kind),
                        kind == TL_HEAD_SEQ_CLS ? "*ForSequenceClassification" :
                        kind == TL_HEAD_TOKEN_CLS ? "*ForTokenClassification" :
                        kind == TL_HEAD_QA ? "*ForQuestionAnswering" :
                        kind == TL_HEAD_RTD ? "*ForPreTraining" : "*ForMaskedLM");
}

/* The required output width of a linear, 0 when any. */
static size_t want_out(const tl_model *m, tl_head_out o, size_t n_labels) {
    switch (o) {
    case TL_HOUT_LABELS: return n_labels;
    case TL_HOUT_TWO: return 2;
    case TL_HOUT_VOCAB: return m->arch.vocab_size;
    case TL_HOUT_ONE: return 1;
    default: return 0;
    }
}

/* Whether the bias of op exists for this model's config. */
static int has_bias(const tl_model *m, const tl_head_op *op) {
    switch (op->bias_if) {
    case TL_HBIAS_CLASSIFIER: return m->arch.head.classifier_bias;
    case TL_HBIAS_NORM: return m->arch.norm_bias;
    case TL_HBIAS_DECODER: return m->arch.head.decoder_bias;
    default: return op->b != NULL;
    }
}

/* Binds one linear step whose input width is in; sets the step's out width. */
static tl_status bind_linear(tl_head *h, const tl_model *m, const tl_head_op *op, size_t in,
                             size_t n_labels, tl_head_step *st) {
    char full[320], fb[320];
    const tl_st_tensor *t = lookup(m, op->w, op->base, full, sizeof full);
    size_t need = want_out(m, op->out, n_labels);
    tl_status s;
    if (!t && op->tied) {
        /* Decoder tied to the word embeddings (vocab, embedding_size). */
        size_t E = m->arch.embedding_size ? m->arch.embedding_size : m->arch.hidden;
        if (in != E)
            return tl_set_error(TL_ERR_FORMAT, "%s: '%s' is absent and the word embeddings it is tied to "
                                "have width %zu, not %zu", st_file(m->st), full, E, in);
        st->w = m->w.word_emb;
        st->out = m->arch.vocab_size;
    } else if (!t) {
        return missing(m, full, h->def->kind);
    } else {
        if (t->ndim != 2 || t->shape[1] != (int64_t)in || (need && t->shape[0] != (int64_t)need) || t->shape[0] < 1)
            return tl_set_error(TL_ERR_FORMAT, "%s: tensor '%s' has shape [%lld%s%lld], expected [%s%zu, %zu]%s",
                                t->file, t->name, (long long)t->shape[0], t->ndim > 1 ? "," : "",
                                t->ndim > 1 ? (long long)t->shape[1] : 0LL, need ? "" : "N, ",
                                need ? need : in, in,
                                op->out == TL_HOUT_LABELS ? " (config.json id2label / num_labels)" : "");
        if ((s = as_f32(h, t, &st->w))) return s;
        st->out = (size_t)t->shape[0];
    }
    st->in = in;
    st->b = NULL;
    if (op->b && has_bias(m, op)) {
        const tl_st_tensor *tb = lookup(m, op->b, op->base, fb, sizeof fb);
        if (!tb && op->b_alt) tb = lookup(m, op->b_alt, op->base, fb, sizeof fb);
        if (!tb) return missing(m, fb, h->def->kind);
        if (tb->ndim != 1 || tb->shape[0] != (int64_t)st->out)
            return tl_set_error(TL_ERR_FORMAT, "%s: tensor '%s' has %d dims / %lld entries, expected [%zu]",
                                tb->file, tb->name, tb->ndim, (long long)tb->shape[0], st->out);
        if ((s = as_f32(h, tb, &st->b))) return s;
    }
    st->lin = (tl_linear){.in = st->in, .out = st->out, .wtype = TL_DTYPE_F32, .w = st->w, .b = st->b};
    return TL_OK;
}

/* Binds a LayerNorm step of width in. */
static tl_status bind_ln(tl_head *h, const tl_model *m, const tl_head_op *op, size_t in, tl_head_step *st) {
    const char *names[2] = {op->w, op->b};
    const float **dst[2] = {&st->w, &st->b};
    for (int i = 0; i < (has_bias(m, op) ? 2 : 1); i++) {
        char full[320];
        const tl_st_tensor *t = lookup(m, names[i], op->base, full, sizeof full);
        if (!t) return missing(m, full, h->def->kind);
        if (t->ndim != 1 || t->shape[0] != (int64_t)in)
            return tl_set_error(TL_ERR_FORMAT, "%s: tensor '%s' has %d dims / %lld entries, expected [%zu]",
                                t->file, t->name, t->ndim, (long long)t->shape[0], in);
        tl_status s = as_f32(h, t, dst[i]);
        if (s) return s;
    }
    st->in = st->out = in;
    return TL_OK;
}

/* Resolves an activation step: tanh, or one of the encoder's activation functions (the
 * configured ones by their config.json name). */
static tl_status bind_act(const tl_model *m, tl_head_act a, tl_head_step *st) {
    const char *name = NULL, *key = NULL;
    st->tanh = a == TL_HACT_TANH;
    switch (a) {
    case TL_HACT_TANH: return TL_OK;
    case TL_HACT_RELU: st->fn = TL_ACT_RELU; return TL_OK;
    case TL_HACT_GELU: st->fn = TL_ACT_GELU; return TL_OK;
    case TL_HACT_CONFIG: st->fn = m->arch.act; return TL_OK;
    case TL_HACT_POOLER: name = m->arch.head.pooler_act; key = "pooler_hidden_act"; break;
    case TL_HACT_CLASSIFIER: name = m->arch.head.classifier_act; key = "classifier_activation"; break;
    }
    if (!strcmp(name, "tanh")) { st->tanh = 1; return TL_OK; }
    if (tl_activation_parse(name, &st->fn)) return TL_OK;
    return tl_set_error(TL_ERR_UNSUPPORTED, "config.json: %s '%s' is not supported (gelu, gelu_new, "
                        "gelu_pytorch_tanh, gelu_fast, relu, silu, tanh)", key, name);
}

tl_status tl_head_bind(tl_head *h, const tl_model *m, tl_head_kind kind, size_t n_labels) {
    memset(h, 0, sizeof *h);
    h->def = tl_head_def_find(&m->arch, kind);
    if (!h->def)
        return tl_set_error(TL_ERR_UNSUPPORTED, "%s: model_type '%s' has no %s head in torchless yet",
                            m->dir ? m->dir : "model", m->arch.model_type, tl_head_kind_task(kind));
    h->mean_pool = h->def->pool == TL_HPOOL_CONFIG && m->arch.head.classifier_mean;
    size_t width = m->arch.hidden;
    h->max_width = width;
    tl_status s = TL_OK;
    for (int i = 0; i < TL_HEAD_MAX_OPS && h->def->ops[i].op != TL_HOP_END; i++) {
        const tl_head_op *op = &h->def->ops[i];
        tl_head_step *st = &h->steps[h->n_steps];
        st->op = op->op;
        if (op->op == TL_HOP_LINEAR) s = bind_linear(h, m, op, width, n_labels, st);
        else if (op->op == TL_HOP_LAYERNORM) s = bind_ln(h, m, op, width, st);
        else {
            st->in = st->out = width;
            s = bind_act(m, op->act, st);
        }
        if (s != TL_OK) { tl_head_free(h); return s; }
        width = st->out;
        if (width > h->max_width) h->max_width = width;
        h->n_steps++;
    }
    h->n_out = width;
    return TL_OK;
}

void tl_head_free(tl_head *h) {
    for (size_t i = 0; i < h->n_owned; i++) free(h->owned[i]);
    memset(h, 0, sizeof *h);
}

/* x (n) <- act(x) for a bound activation step. */
static void head_act(float *x, size_t n, const tl_head_step *st) {
    if (st->tanh)
        for (size_t i = 0; i < n; i++) x[i] = tanhf(x[i]);
    else
        tl_activation_apply(x, n, st->fn);
}

tl_status tl_head_apply(const tl_head *h, const tl_model *m, const float *hidden,
                        const size_t *rows, size_t n_rows, float *out) {
    const size_t H = m->arch.hidden;
    if (n_rows == 0) return TL_OK;
    size_t n, bytes;
    if (tl_mul_overflow(n_rows, h->max_width, &n) || tl_mul_overflow(n, 2 * sizeof(float), &bytes))
        return tl_set_error(TL_ERR_OOM, "head input of %zu rows is too large", n_rows);
    float *buf = malloc(bytes);
    if (!buf) return tl_set_error(TL_ERR_OOM, "out of memory for the %s head", tl_head_kind_task(h->def->kind));
    /* the GEMM state of a context of the model: its spare one, or a temporary one */
    tl_context *c = tl_model_ctx_get(m);
    if (!c) { free(buf); return TL_ERR_OOM; }
    const tl_gemm g = {m->gemm, c->gemm_state};
    float *a = buf, *b = buf + n;
    // a (n_rows, H) = the selected rows of hidden
    for (size_t r = 0; r < n_rows; r++)
        memcpy(a + r * H, hidden + (rows ? rows[r] : r) * H, H * sizeof(float));
    for (size_t i = 0; i < h->n_steps; i++) {
        const tl_head_step *st = &h->steps[i];
        int last = i + 1 == h->n_steps;
        switch (st->op) {
        case TL_HOP_LINEAR: {
            float *dst = last ? out : b;
            tl_linear_forward(&g, &st->lin, a, dst, n_rows, TL_LINEAR_NO_ACT); // (n_rows, out)
            if (!last) { float *t = a; a = b; b = t; }
            break;
        }
        case TL_HOP_ACT: head_act(a, n_rows * st->in, st); break;
        case TL_HOP_LAYERNORM: tl_add_layernorm(a, NULL, st->w, st->b, n_rows, st->in, (float)m->arch.ln_eps); break;
        default: break;
        }
        if (last && st->op != TL_HOP_LINEAR) memcpy(out, a, n_rows * st->out * sizeof(float));
    }
    tl_model_ctx_put(m, c);
    free(buf);
    return TL_OK;
}

tl_status tl_head_apply_seqs(const tl_head *h, const tl_model *m, const float *hidden, const size_t *cu,
                             const int32_t *mask, size_t n_seqs, float *out) {
    const size_t H = m->arch.hidden;
    if (n_seqs == 0) return TL_OK;
    for (size_t i = 0; i < n_seqs; i++)
        if (cu[i + 1] <= cu[i])
            return tl_set_error(TL_ERR_INVALID_ARG, "batch: sequence %zu is empty; a %s head needs its "
                                "tokens", i, tl_head_kind_task(h->def->kind));
    size_t bytes, elem = h->mean_pool ? H * sizeof(float) : sizeof(size_t);
    if (tl_mul_overflow(n_seqs, elem, &bytes))
        return tl_set_error(TL_ERR_OOM, "head input of %zu sequences is too large", n_seqs);
    void *buf = malloc(bytes);
    if (!buf) return tl_set_error(TL_ERR_OOM, "out of memory for the %s head", tl_head_kind_task(h->def->kind));
    tl_status s;
    if (!h->mean_pool) {
        size_t *rows = buf; // each sequence's first token
        for (size_t i = 0; i < n_seqs; i++) rows[i] = cu[i];
        s = tl_head_apply(h, m, hidden, rows, n_seqs, out);
    } else {
        float *pooled = buf; // (n_seqs, H): sum(h * mask) / sum(mask), as ModernBERT in float32
        for (size_t i = 0; i < n_seqs; i++) {
            float *p = pooled + i * H, count = 0.0f;
            memset(p, 0, H * sizeof(float));
            for (size_t t = cu[i]; t < cu[i + 1]; t++) {
                if (mask && !mask[t]) continue;
                count += 1.0f;
                for (size_t j = 0; j < H; j++) p[j] += hidden[t * H + j];
            }
            for (size_t j = 0; j < H; j++) p[j] /= count;
        }
        s = tl_head_apply(h, m, pooled, NULL, n_seqs, out);
    }
    free(buf);
    return s;
}
