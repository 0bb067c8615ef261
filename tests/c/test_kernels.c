/* test_kernels.c — fast kernels against scalar references on random odd-sized inputs. */
#include "kernels/fastmath.h"
#include "kernels/kernels.h"
#include "kernels/vec.h"
#include "runtime/threads.h"
#include "tl_test.h"

#include <stdint.h>
#include <pthread.h>
#include <unistd.h>

/* Fills x with uniform values in [-1, 1) from a fixed LCG seed. */
static void fill(float *x, size_t n, uint32_t seed) {
    for (size_t i = 0; i < n; i++) {
        seed = seed * 1664525u + 1013904223u;
        x[i] = (float)((seed >> 8) / 16777216.0 * 2.0 - 1.0);
    }
}

TL_TEST(linear_blas_matches_ref_on_odd_sizes) {
    const size_t Ts[] = {1, 7, 129}, Cs[] = {1, 37, 96}, OCs[] = {1, 13, 200};
    for (size_t a = 0; a < 3; a++)
        for (size_t b = 0; b < 3; b++)
            for (size_t c = 0; c < 3; c++) {
                size_t T = Ts[a], C = Cs[b], OC = OCs[c];
                float *x = malloc(T * C * 4), *w = malloc(OC * C * 4), *bias = malloc(OC * 4);
                float *o1 = malloc(T * OC * 4), *o2 = malloc(T * OC * 4);
                fill(x, T * C, 1); fill(w, OC * C, 2); fill(bias, OC, 3);
                tl_linear_ref(x, w, bias, o1, T, C, OC);
                tl_linear_blas(x, w, bias, o2, T, C, OC);
                double worst = 0;
                for (size_t i = 0; i < T * OC; i++) worst = fmax(worst, fabs(o1[i] - o2[i]));
                CHECK_NEAR(worst, 0.0, 1e-4);
                tl_linear_blas(x, w, NULL, o2, T, C, OC); /* no bias */
                double worst_nb = 0;
                for (size_t i = 0; i < T * OC; i++) worst_nb = fmax(worst_nb, fabs(o1[i] - bias[i % OC] - o2[i]));
                CHECK_NEAR(worst_nb, 0.0, 1e-4);
                free(x); free(w); free(bias); free(o1); free(o2);
            }
}

/* Naive double-precision attention of one packed batch (the oracle). */
static void attention_oracle(const float *qkv, double *out, const size_t *cu, size_t n_seqs,
                             const int32_t *mask, const tl_rel_bias *rel, size_t window,
                             int causal, size_t nh, size_t d) {
    size_t H = nh * d;
    for (size_t s = 0; s < n_seqs; s++)
        for (size_t h = 0; h < nh; h++)
            for (size_t i = cu[s]; i < cu[s + 1]; i++) {
                double sc[300], mx = -1e300, sum = 0;
                for (size_t j = cu[s]; j < cu[s + 1]; j++) {
                    double dot = 0;
                    for (size_t c = 0; c < d; c++) dot += (double)qkv[i * 3 * H + h * d + c] * qkv[j * 3 * H + H + h * d + c];
                    double rb = rel ? rel->table[h * (2 * rel->span - 1) + rel->span - 1 + (j - cu[s]) - (i - cu[s])] : 0.0;
                    long off = (long)j - (long)i;
                    int hidden = (window && (off > (long)window || -off > (long)window)) || (causal && off > 0);
                    sc[j - cu[s]] = dot / sqrt((double)d) + rb + ((mask && !mask[j]) || hidden ? -1e30 : 0.0);
                    if (sc[j - cu[s]] > mx) mx = sc[j - cu[s]];
                }
                for (size_t j = 0; j < cu[s + 1] - cu[s]; j++) { sc[j] = exp(sc[j] - mx); sum += sc[j]; }
                for (size_t c = 0; c < d; c++) {
                    double acc = 0;
                    for (size_t j = cu[s]; j < cu[s + 1]; j++) acc += sc[j - cu[s]] / sum * qkv[j * 3 * H + 2 * H + h * d + c];
                    out[i * H + h * d + c] = acc;
                }
            }
}

