/* vocab_txt.c — the legacy BERT layout: vocab.txt (+ tokenizer_config.json) builds the
 * same pipeline transformers' BertTokenizerFast does: BertNormalizer, BertPreTokenizer,
 * WordPiece("##", 100 chars), [CLS] $A [SEP] / [CLS] $A [SEP] $B:1 [SEP]:1. */
#include "tokenizer/tok_tokenizer.h"
#include "core/error.h"
#include "core/util.h"
#include "io/json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Returns a special-token name from tokenizer_config.json (a string or {"content": ...}). */
static const char *config_token(const cJSON *cfg, const char *key, const char *def) {
    const cJSON *v = cfg ? cJSON_GetObjectItemCaseSensitive(cfg, key) : NULL;
    if (cJSON_IsString(v)) return v->valuestring;
    if (cJSON_IsObject(v) && tl_json_str(v, "content")) return tl_json_str(v, "content");
    return def;
}

/* Reads vocab.txt lines (split as Python's universal newlines) into the WordPiece vocab;
 * a token listed twice takes its last line's index, as transformers' load_vocab does. */
static tl_status read_vocab(const char *path, tl_vocab *v) {
    char *buf;
    size_t len;
    tl_status s = tl_read_file(path, &buf, &len);
    if (s != TL_OK) return s;
    uint32_t *cps;
    size_t ncp;
    s = tl_utf8_decode(buf, len, path, &cps, &ncp);
    if (s != TL_OK) {
        char msg[512];
        snprintf(msg, sizeof msg, "%s", tl_last_error());
        free(buf);
        return tl_set_error(TL_ERR_FORMAT, "%s", msg);
    }
    free(cps);
    /* line starts/ends, then insert from the last line backwards */
    tl_spans lines = {0};
    size_t i = 0, start = 0;
    while (i < len) {
        if (buf[i] == '\n' || buf[i] == '\r') {
            if (tl_spans_push(&lines, start, i)) goto oom;
            if (buf[i] == '\r' && i + 1 < len && buf[i + 1] == '\n') i++;
            start = i + 1;
        }
        i++;
    }
    if (start < len && tl_spans_push(&lines, start, len)) goto oom;
    if (lines.len > (size_t)INT32_MAX) { s = tl_set_error(TL_ERR_FORMAT, "%s: too many lines", path); goto out; }
    for (size_t k = lines.len; k-- > 0;) {
        int r = tl_vocab_add(v, buf + lines.v[k].s, lines.v[k].e - lines.v[k].s, (int32_t)k);
        if (r == -1) goto oom;
        if (r == -2) { s = tl_set_error(TL_ERR_FORMAT, "%s: line %zu holds a NUL byte", path, k + 1); goto out; }
    }
    s = TL_OK;
    goto out;
oom:
    s = tl_set_error(TL_ERR_OOM, "%s: out of memory", path);
out:
    free(lines.v);
    free(buf);
    return s;
}

tl_status tl_tokenizer_load_vocab_txt(const char *dir, struct tl_tokenizer *tok) {
    char *vpath = tl_path_join(dir, "vocab.txt"), *cpath = tl_path_join(dir, "tokenizer_config.json");
    cJSON *cfg = NULL;
    tl_status s = TL_OK;
    if (!vpath || !cpath) { s = tl_set_error(TL_ERR_OOM, "%s: out of memory", dir); goto out; }
    if (tl_file_exists(cpath) && (s = tl_json_load_file(cpath, &cfg)) != TL_OK) goto out;
    if (cfg && !cJSON_IsObject(cfg)) { s = tl_set_error(TL_ERR_FORMAT, "%s: top level is not an object", cpath); goto out; }
    int ok = 1;
    int lower = tl_json_bool(cfg, "do_lower_case", 1, &ok);
    int chinese = tl_json_bool(cfg, "tokenize_chinese_chars", 1, &ok);
    int strip = tl_json_bool(cfg, "strip_accents", lower, &ok);
    if (!ok) { s = tl_set_error(TL_ERR_FORMAT, "%s: do_lower_case/tokenize_chinese_chars/strip_accents must be booleans", cpath); goto out; }
    tok->norm.kind = TL_NORM_BERT;
    tok->norm.clean_text = 1;
    tok->norm.handle_chinese = chinese;
    tok->norm.strip_accents = strip;
    tok->norm.lowercase = lower;
    tok->pre.kind = TL_PRE_BERT;
    const char *unk = config_token(cfg, "unk_token", "[UNK]"), *sep = config_token(cfg, "sep_token", "[SEP]");
    const char *pad = config_token(cfg, "pad_token", "[PAD]"), *cls = config_token(cfg, "cls_token", "[CLS]");
    const char *mask = config_token(cfg, "mask_token", "[MASK]");
    tok->wp.unk_token = tl_strdup(unk);
    tok->wp.prefix = tl_strdup("##");
    tok->wp.max_chars = 100;
    if (!tok->wp.unk_token || !tok->wp.prefix) { s = tl_set_error(TL_ERR_OOM, "%s: out of memory", dir); goto out; }
    if ((s = read_vocab(vpath, &tok->wp.vocab)) != TL_OK) goto out;
    const char *specials[5] = {pad, unk, cls, sep, mask};
    int32_t next = (int32_t)tok->wp.vocab.n_ids;
    for (int k = 0; k < 5; k++) {
        if (tl_added_find(&tok->added, specials[k]) >= 0) continue;
        int32_t id = tl_vocab_get(&tok->wp.vocab, specials[k], strlen(specials[k]));
        if (id < 0) id = next++;
        if ((s = tl_added_push(&tok->added, specials[k], id, 1, 0, 0, 0, 0, NULL)) != TL_OK) goto out;
    }
    s = tl_postproc_bert(&tok->post, cls, tl_added_find(&tok->added, cls), sep, tl_added_find(&tok->added, sep));
    if (s == TL_OK) { /* BertTokenizerFast's decoder: WordPiece("##", cleanup) */
        tok->dec.kind = TL_DEC_WORDPIECE;
        tok->dec.cleanup = 1;
        if (!(tok->dec.text = tl_strdup("##"))) s = tl_set_error(TL_ERR_OOM, "%s: out of memory", dir);
    }
out:
    cJSON_Delete(cfg);
    free(vpath);
    free(cpath);
    return s;
}
