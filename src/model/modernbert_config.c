/* modernbert_config.c — the ModernBERT-specific part of config.json: norm/linear biases,
 * the local/global layer pattern, RoPE thetas and the local window. */
#include "core/error.h"
#include "io/json.h"
#include "model/arch.h"

#include <string.h>

/* Reads rope_parameters[kind].rope_theta, else the legacy key, else def. */
static double rope_theta(const cJSON *cfg, const char *kind, const char *legacy, double def, int *ok) {
    const cJSON *rp = cJSON_GetObjectItemCaseSensitive(cfg, "rope_parameters");
    const cJSON *one = cJSON_IsObject(rp) ? cJSON_GetObjectItemCaseSensitive(rp, kind) : NULL;
    if (cJSON_IsObject(one)) {
        const char *type = tl_json_str(one, "rope_type");
        if (type && strcmp(type, "default") != 0) *ok = 0;
        if (cJSON_GetObjectItemCaseSensitive(one, "rope_theta")) return tl_json_num(one, "rope_theta", def, ok);
    }
    return tl_json_num(cfg, legacy, def, ok);
}

/* Fills the ModernBERT fields of arch from cfg; errors name path and the field. */
tl_status tl_modernbert_config(const cJSON *cfg, const char *path, tl_arch *arch) {
    int ok = 1;
    arch->norm_bias = tl_json_bool(cfg, "norm_bias", 0, &ok);
    arch->attn_bias = tl_json_bool(cfg, "attention_bias", 0, &ok);
    arch->mlp_bias = tl_json_bool(cfg, "mlp_bias", 0, &ok);
    long local = tl_json_int(cfg, "local_attention", 128, &ok);
    arch->rope_theta_global = rope_theta(cfg, "full_attention", "global_rope_theta", 160000.0, &ok);
    arch->rope_theta_local = rope_theta(cfg, "sliding_attention", "local_rope_theta", 10000.0, &ok);
    if (!ok || local < 2 || !(arch->rope_theta_global > 0) || !(arch->rope_theta_local > 0))
        return tl_set_error(TL_ERR_FORMAT,
                            "%s: bad norm_bias, attention_bias, mlp_bias, local_attention or "
                            "rope_parameters (only default RoPE is supported)", path);
    arch->local_window = (size_t)local / 2;
    if (arch->n_layers > sizeof arch->layer_local)
        return tl_set_error(TL_ERR_UNSUPPORTED, "%s: more than %zu layers", path, sizeof arch->layer_local);
    const cJSON *types = cJSON_GetObjectItemCaseSensitive(cfg, "layer_types");
    if (cJSON_IsArray(types)) {
        if ((size_t)cJSON_GetArraySize(types) != arch->n_layers)
            return tl_set_error(TL_ERR_FORMAT, "%s: layer_types has %d entries, num_hidden_layers is %zu",
                                path, cJSON_GetArraySize(types), arch->n_layers);
        size_t l = 0;
        const cJSON *t;
        cJSON_ArrayForEach(t, types) {
            const char *v = cJSON_IsString(t) ? t->valuestring : "";
            if (strcmp(v, "sliding_attention") && strcmp(v, "full_attention"))
                return tl_set_error(TL_ERR_FORMAT, "%s: layer_types[%zu] '%s' is not sliding_attention "
                                    "or full_attention", path, l, v);
            arch->layer_local[l++] = strcmp(v, "sliding_attention") == 0;
        }
    } else {
        long every = tl_json_int(cfg, "global_attn_every_n_layers", 3, &ok);
        if (!ok || every < 1)
            return tl_set_error(TL_ERR_FORMAT, "%s: global_attn_every_n_layers must be a positive integer", path);
        for (size_t l = 0; l < arch->n_layers; l++) arch->layer_local[l] = (l % (size_t)every) != 0;
    }
    arch->ffn_in_width = 2 * arch->intermediate; /* Wi holds the GeGLU input and gate */
    return TL_OK;
}
