/* heads_table.c — the task-head layouts of each encoder family, keyed by model_type.
 * Names are those transformers' *For* classes save; ops run in order on the selected rows
 * (dropout is identity at inference). A family gets a head by adding an entry here. */
#include "model/heads.h"

#include <string.h>

#define LIN(...) {.op = TL_HOP_LINEAR, __VA_ARGS__}
#define ACT(a) {.op = TL_HOP_ACT, .act = (a)}
#define LN(...) {.op = TL_HOP_LAYERNORM, __VA_ARGS__}
/* An entry starts {FOR(model_type, kind) {ops...}, optional .cond / .pool}. */
#define FOR(type, k) .model_type = (type), .kind = (k), .ops =

static const tl_head_def tl_head_defs[] = {
    /* BERT: BertForSequenceClassification = pooler (dense + tanh on [CLS]) + classifier. */
    {FOR("bert", TL_HEAD_SEQ_CLS) {
        LIN(.w = "pooler.dense.weight", .b = "pooler.dense.bias", .base = 1),
        ACT(TL_HACT_TANH),
        LIN(.w = "classifier.weight", .b = "classifier.bias", .out = TL_HOUT_LABELS)}},
    {FOR("bert", TL_HEAD_TOKEN_CLS) {
        LIN(.w = "classifier.weight", .b = "classifier.bias", .out = TL_HOUT_LABELS)}},
    {FOR("bert", TL_HEAD_QA) {
        LIN(.w = "qa_outputs.weight", .b = "qa_outputs.bias", .out = TL_HOUT_TWO)}},
    /* BertOnlyMLMHead: transform (dense + hidden_act + LayerNorm) + decoder tied to the
     * word embeddings, with the separate cls.predictions.bias. */
    {FOR("bert", TL_HEAD_MLM) {
        LIN(.w = "cls.predictions.transform.dense.weight", .b = "cls.predictions.transform.dense.bias"),
        ACT(TL_HACT_CONFIG),
        LN(.w = "cls.predictions.transform.LayerNorm.weight", .b = "cls.predictions.transform.LayerNorm.bias"),
        LIN(.w = "cls.predictions.decoder.weight", .b = "cls.predictions.bias",
            .b_alt = "cls.predictions.decoder.bias", .tied = 1, .out = TL_HOUT_VOCAB)}},

#define TL_ROBERTA_HEADS(type)                                                                   \
    /* RobertaClassificationHead on <s>: dense + tanh + out_proj. */                             \
    {FOR(type, TL_HEAD_SEQ_CLS) {                                                                \
        LIN(.w = "classifier.dense.weight", .b = "classifier.dense.bias"), ACT(TL_HACT_TANH),    \
        LIN(.w = "classifier.out_proj.weight", .b = "classifier.out_proj.bias", .out = TL_HOUT_LABELS)}}, \
    {FOR(type, TL_HEAD_TOKEN_CLS) {                                                              \
        LIN(.w = "classifier.weight", .b = "classifier.bias", .out = TL_HOUT_LABELS)}},          \
    {FOR(type, TL_HEAD_QA) {LIN(.w = "qa_outputs.weight", .b = "qa_outputs.bias", .out = TL_HOUT_TWO)}}, \
    /* RobertaLMHead: dense + gelu + layer_norm + decoder tied to the embeddings. */             \
    {FOR(type, TL_HEAD_MLM) {                                                                    \
        LIN(.w = "lm_head.dense.weight", .b = "lm_head.dense.bias"), ACT(TL_HACT_GELU),          \
        LN(.w = "lm_head.layer_norm.weight", .b = "lm_head.layer_norm.bias"),                    \
        LIN(.w = "lm_head.decoder.weight", .b = "lm_head.bias", .b_alt = "lm_head.decoder.bias", \
            .tied = 1, .out = TL_HOUT_VOCAB)}}

    TL_ROBERTA_HEADS("roberta"),
    TL_ROBERTA_HEADS("xlm-roberta"),
    TL_ROBERTA_HEADS("camembert"),

    /* DistilBERT: pre_classifier + ReLU + classifier on [CLS]; MLM vocab_transform +
     * config activation + vocab_layer_norm + vocab_projector tied. */
    {FOR("distilbert", TL_HEAD_SEQ_CLS) {
        LIN(.w = "pre_classifier.weight", .b = "pre_classifier.bias"), ACT(TL_HACT_RELU),
        LIN(.w = "classifier.weight", .b = "classifier.bias", .out = TL_HOUT_LABELS)}},
    {FOR("distilbert", TL_HEAD_TOKEN_CLS) {
        LIN(.w = "classifier.weight", .b = "classifier.bias", .out = TL_HOUT_LABELS)}},
    {FOR("distilbert", TL_HEAD_QA) {LIN(.w = "qa_outputs.weight", .b = "qa_outputs.bias", .out = TL_HOUT_TWO)}},
    {FOR("distilbert", TL_HEAD_MLM) {
        LIN(.w = "vocab_transform.weight", .b = "vocab_transform.bias"), ACT(TL_HACT_CONFIG),
        LN(.w = "vocab_layer_norm.weight", .b = "vocab_layer_norm.bias"),
        LIN(.w = "vocab_projector.weight", .b = "vocab_projector.bias", .tied = 1, .out = TL_HOUT_VOCAB)}},

    /* ELECTRA: ElectraClassificationHead (dense + gelu + out_proj on [CLS]); the generator's
     * MLM head (dense to embedding_size + gelu + LayerNorm + generator_lm_head tied);
     * ElectraForPreTraining's discriminator (dense + hidden_act + dense_prediction to one
     * logit per token: no pipeline task, the logits of torchless.optimize). */
    {FOR("electra", TL_HEAD_SEQ_CLS) {
        LIN(.w = "classifier.dense.weight", .b = "classifier.dense.bias"), ACT(TL_HACT_GELU),
        LIN(.w = "classifier.out_proj.weight", .b = "classifier.out_proj.bias", .out = TL_HOUT_LABELS)}},
    {FOR("electra", TL_HEAD_TOKEN_CLS) {
        LIN(.w = "classifier.weight", .b = "classifier.bias", .out = TL_HOUT_LABELS)}},
    {FOR("electra", TL_HEAD_QA) {LIN(.w = "qa_outputs.weight", .b = "qa_outputs.bias", .out = TL_HOUT_TWO)}},
    {FOR("electra", TL_HEAD_MLM) {
        LIN(.w = "generator_predictions.dense.weight", .b = "generator_predictions.dense.bias"),
        ACT(TL_HACT_GELU),
        LN(.w = "generator_predictions.LayerNorm.weight", .b = "generator_predictions.LayerNorm.bias"),
        LIN(.w = "generator_lm_head.weight", .b = "generator_lm_head.bias", .tied = 1, .out = TL_HOUT_VOCAB)}},
    {FOR("electra", TL_HEAD_RTD) {
        LIN(.w = "discriminator_predictions.dense.weight", .b = "discriminator_predictions.dense.bias"),
        ACT(TL_HACT_CONFIG),
        LIN(.w = "discriminator_predictions.dense_prediction.weight",
            .b = "discriminator_predictions.dense_prediction.bias", .out = TL_HOUT_ONE)}},

    /* ALBERT: pooler (dense + tanh on [CLS]) + classifier; MLM predictions.dense (to
     * embedding_size) + hidden_act + LayerNorm + decoder tied, bias predictions.bias. */
    {FOR("albert", TL_HEAD_SEQ_CLS) {
        LIN(.w = "pooler.weight", .b = "pooler.bias", .base = 1), ACT(TL_HACT_TANH),
        LIN(.w = "classifier.weight", .b = "classifier.bias", .out = TL_HOUT_LABELS)}},
    {FOR("albert", TL_HEAD_TOKEN_CLS) {
        LIN(.w = "classifier.weight", .b = "classifier.bias", .out = TL_HOUT_LABELS)}},
    {FOR("albert", TL_HEAD_QA) {LIN(.w = "qa_outputs.weight", .b = "qa_outputs.bias", .out = TL_HOUT_TWO)}},
    {FOR("albert", TL_HEAD_MLM) {
        LIN(.w = "predictions.dense.weight", .b = "predictions.dense.bias"), ACT(TL_HACT_CONFIG),
        LN(.w = "predictions.LayerNorm.weight", .b = "predictions.LayerNorm.bias"),
        LIN(.w = "predictions.decoder.weight", .b = "predictions.bias", .b_alt = "predictions.decoder.bias",
            .tied = 1, .out = TL_HOUT_VOCAB)}},

    /* MPNet: MPNetClassificationHead and MPNetLMHead are RoBERTa's (names included). */
    TL_ROBERTA_HEADS("mpnet"),

    /* DeBERTa-v2/v3: ContextPooler (pooler.dense + pooler_hidden_act on the first token) +
     * classifier. MLM: with config.legacy (the default) cls.predictions as BERT's, the
     * transform to embedding_size; else lm_predictions.lm_head (dense + hidden_act +
     * LayerNorm) times the word embeddings, plus lm_head.bias. */
    {FOR("deberta-v2", TL_HEAD_SEQ_CLS) {
        LIN(.w = "pooler.dense.weight", .b = "pooler.dense.bias"), ACT(TL_HACT_POOLER),
        LIN(.w = "classifier.weight", .b = "classifier.bias", .out = TL_HOUT_LABELS)}},
    {FOR("deberta-v2", TL_HEAD_TOKEN_CLS) {
        LIN(.w = "classifier.weight", .b = "classifier.bias", .out = TL_HOUT_LABELS)}},
    {FOR("deberta-v2", TL_HEAD_QA) {LIN(.w = "qa_outputs.weight", .b = "qa_outputs.bias", .out = TL_HOUT_TWO)}},
    {FOR("deberta-v2", TL_HEAD_MLM) {
        LIN(.w = "cls.predictions.transform.dense.weight", .b = "cls.predictions.transform.dense.bias"),
        ACT(TL_HACT_CONFIG),
        LN(.w = "cls.predictions.transform.LayerNorm.weight", .b = "cls.predictions.transform.LayerNorm.bias"),
        LIN(.w = "cls.predictions.decoder.weight", .b = "cls.predictions.bias",
            .b_alt = "cls.predictions.decoder.bias", .tied = 1, .out = TL_HOUT_VOCAB)}, .cond = TL_HCOND_LEGACY},
    {FOR("deberta-v2", TL_HEAD_MLM) {
        LIN(.w = "lm_predictions.lm_head.dense.weight", .b = "lm_predictions.lm_head.dense.bias"),
        ACT(TL_HACT_CONFIG),
        LN(.w = "lm_predictions.lm_head.LayerNorm.weight", .b = "lm_predictions.lm_head.LayerNorm.bias"),
        /* no such tensor: always the word embeddings */
        LIN(.w = "lm_predictions.lm_head.decoder.weight", .b = "lm_predictions.lm_head.bias", .tied = 1,
            .out = TL_HOUT_VOCAB)}, .cond = TL_HCOND_NOT_LEGACY},

    /* ModernBERT: ModernBertPredictionHead (head.dense, bias per classifier_bias, +
     * classifier_activation + head.norm, bias per norm_bias) before every head; the sequence
     * head reads the first token or the masked mean (classifier_pooling); the MLM decoder is
     * tied to tok_embeddings, its bias per decoder_bias. */
#define TL_MODERNBERT_HEAD                                                                    \
    LIN(.w = "head.dense.weight", .b = "head.dense.bias", .bias_if = TL_HBIAS_CLASSIFIER),    \
    ACT(TL_HACT_CLASSIFIER), LN(.w = "head.norm.weight", .b = "head.norm.bias", .bias_if = TL_HBIAS_NORM)
    {FOR("modernbert", TL_HEAD_SEQ_CLS) {
        TL_MODERNBERT_HEAD, LIN(.w = "classifier.weight", .b = "classifier.bias", .out = TL_HOUT_LABELS)},
        .pool = TL_HPOOL_CONFIG},
    {FOR("modernbert", TL_HEAD_TOKEN_CLS) {
        TL_MODERNBERT_HEAD, LIN(.w = "classifier.weight", .b = "classifier.bias", .out = TL_HOUT_LABELS)}},
    {FOR("modernbert", TL_HEAD_QA) {
        TL_MODERNBERT_HEAD, LIN(.w = "classifier.weight", .b = "classifier.bias", .out = TL_HOUT_TWO)}},
    {FOR("modernbert", TL_HEAD_MLM) {
        TL_MODERNBERT_HEAD, LIN(.w = "decoder.weight", .b = "decoder.bias", .bias_if = TL_HBIAS_DECODER,
                                .tied = 1, .out = TL_HOUT_VOCAB)}},
};

const tl_head_def *tl_head_def_find(const tl_arch *arch, tl_head_kind kind) {
    for (size_t i = 0; i < sizeof tl_head_defs / sizeof tl_head_defs[0]; i++) {
        const tl_head_def *d = &tl_head_defs[i];
        if (d->kind != kind || strcmp(d->model_type, arch->model_type) != 0) continue;
        if (d->cond != TL_HCOND_ANY && (d->cond == TL_HCOND_LEGACY) != (arch->head.legacy != 0)) continue;
        return d;
    }
    return NULL;
}

const char *tl_head_kind_task(tl_head_kind kind) {
    switch (kind) {
    case TL_HEAD_SEQ_CLS: return "text-classification";
    case TL_HEAD_TOKEN_CLS: return "token-classification";
    case TL_HEAD_QA: return "question-answering";
    case TL_HEAD_MLM: return "fill-mask";
    case TL_HEAD_RTD: return "replaced-token-detection";
    default: return "?";
    }
}
