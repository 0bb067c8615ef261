/* test_decoder.c — decoders through the public API on tiny random models built in memory
 * (tl_model_load_tensors): a step-by-step decode and a batched one give the logits of a
 * whole-sequence run, tl_generate's greedy output is the argmax chain, sampling is seeded,
 * and bad settings, a full cache and bad sequences fail with errors naming them. */
#include "torchless.h"
#include "tl_test.h"

#include <stdint.h>

static float g_data[64][40000];
static int64_t g_shapes[64][2];
static tl_tensor_view g_views[64];
static char g_names[64][96];
static size_t g_n;

/* Adds a random tensor (d0) or (d0, d1) named name (printf with layer l). */
static void add(const char *name, int l, int64_t d0, int64_t d1, float scale, float base) {
    uint32_t seed = (uint32_t)(g_n * 7919 + 17);
    size_t n = (size_t)d0 * (size_t)(d1 ? d1 : 1);
    for (size_t i = 0; i < n; i++) {
        seed = seed * 1664525u + 1013904223u;
        g_data[g_n][i] = base + scale * (float)((seed >> 8) / 16777216.0 * 2.0 - 1.0);
    }
    snprintf(g_names[g_n], sizeof g_names[g_n], name, l);
    g_shapes[g_n][0] = d0;
    g_shapes[g_n][1] = d1;
    g_views[g_n] = (tl_tensor_view){g_names[g_n], "F32", d1 ? 2 : 1, g_shapes[g_n], g_data[g_n]};
    g_n++;
}

/* A 2-layer GPT-2 (vocab 50, 32 wide, 4 heads, 40 positions). */
static tl_model *tiny_gpt2(void) {
    g_n = 0;
    add("wte.weight", 0, 50, 32, 0.5f, 0); add("wpe.weight", 0, 40, 32, 0.3f, 0);
    add("ln_f.weight", 0, 32, 0, 0.1f, 1); add("ln_f.bias", 0, 32, 0, 0.1f, 0);
    for (int l = 0; l < 2; l++) {
        add("h.%d.ln_1.weight", l, 32, 0, 0.1f, 1); add("h.%d.ln_1.bias", l, 32, 0, 0.1f, 0);
        add("h.%d.attn.c_attn.weight", l, 32, 96, 0.3f, 0); add("h.%d.attn.c_attn.bias", l, 96, 0, 0.1f, 0);
        add("h.%d.attn.c_proj.weight", l, 32, 32, 0.2f, 0); add("h.%d.attn.c_proj.bias", l, 32, 0, 0.1f, 0);
        add("h.%d.ln_2.weight", l, 32, 0, 0.1f, 1); add("h.%d.ln_2.bias", l, 32, 0, 0.1f, 0);
        add("h.%d.mlp.c_fc.weight", l, 32, 64, 0.2f, 0); add("h.%d.mlp.c_fc.bias", l, 64, 0, 0.1f, 0);
        add("h.%d.mlp.c_proj.weight", l, 64, 32, 0.2f, 0); add("h.%d.mlp.c_proj.bias", l, 32, 0, 0.1f, 0);
    }
    const char *cfg = "{\"model_type\": \"gpt2\", \"vocab_size\": 50, \"n_embd\": 32, \"n_layer\": 2, "
                      "\"n_head\": 4, \"n_inner\": 64, \"n_positions\": 40, \"eos_token_id\": 3}";
    tl_model *m = NULL;
    CHECK_OK(tl_model_load_tensors(cfg, g_views, g_n, NULL, &m));
    return m;
}

