/* question_answering.c — the question-answering pipeline (placeholder until the
 * tokenizer's pair truncation with stride and overflowing windows lands). */
#include "core/error.h"
#include "tasks/pipeline.h"

/* Reports that question answering is not available yet. */
static tl_status qa_run(tl_pipeline *p, const cJSON *inputs, const cJSON *params, const cJSON *call, cJSON **out) {
    (void)p; (void)inputs; (void)params; (void)call;
    *out = NULL;
    return tl_set_error(TL_ERR_UNSUPPORTED, "question-answering is not implemented yet");
}

const tl_task tl_task_question_answering = {"question-answering", TL_HEAD_QA, qa_run, NULL};
