/* vocab_json.c — the legacy GPT-2 / RoBERTa layout: vocab.json + merges.txt (+
 * tokenizer_config.json, special_tokens_map.json, config.json) builds the pipeline
 * transformers' GPT2TokenizerFast / RobertaTokenizerFast would: ByteLevel pre-tokenizer
 * (add_prefix_space from the config), byte-level BPE, and either $A / $A $B:1 (GPT-2, no
 * offset trimming) or
 * RobertaProcessing (<s> $A </s> </s> $B </s>, trim_offsets). */
#include "tokenizer/tok_tokenizer.h"
#include "core/error.h"
#include "core/util.h"
#include "io/json.h"

#include <stdlib.h>
#include <string.h>

/* Returns a token name from a config object (a string or {"content": ...}), else def. */
static const char *cfg_token(const cJSON *a, const cJSON *b, const char *key, const char *def) {
    const cJSON *srcs[2] = {a, b};
    for (int i = 0; i < 2; i++) {
        const cJSON *v = srcs[i] ? cJSON_GetObjectItemCaseSensitive(srcs[i], key) : NULL;
        if (cJSON_IsString(v)) return v->valuestring;
        if (cJSON_IsObject(v) && tl_json_str(v, "content")) return tl_json_str(v, "content");
    }
    return def;
}

/* Loads dir/name as a JSON object into *out (NULL when the file is absent). */
static tl_status opt_json(const char *dir, const char *name, cJSON **out) {
    *out = NULL;
    char *p = tl_path_join(dir, name);
    if (!p) return tl_set_error(TL_ERR_OOM, "%s: out of memory", dir);
    tl_status s = TL_OK;
    if (tl_file_exists(p)) {
        s = tl_json_load_file(p, out);
        if (s == TL_OK && !cJSON_IsObject(*out)) {
            cJSON_Delete(*out);
            *out = NULL;
            s = tl_set_error(TL_ERR_FORMAT, "%s: top level is not an object", p);
        }
    }
    free(p);
    return s;
}

/* Reads merges.txt: "a b" per line, "#version" lines and empty lines skipped. */
static tl_status read_merges(const char *path, tl_bpe *bpe) {
    char *buf;
    size_t len;
    tl_status s = tl_read_file(path, &buf, &len);
    if (s != TL_OK) return s;
    uint32_t rank = 0;
    size_t i = 0, line = 0;
    while (i < len && s == TL_OK) {
        size_t e = i;
        while (e < len && buf[e] != '\n') e++;
        size_t le = e;
        if (le > i && buf[le - 1] == '\r') le--;
        line++;
        if (le > i && !(le - i >= 8 && !memcmp(buf + i, "#version", 8))) {
            const char *sp = memchr(buf + i, ' ', le - i);
            if (!sp || memchr(sp + 1, ' ', (size_t)(buf + le - sp - 1)))
                s = tl_set_error(TL_ERR_FORMAT, "%s: line %zu is not \"a b\"", path, line);
            else
                s = tl_bpe_add_merge(bpe, buf + i, (size_t)(sp - (buf + i)), sp + 1, (size_t)(buf + le - sp - 1), rank++, path);
        }
        i = e + 1;
    }
    free(buf);
    return s;
}

/* Adds a special added token with the vocab's id for it, or the next free id. */
static tl_status add_special(tl_tokenizer *tok, const char *content, int32_t *next) {
    if (tl_added_find(&tok->added, content) >= 0) return TL_OK;
    int32_t id = tl_vocab_get(&tok->bpe.vocab, content, strlen(content));
    if (id < 0) id = (*next)++;
    return tl_added_push(&tok->added, content, id, 1, 0, 0, 0, 0, NULL);
}

