/* pipeline.c — tl_pipeline_create / free / task / run: picks the task (given, or inferred
 * from config.json "architectures"), binds its head, reads the label names and tokenizer
 * facts, and runs the task on JSON inputs with options + call parameters. */
#include "core/error.h"
#include "core/util.h"
#include "io/json.h"
#include "tasks/pipeline.h"
#include "tokenizer/tokenizer.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const tl_task *const tl_tasks[] = {
    &tl_task_text_classification, &tl_task_token_classification, &tl_task_question_answering,
    &tl_task_fill_mask, &tl_task_zero_shot, &tl_task_feature_extraction, &tl_task_sentence_embedding,
    &tl_task_text_pair_scoring, &tl_task_text_ranking, &tl_task_sentence_similarity, &tl_task_text_generation,
};
#define TL_N_TASKS (sizeof tl_tasks / sizeof tl_tasks[0])

/* transformers' task aliases and the task each names. */
static const struct { const char *alias, *task; } tl_task_aliases[] = {
    {"sentiment-analysis", "text-classification"}, {"ner", "token-classification"}, {"rerank", "text-ranking"},
};
#define TL_N_ALIASES (sizeof tl_task_aliases / sizeof tl_task_aliases[0])

/* The task an alias names, else task itself. */
static const char *canonical_task(const char *task) {
    for (size_t i = 0; i < TL_N_ALIASES; i++)
        if (!strcmp(task, tl_task_aliases[i].alias)) return tl_task_aliases[i].task;
    return task;
}

/* Public API (torchless.h): the i-th task's name, NULL past the end. */
const char *tl_pipeline_task_name(size_t i) { return i < TL_N_TASKS ? tl_tasks[i]->name : NULL; }

/* Public API (torchless.h): the i-th alias (its task in *task), NULL past the end. */
const char *tl_pipeline_task_alias(size_t i, const char **task) {
    if (i >= TL_N_ALIASES) return NULL;
    if (task) *task = tl_task_aliases[i].task;
    return tl_task_aliases[i].alias;
}

/* Writes "a, b, c" of the task names into buf (cap bytes, truncated to fit). */
static void task_list(char *buf, size_t cap) {
    size_t used = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < TL_N_TASKS && used < cap; i++) {
        int w = snprintf(buf + used, cap - used, "%s%s", i ? ", " : "", tl_tasks[i]->name);
        if (w < 0) break;
        used += (size_t)w;
    }
}

/* Returns 1 when s ends with suffix. */
static int ends_with(const char *s, const char *suffix) {
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && !strcmp(s + a - b, suffix);
}

/* The task transformers' pipeline() infers from config.json architectures[0]. */
static const char *infer_task(const cJSON *cfg) {
    const cJSON *arch = cJSON_GetObjectItemCaseSensitive(cfg, "architectures");
    const cJSON *a0 = cJSON_IsArray(arch) ? cJSON_GetArrayItem(arch, 0) : NULL;
    if (!cJSON_IsString(a0)) return "feature-extraction";
    const char *a = a0->valuestring;
    if (ends_with(a, "ForSequenceClassification")) return "text-classification";
    if (ends_with(a, "ForTokenClassification")) return "token-classification";
    if (ends_with(a, "ForQuestionAnswering")) return "question-answering";
    if (ends_with(a, "ForMaskedLM")) return "fill-mask";
    if (ends_with(a, "ForCausalLM") || ends_with(a, "LMHeadModel")) return "text-generation";
    return "feature-extraction";
}

