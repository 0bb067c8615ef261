/* test_quant.c — the bf16 and int8 linear layers (kernels/quant.h, the dnnl backend's
 * bf16 / s8 paths, plain and packed) against their scalar references and against fp32,
 * on odd sizes (T = 1, 7, 129; widths not a multiple of 64). Tolerances, relative to the
 * largest |output|: dnnl vs its own-precision reference 1e-5 (same rounded inputs, only
 * the summation order differs); bf16 vs fp32 1e-2; int8 vs fp32 5e-2 (measured: bf16
 * 5e-3 / 6e-3 with GELU, int8 7e-3; relative to max(max |output|, 1)). */
#include "core/dtype.h"
#include "kernels/kernels.h"
#include "kernels/quant.h"
#include "kernels/vec.h"
#include "tl_test.h"

#include <stdint.h>

/* Fills x with uniform values in [-1, 1) from a fixed LCG seed. */
static void fill(float *x, size_t n, uint32_t seed) {
    for (size_t i = 0; i < n; i++) {
        seed = seed * 1664525u + 1013904223u;
        x[i] = (float)((seed >> 8) / 16777216.0 * 2.0 - 1.0);
    }
}

/* max |got - want| / max(max |want|, 1) over n values (the floor keeps a single small
 * output, e.g. GELU of a negative value with T = OC = 1, from dividing by ~0). */
static double rel_diff(const float *got, const float *want, size_t n) {
    double d = 0, m = 1.0;
    for (size_t i = 0; i < n; i++) {
        d = fmax(d, fabs((double)got[i] - want[i]));
        m = fmax(m, fabs((double)want[i]));
    }
    return d / m;
}

static const size_t Ts[] = {1, 7, 129}, Cs[] = {37, 200}, OCs[] = {1, 50, 130};

TL_TEST(bf16_conversion_matches_scalar) {
    size_t n = 1000 + 7;
    float *x = malloc(n * 4);
    uint16_t *y = malloc(n * 2);
    fill(x, n, 3);
    x[0] = 0.0f; x[1] = -0.0f; x[2] = 1e30f; x[3] = 3.0e38f; /* 3e38 rounds to inf */
    tl_bf16_from_f32(x, y, n);
    int same = 1;
    for (size_t i = 0; i < n; i++) same &= y[i] == tl_f32_to_bf16(x[i]);
    CHECK(same);
    free(x); free(y);
}

TL_TEST(quantize_rows_matches_scalar_rule) {
    /* quant.h's asymmetric u8 rule, written out here; smoothing on and off; widths with
     * and without a tail past the 16-float vectors; a zero row; an all-positive row */
    size_t T = 5, C = 37 + 64;
    float *x = malloc(T * C * 4), s[5], *sinv = malloc(C * 4);
    int32_t zp[5];
    uint8_t *q = malloc(T * C);
    fill(x, T * C, 4);
    fill(sinv, C, 5);
    for (size_t c = 0; c < C; c++) sinv[c] = 0.25f + fabsf(sinv[c]) * 4.0f;
    for (size_t c = 0; c < C; c++) x[1 * C + c] = 0.0f;            /* a zero row */
    for (size_t c = 0; c < C; c++) x[2 * C + c] = fabsf(x[2 * C + c]); /* zp 0 */
    for (int sm = 0; sm < 2; sm++) {
        const float *si = sm ? sinv : NULL;
        tl_quantize_rows_u8(x, si, q, s, zp, T, C);
        CHECK(s[1] == 0.0f && zp[1] == 0);
        CHECK(zp[2] == 0);
        int ok = 1;
        for (size_t t = 0; t < T; t++) {
            float lo = 0, hi = 0;
            for (size_t c = 0; c < C; c++) {
                float v = si ? x[t * C + c] * si[c] : x[t * C + c];
                lo = fminf(lo, v), hi = fmaxf(hi, v);
            }
            if (hi == lo) continue;
            const float inv = 255.0f / (hi - lo), z = nearbyintf(-lo * inv);
            ok &= s[t] == (hi - lo) / 255.0f && zp[t] == (int32_t)z;
            for (size_t c = 0; c < C; c++) {
                float v = nearbyintf((si ? x[t * C + c] * si[c] : x[t * C + c]) * inv) + z;
                ok &= q[t * C + c] == (uint8_t)(v > 255 ? 255 : v < 0 ? 0 : v);
            }
        }
        CHECK(ok);
    }
    free(x); free(q); free(sinv);
}

TL_TEST(quantized_weights_and_sums) {
    size_t OC = 3, C = 70;
    float *w = malloc(OC * C * 4), sc[3], sm[70];
    int8_t *q = malloc(OC * C);
    int32_t ws[3];
    fill(w, OC * C, 6);
    for (size_t c = 0; c < C; c++) sm[c] = 0.5f + (float)c / 10.0f, w[1 * C + c] = 0.0f;
    tl_quantize_weights_s8(w, sm, q, sc, ws, OC, C);
    CHECK(sc[1] == 0.0f && ws[1] == 0);
    for (size_t o = 0; o < OC; o += 2) {
        float amax = 0;
        int32_t sum = 0;
        int ok = 1;
        for (size_t c = 0; c < C; c++) amax = fmaxf(amax, fabsf(w[o * C + c] * sm[c]));
        for (size_t c = 0; c < C; c++) {
            ok &= q[o * C + c] == (int8_t)nearbyintf(w[o * C + c] * sm[c] * (127.0f / amax));
            sum += q[o * C + c];
        }
        CHECK(ok && sc[o] == amax / 127.0f && ws[o] == sum);
    }
    free(w); free(q);
}