/* A 2-layer Llama with grouped-query attention (4 heads, 2 KV heads) and a window of 6. */
static tl_model *tiny_mistral(void) {
    g_n = 0;
    add("model.embed_tokens.weight", 0, 50, 32, 0.5f, 0); add("model.norm.weight", 0, 32, 0, 0.1f, 1);
    add("lm_head.weight", 0, 50, 32, 0.3f, 0);
    for (int l = 0; l < 2; l++) {
        add("model.layers.%d.input_layernorm.weight", l, 32, 0, 0.1f, 1);
        add("model.layers.%d.self_attn.q_proj.weight", l, 32, 32, 0.3f, 0);
        add("model.layers.%d.self_attn.k_proj.weight", l, 16, 32, 0.3f, 0);
        add("model.layers.%d.self_attn.v_proj.weight", l, 16, 32, 0.3f, 0);
        add("model.layers.%d.self_attn.o_proj.weight", l, 32, 32, 0.2f, 0);
        add("model.layers.%d.post_attention_layernorm.weight", l, 32, 0, 0.1f, 1);
        add("model.layers.%d.mlp.gate_proj.weight", l, 48, 32, 0.2f, 0);
        add("model.layers.%d.mlp.up_proj.weight", l, 48, 32, 0.2f, 0);
        add("model.layers.%d.mlp.down_proj.weight", l, 32, 48, 0.2f, 0);
    }
    const char *cfg = "{\"model_type\": \"mistral\", \"vocab_size\": 50, \"hidden_size\": 32, "
                      "\"num_hidden_layers\": 2, \"num_attention_heads\": 4, \"num_key_value_heads\": 2, "
                      "\"intermediate_size\": 48, \"max_position_embeddings\": 40, \"sliding_window\": 6}";
    tl_model *m = NULL;
    CHECK_OK(tl_model_load_tensors(cfg, g_views, g_n, NULL, &m));
    return m;
}

static const int32_t A[] = {5, 9, 1, 30, 22, 7, 7, 41, 2, 13, 8, 19}, B[] = {44, 3, 17, 28, 6};

/* Max |x - y| over n floats. */
static double maxdiff(const float *x, const float *y, size_t n) {
    double w = 0;
    for (size_t i = 0; i < n; i++) w = fmax(w, fabs(x[i] - y[i]));
    return w;
}

/* Whole-sequence logits equal a prefill + one-token steps, and a batched decode of two
 * sequences at different lengths equals each run alone. */
static void check_steps(tl_model *m) {
    const size_t V = 50, na = 12, nb = 5;
    tl_context *c;
    CHECK_OK(tl_context_new(m, NULL, &c));
    static float full_a[12 * 50], full_b[5 * 50], step[2 * 50];
    size_t la = na, lb = nb;
    tl_batch ba = {1, &la, A, NULL, NULL, NULL}, bb = {1, &lb, B, NULL, NULL, NULL};
    CHECK_OK(tl_context_logits(c, &ba, full_a, sizeof full_a / 4));
    CHECK_OK(tl_context_logits(c, &bb, full_b, sizeof full_b / 4));
    int32_t sa, sb;
    CHECK_OK(tl_context_seq_new(c, &sa));
    CHECK_OK(tl_context_seq_new(c, &sb));
    size_t p3[2] = {3, 2};
    int32_t ids[2] = {sa, sb}, first[5] = {A[0], A[1], A[2], B[0], B[1]};
    tl_batch pre = {2, p3, first, NULL, NULL, NULL};
    CHECK_OK(tl_context_decode(c, ids, &pre, 0, step, 2 * V));
    CHECK(maxdiff(step, full_a + 2 * V, V) < 1e-5 && maxdiff(step + V, full_b + 1 * V, V) < 1e-5);
    for (size_t t = 3; t < na; t++) {
        size_t one[2] = {1, 1};
        int32_t tok[2] = {A[t], t < nb + 1 ? B[t - 1] : 0};
        size_t n = t - 1 < nb ? 2 : 1; /* b ends first: the batch shrinks */
        tl_batch sbat = {n, one, tok, NULL, NULL, NULL};
        if (n == 2) tok[1] = B[t - 1];
        CHECK_OK(tl_context_decode(c, ids, &sbat, 0, step, 2 * V));
        CHECK(maxdiff(step, full_a + t * V, V) < 1e-5);
        if (n == 2) CHECK(maxdiff(step + V, full_b + (t - 1) * V, V) < 1e-5);
    }
    CHECK(tl_context_seq_length(c, sa) == na && tl_context_seq_length(c, sb) == nb);
    /* errors: a sequence twice, one not live, position ids given */
    size_t one2[2] = {1, 1};
    int32_t twice[2] = {sa, sa}, tok2[2] = {1, 2};
    tl_batch b2 = {2, one2, tok2, NULL, NULL, NULL};
    CHECK(tl_context_decode(c, twice, &b2, 0, step, 2 * V) == TL_ERR_INVALID_ARG);
    CHECK(strstr(tl_last_error(), "twice") != NULL);
    int32_t dead = 99;
    CHECK(tl_context_decode(c, &dead, &ba, 0, step, V) == TL_ERR_INVALID_ARG);
    CHECK(strstr(tl_last_error(), "not live") != NULL);
    tl_batch bp = ba;
    bp.position_ids = A;
    CHECK(tl_context_decode(c, &sa, &bp, 0, step, V) == TL_ERR_INVALID_ARG);
    CHECK(tl_context_seq_length(c, sa) == na); /* failed steps appended nothing */
    CHECK_OK(tl_context_seq_free(c, sa));
    CHECK_OK(tl_context_seq_free(c, sb));
    tl_context_free(c);
}