/* Checks tl_attention on backend be for head size d (19: generic path; 32, 64: specialized). */
static void check_attention(const tl_gemm_backend *be, size_t d) {
    const size_t lens[] = {1, 7, 129, 2, 33};
    const size_t n_seqs = 5, nh = 3, H = nh * d;
    size_t cu[6] = {0};
    for (size_t s = 0; s < n_seqs; s++) cu[s + 1] = cu[s] + lens[s];
    size_t T = cu[n_seqs];
    float *qkv = malloc(T * 3 * H * 4), *out = malloc(T * H * 4);
    double *want = malloc(T * H * 8);
    int32_t *mask = malloc(T * 4);
    fill(qkv, T * 3 * H, 7);
    for (size_t t = 0; t < T; t++) qkv[t] *= 3.0f; /* sharper softmax */
    for (size_t t = 0; t < T; t++) mask[t] = (t % 5) != 3;
    /* every sequence's first key on: a causal query must see some key (kernels.h) */
    for (size_t s = 0; s < n_seqs; s++) mask[cu[s]] = 1;
    int nt = tl_threads_get();
    float *scratch = malloc(tl_attention_scratch_floats(129, 0) * (size_t)nt * 4);
    const size_t span = 130;
    float *table = malloc(nh * (2 * span - 1) * 4);
    fill(table, nh * (2 * span - 1), 9);
    tl_rel_bias rel = {table, span};
    tl_gemm g = {be, tl_gemm_state_new(be)};
    for (int variant = 0; variant < 16; variant++) {
        const int32_t *m = (variant & 1) ? mask : NULL;
        const tl_rel_bias *r = (variant & 2) ? &rel : NULL;
        size_t window = (variant & 4) ? 6 : 0;
        int causal = (variant & 8) != 0;
        tl_attn_extras ex = {.key_mask = m, .rel = r, .window = window, .causal = causal};
        tl_attention(&g, qkv, out, cu, n_seqs, &ex, nh, d, scratch, nt);
        attention_oracle(qkv, want, cu, n_seqs, m, r, window, causal, nh, d);
        double worst = 0;
        for (size_t i = 0; i < T * H; i++) worst = fmax(worst, fabs(out[i] - want[i]));
        CHECK_NEAR(worst, 0.0, 1e-5);
    }
    tl_gemm_state_free(g.st);
    free(qkv); free(out); free(want); free(mask); free(scratch); free(table);
}

TL_TEST(attention_matches_oracle_with_masks_and_odd_lengths) {
    const tl_gemm_backend *bes[] = {&tl_gemm_dnnl, &tl_gemm_blas, &tl_gemm_ref};
    for (size_t i = 0; i < 3; i++) {
        check_attention(bes[i], 19);
        check_attention(bes[i], 32);
        check_attention(bes[i], 64);
    }
}

TL_TEST(add_layernorm_matches_definition) {
    const size_t T = 7, H = 37;
    float x[7 * 37], r[7 * 37], g[37], b[37], y[7 * 37];
    fill(x, T * H, 11); fill(r, T * H, 12); fill(g, H, 13); fill(b, H, 14);
    memcpy(y, x, sizeof x);
    tl_add_layernorm(y, r, g, b, T, H, 1e-5f);
    for (size_t t = 0; t < T; t++) {
        double mean = 0, var = 0;
        for (size_t i = 0; i < H; i++) mean += x[t * H + i] + r[t * H + i];
        mean /= H;
        for (size_t i = 0; i < H; i++) { double d = x[t * H + i] + r[t * H + i] - mean; var += d * d; }
        var /= H;
        for (size_t i = 0; i < H; i++) {
            double want = (x[t * H + i] + r[t * H + i] - mean) / sqrt(var + 1e-5) * g[i] + b[i];
            CHECK_NEAR(y[t * H + i], want, 1e-5);
        }
    }
}

