/* families.c — the table of supported encoder families and their weight names. */
#include "model/arch.h"

#include <stdio.h>
#include <string.h>

/* BERT's layout; RoBERTa-style families reuse it with another prefix. */
#define TL_BERT_LAYER_NAMES                                                              \
    .word_emb = "embeddings.word_embeddings.weight",                                     \
    .pos_emb = "embeddings.position_embeddings.weight",                                  \
    .type_emb = "embeddings.token_type_embeddings.weight",                               \
    .emb_ln_w = "embeddings.LayerNorm.weight", .emb_ln_b = "embeddings.LayerNorm.bias",  \
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

static const tl_family tl_families[] = {
    {.model_type = "bert", .prefixes = {"bert.", "", NULL}, .positions = TL_POS_ABSOLUTE,
     TL_BERT_LAYER_NAMES},
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
