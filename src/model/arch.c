/* arch.c — config.json → tl_arch, with errors naming the field at fault. */
#include "model/arch.h"
#include "core/error.h"
#include "core/util.h"
#include "io/json.h"
#include "model/block.h"

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
int tl_activation_parse(const char *s, tl_activation *out) {
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

/* Fills arch from a parsed config object; errors name path and the field at fault. */
static tl_status parse_config(const cJSON *cfg, const char *path, tl_arch *arch) {
    tl_status s;
    if (!cJSON_IsObject(cfg)) {
        s = tl_set_error(TL_ERR_FORMAT, "%s: top level is not a JSON object", path);
        goto done;
    }
    int str_ok = 1;
    const char *mt = tl_json_str_ok(cfg, "model_type", &str_ok);
    if (!str_ok) {
        s = tl_set_error(TL_ERR_FORMAT, "%s: field 'model_type' must be a string", path);
        goto done;
    }
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

    const tl_config_keys *k = &arch->family->keys;
    const size_t big = (size_t)1 << 24;
    if ((s = get_positive(cfg, path, k->vocab, big * 4, &arch->vocab_size)) ||
        (s = get_positive(cfg, path, k->hidden, 65536, &arch->hidden)) ||
        (s = get_positive(cfg, path, k->layers, 1024, &arch->n_layers)) ||
        (s = get_positive(cfg, path, k->heads, 1024, &arch->n_heads)) ||
        (k->intermediate && (s = get_positive(cfg, path, k->intermediate, 1 << 20, &arch->intermediate))) ||
        (s = get_positive(cfg, path, k->max_positions, big, &arch->max_positions)))
        goto done;
    if (arch->hidden % arch->n_heads) {
        s = tl_set_error(TL_ERR_FORMAT, "%s: %s %zu is not a multiple of %s %zu", path, k->hidden,
                         arch->hidden, k->heads, arch->n_heads);
        goto done;
    }
    arch->head_dim = arch->hidden / arch->n_heads;
    arch->embedding_size = arch->hidden;
    if (k->embedding_size && cJSON_GetObjectItemCaseSensitive(cfg, k->embedding_size) &&
        (s = get_positive(cfg, path, k->embedding_size, 65536, &arch->embedding_size)))
        goto done;
    const tl_family *f = arch->family;
    arch->ffn_in_width = arch->intermediate;
    arch->has_emb_proj = tl_role_name(f, TL_ROLE_EMB_PROJ_W) &&
                         (f->block->always_projects || arch->embedding_size != arch->hidden);

    int ok = 1;
    long tv = k->type_vocab ? tl_json_int(cfg, k->type_vocab, k->no_types_by_default ? 0 : 2, &ok) : 0;
    if (!ok || tv < 0 || tv > 1 << 20) {
        s = tl_set_error(TL_ERR_FORMAT, "%s: field '%s' must be an integer in [0, %d]", path,
                         k->type_vocab, 1 << 20);
        goto done;
    }
    double def_eps = k->default_ln_eps > 0 ? k->default_ln_eps : 1e-12;
    arch->ln_eps = k->ln_eps ? tl_json_num(cfg, k->ln_eps, def_eps, &ok) : def_eps;
    if (!ok || !(arch->ln_eps > 0) || !(arch->ln_eps < 1e6)) {
        s = tl_set_error(TL_ERR_FORMAT, "%s: field '%s' must be a positive number", path,
                         k->ln_eps ? k->ln_eps : "layer_norm_eps");
        goto done;
    }
    long pad = tl_json_int(cfg, "pad_token_id", f->positions == TL_POS_ABSOLUTE_PADDED ? 1 : 0, &ok);
    if (!ok || pad < 0 || pad > (long)big * 4) {
        s = tl_set_error(TL_ERR_FORMAT, "%s: field 'pad_token_id' must be an integer in [0, %zu]", path,
                         big * 4);
        goto done;
    }
    arch->type_vocab_size = tl_role_name(f, TL_ROLE_TYPE_EMB) ? (size_t)tv : 0;
    if (f->fixed_padding_idx > 0) pad = f->fixed_padding_idx;
    arch->pad_token_id = (int)pad;
    arch->max_seq_len = arch->max_positions;
    if (f->positions == TL_POS_ABSOLUTE_PADDED) {
        if (arch->max_positions <= (size_t)pad + 1) {
            s = tl_set_error(TL_ERR_FORMAT, "%s: max_position_embeddings %zu leaves no room after "
                             "the padding offset %ld + 1", path, arch->max_positions, pad);
            goto done;
        }
        arch->max_seq_len = arch->max_positions - (size_t)pad - 1;
    }
    if (tl_role_name(f, TL_ROLE_REL_BIAS)) {
        long nb = tl_json_int(cfg, "relative_attention_num_buckets", 32, &ok);
        /* transformers computes MPNet's buckets for 32 whatever the config says */
        if (!ok || nb < 32 || nb > 1 << 16) {
            s = tl_set_error(TL_ERR_FORMAT, "%s: relative_attention_num_buckets must be an integer >= 32", path);
            goto done;
        }
        arch->rel_buckets = (size_t)nb;
    }
    arch->n_layer_groups = arch->n_layers;
    if (f->block->config && (s = f->block->config(cfg, path, arch))) goto done;
    if (f->block->shares_layers) {
        long groups = tl_json_int(cfg, "num_hidden_groups", 1, &ok);
        long inner = tl_json_int(cfg, "inner_group_num", 1, &ok);
        if (!ok || groups < 1 || (size_t)groups > arch->n_layers || arch->n_layers % (size_t)groups) {
            s = tl_set_error(TL_ERR_FORMAT, "%s: num_hidden_groups must divide num_hidden_layers", path);
            goto done;
        }
        if (inner != 1) {
            s = tl_set_error(TL_ERR_UNSUPPORTED, "%s: inner_group_num %ld is not supported (only 1)", path, inner);
            goto done;
        }
        arch->n_layer_groups = (size_t)groups;
    }

    const char *pet = tl_json_str_ok(cfg, "position_embedding_type", &str_ok);
    if (!str_ok) {
        s = tl_set_error(TL_ERR_FORMAT, "%s: field 'position_embedding_type' must be a string", path);
        goto done;
    }
    const char *act = tl_json_str_ok(cfg, k->act, &str_ok);
    if (!str_ok) {
        s = tl_set_error(TL_ERR_FORMAT, "%s: field '%s' must be a string", path, k->act);
        goto done;
    }
    if (pet && strcmp(pet, "absolute") != 0) {
        s = tl_set_error(TL_ERR_UNSUPPORTED,
                         "%s: position_embedding_type '%s' is not supported (only 'absolute')", path,
                         pet);
        goto done;
    }
    if (!act) act = k->default_act;
    if (!tl_activation_parse(act, &arch->act)) {
        s = tl_set_error(TL_ERR_UNSUPPORTED,
                         "%s: %s '%s' is not supported (gelu, gelu_new, "
                         "gelu_pytorch_tanh, gelu_fast, relu, silu)",
                         path, k->act, act);
        goto done;
    }
    snprintf(arch->act_name, sizeof arch->act_name, "%s", act);
    s = tl_head_config_parse(cfg, path, arch);
done:
    return s;
}

tl_status tl_arch_from_config(const char *dir, tl_arch *arch) {
    memset(arch, 0, sizeof *arch);
    char *path = tl_path_join(dir, "config.json");
    if (!path) return tl_set_error(TL_ERR_OOM, "out of memory");
    cJSON *cfg = NULL;
    tl_status s = tl_json_load_file(path, &cfg);
    if (s == TL_OK) s = parse_config(cfg, path, arch);
    cJSON_Delete(cfg);
    free(path);
    return s;
}

tl_status tl_arch_from_json(const char *json, const char *label, tl_arch *arch) {
    memset(arch, 0, sizeof *arch);
    if (!json) return tl_set_error(TL_ERR_INVALID_ARG, "%s: config text is NULL", label);
    cJSON *cfg = NULL;
    tl_status s = tl_json_parse(json, strlen(json), label, &cfg);
    if (s == TL_OK) s = parse_config(cfg, label, arch);
    cJSON_Delete(cfg);
    return s;
}

