/* precision.c — tl_precision at load: names, availability on this CPU (gated on the
 * features the oneDNN kernels use, with $TORCHLESS_ISA's cap), conversion of the
 * encoder's linear layers to bf16 (round to nearest even) or int8 (per-output-channel
 * symmetric scales), and the accuracy guard's verdict, which also decides AUTO. */
#include "model/precision.h"
#include "model/block.h"
#include "core/error.h"
#include "kernels/quant.h"
#include "kernels/vec.h"
#include "runtime/threads.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const names[] = {"fp32", "bf16", "int8", "auto"};

const char *tl_precision_name(int p) {
    return p >= 0 && p < (int)(sizeof names / sizeof names[0]) ? names[p] : "?";
}

int tl_precision_parse(const char *name, int *p) {
    for (int i = 0; name && i < (int)(sizeof names / sizeof names[0]); i++)
        if (!strcmp(name, names[i])) { *p = i; return 1; }
    return 0;
}

/* Where a precision runs natively: AMX tiles, else AVX-512 dot-product instructions, else
 * (int8) AVX-VNNI on YMM; NULL when the usable features u have none of them. */
static const char *native_path(int p, unsigned u) {
    const unsigned amx = TL_CPU_AMX_TILE | TL_CPU_AMX_OS;
    if (p == TL_PRECISION_BF16) {
        if ((u & (amx | TL_CPU_AMX_BF16)) == (amx | TL_CPU_AMX_BF16)) return "amx-bf16";
        if ((u & (TL_CPU_AVX512 | TL_CPU_AVX512_BF16)) == (TL_CPU_AVX512 | TL_CPU_AVX512_BF16)) return "avx512-bf16";
        return NULL;
    }
    if ((u & (amx | TL_CPU_AMX_INT8)) == (amx | TL_CPU_AMX_INT8)) return "amx-int8";
    if ((u & (TL_CPU_AVX512 | TL_CPU_AVX512_VNNI)) == (TL_CPU_AVX512 | TL_CPU_AVX512_VNNI)) return "avx512-vnni";
    if ((u & (TL_CPU_AVX2 | TL_CPU_AVX_VNNI)) == (TL_CPU_AVX2 | TL_CPU_AVX_VNNI)) return "avx-vnni";
    return NULL;
}

const char *tl_precision_path(int p) {
    return p == TL_PRECISION_BF16 || p == TL_PRECISION_INT8 ? native_path(p, tl_cpu_usable()) : NULL;
}

tl_status tl_precision_available(int p) {
    const unsigned f = tl_cpu_features(), u = tl_cpu_usable();
    if (p == TL_PRECISION_FP32) return TL_OK;
    if (p != TL_PRECISION_BF16 && p != TL_PRECISION_INT8)
        return tl_set_error(TL_ERR_INVALID_ARG, "precision %d is not one of fp32 (0), bf16 (1), int8 (2), auto (3)", p);
    if (native_path(p, u)) return TL_OK;
    /* an instruction set this CPU has but TORCHLESS_ISA forbids, or none at all */
    const char *why = native_path(p, f) ? "TORCHLESS_ISA forbids the instructions this CPU has" : "this CPU lacks them";
    if (p == TL_PRECISION_BF16)
        return tl_set_error(TL_ERR_UNSUPPORTED, "precision bf16 needs a CPU with AVX512-BF16 or AMX-BF16 (%s)", why);
    return tl_set_error(TL_ERR_UNSUPPORTED, "precision int8 needs a CPU with AVX512-VNNI, AVX-VNNI or AMX-INT8 (%s)", why);
}

static const char *const kind_names[4] = {"qkv", "attn_out", "ffn_in", "ffn_out"};

/* Kinds past kind_names: the embedding projection, a decoder's output projection. */
enum { KIND_EMB_PROJ = 4, KIND_LM_HEAD = 5 };

/* A record's name in reports: kind_names, "emb_proj" or "lm_head". */
static const char *kind_name(int k) {
    return k < 4 ? kind_names[k] : k == KIND_EMB_PROJ ? "emb_proj" : "lm_head";
}

/* Fills out with the linear layers of w (embedding projection, then each layer group's
 * QKV, attention output, FFN in and out, then a decoder's lm_head) and layer / kind with
 * where each sits (layer -1: the projection and lm_head; kind 0..3 as kind_names, then
 * KIND_EMB_PROJ, KIND_LM_HEAD); returns how many (at most 2 + 4 * n_layer_groups). */
