/* weights.c — tensor lookup with prefixes, shape checks, fp32 conversion, QKV fusion. */
#include "model/weights.h"
#include "core/error.h"
#include "core/util.h"
#include "kernels/kernels.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

/* Remembers p for tl_weights_free; frees p and returns 0 on OOM. */
static int keep(tl_weights *w, void *p) {
    if (w->n_owned == w->cap_owned) {
        size_t cap = w->cap_owned ? w->cap_owned * 2 : 64;
        void **n = realloc(w->owned, cap * sizeof *n);
        if (!n) { free(p); return 0; }
        w->owned = n;
        w->cap_owned = cap;
    }
    w->owned[w->n_owned++] = p;
    return 1;
}

/* Notes dtype dt in w->dtypes (a short comma-separated set). */
static void note_dtype(tl_weights *w, tl_dtype dt) {
    const char *name = tl_dtype_name(dt);
    if (strstr(w->dtypes, name)) return;
    size_t k = strlen(w->dtypes);
    snprintf(w->dtypes + k, sizeof w->dtypes - k, "%s%s", k ? ", " : "", name);
}

/* Formats a shape as "[a,b]" into buf. */
static void fmt_shape(char *buf, size_t cap, int ndim, const int64_t *shape) {
    size_t k = (size_t)snprintf(buf, cap, "[");
    for (int i = 0; i < ndim && k < cap; i++)
        k += (size_t)snprintf(buf + k, cap - k, "%s%lld", i ? "," : "", (long long)shape[i]);
    if (k < cap) snprintf(buf + k, cap - k, "]");
}

/* Finds prefix+name (name may hold one %d for layer); sets *t or an error. */
static tl_status find(const tl_weights *w, const tl_safetensors *st, const char *tmpl, int layer,
                      const tl_st_tensor **t) {
    char name[256], full[320];
    snprintf(name, sizeof name, tmpl, layer);
    snprintf(full, sizeof full, "%s%s", w->prefix, name);
    *t = tl_st_find(st, full);
    if (!*t) {
        const char *file = tl_st_count(st) ? tl_st_at(st, 0)->file : "checkpoint";
        return tl_set_error(TL_ERR_FORMAT, "%s: missing tensor '%s'", file, full);
    }
    return TL_OK;
}

/* Checks t has shape (d0) or (d0, d1) (d1 == 0 means 1-D). */
static tl_status check_shape(const tl_st_tensor *t, size_t d0, size_t d1) {
    int want_nd = d1 ? 2 : 1;
    int64_t want[2] = {(int64_t)d0, (int64_t)d1};
    int ok = t->ndim == want_nd && t->shape[0] == want[0] && (want_nd == 1 || t->shape[1] == want[1]);
    if (ok) return TL_OK;
    char got[96], exp[96];
    fmt_shape(got, sizeof got, t->ndim, t->shape);
    fmt_shape(exp, sizeof exp, want_nd, want);
    return tl_set_error(TL_ERR_FORMAT, "%s: tensor '%s' has shape %s, config.json says %s",
                        t->file, t->name, got, exp);
}

/* Returns an fp32 view of t: the mapped data when F32 and 4-byte aligned, else a
 * converted copy owned by w. */
static tl_status as_f32(tl_weights *w, const tl_st_tensor *t, const float **out) {
    note_dtype(w, t->dtype);
    w->n_params += t->numel;
    float *buf;
    tl_status s = tl_st_view_f32(t, out, &buf);
    if (s != TL_OK || !buf) return s;
    if (!keep(w, buf)) return tl_set_error(TL_ERR_OOM, "out of memory");
    w->n_converted++;
    return TL_OK;
}

/* Binds one tensor by template with shape (d0[, d1]) to *out. */
static tl_status bind(tl_weights *w, const tl_safetensors *st, const char *tmpl, int layer,
                      size_t d0, size_t d1, const float **out) {
    const tl_st_tensor *t;
    tl_status s = find(w, st, tmpl, layer, &t);
    if (s == TL_OK) s = check_shape(t, d0, d1);
    if (s == TL_OK) s = as_f32(w, t, out);
    return s;
}

