/* test_kv_cache.c — the paged KV cache (bounded, all-or-nothing reservations, no sequence
 * overwriting another) and decoder attention over its pages against tl_attention's causal
 * mode on the reference backend, prefilled at once or token by token; each ISA table's
 * attend_cached_row against the scalar tl_attend_cached_row_ref on odd sizes. */
#include "core/error.h"
#include "kernels/kernels.h"
#include "kernels/vec.h"
#include "runtime/kv_cache.h"
#include "tl_test.h"

#include <stdint.h>

/* Fills x with uniform values in [-1, 1) from a fixed LCG seed. */
static void fill(float *x, size_t n, uint32_t seed) {
    for (size_t i = 0; i < n; i++) {
        seed = seed * 1664525u + 1013904223u;
        x[i] = (float)((seed >> 8) / 16777216.0 * 2.0 - 1.0);
    }
}

TL_TEST(kv_cache_is_bounded_and_reservations_are_all_or_nothing) {
    tl_kv_cache kv;
    CHECK_OK(tl_kv_init(&kv, 2, 8, 40)); /* 3 pages of 16 */
    CHECK(tl_kv_capacity(&kv) == 48);
    int32_t a, b;
    CHECK_OK(tl_kv_seq_new(&kv, &a));
    CHECK_OK(tl_kv_seq_new(&kv, &b));
    CHECK(a != b);
    size_t add_a = 20;
    CHECK_OK(tl_kv_reserve(&kv, &a, &add_a, 1)); /* 2 pages */
    tl_kv_seq_get(&kv, a)->len = 20;
    float *a0 = tl_kv_seq_get(&kv, a)->pages[0], *a1 = tl_kv_seq_get(&kv, a)->pages[1];
    int32_t both[2] = {a, b};
    size_t add[2] = {1, 17}; /* b needs 2 pages, 1 is free */
    CHECK(tl_kv_reserve(&kv, both, add, 2) == TL_ERR_INVALID_ARG);
    CHECK(strstr(tl_last_error(), "KV cache full") && strstr(tl_last_error(), "kv_cache_tokens"));
    CHECK(tl_kv_seq_get(&kv, b)->n_pages == 0 && kv.n_free == 1); /* nothing taken */
    size_t add_b = 16;
    CHECK_OK(tl_kv_reserve(&kv, &b, &add_b, 1));
    float *b0 = tl_kv_seq_get(&kv, b)->pages[0];
    CHECK(b0 != a0 && b0 != a1);
    CHECK(tl_kv_reserve(&kv, &a, &add_b, 1) == TL_ERR_INVALID_ARG); /* full */
    CHECK_OK(tl_kv_seq_free(&kv, a));
    CHECK(tl_kv_seq_free(&kv, a) == TL_ERR_INVALID_ARG);
    CHECK(kv.n_free == 2);
    CHECK(tl_kv_reserve(&kv, &a, &add_b, 1) == TL_ERR_INVALID_ARG); /* a is not live */
    tl_kv_release(&kv);
    tl_kv_release(&kv); /* safe twice */
}

/* tl_attention_cached over pages (filled from qkv, by chunks of `chunk` new tokens per
 * step) equals tl_attention causal (window w: |i - j| <= w there, p - j < w + 1 here). */
