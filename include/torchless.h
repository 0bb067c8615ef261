/* torchless.h — the one public header of libtorchless.
 *
 * Conventions:
 *  - Every exported symbol starts with tl_. Handles are opaque.
 *  - Functions that can fail return tl_status (or NULL) and set a thread-local
 *    message read by tl_last_error(); the library never exits or aborts on bad input.
 *  - Objects returned through an out-pointer are owned by the caller and freed
 *    with the matching tl_*_free(); passing NULL to a free function is a no-op.
 *  - Text is UTF-8. Invalid UTF-8 is rejected with TL_ERR_INVALID_ARG and a
 *    message naming the byte offset.
 */
#ifndef TORCHLESS_H
#define TORCHLESS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Marks the functions libtorchless exports: the library is built with
 * -fvisibility=hidden, so only what this header declares is visible. */
#if defined(__GNUC__) && !defined(TL_API)
#define TL_API __attribute__((visibility("default")))
#elif !defined(TL_API)
#define TL_API
#endif

#define TL_VERSION_MAJOR 0
#define TL_VERSION_MINOR 1
#define TL_VERSION_PATCH 0

typedef enum tl_status {
    TL_OK = 0,
    TL_ERR_IO = 1,          /* a file is missing or unreadable */
    TL_ERR_FORMAT = 2,      /* a file is malformed: JSON, safetensors header, shapes */
    TL_ERR_UNSUPPORTED = 3, /* valid input we do not support (model_type, dtype, ...) */
    TL_ERR_INVALID_ARG = 4, /* a bad argument: NULL, out of range, invalid UTF-8 */
    TL_ERR_OOM = 5,         /* an allocation failed or a size overflowed */
    TL_ERR_INTERNAL = 6,    /* a bug in torchless: please report */
    TL_ERR_NUMERIC = 7      /* a forward computed NaN or Inf (the result is not returned) */
} tl_status;

/* Returns "MAJOR.MINOR.PATCH"; static storage. */
TL_API const char *tl_version(void);

/* Returns the message of the last failed call on this thread ("" if none); valid until
 * the next torchless call on this thread. */
TL_API const char *tl_last_error(void);

/* Returns a static name for a status code, e.g. "TL_ERR_FORMAT". */
TL_API const char *tl_status_name(tl_status s);

/* Returns sizeof the public struct named name ("tl_encode_params", "tl_model_params",
 * "tl_batch", "tl_embed_params", "tl_tensor_view", "tl_accuracy_report", "tl_context_params",
 * "tl_generate_params"), or 0 for another name; bindings check their mirrors of these
 * structs against it. */
TL_API size_t tl_struct_size(const char *name);

/* ------------------------------------------------------------------ tokenizer */

typedef struct tl_tokenizer tl_tokenizer;
typedef struct tl_encoding tl_encoding;

/* Loads a tokenizer from a directory holding tokenizer.json (or vocab.txt), from a
 * path to a tokenizer.json file, or from a Hugging Face model id found in the local
 * cache. On error returns non-OK and leaves *out NULL. */
TL_API tl_status tl_tokenizer_load(const char *path_or_id, tl_tokenizer **out);
TL_API void tl_tokenizer_free(tl_tokenizer *tok);

/* Truncation strategies (tokenizers' TruncationStrategy) for tl_encode_params.truncation. */
typedef enum tl_truncation_strategy {
    TL_TRUNCATE_LONGEST_FIRST = 0, /* cut the longer sequence first (default) */
    TL_TRUNCATE_ONLY_FIRST = 1,    /* cut only the first sequence */
    TL_TRUNCATE_ONLY_SECOND = 2    /* cut only the pair (an error without one) */
} tl_truncation_strategy;

/* Padding strategies for tl_encode_params.padding. */
typedef enum tl_padding_strategy {
    TL_PAD_NONE = 0,    /* no padding (default) */
    TL_PAD_LONGEST = 1, /* to the longest encoding of the call (a single encode: itself) */
    TL_PAD_FIXED = 2    /* to pad_length */
} tl_padding_strategy;

/* All-zero fields (other than add_special_tokens) mean the defaults. */
typedef struct tl_encode_params {
    int add_special_tokens; /* 1 (default): [CLS] ... [SEP] as the post-processor says */
    size_t max_length;      /* truncate to this many tokens incl. specials; 0 = no truncation */
    int truncation;         /* tl_truncation_strategy (default TL_TRUNCATE_LONGEST_FIRST) */
    size_t stride;          /* overflowing windows repeat this many tokens of the previous one */
    int truncation_left;    /* 1: truncate on the left (keep the end); 0 (default): right */
    int padding;            /* tl_padding_strategy (default TL_PAD_NONE) */
    size_t pad_length;      /* TL_PAD_FIXED: the padded length */
    size_t pad_to_multiple_of; /* round the padded length up to a multiple; 0 = no */
    int32_t pad_id, pad_type_id; /* ids of padding tokens (default 0, 0) */
    const char *pad_token;  /* token string of padding; NULL (default) = "[PAD]" */
    int padding_left;       /* 1: pad on the left; 0 (default): right */
    int num_threads;        /* tl_tokenizer_encode_batch: 0 (default) = OpenMP's default */
    size_t max_overflow_tokens; /* most tokens in one encoding's overflowing windows (nested
                                 * ones included), else TL_ERR_INVALID_ARG; 0 (default) =
                                 * TL_DEFAULT_MAX_OVERFLOW_TOKENS, SIZE_MAX = no limit */
    size_t max_padded_length; /* longest length padding may produce (pad_length and
                               * pad_to_multiple_of included), else TL_ERR_INVALID_ARG before
                               * allocating; 0 (default) = TL_DEFAULT_MAX_PADDED_LENGTH,
                               * SIZE_MAX = no limit */
    int drop_overflowing;   /* 1: truncation drops the cut-off tokens instead of making
                             * overflowing encodings (the kept tokens are the same; what the
                             * tasks use); a single text truncated on the right then stops
                             * tokenizing once it has max_length tokens. 0 (default):
                             * tokenizers' overflowing encodings */
    size_t max_normalize_growth; /* the normalizer may make at most this many times the
                                  * characters it is given, + 4096 (one text, or one part
                                  * between added tokens), else TL_ERR_INVALID_ARG before
                                  * allocating more; 0 (default) =
                                  * TL_DEFAULT_NORMALIZE_GROWTH, SIZE_MAX = no limit */
    size_t max_regex_ms;    /* a regex of the tokenizer (Split, Replace) may run this many ms
                             * on one text, + 1 ms per 1,000 chars, else TL_ERR_INVALID_ARG
                             * naming the pattern; 0 (default) = TL_DEFAULT_REGEX_MS,
                             * SIZE_MAX = no limit. PCRE2's match limit applies always */
} tl_encode_params;