/* Reads id2label (or num_labels: LABEL_i), problem_type and the entailment id. */
static tl_status read_labels(tl_pipeline *p, const cJSON *cfg, const char *path) {
    const cJSON *id2 = cJSON_GetObjectItemCaseSensitive(cfg, "id2label");
    int ok = 1;
    long nl = tl_json_int(cfg, "num_labels", 2, &ok);
    size_t n = cJSON_IsObject(id2) ? (size_t)cJSON_GetArraySize(id2) : (ok && nl > 0 && nl < 100000 ? (size_t)nl : 2);
    p->id2label = calloc(n ? n : 1, sizeof *p->id2label);
    if (!p->id2label) return tl_set_error(TL_ERR_OOM, "out of memory");
    p->n_labels = n;
    const cJSON *e;
    if (cJSON_IsObject(id2)) {
        cJSON_ArrayForEach(e, id2) {
            char *end = NULL;
            long i = strtol(e->string, &end, 10);
            if (!cJSON_IsString(e) || *end || i < 0 || (size_t)i >= n || p->id2label[i])
                return tl_set_error(TL_ERR_FORMAT, "%s: id2label must map the ids 0..%zu to label strings", path, n - 1);
            if (!(p->id2label[i] = tl_strdup(e->valuestring))) return tl_set_error(TL_ERR_OOM, "out of memory");
        }
    }
    for (size_t i = 0; i < n; i++) {
        if (p->id2label[i]) continue;
        char buf[32];
        snprintf(buf, sizeof buf, "LABEL_%zu", i);
        if (!(p->id2label[i] = tl_strdup(buf))) return tl_set_error(TL_ERR_OOM, "out of memory");
    }
    /* CrossEncoder's activation: sentence_transformers.activation_fn, or the older key */
    const cJSON *st = cJSON_GetObjectItemCaseSensitive(cfg, "sentence_transformers");
    const char *ce = tl_json_str(st, "activation_fn");
    if (!ce) ce = tl_json_str(cfg, "sbert_ce_default_activation_function");
    snprintf(p->ce_activation, sizeof p->ce_activation, "%s", ce ? ce : "");
    const char *pt = tl_json_str(cfg, "problem_type");
    snprintf(p->problem_type, sizeof p->problem_type, "%s", pt ? pt : "");
    p->entailment_id = -1;
    const cJSON *l2i = cJSON_GetObjectItemCaseSensitive(cfg, "label2id");
    if (!cJSON_IsObject(l2i)) l2i = NULL;
    cJSON_ArrayForEach(e, l2i) {
        if (strncasecmp(e->string, "entail", 6) == 0 && cJSON_IsNumber(e) && e->valuedouble >= 0 &&
            e->valuedouble <= 2147483647.0) { /* a cast out of int's range is undefined */
            p->entailment_id = (int)e->valuedouble;
            break;
        }
    }
    return TL_OK;
}

/* Reads a special-token string from tokenizer_config.json (a string or {"content": ...}). */
static const char *special_str(const cJSON *tc, const char *key) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(tc, key);
    if (cJSON_IsString(v)) return v->valuestring;
    if (cJSON_IsObject(v)) return tl_json_str(v, "content");
    return NULL;
}

/* Reads tokenizer_config.json (model_max_length, clean-up, special tokens; optional) and
 * the tokenizer's facts the tasks need. */
static tl_status read_tokenizer_facts(tl_pipeline *p) {
    snprintf(p->mask_token, sizeof p->mask_token, "[MASK]");
    const char *unk = "[UNK]", *pad = "[PAD]";
    char *path = tl_path_join(p->m->dir, "tokenizer_config.json");
    cJSON *tc = NULL;
    tl_status s = TL_OK;
    if (!path) return tl_set_error(TL_ERR_OOM, "out of memory");
    if (tl_file_exists(path) && (s = tl_json_load_file(path, &tc)) == TL_OK) {
        const cJSON *ml = cJSON_GetObjectItemCaseSensitive(tc, "model_max_length");
        if (cJSON_IsNumber(ml) && ml->valuedouble >= 1 && ml->valuedouble < 1e15)
            p->model_max_length = (size_t)ml->valuedouble;
        p->clean_up_spaces = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(tc, "clean_up_tokenization_spaces"));
        const char *mt = special_str(tc, "mask_token");
        if (mt) snprintf(p->mask_token, sizeof p->mask_token, "%s", mt);
        if (special_str(tc, "unk_token")) unk = special_str(tc, "unk_token");
        if (special_str(tc, "pad_token")) pad = special_str(tc, "pad_token");
    }
    free(path);
    if (s == TL_OK && p->m->tok) {
        p->mask_id = tl_tokenizer_token_to_id(p->m->tok, p->mask_token);
        if (p->mask_id < 0 && tl_tokenizer_token_to_id(p->m->tok, "<mask>") >= 0) {
            snprintf(p->mask_token, sizeof p->mask_token, "<mask>");
            p->mask_id = tl_tokenizer_token_to_id(p->m->tok, "<mask>");
        }
        p->unk_id = tl_tokenizer_token_to_id(p->m->tok, unk);
        p->pad_id = tl_tokenizer_token_to_id(p->m->tok, pad);
    }
    cJSON_Delete(tc);
    if (s == TL_OK && p->m->tok) p->word_aware = tl_tokenizer_has_subword_prefix(p->m->tok);
    return s;
}

