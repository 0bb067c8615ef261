/* families.c — the table of supported encoder families: config.json key names, block
 * kind and the tensor-name template of each role. A new family of a known block kind is
 * one entry here. */
#include "model/arch.h"
#include "model/block.h"

#include <stdio.h>
#include <string.h>

/* config.json keys as BertConfig (and most encoder configs) name them. */
#define TL_BERT_KEYS                                                                     \
    {.vocab = "vocab_size", .hidden = "hidden_size", .layers = "num_hidden_layers",      \
     .heads = "num_attention_heads", .intermediate = "intermediate_size",                \
     .max_positions = "max_position_embeddings", .type_vocab = "type_vocab_size",        \
     .ln_eps = "layer_norm_eps", .act = "hidden_act", .embedding_size = NULL,            \
     .default_act = "gelu"}

/* BERT's embedding tensor names (also RoBERTa's, ELECTRA's, ALBERT's). */
#define TL_BERT_EMBEDDING_NAMES                                                          \
    [TL_ROLE_WORD_EMB] = "embeddings.word_embeddings.weight",                                     \
    [TL_ROLE_POS_EMB] = "embeddings.position_embeddings.weight",                                  \
    [TL_ROLE_TYPE_EMB] = "embeddings.token_type_embeddings.weight",                               \
    [TL_ROLE_EMB_LN_W] = "embeddings.LayerNorm.weight", [TL_ROLE_EMB_LN_B] = "embeddings.LayerNorm.bias"

/* BERT's layer tensor names (also RoBERTa's and ELECTRA's). */
#define TL_BERT_LAYER_NAMES                                                              \
    [TL_ROLE_Q_W] = "encoder.layer.%d.attention.self.query.weight",                               \
    [TL_ROLE_Q_B] = "encoder.layer.%d.attention.self.query.bias",                                 \
    [TL_ROLE_K_W] = "encoder.layer.%d.attention.self.key.weight",                                 \
    [TL_ROLE_K_B] = "encoder.layer.%d.attention.self.key.bias",                                   \
    [TL_ROLE_V_W] = "encoder.layer.%d.attention.self.value.weight",                               \
    [TL_ROLE_V_B] = "encoder.layer.%d.attention.self.value.bias",                                 \
    [TL_ROLE_ATTN_OUT_W] = "encoder.layer.%d.attention.output.dense.weight",                      \
    [TL_ROLE_ATTN_OUT_B] = "encoder.layer.%d.attention.output.dense.bias",                        \
    [TL_ROLE_ATTN_LN_W] = "encoder.layer.%d.attention.output.LayerNorm.weight",                   \
    [TL_ROLE_ATTN_LN_B] = "encoder.layer.%d.attention.output.LayerNorm.bias",                     \
    [TL_ROLE_FFN_IN_W] = "encoder.layer.%d.intermediate.dense.weight",                            \
    [TL_ROLE_FFN_IN_B] = "encoder.layer.%d.intermediate.dense.bias",                              \
    [TL_ROLE_FFN_OUT_W] = "encoder.layer.%d.output.dense.weight",                                 \
    [TL_ROLE_FFN_OUT_B] = "encoder.layer.%d.output.dense.bias",                                   \
    [TL_ROLE_FFN_LN_W] = "encoder.layer.%d.output.LayerNorm.weight",                              \
    [TL_ROLE_FFN_LN_B] = "encoder.layer.%d.output.LayerNorm.bias"

/* A RoBERTa-family entry: BERT names under `prefix`, positions offset by padding_idx. */
#define TL_ROBERTA_LIKE(type, prefix)                                                    \
    {.model_type = type, .prefixes = {prefix, "", NULL}, .positions = TL_POS_ABSOLUTE_PADDED, \
     .block = &tl_block_post_norm, .keys = TL_BERT_KEYS,                                 \
     .names = {TL_BERT_EMBEDDING_NAMES, TL_BERT_LAYER_NAMES}}

#define TL_ALBERT_LAYER(name) "encoder.albert_layer_groups.%d.albert_layers.0." name

#define TL_MPNET_LAYER(name) "encoder.layer.%d." name

