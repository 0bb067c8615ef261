/* describe.c — tl_model_describe: architecture, parameters, dtypes and the kernel
 * sequence of one forward pass, as text (the `torchless inspect` output). */
#include "model/model.h"
#include "model/block.h"
#include "core/error.h"
#include "kernels/vec.h"
#include "model/precision.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct strbuf { char *p; size_t len, cap; int oom; } strbuf;

/* Appends printf-formatted text; sets oom on allocation failure. */
__attribute__((format(printf, 2, 3))) static void sb_printf(strbuf *b, const char *fmt, ...) {
    if (b->oom) return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
        va_end(ap);
        if (n < 0) { b->oom = 1; return; }
        if ((size_t)n < b->cap - b->len) { b->len += (size_t)n; return; }
        size_t cap = (b->cap + (size_t)n + 1) * 2;
        char *np = realloc(b->p, cap);
        if (!np) { b->oom = 1; return; }
        b->p = np;
        b->cap = cap;
    }
}

/* The decoder step of m (GPT-2 or Llama-style), one line per kernel. */
static void describe_decoder(strbuf *b, const tl_model *m) {
    const tl_arch *a = &m->arch;
    const int gpt2 = a->family->block == &tl_block_gpt2;
    const char *g = m->gemm->name, *norm = gpt2 ? "layernorm" : "rmsnorm";
    const size_t H = a->hidden, I = a->intermediate, n = a->q_dim + 2 * a->kv_dim;
    sb_printf(b, "block:        %s\n", a->family->block->name);
    sb_printf(b, "attention:    %zu query heads, %zu key/value heads, causal", a->n_heads, a->n_kv_heads);
    if (a->sliding_window) sb_printf(b, ", sliding window %zu", a->sliding_window);
    if (!gpt2) sb_printf(b, ", rope_theta %g", a->rope_theta);
    sb_printf(b, "\nlm_head:      %s\n", m->w.lm_head.w == m->w.word_emb ? "tied to the word embeddings" : "lm_head.weight");
    sb_printf(b, "\ndecode step (x is (T, %zu) over the T new tokens of a packed batch):\n", H);
    sb_printf(b, "  x = word[ids]%s                                     -> (T, %zu)\n", gpt2 ? " + pos[past + i]" : "", H);
    sb_printf(b, "  repeat %zu layers:\n", a->n_layers);
    sb_printf(b, "    h   = %s(x)\n", norm);
    sb_printf(b, "    qkv = linear_%s(h, Wqkv (%zu, %zu))%s             -> (T, %zu)\n", g, n, H, a->attn_bias || gpt2 ? " + b" : "", n);
    if (!gpt2) sb_printf(b, "    q, k = rope(q, k, positions past + i)\n");
    sb_printf(b, "    append k, v to the KV cache pages; ctx = attention_cached(q)  -> (T, %zu)\n", a->q_dim);
    sb_printf(b, "    x  += linear_%s(ctx, Wo (%zu, %zu))\n", g, H, a->q_dim);
    sb_printf(b, "    h   = %s(x)\n", norm);
    if (gpt2)
        sb_printf(b, "    x  += linear_%s(%s(linear_%s(h, W1 (%zu, %zu))), W2 (%zu, %zu))\n", g,
                  tl_activation_name(a->act), g, I, H, H, I);
    else
        sb_printf(b, "    x  += linear_%s(%s(gate) * up, Wdown (%zu, %zu)), gate | up = linear_%s(h, (%zu, %zu))\n",
                  g, tl_activation_name(a->act), H, I, g, 2 * I, H);
    sb_printf(b, "  x = %s(x); logits = linear_%s(x[last], lm_head (%zu, %zu))\n", norm, g, a->vocab_size, H);
}