TL_TEST(add_layernorm_vector_paths_match_double_definition_on_odd_widths) {
    const size_t Hs[] = {1, 15, 16, 37, 773}, T = 5;
    for (size_t k = 0; k < sizeof Hs / sizeof Hs[0]; k++) {
        size_t H = Hs[k];
        float *x = malloc(T * H * 4), *r = malloc(T * H * 4), *g = malloc(H * 4), *b = malloc(H * 4);
        float *y = malloc(T * H * 4), *y2 = malloc(T * H * 4);
        fill(x, T * H, 21); fill(r, T * H, 22); fill(g, H, 23); fill(b, H, 24);
        for (size_t i = 0; i < T * H; i++) x[i] = 3.0f + 8.0f * x[i]; /* an offset mean, as in models */
        memcpy(y, x, T * H * 4);
        memcpy(y2, x, T * H * 4);
        tl_add_layernorm(y, r, g, b, T, H, 1e-12f);
        tl_add_layernorm(y2, NULL, g, NULL, T, H, 1e-12f);
        double worst = 0, worst2 = 0;
        for (size_t t = 0; t < T; t++) {
            double m = 0, v = 0, m2 = 0, v2 = 0;
            for (size_t i = 0; i < H; i++) { m += (double)x[t * H + i] + r[t * H + i]; m2 += x[t * H + i]; }
            m /= H; m2 /= H;
            for (size_t i = 0; i < H; i++) {
                double d = (double)x[t * H + i] + r[t * H + i] - m, d2 = x[t * H + i] - m2;
                v += d * d; v2 += d2 * d2;
            }
            v /= H; v2 /= H;
            for (size_t i = 0; i < H; i++) {
                double want = ((double)x[t * H + i] + r[t * H + i] - m) / sqrt(v + 1e-12) * g[i] + b[i];
                double want2 = (x[t * H + i] - m2) / sqrt(v2 + 1e-12) * g[i];
                if (H > 1) worst = fmax(worst, fabs(y[t * H + i] - want));
                if (H > 1) worst2 = fmax(worst2, fabs(y2[t * H + i] - want2));
            }
        }
        CHECK_NEAR(worst, 0.0, 2e-5);
        CHECK_NEAR(worst2, 0.0, 2e-5);
        free(x); free(r); free(g); free(b); free(y); free(y2);
    }
}

TL_TEST(activations_match_torch_values) {
    /* values from torch.nn.functional: gelu(1), gelu(-2), gelu_tanh(1), silu(1) */
    float v[4] = {1.0f, -2.0f, 0.5f, -0.5f};
    tl_activation_apply(v, 2, TL_ACT_GELU);
    CHECK_NEAR(v[0], 0.8413447, 1e-6);
    CHECK_NEAR(v[1], -0.0455003, 1e-6);
    float t[1] = {1.0f};
    tl_activation_apply(t, 1, TL_ACT_GELU_TANH);
    CHECK_NEAR(t[0], 0.8411920, 1e-6);
    float s[1] = {1.0f};
    tl_activation_apply(s, 1, TL_ACT_SILU);
    CHECK_NEAR(s[0], 0.7310586, 1e-6);
    tl_activation_apply(v + 2, 2, TL_ACT_RELU);
    CHECK_NEAR(v[2], 0.5, 0);
    CHECK_NEAR(v[3], 0.0, 0);
}

TL_TEST(fast_exp_and_erf_match_libm) {
    double worst_exp = 0, worst_erf = 0;
    for (int i = 0; i <= 200000; i++) {
        float x = -90.0f + 90.0f * (float)i / 200000.0f;
        double want = exp((double)x), got = tl_exp_nonpos(x);
        if (x > -80.0f) worst_exp = fmax(worst_exp, fabs(got - want) / want);
        float y = -6.0f + 12.0f * (float)i / 200000.0f;
        worst_erf = fmax(worst_erf, fabs(tl_erf(y) - erf((double)y)));
    }
    CHECK(worst_exp < 3e-7);
    CHECK(worst_erf < 1e-6);
    CHECK(tl_exp_nonpos(-INFINITY) == 0.0f);
    CHECK(tl_exp_nonpos(-100.0f) == 0.0f);
    CHECK(tl_exp_nonpos(0.0f) == 1.0f);
    printf("  fast exp max rel err %.3g, erf max abs err %.3g (vector kernels: %s)\n", worst_exp,
           worst_erf, tl_vec()->isa);
}

