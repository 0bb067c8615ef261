/* families.c — the table of supported encoder families: config.json key names and
 * weight-name templates. A new family of the BERT shape is one entry here. */
#include "model/arch.h"

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
    .word_emb = "embeddings.word_embeddings.weight",                                     \
    .pos_emb = "embeddings.position_embeddings.weight",                                  \
    .type_emb = "embeddings.token_type_embeddings.weight",                               \
    .emb_ln_w = "embeddings.LayerNorm.weight", .emb_ln_b = "embeddings.LayerNorm.bias"

/* BERT's layer tensor names (also RoBERTa's and ELECTRA's). */
#define TL_BERT_LAYER_NAMES                                                              \
    .q_w = "encoder.layer.%d.attention.self.query.weight",                               \
    .q_b = "encoder.layer.%d.attention.self.query.bias",                                 \
    .k_w = "encoder.layer.%d.attention.self.key.weight",                                 \
    .k_b = "encoder.layer.%d.attention.self.key.bias",                                   \
    .v_w = "encoder.layer.%d.attention.self.value.weight",                               \
    .v_b = "encoder.layer.%d.attention.self.value.bias",                                 \
    .attn_out_w = "encoder.layer.%d.attention.output.dense.weight",                      \
    .attn_out_b = "encoder.layer.%d.attention.output.dense.bias",                        \
    .attn_ln_w = "encoder.layer.%d.attention.output.LayerNorm.weight",                   \
    .attn_ln_b = "encoder.layer.%d.attention.output.LayerNorm.bias",                     \
    .ffn_in_w = "encoder.layer.%d.intermediate.dense.weight",                            \
    .ffn_in_b = "encoder.layer.%d.intermediate.dense.bias",                              \
    .ffn_out_w = "encoder.layer.%d.output.dense.weight",                                 \
    .ffn_out_b = "encoder.layer.%d.output.dense.bias",                                   \
    .ffn_ln_w = "encoder.layer.%d.output.LayerNorm.weight",                              \
    .ffn_ln_b = "encoder.layer.%d.output.LayerNorm.bias"

/* A RoBERTa-family entry: BERT names under `prefix`, positions offset by padding_idx. */
#define TL_ROBERTA_LIKE(type, prefix)                                                    \
    {.model_type = type, .prefixes = {prefix, "", NULL}, .positions = TL_POS_ABSOLUTE_PADDED, \
     .keys = TL_BERT_KEYS, TL_BERT_EMBEDDING_NAMES, TL_BERT_LAYER_NAMES}

#define TL_ALBERT_LAYER(name) "encoder.albert_layer_groups.%d.albert_layers.0." name

#define TL_MPNET_LAYER(name) "encoder.layer.%d." name

