/* quant.h — the reduced-precision pieces of a linear layer: fp32 -> bf16 rows, int8
 * quantization (weights per output channel, symmetric s8; activations per token,
 * asymmetric u8, both after optional per-channel smoothing), the int8 epilogue, and scalar reference linear layers for bf16 and int8 weights (the
 * oracles the oneDNN paths are tested against, and their fallbacks). */
#ifndef TL_KERNELS_QUANT_H
#define TL_KERNELS_QUANT_H
#include <stddef.h>
#include <stdint.h>

/* y (n) = bf16(x), round to nearest even (VCVTNEPS2BF16 when the CPU has AVX512-BF16,
 * else the scalar tl_f32_to_bf16; the two agree except on nan payloads and subnormals,
 * which the instruction flushes to zero). Parallel over the caller's threads when large. */
void tl_bf16_from_f32(const float *x, uint16_t *y, size_t n);

/* Weights w (OC, C) -> q (OC, C) s8, scales (OC) and wsum (OC): w[o, c] * smooth[c]
 * (smooth may be NULL: 1) per output channel symmetric, scale = max|.| / 127 (a zero row:
 * scale 0, q 0), q = rint(. / scale) in [-127, 127]; wsum[o] = sum_c q[o, c]. */
void tl_quantize_weights_s8(const float *w, const float *smooth, int8_t *q, float *scales,
                            int32_t *wsum, size_t OC, size_t C);

/* Activations x (T, C) -> q (T, C) u8, scales (T) and zero points zps (T), per token,
 * asymmetric over v = x[t, c] * smooth_inv[c] (smooth_inv may be NULL: 1): lo = min(v, 0),
 * hi = max(v, 0), scale = (hi - lo) / 255, zp = rint(-lo / scale), q = clamp(rint(v /
 * scale) + zp, 0, 255) (an all-zero or non-finite row: scale 0, zp 0, q 0). The AVX-512
 * path and the scalar one give identical results on finite inputs. */
void tl_quantize_rows_u8(const float *x, const float *smooth_inv, uint8_t *q, float *scales,
                         int32_t *zps, size_t T, size_t C);

/* y (T, OC) = (acc - zps[t] * wsum[o]) * xs[t] * ws[o] + b[o] (b may be NULL): int8's
 * dequantization of the exact integer product acc = q_x @ q_w^T; acc may be y itself
 * (read as int32 and overwritten as float in place). */
void tl_dequant_rows_u8(const int32_t *acc, float *y, const float *xs, const int32_t *zps,
                        const float *ws, const int32_t *wsum, const float *b, size_t T, size_t OC);

/* out (T, OC) = bf16(x) @ w^T + b, w (OC, C) bf16, double accumulation. */
void tl_linear_bf16_ref(const float *x, const uint16_t *w, const float *b, float *out, size_t T,
                        size_t C, size_t OC);

/* out (T, OC) for an int8 record L with plain s8 weights L->w (tl_linear's rule): exact
 * integer products on the quantized x, then tl_dequant_rows_u8. Quantizes one row at a
 * time into a stack buffer for C <= 4096, else a malloc'd one (OOM: out is zeros). */
struct tl_linear;
void tl_linear_s8_ref(const float *x, const struct tl_linear *L, float *out, size_t T);

#endif