/* Returns 1 when a JSON string in js has the escape \u0000: cJSON would end the string there,
 * silently cutting the text, so such inputs are rejected instead. */
int tl_pl_json_has_nul(const char *js) {
    int in_str = 0;
    for (const char *c = js; *c; c++) {
        if (!in_str) { in_str = *c == '"'; continue; }
        if (*c == '"') in_str = 0;
        else if (*c == '\\' && c[1]) {
            if (c[1] == 'u' && !strncmp(c + 2, "0000", 4)) return 1;
            c++;
        }
    }
    return 0;
}

tl_status tl_pipeline_create(tl_model *m, const char *task, const char *options_json, tl_pipeline **out) {
    if (!out) return tl_set_error(TL_ERR_INVALID_ARG, "tl_pipeline_create: out is NULL");
    *out = NULL;
    if (!m) return tl_set_error(TL_ERR_INVALID_ARG, "tl_pipeline_create: model is NULL");
    tl_pipeline *p = calloc(1, sizeof *p);
    if (!p) return tl_set_error(TL_ERR_OOM, "out of memory");
    p->m = m;
    char *path = tl_path_join(m->dir, "config.json");
    cJSON *cfg = NULL;
    tl_status s = path ? tl_json_load_file(path, &cfg) : tl_set_error(TL_ERR_OOM, "out of memory");
    if (s != TL_OK) goto fail;
    const char *name = task ? canonical_task(task) : infer_task(cfg);
    for (size_t i = 0; i < TL_N_TASKS; i++)
        if (!strcmp(tl_tasks[i]->name, name)) p->task = tl_tasks[i];
    if (!p->task) {
        char names[512];
        task_list(names, sizeof names);
        s = tl_set_error(TL_ERR_INVALID_ARG, "unknown task '%s' (supported: %s)", task, names);
        goto fail;
    }
    if (options_json && *options_json) {
        p->options = cJSON_Parse(options_json);
        if (p->options && tl_json_dedupe(p->options) != 0) { s = tl_set_error(TL_ERR_OOM, "out of memory"); goto fail; }
        if (!cJSON_IsObject(p->options)) {
            s = tl_set_error(TL_ERR_INVALID_ARG, "%s pipeline: options must be a JSON object, got '%.80s'",
                             p->task->name, options_json);
            goto fail;
        }
        if (tl_pl_json_has_nul(options_json)) {
            s = tl_set_error(TL_ERR_INVALID_ARG, "%s pipeline: an option contains a NUL character (\\u0000), "
                             "which is not supported", p->task->name);
            goto fail;
        }
    } else if (!(p->options = cJSON_CreateObject())) {
        s = tl_set_error(TL_ERR_OOM, "out of memory");
        goto fail;
    }
    if ((s = read_labels(p, cfg, path)) || (s = tl_model_require_tokenizer(m)) || (s = read_tokenizer_facts(p)))
        goto fail;
    if (tl_model_is_decoder(m)) {
        char *gp = tl_path_join(m->dir, "generation_config.json");
        if (!gp) { s = tl_set_error(TL_ERR_OOM, "out of memory"); goto fail; }
        if (tl_file_exists(gp)) s = tl_json_load_file(gp, &p->gen_config);
        free(gp);
        if (s) goto fail;
    }
    int kind = p->task->head;
    if (kind >= 0 && (s = tl_head_bind(&p->head, m, (tl_head_kind)kind, p->n_labels))) {
        tl_error_prefix(s, "%s pipeline", p->task->name);
        goto fail;
    }
    if (p->task->check && (s = p->task->check(p, p->options))) {
        tl_error_prefix(s, "%s pipeline options", p->task->name);
        goto fail;
    }
    cJSON_Delete(cfg);
    free(path);
    *out = p;
    return TL_OK;
fail:
    cJSON_Delete(cfg);
    free(path);
    tl_pipeline_free(p);
    return s;
}