/* Concatenates Q, K, V weights (H, H) and biases (H) of one layer into owned buffers. */
static tl_status bind_qkv(tl_weights *w, const tl_safetensors *st, const tl_family *f,
                          int layer, size_t H, tl_layer_weights *L) {
    const char *wn[3] = {f->q_w, f->k_w, f->v_w}, *bn[3] = {f->q_b, f->k_b, f->v_b};
    float *qw = malloc(3 * H * H * sizeof(float)), *qb;
    if (!qw || !keep(w, qw))
        return tl_set_error(TL_ERR_OOM, "out of memory fusing QKV of layer %d", layer);
    qb = malloc(3 * H * sizeof(float));
    if (!qb || !keep(w, qb))
        return tl_set_error(TL_ERR_OOM, "out of memory fusing QKV of layer %d", layer);
    L->qkv = (tl_linear){.in = H, .out = 3 * H, .wtype = TL_DTYPE_F32, .w = qw, .b = qb};
    for (int i = 0; i < 3; i++) {
        const tl_st_tensor *tw, *tb;
        tl_status s;
        if ((s = find(w, st, wn[i], layer, &tw)) || (s = check_shape(tw, H, H)) ||
            (s = find(w, st, bn[i], layer, &tb)) || (s = check_shape(tb, H, 0)) ||
            (s = tl_st_copy_f32(tw, qw + (size_t)i * H * H)) ||
            (s = tl_st_copy_f32(tb, qb + (size_t)i * H)))
            return s;
        note_dtype(w, tw->dtype);
        w->n_params += tw->numel + tb->numel;
    }
    return TL_OK;
}

/* Binds a tensor only when want is set (the config says it exists); else *out = NULL. */
static tl_status bind_opt(tl_weights *w, const tl_safetensors *st, const char *tmpl, int layer,
                          size_t d0, size_t d1, int want, const float **out) {
    *out = NULL;
    if (!want || !tmpl) return TL_OK;
    return bind(w, st, tmpl, layer, d0, d1, out);
}

/* Binds linear layer L (out, in) of dtype F32 from its weight and bias templates; the bias
 * only when want_b (else L->b = NULL). */
static tl_status bind_lin(tl_weights *w, const tl_safetensors *st, const char *wt, const char *bt,
                          int layer, size_t out, size_t in, int want_b, tl_linear *L) {
    const float *pw;
    *L = (tl_linear){.in = in, .out = out, .wtype = TL_DTYPE_F32};
    tl_status s = bind(w, st, wt, layer, out, in, &pw);
    if (s == TL_OK) s = bind_opt(w, st, bt, layer, out, 0, want_b, &L->b);
    L->w = pw;
    return s;
}

/* Binds a ModernBERT checkpoint: tok embeddings + norm, per layer Wqkv, Wo, Wi, Wo and
 * pre-norms (none before layer 0's attention), the final norm; biases as configured. */
static tl_status bind_modernbert(tl_weights *w, const tl_arch *a, const tl_safetensors *st) {
    const tl_family *f = a->family;
    const size_t H = a->hidden, I = a->intermediate;
    tl_status s;
    if ((s = bind(w, st, f->word_emb, 0, a->vocab_size, H, &w->word_emb)) ||
        (s = bind(w, st, f->emb_ln_w, 0, H, 0, &w->emb_ln_w)) ||
        (s = bind_opt(w, st, f->emb_ln_b, 0, H, 0, a->norm_bias, &w->emb_ln_b)) ||
        (s = bind(w, st, f->final_ln_w, 0, H, 0, &w->final_ln_w)) ||
        (s = bind_opt(w, st, f->final_ln_b, 0, H, 0, a->norm_bias, &w->final_ln_b)))
        return s;
    for (int l = 0; l < (int)a->n_layers; l++) {
        tl_layer_weights *L = &w->layers[l];
        if ((s = bind_lin(w, st, f->q_w, f->q_b, l, 3 * H, H, a->attn_bias, &L->qkv)) ||
            (s = bind_lin(w, st, f->attn_out_w, f->attn_out_b, l, H, H, a->attn_bias, &L->attn_out)) ||
            (s = bind_opt(w, st, f->attn_ln_w, l, H, 0, l > 0, &L->attn_ln_w)) ||
            (s = bind_opt(w, st, f->attn_ln_b, l, H, 0, l > 0 && a->norm_bias, &L->attn_ln_b)) ||
            (s = bind_lin(w, st, f->ffn_in_w, f->ffn_in_b, l, 2 * I, H, a->mlp_bias, &L->ffn_in)) ||
            (s = bind_lin(w, st, f->ffn_out_w, f->ffn_out_b, l, H, I, a->mlp_bias, &L->ffn_out)) ||
            (s = bind(w, st, f->ffn_ln_w, l, H, 0, &L->ffn_ln_w)) ||
            (s = bind_opt(w, st, f->ffn_ln_b, l, H, 0, a->norm_bias, &L->ffn_ln_b)))
            return s;
    }
    return TL_OK;
}

/* Returns a new owned (rows, out) buffer = x (rows, in) @ W (out, in)^T + b, or NULL. */
static float *project(tl_weights *w, const float *x, const float *W, const float *b, size_t rows,
                      size_t in, size_t out) {
    float *y = malloc(rows * out * sizeof(float));
    if (!y || !keep(w, y)) return NULL;
    tl_linear_blas(x, W, b, y, rows, in, out);
    return y;
}