/* The default of tl_encode_params.max_overflow_tokens (tokenizers has no such limit). */
#define TL_DEFAULT_MAX_OVERFLOW_TOKENS ((size_t)1000000)
/* The default of tl_encode_params.max_normalize_growth (tokenizers has no such limit; NFKC
 * makes at most 18 characters of one, real normalizers about 1 to 3). */
#define TL_DEFAULT_NORMALIZE_GROWTH ((size_t)18)
/* The default of tl_encode_params.max_regex_ms (tokenizers has no such limit). */
#define TL_DEFAULT_REGEX_MS ((size_t)1000)
/* The default of tl_encode_params.max_padded_length (tokenizers has no such limit). */
#define TL_DEFAULT_MAX_PADDED_LENGTH ((size_t)1000000)

/* Returns the defaults: add_special_tokens = 1, every other field 0 / NULL. */
TL_API tl_encode_params tl_encode_default_params(void);

/* Encodes text (text_len bytes, need not be NUL-terminated) and an optional pair
 * (pair == NULL for none). params may be NULL for defaults. Caller frees *out. */
TL_API tl_status tl_tokenizer_encode(const tl_tokenizer *tok, const char *text, size_t text_len,
                              const char *pair, size_t pair_len,
                              const tl_encode_params *params, tl_encoding **out);
TL_API void tl_encoding_free(tl_encoding *enc);

/* Encodes n texts (and pairs: pairs NULL for none, pairs[i] NULL for none at i) on
 * params->num_threads OpenMP threads; out[i] is the encoding of texts[i]. text_lens /
 * pair_lens may be NULL (strlen). TL_PAD_LONGEST pads to the longest of the batch. On
 * error every out[i] is NULL and the message names the failing index. Caller frees each
 * out[i] with tl_encoding_free. */
TL_API tl_status tl_tokenizer_encode_batch(const tl_tokenizer *tok, const char *const *texts,
                                    const size_t *text_lens, const char *const *pairs,
                                    const size_t *pair_lens, size_t n,
                                    const tl_encode_params *params, tl_encoding **out);

/* Accessors: arrays of tl_encoding_length() entries owned by the encoding. */
TL_API size_t tl_encoding_length(const tl_encoding *enc);
TL_API const int32_t *tl_encoding_ids(const tl_encoding *enc);
TL_API const int32_t *tl_encoding_type_ids(const tl_encoding *enc);
TL_API const int32_t *tl_encoding_special_tokens_mask(const tl_encoding *enc);
TL_API const int32_t *tl_encoding_attention_mask(const tl_encoding *enc);
/* Character offsets into the input, as pairs [start, end) in Unicode code points
 * (as Python's tokenizers reports them): 2 * length entries. */
TL_API const int32_t *tl_encoding_offsets(const tl_encoding *enc);
/* Word index of each token, -1 for special tokens. */
TL_API const int32_t *tl_encoding_word_ids(const tl_encoding *enc);
/* Input sequence of each token: 0 (text), 1 (pair), -1 for special and padding tokens. */
TL_API const int32_t *tl_encoding_sequence_ids(const tl_encoding *enc);
/* Overflowing encodings produced by truncation (tokenizers' Encoding.overflowing): their
 * number, and encoding i (NULL when out of range), owned by enc; never free it. */
TL_API size_t tl_encoding_n_overflowing(const tl_encoding *enc);
TL_API const tl_encoding *tl_encoding_overflowing(const tl_encoding *enc, size_t i);
/* Token string i (static for the encoding's lifetime). */
TL_API const char *tl_encoding_token(const tl_encoding *enc, size_t i);
/* Byte length of token string i (it may hold NUL bytes, e.g. an unknown U+0000 piece). */
TL_API size_t tl_encoding_token_length(const tl_encoding *enc, size_t i);

/* Decodes ids to text as tokenizers' Tokenizer.decode (the tokenizer's decoder; ids not
 * in the vocabulary are skipped; special added tokens too when skip_special_tokens), then,
 * when clean_up_tokenization_spaces, transformers' clean_up_tokenization (which
 * transformers 5 skips for BPE models; so do we). *out is NUL-terminated UTF-8 the caller
 * frees with tl_free. */
TL_API tl_status tl_tokenizer_decode(const tl_tokenizer *tok, const int32_t *ids, size_t n,
                              int skip_special_tokens, int clean_up_tokenization_spaces, char **out);
