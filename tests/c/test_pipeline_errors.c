/* test_pipeline_errors.c — tl_pipeline_* on wrong use: unknown tasks, checkpoints without
 * the task's head, head tensors of the wrong shape, bad options and inputs, fill-mask
 * without a mask token, NULL arguments; plus a run that works. Every failure must carry a
 * message saying what is wrong and what to do, and nothing may leak (make test-asan).
 *
 * The model: a 1-layer BERT (hidden 8, 2 heads, vocab 16 from vocab.txt), written with the
 * head tensors each test asks for. */
#include "tl_test.h"
#include "tl_tmpdir.h"
#include "torchless.h"

#include <ftw.h>
#include <stdint.h>
#include <sys/stat.h>
#include <unistd.h>

#define H 8
#define V 16


/* Writes s to dir/name. */
static void put(const char *dir, const char *name, const char *s, size_t n) {
    char path[640];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f || (n && fwrite(s, 1, n, f) != n)) { perror(path); exit(2); }
    fclose(f);
}

typedef struct { const char *name; int64_t d0, d1; } spec; /* d1 == 0: 1-D */

/* The encoder tensors of the 1-layer BERT. */
static const spec k_base[] = {
    {"bert.embeddings.word_embeddings.weight", V, H}, {"bert.embeddings.position_embeddings.weight", 16, H},
    {"bert.embeddings.token_type_embeddings.weight", 2, H}, {"bert.embeddings.LayerNorm.weight", H, 0},
    {"bert.embeddings.LayerNorm.bias", H, 0},
    {"bert.encoder.layer.0.attention.self.query.weight", H, H}, {"bert.encoder.layer.0.attention.self.query.bias", H, 0},
    {"bert.encoder.layer.0.attention.self.key.weight", H, H}, {"bert.encoder.layer.0.attention.self.key.bias", H, 0},
    {"bert.encoder.layer.0.attention.self.value.weight", H, H}, {"bert.encoder.layer.0.attention.self.value.bias", H, 0},
    {"bert.encoder.layer.0.attention.output.dense.weight", H, H}, {"bert.encoder.layer.0.attention.output.dense.bias", H, 0},
    {"bert.encoder.layer.0.attention.output.LayerNorm.weight", H, 0}, {"bert.encoder.layer.0.attention.output.LayerNorm.bias", H, 0},
    {"bert.encoder.layer.0.intermediate.dense.weight", 2 * H, H}, {"bert.encoder.layer.0.intermediate.dense.bias", 2 * H, 0},
    {"bert.encoder.layer.0.output.dense.weight", H, 2 * H}, {"bert.encoder.layer.0.output.dense.bias", H, 0},
    {"bert.encoder.layer.0.output.LayerNorm.weight", H, 0}, {"bert.encoder.layer.0.output.LayerNorm.bias", H, 0},
    {"bert.pooler.dense.weight", H, H}, {"bert.pooler.dense.bias", H, 0},
};

/* Writes a model directory with the base tensors plus `extra` (n_extra specs), config.json
 * with n_labels labels and the given architecture, and vocab.txt. */
