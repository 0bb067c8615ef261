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

    /* Slots for the families the encoder is gaining (enable with their model_type):
     *
     * roberta / camembert / xlm-roberta:
     *   SEQ_CLS  RobertaClassificationHead on <s>: LIN classifier.dense (H), ACT TANH,
     *            LIN classifier.out_proj (LABELS)
     *   TOKEN_CLS LIN classifier (LABELS);  QA: LIN qa_outputs (TWO)
     *   MLM      lm_head: LIN lm_head.dense, ACT GELU, LN lm_head.layer_norm,
     *            LIN lm_head.decoder (tied, VOCAB) bias lm_head.bias (alt lm_head.decoder.bias)
     * distilbert (base prefix "distilbert."):
     *   SEQ_CLS  LIN pre_classifier (H), ACT RELU, LIN classifier (LABELS)
     *   TOKEN_CLS LIN classifier;  QA: LIN qa_outputs
     *   MLM      LIN vocab_transform, ACT CONFIG (config "activation"), LN vocab_layer_norm,
     *            LIN vocab_projector (tied, VOCAB)
     * electra:
     *   SEQ_CLS  ElectraClassificationHead: LIN classifier.dense, ACT GELU,
     *            LIN classifier.out_proj (LABELS)
     *   TOKEN_CLS / QA as BERT (classifier, qa_outputs)
     *   MLM      generator: LIN generator_predictions.dense (E), ACT GELU,
     *            LN generator_predictions.LayerNorm, LIN generator_lm_head (tied, VOCAB)
     *   (ElectraForPreTraining's discriminator: LIN discriminator_predictions.dense, ACT CONFIG,
     *    LIN discriminator_predictions.dense_prediction (1) — no pipeline task uses it)
     * albert (base prefix "albert."):
     *   SEQ_CLS  LIN pooler (base, H), ACT TANH, LIN classifier (LABELS)
     *   MLM      LIN predictions.dense (E), ACT CONFIG, LN predictions.LayerNorm,
     *            LIN predictions.decoder (tied, VOCAB) bias predictions.bias
     */
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