/* The same, also giving the byte length (the text may hold NUL, e.g. a byte-level 0x00). */
TL_API tl_status tl_tokenizer_decode_len(const tl_tokenizer *tok, const int32_t *ids, size_t n,
                                  int skip_special_tokens, int clean_up_tokenization_spaces,
                                  char **out, size_t *out_len);

/* Vocabulary size, and id <-> token lookups (-1 / NULL when absent). */
TL_API size_t tl_tokenizer_vocab_size(const tl_tokenizer *tok);
TL_API int32_t tl_tokenizer_token_to_id(const tl_tokenizer *tok, const char *token);
TL_API const char *tl_tokenizer_id_to_token(const tl_tokenizer *tok, int32_t id);

/* ------------------------------------------------------------------ model */

typedef struct tl_model tl_model;

typedef struct tl_model_params {
    int num_threads; /* threads of the model's own context and the default of new ones;
                        0 (default): $TORCHLESS_NUM_THREADS, else the CPUs this process may use */
    int load_tokenizer; /* 1 (default): load the tokenizer found beside the weights; a
                           missing tokenizer is then an error for text entry points only */
    int precision;      /* tl_precision of the encoder's linear layers (default FP32) */
    int check_accuracy; /* 1: run the accuracy guard at load (always on for AUTO) */
    float min_cosine;   /* guard: least cosine of a token's last hidden state to fp32's;
                           0 (default): TL_DEFAULT_MIN_COSINE_BF16 / _INT8. Each linear
                           layer's own output must also keep cosine 0.99 to its fp32 twin's,
                           or min_cosine when that is set lower */
    float max_rel_error; /* guard: largest relative L2 error of a token's last hidden
                            state; 0 (default): TL_DEFAULT_MAX_REL_ERROR_BF16 / _INT8 */
} tl_model_params;

/* Precisions of the encoder's linear layers (QKV, attention output, FFN, embedding
 * projection); embeddings, norms, softmax, residuals and task heads stay fp32. */
typedef enum tl_precision {
    TL_PRECISION_FP32 = 0, /* fp32 everywhere (default; bit-identical to earlier releases) */
    TL_PRECISION_BF16 = 1, /* bf16 weights and inputs, fp32 accumulation and output; needs
                              AVX512-BF16 (else TL_ERR_UNSUPPORTED) */
    TL_PRECISION_INT8 = 2, /* s8 weights (per-output-channel scales), s8 inputs quantized
                              per token at run time, dequantized to fp32; needs AVX512-VNNI */
    TL_PRECISION_AUTO = 3  /* the fastest native precision whose accuracy guard passes */
} tl_precision;

/* The guard's default thresholds (docs/precision.md gives the measured values). */
#define TL_DEFAULT_MIN_COSINE_BF16 0.999f
#define TL_DEFAULT_MAX_REL_ERROR_BF16 0.05f
#define TL_DEFAULT_MIN_COSINE_INT8 0.98f
#define TL_DEFAULT_MAX_REL_ERROR_INT8 0.25f

/* What the accuracy guard measured at load (tl_model_accuracy). */
typedef struct tl_accuracy_report {
    int checked;         /* 1 when the guard ran */
    int precision;       /* the tl_precision the model runs (AUTO resolved) */
    float max_rel_error; /* largest ||y - y_fp32|| / ||y_fp32|| over the calibration tokens */
    float min_cosine;    /* least cosine(y, y_fp32) over them */
    size_t n_tokens;     /* calibration tokens compared */
} tl_accuracy_report;

/* Static name of a precision: "fp32", "bf16", "int8", "auto" ("?" when invalid). */
TL_API const char *tl_precision_name(int precision);
/* Parses such a name into *precision; returns 0 when it names none. */
TL_API int tl_precision_parse(const char *name, int *precision);
/* Fills *out with the model's precision and what its guard measured; TL_ERR_INVALID_ARG on
 * NULL. */
TL_API tl_status tl_model_accuracy(const tl_model *model, tl_accuracy_report *out);

/* Returns the defaults described above. */
TL_API tl_model_params tl_model_default_params(void);

/* Loads config.json + weights (model.safetensors, a sharded safetensors index, ...)
 * from a directory or a Hugging Face model id in the local cache (HF_HUB_CACHE,
 * HF_HOME/hub, ~/.cache/huggingface/hub). params may be NULL. Caller frees *out. */
TL_API tl_status tl_model_load(const char *path_or_id, const tl_model_params *params, tl_model **out);
TL_API void tl_model_free(tl_model *model);

/* A tensor in caller memory, for tl_model_load_tensors. */
typedef struct tl_tensor_view {
    const char *name;     /* checkpoint name, e.g. "bert.encoder.layer.0.attention.self.query.weight" */
    const char *dtype;    /* "F32", "F16", "BF16" or "F64" (safetensors' names) */
    int ndim;             /* 0..8 */
    const int64_t *shape; /* ndim sizes */
    const void *data;     /* contiguous row-major elements; must outlive the model */
} tl_tensor_view;

/* Loads a model from the text of a config.json and n tensors in caller memory (e.g. a
 * live PyTorch state_dict): F32 tensors that are 4-byte aligned are used in place, with
 * no copy; other dtypes are converted once. The model has no tokenizer and the default
 * sentence-embedding settings (mean pooling). params may be NULL. Errors name the
 * tensor and the field, as for files. Caller frees *out with tl_model_free(). */
TL_API tl_status tl_model_load_tensors(const char *config_json, const tl_tensor_view *tensors, size_t n,
                                const tl_model_params *params, tl_model **out);