static size_t linears(tl_weights *w, const tl_arch *a, tl_linear **out, int *layer, int *kind) {
    size_t n = 0;
    if (a->has_emb_proj) layer[n] = -1, kind[n] = KIND_EMB_PROJ, out[n++] = &w->emb_proj;
    for (size_t l = 0; l < a->n_layer_groups; l++) {
        tl_layer_weights *L = &w->layers[l];
        tl_linear *k[4] = {&L->qkv, &L->attn_out, &L->ffn_in, &L->ffn_out};
        for (int j = 0; j < 4; j++) layer[n] = (int)l, kind[n] = j, out[n++] = k[j];
    }
    if (a->family->block->decode && w->lm_head.w) layer[n] = -1, kind[n] = KIND_LM_HEAD, out[n++] = &w->lm_head;
    return n;
}

/* SmoothQuant's migration strength: smooth[c] = amax_x[c]^alpha / amax_w[c]^(1 - alpha).
 * $TORCHLESS_QUANT_ALPHA (0..1; 0 turns smoothing off) overrides it for experiments. */
static float smooth_alpha(void) {
    const char *e = getenv("TORCHLESS_QUANT_ALPHA");
    char *end;
    float a = e && *e ? strtof(e, &end) : -1.0f;
    return e && *e && *end == '\0' && a >= 0.0f && a <= 1.0f ? a : TL_INT8_SMOOTH_ALPHA;
}

/* Converts the fp32 record L to dtype dt into buffers owned by w; for int8, amax (L->in,
 * or NULL) is the calibration's max |x[:, c]|, from which the smoothing is chosen. */
static tl_status convert(tl_weights *w, tl_linear *L, tl_dtype dt, const float *amax) {
    const size_t n = L->in * L->out, C = L->in, OC = L->out;
    const float *src = L->w;
    void *q = malloc(n * tl_dtype_size(dt) + 1);
    if (!q || !tl_weights_keep(w, q)) return tl_set_error(TL_ERR_OOM, "out of memory converting weights to %s", tl_dtype_name(dt));
    if (dt == TL_DTYPE_BF16) {
        tl_bf16_from_f32(src, q, n);
        L->scales = NULL;
    } else {
        float *sc = malloc(OC * sizeof *sc), *sinv = NULL, *sm = NULL;
        int32_t *ws = malloc(OC * sizeof *ws);
        /* tl_weights_keep frees what it cannot keep */
        if (!sc || !ws) { free(sc); free(ws); return tl_set_error(TL_ERR_OOM, "out of memory quantizing weights"); }
        if (!tl_weights_keep(w, sc)) { free(ws); return tl_set_error(TL_ERR_OOM, "out of memory quantizing weights"); }
        if (!tl_weights_keep(w, ws)) return tl_set_error(TL_ERR_OOM, "out of memory quantizing weights");
        const float alpha = smooth_alpha();
        if (amax && alpha > 0.0f) {
            sinv = malloc(C * sizeof *sinv);
            sm = malloc(C * sizeof *sm);
            if (!sinv || !sm) { free(sinv); free(sm); return tl_set_error(TL_ERR_OOM, "out of memory quantizing weights"); }
            if (!tl_weights_keep(w, sinv)) { free(sm); return tl_set_error(TL_ERR_OOM, "out of memory quantizing weights"); }
            for (size_t c = 0; c < C; c++) {
                float wmax = 0.0f;
                for (size_t o = 0; o < OC; o++) wmax = fmaxf(wmax, fabsf(src[o * C + c]));
                float f = amax[c] > 0.0f && wmax > 0.0f ? powf(amax[c], alpha) / powf(wmax, 1.0f - alpha) : 1.0f;
                f = isfinite(f) ? fminf(fmaxf(f, 1e-4f), 1e4f) : 1.0f;
                sm[c] = f;
                sinv[c] = 1.0f / f;
            }
        }
        tl_quantize_weights_s8(src, sm, q, sc, ws, OC, C);
        free(sm);
        L->scales = sc;
        L->wsum = ws;
        L->smooth_inv = sinv;
    }
    L->w = q;
    L->wtype = dt;
    return TL_OK;
}

/* Undoes a conversion: frees what convert and packing made and restores the saved fp32
 * records. */