TL_TEST(gpt2_steps_equal_whole_sequence_logits) {
    tl_model *m = tiny_gpt2();
    if (m) check_steps(m);
    tl_model_free(m);
}

TL_TEST(mistral_gqa_window_steps_equal_whole_sequence_logits) {
    tl_model *m = tiny_mistral();
    if (m) check_steps(m);
    tl_model_free(m);
}

TL_TEST(generate_greedy_is_the_argmax_chain_and_sampling_is_seeded) {
    tl_model *m = tiny_gpt2();
    if (!m) return;
    tl_context *c;
    CHECK_OK(tl_context_new(m, NULL, &c));
    size_t lens[2] = {12, 5}, n_out[2];
    int32_t prompts[17], out[2 * 8], out2[2 * 8];
    memcpy(prompts, A, sizeof A);
    memcpy(prompts + 12, B, sizeof B);
    tl_batch b = {2, lens, prompts, NULL, NULL, NULL};
    tl_generate_params p = tl_generate_default_params();
    p.max_new_tokens = 8;
    CHECK_OK(tl_generate(c, &b, &p, out, 16, n_out));
    CHECK(n_out[0] == 8 && n_out[1] == 8);
    /* the argmax chain of whole-sequence logits, sequence b alone */
    int32_t seq[20];
    memcpy(seq, B, sizeof B);
    static float lg[20 * 50];
    for (size_t k = 0; k < 8; k++) {
        size_t len = 5 + k;
        tl_batch one = {1, &len, seq, NULL, NULL, NULL};
        CHECK_OK(tl_context_logits(c, &one, lg, sizeof lg / 4));
        int32_t best = 0;
        for (int32_t v = 1; v < 50; v++)
            if (lg[(len - 1) * 50 + v] > lg[(len - 1) * 50 + best]) best = v;
        seq[len] = best;
        CHECK(out[8 + k] == best);
    }
    /* eos stops a sequence (kept), the rest of its row is -1 */
    int32_t eos = out[2];
    p.eos_ids = &eos;
    p.n_eos = 1;
    CHECK_OK(tl_generate(c, &b, &p, out2, 16, n_out));
    CHECK(n_out[0] <= 3 && out2[n_out[0] - 1] == eos && out2[7] == -1);
    /* top_k 1 is greedy; equal seeds give equal samples */
    p.n_eos = 0;
    p.do_sample = 1;
    p.top_k = 1;
    CHECK_OK(tl_generate(c, &b, &p, out2, 16, n_out));
    CHECK(memcmp(out, out2, sizeof out) == 0);
    p.top_k = 0; p.top_p = 0.8f; p.temperature = 2.0f; p.seed = 42; p.repetition_penalty = 1.2f;
    int32_t s1[16], s2[16];
    CHECK_OK(tl_generate(c, &b, &p, s1, 16, n_out));
    CHECK_OK(tl_generate(c, &b, &p, s2, 16, n_out));
    CHECK(memcmp(s1, s2, sizeof s1) == 0);
    /* invalid settings, named */
    tl_generate_params bad = p;
    bad.top_p = 0.0f;
    CHECK(tl_generate(c, &b, &bad, s1, 16, n_out) == TL_ERR_INVALID_ARG && strstr(tl_last_error(), "top_p"));
    bad = p; bad.temperature = -1.0f;
    CHECK(tl_generate(c, &b, &bad, s1, 16, n_out) == TL_ERR_INVALID_ARG && strstr(tl_last_error(), "temperature"));
    bad = p; bad.max_new_tokens = 40;
    CHECK(tl_generate(c, &b, &bad, s1, 16, n_out) == TL_ERR_INVALID_ARG && strstr(tl_last_error(), "max_new_tokens"));
    CHECK(tl_generate(c, &b, &p, s1, 15, n_out) == TL_ERR_INVALID_ARG); /* out too small */
    size_t empty[2] = {12, 0};
    tl_batch be = {2, empty, prompts, NULL, NULL, NULL};
    CHECK(tl_generate(c, &be, &p, s1, 16, n_out) == TL_ERR_INVALID_ARG && strstr(tl_last_error(), "prompt 1 is empty"));
    tl_context_free(c);
    tl_model_free(m);
}