/* DeBERTa: binds the relative embeddings (normalized once if configured) and computes
 * each layer's position projections for c2p / p2c once, at load. */
static tl_status bind_deberta_positions(tl_weights *w, const tl_arch *a, const tl_safetensors *st) {
    const tl_family *f = a->family;
    const size_t H = a->hidden, R = 2 * a->att_span;
    const float *rel, *g = NULL, *b = NULL;
    tl_status s;
    if ((s = bind(w, st, f->rel_emb, 0, R, H, &rel))) return s;
    if (a->rel_ln) {
        if ((s = bind(w, st, f->rel_ln_w, 0, H, 0, &g)) || (s = bind(w, st, f->rel_ln_b, 0, H, 0, &b)))
            return s;
        float *normed = malloc(R * H * sizeof(float));
        if (!normed || !keep(w, normed)) return tl_set_error(TL_ERR_OOM, "out of memory");
        tl_layernorm(rel, normed, g, b, R, H, (float)a->ln_eps);
        rel = normed;
    }
    for (int l = 0; l < (int)a->n_layers; l++) {
        tl_layer_weights *L = &w->layers[l];
        if (a->share_att_key) { /* query_proj / key_proj of the layer itself: one fused pass */
            float *pqk = project(w, rel, L->qkv.w, L->qkv.b, R, H, 3 * H);
            if (!pqk) return tl_set_error(TL_ERR_OOM, "out of memory");
            L->pos_q = a->p2c ? pqk : NULL;
            L->pos_k = a->c2p ? pqk + H : NULL;
            L->pos_ld = 3 * H;
            continue;
        }
        const float *kw, *kb, *qw, *qb;
        L->pos_ld = H;
        if (a->c2p) {
            if ((s = bind(w, st, f->pos_k_w, l, H, H, &kw)) || (s = bind(w, st, f->pos_k_b, l, H, 0, &kb)))
                return s;
            if (!(L->pos_k = project(w, rel, kw, kb, R, H, H))) return tl_set_error(TL_ERR_OOM, "out of memory");
        }
        if (a->p2c) {
            if ((s = bind(w, st, f->pos_q_w, l, H, H, &qw)) || (s = bind(w, st, f->pos_q_b, l, H, 0, &qb)))
                return s;
            if (!(L->pos_q = project(w, rel, qw, qb, R, H, H))) return tl_set_error(TL_ERR_OOM, "out of memory");
        }
    }
    return TL_OK;
}

/* Picks the first prefix under which the word embeddings exist. */
static tl_status pick_prefix(tl_weights *w, const tl_family *f, const tl_safetensors *st) {
    char full[320];
    for (int i = 0; i < 4 && f->prefixes[i]; i++) {
        snprintf(full, sizeof full, "%s%s", f->prefixes[i], f->word_emb);
        if (tl_st_find(st, full)) { w->prefix = f->prefixes[i]; return TL_OK; }
    }
    const char *file = tl_st_count(st) ? tl_st_at(st, 0)->file : "checkpoint";
    return tl_set_error(TL_ERR_FORMAT, "%s: missing tensor '%s%s' (also looked for it without the prefix)",
                        file, f->prefixes[0], f->word_emb);
}

