/* heads_config.c — the config.json settings of the task heads (ContextPooler activation,
 * ModernBERT's head activation, pooling and biases, DeBERTa's legacy MLM layout), read at
 * load; names are resolved when a head is bound, so an odd value only fails that head. */
#include "core/error.h"
#include "io/json.h"
#include "model/arch.h"

#include <stdio.h>
#include <string.h>

/* Copies the string field key of cfg (def when absent) into dst; 0 when not a string. */
static int str_field(const cJSON *cfg, const char *key, const char *def, char *dst, size_t cap) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(cfg, key);
    if (v && !cJSON_IsNull(v) && !cJSON_IsString(v)) return 0;
    snprintf(dst, cap, "%s", cJSON_IsString(v) ? v->valuestring : def);
    return 1;
}

tl_status tl_head_config_parse(const cJSON *cfg, const char *path, tl_arch *arch) {
    tl_head_config *h = &arch->head;
    char pooling[16];
    int ok = str_field(cfg, "pooler_hidden_act", "gelu", h->pooler_act, sizeof h->pooler_act) &&
             str_field(cfg, "classifier_activation", "gelu", h->classifier_act, sizeof h->classifier_act) &&
             str_field(cfg, "classifier_pooling", "cls", pooling, sizeof pooling);
    if (!ok)
        return tl_set_error(TL_ERR_FORMAT, "%s: pooler_hidden_act, classifier_activation and "
                            "classifier_pooling must be strings", path);
    if (strcmp(pooling, "cls") && strcmp(pooling, "mean"))
        return tl_set_error(TL_ERR_UNSUPPORTED, "%s: classifier_pooling '%s' is not supported (cls, mean)",
                            path, pooling);
    h->classifier_mean = strcmp(pooling, "mean") == 0;
    h->classifier_bias = tl_json_bool(cfg, "classifier_bias", 0, &ok);
    h->decoder_bias = tl_json_bool(cfg, "decoder_bias", 1, &ok);
    h->legacy = tl_json_bool(cfg, "legacy", 1, &ok);
    if (!ok)
        return tl_set_error(TL_ERR_FORMAT, "%s: classifier_bias, decoder_bias and legacy must be "
                            "true or false", path);
    return TL_OK;
}
