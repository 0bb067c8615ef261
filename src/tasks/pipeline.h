/* pipeline.h — the inside of tl_pipeline: the task table, the facts read from config.json
 * and the tokenizer files, and helpers shared by the task files (encoding, packed forward,
 * decoding, JSON parameters). */
#ifndef TL_TASKS_PIPELINE_H
#define TL_TASKS_PIPELINE_H
#include <cjson/cJSON.h>
#include "model/heads.h"
#include "model/model.h"

typedef struct tl_pipeline tl_pipeline;

/* One task: its name, the head it needs (-1: none), and its run function. run gets the
 * inputs, the merged parameters (creation options overlaid by call parameters) and the
 * call parameters alone (some transformers outputs depend on where a parameter came
 * from); it sets *out to a new JSON value or returns an error. */
typedef struct tl_task {
    const char *name;
    int head; /* tl_head_kind, or -1 */
    tl_status (*run)(tl_pipeline *p, const cJSON *inputs, const cJSON *params,
                     const cJSON *call_params, cJSON **out);
    /* Optional: validates parameters without running (called on the creation options). */
    tl_status (*check)(tl_pipeline *p, const cJSON *params);
    /* Cross-request merging (pipeline_merge.c): which inputs may run in one call with other
     * requests' (TL_MERGE_NONE: never), and how run shapes one request's output from its
     * inputs' results when it is not a list of them. */
    int merge;                      /* TL_MERGE_NONE / TL_MERGE_STRINGS / TL_MERGE_QA */
    int list_of_one_unwraps;        /* a list of one input gives that input's result alone */
    const char *single_wrap_unless; /* a single string's result is wrapped in a list unless
                                       the call passes this parameter (NULL: never wrapped) */
} tl_task;

/* Input forms a task lets tl_pipeline_run_merged combine: none; a string or a list of
 * strings; a {"question", "context"} object of strings or a list of them. */
enum { TL_MERGE_NONE = 0, TL_MERGE_STRINGS = 1, TL_MERGE_QA = 2 };

extern const tl_task tl_task_text_classification, tl_task_token_classification,
    tl_task_question_answering, tl_task_fill_mask, tl_task_zero_shot,
    tl_task_feature_extraction, tl_task_sentence_embedding, tl_task_text_pair_scoring,
    tl_task_text_ranking, tl_task_sentence_similarity, tl_task_text_generation;

struct tl_pipeline {
    tl_model *m;
    const tl_task *task;
    cJSON *options;           /* creation options (an object; owned) */
    tl_head head;             /* bound when task->head >= 0 */
    /* config.json */
    char **id2label;          /* n_labels names, index = class id */
    size_t n_labels;
    char problem_type[48];    /* "" when absent */
    int entailment_id;        /* label2id entry starting with "entail" (case-insensitive), -1 */
    char ce_activation[128];  /* sentence_transformers.activation_fn (CrossEncoder), "" when absent */
    /* tokenizer files */
    size_t model_max_length;  /* tokenizer_config.json model_max_length; 0 = unlimited */
    int clean_up_spaces;      /* tokenizer_config.json clean_up_tokenization_spaces */
    int32_t mask_id, pad_id, unk_id;
    char mask_token[64];
    int word_aware;           /* the tokenizer model has a continuing_subword_prefix */
    cJSON *gen_config;        /* generation_config.json (decoders; NULL when absent; owned) */
};

/* tl_pipeline_run on parsed inputs: params_json (may be NULL) overlays the creation
 * options; sets *res to a new JSON value or returns an error prefixed with the task. */
tl_status tl_pipeline_run_json(tl_pipeline *p, const cJSON *inputs, const char *params_json, cJSON **res);

/* 1 when a JSON string in js holds the escape \u0000 (cJSON would cut the text there). */
int tl_pl_json_has_nul(const char *js);

/* ---------------------------------------------------------------- merging (pipeline_merge.c) */

/* The number of inputs of inputs_json when the task may run it in one call with other
 * requests' inputs (a form the task's merge field allows, at least one input); 0 when it
 * must run alone (another form, invalid JSON, a NUL byte: its own run reports that). */
size_t tl_pipeline_merge_items(const tl_pipeline *p, const char *inputs_json);

/* Runs n requests' inputs (each mergeable, tl_pipeline_merge_items > 0) with the same
 * params_json in one call, and sets outputs[i] (malloc'd) to what tl_pipeline_run would
 * give for inputs_json[i] alone. On an error no output is set: run them one by one to give
 * each request its own error. */
