/* quant.c — bf16 conversion, int8 quantization and dequantization, and the scalar
 * reference linear layers of the bf16 and int8 precisions (quant.h). The vector paths
 * are gated on tl_cpu_features() so they never run on a CPU without the instructions. */
#include "kernels/quant.h"
#include "kernels/linear.h"
#include "core/dtype.h"
#include "kernels/vec.h"
#include "runtime/threads.h"

#include <immintrin.h>
#include <math.h>
#include <omp.h>
#include <stdlib.h>

/* Elements below which the conversions stay on the calling thread. */
#define TL_QUANT_PARALLEL_MIN (1u << 16)

/* The threads a conversion of n elements may use: 1 inside a parallel region or when small. */
static int quant_threads(size_t n) {
    return omp_in_parallel() || n < TL_QUANT_PARALLEL_MIN ? 1 : tl_threads_get();
}

/* 1 when the CPU has f and $TORCHLESS_ISA leaves it usable. */
static int have(unsigned f) {
    return (tl_cpu_usable() & f) == f;
}

/* y[0..n) = bf16(x) with VCVTNEPS2BF16 (AVX512-BF16). */
__attribute__((target("avx512f,avx512bw,avx512vl,avx512bf16"))) static void bf16_avx512(const float *x, uint16_t *y,
                                                                       size_t n) {
    size_t i = 0;
    for (; i + 16 <= n; i += 16)
        _mm256_storeu_si256((__m256i *)(y + i), (__m256i)_mm512_cvtneps_pbh(_mm512_loadu_ps(x + i)));
    if (i < n) {
        __mmask16 k = (__mmask16)((1u << (n - i)) - 1);
        __m256i v = (__m256i)_mm512_cvtneps_pbh(_mm512_maskz_loadu_ps(k, x + i));
        _mm256_mask_storeu_epi16(y + i, k, v);
    }
}

void tl_bf16_from_f32(const float *x, uint16_t *y, size_t n) {
    const int fast = have(TL_CPU_AVX512 | TL_CPU_AVX512_BF16);
    /* (the AVX512 level implies BW and VL, vec.h) */
    const size_t chunk = 1u << 14, nch = (n + chunk - 1) / chunk;
#pragma omp parallel for num_threads(quant_threads(n)) schedule(static)
    for (size_t c = 0; c < nch; c++) {
        const size_t lo = c * chunk, len = n - lo < chunk ? n - lo : chunk;
        if (fast) bf16_avx512(x + lo, y + lo, len);
        else
            for (size_t i = lo; i < lo + len; i++) y[i] = tl_f32_to_bf16(x[i]);
    }
}

/* Weights: one row of n, symmetric: *scale = max|v| / 127, q = rint(v * (127 / max|v|))
 * with v = w[c] * smooth[c] (smooth NULL: w). */
static void quant_wrow(const float *w, const float *smooth, int8_t *q, float *scale, int32_t *sum, size_t n) {
    float amax = 0.0f;
    for (size_t i = 0; i < n; i++) amax = fmaxf(amax, fabsf(smooth ? w[i] * smooth[i] : w[i]));
    *sum = 0;
    if (!(amax > 0.0f) || !isfinite(amax)) { /* zero (or non-finite) row: all zeros */
        *scale = 0.0f;
        for (size_t i = 0; i < n; i++) q[i] = 0;
        return;
    }
    const float inv = 127.0f / amax;
    *scale = amax / 127.0f;
    int32_t acc = 0;
    for (size_t i = 0; i < n; i++) {
        float v = nearbyintf((smooth ? w[i] * smooth[i] : w[i]) * inv);
        q[i] = (int8_t)(v > 127.0f ? 127 : v < -127.0f ? -127 : (int)v);
        acc += q[i];
    }
    *sum = acc;
}