TL_TEST(embeddings_ln_equals_sum_then_layernorm) {
    /* small (calling thread) and large (parallel rows) batches; with and without
     * position / type tables and bias */
    const size_t shapes[][2] = {{9, 37}, {400, 768}};
    for (size_t k = 0; k < 2; k++) {
        size_t T = shapes[k][0], H = shapes[k][1], V = 50, P = 40;
        float *word = malloc(V * H * 4), *pos = malloc(P * H * 4), *type = malloc(2 * H * 4);
        float *g = malloc(H * 4), *b = malloc(H * 4);
        float *want = malloc(T * H * 4), *got = malloc(T * H * 4);
        int32_t *ids = malloc(T * 4), *pids = malloc(T * 4), *tids = malloc(T * 4);
        fill(word, V * H, 31); fill(pos, P * H, 32); fill(type, 2 * H, 33);
        fill(g, H, 34); fill(b, H, 35);
        for (size_t t = 0; t < T; t++) {
            ids[t] = (int32_t)((t * 7 + 3) % V);
            pids[t] = (int32_t)(t % P);
            tids[t] = (int32_t)(t % 2);
        }
        for (int variant = 0; variant < 3; variant++) {
            const float *ps = variant == 2 ? NULL : pos, *ts = variant == 1 ? NULL : type;
            const float *bias = variant == 1 ? NULL : b;
            tl_embeddings_sum(word, ps, ts, ids, pids, tids, want, T, H);
            tl_add_layernorm(want, NULL, g, bias, T, H, 1e-12f);
            tl_embeddings_ln(word, ps, ts, ids, pids, tids, g, bias, 1e-12f, got, T, H);
            CHECK(memcmp(want, got, T * H * 4) == 0);
        }
        free(word); free(pos); free(type); free(g); free(b); free(want); free(got);
        free(ids); free(pids); free(tids);
    }
}

TL_TEST(layernorm_matches_double_definition_in_and_out_of_place) {
    /* T x H: small rows on the calling thread, and 400 x 768 on the parallel path */
    const size_t shapes[][2] = {{6, 1}, {6, 17}, {6, 768}, {400, 768}};
    for (size_t k = 0; k < sizeof shapes / sizeof shapes[0]; k++) {
        size_t T = shapes[k][0], H = shapes[k][1];
        float *x = malloc(T * H * 4), *x0 = malloc(T * H * 4), *y = malloc(T * H * 4);
        float *g = malloc(H * 4), *b = malloc(H * 4);
        fill(x, T * H, 41); fill(g, H, 42); fill(b, H, 43);
        for (size_t i = 0; i < T * H; i++) x[i] = 2.0f + 6.0f * x[i];
        memcpy(x0, x, T * H * 4);
        for (int variant = 0; variant < 3; variant++) {
            /* 0: out of place, no bias; 1: out of place, bias; 2: in place, bias */
            const float *bias = variant ? b : NULL;
            float *dst = y;
            if (variant == 2) {
                memcpy(y, x0, T * H * 4);
                tl_layernorm(y, y, g, bias, T, H, 1e-5f);
            } else {
                tl_layernorm(x, y, g, bias, T, H, 1e-5f);
                CHECK(memcmp(x, x0, T * H * 4) == 0); /* x unchanged */
            }
            double worst = 0;
            for (size_t t = 0; t < T; t++) {
                double m = 0, v = 0;
                for (size_t i = 0; i < H; i++) m += x0[t * H + i];
                m /= H;
                for (size_t i = 0; i < H; i++) v += (x0[t * H + i] - m) * (x0[t * H + i] - m);
                v /= H;
                for (size_t i = 0; i < H; i++) {
                    double want = (x0[t * H + i] - m) / sqrt(v + 1e-5) * g[i] + (bias ? b[i] : 0.0);
                    double err = fabs(dst[t * H + i] - want) / (1 + fabs(want));
                    if (err > worst) worst = err;
                }
            }
            CHECK(worst < 2e-5);
        }
        free(x); free(x0); free(y); free(g); free(b);
    }
}

