/* weights.c — binding tensors by role: lookup with prefixes, shape checks, fp32
 * conversion, QKV fusion; packing and freeing. The block kinds (block_*.c) say which
 * roles they bind. */
#include "model/weights.h"
#include "core/dtype.h"
#include "core/error.h"
#include "core/util.h"
#include "kernels/kernels.h"
#include "model/block.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

int tl_weights_keep(tl_weights *w, void *p) {
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
    if (!tmpl) return tl_set_error(TL_ERR_INTERNAL, "a block asked for a tensor its family does not name");
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

/* TL_ERR_FORMAT naming t when its n fp32 values x hold a NaN or Inf (a broken checkpoint:
 * NaN in a query weight silently zeroes attention, elsewhere it spreads to every output). */
tl_status tl_weights_check_finite(const tl_st_tensor *t, const float *x, size_t n) {
    size_t i = tl_first_nonfinite(x, n);
    if (i == n) return TL_OK;
    return tl_set_error(TL_ERR_FORMAT, "%s: tensor '%s' holds a non-finite value (%s at flat index %zu)",
                        t->file, t->name, x[i] != x[i] ? "NaN" : x[i] > 0 ? "+Inf" : "-Inf", i);
}

/* Returns an fp32 view of t: the mapped data when F32 and 4-byte aligned, else a
 * converted copy owned by w. Refuses NaN / Inf values, naming the tensor. */
static tl_status as_f32(tl_weights *w, const tl_st_tensor *t, const float **out) {
    note_dtype(w, t->dtype);
    w->n_params += t->numel;
    float *buf;
    tl_status s = tl_st_view_f32(t, out, &buf);
    if (s != TL_OK) return s;
    if (buf && !tl_weights_keep(w, buf)) return tl_set_error(TL_ERR_OOM, "out of memory");
    if (buf) w->n_converted++;
    return tl_weights_check_finite(t, *out, t->numel);
}

tl_status tl_weights_get(tl_weights *w, const tl_safetensors *st, tl_role r, int layer,
                         size_t d0, size_t d1, const float **out) {
    const tl_st_tensor *t;
    tl_status s = find(w, st, tl_role_name(w->family, r), layer, &t);
    if (s == TL_OK) s = check_shape(t, d0, d1);
    if (s == TL_OK) s = as_f32(w, t, out);
    return s;
}

tl_status tl_weights_fuse_qkv(tl_weights *w, const tl_safetensors *st, int layer, size_t H,
                             tl_layer_weights *L) {
    const tl_family *f = w->family;
    const char *wn[3] = {tl_role_name(f, TL_ROLE_Q_W), tl_role_name(f, TL_ROLE_K_W), tl_role_name(f, TL_ROLE_V_W)};
    const char *bn[3] = {tl_role_name(f, TL_ROLE_Q_B), tl_role_name(f, TL_ROLE_K_B), tl_role_name(f, TL_ROLE_V_B)};
    float *qw = malloc(3 * H * H * sizeof(float)), *qb;
    if (!qw || !tl_weights_keep(w, qw))
        return tl_set_error(TL_ERR_OOM, "out of memory fusing QKV of layer %d", layer);
    qb = malloc(3 * H * sizeof(float));
    if (!qb || !tl_weights_keep(w, qb))
        return tl_set_error(TL_ERR_OOM, "out of memory fusing QKV of layer %d", layer);
    L->qkv = (tl_linear){.in = H, .out = 3 * H, .wtype = TL_DTYPE_F32, .w = qw, .b = qb};
    for (int i = 0; i < 3; i++) {
        const tl_st_tensor *tw, *tb;
        tl_status s;
        if ((s = find(w, st, wn[i], layer, &tw)) || (s = check_shape(tw, H, H)) ||
            (s = find(w, st, bn[i], layer, &tb)) || (s = check_shape(tb, H, 0)) ||
            (s = tl_st_copy_f32(tw, qw + (size_t)i * H * H)) ||
            (s = tl_st_copy_f32(tb, qb + (size_t)i * H)) ||
            (s = tl_weights_check_finite(tw, qw + (size_t)i * H * H, H * H)) || (s = tl_weights_check_finite(tb, qb + (size_t)i * H, H)))
            return s;
        note_dtype(w, tw->dtype);
        w->n_params += tw->numel + tb->numel;
    }
    return TL_OK;
}

tl_status tl_weights_get_opt(tl_weights *w, const tl_safetensors *st, tl_role r, int layer,
                             size_t d0, size_t d1, int want, const float **out) {
    *out = NULL;
    if (!want || !tl_role_name(w->family, r)) return TL_OK;
    return tl_weights_get(w, st, r, layer, d0, d1, out);
}

tl_status tl_weights_get_linear(tl_weights *w, const tl_safetensors *st, tl_role rw, tl_role rb,
                                int layer, size_t out, size_t in, int want_b, tl_linear *L) {
    const float *pw = NULL;
    *L = (tl_linear){.in = in, .out = out, .wtype = TL_DTYPE_F32};
    tl_status s = tl_weights_get(w, st, rw, layer, out, in, &pw);
    if (s == TL_OK) s = tl_weights_get_opt(w, st, rb, layer, out, 0, want_b, &L->b);
    L->w = pw;
    return s;
}

tl_status tl_weights_get_root_opt(tl_weights *w, const tl_safetensors *st, tl_role r, size_t d0,
                                  size_t d1, const float **out) {
    const char *name = tl_role_name(w->family, r);
    const tl_st_tensor *t = name ? tl_st_find(st, name) : NULL;
    *out = NULL;
    if (!t) return TL_OK;
    tl_status s = check_shape(t, d0, d1);
    return s == TL_OK ? as_f32(w, t, out) : s;
}

/* Picks the first prefix under which the word embeddings exist. */
static tl_status pick_prefix(tl_weights *w, const tl_family *f, const tl_safetensors *st) {
    char full[320];
    for (int i = 0; i < 4 && f->prefixes[i]; i++) {
        snprintf(full, sizeof full, "%s%s", f->prefixes[i], tl_role_name(f, TL_ROLE_WORD_EMB));
        if (tl_st_find(st, full)) { w->prefix = f->prefixes[i]; return TL_OK; }
    }
    const char *file = tl_st_count(st) ? tl_st_at(st, 0)->file : "checkpoint";
    return tl_set_error(TL_ERR_FORMAT, "%s: missing tensor '%s%s' (also looked for it without the prefix)",
                        file, f->prefixes[0], tl_role_name(f, TL_ROLE_WORD_EMB));
}

tl_status tl_weights_bind(tl_weights *w, const tl_arch *a, const tl_safetensors *st) {
    memset(w, 0, sizeof *w);
    const tl_family *f = a->family;
    w->family = f;
    tl_status s = pick_prefix(w, f, st);
    if (s) goto fail;
    w->layers = calloc(a->n_layer_groups, sizeof *w->layers);
    w->n_layer_groups = a->n_layer_groups;
    w->layer_of = calloc(a->n_layers, sizeof *w->layer_of);
    if (!w->layers || !w->layer_of) { s = tl_set_error(TL_ERR_OOM, "out of memory"); goto fail; }
    for (size_t l = 0; l < a->n_layers; l++)
        w->layer_of[l] = &w->layers[l / (a->n_layers / a->n_layer_groups)];
    if ((s = f->block->bind(w, a, st))) goto fail;
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

void tl_weights_forget(tl_weights *w, const void *p, size_t bytes, int drop) {
    if (p && !release(w, p) && drop) drop_mapped(p, bytes);
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
    if (!a->family->block->decode) return;
    if (w->lm_head.w == w->word_emb) tl_linear_pack(&w->lm_head, g); /* tied: lookups read w */
    else pack_one(w, g, &w->lm_head, d);
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
    tl_packed_free(w->lm_head.pk);
    for (size_t i = 0; i < w->n_owned; i++) free(w->owned[i]);
    free(w->owned);
    free(w->layers);
    free(w->layer_of);
    memset(w, 0, sizeof *w);
}