static void restore(tl_weights *w, tl_linear **ls, const tl_linear *saved, size_t n) {
    for (size_t i = 0; i < n; i++) {
        tl_linear *L = ls[i];
        if (L->wtype != TL_DTYPE_F32) {
            tl_packed_free(L->pk);
            tl_weights_forget(w, L->w, 0, 0);
            tl_weights_forget(w, L->scales, 0, 0);
            tl_weights_forget(w, L->wsum, 0, 0);
            tl_weights_forget(w, L->smooth_inv, 0, 0);
        }
        *L = saved[i];
    }
}

/* The guard's thresholds for a candidate: the caller's, else the candidate's defaults (for
 * AUTO, bf16's, the stricter, for every candidate). */
static void thresholds(const tl_model_params *p, int cand, float *min_cos, float *max_rel) {
    const int strict = p->precision == TL_PRECISION_AUTO || cand == TL_PRECISION_BF16;
    *min_cos = p->min_cosine > 0 ? p->min_cosine : strict ? TL_DEFAULT_MIN_COSINE_BF16 : TL_DEFAULT_MIN_COSINE_INT8;
    *max_rel = p->max_rel_error > 0 ? p->max_rel_error : strict ? TL_DEFAULT_MAX_REL_ERROR_BF16 : TL_DEFAULT_MAX_REL_ERROR_INT8;
}

/* Whether an int8 load keeps linear kind k (0..3 as kind_names, 4: the projection) in
 * bf16 (where bf16 is native): $TORCHLESS_QUANT_KEEP (a comma list of kind names, "none" for none)
 * overrides the default set TL_INT8_KEEP for experiments. */
static int int8_keeps(int k) {
    const char *e = getenv("TORCHLESS_QUANT_KEEP"), *list = e && *e ? e : TL_INT8_KEEP;
    const char *name = kind_name(k);
    const size_t len = strlen(name);
    for (const char *p = list; (p = strstr(p, name)) != NULL; p += len)
        if ((p == list || p[-1] == ',') && (p[len] == '\0' || p[len] == ',')) return 1;
    return 0;
}

/* Runs the calibration batch with a probe on each of the n records: with amax (n arrays
 * of the records' widths) folding max |x| per input channel, or with ref (the fp32 twins)
 * folding each record's drift into drift[i]. *out (may be NULL: discarded) gets the last
 * hidden state as tl_guard_forward gives it. */
static tl_status probed_forward(tl_model *m, tl_linear **ls, size_t n, float **amax,
                                const tl_linear *ref, tl_layer_drift *drift, float **out, size_t *T) {
    tl_linear_probe *pr = calloc(n ? n : 1, sizeof *pr);
    if (!pr) return tl_set_error(TL_ERR_OOM, "out of memory for the accuracy guard");
    for (size_t i = 0; i < n; i++) {
        pr[i] = (tl_linear_probe){.amax = amax ? amax[i] : NULL, .ref = ref && ls[i]->wtype != TL_DTYPE_F32 ? &ref[i] : NULL,
                                  .min_cos = 1.0};
        ls[i]->probe = &pr[i];
    }
    float *y = NULL;
    tl_status s = tl_guard_forward(m, &y, T);
    for (size_t i = 0; i < n; i++) {
        ls[i]->probe = NULL;
        if (drift) drift[i].max_rel = (float)pr[i].max_rel, drift[i].min_cos = (float)pr[i].min_cos;
    }
    free(pr);
    if (out) *out = y;
    else free(y);
    return s;
}

/* The record of drift (n) that drifts most: the least cosine, ties by the larger error. */
static const tl_layer_drift *worst_drift(const tl_layer_drift *d, size_t n) {
    const tl_layer_drift *w = NULL;
    for (size_t i = 0; i < n; i++)
        if (d[i].precision != TL_PRECISION_FP32 &&
            (!w || d[i].min_cos < w->min_cos || (d[i].min_cos == w->min_cos && d[i].max_rel > w->max_rel)))
            w = &d[i];
    return w;
}

