/* pipeline_merge.c — several requests' pipeline inputs run in one call (one packed forward),
 * each request then given the output tl_pipeline_run would give it alone: the batching
 * engine merges the pipeline requests it finds queued together. */
#include "tasks/pipeline.h"
#include "core/error.h"
#include "io/json.h"

#include <stdlib.h>
#include <string.h>

/* 1 when item is one input of the form merge allows. */
static int mergeable_item(int merge, const cJSON *item) {
    if (merge == TL_MERGE_STRINGS) return cJSON_IsString(item);
    if (merge != TL_MERGE_QA || !cJSON_IsObject(item) || cJSON_GetArraySize(item) != 2) return 0;
    return cJSON_IsString(cJSON_GetObjectItemCaseSensitive(item, "question")) &&
           cJSON_IsString(cJSON_GetObjectItemCaseSensitive(item, "context"));
}

size_t tl_pipeline_merge_items(const tl_pipeline *p, const char *inputs_json) {
    if (!p || !inputs_json || p->task->merge == TL_MERGE_NONE || tl_pl_json_has_nul(inputs_json)) return 0;
    cJSON *in = cJSON_Parse(inputs_json);
    size_t n = 0;
    if (in && !cJSON_IsArray(in)) {
        n = mergeable_item(p->task->merge, in);
    } else if (in) {
        const cJSON *e;
        cJSON_ArrayForEach(e, in) {
            if (!mergeable_item(p->task->merge, e)) { n = 0; break; }
            n++;
        }
    }
    cJSON_Delete(in);
    return n;
}

/* Request i's output from its results (detached from the merged list, in order):
 * a list of them, or the single input's result shaped as the task's run shapes it. */
static cJSON *shape_output(const tl_pipeline *p, const cJSON *in, const cJSON *call, cJSON *all, size_t k) {
    if (cJSON_IsArray(in) && !(k == 1 && p->task->list_of_one_unwraps)) {
        cJSON *list = cJSON_CreateArray();
        for (size_t j = 0; list && j < k; j++) cJSON_AddItemToArray(list, cJSON_DetachItemFromArray(all, 0));
        return list;
    }
    cJSON *one = cJSON_DetachItemFromArray(all, 0);
    const char *unless = p->task->single_wrap_unless;
    if (one && cJSON_IsString(in) && unless && !cJSON_HasObjectItem(call, unless)) {
        cJSON *wrap = cJSON_CreateArray();
        if (!wrap) { cJSON_Delete(one); return NULL; }
        cJSON_AddItemToArray(wrap, one);
        return wrap;
    }
    return one;
}

tl_status tl_pipeline_run_merged(tl_pipeline *p, const char *const *inputs_json, size_t n,
                                 const char *params_json, char **outputs) {
    if (!p || !inputs_json || !outputs || n == 0)
        return tl_set_error(TL_ERR_INVALID_ARG, "tl_pipeline_run_merged: NULL argument or no requests");
    if (params_json && tl_pl_json_has_nul(params_json)) /* tl_pipeline_run's own error, one by one */
        return tl_set_error(TL_ERR_INVALID_ARG, "tl_pipeline_run_merged: a parameter holds a NUL character");
    for (size_t i = 0; i < n; i++) outputs[i] = NULL;
    cJSON **ins = calloc(n, sizeof *ins), *all = cJSON_CreateArray(), *res = NULL;
    cJSON *call = params_json && *params_json ? cJSON_Parse(params_json) : cJSON_CreateObject();
    size_t *counts = calloc(n, sizeof *counts), total = 0;
    tl_status s = ins && all && counts ? TL_OK : tl_set_error(TL_ERR_OOM, "out of memory");
    if (s == TL_OK && !cJSON_IsObject(call))
        s = tl_set_error(TL_ERR_INVALID_ARG, "%s pipeline: parameters must be a JSON object", p->task->name);
    for (size_t i = 0; s == TL_OK && i < n; i++) {
        if (!(ins[i] = cJSON_Parse(inputs_json[i]))) {
            s = tl_set_error(TL_ERR_INVALID_ARG, "request %zu: inputs are not valid JSON", i);
            break;
        }
        if (tl_json_dedupe(ins[i]) != 0) { s = tl_set_error(TL_ERR_OOM, "out of memory"); break; }
        int list = cJSON_IsArray(ins[i]);
        counts[i] = list ? (size_t)cJSON_GetArraySize(ins[i]) : 1;
        for (size_t j = 0; j < counts[i]; j++) {
            const cJSON *item = list ? cJSON_GetArrayItem(ins[i], (int)j) : ins[i];
            if (!mergeable_item(p->task->merge, item)) {
                s = tl_set_error(TL_ERR_INVALID_ARG, "request %zu: input %zu cannot be merged", i, j);
                break;
            }
            cJSON *dup = cJSON_Duplicate(item, 1);
            if (!dup) { s = tl_set_error(TL_ERR_OOM, "out of memory"); break; }
            cJSON_AddItemToArray(all, dup);
        }
        total += counts[i];
    }
    /* a list of two or more inputs: every task gives a list with one result per input */
    if (s == TL_OK && total < 2) s = tl_set_error(TL_ERR_INVALID_ARG, "tl_pipeline_run_merged: fewer than 2 inputs");
    if (s == TL_OK) s = tl_pipeline_run_json(p, all, params_json, &res);
    if (s == TL_OK && (!cJSON_IsArray(res) || (size_t)cJSON_GetArraySize(res) != total))
        s = tl_set_error(TL_ERR_INVALID_ARG, "%s pipeline: a merged run did not give one result per input",
                         p->task->name);
    for (size_t i = 0; s == TL_OK && i < n; i++) {
        cJSON *out = shape_output(p, ins[i], call, res, counts[i]);
        if (!out || !(outputs[i] = cJSON_PrintUnformatted(out))) s = tl_set_error(TL_ERR_OOM, "out of memory");
        cJSON_Delete(out);
    }
    if (s != TL_OK)
        for (size_t i = 0; i < n; i++) free(outputs[i]), outputs[i] = NULL;
    for (size_t i = 0; ins && i < n; i++) cJSON_Delete(ins[i]);
    free(ins);
    free(counts);
    cJSON_Delete(all);
    cJSON_Delete(call);
    cJSON_Delete(res);
    return s;
}
