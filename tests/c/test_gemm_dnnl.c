/* test_gemm_dnnl.c — the oneDNN GEMM backend ("dnnl", reached through tl_gemm_select as
 * the encoder reaches it) against the scalar reference on random odd-sized inputs. */
#include "core/error.h"
#include "kernels/gemm_dnnl_int.h"
#include "kernels/kernels.h"
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

/* Returns the backend TORCHLESS_GEMM=name selects, or NULL. */
static const tl_gemm_backend *backend(const char *name) {
    setenv("TORCHLESS_GEMM", name, 1);
    const tl_gemm_backend *be = tl_gemm_select();
    unsetenv("TORCHLESS_GEMM");
    return be;
}

/* y = x @ w^T + b on backend be with a fresh state (plain weights, no activation). */
static void linear_plain(const tl_gemm_backend *be, const float *x, const float *w, const float *b,
                         float *y, size_t T, size_t C, size_t OC) {
    tl_gemm g = {be, tl_gemm_state_new(be)};
    tl_linear L = {.in = C, .out = OC, .wtype = TL_DTYPE_F32, .w = w, .b = b};
    tl_linear_forward(&g, &L, x, y, T, TL_LINEAR_NO_ACT);
    tl_gemm_state_free(g.st);
}

/* y = act(x @ W^T + b) on g with packed pk when set, else plain w. */
static void linear_run(const tl_gemm *g, const float *x, const float *w, tl_packed *pk, const float *b,
                       float *y, size_t T, size_t C, size_t OC, int act) {
    tl_linear L = {.in = C, .out = OC, .wtype = TL_DTYPE_F32, .w = w, .pk = pk, .b = b};
    tl_linear_forward(g, &L, x, y, T, act);
}

/* Returns max |got - want - (bias ? 0 : b)| over a (T, OC) output. */
static double worst_diff(const float *got, const float *want, const float *b, size_t T, size_t OC) {
    double worst = 0;
    for (size_t i = 0; i < T * OC; i++)
        worst = fmax(worst, fabs((double)got[i] - (want[i] - (b ? b[i % OC] : 0.0f))));
    return worst;
}

TL_TEST(gemm_dnnl_selectable) {
    const tl_gemm_backend *be = backend("dnnl");
    CHECK(be != NULL);
    CHECK(be && strcmp(be->name, "dnnl") == 0);
    CHECK(backend("mkl") == NULL);
    CHECK_CONTAINS(tl_last_error(), "dnnl");
}

TL_TEST(gemm_dnnl_matches_ref_on_odd_sizes) {
    const tl_gemm_backend *be = backend("dnnl");
    CHECK(be != NULL);
    if (!be) return;
    const size_t Ts[] = {1, 7, 129}, Cs[] = {1, 37, 200}, OCs[] = {1, 13, 301};
    tl_gemm g = {be, tl_gemm_state_new(be)};
    CHECK(g.st != NULL);
    for (int rep = 0; rep < 2; rep++) /* the second pass runs on cached primitives */
        for (size_t a = 0; a < 3; a++)
            for (size_t c = 0; c < 3; c++)
                for (size_t d = 0; d < 3; d++) {
                    size_t T = Ts[a], C = Cs[c], OC = OCs[d];
                    float *x = malloc(T * C * 4), *w = malloc(OC * C * 4), *bias = malloc(OC * 4);
                    float *want = malloc(T * OC * 4), *got = malloc(T * OC * 4);
                    fill(x, T * C, 11 + (uint32_t)rep); fill(w, OC * C, 12); fill(bias, OC, 13);
                    tl_linear_ref(x, w, bias, want, T, C, OC);
                    linear_run(&g, x, w, NULL, bias, got, T, C, OC, TL_LINEAR_NO_ACT);
                    CHECK_NEAR(worst_diff(got, want, NULL, T, OC), 0.0, 1e-4);
                    fill(got, T * OC, 99); /* stale output must be overwritten, not added to */
                    linear_plain(be, x, w, NULL, got, T, C, OC);
                    CHECK_NEAR(worst_diff(got, want, bias, T, OC), 0.0, 1e-4);
                    free(x); free(w); free(bias); free(want); free(got);
                }
    tl_gemm_state_free(g.st);
}