static const char *write_model(const char *name, const char *arch, int n_labels, const spec *extra, size_t n_extra) {
    const char *d = tl_tmp_join("pipe", name);
    if (mkdir(d, 0700) != 0) { perror(d); exit(2); }
    char cfg[2048];
    int n = snprintf(cfg, sizeof cfg,
                     "{\"model_type\":\"bert\",\"architectures\":[\"%s\"],\"vocab_size\":%d,\"hidden_size\":%d,"
                     "\"num_hidden_layers\":1,\"num_attention_heads\":2,\"intermediate_size\":%d,"
                     "\"max_position_embeddings\":16,\"type_vocab_size\":2,\"id2label\":{",
                     arch, V, H, 2 * H);
    for (int i = 0; i < n_labels; i++) n += snprintf(cfg + n, sizeof cfg - (size_t)n, "%s\"%d\":\"L%d\"", i ? "," : "", i, i);
    n += snprintf(cfg + n, sizeof cfg - (size_t)n, "}}");
    put(d, "config.json", cfg, (size_t)n);
    const char *vocab = "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\nhello\nworld\nthe\nfox\na\n##s\n.\n,\nis\nof\ndog\n";
    put(d, "vocab.txt", vocab, strlen(vocab));

    size_t nt = sizeof k_base / sizeof k_base[0] + n_extra;
    char *hdr = malloc(16384);
    size_t hk = (size_t)snprintf(hdr, 16384, "{"), off = 0;
    for (size_t i = 0; i < nt; i++) {
        const spec *s = i < sizeof k_base / sizeof k_base[0] ? &k_base[i] : &extra[i - sizeof k_base / sizeof k_base[0]];
        size_t numel = (size_t)s->d0 * (size_t)(s->d1 ? s->d1 : 1);
        if (s->d1)
            hk += (size_t)snprintf(hdr + hk, 16384 - hk, "%s\"%s\":{\"dtype\":\"F32\",\"shape\":[%lld,%lld],\"data_offsets\":[%zu,%zu]}",
                                   i ? "," : "", s->name, (long long)s->d0, (long long)s->d1, off, off + 4 * numel);
        else
            hk += (size_t)snprintf(hdr + hk, 16384 - hk, "%s\"%s\":{\"dtype\":\"F32\",\"shape\":[%lld],\"data_offsets\":[%zu,%zu]}",
                                   i ? "," : "", s->name, (long long)s->d0, off, off + 4 * numel);
        off += 4 * numel;
    }
    hk += (size_t)snprintf(hdr + hk, 16384 - hk, "}");
    while (hk % 8) hdr[hk++] = ' ';
    char path[640];
    snprintf(path, sizeof path, "%s/model.safetensors", d);
    FILE *f = fopen(path, "wb");
    uint64_t hl = hk;
    fwrite(&hl, 8, 1, f);
    fwrite(hdr, 1, hk, f);
    uint32_t rng = 12345;
    for (size_t i = 0; i < off / 4; i++) {
        rng = rng * 1103515245u + 12345u;
        float v = (float)((rng >> 8) & 0xffff) / 65536.0f - 0.5f;
        fwrite(&v, 4, 1, f);
    }
    fclose(f);
    free(hdr);
    return d;
}

static const spec k_cls[] = {{"classifier.weight", 3, H}, {"classifier.bias", 3, 0}};
static const spec k_mlm[] = {
    {"cls.predictions.transform.dense.weight", H, H}, {"cls.predictions.transform.dense.bias", H, 0},
    {"cls.predictions.transform.LayerNorm.weight", H, 0}, {"cls.predictions.transform.LayerNorm.bias", H, 0},
    {"cls.predictions.bias", V, 0}};

/* Loads dir (failing the test on error). */
static tl_model *load(const char *dir) {
    tl_model *m = NULL;
    CHECK_OK(tl_model_load(dir, NULL, &m));
    return m;
}

TL_TEST(null_arguments) {
    tl_pipeline *p = (tl_pipeline *)1;
    CHECK(tl_pipeline_create(NULL, "fill-mask", NULL, &p) == TL_ERR_INVALID_ARG);
    CHECK(p == NULL);
    CHECK(tl_pipeline_create(NULL, NULL, NULL, NULL) == TL_ERR_INVALID_ARG);
    char *out = (char *)1;
    CHECK(tl_pipeline_run(NULL, "\"a\"", NULL, &out) == TL_ERR_INVALID_ARG);
    CHECK(out == NULL);
    CHECK(tl_pipeline_task(NULL) == NULL);
    tl_pipeline_free(NULL);
}

TL_TEST(unknown_task_lists_the_supported_ones) {
    tl_model *m = load(write_model("base", "BertModel", 2, NULL, 0));
    tl_pipeline *p = NULL;
    CHECK(tl_pipeline_create(m, "summarization", NULL, &p) == TL_ERR_INVALID_ARG);
    CHECK_CONTAINS(tl_last_error(), "unknown task 'summarization'");
    CHECK_CONTAINS(tl_last_error(), "fill-mask");
    CHECK(p == NULL);
    /* No task given: BertModel means feature-extraction. */
    CHECK_OK(tl_pipeline_create(m, NULL, NULL, &p));
    CHECK(p && !strcmp(tl_pipeline_task(p), "feature-extraction"));
    tl_pipeline_free(p);
    tl_model_free(m);
}

