/* decoder_config.c — the config.json fields of the decoder block kinds: GPT-2 (n_inner,
 * scale_attn_*) and Llama-style (num_key_value_heads, head_dim, rope_theta, sliding
 * window, tie_word_embeddings), with errors naming the field. */
#include "core/error.h"
#include "io/json.h"
#include "model/arch.h"
#include "kernels/kernels.h"

#include <stdint.h>
#include <string.h>

/* Reads one token id field (absent, null or negative: -1) into *id; an error naming path
 * and key when it is not an integer that fits an int32. */
static tl_status read_id(const cJSON *v, const char *path, const char *key, int *id) {
    *id = -1;
    if (!v || cJSON_IsNull(v) || (cJSON_IsNumber(v) && v->valuedouble < 0)) return TL_OK;
    if (!cJSON_IsNumber(v) || v->valuedouble > 2147483647.0 || v->valuedouble != (double)(int32_t)v->valuedouble)
        return tl_set_error(TL_ERR_FORMAT, "%s: %s must be a token id (an integer below 2^31)", path, key);
    *id = (int)v->valuedouble;
    return TL_OK;
}

/* Reads eos_token_id (an integer or a list: its first) into arch->eos_token_id and
 * bos_token_id into arch->bos_token_id (-1: none). */
static tl_status read_eos(const cJSON *cfg, const char *path, tl_arch *a) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(cfg, "eos_token_id");
    if (cJSON_IsArray(v)) v = cJSON_GetArrayItem(v, 0);
    tl_status s = read_id(v, path, "eos_token_id", &a->eos_token_id);
    return s ? s : read_id(cJSON_GetObjectItemCaseSensitive(cfg, "bos_token_id"), path, "bos_token_id", &a->bos_token_id);
}

/* Reads a boolean field (absent or null: def); 0 and sets *ok = 0 when not a boolean. */
static int get_bool(const cJSON *cfg, const char *key, int def, int *ok) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(cfg, key);
    if (!v || cJSON_IsNull(v)) return def;
    if (!cJSON_IsBool(v)) { *ok = 0; return def; }
    return cJSON_IsTrue(v);
}

tl_status tl_gpt2_config(const cJSON *cfg, const char *path, tl_arch *a) {
    int ok = 1;
    long inner = tl_json_int(cfg, "n_inner", 4 * (long)a->hidden, &ok);
    a->scale_by_layer = get_bool(cfg, "scale_attn_by_inverse_layer_idx", 0, &ok);
    int scale = get_bool(cfg, "scale_attn_weights", 1, &ok);
    int reorder = get_bool(cfg, "reorder_and_upcast_attn", 0, &ok);
    if (!ok || inner < 1 || inner > 1 << 20)
        return tl_set_error(TL_ERR_FORMAT, "%s: bad 'n_inner' or attention flag (scale_attn_*, "
                            "reorder_and_upcast_attn) value", path);
    if (!scale)
        return tl_set_error(TL_ERR_UNSUPPORTED, "%s: scale_attn_weights false is not supported", path);
    (void)reorder; /* the upcast changes nothing in float32 */
    a->intermediate = a->ffn_in_width = (size_t)inner;
    a->n_kv_heads = a->n_heads;
    a->q_dim = a->kv_dim = a->hidden;
    a->tie_embeddings = 1;
    return read_eos(cfg, path, a);
}

tl_status tl_llama_config(const cJSON *cfg, const char *path, tl_arch *a) {
    int ok = 1;
    long kvh = tl_json_int(cfg, "num_key_value_heads", (long)a->n_heads, &ok);
    long hd = tl_json_int(cfg, "head_dim", (long)(a->hidden / a->n_heads), &ok);
    a->rope_theta = tl_json_num(cfg, "rope_theta", 10000.0, &ok);
    a->tie_embeddings = get_bool(cfg, "tie_word_embeddings", 0, &ok);
    a->attn_bias = get_bool(cfg, "attention_bias", 0, &ok);
    a->mlp_bias = get_bool(cfg, "mlp_bias", 0, &ok);
    long window = 0;
    const cJSON *sw = cJSON_GetObjectItemCaseSensitive(cfg, "sliding_window");
    int use_sw = get_bool(cfg, "use_sliding_window", strcmp(a->model_type, "mistral") == 0, &ok);
    if (use_sw && sw && !cJSON_IsNull(sw)) window = tl_json_int(cfg, "sliding_window", 0, &ok);
    if (!ok || kvh < 1 || kvh > (long)a->n_heads || a->n_heads % (size_t)kvh || hd < 2 || hd % 2 ||
        hd > TL_ATTN_MAX_HEAD_DIM || !(a->rope_theta > 0) || window < 0)
        return tl_set_error(TL_ERR_FORMAT, "%s: bad 'num_key_value_heads' (must divide %zu heads), "
                            "'head_dim' (even, <= %d), 'rope_theta', 'sliding_window' or boolean field",
                            path, a->n_heads, TL_ATTN_MAX_HEAD_DIM);
    /* transformers 5 writes rope_parameters {rope_type, rope_theta}; older ones rope_theta
     * and rope_scaling */
    const char *keys[2] = {"rope_parameters", "rope_scaling"};
    for (int i = 0; i < 2; i++) {
        const cJSON *rp = cJSON_GetObjectItemCaseSensitive(cfg, keys[i]);
        if (!rp || cJSON_IsNull(rp)) continue;
        const char *type = tl_json_str(rp, "rope_type");
        if (!type) type = tl_json_str(rp, "type");
        if (!cJSON_IsObject(rp) || (type && strcmp(type, "default")))
            return tl_set_error(TL_ERR_UNSUPPORTED, "%s: %s with rope_type '%s' is not supported (only "
                                "'default')", path, keys[i], type ? type : "?");
        if (cJSON_GetObjectItemCaseSensitive(rp, "rope_theta"))
            a->rope_theta = tl_json_num(rp, "rope_theta", a->rope_theta, &ok);
    }
    if (!ok || !(a->rope_theta > 0))
        return tl_set_error(TL_ERR_FORMAT, "%s: bad 'rope_theta' value", path);
    double partial = tl_json_num(cfg, "partial_rotary_factor", 1.0, &ok);
    if (partial != 1.0)
        return tl_set_error(TL_ERR_UNSUPPORTED, "%s: partial_rotary_factor %g is not supported", path, partial);
    if (a->mlp_bias)
        return tl_set_error(TL_ERR_UNSUPPORTED, "%s: mlp_bias true is not supported", path);
    if (!strcmp(a->model_type, "qwen2")) {
        if (use_sw)
            return tl_set_error(TL_ERR_UNSUPPORTED, "%s: use_sliding_window true (per-layer windows "
                                "from max_window_layers) is not supported for qwen2", path);
        a->attn_bias = 1; /* Q, K, V biases; its table names no O bias */
    }
    a->n_kv_heads = (size_t)kvh;
    a->head_dim = (size_t)hd;
    a->q_dim = a->n_heads * a->head_dim;
    a->kv_dim = a->n_kv_heads * a->head_dim;
    a->sliding_window = (size_t)window;
    a->ffn_in_width = 2 * a->intermediate;
    return read_eos(cfg, path, a);
}