tl_status tl_precision_apply(tl_model *m, const tl_model_params *p, int pack, int drop) {
    const int want = p->precision;
    const int guard = p->check_accuracy || want == TL_PRECISION_AUTO;
    m->accuracy = (tl_accuracy_report){.precision = TL_PRECISION_FP32, .min_cosine = 1.0f};
    if (want < TL_PRECISION_FP32 || want > TL_PRECISION_AUTO)
        return tl_set_error(TL_ERR_INVALID_ARG, "precision %d is not one of fp32 (0), bf16 (1), int8 (2), auto (3)", want);
    if (want == TL_PRECISION_FP32 && !guard) return TL_OK;
    tl_status s;
    if (want != TL_PRECISION_AUTO && (s = tl_precision_available(want))) return s;
    int cands[3], nc = 0;
    if (want == TL_PRECISION_AUTO) { /* fastest first; the guard decides */
        if (tl_precision_available(TL_PRECISION_INT8) == TL_OK) cands[nc++] = TL_PRECISION_INT8;
        if (tl_precision_available(TL_PRECISION_BF16) == TL_OK) cands[nc++] = TL_PRECISION_BF16;
        cands[nc++] = TL_PRECISION_FP32;
        tl_clear_error();
    } else cands[nc++] = want;
    const unsigned lowp = TL_DTYPE_BIT(TL_DTYPE_BF16) | TL_DTYPE_BIT(TL_DTYPE_I8);
    if (want != TL_PRECISION_FP32 && (m->gemm->dtypes & lowp) != lowp) {
        if (want != TL_PRECISION_AUTO)
            return tl_set_error(TL_ERR_UNSUPPORTED, "precision %s: the %s GEMM backend runs fp32 only "
                                "(TORCHLESS_GEMM=dnnl or ref)", tl_precision_name(want), m->gemm->name);
        nc = 0, cands[nc++] = TL_PRECISION_FP32;
    }
    const int bf16_ok = tl_precision_available(TL_PRECISION_BF16) == TL_OK;
    tl_clear_error();
    const size_t cap = 2 + 4 * m->arch.n_layer_groups;
    tl_linear **ls = malloc(cap * sizeof *ls);
    int *layer = malloc(cap * sizeof *layer), *kind = malloc(cap * sizeof *kind);
    const size_t n = ls && layer && kind ? linears(&m->w, &m->arch, ls, layer, kind) : 0;
    tl_linear *saved = malloc((n ? n : 1) * sizeof *saved);
    tl_layer_drift *drift = calloc(n ? n : 1, sizeof *drift);
    float **amax = calloc(n ? n : 1, sizeof *amax);
    float *ref = NULL, *got = NULL;
    size_t T = 0;
    s = ls && layer && kind && saved && drift && amax ? TL_OK : tl_set_error(TL_ERR_OOM, "out of memory");
    for (size_t i = 0; s == TL_OK && i < n; i++) {
        saved[i] = *ls[i];
        if (!(amax[i] = calloc(ls[i]->in ? ls[i]->in : 1, sizeof **amax))) s = tl_set_error(TL_ERR_OOM, "out of memory");
    }
    int any_int8 = 0;
    for (int k = 0; k < nc; k++) any_int8 |= cands[k] == TL_PRECISION_INT8;
    /* the fp32 calibration run: the guard's reference and int8's activation ranges */
    if (s == TL_OK && (guard || any_int8)) s = probed_forward(m, ls, n, amax, NULL, NULL, guard ? &ref : NULL, &T);
    char why[384] = "";
    for (int k = 0; s == TL_OK && k < nc; k++) {
        const int cand = cands[k];
        tl_accuracy_report r = {.checked = guard, .precision = cand, .min_cosine = 1.0f, .n_tokens = T};
        if (cand == TL_PRECISION_FP32) { /* the reference itself */
            m->accuracy = r;
            break;
        }
        tl_threads_saved prev = tl_threads_enter(m->n_threads);
        for (size_t i = 0; s == TL_OK && i < n; i++) {
            int pi = cand;
            if (cand == TL_PRECISION_INT8 && bf16_ok && int8_keeps(kind[i])) pi = TL_PRECISION_BF16;
            drift[i] = (tl_layer_drift){.layer = layer[i], .name = kind_name(kind[i]),
                                        .precision = pi, .min_cos = 1.0f};
            if (pi != TL_PRECISION_FP32)
                s = convert(&m->w, ls[i], pi == TL_PRECISION_BF16 ? TL_DTYPE_BF16 : TL_DTYPE_I8, amax[i]);
        }
        for (size_t i = 0; s == TL_OK && pack && i < n; i++)
            if (ls[i]->wtype != TL_DTYPE_F32 && tl_linear_pack(ls[i], m->gemm))
                tl_weights_forget(&m->w, ls[i]->w, 0, 0), ls[i]->w = NULL;
        tl_threads_leave(prev);
        if (s == TL_OK && guard && (s = probed_forward(m, ls, n, NULL, saved, drift, &got, &T)) == TL_OK) {
            float min_cos, max_rel;
            thresholds(p, cand, &min_cos, &max_rel);
            tl_guard_compare(ref, got, T, tl_guard_width(m), &r.max_rel_error, &r.min_cosine);
            free(got);
            got = NULL;
            const tl_layer_drift *wd = worst_drift(drift, n);
            /* a min_cosine the user set below the per-layer threshold lowers it too */
            const float layer_min = p->min_cosine > 0.0f && p->min_cosine < TL_MIN_LAYER_COSINE ? p->min_cosine
                                                                                              : TL_MIN_LAYER_COSINE;
            const int layer_bad = wd && !(wd->min_cos >= layer_min);
            if (layer_bad && r.min_cosine >= min_cos && r.max_rel_error <= max_rel) {
                /* the output held, but one layer's product drifted past what any precision
                 * should: inputs the calibration did not exercise may not hold */
                char lay[32];
                if (wd->layer >= 0) snprintf(lay, sizeof lay, "layer %d ", wd->layer);
                else lay[0] = '\0';
                snprintf(why, sizeof why, "precision %s failed the accuracy guard on %zu calibration tokens: "
                         "%s%s drifts, cosine %.6f to fp32 on the same input, below the per-layer threshold "
                         "%.6f (relative error %.6f; the outputs: min cosine %.6f, max relative error %.6f)",
                         tl_precision_name(cand), T, lay, wd->name, wd->min_cos, (double)layer_min,
                         wd->max_rel, r.min_cosine, r.max_rel_error);
                restore(&m->w, ls, saved, n);
                if (want != TL_PRECISION_AUTO) s = tl_set_error(TL_ERR_UNSUPPORTED, "%s", why);
                continue;
            }
            if (!(r.min_cosine >= min_cos) || !(r.max_rel_error <= max_rel)) {
                int cos_bad = !(r.min_cosine >= min_cos);
                char where[128] = "";
                if (wd && wd->layer >= 0)
                    snprintf(where, sizeof where, "; the layer that drifts most: layer %d %s (cosine %.6f, "
                             "relative error %.6f)", wd->layer, wd->name, wd->min_cos, wd->max_rel);
                else if (wd)
                    snprintf(where, sizeof where, "; the layer that drifts most: %s (cosine %.6f, relative error %.6f)",
                             wd->name, wd->min_cos, wd->max_rel);
                snprintf(why, sizeof why, "precision %s failed the accuracy guard on %zu calibration tokens: "
                         "%s %.6f %s threshold %.6f (min cosine %.6f, max relative error %.6f)%s",
                         tl_precision_name(cand), T, cos_bad ? "min cosine" : "max relative error",
                         cos_bad ? r.min_cosine : r.max_rel_error, cos_bad ? "below the" : "above the",
                         cos_bad ? min_cos : max_rel, r.min_cosine, r.max_rel_error, where);
                restore(&m->w, ls, saved, n);
                if (want != TL_PRECISION_AUTO) s = tl_set_error(TL_ERR_UNSUPPORTED, "%s", why);
                continue;
            }
        }
        if (s != TL_OK) {
            restore(&m->w, ls, saved, n);
            break;
        }
        /* kept: the fp32 originals go (owned copies freed, mapped pages dropped), except a
         * tied lm_head's, which is the embedding table lookups still read */
        for (size_t i = 0; i < n; i++)
            if (ls[i]->wtype != TL_DTYPE_F32 && saved[i].w != m->w.word_emb)
                tl_weights_forget(&m->w, saved[i].w, saved[i].in * saved[i].out * sizeof(float), drop);
        m->accuracy = r;
        if (guard) { /* the per-layer report stays with the model */
            free(m->drift);
            m->drift = drift, m->n_drift = n;
            drift = NULL;
        }
        break;
    }
    for (size_t i = 0; amax && i < n; i++) free(amax[i]);
    free(amax);
    free(drift);
    free(ref);
    free(saved);
    free(ls);
    free(layer);
    free(kind);
    return s;
}

tl_status tl_model_accuracy(const tl_model *m, tl_accuracy_report *out) {
    if (!m || !out) return tl_set_error(TL_ERR_INVALID_ARG, "tl_model_accuracy: NULL argument");
    *out = m->accuracy;
    return TL_OK;
}
