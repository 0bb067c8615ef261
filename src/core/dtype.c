/* dtype.c — dtype sizes and names, and fp32 <-> f16 / bf16 conversions. */
#include "core/dtype.h"

#include <string.h>

static const struct {
    const char *name;
    tl_dtype dt;
    size_t size;
} k_dtypes[] = {
    {"F32", TL_DTYPE_F32, 4}, {"F16", TL_DTYPE_F16, 2}, {"BF16", TL_DTYPE_BF16, 2},
    {"F64", TL_DTYPE_F64, 8}, {"I64", TL_DTYPE_I64, 8}, {"I32", TL_DTYPE_I32, 4},
    {"I16", TL_DTYPE_I16, 2}, {"I8", TL_DTYPE_I8, 1},   {"U8", TL_DTYPE_U8, 1},
    {"BOOL", TL_DTYPE_BOOL, 1},
};
#define N_DTYPES (sizeof k_dtypes / sizeof k_dtypes[0])
_Static_assert(N_DTYPES == TL_DTYPE_COUNT, "TL_DTYPE_COUNT must count every tl_dtype");

size_t tl_dtype_size(tl_dtype dt) {
    for (size_t i = 0; i < N_DTYPES; i++)
        if (k_dtypes[i].dt == dt) return k_dtypes[i].size;
    return 0;
}

const char *tl_dtype_name(tl_dtype dt) {
    for (size_t i = 0; i < N_DTYPES; i++)
        if (k_dtypes[i].dt == dt) return k_dtypes[i].name;
    return "?";
}

int tl_dtype_parse(const char *s, tl_dtype *dt) {
    for (size_t i = 0; s && i < N_DTYPES; i++)
        if (strcmp(k_dtypes[i].name, s) == 0) {
            *dt = k_dtypes[i].dt;
            return 1;
        }
    return 0;
}

float tl_f16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h >> 15) << 31, exp = (h >> 10) & 0x1f, mant = h & 0x3ff, bits;
    if (exp == 0) {
        float f = (float)mant * 0x1p-24f; /* zero or subnormal */
        return sign ? -f : f;
    }
    if (exp == 31) bits = sign | 0x7f800000u | (mant << 13);
    else bits = sign | ((exp + 112) << 23) | (mant << 13);
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

uint16_t tl_f32_to_f16(float f) {
    uint32_t x;
    memcpy(&x, &f, sizeof x);
    const uint32_t sign = (x >> 16) & 0x8000u, ax = x & 0x7fffffffu;
    if (ax > 0x7f800000u) return (uint16_t)(sign | 0x7e00u | ((ax >> 13) & 0x3ffu)); /* nan */
    if (ax >= 0x477ff000u) return (uint16_t)(sign | 0x7c00u); /* rounds past 65504: inf */
    if (ax < 0x38800000u) { /* below the smallest normal half (2^-14): subnormal or zero */
        if (ax < 0x33000000u) return (uint16_t)sign; /* below half the smallest subnormal */
        const uint32_t e = ax >> 23, m = (ax & 0x7fffffu) | 0x800000u;
        const uint32_t shift = 126 - e; /* 14..24: value = m * 2^(e - 150), unit 2^-24 */
        uint32_t q = m >> shift, rem = m & ((1u << shift) - 1), half = 1u << (shift - 1);
        if (rem > half || (rem == half && (q & 1))) q++;
        return (uint16_t)(sign | q);
    }
    uint32_t r = ax + 0xfffu + ((ax >> 13) & 1); /* round the 13 dropped bits to even */
    return (uint16_t)(sign | ((r - 0x38000000u) >> 13));
}

uint16_t tl_f32_to_bf16(float f) {
    uint32_t x;
    memcpy(&x, &f, sizeof x);
    if ((x & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((x >> 16) | 0x40u); /* quiet nan */
    x += 0x7fffu + ((x >> 16) & 1);
    return (uint16_t)(x >> 16);
}

int tl_convert_to_f32(tl_dtype dt, const void *src, float *dst, size_t n) {
    const unsigned char *p = src;
    switch (dt) {
    case TL_DTYPE_F32:
        if (n) memcpy(dst, p, n * 4);
        return 1;
    case TL_DTYPE_F16:
        for (size_t i = 0; i < n; i++) {
            uint16_t h;
            memcpy(&h, p + 2 * i, 2);
            dst[i] = tl_f16_to_f32(h);
        }
        return 1;
    case TL_DTYPE_BF16:
        for (size_t i = 0; i < n; i++) {
            uint16_t h;
            memcpy(&h, p + 2 * i, 2);
            dst[i] = tl_bf16_to_f32(h);
        }
        return 1;
    case TL_DTYPE_F64:
        for (size_t i = 0; i < n; i++) {
            double d;
            memcpy(&d, p + 8 * i, 8);
            dst[i] = (float)d;
        }
        return 1;
    default:
        return 0;
    }
}

size_t tl_first_nonfinite(const float *x, size_t n) {
    const uint32_t *u = (const uint32_t *)(const void *)x;
    for (size_t b = 0; b < n; b += 4096) {
        size_t e = n - b < 4096 ? n : b + 4096;
        uint32_t bad = 0; /* an all-ones exponent is Inf or NaN */
        for (size_t i = b; i < e; i++) bad |= (uint32_t)((u[i] & 0x7f800000u) == 0x7f800000u);
        if (bad)
            for (size_t i = b; i < e; i++)
                if ((u[i] & 0x7f800000u) == 0x7f800000u) return i;
    }
    return n;
}