/* Architecture facts. */
TL_API size_t tl_model_hidden_size(const tl_model *model);
TL_API size_t tl_model_max_positions(const tl_model *model); /* max tokens per sequence */
TL_API const char *tl_model_type(const tl_model *model);     /* config.json model_type */
/* The tokenizer loaded with the model, or NULL; owned by the model. */
TL_API const tl_tokenizer *tl_model_tokenizer(const tl_model *model);

/* A packed batch: n_seqs sequences laid end to end, no padding.
 * seq_lens[i] tokens for sequence i; total = sum(seq_lens).
 * input_ids: [total]. token_type_ids, position_ids, attention_mask: [total] or NULL
 * (NULL means zeros, 0..len-1 per sequence, and all ones). A token whose
 * attention_mask is 0 is still computed, but no token attends to it; a mask value other
 * than 0 or 1 is TL_ERR_INVALID_ARG. */
typedef struct tl_batch {
    size_t n_seqs;
    const size_t *seq_lens;
    const int32_t *input_ids;
    const int32_t *token_type_ids;
    const int32_t *position_ids;
    const int32_t *attention_mask;
} tl_batch;

/* Runs the encoder; writes the last hidden state, [total, hidden] row-major, to out
 * (out_len floats available). Errors on ids out of range or sequences longer than the
 * model allows. Runs on the model's spare context (see tl_context). */
TL_API tl_status tl_model_forward(tl_model *model, const tl_batch *batch, float *out, size_t out_len);

/* ------------------------------------------------------------------ contexts */

/* A context: one caller's mutable state for forwards on a model (the activation arena kept
 * between calls, the thread count, the GEMM library's per-caller state). A loaded model
 * never changes: any number of contexts run forwards on one model at the same time, from
 * different threads, each giving the result a serial run gives. One context runs one
 * forward at a time (calls on one context must not overlap). The calls that take a model
 * and no context (tl_model_forward, tl_embed, tl_pipeline_run, ...) borrow the model's
 * spare context, or make a temporary one when it is in use, so they may overlap too. */
typedef struct tl_context tl_context;

typedef struct tl_context_params {
    int num_threads; /* 0 (default): the model's (tl_model_params.num_threads as resolved) */
    size_t kv_cache_tokens; /* decoders: tokens the KV cache holds across all its sequences,
                             * allocated at the first decode step; 0 (default): the model's
                             * max positions, at most 8192 */
} tl_context_params;

/* Returns the defaults described above. */
TL_API tl_context_params tl_context_default_params(void);

/* Creates a context for model, which is borrowed and must outlive it. params may be NULL.
 * Caller frees *out with tl_context_free(). Errors: NULL arguments, a negative thread
 * count (TL_ERR_INVALID_ARG), out of memory. */
TL_API tl_status tl_context_new(const tl_model *model, const tl_context_params *params, tl_context **out);
TL_API void tl_context_free(tl_context *ctx);

/* The thread count the context's forwards use. */
TL_API int tl_context_num_threads(const tl_context *ctx);

/* tl_model_forward on ctx's model with ctx's arena and threads. */
TL_API tl_status tl_context_forward(tl_context *ctx, const tl_batch *batch, float *out, size_t out_len);

/* ------------------------------------------------------------------ tasks */

/* Size of one sentence embedding (the pooled dimension; the hidden size for BERT). */
TL_API size_t tl_model_embedding_dim(const tl_model *model);

typedef struct tl_embed_params {
    int normalize;     /* -1 (default): as the model's sentence-transformers modules say; 0 or 1 forces it */
    size_t max_length; /* 0 (default): sentence_bert_config.json max_seq_length, else the model's max */
} tl_embed_params;

/* Returns the defaults described above. */
TL_API tl_embed_params tl_embed_default_params(void);

/* Sentence embeddings, as SentenceTransformer.encode gives them: tokenize (truncating),
 * run the encoder on the packed batch, pool (mean / cls / max / lasttoken as
 * 1_Pooling/config.json says), normalize where 2_Normalize is present.
 * Writes n_texts * tl_model_embedding_dim() floats to out (out_len available). */
TL_API tl_status tl_embed(tl_model *model, const char *const *texts, size_t n_texts,
                   const tl_embed_params *params, float *out, size_t out_len);

/* Feature extraction: the last hidden state of every token of every text. */
typedef struct tl_features tl_features;

/* Tokenizes texts (truncating to max_length, 0 = the model's maximum) and runs the
 * encoder. Caller frees *out with tl_features_free(). */
TL_API tl_status tl_extract_features(tl_model *model, const char *const *texts, size_t n_texts,
                              size_t max_length, tl_features **out);
TL_API size_t tl_features_count(const tl_features *f);
/* Returns text i's [n_tokens, hidden] row-major matrix (owned by f), NULL if out of range. */
TL_API const float *tl_features_get(const tl_features *f, size_t i, size_t *n_tokens, size_t *hidden);
TL_API void tl_features_free(tl_features *f);

/* ------------------------------------------------------------------ pipelines */

/* A task pipeline over a loaded model: task head weights + pre/post-processing giving
 * exactly what transformers.pipeline(task) gives, as JSON. */
typedef struct tl_pipeline tl_pipeline;

/* Creates a pipeline for task ("text-classification", "token-classification",
 * "question-answering", "fill-mask", "zero-shot-classification", "feature-extraction",
 * "sentence-embedding", "text-pair-scoring", "text-ranking" (alias "rerank"),
 * "sentence-similarity", "text-generation" (decoders); NULL = inferred from config.json "architectures") on model, which
 * is borrowed and must outlive the pipeline. options_json: NULL or a JSON object of the
 * task's pipeline parameters under transformers' names (top_k, aggregation_strategy,
 * ...). Errors name the missing head weights or the bad option. Free with
 * tl_pipeline_free(). */
