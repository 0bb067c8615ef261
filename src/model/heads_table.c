/* heads_table.c — the task-head layouts of each encoder family, keyed by model_type.
 * Names are those transformers' *For* classes save; ops run in order on the selected rows
 * (dropout is identity at inference). A family gets a head by adding an entry here. */
#include "model/heads.h"

#include <string.h>

#define LIN(...) {.op = TL_HOP_LINEAR, __VA_ARGS__}
#define ACT(a) {.op = TL_HOP_ACT, .act = (a)}
#define LN(...) {.op = TL_HOP_LAYERNORM, __VA_ARGS__}

static const tl_head_def tl_head_defs[] = {
    /* BERT: BertForSequenceClassification = pooler (dense + tanh on [CLS]) + classifier. */
    {"bert", TL_HEAD_SEQ_CLS, {
        LIN(.w = "pooler.dense.weight", .b = "pooler.dense.bias", .base = 1),
        ACT(TL_HACT_TANH),
        LIN(.w = "classifier.weight", .b = "classifier.bias", .out = TL_HOUT_LABELS)}},
    {"bert", TL_HEAD_TOKEN_CLS, {
        LIN(.w = "classifier.weight", .b = "classifier.bias", .out = TL_HOUT_LABELS)}},
    {"bert", TL_HEAD_QA, {
        LIN(.w = "qa_outputs.weight", .b = "qa_outputs.bias", .out = TL_HOUT_TWO)}},
    /* BertOnlyMLMHead: transform (dense + hidden_act + LayerNorm) + decoder tied to the
     * word embeddings, with the separate cls.predictions.bias. */
    {"bert", TL_HEAD_MLM, {
        LIN(.w = "cls.predictions.transform.dense.weight", .b = "cls.predictions.transform.dense.bias"),
        ACT(TL_HACT_CONFIG),
        LN(.w = "cls.predictions.transform.LayerNorm.weight", .b = "cls.predictions.transform.LayerNorm.bias"),
        LIN(.w = "cls.predictions.decoder.weight", .b = "cls.predictions.bias",
            .b_alt = "cls.predictions.decoder.bias", .tied = 1, .out = TL_HOUT_VOCAB)}},

#define TL_ROBERTA_HEADS(type)                                                                   \
    /* RobertaClassificationHead on <s>: dense + tanh + out_proj. */                             \
    {type, TL_HEAD_SEQ_CLS, {                                                                    \
        LIN(.w = "classifier.dense.weight", .b = "classifier.dense.bias"), ACT(TL_HACT_TANH),    \
        LIN(.w = "classifier.out_proj.weight", .b = "classifier.out_proj.bias", .out = TL_HOUT_LABELS)}}, \
    {type, TL_HEAD_TOKEN_CLS, {                                                                  \
        LIN(.w = "classifier.weight", .b = "classifier.bias", .out = TL_HOUT_LABELS)}},          \
    {type, TL_HEAD_QA, {LIN(.w = "qa_outputs.weight", .b = "qa_outputs.bias", .out = TL_HOUT_TWO)}}, \
    /* RobertaLMHead: dense + gelu + layer_norm + decoder tied to the embeddings. */             \
    {type, TL_HEAD_MLM, {                                                                        \
        LIN(.w = "lm_head.dense.weight", .b = "lm_head.dense.bias"), ACT(TL_HACT_GELU),          \
        LN(.w = "lm_head.layer_norm.weight", .b = "lm_head.layer_norm.bias"),                    \
        LIN(.w = "lm_head.decoder.weight", .b = "lm_head.bias", .b_alt = "lm_head.decoder.bias", \
            .tied = 1, .out = TL_HOUT_VOCAB)}}

    TL_ROBERTA_HEADS("roberta"),
    TL_ROBERTA_HEADS("xlm-roberta"),
    TL_ROBERTA_HEADS("camembert"),

    /* DistilBERT: pre_classifier + ReLU + classifier on [CLS]; MLM vocab_transform +
     * config activation + vocab_layer_norm + vocab_projector tied. */
    {"distilbert", TL_HEAD_SEQ_CLS, {
        LIN(.w = "pre_classifier.weight", .b = "pre_classifier.bias"), ACT(TL_HACT_RELU),
        LIN(.w = "classifier.weight", .b = "classifier.bias", .out = TL_HOUT_LABELS)}},
    {"distilbert", TL_HEAD_TOKEN_CLS, {
        LIN(.w = "classifier.weight", .b = "classifier.bias", .out = TL_HOUT_LABELS)}},
    {"distilbert", TL_HEAD_QA, {LIN(.w = "qa_outputs.weight", .b = "qa_outputs.bias", .out = TL_HOUT_TWO)}},
    {"distilbert", TL_HEAD_MLM, {
        LIN(.w = "vocab_transform.weight", .b = "vocab_transform.bias"), ACT(TL_HACT_CONFIG),
        LN(.w = "vocab_layer_norm.weight", .b = "vocab_layer_norm.bias"),
        LIN(.w = "vocab_projector.weight", .b = "vocab_projector.bias", .tied = 1, .out = TL_HOUT_VOCAB)}},

    /* ELECTRA: ElectraClassificationHead (dense + gelu + out_proj on [CLS]); the generator's
     * MLM head (dense to embedding_size + gelu + LayerNorm + generator_lm_head tied).
     * ElectraForPreTraining's discriminator (discriminator_predictions.dense + hidden_act +
     * dense_prediction to 1 logit per token) has no pipeline task. */
    {"electra", TL_HEAD_SEQ_CLS, {
        LIN(.w = "classifier.dense.weight", .b = "classifier.dense.bias"), ACT(TL_HACT_GELU),
        LIN(.w = "classifier.out_proj.weight", .b = "classifier.out_proj.bias", .out = TL_HOUT_LABELS)}},
    {"electra", TL_HEAD_TOKEN_CLS, {
        LIN(.w = "classifier.weight", .b = "classifier.bias", .out = TL_HOUT_LABELS)}},
    {"electra", TL_HEAD_QA, {LIN(.w = "qa_outputs.weight", .b = "qa_outputs.bias", .out = TL_HOUT_TWO)}},
    {"electra", TL_HEAD_MLM, {
        LIN(.w = "generator_predictions.dense.weight", .b = "generator_predictions.dense.bias"),
        ACT(TL_HACT_GELU),
        LN(.w = "generator_predictions.LayerNorm.weight", .b = "generator_predictions.LayerNorm.bias"),
        LIN(.w = "generator_lm_head.weight", .b = "generator_lm_head.bias", .tied = 1, .out = TL_HOUT_VOCAB)}},

    /* ALBERT: pooler (dense + tanh on [CLS]) + classifier; MLM predictions.dense (to
     * embedding_size) + hidden_act + LayerNorm + decoder tied, bias predictions.bias. */
    {"albert", TL_HEAD_SEQ_CLS, {
        LIN(.w = "pooler.weight", .b = "pooler.bias", .base = 1), ACT(TL_HACT_TANH),
        LIN(.w = "classifier.weight", .b = "classifier.bias", .out = TL_HOUT_LABELS)}},
    {"albert", TL_HEAD_TOKEN_CLS, {
        LIN(.w = "classifier.weight", .b = "classifier.bias", .out = TL_HOUT_LABELS)}},
    {"albert", TL_HEAD_QA, {LIN(.w = "qa_outputs.weight", .b = "qa_outputs.bias", .out = TL_HOUT_TWO)}},
    {"albert", TL_HEAD_MLM, {
        LIN(.w = "predictions.dense.weight", .b = "predictions.dense.bias"), ACT(TL_HACT_CONFIG),
        LN(.w = "predictions.LayerNorm.weight", .b = "predictions.LayerNorm.bias"),
        LIN(.w = "predictions.decoder.weight", .b = "predictions.bias", .b_alt = "predictions.decoder.bias",
            .tied = 1, .out = TL_HOUT_VOCAB)}},

    /* Slots still open: mpnet (MPNetClassificationHead = RoBERTa's; lm_head as RoBERTa),
     * deberta-v2 (ContextPooler dense + pooler_hidden_act on [CLS], then classifier;
     * lm_predictions.lm_head), modernbert (head.dense + act + head.norm with cls/mean
     * classifier_pooling, then classifier; decoder tied). */
};

const tl_head_def *tl_head_def_find(const char *model_type, tl_head_kind kind) {
    for (size_t i = 0; i < sizeof tl_head_defs / sizeof tl_head_defs[0]; i++)
        if (tl_head_defs[i].kind == kind && strcmp(tl_head_defs[i].model_type, model_type) == 0)
            return &tl_head_defs[i];
    return NULL;
}

const char *tl_head_kind_task(tl_head_kind kind) {
    switch (kind) {
    case TL_HEAD_SEQ_CLS: return "text-classification";
    case TL_HEAD_TOKEN_CLS: return "token-classification";
    case TL_HEAD_QA: return "question-answering";
    case TL_HEAD_MLM: return "fill-mask";
    default: return "?";
    }
}