/* on_token: records (seq, token, logprob) and ends sequence 1 after its 3rd token. */
typedef struct seen_tokens { size_t n; size_t seq[32]; int32_t tok[32]; float lp[32]; int per[2]; } seen_tokens;
static int record_token(void *user, size_t seq, int32_t token, float logprob) {
    seen_tokens *s = user;
    if (s->n < 32) { s->seq[s->n] = seq; s->tok[s->n] = token; s->lp[s->n++] = logprob; }
    return seq == 1 && ++s->per[1] == 3;
}

TL_TEST(generate_options_ngrams_min_p_min_new_tokens_logprobs_callback_bos) {
    tl_model *m = tiny_gpt2();
    if (!m) return;
    tl_context *c;
    CHECK_OK(tl_context_new(m, NULL, &c));
    size_t lens[2] = {12, 5}, n_out[2];
    int32_t prompts[17], out[2 * 8], out2[2 * 8];
    float lp[16];
    memcpy(prompts, A, sizeof A);
    memcpy(prompts + 12, B, sizeof B);
    tl_batch b = {2, lens, prompts, NULL, NULL, NULL};
    tl_generate_params p = tl_generate_default_params();
    p.max_new_tokens = 8;
    p.out_logprobs = lp;
    CHECK_OK(tl_generate(c, &b, &p, out, 16, n_out));
    for (int k = 0; k < 16; k++) CHECK(lp[k] <= 0 && lp[k] > -100);
    /* no 1-gram repeats: every new token differs from the prompt's and the others' */
    p.no_repeat_ngram_size = 1;
    CHECK_OK(tl_generate(c, &b, &p, out2, 16, n_out));
    for (int k = 0; k < 8; k++) {
        for (int j = 0; j < 5; j++) CHECK(out2[8 + k] != B[j]);
        for (int j = 0; j < k; j++) CHECK(out2[8 + k] != out2[8 + j]);
    }
    /* min_new_tokens bans eos until then */
    p.no_repeat_ngram_size = 0;
    int32_t eos = out[0];
    p.eos_ids = &eos;
    p.n_eos = 1;
    p.min_new_tokens = 3;
    CHECK_OK(tl_generate(c, &b, &p, out2, 16, n_out));
    CHECK(n_out[0] >= 3 && out2[0] != eos && out2[1] != eos);
    p.n_eos = 0;
    p.min_new_tokens = 0;
    /* min_p 1 keeps the top token only: greedy */
    p.do_sample = 1; p.temperature = 1.7f; p.min_p = 1.0f; p.seed = 9;
    CHECK_OK(tl_generate(c, &b, &p, out2, 16, n_out));
    CHECK(memcmp(out, out2, sizeof out) == 0);
    for (int k = 0; k < 16; k++) CHECK(fabsf(lp[k]) < 1e-6f); /* the only candidate */
    p.min_p = 0.1f;
    CHECK_OK(tl_generate(c, &b, &p, out2, 16, n_out));
    p.min_p = 1.5f;
    CHECK(tl_generate(c, &b, &p, out2, 16, n_out) == TL_ERR_INVALID_ARG && strstr(tl_last_error(), "min_p"));
    p.min_p = 0.0f; p.do_sample = 0;
    /* the callback sees every token in order and can end a sequence */
    seen_tokens st = {0};
    p.on_token = record_token;
    p.user_data = &st;
    CHECK_OK(tl_generate(c, &b, &p, out2, 16, n_out));
    CHECK(n_out[0] == 8 && n_out[1] == 3 && st.n == 11);
    CHECK(memcmp(out2, out, 8 * sizeof *out) == 0 && memcmp(out2 + 8, out + 8, 3 * sizeof *out) == 0);
    size_t k0 = 0;
    for (size_t i = 0; i < st.n; i++)
        if (st.seq[i] == 0) { CHECK(st.tok[i] == out[k0] && st.lp[i] == lp[k0]); k0++; }
    p.on_token = NULL;
    /* an empty prompt starts from bos; without one it is an error */
    size_t empty[2] = {12, 0};
    tl_batch be = {2, empty, prompts, NULL, NULL, NULL};
    p.bos_token_id = B[0];
    CHECK_OK(tl_generate(c, &be, &p, out2, 16, n_out));
    size_t one = 1;
    tl_batch bb = {1, &one, B, NULL, NULL, NULL};
    int32_t from_bos[8];
    CHECK_OK(tl_generate(c, &bb, &p, from_bos, 8, n_out));
    CHECK(memcmp(out2 + 8, from_bos, sizeof from_bos) == 0);
    p.bos_token_id = -1;
    CHECK(tl_generate(c, &be, &p, out2, 16, n_out) == TL_ERR_INVALID_ARG &&
          strstr(tl_last_error(), "no bos_token_id"));
    /* stop strings need a tokenizer; empty ones are refused */
    const char *stops[1] = {"x"};
    p.stop_strings = stops;
    p.n_stop_strings = 1;
    CHECK(tl_generate(c, &b, &p, out2, 16, n_out) == TL_ERR_INVALID_ARG && strstr(tl_last_error(), "tokenizer"));
    stops[0] = "";
    CHECK(tl_generate(c, &b, &p, out2, 16, n_out) == TL_ERR_INVALID_ARG && strstr(tl_last_error(), "empty"));
    tl_context_free(c);
    tl_model_free(m);
}