TL_API tl_status tl_pipeline_create(tl_model *model, const char *task, const char *options_json,
                             tl_pipeline **out);
TL_API void tl_pipeline_free(tl_pipeline *p);

/* The pipeline's task name (static for its lifetime). */
TL_API const char *tl_pipeline_task(const tl_pipeline *p);

/* The name of the i-th task tl_pipeline_create accepts (static), or NULL when i is past
 * the last one. */
TL_API const char *tl_pipeline_task_name(size_t i);

/* The i-th task alias tl_pipeline_create accepts ("sentiment-analysis", ...; static), its
 * task's name in *task (when task is not NULL); NULL when i is past the last one. */
TL_API const char *tl_pipeline_task_alias(size_t i, const char **task);

/* Runs the pipeline: inputs_json is what transformers' pipeline call takes (a string, a
 * list of strings, or the task's dict / list of dicts), params_json NULL or call-time
 * parameters overriding the options. *output_json is newly allocated JSON with the
 * structure and values transformers returns; free it with tl_free(). */
TL_API tl_status tl_pipeline_run(tl_pipeline *p, const char *inputs_json, const char *params_json,
                          char **output_json);

/* Receives streamed text: index is the input's, text (len bytes, NUL-terminated, whole
 * UTF-8 characters) the new text since the last call for that input. Return 0 to go on,
 * nonzero to end that input's generation there. */
typedef int (*tl_text_fn)(void *user_data, size_t index, const char *text, size_t len);

/* As tl_pipeline_run; text-generation also gives each input's generated text to on_text
 * as it is generated (other tasks never call it). One call at a time per pipeline. */
TL_API tl_status tl_pipeline_run_stream(tl_pipeline *p, const char *inputs_json, const char *params_json,
                                        tl_text_fn on_text, void *user_data, char **output_json);

/* ------------------------------------------------------------------ task heads (logits) */

/* A model's task head run on packed batches: the logits transformers' *For* models
 * return, without any post-processing (torchless.optimize uses it). */
typedef struct tl_task_head tl_task_head;

/* Binds the head of task ("text-classification", "token-classification",
 * "question-answering", "fill-mask", "replaced-token-detection" (ElectraForPreTraining's
 * discriminator, one logit per token)) from model's checkpoint; n_labels is config.json's
 * label count (classification heads only). model is borrowed. Errors name the missing
 * head tensor. Free with tl_task_head_free(). */
TL_API tl_status tl_task_head_create(tl_model *model, const char *task, size_t n_labels,
                              tl_task_head **out);
TL_API void tl_task_head_free(tl_task_head *head);

/* Width of one output row (labels, 2 for start/end, the vocabulary size, or 1), and whether
 * there is one row per token (1) or one per sequence (0: text-classification). */
TL_API size_t tl_task_head_width(const tl_task_head *head);
TL_API int tl_task_head_per_token(const tl_task_head *head);

/* Runs the encoder and the head on a packed batch; writes rows x width floats to out
 * (rows = total tokens, or n_seqs for per-sequence heads). */
TL_API tl_status tl_task_head_forward(tl_task_head *head, const tl_batch *batch, float *out, size_t out_len);

/* ------------------------------------------------------------------ inspection */

/* Writes a human-readable description of the model (architecture, parameter count,
 * dtypes, the kernels one forward pass runs in order) into a newly allocated string
 * that the caller frees with tl_free(). NULL on error. */
TL_API char *tl_model_describe(const tl_model *model);

/* Frees memory returned by torchless (strings from tl_model_describe). */
TL_API void tl_free(void *p);

/* ------------------------------------------------------------------ engine (batching) */

/* A batching engine on one model: requests submitted from any thread are tokenized on the
 * submitting thread, queued, and packed by W worker threads (each with its own tl_context)
 * into padding-free batches of at most max_batch_tokens tokens and max_batch_requests
 * sequences, a worker waiting at most max_batch_delay_ms for more work. Each request is
 * answered with its own status and message. No sockets: src/server is built on it. */
typedef struct tl_engine tl_engine;
typedef struct tl_request tl_request;

typedef struct tl_engine_params {
    int num_workers;           /* worker threads, each with its own context; 0 (default): 1 */
    int threads_per_worker;    /* threads of each worker's forwards; 0 (default): the model's */
    size_t max_batch_tokens;   /* tokens in one packed batch; 0 (default): 16384 */
    size_t max_batch_requests; /* sequences in one packed batch; 0 (default): 256 */
    int max_batch_delay_ms;    /* longest wait for more requests before a batch that is not
                                  full runs; 0 (default): run what is queued at once */
    size_t kv_cache_tokens;    /* decoders: each worker context's KV cache, as
                                  tl_context_params.kv_cache_tokens (0, default: its default) */
} tl_engine_params;

/* Returns the defaults described above. */
TL_API tl_engine_params tl_engine_default_params(void);

/* Starts an engine on model (borrowed: it must outlive the engine). params may be NULL.
 * Errors: NULL arguments, negative values (TL_ERR_INVALID_ARG), threads that cannot start.
 * Caller frees *out with tl_engine_free. */
TL_API tl_status tl_engine_new(tl_model *model, const tl_engine_params *params, tl_engine **out);

