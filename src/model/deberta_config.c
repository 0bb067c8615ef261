/* deberta_config.c — the DeBERTa-v2/v3-specific part of config.json: relative attention
 * (c2p / p2c, buckets, span, shared keys), relative-embedding norm, position input. */
#include "core/error.h"
#include "io/json.h"
#include "model/arch.h"

#include <string.h>

/* Sets c2p / p2c from pos_att_type, a list of strings or a "p2c|c2p" string. */
static int parse_pos_att_type(const cJSON *v, tl_arch *a) {
    if (!v || cJSON_IsNull(v)) return 1;
    if (cJSON_IsString(v)) {
        a->c2p = strstr(v->valuestring, "c2p") != NULL;
        a->p2c = strstr(v->valuestring, "p2c") != NULL;
        return 1;
    }
    if (!cJSON_IsArray(v)) return 0;
    const cJSON *t;
    cJSON_ArrayForEach(t, v) {
        if (!cJSON_IsString(t)) return 0;
        if (!strcmp(t->valuestring, "c2p")) a->c2p = 1;
        else if (!strcmp(t->valuestring, "p2c")) a->p2c = 1;
        else return 0;
    }
    return 1;
}

tl_status tl_deberta_config(const cJSON *cfg, const char *path, tl_arch *a) {
    int ok = 1;
    a->relative_attention = tl_json_bool(cfg, "relative_attention", 0, &ok);
    a->share_att_key = tl_json_bool(cfg, "share_att_key", 0, &ok);
    a->position_biased_input = tl_json_bool(cfg, "position_biased_input", 1, &ok);
    a->position_buckets = tl_json_int(cfg, "position_buckets", -1, &ok);
    a->max_relative_positions = tl_json_int(cfg, "max_relative_positions", -1, &ok);
    long conv = tl_json_int(cfg, "conv_kernel_size", 0, &ok);
    const char *norm = tl_json_str(cfg, "norm_rel_ebd");
    if (!ok || !parse_pos_att_type(cJSON_GetObjectItemCaseSensitive(cfg, "pos_att_type"), a))
        return tl_set_error(TL_ERR_FORMAT, "%s: bad relative_attention, share_att_key, "
                            "position_biased_input, position_buckets, max_relative_positions or "
                            "pos_att_type (a list of \"c2p\", \"p2c\")", path);
    if (conv > 0)
        return tl_set_error(TL_ERR_UNSUPPORTED, "%s: conv_kernel_size %ld (DeBERTa's convolution "
                            "layer) is not supported yet", path, conv);
    a->rel_ln = norm && strstr(norm, "layer_norm") != NULL;
    if (a->max_relative_positions < 1) a->max_relative_positions = (long)a->max_positions;
    long span = a->position_buckets > 0 ? a->position_buckets : a->max_relative_positions;
    if (span < 1 || span > 1 << 16)
        return tl_set_error(TL_ERR_FORMAT, "%s: relative span %ld out of range", path, span);
    a->att_span = (size_t)span;
    if (!a->relative_attention) a->c2p = a->p2c = 0;
    return TL_OK;
}