tl_status tl_tokenizer_load_vocab_json(const char *dir, tl_tokenizer *tok) {
    char *vpath = tl_path_join(dir, "vocab.json"), *mpath = tl_path_join(dir, "merges.txt");
    cJSON *vocab = NULL, *cfg = NULL, *stm = NULL, *mcfg = NULL;
    tl_status s = TL_OK;
    if (!vpath || !mpath) { s = tl_set_error(TL_ERR_OOM, "%s: out of memory", dir); goto out; }
    if ((s = opt_json(dir, "tokenizer_config.json", &cfg)) != TL_OK) goto out;
    if ((s = opt_json(dir, "special_tokens_map.json", &stm)) != TL_OK) goto out;
    if ((s = opt_json(dir, "config.json", &mcfg)) != TL_OK) goto out;
    const char *cls_name = tl_json_str(cfg, "tokenizer_class"), *mtype = tl_json_str(mcfg, "model_type");
    int roberta = (cls_name && strstr(cls_name, "Roberta")) || (!cls_name && mtype && strstr(mtype, "roberta"));
    int ok = 1;
    int aps = tl_json_bool(cfg, "add_prefix_space", 0, &ok);
    int trim = tl_json_bool(cfg, "trim_offsets", 1, &ok);
    if (!ok) { s = tl_set_error(TL_ERR_FORMAT, "%s: add_prefix_space/trim_offsets must be booleans", dir); goto out; }

    tok->model = TL_MODEL_BPE;
    if ((s = tl_json_load_file(vpath, &vocab)) != TL_OK) goto out;
    if ((s = tl_vocab_parse_json(vocab, vpath, &tok->bpe.vocab)) != TL_OK) goto out;
    if ((s = read_merges(mpath, &tok->bpe)) != TL_OK) goto out;
    tl_bpe_finish(&tok->bpe);

    tok->pre.kind = TL_PRE_BYTE_LEVEL;
    tok->pre.add_prefix_space = aps;
    tok->pre.use_regex = 1;
    if ((s = tl_regex_compile(tl_gpt2_pattern, 0, dir, &tok->pre.re)) != TL_OK) goto out;

    int32_t next = (int32_t)tok->bpe.vocab.n_tokens;
    if (roberta) {
        const char *bos = cfg_token(cfg, stm, "bos_token", "<s>"), *eos = cfg_token(cfg, stm, "eos_token", "</s>");
        const char *unk = cfg_token(cfg, stm, "unk_token", "<unk>"), *pad = cfg_token(cfg, stm, "pad_token", "<pad>");
        const char *mask = cfg_token(cfg, stm, "mask_token", "<mask>");
        const char *cls = cfg_token(cfg, stm, "cls_token", bos), *sep = cfg_token(cfg, stm, "sep_token", eos);
        const char *order[5] = {bos, eos, unk, pad, mask};
        for (int k = 0; k < 5 && s == TL_OK; k++) s = add_special(tok, order[k], &next);
        for (int k = 0; k < 2 && s == TL_OK; k++) s = add_special(tok, k ? sep : cls, &next);
        if (s != TL_OK) goto out;
        /* RobertaProcessing via a JSON description, parsed like tokenizer.json's */
        cJSON *pp = cJSON_CreateObject(), *c = cJSON_CreateArray(), *e = cJSON_CreateArray();
        if (pp && c && e) {
            cJSON_AddStringToObject(pp, "type", "RobertaProcessing");
            cJSON_AddItemToArray(c, cJSON_CreateString(cls));
            cJSON_AddItemToArray(c, cJSON_CreateNumber(tl_added_find(&tok->added, cls)));
            cJSON_AddItemToArray(e, cJSON_CreateString(sep));
            cJSON_AddItemToArray(e, cJSON_CreateNumber(tl_added_find(&tok->added, sep)));
            cJSON_AddItemToObject(pp, "cls", c);
            cJSON_AddItemToObject(pp, "sep", e);
            c = e = NULL;
            cJSON_AddBoolToObject(pp, "trim_offsets", trim);
            cJSON_AddBoolToObject(pp, "add_prefix_space", aps);
            s = tl_postproc_parse(pp, dir, &tok->post);
        } else {
            s = tl_set_error(TL_ERR_OOM, "%s: out of memory", dir);
        }
        cJSON_Delete(pp); cJSON_Delete(c); cJSON_Delete(e);
    } else {
        const char *unk = cfg_token(cfg, stm, "unk_token", "<|endoftext|>"), *bos = cfg_token(cfg, stm, "bos_token", "<|endoftext|>");
        const char *eos = cfg_token(cfg, stm, "eos_token", "<|endoftext|>");
        const char *order[3] = {unk, bos, eos};
        for (int k = 0; k < 3 && s == TL_OK; k++) s = add_special(tok, order[k], &next);
        if (s != TL_OK) goto out;
        /* $A / $A $B:1 with no special tokens; transformers adds no offset trimming here */
        cJSON *pp = cJSON_Parse("{\"type\":\"TemplateProcessing\",\"single\":[{\"Sequence\":"
                                "{\"id\":\"A\",\"type_id\":0}}],\"pair\":[{\"Sequence\":{\"id\":\"A\",\"type_id\":0}},"
                                "{\"Sequence\":{\"id\":\"B\",\"type_id\":1}}],\"special_tokens\":{}}");
        if (!pp) { s = tl_set_error(TL_ERR_OOM, "%s: out of memory", dir); goto out; }
        s = tl_postproc_parse(pp, dir, &tok->post);
        cJSON_Delete(pp);
    }
    if (s == TL_OK) tok->dec.kind = TL_DEC_BYTELEVEL; /* GPT-2 / RoBERTa fast tokenizers' decoder */
out:
    cJSON_Delete(vocab); cJSON_Delete(cfg); cJSON_Delete(stm); cJSON_Delete(mcfg);
    free(vpath);
    free(mpath);
    return s;
}