/* Runs the lowp record (dtype dt, w converted from wf) on backend be, packed or not, and
 * checks it against the same-precision reference and fp32. */
static void check_lowp(tl_dtype dt, int pack, int act, double *worst_ref, double *worst_f32) {
    const tl_gemm_backend *be = &tl_gemm_dnnl;
    const unsigned u = tl_cpu_usable();
    const int native = dt == TL_DTYPE_BF16 ? (u & (TL_CPU_AVX512_BF16 | TL_CPU_AMX_BF16)) != 0
                                           : (u & (TL_CPU_AVX512_VNNI | TL_CPU_AVX_VNNI | TL_CPU_AMX_INT8)) != 0;
    for (size_t a = 0; a < 3; a++)
        for (size_t c = 0; c < 2; c++)
            for (size_t d = 0; d < 3; d++) {
                size_t T = Ts[a], C = Cs[c], OC = OCs[d];
                float *wf = malloc(OC * C * 4), *b = malloc(OC * 4), *x = malloc(T * C * 4);
                float *want = malloc(T * OC * 4), *f32 = malloc(T * OC * 4), *got = malloc(T * OC * 4);
                float *sc = malloc(OC * 4), *sm = malloc(C * 4), *sinv = malloc(C * 4);
                int32_t *ws = malloc(OC * 4);
                void *wq = malloc(OC * C * 2);
                fill(wf, OC * C, 11); fill(b, OC, 12); fill(x, T * C, 13);
                tl_linear L = {.in = C, .out = OC, .wtype = dt, .w = wq, .b = b};
                if (dt == TL_DTYPE_BF16) {
                    for (size_t i = 0; i < OC * C; i++) ((uint16_t *)wq)[i] = tl_f32_to_bf16(wf[i]);
                    tl_linear_bf16_ref(x, wq, b, want, T, C, OC);
                } else {
                    /* smoothing on the wider inputs: x / s and w * s cancel in the product */
                    for (size_t i = 0; i < C; i++) sm[i] = 0.5f + (float)(i % 7) * 0.3f, sinv[i] = 1.0f / sm[i];
                    tl_quantize_weights_s8(wf, C > 100 ? sm : NULL, wq, sc, ws, OC, C);
                    L.scales = sc;
                    L.wsum = ws;
                    L.smooth_inv = C > 100 ? sinv : NULL;
                    tl_linear_s8_ref(x, &L, want, T);
                }
                tl_linear_ref(x, wf, b, f32, T, C, OC);
                if (act >= 0) {
                    tl_activation_apply(want, T * OC, (tl_activation)act);
                    tl_activation_apply(f32, T * OC, (tl_activation)act);
                }
                /* oneDNN packs wherever the precision is native on AVX-512 (on AVX-VNNI its
                 * int8 gemm:jit prefers the plain layout) */
                if (pack) CHECK(tl_linear_pack(&L, be) == 1 || !native || !(u & TL_CPU_AVX512));
                if (pack && L.pk) L.w = NULL; /* run from the packed form alone */
                tl_gemm g = {be, tl_gemm_state_new(be)};
                for (int rep = 0; rep < 2; rep++) { /* second run: the cached primitive */
                    fill(got, T * OC, 99);
                    tl_linear_forward(&g, &L, x, got, T, act < 0 ? TL_LINEAR_NO_ACT : act);
                    *worst_ref = fmax(*worst_ref, rel_diff(got, want, T * OC));
                    *worst_f32 = fmax(*worst_f32, rel_diff(got, f32, T * OC));
                }
                /* the scalar backend runs the same record (its plain form) as its oracle */
                if (L.w) {
                    tl_gemm r = {&tl_gemm_ref, NULL};
                    tl_linear_forward(&r, &L, x, got, T, act < 0 ? TL_LINEAR_NO_ACT : act);
                    CHECK(rel_diff(got, want, T * OC) < 1e-6);
                }
                tl_gemm_state_free(g.st);
                tl_packed_free(L.pk);
                free(wf); free(b); free(x); free(want); free(f32); free(got); free(sc); free(wq); free(sm); free(sinv); free(ws);
            }
}

TL_TEST(bf16_linear_matches_reference) {
    for (int pack = 0; pack < 2; pack++)
        for (int act = -1; act <= (int)TL_ACT_GELU; act += 1 + (int)TL_ACT_GELU) {
            double r = 0, f = 0;
            check_lowp(TL_DTYPE_BF16, pack, act, &r, &f);
            printf("  bf16 %s act %d: rel diff to bf16 ref %.2e, to fp32 %.2e\n", pack ? "packed" : "plain", act, r, f);
            CHECK(r < 1e-5);
            CHECK(f < 1e-2);
        }
}

TL_TEST(int8_linear_matches_reference) {
    for (int pack = 0; pack < 2; pack++)
        for (int act = -1; act <= (int)TL_ACT_GELU; act += 1 + (int)TL_ACT_GELU) {
            double r = 0, f = 0;
            check_lowp(TL_DTYPE_I8, pack, act, &r, &f);
            printf("  int8 %s act %d: rel diff to int8 ref %.2e, to fp32 %.2e\n", pack ? "packed" : "plain", act, r, f);
            CHECK(r < 1e-5);
            CHECK(f < 5e-2);
        }
}