/* Stops the engine: requests already submitted still run to completion, then the workers
 * exit and are joined. Requests stay valid (free each with tl_request_free). NULL: no-op. */
TL_API void tl_engine_free(tl_engine *e);

/* Requests currently queued (submitted, not yet taken by a worker). */
TL_API size_t tl_engine_queue_size(const tl_engine *e);

/* What a request computes. */
typedef enum tl_request_kind {
    TL_REQUEST_EMBED = 0,    /* sentence embeddings, as tl_embed (n x tl_model_embedding_dim) */
    TL_REQUEST_FEATURES = 1, /* last hidden state of every token, as tl_extract_features */
    TL_REQUEST_PIPELINE = 2, /* tl_pipeline_run(pipeline, inputs_json, params_json) */
    TL_REQUEST_GENERATE = 3  /* tl_engine_submit_generate's (not through tl_engine_submit) */
} tl_request_kind;

typedef struct tl_request_params {
    int kind;              /* tl_request_kind (default TL_REQUEST_EMBED) */
    int normalize;         /* EMBED: -1 (default) as the model says; 0 or 1 forces it */
    int truncate;          /* 1: cut inputs longer than the limit; 0 (default): such an input
                              is a TL_ERR_INVALID_ARG naming it and its length */
    int truncate_left;     /* 1: cut on the left (keep the end); 0 (default): right */
    size_t max_length;     /* the limit in tokens; 0 (default): EMBED as tl_embed's
                              (sentence_bert_config max_seq_length), FEATURES the model's */
    tl_pipeline *pipeline; /* PIPELINE: the pipeline (borrowed; its model is the engine's) */
    const char *inputs_json, *params_json; /* PIPELINE: copied at submission */
} tl_request_params;

/* Returns the defaults described above. */
TL_API tl_request_params tl_request_default_params(void);

/* Submits n texts (lens[i] bytes each; lens NULL = strlen) as one request (one result,
 * kept together in one batch). EMBED / FEATURES texts are tokenized here, on the calling
 * thread: invalid UTF-8, too-long inputs and bad parameters fail here, with the message
 * in tl_last_error() and *out NULL. On success *out is a new request the caller waits on
 * and frees with tl_request_free. PIPELINE requests take no texts (n = 0). Thread-safe. */
TL_API tl_status tl_engine_submit(tl_engine *e, const char *const *texts, const size_t *lens, size_t n,
                           const tl_request_params *params, tl_request **out);

/* Submits n pre-tokenized sequences (ids[i]: lens[i] token ids, used as they are: no
 * special tokens are added; type ids 0) as one EMBED or FEATURES request. Every id must be
 * in the vocabulary and every sequence non-empty and within the limit (params->truncate
 * cuts it, params->truncate_left from the left). Errors as tl_engine_submit's. */
TL_API tl_status tl_engine_submit_ids(tl_engine *e, const int32_t *const *ids, const size_t *lens, size_t n,
                               const tl_request_params *params, tl_request **out);

/* Waits until r is done (timeout_ms < 0: forever) and returns its status; TL_ERR_IO with
 * the message "timed out" when the wait timed out (r is still pending). The request's
 * message, not tl_last_error(), says what failed. */
TL_API tl_status tl_request_wait(tl_request *r, int timeout_ms);

/* Cancels r: if no worker has taken it, it is dropped before it runs and completes with
 * TL_ERR_INVALID_ARG, "cancelled"; a running request finishes normally, except a generate
 * request, which ends at the next decode step (TL_ERR_INVALID_ARG, "cancelled", its tokens
 * so far kept, its KV pages freed). Thread-safe. */
TL_API void tl_request_cancel(tl_request *r);

/* 1 when r is done (its result or error is set). */
TL_API int tl_request_done(const tl_request *r);
/* 1 when r was dropped by tl_request_cancel before it ran. */
TL_API int tl_request_cancelled(const tl_request *r);

/* A done request's status and message ("" when OK); owned by r. */
TL_API tl_status tl_request_status(const tl_request *r);
TL_API const char *tl_request_error(const tl_request *r);

/* EMBED: n x dim floats, row i the embedding of text i (owned by r; NULL before done or on
 * error); *n and *dim may be NULL. */
TL_API const float *tl_request_embeddings(const tl_request *r, size_t *n, size_t *dim);
/* FEATURES: text i's (n_tokens, hidden) matrix, owned by r; NULL when out of range. */
TL_API const float *tl_request_features(const tl_request *r, size_t i, size_t *n_tokens, size_t *hidden);
/* Token count of text i after truncation (EMBED / FEATURES; 0 when out of range). */
TL_API size_t tl_request_tokens(const tl_request *r, size_t i);
/* PIPELINE: the output JSON, owned by r; NULL before done or on error. */
TL_API const char *tl_request_output_json(const tl_request *r);

/* Where a done request's time went, and the batch it ran in. */
typedef struct tl_request_timing {
    double tokenize_us;  /* tokenization on the submitting thread */
    double queue_us;     /* queued until a worker took it */
    double inference_us; /* the worker's forward + pooling (or pipeline run; GENERATE:
                            admission to the last token) */
    size_t batch_requests, batch_seqs, batch_tokens; /* the packed batch it ran in (GENERATE:
                            the largest decode step it shared: sequences, tokens) */
} tl_request_timing;

/* Fills *t (zeros until r is done). */
TL_API void tl_request_get_timing(const tl_request *r, tl_request_timing *t);

/* Frees r; a request still queued is cancelled first, a running one is freed by the
 * worker when it finishes. NULL: no-op. */
TL_API void tl_request_free(tl_request *r);

