/* precision.c — tl_precision at load: names, availability on this CPU (gated on the
 * features the oneDNN kernels use, with $TORCHLESS_ISA's cap), conversion of the
 * encoder's linear layers to bf16 (round to nearest even) or int8 (per-output-channel
 * symmetric scales), and the accuracy guard's verdict, which also decides AUTO. */
#include "model/precision.h"
#include "core/error.h"
#include "kernels/quant.h"
#include "kernels/vec.h"
#include "runtime/threads.h"

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

tl_status tl_precision_available(int p) {
    const unsigned f = tl_cpu_features();
    const int avx512 = tl_vec()->level >= TL_ISA_AVX512; /* $TORCHLESS_ISA may cap it */
    const char *isa = tl_vec()->isa;
    if (p == TL_PRECISION_FP32) return TL_OK;
    if (p == TL_PRECISION_BF16) {
        if (avx512 && (f & TL_CPU_AVX512_BF16)) return TL_OK;
        return tl_set_error(TL_ERR_UNSUPPORTED, "precision bf16 needs a CPU with AVX512-BF16 (%s)",
                            !avx512 ? "vector kernels are limited to a lower ISA" : "this CPU lacks it");
    }
    if (p == TL_PRECISION_INT8) {
        if (avx512 && (f & TL_CPU_AVX512_VNNI)) return TL_OK;
        return tl_set_error(TL_ERR_UNSUPPORTED, "precision int8 needs a CPU with AVX512-VNNI (%s)",
                            !avx512 ? "vector kernels are limited to a lower ISA" : "this CPU lacks it");
    }
    (void)isa;
    return tl_set_error(TL_ERR_INVALID_ARG, "precision %d is not one of fp32 (0), bf16 (1), int8 (2), auto (3)", p);
}

/* Fills out with the encoder's linear layers of w (embedding projection, then each layer
 * group's QKV, attention output, FFN in and out); returns how many (<= 1 + 4 groups). */
static size_t linears(tl_weights *w, const tl_arch *a, tl_linear **out) {
    size_t n = 0;
    if (a->has_emb_proj) out[n++] = &w->emb_proj;
    for (size_t l = 0; l < a->n_layer_groups; l++) {
        tl_layer_weights *L = &w->layers[l];
        out[n++] = &L->qkv;
        out[n++] = &L->attn_out;
        out[n++] = &L->ffn_in;
        out[n++] = &L->ffn_out;
    }
    return n;
}

/* Converts the fp32 record L to dtype dt into buffers owned by w. */
static tl_status convert(tl_weights *w, tl_linear *L, tl_dtype dt) {
    const size_t n = L->in * L->out;
    const float *src = L->w;
    void *q = malloc(n * tl_dtype_size(dt) + 1);
    if (!q || !tl_weights_keep(w, q)) return tl_set_error(TL_ERR_OOM, "out of memory converting weights to %s", tl_dtype_name(dt));
    if (dt == TL_DTYPE_BF16) {
        tl_bf16_from_f32(src, q, n);
        L->scales = NULL;
    } else {
        float *sc = malloc(L->out * sizeof *sc);
        if (!sc || !tl_weights_keep(w, sc)) return tl_set_error(TL_ERR_OOM, "out of memory quantizing weights");
        tl_quantize_weights_s8(src, q, sc, L->out, L->in);
        L->scales = sc;
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
    tl_linear **ls = malloc((1 + 4 * m->arch.n_layer_groups) * sizeof *ls);
    const size_t n = ls ? linears(&m->w, &m->arch, ls) : 0;
    tl_linear *saved = malloc((n ? n : 1) * sizeof *saved);
    float *ref = NULL, *got = NULL;
    size_t T = 0;
    if (!ls || !saved) {
        free(ls);
        free(saved);
        return tl_set_error(TL_ERR_OOM, "out of memory");
    }
    for (size_t i = 0; i < n; i++) saved[i] = *ls[i];
    s = guard ? tl_guard_forward(m, &ref, &T) : TL_OK;
    char why[256] = "";
    for (int k = 0; s == TL_OK && k < nc; k++) {
        const int cand = cands[k];
        tl_accuracy_report r = {.checked = guard, .precision = cand, .min_cosine = 1.0f, .n_tokens = T};
        if (cand == TL_PRECISION_FP32) { /* the reference itself */
            m->accuracy = r;
            break;
        }
        const tl_dtype dt = cand == TL_PRECISION_BF16 ? TL_DTYPE_BF16 : TL_DTYPE_I8;
        tl_threads_saved prev = tl_threads_enter(m->n_threads);
        for (size_t i = 0; s == TL_OK && i < n; i++) s = convert(&m->w, ls[i], dt);
        for (size_t i = 0; s == TL_OK && pack && i < n; i++)
            if (tl_linear_pack(ls[i], m->gemm)) tl_weights_forget(&m->w, ls[i]->w, 0, 0), ls[i]->w = NULL;
        tl_threads_leave(prev);
        if (s == TL_OK && guard && (s = tl_guard_forward(m, &got, &T)) == TL_OK) {
            float min_cos, max_rel;
            thresholds(p, cand, &min_cos, &max_rel);
            tl_guard_compare(ref, got, T, m->arch.hidden, &r.max_rel_error, &r.min_cosine);
            free(got);
            got = NULL;
            if (!(r.min_cosine >= min_cos) || !(r.max_rel_error <= max_rel)) {
                int cos_bad = !(r.min_cosine >= min_cos);
                snprintf(why, sizeof why, "precision %s failed the accuracy guard on %zu calibration tokens: "
                         "%s %.6f %s threshold %.6f (min cosine %.6f, max relative error %.6f)",
                         tl_precision_name(cand), T, cos_bad ? "min cosine" : "max relative error",
                         cos_bad ? r.min_cosine : r.max_rel_error, cos_bad ? "below the" : "above the",
                         cos_bad ? min_cos : max_rel, r.min_cosine, r.max_rel_error);
                restore(&m->w, ls, saved, n);
                if (want != TL_PRECISION_AUTO) s = tl_set_error(TL_ERR_UNSUPPORTED, "%s", why);
                continue;
            }
        }
        if (s != TL_OK) {
            restore(&m->w, ls, saved, n);
            break;
        }
        /* kept: the fp32 originals go (owned copies freed, mapped pages dropped) */
        for (size_t i = 0; i < n; i++)
            if (ls[i]->wtype != TL_DTYPE_F32)
                tl_weights_forget(&m->w, saved[i].w, saved[i].in * saved[i].out * sizeof(float), drop);
        m->accuracy = r;
        break;
    }
    free(ref);
    free(saved);
    free(ls);
    return s;
}

tl_status tl_model_accuracy(const tl_model *m, tl_accuracy_report *out) {
    if (!m || !out) return tl_set_error(TL_ERR_INVALID_ARG, "tl_model_accuracy: NULL argument");
    *out = m->accuracy;
    return TL_OK;
}