void tl_pipeline_free(tl_pipeline *p) {
    if (!p) return;
    tl_head_free(&p->head);
    for (size_t i = 0; p->id2label && i < p->n_labels; i++) free(p->id2label[i]);
    free(p->id2label);
    cJSON_Delete(p->options);
    cJSON_Delete(p->gen_config);
    free(p);
}

const char *tl_pipeline_task(const tl_pipeline *p) { return p && p->task ? p->task->name : NULL; }

static tl_status run_unstreamed(tl_pipeline *p, const char *inputs_json, const char *params_json,
                                char **output_json);

tl_status tl_pipeline_run_stream(tl_pipeline *p, const char *inputs_json, const char *params_json,
                                 tl_text_fn on_text, void *user_data, char **output_json) {
    void *prev_user;
    tl_text_fn prev = tl_pl_stream(&prev_user);
    tl_pl_stream_set(on_text, user_data);
    tl_status s = run_unstreamed(p, inputs_json, params_json, output_json);
    tl_pl_stream_set(prev, prev_user);
    return s;
}

tl_status tl_pipeline_run_json(tl_pipeline *p, const cJSON *in, const char *params_json, cJSON **res) {
    *res = NULL;
    cJSON *call = params_json && *params_json ? cJSON_Parse(params_json) : cJSON_CreateObject(), *merged = NULL;
    tl_status s = TL_OK;
    if (!cJSON_IsObject(call)) {
        s = tl_set_error(TL_ERR_INVALID_ARG, "%s pipeline: parameters must be a JSON object", p->task->name);
        goto done;
    }
    if (tl_json_dedupe(call) != 0) { s = tl_set_error(TL_ERR_OOM, "out of memory"); goto done; }
    if (!(merged = cJSON_Duplicate(p->options, 1))) { s = tl_set_error(TL_ERR_OOM, "out of memory"); goto done; }
    const cJSON *e;
    cJSON_ArrayForEach(e, call) {
        cJSON *dup = cJSON_Duplicate(e, 1);
        if (!dup) { s = tl_set_error(TL_ERR_OOM, "out of memory"); goto done; }
        if (cJSON_HasObjectItem(merged, e->string)) cJSON_ReplaceItemInObjectCaseSensitive(merged, e->string, dup);
        else cJSON_AddItemToObject(merged, e->string, dup);
    }
    s = p->task->run(p, in, merged, call, res);
    if (s != TL_OK) tl_error_prefix(s, "%s pipeline", p->task->name);
done:
    cJSON_Delete(call);
    cJSON_Delete(merged);
    return s;
}

tl_status tl_pipeline_run(tl_pipeline *p, const char *inputs_json, const char *params_json, char **output_json) {
    /* no stream function, even when called from inside another run's (same thread) */
    return tl_pipeline_run_stream(p, inputs_json, params_json, NULL, NULL, output_json);
}

/* tl_pipeline_run with this thread's stream function as it is set. */
static tl_status run_unstreamed(tl_pipeline *p, const char *inputs_json, const char *params_json,
                                char **output_json) {
    if (!output_json) return tl_set_error(TL_ERR_INVALID_ARG, "tl_pipeline_run: output_json is NULL");
    *output_json = NULL;
    if (!p || !inputs_json) return tl_set_error(TL_ERR_INVALID_ARG, "tl_pipeline_run: NULL pipeline or inputs");
    cJSON *in = cJSON_Parse(inputs_json), *res = NULL;
    tl_status s = TL_OK;
    if (!in) {
        s = tl_set_error(TL_ERR_INVALID_ARG, "%s pipeline: inputs are not valid JSON: '%.80s'",
                         p->task->name, inputs_json);
        goto done;
    }
    if (tl_pl_json_has_nul(inputs_json) || (params_json && tl_pl_json_has_nul(params_json))) {
        s = tl_set_error(TL_ERR_INVALID_ARG, "%s pipeline: a text contains a NUL character (\\u0000), which is "
                         "not supported", p->task->name);
        goto done;
    }
    if (tl_json_dedupe(in) != 0) { s = tl_set_error(TL_ERR_OOM, "out of memory"); goto done; }
    if ((s = tl_pipeline_run_json(p, in, params_json, &res)) == TL_OK &&
        !(*output_json = cJSON_PrintUnformatted(res)))
        s = tl_set_error(TL_ERR_OOM, "out of memory");
done:
    cJSON_Delete(in);
    cJSON_Delete(res);
    return s;
}