static void check_cached(size_t chunk, size_t window, size_t nh, size_t nkv, size_t d, int nt) {
    const size_t lens[] = {1, 7, 40, 17}, n = 4, H = nh * d, KD = nkv * d;
    size_t cu[5] = {0};
    for (size_t s = 0; s < n; s++) cu[s + 1] = cu[s] + lens[s];
    const size_t T = cu[n];
    /* the reference needs every query head's K / V: expand the KV heads of q | k | v */
    float *q = malloc(T * H * 4), *k = malloc(T * KD * 4), *v = malloc(T * KD * 4);
    float *qkv = malloc(T * 3 * H * 4), *want = malloc(T * H * 4), *got = malloc(T * H * 4);
    fill(q, T * H, 3); fill(k, T * KD, 4); fill(v, T * KD, 5);
    for (size_t t = 0; t < T; t++)
        for (size_t h = 0; h < nh; h++) {
            size_t kh = h / (nh / nkv);
            memcpy(qkv + t * 3 * H + h * d, q + t * H + h * d, d * 4);
            memcpy(qkv + t * 3 * H + H + h * d, k + t * KD + kh * d, d * 4);
            memcpy(qkv + t * 3 * H + 2 * H + h * d, v + t * KD + kh * d, d * 4);
        }
    tl_gemm g = {&tl_gemm_ref, NULL};
    float *scratch = malloc(tl_attention_scratch_floats(40, 0) * 4 * 8);
    tl_attn_extras ex = {.causal = 1, .window = window};
    tl_attention(&g, qkv, want, cu, n, &ex, nh, d, scratch, 1);

    tl_kv_cache kv;
    CHECK_OK(tl_kv_init(&kv, 1, KD, 128));
    int32_t ids[4];
    for (size_t s = 0; s < n; s++) CHECK_OK(tl_kv_seq_new(&kv, &ids[s]));
    const tl_kv_layout lay = {TL_KV_PAGE_TOKENS, 0, TL_KV_PAGE_TOKENS * KD, KD};
    float *cs = malloc(tl_attention_cached_scratch(40) * 4 * (size_t)nt);
    for (size_t done = 0; done < 40; done += chunk) {
        size_t qcu[5] = {0}, past[4], rows[4];
        float *const *pages[4];
        for (size_t s = 0; s < n; s++) {
            past[s] = done < lens[s] ? done : lens[s];
            rows[s] = lens[s] > past[s] ? (lens[s] - past[s] < chunk ? lens[s] - past[s] : chunk) : 0;
            qcu[s + 1] = qcu[s] + rows[s];
            CHECK_OK(tl_kv_reserve(&kv, &ids[s], &rows[s], 1));
            tl_kv_seq *sq = tl_kv_seq_get(&kv, ids[s]);
            for (size_t r = 0; r < rows[s]; r++) {
                memcpy(tl_kv_k_row(&lay, sq->pages, past[s] + r), k + (cu[s] + past[s] + r) * KD, KD * 4);
                memcpy(tl_kv_v_row(&lay, sq->pages, past[s] + r), v + (cu[s] + past[s] + r) * KD, KD * 4);
            }
            sq->len += rows[s];
            pages[s] = sq->pages;
        }
        /* this step's queries, packed */
        float *qs = malloc((qcu[n] ? qcu[n] : 1) * H * 4), *os = malloc((qcu[n] ? qcu[n] : 1) * H * 4);
        for (size_t s = 0; s < n; s++)
            memcpy(qs + qcu[s] * H, q + (cu[s] + past[s]) * H, rows[s] * H * 4);
        tl_attention_cached(qs, H, os, H, qcu, n, pages, past, &lay, nh, nkv, d,
                            window ? window + 1 : 0, 0.0f, cs, nt);
        for (size_t s = 0; s < n; s++)
            memcpy(got + (cu[s] + past[s]) * H, os + qcu[s] * H, rows[s] * H * 4);
        free(qs); free(os);
    }
    double worst = 0;
    for (size_t i = 0; i < T * H; i++) worst = fmax(worst, fabs(got[i] - want[i]));
    CHECK_NEAR(worst, 0.0, 1e-5);
    tl_kv_release(&kv);
    free(q); free(k); free(v); free(qkv); free(want); free(got); free(scratch); free(cs);
}

TL_TEST(cached_attention_matches_causal_attention) {
    const size_t chunks[] = {40, 1, 5}, windows[] = {0, 3};
    for (size_t c = 0; c < 3; c++)
        for (size_t w = 0; w < 2; w++) {
            check_cached(chunks[c], windows[w], 4, 4, 16, 1);
            check_cached(chunks[c], windows[w], 4, 2, 16, 1); /* grouped-query */
            check_cached(chunks[c], windows[w], 3, 1, 16, 1); /* multi-query */
            check_cached(chunks[c], windows[w], 8, 2, 32, 2); /* enough work for 2 threads */
        }
}