TL_TEST(missing_head_weights_name_the_tensor_and_task) {
    tl_model *m = load(write_model("nohead", "BertModel", 3, NULL, 0));
    tl_pipeline *p = NULL;
    CHECK(tl_pipeline_create(m, "text-classification", NULL, &p) == TL_ERR_FORMAT);
    CHECK_CONTAINS(tl_last_error(), "missing tensor 'classifier.weight': this checkpoint has no text-classification head");
    CHECK_CONTAINS(tl_last_error(), "model.safetensors");
    CHECK(tl_pipeline_create(m, "token-classification", NULL, &p) == TL_ERR_FORMAT);
    CHECK_CONTAINS(tl_last_error(), "no token-classification head");
    CHECK(tl_pipeline_create(m, "fill-mask", NULL, &p) == TL_ERR_FORMAT);
    CHECK_CONTAINS(tl_last_error(), "missing tensor 'cls.predictions.transform.dense.weight': this checkpoint has no fill-mask head");
    CHECK(tl_pipeline_create(m, "question-answering", NULL, &p) == TL_ERR_FORMAT);
    CHECK_CONTAINS(tl_last_error(), "missing tensor 'qa_outputs.weight'");
    CHECK(tl_pipeline_create(m, "zero-shot-classification", NULL, &p) == TL_ERR_FORMAT);
    CHECK(p == NULL);
    tl_model_free(m);
}

TL_TEST(head_of_the_wrong_shape) {
    static const spec bad[] = {{"classifier.weight", 5, H}, {"classifier.bias", 5, 0}};
    tl_model *m = load(write_model("badshape", "BertForSequenceClassification", 3, bad, 2));
    tl_pipeline *p = NULL;
    CHECK(tl_pipeline_create(m, NULL, NULL, &p) == TL_ERR_FORMAT);
    CHECK_CONTAINS(tl_last_error(), "'classifier.weight' has shape [5,8], expected [3, 8]");
    CHECK_CONTAINS(tl_last_error(), "id2label");
    tl_model_free(m);
}

TL_TEST(text_classification_runs_and_rejects_bad_use) {
    tl_model *m = load(write_model("cls", "BertForSequenceClassification", 3, k_cls, 2));
    tl_pipeline *p = NULL;
    CHECK(tl_pipeline_create(m, NULL, "[1,2]", &p) == TL_ERR_INVALID_ARG);
    CHECK_CONTAINS(tl_last_error(), "options must be a JSON object");
    CHECK(tl_pipeline_create(m, NULL, "{\"function_to_apply\":\"bogus\"}", &p) == TL_ERR_INVALID_ARG);
    CHECK_CONTAINS(tl_last_error(), "function_to_apply must be");
    CHECK(tl_pipeline_create(m, NULL, "{\"top_k\":-3}", &p) == TL_ERR_INVALID_ARG);
    CHECK_CONTAINS(tl_last_error(), "top_k");
    CHECK_OK(tl_pipeline_create(m, NULL, NULL, &p));
    CHECK(p && !strcmp(tl_pipeline_task(p), "text-classification"));
    char *out = NULL;
    CHECK_OK(tl_pipeline_run(p, "\"hello world\"", NULL, &out));
    CHECK_CONTAINS(out, "[{\"label\":\"L");
    tl_free(out);
    out = NULL;
    CHECK_OK(tl_pipeline_run(p, "[\"a\", {\"text\":\"the fox\",\"text_pair\":\"a dog\"}]", "{\"top_k\":null}", &out));
    CHECK_CONTAINS(out, "\"label\":\"L2\"");
    tl_free(out);
    out = NULL;
    CHECK(tl_pipeline_run(p, "not json", NULL, &out) == TL_ERR_INVALID_ARG);
    CHECK_CONTAINS(tl_last_error(), "not valid JSON");
    CHECK(tl_pipeline_run(p, "[42]", NULL, &out) == TL_ERR_INVALID_ARG);
    CHECK_CONTAINS(tl_last_error(), "input 0");
    CHECK(tl_pipeline_run(p, "\"a\"", "{\"truncation\":7}", &out) == TL_ERR_INVALID_ARG);
    CHECK_CONTAINS(tl_last_error(), "truncation must be");
    CHECK(tl_pipeline_run(p, "\"hello hello hello hello hello hello hello hello hello hello hello hello hello hello hello\"",
                          NULL, &out) == TL_ERR_INVALID_ARG);
    CHECK_CONTAINS(tl_last_error(), "pass truncation=true");
    CHECK_OK(tl_pipeline_run(p, "\"hello hello hello hello hello hello hello hello hello hello hello hello hello hello hello\"",
                             "{\"truncation\":true}", &out));
    CHECK(out == NULL || out[0] == '[');
    tl_free(out);
    tl_pipeline_free(p);
    tl_model_free(m);
}

