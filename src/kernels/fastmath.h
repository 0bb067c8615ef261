/* fastmath.h — float approximations of exp and erf for kernels: a scalar form and a
 * 16-lane form written with GCC vector extensions (lowered to AVX-512, AVX2 or SSE by
 * the caller's target), since glibc's expf/erff are scalar calls and GCC does not
 * vectorize the scalar forms. Accuracy is tested against libm in tests/c/test_kernels.c. */
#ifndef TL_KERNELS_FASTMATH_H
#define TL_KERNELS_FASTMATH_H
#include <math.h>
#include <stdint.h>
#include <string.h>

/* The 16-lane helpers are always inlined into ISA-specific callers; passing vectors by
 * value between them never crosses an ABI boundary. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wpsabi"

typedef float tl_v16f __attribute__((vector_size(64)));
typedef int32_t tl_v16i __attribute__((vector_size(64)));

#define TL_EXP_LO (-87.0f)
#define TL_LOG2E 1.44269504088896341f
#define TL_LN2_HI 0.693359375f
#define TL_LN2_LO (-2.12194440e-4f)

/* Polynomial for exp(r), |r| <= ln2/2 (Cephes expf coefficients); works on floats and
 * on tl_v16f alike. */
#define TL_EXP_POLY(r)                                                                    \
    ((((((1.9875691500e-4f * (r) + 1.3981999507e-3f) * (r) + 8.3334519073e-3f) * (r) +    \
        4.1665795894e-2f) * (r) + 1.6666665459e-1f) * (r) + 5.0000001201e-1f) * (r) * (r) + \
     (r) + 1.0f)

/* exp(x) for x <= 0 (softmax inputs after subtracting the max), relative error below
 * 3e-7; returns 0 below -87 (and for -inf). */
static inline float tl_exp_nonpos(float x) {
    if (!(x >= TL_EXP_LO)) return 0.0f;
    int n = (int)(x * TL_LOG2E - 0.5f); /* x*log2e - 0.5 <= -0.5: truncation rounds */
    float fn = (float)n, r = x - fn * TL_LN2_HI - fn * TL_LN2_LO;
    int32_t bits = (n + 127) * (1 << 23);
    float scale;
    memcpy(&scale, &bits, sizeof scale);
    return TL_EXP_POLY(r) * scale;
}

/* 16-lane tl_exp_nonpos. */
static inline __attribute__((always_inline)) tl_v16f tl_exp_nonpos_v16(tl_v16f x) {
    const tl_v16f lo = (tl_v16f){0} + TL_EXP_LO;
    tl_v16i keep = x >= lo; /* all-ones where x is in range (false for NaN, -inf) */
    tl_v16f xc = (tl_v16f)(((tl_v16i)x & keep) | ((tl_v16i)lo & ~keep));
    tl_v16i n = __builtin_convertvector(xc * TL_LOG2E - 0.5f, tl_v16i);
    tl_v16f fn = __builtin_convertvector(n, tl_v16f);
    tl_v16f r = xc - fn * TL_LN2_HI - fn * TL_LN2_LO;
    tl_v16f scale = (tl_v16f)((n + 127) << 23);
    return (tl_v16f)((tl_v16i)(TL_EXP_POLY(r) * scale) & keep);
}

/* erf(x) for finite x, absolute error below 1e-6 (Abramowitz & Stegun 7.1.26 form). */
static inline float tl_erf(float x) {
    float ax = fabsf(x), t = 1.0f / (1.0f + 0.3275911f * ax);
    float poly = t * (0.254829592f + t * (-0.284496736f + t * (1.421413741f +
                 t * (-1.453152027f + t * 1.061405429f))));
    return copysignf(1.0f - poly * tl_exp_nonpos(-ax * ax), x);
}

/* 16-lane tl_erf. */
static inline __attribute__((always_inline)) tl_v16f tl_erf_v16(tl_v16f x) {
    const tl_v16i sign = (tl_v16i){0} + (int32_t)0x80000000u;
    tl_v16f ax = (tl_v16f)((tl_v16i)x & ~sign);
    tl_v16f t = 1.0f / (1.0f + 0.3275911f * ax);
    tl_v16f poly = t * (0.254829592f + t * (-0.284496736f + t * (1.421413741f +
                   t * (-1.453152027f + t * 1.061405429f))));
    tl_v16f y = 1.0f - poly * tl_exp_nonpos_v16(-ax * ax);
    return (tl_v16f)((tl_v16i)y | ((tl_v16i)x & sign));
}

/* Loads 16 floats from any address. */
static inline __attribute__((always_inline)) tl_v16f tl_v16_load(const float *p) {
    tl_v16f v;
    memcpy(&v, p, sizeof v);
    return v;
}

/* Stores 16 floats to any address. */
static inline __attribute__((always_inline)) void tl_v16_store(float *p, tl_v16f v) { memcpy(p, &v, sizeof v); }

#pragma GCC diagnostic pop
#endif