/* Every vector table this CPU can run (generic always, avx2 / avx512 when present). */
static size_t usable_tables(const tl_vec_kernels **out) {
    const unsigned f = tl_cpu_features();
    size_t n = 0;
    out[n++] = &tl_vec_generic;
    if (f & TL_CPU_AVX2) out[n++] = &tl_vec_avx2;
    if (f & TL_CPU_AVX512) out[n++] = &tl_vec_avx512;
    return n;
}

TL_TEST(attend_cached_row_of_every_isa_matches_reference_on_odd_sizes) {
    /* head sizes 1, 7, 16, 33, 64, 80; positions 0 .. 130 over pages of 5 and 16 tokens
     * (the row crosses pages), windows 0 and 9, 3 KV heads, keys far apart in magnitude */
    static const size_t ds[] = {1, 7, 16, 33, 64, 80}, pos[] = {0, 1, 6, 15, 16, 17, 63, 130};
    static const size_t pts[] = {5, 16}, wins[] = {0, 9};
    const tl_vec_kernels *tabs[3];
    const size_t nt = usable_tables(tabs), nkv = 3, maxp = 131;
    double worst = 0;
    for (size_t di = 0; di < sizeof ds / sizeof ds[0]; di++)
        for (size_t pi = 0; pi < 2; pi++) {
            const size_t d = ds[di], pt = pts[pi], ld = nkv * d, npg = (maxp + pt - 1) / pt;
            tl_kv_layout lay = {.page_tokens = pt, .k_off = 0, .v_off = pt * ld, .ld = ld};
            float *pool = malloc(npg * 2 * pt * ld * sizeof *pool), *pg[32];
            float *q = malloc(d * sizeof *q), *ref = malloc(d * sizeof *ref), *got = malloc(d * sizeof *got);
            float *sc = malloc(tl_attention_cached_scratch(maxp) * sizeof *sc);
            fill(pool, npg * 2 * pt * ld, (uint32_t)(7 + d + pt));
            fill(q, d, (uint32_t)(3 + d));
            for (size_t i = 0; i < d; i++) q[i] *= 4.0f; /* peaked softmax */
            for (size_t i = 0; i < npg; i++) pg[npg - 1 - i] = pool + i * 2 * pt * ld; /* pages out of order */
            for (size_t p = 0; p < sizeof pos / sizeof pos[0]; p++)
                for (size_t w = 0; w < 2; w++)
                    for (size_t kh = 0; kh < nkv; kh++) {
                        tl_attend_cached_row_ref(q, ref, pos[p], pg, &lay, kh, d, wins[w], 0.37f, sc);
                        for (size_t t = 0; t < nt; t++) {
                            for (size_t i = 0; i < d; i++) got[i] = NAN;
                            tabs[t]->attend_cached_row(q, got, pos[p], pg, &lay, kh, d, wins[w], 0.37f, sc);
                            for (size_t i = 0; i < d; i++) {
                                /* outputs are convex combinations of V entries in [-1, 1]:
                                 * the error is absolute, at V's scale */
                                double e = fabs((double)got[i] - ref[i]);
                                if (!(e <= 1e-5) && !tl_test_failed_now_) {
                                    fprintf(stderr, "  %s d=%zu pt=%zu p=%zu win=%zu kh=%zu col %zu: %g vs %g\n",
                                            tabs[t]->isa, d, pt, pos[p], wins[w], kh, i, got[i], ref[i]);
                                }
                                CHECK(e <= 1e-5);
                                if (e > worst) worst = e;
                            }
                        }
                    }
            free(pool), free(q), free(ref), free(got), free(sc);
        }
    printf("  attend_cached_row: %zu ISA tables, worst absolute difference %.2e\n", nt, worst);
}