TL_TEST(fill_mask_needs_a_mask_token) {
    tl_model *m = load(write_model("mlm", "BertForMaskedLM", 2, k_mlm, sizeof k_mlm / sizeof k_mlm[0]));
    tl_pipeline *p = NULL;
    CHECK_OK(tl_pipeline_create(m, NULL, "{\"top_k\":2}", &p));
    CHECK(p && !strcmp(tl_pipeline_task(p), "fill-mask"));
    char *out = NULL;
    CHECK(tl_pipeline_run(p, "\"hello world\"", NULL, &out) == TL_ERR_INVALID_ARG);
    CHECK_CONTAINS(tl_last_error(), "No mask_token ([MASK]) found on the input");
    CHECK(out == NULL);
    CHECK(tl_pipeline_run(p, "[\"the [MASK]\", \"no mask\"]", NULL, &out) == TL_ERR_INVALID_ARG);
    CHECK_CONTAINS(tl_last_error(), "input 1");
    CHECK_OK(tl_pipeline_run(p, "\"the [MASK] fox [MASK]\"", NULL, &out));
    CHECK_CONTAINS(out, "[[{\"score\":");
    CHECK_CONTAINS(out, "\"token_str\":");
    tl_free(out);
    CHECK(tl_pipeline_run(p, "\"[MASK]\"", "{\"targets\":[]}", &out) == TL_ERR_INVALID_ARG);
    CHECK_CONTAINS(tl_last_error(), "At least one target");
    tl_pipeline_free(p);
    tl_model_free(m);
}

TL_TEST(zero_shot_needs_labels) {
    tl_model *m = load(write_model("nli", "BertForSequenceClassification", 3, k_cls, 2));
    tl_pipeline *p = NULL;
    CHECK_OK(tl_pipeline_create(m, "zero-shot-classification", NULL, &p));
    char *out = NULL;
    CHECK(tl_pipeline_run(p, "\"the fox\"", NULL, &out) == TL_ERR_INVALID_ARG);
    CHECK_CONTAINS(tl_last_error(), "candidate_labels");
    CHECK(tl_pipeline_run(p, "\"the fox\"", "{\"candidate_labels\":[\"a\"],\"hypothesis_template\":\"x\"}", &out) == TL_ERR_INVALID_ARG);
    CHECK_CONTAINS(tl_last_error(), "must contain one {}");
    CHECK_OK(tl_pipeline_run(p, "{\"sequences\":\"the fox\",\"candidate_labels\":\"dog, fox\"}", NULL, &out));
    CHECK_CONTAINS(out, "\"labels\":[");
    tl_free(out);
    tl_pipeline_free(p);
    tl_model_free(m);
}

TL_TEST(text_tasks_need_the_tokenizer) {
    const char *dir = write_model("notok", "BertForSequenceClassification", 3, k_cls, 2);
    tl_model_params mp = tl_model_default_params();
    mp.load_tokenizer = 0;
    tl_model *m = NULL;
    CHECK_OK(tl_model_load(dir, &mp, &m));
    tl_pipeline *p = NULL;
    CHECK(tl_pipeline_create(m, NULL, NULL, &p) == TL_ERR_INVALID_ARG);
    CHECK_CONTAINS(tl_last_error(), "tokenizer");
    tl_model_free(m);
}