TL_TEST(gemm_dnnl_many_shapes_stay_correct_past_the_cache_bound) {
    const tl_gemm_backend *be = backend("dnnl");
    if (!be) { CHECK(be != NULL); return; }
    /* more distinct shapes than the cache holds, then the first again (evicted, rebuilt) */
    const size_t C = 19, OC = 23, maxT = 90;
    float *x = malloc(maxT * C * 4), *w = malloc(OC * C * 4), *bias = malloc(OC * 4);
    float *want = malloc(maxT * OC * 4), *got = malloc(maxT * OC * 4);
    fill(x, maxT * C, 21); fill(w, OC * C, 22); fill(bias, OC, 23);
    tl_gemm g = {be, tl_gemm_state_new(be)};
    double worst = 0;
    for (size_t T = 1; T <= maxT; T++) {
        tl_linear_ref(x, w, bias, want, T, C, OC);
        linear_run(&g, x, w, NULL, bias, got, T, C, OC, TL_LINEAR_NO_ACT);
        worst = fmax(worst, worst_diff(got, want, NULL, T, OC));
    }
    tl_linear_ref(x, w, bias, want, 1, C, OC);
    linear_run(&g, x, w, NULL, bias, got, 1, C, OC, TL_LINEAR_NO_ACT);
    worst = fmax(worst, worst_diff(got, want, NULL, 1, OC));
    CHECK_NEAR(worst, 0.0, 1e-4);
    tl_gemm_state_free(g.st);
    free(x); free(w); free(bias); free(want); free(got);
}

/* torch's activations in double: the oracle for fused epilogues. */
static double act_ref(double v, int act) {
    switch (act) {
    case TL_ACT_GELU: return 0.5 * v * (1.0 + erf(v / sqrt(2.0)));
    case TL_ACT_GELU_TANH: return 0.5 * v * (1.0 + tanh(0.7978845608028654 * (v + 0.044715 * v * v * v)));
    case TL_ACT_RELU: return v > 0 ? v : 0;
    case TL_ACT_SILU: return v / (1.0 + exp(-v));
    default: return v;
    }
}

TL_TEST(gemm_dnnl_packed_weights_and_fused_act_match_ref_on_odd_sizes) {
    const tl_gemm_backend *dn = backend("dnnl"), *bl = backend("blas");
    if (!dn || !bl) { CHECK(dn && bl); return; }
    const size_t Ts[] = {1, 7, 129}, Cs[] = {1, 37, 200}, OCs[] = {1, 13, 301};
    const int acts[] = {TL_LINEAR_NO_ACT, TL_ACT_GELU, TL_ACT_GELU_TANH, TL_ACT_RELU, TL_ACT_SILU};
    int n_packed = 0;
    tl_gemm gd = {dn, tl_gemm_state_new(dn)}, gb = {bl, tl_gemm_state_new(bl)};
    for (size_t c = 0; c < 3; c++)
        for (size_t d = 0; d < 3; d++) {
            size_t C = Cs[c], OC = OCs[d];
            float *w = malloc(OC * C * 4), *bias = malloc(OC * 4);
            fill(w, OC * C, 32); fill(bias, OC, 33);
            tl_packed *pk = dn->pack(w, TL_DTYPE_F32, C, OC); /* NULL: the plain layout is preferred */
            n_packed += pk != NULL;
            for (size_t a = 0; a < 3; a++) {
                size_t T = Ts[a];
                float *x = malloc(T * C * 4), *want = malloc(T * OC * 4), *got = malloc(T * OC * 4);
                fill(x, T * C, 31);
                tl_linear_ref(x, w, bias, want, T, C, OC);
                for (size_t k = 0; k < sizeof acts / sizeof acts[0]; k++) {
                    double worst = 0, worst_bl = 0, worst_pr = 0;
                    /* packed (plain w dropped), plain on dnnl, and blas + separate act */
                    fill(got, T * OC, 98);
                    linear_run(&gd, x, pk ? NULL : w, pk, bias, got, T, C, OC, acts[k]);
                    for (size_t i = 0; i < T * OC; i++)
                        worst = fmax(worst, fabs(got[i] - act_ref(want[i], acts[k])));
                    linear_run(&gb, x, w, NULL, bias, got, T, C, OC, acts[k]);
                    for (size_t i = 0; i < T * OC; i++)
                        worst_bl = fmax(worst_bl, fabs(got[i] - act_ref(want[i], acts[k])));
                    CHECK_NEAR(worst, 0.0, 1e-4);
                    CHECK_NEAR(worst_bl, 0.0, 1e-4);
                    if (pk && acts[k] == TL_LINEAR_NO_ACT) { /* the never-failing fallback */
                        tl_packed_linear_ref(x, pk, bias, got, T);
                        for (size_t i = 0; i < T * OC; i++) worst_pr = fmax(worst_pr, fabs(got[i] - want[i]));
                        CHECK_NEAR(worst_pr, 0.0, 1e-4);
                    }
                }
                free(x); free(want); free(got);
            }
            tl_packed_free(pk);
            free(w); free(bias);
        }
    tl_gemm_state_free(gd.st);
    tl_gemm_state_free(gb.st);
    CHECK(n_packed > 0); /* on an AVX-512 / AVX2 CPU oneDNN prefers a blocked layout */
}

