/* dtype.h — the element types of tensors and weights, their sizes and names, and the
 * conversions between fp32 and the 16-bit float formats (IEEE half, bfloat16). */
#ifndef TL_CORE_DTYPE_H
#define TL_CORE_DTYPE_H
#include <stddef.h>
#include <stdint.h>

typedef enum tl_dtype {
    TL_DTYPE_F32, TL_DTYPE_F16, TL_DTYPE_BF16, TL_DTYPE_F64,
    TL_DTYPE_I64, TL_DTYPE_I32, TL_DTYPE_I16, TL_DTYPE_I8, TL_DTYPE_U8, TL_DTYPE_BOOL
} tl_dtype;

/* Number of tl_dtype values (a bitmask of 1u << dtype fits an unsigned). */
#define TL_DTYPE_COUNT 10

/* The bit of dt in a dtype mask (e.g. a GEMM backend's set of weight dtypes). */
#define TL_DTYPE_BIT(dt) (1u << (unsigned)(dt))

/* Size in bytes of one element; 0 for an invalid value. */
size_t tl_dtype_size(tl_dtype dt);
/* Static name of a dtype as safetensors spells it ("F32", "BF16", ...); "?" when invalid. */
const char *tl_dtype_name(tl_dtype dt);
/* Parses such a name into *dt; returns 0 (leaving *dt) when unknown. */
int tl_dtype_parse(const char *name, tl_dtype *dt);

/* Index of the first NaN or +-Inf among x[0..n), or n when all are finite. Reads x in
 * blocks with a branch-free test the compiler vectorizes (about memory bandwidth). */
size_t tl_first_nonfinite(const float *x, size_t n);

/* IEEE 754 half -> float, exact for every value (subnormals, inf, nan). */
float tl_f16_to_f32(uint16_t h);
/* float -> IEEE half, rounded to nearest even; overflow gives inf, nan stays a (quiet) nan. */
uint16_t tl_f32_to_f16(float f);
/* bfloat16 -> float (exact: the high 16 bits of a float). */
static inline float tl_bf16_to_f32(uint16_t h) {
    union { uint32_t u; float f; } v = {.u = (uint32_t)h << 16};
    return v.f;
}
/* float -> bfloat16, rounded to nearest even (as torch's .to(torch.bfloat16)); nan stays
 * a quiet nan. */
uint16_t tl_f32_to_bf16(float f);

/* Converts n elements of dtype dt (F32, F16, BF16 or F64; src may be unaligned) to fp32
 * in dst; returns 0 for any other dtype (dst untouched). */
int tl_convert_to_f32(tl_dtype dt, const void *src, float *dst, size_t n);

#endif