void tl_quantize_weights_s8(const float *w, const float *smooth, int8_t *q, float *scales,
                            int32_t *wsum, size_t OC, size_t C) {
#pragma omp parallel for num_threads(quant_threads(OC * C)) schedule(static)
    for (size_t o = 0; o < OC; o++) quant_wrow(w + o * C, smooth, q + o * C, &scales[o], &wsum[o], C);
}

/* The per-token parameters of a row whose smoothed range is [lo, hi] (lo <= 0 <= hi):
 * returns 0 (all-zero output) when the range is empty or not finite. */
static int row_params(float lo, float hi, float *scale, float *inv, float *zp) {
    if (!(hi - lo > 0.0f) || !isfinite(hi - lo)) return 0;
    *scale = (hi - lo) / 255.0f;
    *inv = 255.0f / (hi - lo);
    float z = nearbyintf(-lo * *inv);
    *zp = z < 0.0f ? 0.0f : z > 255.0f ? 255.0f : z;
    return 1;
}

/* Activations: one row of n, asymmetric u8 (quant.h's rule). */
static void quant_xrow_scalar(const float *x, const float *sinv, uint8_t *q, float *scale, int32_t *zp, size_t n) {
    float lo = 0.0f, hi = 0.0f, inv, z;
    for (size_t i = 0; i < n; i++) {
        float v = sinv ? x[i] * sinv[i] : x[i];
        lo = fminf(lo, v);
        hi = fmaxf(hi, v);
    }
    if (!row_params(lo, hi, scale, &inv, &z)) {
        *scale = 0.0f, *zp = 0;
        for (size_t i = 0; i < n; i++) q[i] = 0;
        return;
    }
    *zp = (int32_t)z;
    for (size_t i = 0; i < n; i++) {
        float v = nearbyintf((sinv ? x[i] * sinv[i] : x[i]) * inv) + z;
        q[i] = (uint8_t)(v > 255.0f ? 255 : v >= 0.0f ? (int)v : 0); /* nan: 0 */
    }
}

/* The same on AVX-512 (identical results: the same products, rounded to nearest even). */
__attribute__((target("avx512f,avx512bw,avx512dq,avx512vl"))) static void quant_xrow_avx512(
    const float *x, const float *sinv, uint8_t *q, float *scale, int32_t *zp, size_t n) {
    __m512 mn = _mm512_setzero_ps(), mx = _mm512_setzero_ps();
    const __m512 one = _mm512_set1_ps(1.0f);
    size_t i = 0;
    const __mmask16 k = (__mmask16)((1u << (n % 16)) - 1);
    for (; i + 16 <= n; i += 16) {
        __m512 v = _mm512_mul_ps(_mm512_loadu_ps(x + i), sinv ? _mm512_loadu_ps(sinv + i) : one);
        mn = _mm512_min_ps(mn, v), mx = _mm512_max_ps(mx, v);
    }
    if (i < n) {
        __m512 v = _mm512_mul_ps(_mm512_maskz_loadu_ps(k, x + i), sinv ? _mm512_maskz_loadu_ps(k, sinv + i) : one);
        mn = _mm512_min_ps(mn, v), mx = _mm512_max_ps(mx, v);
    }
    float lo = _mm512_reduce_min_ps(mn), hi = _mm512_reduce_max_ps(mx), inv, z;
    if (isnan(lo) || isnan(hi) || !row_params(lo, hi, scale, &inv, &z)) { /* nan / empty: the scalar rule */
        quant_xrow_scalar(x, sinv, q, scale, zp, n);
        return;
    }
    *zp = (int32_t)z;
    const __m512 vi = _mm512_set1_ps(inv), vz = _mm512_set1_ps(z), top = _mm512_set1_ps(255.0f),
                 zero = _mm512_setzero_ps();
    for (i = 0; i + 16 <= n; i += 16) {
        __m512 v = _mm512_mul_ps(_mm512_loadu_ps(x + i), sinv ? _mm512_loadu_ps(sinv + i) : one);
        v = _mm512_add_ps(_mm512_roundscale_ps(_mm512_mul_ps(v, vi), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC), vz);
        v = _mm512_min_ps(top, _mm512_max_ps(zero, v));
        _mm_storeu_si128((__m128i *)(q + i), _mm512_cvtusepi32_epi8(_mm512_cvtps_epu32(v)));
    }
    if (i < n) {
        __m512 v = _mm512_mul_ps(_mm512_maskz_loadu_ps(k, x + i), sinv ? _mm512_maskz_loadu_ps(k, sinv + i) : one);
        v = _mm512_add_ps(_mm512_roundscale_ps(_mm512_mul_ps(v, vi), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC), vz);
        v = _mm512_min_ps(top, _mm512_max_ps(zero, v));
        _mm_mask_storeu_epi8(q + i, k, _mm512_cvtusepi32_epi8(_mm512_cvtps_epu32(v)));
    }
}