/* Returns 1 when pk holds 64-column panels of all C rows (the layout gemm_small.c reads). */
static int has_panels_of_64(const tl_packed *pk) {
    const dnnl_memory_desc_t *md = pk->desc;
    const dnnl_blocking_desc_t *bd = &md->format_desc.blocking;
    return md->format_kind == dnnl_blocked && bd->inner_nblks == 2 && bd->inner_blks[0] == 16 &&
           bd->inner_blks[1] == 64 && bd->inner_idxs[0] == 0 && bd->inner_idxs[1] == 1;
}

TL_TEST(small_m_kernel_matches_ref_on_every_row_count_and_odd_sizes) {
    const tl_gemm_backend *dn = backend("dnnl");
    if (!dn) { CHECK(dn != NULL); return; }
    /* every row-group remainder (1..6) and the bound; C and OC odd, one panel, a tail */
    const size_t Ts[] = {1, 2, 3, 4, 5, 6, 7, 13, 16, 31, TL_SMALL_M_MAX, TL_SMALL_M_MAX + 1};
    const size_t Cs[] = {3, 37, 384}, OCs[] = {13, 64, 65, 301};
    int ran = 0;
    for (size_t c = 0; c < 3; c++)
        for (size_t d = 0; d < 4; d++) {
            size_t C = Cs[c], OC = OCs[d];
            float *w = malloc(OC * C * 4), *bias = malloc(OC * 4);
            fill(w, OC * C, 52); fill(bias, OC, 53);
            tl_packed *pk = dn->pack(w, TL_DTYPE_F32, C, OC);
            for (size_t a = 0; pk && a < sizeof Ts / sizeof Ts[0]; a++) {
                size_t T = Ts[a];
                float *x = malloc(T * C * 4), *want = malloc(T * OC * 4), *got = malloc(T * OC * 4);
                fill(x, T * C, 51);
                for (int with_bias = 0; with_bias < 2; with_bias++) {
                    const float *b = with_bias ? bias : NULL;
                    tl_linear_ref(x, w, b, want, T, C, OC);
                    fill(got, T * OC, 99);
                    /* what tl_linear_forward checks before it runs the panel kernel */
                    int did = T <= TL_SMALL_M_MAX && pk->layout == TL_PACK_PANEL64 &&
                              tl_vec()->linear_panel64 != NULL;
                    if (did) tl_vec()->linear_panel64(x, pk, b, got, T);
                    int should = T <= TL_SMALL_M_MAX && has_panels_of_64(pk) &&
                                 strcmp(tl_vec()->isa, "avx512") == 0;
                    CHECK(did == should);
                    CHECK((pk->layout == TL_PACK_PANEL64) == has_panels_of_64(pk));
                    ran += did;
                    if (did) CHECK(worst_diff(got, want, NULL, T, OC) < 1e-4);
                }
                free(x); free(want); free(got);
            }
            tl_packed_free(pk);
            free(w); free(bias);
        }
    printf("  small-M kernel ran on %d of the shapes (vector kernels: %s)\n", ran, tl_vec()->isa);
}