TL_TEST(question_answering_needs_a_context) {
    static const spec qa[] = {{"qa_outputs.weight", 2, H}, {"qa_outputs.bias", 2, 0}};
    tl_model *m = load(write_model("qa", "BertForQuestionAnswering", 2, qa, 2));
    tl_pipeline *p = NULL;
    CHECK_OK(tl_pipeline_create(m, NULL, NULL, &p));
    CHECK(p && !strcmp(tl_pipeline_task(p), "question-answering"));
    char *out = NULL;
    CHECK(tl_pipeline_run(p, "{\"question\":\"the fox?\"}", NULL, &out) == TL_ERR_INVALID_ARG);
    CHECK_CONTAINS(tl_last_error(), "a question needs a context");
    CHECK(tl_pipeline_run(p, "\"the fox?\"", NULL, &out) == TL_ERR_INVALID_ARG);
    CHECK_CONTAINS(tl_last_error(), "{\"question\": ..., \"context\": ...}");
    CHECK_OK(tl_pipeline_run(p, "{\"question\":\"the fox?\",\"context\":\"hello world, the fox is a dog.\"}",
                             "{\"top_k\":2,\"handle_impossible_answer\":true}", &out));
    CHECK_CONTAINS(out, "\"answer\":");
    tl_free(out);
    tl_pipeline_free(p);
    tl_model_free(m);
}

TL_TEST(cross_encoder_and_similarity_tasks) {
    static const spec ce[] = {{"classifier.weight", 1, H}, {"classifier.bias", 1, 0}};
    tl_model *m = load(write_model("ce", "BertForSequenceClassification", 1, ce, 2));
    tl_pipeline *p = NULL;
    char *out = NULL;
    CHECK_OK(tl_pipeline_create(m, "rerank", "{\"return_documents\":true}", &p));
    CHECK(p && !strcmp(tl_pipeline_task(p), "text-ranking"));
    CHECK_OK(tl_pipeline_run(p, "{\"query\":\"the fox\",\"documents\":[\"hello\",\"a dog\",\"\"]}", "{\"top_k\":2}", &out));
    CHECK_CONTAINS(out, "\"corpus_id\":");
    CHECK_CONTAINS(out, "\"text\":");
    tl_free(out);
    CHECK(tl_pipeline_run(p, "{\"query\":\"the fox\"}", NULL, &out) == TL_ERR_INVALID_ARG);
    CHECK_CONTAINS(tl_last_error(), "\"documents\"");
    tl_pipeline_free(p);
    CHECK_OK(tl_pipeline_create(m, "text-pair-scoring", NULL, &p));
    CHECK_OK(tl_pipeline_run(p, "[[\"the fox\",\"a dog\"],{\"text\":\"hello\",\"text_pair\":\"world\"}]", NULL, &out));
    CHECK(out && out[0] == '[');
    tl_free(out);
    CHECK(tl_pipeline_run(p, "[\"one\"]", NULL, &out) == TL_ERR_INVALID_ARG);
    CHECK_CONTAINS(tl_last_error(), "expected a pair");
    tl_pipeline_free(p);
    CHECK(tl_pipeline_create(m, "text-pair-scoring", "{\"activation_fn\":\"softplus\"}", &p) == TL_ERR_INVALID_ARG);
    CHECK_CONTAINS(tl_last_error(), "activation_fn");
    CHECK_OK(tl_pipeline_create(m, "sentence-similarity", NULL, &p));
    CHECK_OK(tl_pipeline_run(p, "{\"source_sentence\":\"the fox\",\"sentences\":[\"a dog\",\"the fox\"]}", NULL, &out));
    CHECK(out && out[0] == '[' && strchr(out, ','));
    tl_free(out);
    CHECK(tl_pipeline_run(p, "{\"source_sentence\":\"a\",\"sentences\":[1]}", NULL, &out) == TL_ERR_INVALID_ARG);
    CHECK_CONTAINS(tl_last_error(), "sentence 0 is not a string");
    tl_pipeline_free(p);
    tl_model_free(m);
    m = load(write_model("ce3", "BertForSequenceClassification", 3, k_cls, 2));
    CHECK_OK(tl_pipeline_create(m, "text-ranking", NULL, &p));
    CHECK(tl_pipeline_run(p, "{\"query\":\"a\",\"documents\":[\"b\"]}", NULL, &out) == TL_ERR_INVALID_ARG);
    CHECK_CONTAINS(tl_last_error(), "num_labels=1");
    tl_pipeline_free(p);
    tl_model_free(m);
}