TL_TEST(a_full_kv_cache_is_an_error_that_changes_nothing) {
    tl_model *m = tiny_gpt2();
    if (!m) return;
    tl_context_params cp = tl_context_default_params();
    cp.kv_cache_tokens = 20; /* 2 pages of 16 */
    tl_context *c;
    CHECK_OK(tl_context_new(m, &cp, &c));
    CHECK(tl_context_kv_capacity(c) == 32);
    size_t lens[2] = {12, 5}, n_out[2];
    int32_t prompts[17], out[2 * 8];
    memcpy(prompts, A, sizeof A);
    memcpy(prompts + 12, B, sizeof B);
    tl_batch b = {2, lens, prompts, NULL, NULL, NULL};
    tl_generate_params p = tl_generate_default_params();
    p.max_new_tokens = 8; /* 19 + 12 tokens fit, but in 3 pages */
    CHECK(tl_generate(c, &b, &p, out, 16, n_out) == TL_ERR_INVALID_ARG);
    CHECK(strstr(tl_last_error(), "kv_cache_tokens") != NULL);
    p.max_new_tokens = 4;
    CHECK_OK(tl_generate(c, &b, &p, out, 16, n_out));
    /* a live sequence keeps its tokens when another one's step does not fit */
    int32_t s1, s2;
    static float lg[30 * 50];
    size_t l1 = 12, l2 = 17;
    tl_batch b1 = {1, &l1, A, NULL, NULL, NULL};
    int32_t big[17] = {0};
    tl_batch b2 = {1, &l2, big, NULL, NULL, NULL};
    CHECK_OK(tl_context_seq_new(c, &s1));
    CHECK_OK(tl_context_seq_new(c, &s2));
    CHECK_OK(tl_context_decode(c, &s1, &b1, 0, lg, 50));
    CHECK(tl_context_decode(c, &s2, &b2, 0, lg, 50) == TL_ERR_INVALID_ARG);
    CHECK(strstr(tl_last_error(), "KV cache full") != NULL);
    CHECK(tl_context_seq_length(c, s1) == 12 && tl_context_seq_length(c, s2) == 0);
    CHECK_OK(tl_context_seq_free(c, s1));
    CHECK_OK(tl_context_decode(c, &s2, &b2, 0, lg, 50));
    tl_context_free(c);
    tl_model_free(m);
}