/* Llama-style decoders (llama, mistral, qwen2): one block kind, names under "model."; the
 * Q / K / V / O biases are bound only where config.json's attention_bias (qwen2: always
 * Q, K, V) says they exist. */
#define TL_LLAMA_NAMES                                                                   \
    [TL_ROLE_WORD_EMB] = "embed_tokens.weight", [TL_ROLE_FINAL_LN_W] = "norm.weight",   \
    [TL_ROLE_LM_HEAD] = "lm_head.weight",                                                \
    [TL_ROLE_ATTN_LN_W] = "layers.%d.input_layernorm.weight",                            \
    [TL_ROLE_Q_W] = "layers.%d.self_attn.q_proj.weight", [TL_ROLE_Q_B] = "layers.%d.self_attn.q_proj.bias", \
    [TL_ROLE_K_W] = "layers.%d.self_attn.k_proj.weight", [TL_ROLE_K_B] = "layers.%d.self_attn.k_proj.bias", \
    [TL_ROLE_V_W] = "layers.%d.self_attn.v_proj.weight", [TL_ROLE_V_B] = "layers.%d.self_attn.v_proj.bias", \
    [TL_ROLE_ATTN_OUT_W] = "layers.%d.self_attn.o_proj.weight",                          \
    [TL_ROLE_FFN_LN_W] = "layers.%d.post_attention_layernorm.weight",                    \
    [TL_ROLE_GATE_W] = "layers.%d.mlp.gate_proj.weight", [TL_ROLE_UP_W] = "layers.%d.mlp.up_proj.weight", \
    [TL_ROLE_FFN_OUT_W] = "layers.%d.mlp.down_proj.weight"

#define TL_LLAMA_LIKE(type, ...)                                                      \
    {.model_type = type, .prefixes = {"model.", "", NULL}, .positions = TL_POS_ROTARY,  \
     .block = &tl_block_llama,                                                           \
     .keys = {.vocab = "vocab_size", .hidden = "hidden_size", .layers = "num_hidden_layers", \
              .heads = "num_attention_heads", .intermediate = "intermediate_size",       \
              .max_positions = "max_position_embeddings", .type_vocab = NULL,            \
              .ln_eps = "rms_norm_eps", .act = "hidden_act", .embedding_size = NULL,      \
              .default_act = "silu", .default_ln_eps = 1e-6},                            \
     .names = {__VA_ARGS__}}