void tl_quantize_rows_u8(const float *x, const float *smooth_inv, uint8_t *q, float *scales,
                         int32_t *zps, size_t T, size_t C) {
    const int fast = have(TL_CPU_AVX512);
#pragma omp parallel for num_threads(quant_threads(T * C)) schedule(static)
    for (size_t t = 0; t < T; t++) {
        if (fast) quant_xrow_avx512(x + t * C, smooth_inv, q + t * C, &scales[t], &zps[t], C);
        else quant_xrow_scalar(x + t * C, smooth_inv, q + t * C, &scales[t], &zps[t], C);
    }
}

void tl_dequant_rows_u8(const int32_t *acc, float *y, const float *xs, const int32_t *zps,
                        const float *ws, const int32_t *wsum, const float *b, size_t T, size_t OC) {
#pragma omp parallel for num_threads(quant_threads(T * OC)) schedule(static)
    for (size_t t = 0; t < T; t++) {
        const int32_t *a = acc + t * OC;
        float *r = y + t * OC;
        const float s = xs[t];
        const int32_t z = zps[t];
        for (size_t o = 0; o < OC; o++) {
            /* the zero point's share is exact in int32 (|z * wsum| <= 255 * 127 * C) */
            float v = (float)(a[o] - z * wsum[o]) * (s * ws[o]);
            r[o] = b ? v + b[o] : v;
        }
    }
}

void tl_linear_bf16_ref(const float *x, const uint16_t *w, const float *b, float *out, size_t T,
                        size_t C, size_t OC) {
    for (size_t t = 0; t < T; t++) {
        const float *xr = x + t * C;
        for (size_t o = 0; o < OC; o++) {
            const uint16_t *wr = w + o * C;
            double acc = 0.0;
            for (size_t c = 0; c < C; c++)
                acc += (double)tl_bf16_to_f32(tl_f32_to_bf16(xr[c])) * tl_bf16_to_f32(wr[c]);
            out[t * OC + o] = (float)acc + (b ? b[o] : 0.0f);
        }
    }
}

void tl_linear_s8_ref(const float *x, const tl_linear *L, float *out, size_t T) {
    const size_t C = L->in, OC = L->out;
    const int8_t *w = L->w;
    uint8_t stackq[4096], *q = C <= sizeof stackq ? stackq : malloc(C);
    int32_t *acc = malloc(OC * sizeof *acc);
    if (!q || !acc) {
        for (size_t i = 0; i < T * OC; i++) out[i] = 0.0f;
    } else
        for (size_t t = 0; t < T; t++) {
            float xs;
            int32_t zp;
            quant_xrow_scalar(x + t * C, L->smooth_inv, q, &xs, &zp, C);
            for (size_t o = 0; o < OC; o++) {
                const int8_t *wr = w + o * C;
                int32_t a = 0;
                for (size_t c = 0; c < C; c++) a += (int32_t)q[c] * wr[c];
                acc[o] = a;
            }
            tl_dequant_rows_u8(acc, out + t * OC, &xs, &zp, L->scales, L->wsum, L->b, 1, OC);
        }
    if (q != stackq) free(q);
    free(acc);
}