tl_status tl_weights_bind(tl_weights *w, const tl_arch *a, const tl_safetensors *st) {
    memset(w, 0, sizeof *w);
    const tl_family *f = a->family;
    const size_t H = a->hidden, I = a->intermediate, E = a->embedding_size;
    tl_status s = pick_prefix(w, f, st);
    if (s) goto fail;
    w->layers = calloc(a->n_layer_groups, sizeof *w->layers);
    w->n_layer_groups = a->n_layer_groups;
    w->layer_of = calloc(a->n_layers, sizeof *w->layer_of);
    if (!w->layers || !w->layer_of) { s = tl_set_error(TL_ERR_OOM, "out of memory"); goto fail; }
    for (size_t l = 0; l < a->n_layers; l++)
        w->layer_of[l] = &w->layers[l / (a->n_layers / a->n_layer_groups)];
    if (f->block == TL_BLOCK_MODERNBERT) {
        if ((s = bind_modernbert(w, a, st))) goto fail;
        return TL_OK;
    }
    if ((s = bind(w, st, f->word_emb, 0, a->vocab_size, E, &w->word_emb)) ||
        (s = bind_opt(w, st, f->pos_emb, 0, a->max_positions, E, !f->deberta || a->position_biased_input,
                      &w->pos_emb)) ||
        (s = bind(w, st, f->emb_ln_w, 0, f->deberta ? H : E, 0, &w->emb_ln_w)) || /* DeBERTa: after */
        (s = bind(w, st, f->emb_ln_b, 0, f->deberta ? H : E, 0, &w->emb_ln_b)))  /* the projection */
        goto fail;
    if (a->type_vocab_size && (s = bind(w, st, f->type_emb, 0, a->type_vocab_size, E, &w->type_emb)))
        goto fail;
    if (a->has_emb_proj && (s = bind_lin(w, st, f->emb_proj_w, f->emb_proj_b, 0, H, E, 1, &w->emb_proj)))
        goto fail;
    if (a->rel_buckets && (s = bind(w, st, f->rel_bias, 0, a->rel_buckets, a->n_heads, &w->rel_bias)))
        goto fail;
    for (int l = 0; l < (int)a->n_layer_groups; l++) {
        tl_layer_weights *L = &w->layers[l];
        if ((s = bind_qkv(w, st, f, l, H, L)) ||
            (s = bind_lin(w, st, f->attn_out_w, f->attn_out_b, l, H, H, 1, &L->attn_out)) ||
            (s = bind(w, st, f->attn_ln_w, l, H, 0, &L->attn_ln_w)) ||
            (s = bind(w, st, f->attn_ln_b, l, H, 0, &L->attn_ln_b)) ||
            (s = bind_lin(w, st, f->ffn_in_w, f->ffn_in_b, l, I, H, 1, &L->ffn_in)) ||
            (s = bind_lin(w, st, f->ffn_out_w, f->ffn_out_b, l, H, I, 1, &L->ffn_out)) ||
            (s = bind(w, st, f->ffn_ln_w, l, H, 0, &L->ffn_ln_w)) ||
            (s = bind(w, st, f->ffn_ln_b, l, H, 0, &L->ffn_ln_b)))
            goto fail;
    }
    if (a->relative_attention && (s = bind_deberta_positions(w, a, st))) goto fail;
    return TL_OK;
fail:
    tl_weights_free(w);
    return s;
}

/* Frees p when w owns it (and forgets it); returns 1 then, 0 when p is not owned. */
static int release(tl_weights *w, const void *p) {
    for (size_t i = 0; i < w->n_owned; i++)
        if (w->owned[i] == p) {
            free(w->owned[i]);
            w->owned[i] = w->owned[--w->n_owned];
            return 1;
        }
    return 0;
}

/* Drops the resident pages wholly inside [p, p + bytes) of a read-only file mapping: they
 * leave the process's memory and are read from the file again only if touched. */
static void drop_mapped(const void *p, size_t bytes) {
    const uintptr_t pg = (uintptr_t)sysconf(_SC_PAGESIZE);
    if (!pg || pg & (pg - 1)) return;
    uintptr_t lo = ((uintptr_t)p + pg - 1) & ~(pg - 1), hi = ((uintptr_t)p + bytes) & ~(pg - 1);
    if (hi > lo) madvise((void *)lo, hi - lo, MADV_DONTNEED);
}

/* Packs L with g; frees the plain copy when w owns it, else (a weight in the checkpoint's
 * mapping) drops its pages when drop is set. */
static void pack_one(tl_weights *w, const tl_gemm_backend *g, tl_linear *L, int drop) {
    if (!tl_linear_pack(L, g)) return;
    if (release(w, L->w)) L->w = NULL;
    else if (drop) drop_mapped(L->w, L->in * L->out * tl_dtype_size(L->wtype));
}

void tl_weights_pack(tl_weights *w, const tl_arch *a, const tl_gemm_backend *g, int drop_mapped) {
    if (!g || !g->pack) return;
    const int d = drop_mapped;
    if (a->has_emb_proj) pack_one(w, g, &w->emb_proj, d);
    for (size_t l = 0; l < a->n_layer_groups; l++) {
        tl_layer_weights *L = &w->layers[l];
        pack_one(w, g, &L->qkv, d);
        pack_one(w, g, &L->attn_out, d);
        pack_one(w, g, &L->ffn_in, d);
        pack_one(w, g, &L->ffn_out, d);
    }
}

void tl_weights_free(tl_weights *w) {
    for (size_t l = 0; w->layers && l < w->n_layer_groups; l++) {
        tl_layer_weights *L = &w->layers[l];
        tl_packed_free(L->qkv.pk);
        tl_packed_free(L->attn_out.pk);
        tl_packed_free(L->ffn_in.pk);
        tl_packed_free(L->ffn_out.pk);
    }
    tl_packed_free(w->emb_proj.pk);
    for (size_t i = 0; i < w->n_owned; i++) free(w->owned[i]);
    free(w->owned);
    free(w->layers);
    free(w->layer_of);
    memset(w, 0, sizeof *w);
}