/* ------------------------------------------------------------------ decoders, generation */

/* Decoder models (model_type gpt2, llama, mistral, qwen2) run on a context's KV cache: a
 * pool of pages of tl_context_params.kv_cache_tokens tokens, shared by the context's
 * sequences. Each sequence is an id; a step appends new tokens to sequences and returns
 * logits. A step that does not fit fails with TL_ERR_INVALID_ARG and changes nothing. */

/* Vocabulary size (the width of a logits row); 0 for NULL. */
TL_API size_t tl_model_vocab_size(const tl_model *model);
/* 1 when the model is a decoder (generates), 0 for an encoder or NULL. */
TL_API int tl_model_is_decoder(const tl_model *model);
/* config.json's eos_token_id (the first when a list), -1 when none. */
TL_API int32_t tl_model_eos_token_id(const tl_model *model);

/* A new empty sequence of ctx's KV cache in *seq_id (the cache is made on first use).
 * Errors: an encoder model, too many live sequences, out of memory. */
TL_API tl_status tl_context_seq_new(tl_context *ctx, int32_t *seq_id);
/* Returns the sequence's pages to the cache; error when seq_id is not live. */
TL_API tl_status tl_context_seq_free(tl_context *ctx, int32_t seq_id);
/* Tokens cached for seq_id (0 when not live). */
TL_API size_t tl_context_seq_length(const tl_context *ctx, int32_t seq_id);
/* Tokens the context's KV cache holds in all (kv_cache_tokens, or its default, rounded up
 * to whole pages of 16 tokens); 0 for NULL. */
TL_API size_t tl_context_kv_capacity(const tl_context *ctx);

/* One step: batch->seq_lens[i] new tokens (>= 1) of batch sequence i are appended to the
 * cached sequence seq_ids[i] (distinct, live), at positions following its cached tokens,
 * and run: a prompt's prefill and a decode step (one token per sequence, each at its own
 * length) are the same call. Writes logits (vocab_size floats per row) to logits
 * (logits_len floats available): one row per batch sequence (its last token) when
 * all_tokens is 0, else one per new token. batch->token_type_ids, position_ids and
 * attention_mask must be NULL. Errors name the sequence: not live, too long for the
 * model, ids out of range, the cache full (nothing is appended then). */
TL_API tl_status tl_context_decode(tl_context *ctx, const int32_t *seq_ids, const tl_batch *batch,
                                   int all_tokens, float *logits, size_t logits_len);

/* The logits of every token of every sequence of batch, as transformers'
 * model(input_ids).logits per sequence (total x vocab_size floats): the sequences run
 * through temporary cache sequences, freed before returning. */
TL_API tl_status tl_context_logits(tl_context *ctx, const tl_batch *batch, float *logits, size_t logits_len);

/* Called by tl_generate for each chosen token, in order, as soon as it is chosen (a
 * streaming hook): seq is the prompt's index, token the id, logprob its log-probability
 * (as out_logprobs). Return 0 to go on, nonzero to end that sequence after this token.
 * Runs on the generating thread; it must not call tl_generate on the same context. */
typedef int (*tl_token_fn)(void *user_data, size_t seq, int32_t token, float logprob);

/* Settings of tl_generate, as transformers' generate() names them. */
typedef struct tl_generate_params {
    size_t max_new_tokens;     /* tokens to generate per sequence at most (>= 1; default 20) */
    const int32_t *eos_ids;    /* n_eos ids that end a sequence (kept in its output); NULL: none */
    size_t n_eos;
    int do_sample;             /* 0 (default): greedy (argmax, first on ties); 1: sample */
    float temperature;         /* > 0 divides the logits when sampling (default 1); 0: greedy */
    int top_k;                 /* > 0: sample among the k most likely (ties at the k-th kept); 0: off */
    float top_p;               /* in (0, 1]: nucleus sampling (default 1: off) */
    float repetition_penalty;  /* > 0; 1 (default): off; else as transformers' (prompt included) */
    uint64_t seed;             /* sampling seed: equal seeds give equal outputs */
    float min_p;               /* in [0, 1]: sampling keeps tokens of probability >= min_p x the
                                  top one's (after temperature, top-k, top-p); 0 (default): off */
    size_t no_repeat_ngram_size; /* > 0: a token that would repeat an n-gram of this size
                                  (prompt included) is banned; 0 (default): off */
    size_t min_new_tokens;     /* eos ids are banned until this many new tokens (default 0) */
    int32_t bos_token_id;      /* >= 0: an empty prompt starts from this token (as generate()
                                  without input_ids); -1 (default): an empty prompt is an error */
    const char *const *stop_strings; /* n_stop_strings non-empty strings: a sequence ends when its
                                  generated text (decoded by tokenizer) contains one, the token
                                  completing it kept; NULL: none */
    size_t n_stop_strings;
    const tl_tokenizer *tokenizer; /* decodes for stop_strings (required with them) */
    float *out_logprobs;       /* NULL, or out_len floats: the log-probability of each chosen token
                                  in the distribution it was chosen from (log-softmax after the
                                  processors, and when sampling after temperature and filters;
                                  transformers' compute_transition_scores(normalize_logits=True)),
                                  laid out as out, NaN past a sequence's end */
    tl_token_fn on_token;      /* NULL, or called for each chosen token (streaming) */
    void *user_data;           /* passed to on_token */
} tl_generate_params;

/* Returns the defaults described above. */
TL_API tl_generate_params tl_generate_default_params(void);