char *tl_model_describe(const tl_model *m) {
    if (!m) { tl_set_error(TL_ERR_INVALID_ARG, "tl_model_describe: model is NULL"); return NULL; }
    const tl_arch *a = &m->arch;
    strbuf b = {malloc(1024), 0, 1024, 0};
    if (!b.p) { tl_set_error(TL_ERR_OOM, "out of memory"); return NULL; }
    char pool[128];
    tl_st_pooling_describe(&m->st_cfg, pool, sizeof pool);
    sb_printf(&b, "model:        %s\n", m->dir);
    sb_printf(&b, "model_type:   %s (weights prefix '%s')\n", a->model_type, m->w.prefix);
    sb_printf(&b, "layers:       %zu\nhidden:       %zu\nheads:        %zu x %zu\n", a->n_layers,
              a->hidden, a->n_heads, a->head_dim);
    sb_printf(&b, "ffn:          %zu, activation %s\n", a->intermediate, a->act_name);
    sb_printf(&b, "vocab:        %zu, max positions %zu (%zu tokens per sequence), token types %zu\n",
              a->vocab_size, a->max_positions, a->max_seq_len, a->type_vocab_size);
    if (a->has_emb_proj)
        sb_printf(&b, "embeddings:   %zu wide, projected to hidden %zu\n", a->embedding_size, a->hidden);
    if (a->n_layer_groups != a->n_layers)
        sb_printf(&b, "shared:       %zu layers share %zu weight group(s)\n", a->n_layers, a->n_layer_groups);
    sb_printf(&b, "parameters:   %zu (%.1f M, encoder weights used; heads and pooler not loaded)\n", m->w.n_params, m->w.n_params / 1e6);
    sb_printf(&b, "dtypes:       checkpoint %s; compute fp32 (%zu tensors converted at load, "
              "Q/K/V of %zu layers fused into one matrix each)\n",
              m->w.dtypes, m->w.n_converted, a->n_layers);
    const tl_accuracy_report *acc = &m->accuracy;
    sb_printf(&b, "precision:    %s for the encoder's linear layers (embeddings, norms, softmax, heads: fp32)\n",
              tl_precision_name(acc->precision));
    if (acc->checked)
        sb_printf(&b, "accuracy:     vs fp32 on %zu calibration tokens: max relative error %.6f, min cosine %.6f\n",
                  acc->n_tokens, acc->max_rel_error, acc->min_cosine);
    if (acc->checked && m->n_drift) {
        /* each linear layer against its fp32 twin on the same input: where the drift starts */
        sb_printf(&b, "per layer (each linear layer's output vs fp32 on the same input, worst token):\n");
        sb_printf(&b, "  %-6s %-9s %-9s %-12s %s\n", "layer", "linear", "precision", "min cosine", "max rel error");
        for (size_t i = 0; i < m->n_drift; i++) {
            const tl_layer_drift *d = &m->drift[i];
            char lay[16];
            if (d->layer >= 0) snprintf(lay, sizeof lay, "%d", d->layer);
            else snprintf(lay, sizeof lay, "-");
            if (d->precision == TL_PRECISION_FP32)
                sb_printf(&b, "  %-6s %-9s %-9s %-12s %s\n", lay, d->name, "fp32", "-", "-");
            else
                sb_printf(&b, "  %-6s %-9s %-9s %-12.6f %.6f\n", lay, d->name, tl_precision_name(d->precision),
                          d->min_cos, d->max_rel);
        }
    }
    sb_printf(&b, "gemm:         %s, %d threads; vector kernels: %s\n", m->gemm->name, m->n_threads,
              tl_vec()->isa);
    char cpu[256];
    sb_printf(&b, "cpu features: %s\n", tl_cpu_describe(tl_cpu_features(), cpu, sizeof cpu));
    const char *cap = getenv("TORCHLESS_ISA");
    if (cap && *cap && tl_cpu_usable() != tl_cpu_features())
        sb_printf(&b, "usable:       %s (TORCHLESS_ISA=%s)\n", tl_cpu_describe(tl_cpu_usable(), cpu, sizeof cpu), cap);
    const char *pb = tl_precision_path(TL_PRECISION_BF16), *pi = tl_precision_path(TL_PRECISION_INT8);
    sb_printf(&b, "native:       bf16 %s, int8 %s\n", pb ? pb : "no", pi ? pi : "no");
    if (m->gemm->impl)
        sb_printf(&b, "%s kernels: fp32 %s, bf16 %s, int8 %s\n", m->gemm->name, m->gemm->impl(TL_DTYPE_F32),
                  m->gemm->impl(TL_DTYPE_BF16), m->gemm->impl(TL_DTYPE_I8));
    sb_printf(&b, "tokenizer:    %s\n", m->tok ? "loaded" : "none");
    sb_printf(&b, "sentence-embedding: pooling %s%s%s\n", pool, m->st_cfg.normalize ? ", normalize" : "",
              m->st_cfg.present ? "" : " (no modules.json: defaults)");
    if (m->st_cfg.max_seq_length) sb_printf(&b, "max_seq_length: %zu\n", m->st_cfg.max_seq_length);
    if (a->family->block->decode) {
        describe_decoder(&b, m);
        if (b.oom) { free(b.p); tl_set_error(TL_ERR_OOM, "out of memory"); return NULL; }
        return b.p;
    }
    const size_t H = a->hidden, I = a->intermediate;
    sb_printf(&b, "\nforward (x is (T, %zu) over T packed tokens, no padding):\n", H);
    sb_printf(&b, "  x = embeddings_sum(word[ids] + type[tt] + pos[p])        -> (T, %zu)\n", a->embedding_size);
    sb_printf(&b, "  x = layernorm(x)\n");
    if (a->has_emb_proj)
        sb_printf(&b, "  x = linear_%s(x, Wproj (%zu, %zu)) + b                -> (T, %zu)\n", m->gemm->name, H,
                  a->embedding_size, H);
    sb_printf(&b, "  repeat %zu layers:\n", a->n_layers);
    sb_printf(&b, "    qkv = linear_%s(x, Wqkv (%zu, %zu)) + b            -> (T, %zu)\n", m->gemm->name, 3 * H, H, 3 * H);
    sb_printf(&b, "    ctx = attention(qkv, per sequence, %zu heads, softmax fused) -> (T, %zu)\n", a->n_heads, H);
    sb_printf(&b, "    t   = linear_%s(ctx, Wo (%zu, %zu)) + b\n", m->gemm->name, H, H);
    sb_printf(&b, "    x   = add_layernorm(x + t)\n");
    sb_printf(&b, "    f   = linear_%s(x, W1 (%zu, %zu)) + b              -> (T, %zu)\n", m->gemm->name, I, H, I);
    sb_printf(&b, "    f   = %s(f)\n", tl_activation_name(a->act));
    sb_printf(&b, "    t   = linear_%s(f, W2 (%zu, %zu)) + b\n", m->gemm->name, H, I);
    sb_printf(&b, "    x   = add_layernorm(x + t)\n");
    sb_printf(&b, "  sentence-embedding: pool(%s)%s\n", pool, m->st_cfg.normalize ? " -> l2_normalize" : "");
    if (b.oom) { free(b.p); tl_set_error(TL_ERR_OOM, "out of memory"); return NULL; }
    return b.p;
}