tl_status tl_pipeline_run_merged(tl_pipeline *p, const char *const *inputs_json, size_t n,
                                 const char *params_json, char **outputs);
/* The stream function (and its user data) of the tl_pipeline_run_stream call running on
 * this thread; NULL outside one (thread-local, so concurrent runs stay independent). */
tl_text_fn tl_pl_stream(void **user_data);
/* Sets this thread's stream function (NULL: none); tl_pipeline_run_stream's. */
void tl_pl_stream_set(tl_text_fn fn, void *user_data);

/* ---------------------------------------------------------------- helpers (pipeline_util.c) */

/* Packed encoder output of n encodings: hidden (total, H), cu (n + 1) token offsets. */
typedef struct tl_pl_out {
    float *hidden;
    size_t *cu;
    size_t total;
} tl_pl_out;

/* Encodes text (and pair, may be NULL) with the model's tokenizer, truncating (longest
 * first) to max_length tokens when max_length > 0. A sequence longer than the model
 * allows is an error naming the input and saying to pass truncation. Caller frees *out. */
tl_status tl_pl_encode(const tl_pipeline *p, const char *text, const char *pair, size_t max_length,
                       size_t index, tl_encoding **out);

/* Runs the encoder on n encodings packed into one batch by tl_text_batch_pack (the one
 * packer). Caller frees with tl_pl_out_free. */
tl_status tl_pl_forward(const tl_pipeline *p, tl_encoding *const *encs, size_t n, tl_pl_out *out);
void tl_pl_out_free(tl_pl_out *o);

/* Truncation length from transformers' tokenizer kwargs in params ("truncation": true or a
 * strategy name, "max_length"): 0 = none. default_on: truncate even without "truncation"
 * (as token-classification does). Sets *err on a bad value. */
tl_status tl_pl_truncation(const tl_pipeline *p, const cJSON *params, int default_on, size_t *max_length);

/* x (n) <- softmax(x), computed in float as numpy does on float32 logits. */
void tl_pl_softmax(float *x, size_t n);

/* Decodes ids as tokenizer.decode does (the tokenizer's decoder, optional skip of special
 * tokens, clean_up_tokenization_spaces). Returns a malloc'd string, NULL on OOM. */
char *tl_pl_decode(const tl_pipeline *p, const int32_t *ids, size_t n, int skip_special);
/* tl_pl_decode with clean_up_tokenization_spaces given (the call's) instead of the tokenizer's. */
char *tl_pl_decode_clean(const tl_pipeline *p, const int32_t *ids, size_t n, int skip_special, int clean);

/* Joins token strings as tokenizer.convert_tokens_to_string does. malloc'd, NULL on OOM. */
char *tl_pl_tokens_to_string(const tl_pipeline *p, const char *const *toks, size_t n);

/* Byte offsets of each code point of s (n_cp + 1 entries, last = strlen). malloc'd. */
size_t *tl_pl_cp_offsets(const char *s, size_t *n_cp);

/* The inputs as a list of items: a JSON array's elements, or the value itself (then
 * *single = 1). Fills a malloc'd array of borrowed pointers. */
tl_status tl_pl_items(const cJSON *inputs, const cJSON ***items, size_t *n, int *single);

/* One input's result (tl_pl_map): item is the index-th input; ctx is the caller's. */
typedef tl_status (*tl_pl_one_fn)(tl_pipeline *p, const cJSON *item, size_t index, const void *ctx, cJSON **out);
/* Runs one() on a single input (not an array: its result) or on each element of an array
 * (a list of results). On error nothing is returned (*out NULL) and one()'s error stands. */
tl_status tl_pl_map(tl_pipeline *p, const cJSON *inputs, tl_pl_one_fn one, const void *ctx, cJSON **out);

/* Reads an integer parameter (>= min) or def when absent/null; error names the key. */
tl_status tl_pl_int(const cJSON *params, const char *key, long def, long min, long *out);
/* Reads a boolean parameter or def when absent/null. */
tl_status tl_pl_bool(const cJSON *params, const char *key, int def, int *out);

/* Encodes n (text, pair) inputs (pairs may be NULL), runs the encoder and the
 * sequence-classification head on each first token; writes (n, n_labels) logits. */
tl_status tl_pl_seq_logits(tl_pipeline *p, const char *const *texts, const char *const *pairs, size_t n,
                           size_t max_length, float *logits);

/* Adds a number that keeps float32 precision as Python's float(np.float32) prints it. */
cJSON *tl_pl_add_num(cJSON *obj, const char *key, double v);

#endif