static const tl_family tl_families[] = {
    {.model_type = "bert", .prefixes = {"bert.", "", NULL}, .positions = TL_POS_ABSOLUTE,
     .keys = TL_BERT_KEYS, TL_BERT_EMBEDDING_NAMES, TL_BERT_LAYER_NAMES},
    TL_ROBERTA_LIKE("roberta", "roberta."),
    TL_ROBERTA_LIKE("xlm-roberta", "roberta."),
    TL_ROBERTA_LIKE("camembert", "roberta."),
    {.model_type = "electra", .prefixes = {"electra.", "", NULL}, .positions = TL_POS_ABSOLUTE,
     .keys = {.vocab = "vocab_size", .hidden = "hidden_size", .layers = "num_hidden_layers",
              .heads = "num_attention_heads", .intermediate = "intermediate_size",
              .max_positions = "max_position_embeddings", .type_vocab = "type_vocab_size",
              .ln_eps = "layer_norm_eps", .act = "hidden_act", .embedding_size = "embedding_size",
              .default_act = "gelu"},
     TL_BERT_EMBEDDING_NAMES, .emb_proj_w = "embeddings_project.weight",
     .emb_proj_b = "embeddings_project.bias", TL_BERT_LAYER_NAMES},
    {.model_type = "distilbert", .prefixes = {"distilbert.", "", NULL}, .positions = TL_POS_ABSOLUTE,
     .keys = {.vocab = "vocab_size", .hidden = "dim", .layers = "n_layers", .heads = "n_heads",
              .intermediate = "hidden_dim", .max_positions = "max_position_embeddings",
              .type_vocab = NULL, .ln_eps = NULL, .act = "activation", .embedding_size = NULL,
              .default_act = "gelu"},
     .word_emb = "embeddings.word_embeddings.weight",
     .pos_emb = "embeddings.position_embeddings.weight", .type_emb = NULL,
     .emb_ln_w = "embeddings.LayerNorm.weight", .emb_ln_b = "embeddings.LayerNorm.bias",
     .q_w = "transformer.layer.%d.attention.q_lin.weight", .q_b = "transformer.layer.%d.attention.q_lin.bias",
     .k_w = "transformer.layer.%d.attention.k_lin.weight", .k_b = "transformer.layer.%d.attention.k_lin.bias",
     .v_w = "transformer.layer.%d.attention.v_lin.weight", .v_b = "transformer.layer.%d.attention.v_lin.bias",
     .attn_out_w = "transformer.layer.%d.attention.out_lin.weight",
     .attn_out_b = "transformer.layer.%d.attention.out_lin.bias",
     .attn_ln_w = "transformer.layer.%d.sa_layer_norm.weight",
     .attn_ln_b = "transformer.layer.%d.sa_layer_norm.bias",
     .ffn_in_w = "transformer.layer.%d.ffn.lin1.weight", .ffn_in_b = "transformer.layer.%d.ffn.lin1.bias",
     .ffn_out_w = "transformer.layer.%d.ffn.lin2.weight", .ffn_out_b = "transformer.layer.%d.ffn.lin2.bias",
     .ffn_ln_w = "transformer.layer.%d.output_layer_norm.weight",
     .ffn_ln_b = "transformer.layer.%d.output_layer_norm.bias"},
    /* transformers' MPNetEmbeddings hard-codes padding_idx = 1 */
    {.model_type = "mpnet", .prefixes = {"mpnet.", "", NULL}, .positions = TL_POS_ABSOLUTE_PADDED,
     .fixed_padding_idx = 1,
     .keys = {.vocab = "vocab_size", .hidden = "hidden_size", .layers = "num_hidden_layers",
              .heads = "num_attention_heads", .intermediate = "intermediate_size",
              .max_positions = "max_position_embeddings", .type_vocab = NULL,
              .ln_eps = "layer_norm_eps", .act = "hidden_act", .embedding_size = NULL,
              .default_act = "gelu"},
     .word_emb = "embeddings.word_embeddings.weight",
     .pos_emb = "embeddings.position_embeddings.weight", .type_emb = NULL,
     .emb_ln_w = "embeddings.LayerNorm.weight", .emb_ln_b = "embeddings.LayerNorm.bias",
     .rel_bias = "encoder.relative_attention_bias.weight",
     .q_w = TL_MPNET_LAYER("attention.attn.q.weight"), .q_b = TL_MPNET_LAYER("attention.attn.q.bias"),
     .k_w = TL_MPNET_LAYER("attention.attn.k.weight"), .k_b = TL_MPNET_LAYER("attention.attn.k.bias"),
     .v_w = TL_MPNET_LAYER("attention.attn.v.weight"), .v_b = TL_MPNET_LAYER("attention.attn.v.bias"),
     .attn_out_w = TL_MPNET_LAYER("attention.attn.o.weight"),
     .attn_out_b = TL_MPNET_LAYER("attention.attn.o.bias"),
     .attn_ln_w = TL_MPNET_LAYER("attention.LayerNorm.weight"),
     .attn_ln_b = TL_MPNET_LAYER("attention.LayerNorm.bias"),
     .ffn_in_w = TL_MPNET_LAYER("intermediate.dense.weight"),
     .ffn_in_b = TL_MPNET_LAYER("intermediate.dense.bias"),
     .ffn_out_w = TL_MPNET_LAYER("output.dense.weight"), .ffn_out_b = TL_MPNET_LAYER("output.dense.bias"),
     .ffn_ln_w = TL_MPNET_LAYER("output.LayerNorm.weight"),
     .ffn_ln_b = TL_MPNET_LAYER("output.LayerNorm.bias")},
    {.model_type = "deberta-v2", .prefixes = {"deberta.", "", NULL}, .positions = TL_POS_ABSOLUTE,
     .deberta = 1,
     .keys = {.vocab = "vocab_size", .hidden = "hidden_size", .layers = "num_hidden_layers",
              .heads = "num_attention_heads", .intermediate = "intermediate_size",
              .max_positions = "max_position_embeddings", .type_vocab = "type_vocab_size",
              .ln_eps = "layer_norm_eps", .act = "hidden_act", .embedding_size = "embedding_size",
              .default_act = "gelu", .default_ln_eps = 1e-7, .no_types_by_default = 1},
     TL_BERT_EMBEDDING_NAMES, .emb_proj_w = "embeddings.embed_proj.weight",
     .rel_emb = "encoder.rel_embeddings.weight", .rel_ln_w = "encoder.LayerNorm.weight",
     .rel_ln_b = "encoder.LayerNorm.bias",
     .pos_k_w = "encoder.layer.%d.attention.self.pos_key_proj.weight",
     .pos_k_b = "encoder.layer.%d.attention.self.pos_key_proj.bias",
     .pos_q_w = "encoder.layer.%d.attention.self.pos_query_proj.weight",
     .pos_q_b = "encoder.layer.%d.attention.self.pos_query_proj.bias",
     .q_w = "encoder.layer.%d.attention.self.query_proj.weight",
     .q_b = "encoder.layer.%d.attention.self.query_proj.bias",
     .k_w = "encoder.layer.%d.attention.self.key_proj.weight",
     .k_b = "encoder.layer.%d.attention.self.key_proj.bias",
     .v_w = "encoder.layer.%d.attention.self.value_proj.weight",
     .v_b = "encoder.layer.%d.attention.self.value_proj.bias",
     .attn_out_w = "encoder.layer.%d.attention.output.dense.weight",
     .attn_out_b = "encoder.layer.%d.attention.output.dense.bias",
     .attn_ln_w = "encoder.layer.%d.attention.output.LayerNorm.weight",
     .attn_ln_b = "encoder.layer.%d.attention.output.LayerNorm.bias",
     .ffn_in_w = "encoder.layer.%d.intermediate.dense.weight",
     .ffn_in_b = "encoder.layer.%d.intermediate.dense.bias",
     .ffn_out_w = "encoder.layer.%d.output.dense.weight",
     .ffn_out_b = "encoder.layer.%d.output.dense.bias",
     .ffn_ln_w = "encoder.layer.%d.output.LayerNorm.weight",
     .ffn_ln_b = "encoder.layer.%d.output.LayerNorm.bias"},
    {.model_type = "modernbert", .prefixes = {"model.", "", NULL}, .positions = TL_POS_ROTARY,
     .block = TL_BLOCK_MODERNBERT,
     .keys = {.vocab = "vocab_size", .hidden = "hidden_size", .layers = "num_hidden_layers",
              .heads = "num_attention_heads", .intermediate = "intermediate_size",
              .max_positions = "max_position_embeddings", .type_vocab = NULL,
              .ln_eps = "norm_eps", .act = "hidden_activation", .embedding_size = NULL,
              .default_act = "gelu", .default_ln_eps = 1e-5},
     .word_emb = "embeddings.tok_embeddings.weight", .pos_emb = NULL, .type_emb = NULL,
     .emb_ln_w = "embeddings.norm.weight", .emb_ln_b = "embeddings.norm.bias",
     .final_ln_w = "final_norm.weight", .final_ln_b = "final_norm.bias",
     .q_w = "layers.%d.attn.Wqkv.weight", .q_b = "layers.%d.attn.Wqkv.bias",
     .attn_out_w = "layers.%d.attn.Wo.weight", .attn_out_b = "layers.%d.attn.Wo.bias",
     .attn_ln_w = "layers.%d.attn_norm.weight", .attn_ln_b = "layers.%d.attn_norm.bias",
     .ffn_in_w = "layers.%d.mlp.Wi.weight", .ffn_in_b = "layers.%d.mlp.Wi.bias",
     .ffn_out_w = "layers.%d.mlp.Wo.weight", .ffn_out_b = "layers.%d.mlp.Wo.bias",
     .ffn_ln_w = "layers.%d.mlp_norm.weight", .ffn_ln_b = "layers.%d.mlp_norm.bias"},
    {.model_type = "albert", .prefixes = {"albert.", "", NULL}, .positions = TL_POS_ABSOLUTE,
     .keys = {.vocab = "vocab_size", .hidden = "hidden_size", .layers = "num_hidden_layers",
              .heads = "num_attention_heads", .intermediate = "intermediate_size",
              .max_positions = "max_position_embeddings", .type_vocab = "type_vocab_size",
              .ln_eps = "layer_norm_eps", .act = "hidden_act", .embedding_size = "embedding_size",
              .default_act = "gelu_new"},
     .layers_shared = 1, TL_BERT_EMBEDDING_NAMES,
     .emb_proj_w = "encoder.embedding_hidden_mapping_in.weight",
     .emb_proj_b = "encoder.embedding_hidden_mapping_in.bias", .emb_proj_always = 1,
     .q_w = TL_ALBERT_LAYER("attention.query.weight"), .q_b = TL_ALBERT_LAYER("attention.query.bias"),
     .k_w = TL_ALBERT_LAYER("attention.key.weight"), .k_b = TL_ALBERT_LAYER("attention.key.bias"),
     .v_w = TL_ALBERT_LAYER("attention.value.weight"), .v_b = TL_ALBERT_LAYER("attention.value.bias"),
     .attn_out_w = TL_ALBERT_LAYER("attention.dense.weight"),
     .attn_out_b = TL_ALBERT_LAYER("attention.dense.bias"),
     .attn_ln_w = TL_ALBERT_LAYER("attention.LayerNorm.weight"),
     .attn_ln_b = TL_ALBERT_LAYER("attention.LayerNorm.bias"),
     .ffn_in_w = TL_ALBERT_LAYER("ffn.weight"), .ffn_in_b = TL_ALBERT_LAYER("ffn.bias"),
     .ffn_out_w = TL_ALBERT_LAYER("ffn_output.weight"), .ffn_out_b = TL_ALBERT_LAYER("ffn_output.bias"),
     .ffn_ln_w = TL_ALBERT_LAYER("full_layer_layer_norm.weight"),
     .ffn_ln_b = TL_ALBERT_LAYER("full_layer_layer_norm.bias")},
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
