/* st_config.c — parses sentence-transformers' module configuration files. */
#include "model/st_config.h"
#include "core/error.h"
#include "core/util.h"
#include "io/json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct { const char *key; unsigned bit; const char *name; } tl_pool_keys[] = {
    {"pooling_mode_cls_token", TL_POOL_CLS, "cls"},
    {"pooling_mode_max_tokens", TL_POOL_MAX, "max"},
    {"pooling_mode_mean_tokens", TL_POOL_MEAN, "mean"},
    {"pooling_mode_mean_sqrt_len_tokens", TL_POOL_MEAN_SQRT_LEN, "mean_sqrt_len"},
    {"pooling_mode_weightedmean_tokens", TL_POOL_WEIGHTED_MEAN, "weightedmean"},
    {"pooling_mode_lasttoken", TL_POOL_LAST_TOKEN, "lasttoken"},
};
#define TL_NPOOL (sizeof tl_pool_keys / sizeof tl_pool_keys[0])

/* Returns 1 if module type string ends with ".NAME" or equals NAME. */
static int type_is(const char *type, const char *name) {
    size_t a = strlen(type), b = strlen(name);
    if (a < b || strcmp(type + a - b, name) != 0) return 0;
    return a == b || type[a - b - 1] == '.';
}

/* Reads the Pooling module's config.json at dir/sub/config.json. */
static tl_status load_pooling(const char *dir, const char *sub, tl_st_config *cfg) {
    char rel[512];
    snprintf(rel, sizeof rel, "%s/config.json", sub);
    char *path = tl_path_join(dir, rel);
    if (!path) return tl_set_error(TL_ERR_OOM, "out of memory");
    cJSON *j = NULL;
    tl_status s = tl_json_load_file(path, &j);
    if (s == TL_OK) {
        int ok = 1;
        cfg->pooling = 0;
        const char *mode = tl_json_str(j, "pooling_mode"); /* newer single-string form */
        for (size_t i = 0; i < TL_NPOOL; i++) {
            if (tl_json_bool(j, tl_pool_keys[i].key, 0, &ok)) cfg->pooling |= tl_pool_keys[i].bit;
            if (mode && strcmp(mode, tl_pool_keys[i].name) == 0) cfg->pooling |= tl_pool_keys[i].bit;
        }
        cfg->include_prompt = tl_json_bool(j, "include_prompt", 1, &ok);
        if (!ok)
            s = tl_set_error(TL_ERR_FORMAT, "%s: a pooling_mode_* or include_prompt field is not a boolean", path);
        else if (!cfg->pooling)
            s = tl_set_error(TL_ERR_FORMAT, "%s: no pooling mode is enabled", path);
    }
    cJSON_Delete(j);
    free(path);
    return s;
}

/* Reads sentence_bert_config.json when present. */
static tl_status load_sbert_config(const char *dir, tl_st_config *cfg) {
    char *path = tl_path_join(dir, "sentence_bert_config.json");
    if (!path) return tl_set_error(TL_ERR_OOM, "out of memory");
    tl_status s = TL_OK;
    if (tl_file_exists(path)) {
        cJSON *j = NULL;
        s = tl_json_load_file(path, &j);
        if (s == TL_OK) {
            int ok = 1;
            long m = tl_json_int(j, "max_seq_length", 0, &ok);
            cfg->do_lower_case = tl_json_bool(j, "do_lower_case", 0, &ok);
            if (!ok || m < 0)
                s = tl_set_error(TL_ERR_FORMAT, "%s: bad 'max_seq_length' or 'do_lower_case'", path);
            cfg->max_seq_length = (size_t)(m > 0 ? m : 0);
        }
        cJSON_Delete(j);
    }
    free(path);
    return s;
}

tl_status tl_st_config_load(const char *dir, tl_st_config *cfg) {
    memset(cfg, 0, sizeof *cfg);
    cfg->pooling = TL_POOL_MEAN;
    cfg->include_prompt = 1;
    if (!dir) return TL_OK; /* no files: a plain model's defaults */
    char *path = tl_path_join(dir, "modules.json");
    if (!path) return tl_set_error(TL_ERR_OOM, "out of memory");
    if (!tl_file_exists(path)) { free(path); return TL_OK; }
    cfg->present = 1;
    cJSON *mods = NULL;
    tl_status s = tl_json_load_file(path, &mods);
    if (s == TL_OK && !cJSON_IsArray(mods))
        s = tl_set_error(TL_ERR_FORMAT, "%s: expected a JSON array of modules", path);
    const cJSON *m;
    cJSON *list = s == TL_OK ? mods : NULL;
    cJSON_ArrayForEach(m, list) {
        const char *type = tl_json_str(m, "type"), *sub = tl_json_str(m, "path");
        if (!type || !sub) { s = tl_set_error(TL_ERR_FORMAT, "%s: a module lacks 'type' or 'path'", path); break; }
        if (type_is(type, "Transformer")) continue;
        if (type_is(type, "Normalize")) { cfg->normalize = 1; continue; }
        if (type_is(type, "Pooling")) {
            if (strstr(sub, "..")) { s = tl_set_error(TL_ERR_FORMAT, "%s: module path '%s' leaves the model directory", path, sub); break; }
            if ((s = load_pooling(dir, sub, cfg))) break;
            continue;
        }
        s = tl_set_error(TL_ERR_UNSUPPORTED,
                         "%s: sentence-transformers module '%s' is not supported yet "
                         "(supported: Transformer, Pooling, Normalize)", path, type);
        break;
    }
    cJSON_Delete(mods);
    free(path);
    if (s == TL_OK) s = load_sbert_config(dir, cfg);
    return s;
}

size_t tl_st_pooling_count(const tl_st_config *cfg) {
    size_t n = 0;
    for (size_t i = 0; i < TL_NPOOL; i++) n += (cfg->pooling & tl_pool_keys[i].bit) != 0;
    return n;
}

void tl_st_pooling_describe(const tl_st_config *cfg, char *buf, size_t cap) {
    size_t k = 0;
    if (cap) buf[0] = '\0';
    for (size_t i = 0; i < TL_NPOOL && k < cap; i++)
        if (cfg->pooling & tl_pool_keys[i].bit)
            k += (size_t)snprintf(buf + k, cap - k, "%s%s", k ? ", " : "", tl_pool_keys[i].name);
}
