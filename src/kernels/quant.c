/* quant.c — bf16 conversion, int8 quantization and dequantization, and the scalar
 * reference linear layers of the bf16 and int8 precisions (quant.h). The vector paths
 * are gated on tl_cpu_features() so they never run on a CPU without the instructions. */
#include "kernels/quant.h"
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

/* 1 when the AVX-512 level is in use (TORCHLESS_ISA may cap it) and the CPU has f. */
static int have(unsigned f) {
    return tl_vec()->level >= TL_ISA_AVX512 && (tl_cpu_features() & f) == f;
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

/* Quantizes one row of n: *scale = max|x| / 127, q = rint(x * (127 / max|x|)). */
static void quant_row_scalar(const float *x, int8_t *q, float *scale, size_t n) {
    float amax = 0.0f;
    for (size_t i = 0; i < n; i++) amax = fmaxf(amax, fabsf(x[i]));
    if (!(amax > 0.0f) || !isfinite(amax)) { /* zero (or non-finite) row: all zeros */
        *scale = 0.0f;
        for (size_t i = 0; i < n; i++) q[i] = 0;
        return;
    }
    const float inv = 127.0f / amax;
    *scale = amax / 127.0f;
    for (size_t i = 0; i < n; i++) {
        float v = nearbyintf(x[i] * inv);
        q[i] = (int8_t)(v > 127.0f ? 127 : v < -127.0f ? -127 : (int)v);
    }
}

/* The same on AVX-512 (identical results: the same products, rounded to nearest even). */
__attribute__((target("avx512f,avx512bw,avx512dq,avx512vl"))) static void quant_row_avx512(const float *x, int8_t *q,
                                                                        float *scale, size_t n) {
    const __m512 sign = _mm512_set1_ps(-0.0f);
    __m512 m = _mm512_setzero_ps();
    size_t i = 0;
    for (; i + 16 <= n; i += 16) m = _mm512_max_ps(m, _mm512_andnot_ps(sign, _mm512_loadu_ps(x + i)));
    __mmask16 k = (__mmask16)((1u << (n - i)) - 1);
    if (i < n) m = _mm512_max_ps(m, _mm512_andnot_ps(sign, _mm512_maskz_loadu_ps(k, x + i)));
    float amax = _mm512_reduce_max_ps(m);
    if (!(amax > 0.0f) || !isfinite(amax)) {
        quant_row_scalar(x, q, scale, n);
        return;
    }
    const float inv = 127.0f / amax;
    *scale = amax / 127.0f;
    const __m512 vi = _mm512_set1_ps(inv), hi = _mm512_set1_ps(127.0f), lo = _mm512_set1_ps(-127.0f);
    for (i = 0; i + 16 <= n; i += 16) {
        __m512 v = _mm512_min_ps(hi, _mm512_max_ps(lo, _mm512_mul_ps(_mm512_loadu_ps(x + i), vi)));
        _mm_storeu_si128((__m128i *)(q + i), _mm512_cvtepi32_epi8(_mm512_cvtps_epi32(v)));
    }
    if (i < n) {
        __m512 v = _mm512_min_ps(hi, _mm512_max_ps(lo, _mm512_mul_ps(_mm512_maskz_loadu_ps(k, x + i), vi)));
        _mm_mask_storeu_epi8(q + i, k, _mm512_cvtepi32_epi8(_mm512_cvtps_epi32(v)));
    }
}

void tl_quantize_rows_s8(const float *x, int8_t *q, float *scales, size_t T, size_t C) {
    const int fast = have(TL_CPU_AVX512);
#pragma omp parallel for num_threads(quant_threads(T * C)) schedule(static)
    for (size_t t = 0; t < T; t++) {
        if (fast) quant_row_avx512(x + t * C, q + t * C, &scales[t], C);
        else quant_row_scalar(x + t * C, q + t * C, &scales[t], C);
    }
}

void tl_quantize_weights_s8(const float *w, int8_t *q, float *scales, size_t OC, size_t C) {
#pragma omp parallel for num_threads(quant_threads(OC * C)) schedule(static)
    for (size_t o = 0; o < OC; o++) quant_row_scalar(w + o * C, q + o * C, &scales[o], C);
}

void tl_dequant_rows(float *y, const float *xs, const float *ws, const float *b, size_t T,
                     size_t OC) {
#pragma omp parallel for num_threads(quant_threads(T * OC)) schedule(static)
    for (size_t t = 0; t < T; t++) {
        float *r = y + t * OC;
        const float s = xs[t];
        if (b)
            for (size_t o = 0; o < OC; o++) r[o] = r[o] * (s * ws[o]) + b[o];
        else
            for (size_t o = 0; o < OC; o++) r[o] = r[o] * (s * ws[o]);
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

void tl_linear_s8_ref(const float *x, const int8_t *w, const float *ws, const float *b,
                      float *out, size_t T, size_t C, size_t OC) {
    int8_t *q = malloc(C ? C : 1);
    for (size_t t = 0; t < T; t++) {
        float xs;
        const float *xr = x + t * C;
        float *yr = out + t * OC;
        if (q) quant_row_scalar(xr, q, &xs, C);
        for (size_t o = 0; o < OC; o++) {
            const int8_t *wr = w + o * C;
            int64_t acc = 0;
            if (q)
                for (size_t c = 0; c < C; c++) acc += (int32_t)q[c] * wr[c];
            else { /* no memory for the row: quantize each element on the fly */
                float amax = 0.0f;
                for (size_t c = 0; c < C; c++) amax = fmaxf(amax, fabsf(xr[c]));
                const float inv = amax > 0.0f && isfinite(amax) ? 127.0f / amax : 0.0f;
                xs = inv > 0.0f ? amax / 127.0f : 0.0f;
                for (size_t c = 0; c < C; c++) {
                    float v = inv > 0.0f ? nearbyintf(xr[c] * inv) : 0.0f;
                    acc += (int32_t)(v > 127.0f ? 127 : v < -127.0f ? -127 : (int)v) * wr[c];
                }
            }
            yr[o] = (float)acc;
        }
        tl_dequant_rows(yr, &xs, ws, b, 1, OC);
    }
    free(q);
}