static const tl_family tl_families[] = {
    {.model_type = "bert", .prefixes = {"bert.", "", NULL}, .positions = TL_POS_ABSOLUTE,
     .block = &tl_block_post_norm, .keys = TL_BERT_KEYS,
     .names = {TL_BERT_EMBEDDING_NAMES, TL_BERT_LAYER_NAMES}},
    TL_ROBERTA_LIKE("roberta", "roberta."),
    TL_ROBERTA_LIKE("xlm-roberta", "roberta."),
    TL_ROBERTA_LIKE("camembert", "roberta."),
    {.model_type = "electra", .prefixes = {"electra.", "", NULL}, .positions = TL_POS_ABSOLUTE,
     .block = &tl_block_post_norm,
     .keys = {.vocab = "vocab_size", .hidden = "hidden_size", .layers = "num_hidden_layers",
              .heads = "num_attention_heads", .intermediate = "intermediate_size",
              .max_positions = "max_position_embeddings", .type_vocab = "type_vocab_size",
              .ln_eps = "layer_norm_eps", .act = "hidden_act", .embedding_size = "embedding_size",
              .default_act = "gelu"},
     .names = {TL_BERT_EMBEDDING_NAMES, [TL_ROLE_EMB_PROJ_W] = "embeddings_project.weight",
     [TL_ROLE_EMB_PROJ_B] = "embeddings_project.bias", TL_BERT_LAYER_NAMES}},
    {.model_type = "distilbert", .prefixes = {"distilbert.", "", NULL}, .positions = TL_POS_ABSOLUTE,
     .block = &tl_block_post_norm,
     .keys = {.vocab = "vocab_size", .hidden = "dim", .layers = "n_layers", .heads = "n_heads",
              .intermediate = "hidden_dim", .max_positions = "max_position_embeddings",
              .type_vocab = NULL, .ln_eps = NULL, .act = "activation", .embedding_size = NULL,
              .default_act = "gelu"},
     .names = {[TL_ROLE_WORD_EMB] = "embeddings.word_embeddings.weight",
     [TL_ROLE_POS_EMB] = "embeddings.position_embeddings.weight", [TL_ROLE_EMB_LN_W] = "embeddings.LayerNorm.weight", [TL_ROLE_EMB_LN_B] = "embeddings.LayerNorm.bias",
     [TL_ROLE_Q_W] = "transformer.layer.%d.attention.q_lin.weight", [TL_ROLE_Q_B] = "transformer.layer.%d.attention.q_lin.bias",
     [TL_ROLE_K_W] = "transformer.layer.%d.attention.k_lin.weight", [TL_ROLE_K_B] = "transformer.layer.%d.attention.k_lin.bias",
     [TL_ROLE_V_W] = "transformer.layer.%d.attention.v_lin.weight", [TL_ROLE_V_B] = "transformer.layer.%d.attention.v_lin.bias",
     [TL_ROLE_ATTN_OUT_W] = "transformer.layer.%d.attention.out_lin.weight",
     [TL_ROLE_ATTN_OUT_B] = "transformer.layer.%d.attention.out_lin.bias",
     [TL_ROLE_ATTN_LN_W] = "transformer.layer.%d.sa_layer_norm.weight",
     [TL_ROLE_ATTN_LN_B] = "transformer.layer.%d.sa_layer_norm.bias",
     [TL_ROLE_FFN_IN_W] = "transformer.layer.%d.ffn.lin1.weight", [TL_ROLE_FFN_IN_B] = "transformer.layer.%d.ffn.lin1.bias",
     [TL_ROLE_FFN_OUT_W] = "transformer.layer.%d.ffn.lin2.weight", [TL_ROLE_FFN_OUT_B] = "transformer.layer.%d.ffn.lin2.bias",
     [TL_ROLE_FFN_LN_W] = "transformer.layer.%d.output_layer_norm.weight",
     [TL_ROLE_FFN_LN_B] = "transformer.layer.%d.output_layer_norm.bias"}},
    /* transformers' MPNetEmbeddings hard-codes padding_idx = 1 */
    {.model_type = "mpnet", .prefixes = {"mpnet.", "", NULL}, .positions = TL_POS_ABSOLUTE_PADDED,
     .block = &tl_block_post_norm, .fixed_padding_idx = 1,
     .keys = {.vocab = "vocab_size", .hidden = "hidden_size", .layers = "num_hidden_layers",
              .heads = "num_attention_heads", .intermediate = "intermediate_size",
              .max_positions = "max_position_embeddings", .type_vocab = NULL,
              .ln_eps = "layer_norm_eps", .act = "hidden_act", .embedding_size = NULL,
              .default_act = "gelu"},
     .names = {[TL_ROLE_WORD_EMB] = "embeddings.word_embeddings.weight",
     [TL_ROLE_POS_EMB] = "embeddings.position_embeddings.weight", [TL_ROLE_EMB_LN_W] = "embeddings.LayerNorm.weight", [TL_ROLE_EMB_LN_B] = "embeddings.LayerNorm.bias",
     [TL_ROLE_REL_BIAS] = "encoder.relative_attention_bias.weight",
     [TL_ROLE_Q_W] = TL_MPNET_LAYER("attention.attn.q.weight"), [TL_ROLE_Q_B] = TL_MPNET_LAYER("attention.attn.q.bias"),
     [TL_ROLE_K_W] = TL_MPNET_LAYER("attention.attn.k.weight"), [TL_ROLE_K_B] = TL_MPNET_LAYER("attention.attn.k.bias"),
     [TL_ROLE_V_W] = TL_MPNET_LAYER("attention.attn.v.weight"), [TL_ROLE_V_B] = TL_MPNET_LAYER("attention.attn.v.bias"),
     [TL_ROLE_ATTN_OUT_W] = TL_MPNET_LAYER("attention.attn.o.weight"),
     [TL_ROLE_ATTN_OUT_B] = TL_MPNET_LAYER("attention.attn.o.bias"),
     [TL_ROLE_ATTN_LN_W] = TL_MPNET_LAYER("attention.LayerNorm.weight"),
     [TL_ROLE_ATTN_LN_B] = TL_MPNET_LAYER("attention.LayerNorm.bias"),
     [TL_ROLE_FFN_IN_W] = TL_MPNET_LAYER("intermediate.dense.weight"),
     [TL_ROLE_FFN_IN_B] = TL_MPNET_LAYER("intermediate.dense.bias"),
     [TL_ROLE_FFN_OUT_W] = TL_MPNET_LAYER("output.dense.weight"), [TL_ROLE_FFN_OUT_B] = TL_MPNET_LAYER("output.dense.bias"),
     [TL_ROLE_FFN_LN_W] = TL_MPNET_LAYER("output.LayerNorm.weight"),
     [TL_ROLE_FFN_LN_B] = TL_MPNET_LAYER("output.LayerNorm.bias")}},
    {.model_type = "deberta-v2", .prefixes = {"deberta.", "", NULL}, .positions = TL_POS_ABSOLUTE,
     .block = &tl_block_deberta,
     .keys = {.vocab = "vocab_size", .hidden = "hidden_size", .layers = "num_hidden_layers",
              .heads = "num_attention_heads", .intermediate = "intermediate_size",
              .max_positions = "max_position_embeddings", .type_vocab = "type_vocab_size",
              .ln_eps = "layer_norm_eps", .act = "hidden_act", .embedding_size = "embedding_size",
              .default_act = "gelu", .default_ln_eps = 1e-7, .no_types_by_default = 1},
     .names = {TL_BERT_EMBEDDING_NAMES, [TL_ROLE_EMB_PROJ_W] = "embeddings.embed_proj.weight",
     [TL_ROLE_REL_EMB] = "encoder.rel_embeddings.weight", [TL_ROLE_REL_LN_W] = "encoder.LayerNorm.weight",
     [TL_ROLE_REL_LN_B] = "encoder.LayerNorm.bias",
     [TL_ROLE_POS_K_W] = "encoder.layer.%d.attention.self.pos_key_proj.weight",
     [TL_ROLE_POS_K_B] = "encoder.layer.%d.attention.self.pos_key_proj.bias",
     [TL_ROLE_POS_Q_W] = "encoder.layer.%d.attention.self.pos_query_proj.weight",
     [TL_ROLE_POS_Q_B] = "encoder.layer.%d.attention.self.pos_query_proj.bias",
     [TL_ROLE_Q_W] = "encoder.layer.%d.attention.self.query_proj.weight",
     [TL_ROLE_Q_B] = "encoder.layer.%d.attention.self.query_proj.bias",
     [TL_ROLE_K_W] = "encoder.layer.%d.attention.self.key_proj.weight",
     [TL_ROLE_K_B] = "encoder.layer.%d.attention.self.key_proj.bias",
     [TL_ROLE_V_W] = "encoder.layer.%d.attention.self.value_proj.weight",
     [TL_ROLE_V_B] = "encoder.layer.%d.attention.self.value_proj.bias",
     [TL_ROLE_ATTN_OUT_W] = "encoder.layer.%d.attention.output.dense.weight",
     [TL_ROLE_ATTN_OUT_B] = "encoder.layer.%d.attention.output.dense.bias",
     [TL_ROLE_ATTN_LN_W] = "encoder.layer.%d.attention.output.LayerNorm.weight",
     [TL_ROLE_ATTN_LN_B] = "encoder.layer.%d.attention.output.LayerNorm.bias",
     [TL_ROLE_FFN_IN_W] = "encoder.layer.%d.intermediate.dense.weight",
     [TL_ROLE_FFN_IN_B] = "encoder.layer.%d.intermediate.dense.bias",
     [TL_ROLE_FFN_OUT_W] = "encoder.layer.%d.output.dense.weight",
     [TL_ROLE_FFN_OUT_B] = "encoder.layer.%d.output.dense.bias",
     [TL_ROLE_FFN_LN_W] = "encoder.layer.%d.output.LayerNorm.weight",
     [TL_ROLE_FFN_LN_B] = "encoder.layer.%d.output.LayerNorm.bias"}},
    {.model_type = "modernbert", .prefixes = {"model.", "", NULL}, .positions = TL_POS_ROTARY,
     .block = &tl_block_modernbert,
     .keys = {.vocab = "vocab_size", .hidden = "hidden_size", .layers = "num_hidden_layers",
              .heads = "num_attention_heads", .intermediate = "intermediate_size",
              .max_positions = "max_position_embeddings", .type_vocab = NULL,
              .ln_eps = "norm_eps", .act = "hidden_activation", .embedding_size = NULL,
              .default_act = "gelu", .default_ln_eps = 1e-5},
     .names = {[TL_ROLE_WORD_EMB] = "embeddings.tok_embeddings.weight", [TL_ROLE_EMB_LN_W] = "embeddings.norm.weight", [TL_ROLE_EMB_LN_B] = "embeddings.norm.bias",
     [TL_ROLE_FINAL_LN_W] = "final_norm.weight", [TL_ROLE_FINAL_LN_B] = "final_norm.bias",
     [TL_ROLE_QKV_W] = "layers.%d.attn.Wqkv.weight", [TL_ROLE_QKV_B] = "layers.%d.attn.Wqkv.bias",
     [TL_ROLE_ATTN_OUT_W] = "layers.%d.attn.Wo.weight", [TL_ROLE_ATTN_OUT_B] = "layers.%d.attn.Wo.bias",
     [TL_ROLE_ATTN_LN_W] = "layers.%d.attn_norm.weight", [TL_ROLE_ATTN_LN_B] = "layers.%d.attn_norm.bias",
     [TL_ROLE_FFN_IN_W] = "layers.%d.mlp.Wi.weight", [TL_ROLE_FFN_IN_B] = "layers.%d.mlp.Wi.bias",
     [TL_ROLE_FFN_OUT_W] = "layers.%d.mlp.Wo.weight", [TL_ROLE_FFN_OUT_B] = "layers.%d.mlp.Wo.bias",
     [TL_ROLE_FFN_LN_W] = "layers.%d.mlp_norm.weight", [TL_ROLE_FFN_LN_B] = "layers.%d.mlp_norm.bias"}},
    {.model_type = "albert", .prefixes = {"albert.", "", NULL}, .positions = TL_POS_ABSOLUTE,
     .block = &tl_block_albert,
     .keys = {.vocab = "vocab_size", .hidden = "hidden_size", .layers = "num_hidden_layers",
              .heads = "num_attention_heads", .intermediate = "intermediate_size",
              .max_positions = "max_position_embeddings", .type_vocab = "type_vocab_size",
              .ln_eps = "layer_norm_eps", .act = "hidden_act", .embedding_size = "embedding_size",
              .default_act = "gelu_new"},
     .names = {TL_BERT_EMBEDDING_NAMES,
     [TL_ROLE_EMB_PROJ_W] = "encoder.embedding_hidden_mapping_in.weight",
     [TL_ROLE_EMB_PROJ_B] = "encoder.embedding_hidden_mapping_in.bias",
     [TL_ROLE_Q_W] = TL_ALBERT_LAYER("attention.query.weight"), [TL_ROLE_Q_B] = TL_ALBERT_LAYER("attention.query.bias"),
     [TL_ROLE_K_W] = TL_ALBERT_LAYER("attention.key.weight"), [TL_ROLE_K_B] = TL_ALBERT_LAYER("attention.key.bias"),
     [TL_ROLE_V_W] = TL_ALBERT_LAYER("attention.value.weight"), [TL_ROLE_V_B] = TL_ALBERT_LAYER("attention.value.bias"),
     [TL_ROLE_ATTN_OUT_W] = TL_ALBERT_LAYER("attention.dense.weight"),
     [TL_ROLE_ATTN_OUT_B] = TL_ALBERT_LAYER("attention.dense.bias"),
     [TL_ROLE_ATTN_LN_W] = TL_ALBERT_LAYER("attention.LayerNorm.weight"),
     [TL_ROLE_ATTN_LN_B] = TL_ALBERT_LAYER("attention.LayerNorm.bias"),
     [TL_ROLE_FFN_IN_W] = TL_ALBERT_LAYER("ffn.weight"), [TL_ROLE_FFN_IN_B] = TL_ALBERT_LAYER("ffn.bias"),
     [TL_ROLE_FFN_OUT_W] = TL_ALBERT_LAYER("ffn_output.weight"), [TL_ROLE_FFN_OUT_B] = TL_ALBERT_LAYER("ffn_output.bias"),
     [TL_ROLE_FFN_LN_W] = TL_ALBERT_LAYER("full_layer_layer_norm.weight"),
     [TL_ROLE_FFN_LN_B] = TL_ALBERT_LAYER("full_layer_layer_norm.bias")}},
    /* decoders */
    {.model_type = "gpt2", .prefixes = {"transformer.", "", NULL}, .positions = TL_POS_ABSOLUTE,
     .block = &tl_block_gpt2,
     .keys = {.vocab = "vocab_size", .hidden = "n_embd", .layers = "n_layer", .heads = "n_head",
              .intermediate = NULL, .max_positions = "n_positions", .type_vocab = NULL,
              .ln_eps = "layer_norm_epsilon", .act = "activation_function", .embedding_size = NULL,
              .default_act = "gelu_new", .default_ln_eps = 1e-5},
     .names = {[TL_ROLE_WORD_EMB] = "wte.weight", [TL_ROLE_POS_EMB] = "wpe.weight",
     [TL_ROLE_FINAL_LN_W] = "ln_f.weight", [TL_ROLE_FINAL_LN_B] = "ln_f.bias", [TL_ROLE_LM_HEAD] = "lm_head.weight",
     [TL_ROLE_ATTN_LN_W] = "h.%d.ln_1.weight", [TL_ROLE_ATTN_LN_B] = "h.%d.ln_1.bias",
     [TL_ROLE_QKV_W] = "h.%d.attn.c_attn.weight", [TL_ROLE_QKV_B] = "h.%d.attn.c_attn.bias",
     [TL_ROLE_ATTN_OUT_W] = "h.%d.attn.c_proj.weight", [TL_ROLE_ATTN_OUT_B] = "h.%d.attn.c_proj.bias",
     [TL_ROLE_FFN_LN_W] = "h.%d.ln_2.weight", [TL_ROLE_FFN_LN_B] = "h.%d.ln_2.bias",
     [TL_ROLE_FFN_IN_W] = "h.%d.mlp.c_fc.weight", [TL_ROLE_FFN_IN_B] = "h.%d.mlp.c_fc.bias",
     [TL_ROLE_FFN_OUT_W] = "h.%d.mlp.c_proj.weight", [TL_ROLE_FFN_OUT_B] = "h.%d.mlp.c_proj.bias"}},
    TL_LLAMA_LIKE("llama", TL_LLAMA_NAMES, [TL_ROLE_ATTN_OUT_B] = "layers.%d.self_attn.o_proj.bias"),
    TL_LLAMA_LIKE("mistral", TL_LLAMA_NAMES, [TL_ROLE_ATTN_OUT_B] = "layers.%d.self_attn.o_proj.bias"),
    /* Qwen2: biases on Q, K and V only */
    TL_LLAMA_LIKE("qwen2", TL_LLAMA_NAMES),
};

const tl_family *tl_family_find(const char *model_type) {
    for (size_t i = 0; i < sizeof tl_families / sizeof tl_families[0]; i++)
        if (strcmp(tl_families[i].model_type, model_type) == 0) return &tl_families[i];
    return NULL;
}

void tl_family_list(char *buf, size_t cap) {
    size_t k = 0;
    if (cap) buf[0] = '\0';
    for (size_t i = 0; i < sizeof tl_families / sizeof tl_families[0] && k < cap; i++) {
        int n = snprintf(buf + k, cap - k, "%s%s", i ? ", " : "", tl_families[i].model_type);
        if (n < 0) break;
        k += (size_t)n;
    }
}