/* Probe mode (make test-isa): exits 0 when this CPU runs the $TORCHLESS_ISA class, else 1.
 * Child mode of isa_forced_by_env_is_the_path_in_use: prints the path this process runs. */
__attribute__((constructor)) static void isa_child(void) {
    if (getenv("TL_TEST_ISA_PROBE")) _exit(tl_vec_check() == TL_OK ? 0 : 1);
    if (!getenv("TL_TEST_ISA_CHILD")) return;
    printf("%s %d\n", tl_vec()->isa, (int)tl_vec()->level);
    fflush(stdout);
    _exit(0);
}

TL_TEST(isa_levels_and_features_are_self_consistent) {
    const unsigned f = tl_cpu_features();
    CHECK(!(f & TL_CPU_AVX512) || (f & TL_CPU_AVX2));
    CHECK(!(f & (TL_CPU_AVX512_BF16 | TL_CPU_AVX512_VNNI)) || (f & TL_CPU_AVX512));
    CHECK(!(f & TL_CPU_AVX_VNNI) || (f & TL_CPU_AVX2));
    CHECK(!(f & TL_CPU_AMX_OS) || (f & TL_CPU_AMX_TILE));
    CHECK(tl_cpu_features() == f); /* detected once */
    /* the table in use is the one $TORCHLESS_ISA (test-isa sets it) and the CPU select */
    const char *want = getenv("TORCHLESS_ISA");
    tl_isa lvl = tl_isa_choose(f, want), w;
    CHECK(tl_vec()->level == lvl);
    CHECK(strcmp(tl_vec()->isa, tl_isa_name(lvl)) == 0);
    if (want && tl_isa_parse(want, &w) && w <= tl_isa_best(f)) CHECK(tl_vec()->level == w);
    CHECK(tl_vec_check() == TL_OK || (want && (!tl_isa_parse(want, &w) || w > tl_isa_best(f))));
    /* the choice itself, on made-up feature sets */
    const unsigned all = TL_CPU_AVX2 | TL_CPU_AVX512;
    CHECK(tl_isa_best(0) == TL_ISA_GENERIC && tl_isa_best(TL_CPU_AVX2) == TL_ISA_AVX2 &&
          tl_isa_best(all) == TL_ISA_AVX512);
    CHECK(tl_isa_choose(all, "avx2") == TL_ISA_AVX2 && tl_isa_choose(all, "generic") == TL_ISA_GENERIC);
    CHECK(tl_isa_choose(TL_CPU_AVX2, "avx512") == TL_ISA_AVX2); /* capped at the CPU's best */
    CHECK(tl_isa_choose(all, "sse9") == TL_ISA_AVX512 && tl_isa_choose(all, NULL) == TL_ISA_AVX512 &&
          tl_isa_choose(all, "") == TL_ISA_AVX512);
    for (int i = 0; i < TL_ISA_COUNT; i++) CHECK(tl_isa_parse(tl_isa_name((tl_isa)i), &w) && w == (tl_isa)i);
    char buf[256];
    CHECK(strcmp(tl_cpu_describe(all | TL_CPU_AVX512_BF16 | TL_CPU_AVX512_VNNI, buf, sizeof buf),
                 "avx2 avx512 avx512-bf16 avx512-vnni (no avx-vnni); amx: cpu no, os permission no") == 0);
    CHECK(strcmp(tl_cpu_describe(all | TL_CPU_AVX_VNNI | TL_CPU_AMX_TILE | TL_CPU_AMX_BF16, buf, sizeof buf),
                 "avx2 avx512 avx-vnni (no avx512-bf16 avx512-vnni); amx: cpu yes (bf16), os permission no") == 0);
    CHECK(strcmp(tl_cpu_describe(0, buf, 12), "baseline x8") == 0); /* truncated, terminated */
    tl_cpu_describe(f, buf, sizeof buf);
    CHECK(((f & TL_CPU_AVX2) != 0) == (strncmp(buf, "avx2", 4) == 0));
    printf("  cpu features: %s; vector kernels: %s\n", buf, tl_vec()->isa);
}

