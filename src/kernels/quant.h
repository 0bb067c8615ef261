/* quant.h — the reduced-precision pieces of a linear layer: fp32 -> bf16 rows, symmetric
 * int8 quantization (per output channel for weights, per token for activations), the
 * int8 epilogue, and scalar reference linear layers for bf16 and int8 weights (the
 * oracles the oneDNN paths are tested against, and their fallbacks). */
#ifndef TL_KERNELS_QUANT_H
#define TL_KERNELS_QUANT_H
#include <stddef.h>
#include <stdint.h>

/* y (n) = bf16(x), round to nearest even (VCVTNEPS2BF16 when the CPU has AVX512-BF16,
 * else the scalar tl_f32_to_bf16; the two agree except on nan payloads and subnormals,
 * which the instruction flushes to zero). Parallel over the caller's threads when large. */
void tl_bf16_from_f32(const float *x, uint16_t *y, size_t n);

/* Weights w (OC, C) -> q (OC, C) s8 and scales (OC): per output channel symmetric,
 * scale = max|w| / 127 (a zero row: scale 0, q 0), q = rint(w / scale) in [-127, 127]. */
void tl_quantize_weights_s8(const float *w, int8_t *q, float *scales, size_t OC, size_t C);

/* Activations x (T, C) -> q (T, C) s8 and scales (T), per token, the same rule as the
 * weights; the vector path (AVX-512) and the scalar one give identical results. */
void tl_quantize_rows_s8(const float *x, int8_t *q, float *scales, size_t T, size_t C);

/* y (T, OC) <- y * xs[t] * ws[o] + b[o] in place (b may be NULL): int8's dequantization
 * after the integer product y = q_x @ q_w^T (exact in fp32 up to 2^24). */
void tl_dequant_rows(float *y, const float *xs, const float *ws, const float *b, size_t T,
                     size_t OC);

/* out (T, OC) = bf16(x) @ w^T + b, w (OC, C) bf16, double accumulation. */
void tl_linear_bf16_ref(const float *x, const uint16_t *w, const float *b, float *out, size_t T,
                        size_t C, size_t OC);

/* out (T, OC) = dequant(quant(x) @ w^T) + b, w (OC, C) s8 with per-channel scales ws:
 * exact integer products, then tl_dequant_rows. Allocates scratch; on OOM it quantizes
 * one row at a time on the stack-free path (never fails). */
void tl_linear_s8_ref(const float *x, const int8_t *w, const float *ws, const float *b,
                      float *out, size_t T, size_t C, size_t OC);

#endif
