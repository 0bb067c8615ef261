/* gemm_small.c — linear layers over few tokens (T <= TL_SMALL_M_MAX) on weights packed in
 * 64-column panels (TL_PACK_PANEL64, the layout the dnnl backend's pack usually gets from
 * oneDNN), with this project's AVX-512 kernel instead of oneDNN's matmul. It is the
 * linear_panel64 entry of the AVX-512 vector-kernel table (vec.h); tl_linear_forward runs
 * it when that table is in use.
 *
 * Why: with few tokens a GEMM does at most 32 FLOP per weight byte, and in a forward the
 * weights come from memory (a BERT-base forward reads 340 MB of them). On those shapes
 * oneDNN's brgemm streamed them more slowly than this simple kernel does. 2 threads, Zen 4,
 * weights rotated over 40 packed copies so that they come from DRAM, x (M, 768) @ W
 * (768, 2304), GFLOP/s oneDNN / here: M=1 10.9 / 13.6, M=4 48 / 60, M=8 82 / 112,
 * M=16 131-158 / 145-167, M=32 163 / 181, M=64 199 / 205; with one cached copy both ran
 * 211-217 at M=16. Software prefetch 8-256 rows ahead made it slower. Whole forwards,
 * interleaved, 100 ms pauses: all-MiniLM-L6-v2 1 x 16 3.19-3.69 ms vs 3.32-4.09 with
 * oneDNN; BERT-base 1 x 16 18.8-20.2 vs 20.1-20.2.
 *
 * Layout: on the CPUs seen so far oneDNN prefers BA16a64b: panels of 64 output columns
 * one after another, each the C rows in blocks of 16 x 64, so row k of panel p is the 64
 * floats at p * panel + k * 64. Any other layout is left to oneDNN.
 *
 * Kernel: per panel, token rows in groups of up to 6; 6 x 4 zmm accumulators; each weight
 * row (4 zmm) is loaded once per group and x is broadcast. The panel (C x 256 bytes) stays
 * in L2 for the later groups, so the weights stream from memory once. */
#include "kernels/kernels.h"
#include "kernels/vec.h"
#include "runtime/threads.h"

#include <immintrin.h>
#include <omp.h>
#include <string.h>

#define PANEL 64 /* output columns per packed panel */
#define ROWS 6   /* token rows per register tile */
/* T * C * OC below this runs on the calling thread */
#define TL_SMALL_PARALLEL_MIN (1u << 20)

/* tile (R, 64) = x (R rows, ldx apart) @ panel (K, 64), R <= ROWS. */
__attribute__((target("avx512f"), always_inline)) static inline void
panel_tile(const float *x, size_t ldx, const float *pw, size_t K, int R, float *tile) {
    __m512 acc[ROWS][4];
    for (int r = 0; r < ROWS; r++)
        for (int j = 0; j < 4; j++) acc[r][j] = _mm512_setzero_ps();
    for (size_t k = 0; k < K; k++) {
        const float *w = pw + k * PANEL;
        __m512 w0 = _mm512_load_ps(w), w1 = _mm512_load_ps(w + 16);
        __m512 w2 = _mm512_load_ps(w + 32), w3 = _mm512_load_ps(w + 48);
        for (int r = 0; r < R; r++) {
            __m512 xv = _mm512_set1_ps(x[(size_t)r * ldx + k]);
            acc[r][0] = _mm512_fmadd_ps(xv, w0, acc[r][0]);
            acc[r][1] = _mm512_fmadd_ps(xv, w1, acc[r][1]);
            acc[r][2] = _mm512_fmadd_ps(xv, w2, acc[r][2]);
            acc[r][3] = _mm512_fmadd_ps(xv, w3, acc[r][3]);
        }
    }
    for (int r = 0; r < R; r++)
        for (int j = 0; j < 4; j++) _mm512_store_ps(tile + r * PANEL + j * 16, acc[r][j]);
}

/* One panel_tile per row count, so that R is a constant and the tile stays in registers. */
typedef void (*tile_fn)(const float *x, size_t ldx, const float *pw, size_t K, float *tile);
#define TILE_FN(R)                                                                              \
    __attribute__((target("avx512f"))) static void tile_##R(const float *x, size_t ldx,        \
                                                            const float *pw, size_t K,         \
                                                            float *tile) {                     \
        panel_tile(x, ldx, pw, K, R, tile);                                                     \
    }
TILE_FN(1)
TILE_FN(2)
TILE_FN(3)
TILE_FN(4)
TILE_FN(5)
TILE_FN(6)
static const tile_fn tiles[ROWS + 1] = {NULL, tile_1, tile_2, tile_3, tile_4, tile_5, tile_6};

void tl_linear_panel64_avx512(const float *x, const tl_packed *pk, const float *b, float *out,
                              size_t T) {
    const size_t panel = pk->panel;
    const size_t K = pk->C, N = pk->OC, n_panels = (N + PANEL - 1) / PANEL;
    const float *W = pk->data;
    const int nt = omp_in_parallel() ? 1 : tl_threads_get();
/* panels handed out one at a time: a thread the OS preempts (a shared machine) holds
     * back no fixed share, and a panel (C x 256 bytes) dwarfs the hand-out's cost */
#pragma omp parallel for num_threads(nt) schedule(dynamic, 1) \
    if (nt > 1 && n_panels > 1 && T * K * N >= TL_SMALL_PARALLEL_MIN)
    for (size_t p = 0; p < n_panels; p++) {
        float tile[ROWS * PANEL] __attribute__((aligned(64)));
        const size_t n0 = p * PANEL, cols = N - n0 < PANEL ? N - n0 : PANEL;
        for (size_t r0 = 0; r0 < T; r0 += ROWS) {
            const size_t R = T - r0 < ROWS ? T - r0 : ROWS;
            tiles[R](x + r0 * K, K, W + p * panel, K, tile);
            for (size_t r = 0; r < R; r++) {
                float *o = out + (r0 + r) * N + n0;
                const float *t = tile + r * PANEL;
                if (b)
                    for (size_t c = 0; c < cols; c++) o[c] = t[c] + b[n0 + c];
                else
                    memcpy(o, t, cols * sizeof(float));
            }
        }
    }
}