/* A decoder's generation defaults as transformers' GenerationConfig builds them:
 * generation_config.json in the model directory when present (do_sample, temperature,
 * top_k, top_p, min_p, repetition_penalty, no_repeat_ngram_size, max_new_tokens,
 * min_new_tokens, eos_token_id (an id or a list), bos_token_id), else config.json's
 * eos_token_id / bos_token_id, over transformers' defaults (top_k 50, max_new_tokens 20).
 * eos_ids point into model (valid while it lives). The defaults of tl_generate_default_params
 * for NULL or an encoder. */
TL_API tl_generate_params tl_model_generate_params(const tl_model *model);

/* Generates continuations of the n_seqs prompts of prompts (a packed batch, no type ids /
 * positions / mask; an empty prompt is [bos_token_id] when that is set): prefill of all
 * prompts in one step, then one decode step per token for the sequences not yet finished.
 * Writes sequence i's generated tokens to out[i * max_new_tokens ...] (out_len >= n_seqs *
 * max_new_tokens), the rest of its row -1, and their count to n_out[i] (n_seqs entries). A
 * sequence ends at an eos id (included; not before min_new_tokens), a stop string, on_token's
 * word, or after max_new_tokens. Tokens are chosen as transformers' generate() does: logits
 * processors (repetition_penalty, no_repeat_ngram_size, min_new_tokens), then when sampling
 * temperature, top_k, top_p, min_p. Uses temporary sequences of ctx's KV cache (freed before
 * returning), which must hold the prompts plus max_new_tokens - 1 tokens each. Errors:
 * invalid settings (top_p outside (0, 1], temperature < 0, top_k < 0, min_p outside [0, 1],
 * repetition_penalty <= 0, max_new_tokens 0 or past the model's positions, stop strings
 * without a tokenizer), an empty prompt without bos_token_id, a cache too small, an encoder
 * model. */
TL_API tl_status tl_generate(tl_context *ctx, const tl_batch *prompts, const tl_generate_params *params,
                             int32_t *out, size_t out_len, size_t *n_out);

/* ------------------------------------------------------------------ engine: generation */

/* Submits one generation request on a decoder model (continuous batching): the prompt
 * (len token ids, copied; empty: [bos_token_id] when params sets it) joins a worker's
 * running decode batch between steps, its prefill packed with the other new prompts and
 * the running sequences' decode step in one tl_context_decode; it leaves the batch when it
 * ends (as tl_generate: eos, stop string, on_token's word, max_new_tokens) and its KV pages
 * are freed. A request is admitted only when the pages it can ever need (prompt +
 * max_new_tokens - 1 tokens, whole pages) are free, so no sequence overwrites another:
 * until then it waits in the queue. params (NULL: tl_model_generate_params) is copied with
 * its eos ids and stop strings; tokenizer NULL with stop strings: the model's; out_logprobs
 * is ignored (the request keeps each token's log-probability); on_token, when set, is
 * called with seq 0 on the worker's thread (keep it short and thread-safe). Sampling draws
 * from tl_generate's stream of prompt 0 for params->seed, so a request gives what
 * tl_generate gives for its prompt alone. Errors (here, *out NULL): an encoder model, bad
 * settings or ids, a prompt past the model's positions, or one whose pages could never fit
 * the worker's KV cache (naming both sizes). The caller reads tokens as they come with
 * tl_request_wait_tokens / tl_request_generated and frees r with tl_request_free (which,
 * for a running request, ends its sequence at the next step). Thread-safe. */
TL_API tl_status tl_engine_submit_generate(tl_engine *e, const int32_t *prompt, size_t len,
                                           const tl_generate_params *params, tl_request **out);

/* Why a generate request ended. */
typedef enum tl_finish_reason {
    TL_FINISH_NONE = 0,      /* not ended (or not a generate request) */
    TL_FINISH_EOS = 1,       /* an eos id (the last token) */
    TL_FINISH_LENGTH = 2,    /* max_new_tokens tokens */
    TL_FINISH_STOP = 3,      /* a stop string, or on_token returned nonzero */
    TL_FINISH_CANCELLED = 4, /* tl_request_cancel / tl_request_free while it ran or waited */
    TL_FINISH_ERROR = 5      /* the step failed (the request's message says why) */
} tl_finish_reason;

/* GENERATE: waits until r has generated more than seen tokens or is done (timeout_ms < 0:
 * forever; 0: no wait) and returns the count generated so far. The hand-off from the worker
 * to the caller's thread: tokens [0, count) stay valid and unchanged while r lives. */
TL_API size_t tl_request_wait_tokens(tl_request *r, size_t seen, int timeout_ms);
/* GENERATE: the tokens generated so far (*n of them; n may be NULL) and, when logprobs is
 * not NULL, their log-probabilities (as tl_generate's out_logprobs); owned by r. */
TL_API const int32_t *tl_request_generated(const tl_request *r, size_t *n, const float **logprobs);
/* GENERATE: why r ended (TL_FINISH_NONE while it runs). */
TL_API tl_finish_reason tl_request_finish_reason(const tl_request *r);

/* Counters of an engine's decode work since it started. */
typedef struct tl_engine_stats {
    size_t decode_steps;     /* tl_context_decode calls of generate requests */
    size_t generated_tokens; /* tokens chosen for generate requests */
    size_t running_seqs;     /* sequences in the workers' decode batches now */
    size_t max_step_seqs;    /* most sequences one step ran */
} tl_engine_stats;

/* Fills *st (zeros for NULL e). Thread-safe. */
TL_API void tl_engine_get_stats(const tl_engine *e, tl_engine_stats *st);

#ifdef __cplusplus
}
#endif
#endif /* TORCHLESS_H */
