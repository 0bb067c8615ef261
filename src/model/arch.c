/* arch.c — config.json → tl_arch, with errors naming the field at fault. */
#include "model/arch.h"
#include "core/error.h"
#include "core/util.h"
#include "io/json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *tl_activation_name(tl_activation a) {
    switch (a) {
    case TL_ACT_GELU: return "gelu";
    case TL_ACT_GELU_TANH: return "gelu_tanh";
    case TL_ACT_RELU: return "relu";
    case TL_ACT_SILU: return "silu";
    }
    return "?";
}

/* Maps a transformers hidden_act string to our activation; returns 0 when unknown. */
static int parse_activation(const char *s, tl_activation *out) {
    static const struct { const char *name; tl_activation act; } map[] = {
        {"gelu", TL_ACT_GELU}, {"gelu_python", TL_ACT_GELU},
        {"gelu_new", TL_ACT_GELU_TANH}, {"gelu_pytorch_tanh", TL_ACT_GELU_TANH},
        {"gelu_fast", TL_ACT_GELU_TANH}, {"relu", TL_ACT_RELU},
        {"silu", TL_ACT_SILU}, {"swish", TL_ACT_SILU},
    };
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (strcmp(map[i].name, s) == 0) { *out = map[i].act; return 1; }
    return 0;
}

/* Reads a required positive integer field; sets an error naming path and key on failure. */
static tl_status get_positive(const cJSON *cfg, const char *path, const char *key, size_t max,
                              size_t *out) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(cfg, key);
    if (!v) return tl_set_error(TL_ERR_FORMAT, "%s: missing field '%s'", path, key);
    if (!cJSON_IsNumber(v) || v->valuedouble < 1 || v->valuedouble > (double)max ||
        v->valuedouble != (double)(long long)v->valuedouble)
        return tl_set_error(TL_ERR_FORMAT, "%s: field '%s' must be an integer in [1, %zu]", path,
                            key, max);
    *out = (size_t)v->valuedouble;
    return TL_OK;
}

tl_status tl_arch_from_config(const char *dir, tl_arch *arch) {
    memset(arch, 0, sizeof *arch);
    char *path = tl_path_join(dir, "config.json");
    if (!path) return tl_set_error(TL_ERR_OOM, "out of memory");
    cJSON *cfg = NULL;
    tl_status s = tl_json_load_file(path, &cfg);
    if (s != TL_OK) goto done;
    if (!cJSON_IsObject(cfg)) {
        s = tl_set_error(TL_ERR_FORMAT, "%s: top level is not a JSON object", path);
        goto done;
    }
    const char *mt = tl_json_str(cfg, "model_type");
    if (!mt) {
        s = tl_set_error(TL_ERR_FORMAT, "%s: missing string field 'model_type'", path);
        goto done;
    }
    arch->family = tl_family_find(mt);
    if (!arch->family) {
        char list[256];
        tl_family_list(list, sizeof list);
        s = tl_set_error(TL_ERR_UNSUPPORTED, "%s: model_type '%s' is not supported (supported: %s)",
                         path, mt, list);
        goto done;
    }
    snprintf(arch->model_type, sizeof arch->model_type, "%s", mt);

    const size_t big = (size_t)1 << 24;
    if ((s = get_positive(cfg, path, "vocab_size", big * 4, &arch->vocab_size)) ||
        (s = get_positive(cfg, path, "hidden_size", 65536, &arch->hidden)) ||
        (s = get_positive(cfg, path, "num_hidden_layers", 1024, &arch->n_layers)) ||
        (s = get_positive(cfg, path, "num_attention_heads", 1024, &arch->n_heads)) ||
        (s = get_positive(cfg, path, "intermediate_size", 1 << 20, &arch->intermediate)) ||
        (s = get_positive(cfg, path, "max_position_embeddings", big, &arch->max_positions)))
        goto done;
    if (arch->hidden % arch->n_heads) {
        s = tl_set_error(TL_ERR_FORMAT,
                         "%s: hidden_size %zu is not a multiple of num_attention_heads %zu", path,
                         arch->hidden, arch->n_heads);
        goto done;
    }
    arch->head_dim = arch->hidden / arch->n_heads;

    int ok = 1;
    long tv = tl_json_int(cfg, "type_vocab_size", 2, &ok);
    arch->ln_eps = tl_json_num(cfg, "layer_norm_eps", 1e-12, &ok);
    long pad = tl_json_int(cfg, "pad_token_id", 0, &ok);
    if (!ok || tv < 0 || tv > 1 << 20 || !(arch->ln_eps > 0) || pad < 0) {
        s = tl_set_error(TL_ERR_FORMAT,
                         "%s: bad 'type_vocab_size', 'layer_norm_eps' or 'pad_token_id' value", path);
        goto done;
    }
    arch->type_vocab_size = (size_t)tv;
    arch->pad_token_id = (int)pad;

    const char *pet = tl_json_str(cfg, "position_embedding_type");
    if (pet && strcmp(pet, "absolute") != 0) {
        s = tl_set_error(TL_ERR_UNSUPPORTED,
                         "%s: position_embedding_type '%s' is not supported (only 'absolute')", path,
                         pet);
        goto done;
    }
    const char *act = tl_json_str(cfg, "hidden_act");
    if (!act) act = "gelu";
    if (!parse_activation(act, &arch->act)) {
        s = tl_set_error(TL_ERR_UNSUPPORTED,
                         "%s: hidden_act '%s' is not supported (gelu, gelu_new, "
                         "gelu_pytorch_tanh, gelu_fast, relu, silu)",
                         path, act);
        goto done;
    }
    snprintf(arch->act_name, sizeof arch->act_name, "%s", act);
    s = TL_OK;
done:
    cJSON_Delete(cfg);
    free(path);
    return s;
}