TL_TEST(isa_forced_by_env_is_the_path_in_use) {
    const unsigned f = tl_cpu_features();
    for (int i = 0; i <= (int)tl_isa_best(f); i++) {
        char cmd[256], out[64] = "";
        snprintf(cmd, sizeof cmd, "TL_TEST_ISA_CHILD=1 TORCHLESS_ISA=%s /proc/%d/exe", tl_isa_name((tl_isa)i),
                 (int)getpid());
        FILE *p = popen(cmd, "r");
        CHECK(p != NULL);
        if (!p) return;
        if (!fgets(out, sizeof out, p)) out[0] = '\0';
        CHECK(pclose(p) == 0);
        char want[64];
        snprintf(want, sizeof want, "%s %d\n", tl_isa_name((tl_isa)i), i);
        CHECK(strcmp(out, want) == 0);
    }
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

TL_TEST(linear_forward_on_every_backend_matches_ref_on_odd_sizes) {
    /* every backend, plain and (where it packs) packed with the plain weights dropped, every
     * activation; T = 1 and 7 reach the panel kernel on the AVX-512 path, 129 the GEMM */
    const tl_gemm_backend *bes[] = {&tl_gemm_dnnl, &tl_gemm_blas, &tl_gemm_ref};
    const size_t Ts[] = {1, 7, 129}, Cs[] = {37, 200}, OCs[] = {13, 301};
    const int acts[] = {TL_LINEAR_NO_ACT, TL_ACT_GELU, TL_ACT_GELU_TANH, TL_ACT_RELU, TL_ACT_SILU};
    int n_packed = 0;
    for (size_t bi = 0; bi < 3; bi++) {
        tl_gemm g = {bes[bi], tl_gemm_state_new(bes[bi])};
        CHECK(g.st != NULL);
        CHECK(bes[bi]->dtypes & TL_DTYPE_BIT(TL_DTYPE_F32));
        for (size_t c = 0; c < 2; c++)
            for (size_t d = 0; d < 2; d++) {
                size_t C = Cs[c], OC = OCs[d];
                float *w = malloc(OC * C * 4), *bias = malloc(OC * 4);
                fill(w, OC * C, 61); fill(bias, OC, 62);
                tl_linear plain = {.in = C, .out = OC, .wtype = TL_DTYPE_F32, .w = w, .b = bias};
                tl_linear packed = plain;
                int did = tl_linear_pack(&packed, bes[bi]);
                CHECK(did == (packed.pk != NULL));
                CHECK(!did || (bes[bi]->pack_dtypes & TL_DTYPE_BIT(TL_DTYPE_F32)));
                CHECK(!tl_linear_pack(&packed, bes[bi]) || !did); /* never packs twice */
                n_packed += did;
                if (did) packed.w = NULL;
                for (size_t a = 0; a < 3; a++) {
                    size_t T = Ts[a];
                    float *x = malloc(T * C * 4), *want = malloc(T * OC * 4), *got = malloc(T * OC * 4);
                    fill(x, T * C, 63);
                    tl_linear_ref(x, w, bias, want, T, C, OC);
                    for (size_t k = 0; k < sizeof acts / sizeof acts[0]; k++)
                        for (int pass = 0; pass < (did ? 2 : 1); pass++) {
                            fill(got, T * OC, 64);
                            tl_linear_forward(&g, pass ? &packed : &plain, x, got, T, acts[k]);
                            double worst = 0;
                            for (size_t i = 0; i < T * OC; i++)
                                worst = fmax(worst, fabs(got[i] - act_ref(want[i], acts[k])));
                            CHECK_NEAR(worst, 0.0, 1e-4);
                        }
                    free(x); free(want); free(got);
                }
                tl_packed_free(packed.pk);
                free(w); free(bias);
            }
        tl_gemm_state_free(g.st);
    }
    CHECK(n_packed > 0); /* oneDNN prefers a blocked layout on AVX2 and AVX-512 CPUs */
}

TL_TEST(linear_packed_for_one_backend_runs_on_another_without_plain_weights) {
    const size_t T = 40, C = 37, OC = 70;
    float *w = malloc(OC * C * 4), *x = malloc(T * C * 4), *want = malloc(T * OC * 4), *got = malloc(T * OC * 4);
    fill(w, OC * C, 71); fill(x, T * C, 72);
    tl_linear L = {.in = C, .out = OC, .wtype = TL_DTYPE_F32, .w = w};
    if (tl_linear_pack(&L, &tl_gemm_dnnl)) {
        L.w = NULL;
        tl_gemm g = {&tl_gemm_blas, tl_gemm_state_new(&tl_gemm_blas)};
        tl_linear_ref(x, w, NULL, want, T, C, OC);
        tl_linear_forward(&g, &L, x, got, T, TL_ACT_RELU);
        double worst = 0;
        for (size_t i = 0; i < T * OC; i++) worst = fmax(worst, fabs(got[i] - act_ref(want[i], TL_ACT_RELU)));
        CHECK_NEAR(worst, 0.0, 1e-4);
        tl_gemm_state_free(g.st);
        /* with the plain weights kept, the ref backend ignores dnnl's panels: the exact oracle */
        L.w = w;
        tl_gemm r = {&tl_gemm_ref, tl_gemm_state_new(&tl_gemm_ref)};
        tl_linear_forward(&r, &L, x, got, 7, TL_LINEAR_NO_ACT);
        tl_linear_ref(x, w, NULL, want, 7, C, OC);
        CHECK(memcmp(got, want, 7 * OC * 4) == 0);
        tl_gemm_state_free(r.st);
        tl_packed_free(L.pk);
    }
    free(w); free(x); free(want); free(got);
}

TL_TEST(gemm_matmul_on_every_backend_matches_oracle_with_strides) {
    const tl_gemm_backend *bes[] = {&tl_gemm_dnnl, &tl_gemm_blas, &tl_gemm_ref};
    const size_t shapes[][3] = {{1, 1, 1}, {7, 13, 19}, {129, 65, 33}, {3, 129, 200}};
    for (size_t bi = 0; bi < 3; bi++) {
        tl_gemm g = {bes[bi], tl_gemm_state_new(bes[bi])};
        for (size_t si = 0; si < 4; si++)
            for (int flags = 0; flags < 4; flags++) {
                const size_t M = shapes[si][0], N = shapes[si][1], K = shapes[si][2];
                const int tb = flags & TL_MATMUL_TRANS_B;
                /* leading dims past the widths, as attention's Q / K / V views of qkv */
                const size_t lda = K + 5, ldb = (tb ? K : N) + 3, ldc = N + 7;
                const size_t brows = tb ? N : K;
                float *A = malloc(M * lda * 4), *B = malloc(brows * ldb * 4), *Cm = malloc(M * ldc * 4);
                fill(A, M * lda, 81); fill(B, brows * ldb, 82); fill(Cm, M * ldc, 83);
                float *C0 = malloc(M * ldc * 4);
                memcpy(C0, Cm, M * ldc * 4);
                if (flags & TL_MATMUL_BLAS) tl_gemm_matmul_ex(&g, flags, M, N, K, A, lda, B, ldb, Cm, ldc);
                else tl_gemm_matmul(&g, tb, M, N, K, A, lda, B, ldb, Cm, ldc);
                double worst = 0;
                int pad_ok = 1;
                for (size_t i = 0; i < M; i++) {
                    for (size_t j = 0; j < N; j++) {
                        double acc = 0;
                        for (size_t k = 0; k < K; k++) acc += (double)A[i * lda + k] * (tb ? B[j * ldb + k] : B[k * ldb + j]);
                        worst = fmax(worst, fabs(Cm[i * ldc + j] - acc));
                    }
                    for (size_t j = N; j < ldc; j++) pad_ok &= Cm[i * ldc + j] == C0[i * ldc + j];
                }
                CHECK_NEAR(worst, 0.0, 1e-4);
                CHECK(pad_ok); /* nothing written past N in a row */
                free(A); free(B); free(Cm); free(C0);
            }
        tl_gemm_state_free(g.st);
    }
}

/* Two threads, each with its own state (or both on one), running the same linear layers
 * many times; each result must equal the serial one bit for bit. */
typedef struct {
    const tl_gemm *g;
    const tl_linear *L;
    size_t n_layers, T;
    const float *x;
    float *y;   /* n_layers * T * max out */
    int reps;
} lin_job;

static size_t job_stride(const lin_job *j) { return j->T * 301; }

static void *lin_worker(void *arg) {
    lin_job *j = arg;
    for (int r = 0; r < j->reps; r++)
        for (size_t l = 0; l < j->n_layers; l++)
            tl_linear_forward(j->g, &j->L[l], j->x, j->y + l * job_stride(j), j->T,
                              l % 2 ? TL_ACT_GELU : TL_LINEAR_NO_ACT);
    return NULL;
}

TL_TEST(linear_forward_from_two_threads_equals_serial) {
    const size_t T = 57, C = 200, n_layers = 3;
    const size_t OCs[3] = {301, 96, 200};
    float *w = malloc(301 * C * 4), *bias = malloc(301 * 4), *x = malloc(T * C * 4);
    fill(w, 301 * C, 91); fill(bias, 301, 92); fill(x, T * C, 93);
    tl_linear L[3];
    for (size_t l = 0; l < n_layers; l++) {
        L[l] = (tl_linear){.in = C, .out = OCs[l], .wtype = TL_DTYPE_F32, .w = w, .b = l == 1 ? NULL : bias};
        if (l != 2 && tl_linear_pack(&L[l], &tl_gemm_dnnl)) L[l].w = NULL; /* packed and plain */
    }
    const size_t per = n_layers * T * 301;
    float *serial = calloc(per, 4), *ya = calloc(per, 4), *yb = calloc(per, 4);
    for (int shared = 0; shared < 2; shared++) {
        tl_gemm g0 = {&tl_gemm_dnnl, tl_gemm_state_new(&tl_gemm_dnnl)};
        tl_gemm g1 = {&tl_gemm_dnnl, shared ? g0.st : tl_gemm_state_new(&tl_gemm_dnnl)};
        lin_job s = {&g0, L, n_layers, T, x, serial, 1};
        lin_worker(&s);
        lin_job ja = {&g0, L, n_layers, T, x, ya, 40}, jb = {&g1, L, n_layers, T, x, yb, 40};
        pthread_t ta, tb;
        CHECK(pthread_create(&ta, NULL, lin_worker, &ja) == 0);
        CHECK(pthread_create(&tb, NULL, lin_worker, &jb) == 0);
        pthread_join(ta, NULL);
        pthread_join(tb, NULL);
        CHECK(memcmp(ya, serial, per * 4) == 0);
        CHECK(memcmp(yb, serial, per * 4) == 0);
        if (!shared) tl_gemm_state_free(g1.st);
        tl_gemm_state_free(g0.st);
    }
    for (size_t l = 0; l < n_layers; l++) tl_packed_free(L[l].pk);
    free(w); free(bias); free(x); free(serial); free(ya); free(yb);
}
