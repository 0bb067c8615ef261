/* tokenizer.c — tl_tokenizer_load (tokenizer.json, a directory, a hub id, or the
 * vocab.txt fallback), free, and vocabulary lookups. */
#include "tokenizer/tok_tokenizer.h"
#include "core/error.h"
#include "core/util.h"
#include "io/hub.h"
#include "io/json.h"

#include <stdlib.h>
#include <string.h>

/* Frees everything a tokenizer owns, then the struct. */
void tl_tokenizer_free(tl_tokenizer *tok) {
    if (!tok) return;
    tl_normalizer_free(&tok->norm);
    tl_pretok_free(&tok->pre);
    tl_wordpiece_free(&tok->wp);
    tl_bpe_free(&tok->bpe);
    tl_unigram_free(&tok->uni);
    tl_added_free(&tok->added);
    tl_postproc_free(&tok->post);
    tl_decoder_free(&tok->dec);
    tl_wcache_pool_free(tok->wcache);
    free(tok->source);
    free(tok);
}

const tl_vocab *tl_tok_vocab(const tl_tokenizer *t) {
    return t->model == TL_MODEL_BPE ? &t->bpe.vocab : t->model == TL_MODEL_UNIGRAM ? &t->uni.vocab : &t->wp.vocab;
}

void tl_tokenizer_finish(tl_tokenizer *tok) {
    size_t n = tl_tok_vocab(tok)->n_tokens;
    for (size_t i = 0; i < tok->added.len; i++) {
        const char *c = tok->added.v[i].content;
        int dup = tl_vocab_get(tl_tok_vocab(tok), c, strlen(c)) >= 0;
        for (size_t k = 0; k < i && !dup; k++) dup = !strcmp(tok->added.v[k].content, c);
        if (!dup) n++;
    }
    tok->vocab_size = n;
    tok->prefix_safe = tl_tok_prefix_safe(tok);
    if (tok->model != TL_MODEL_WORDPIECE && !tok->wcache) tok->wcache = tl_wcache_pool_new(); /* NULL: no cache */
}

/* Frees tok's word caches: it then runs BPE / Unigram uncached (tests' reference). */
void tl_tokenizer_drop_word_cache(tl_tokenizer *tok) {
    tl_wcache_pool_free(tok->wcache);
    tok->wcache = NULL;
}

/* Parses "added_tokens" (may be absent). */
static tl_status parse_added(const cJSON *arr, const char *path, tl_tokenizer *tok) {
    if (!arr || cJSON_IsNull(arr)) return TL_OK;
    if (!cJSON_IsArray(arr)) return tl_set_error(TL_ERR_FORMAT, "%s: added_tokens is not an array", path);
    const cJSON *it;
    int idx = 0;
    cJSON_ArrayForEach(it, arr) {
        const char *content = tl_json_str(it, "content");
        int ok = 1;
        long id;
        if (!tl_tok_json_index(it, "id", -1, INT32_MAX - 1, &id)) id = -1;
        if (!content || id < 0)
            return tl_set_error(TL_ERR_FORMAT, "%s: added_tokens[%d]: missing or bad \"content\"/\"id\"", path, idx);
        int special = tl_json_bool(it, "special", 0, &ok);
        int lstrip = tl_json_bool(it, "lstrip", 0, &ok);
        int rstrip = tl_json_bool(it, "rstrip", 0, &ok);
        int single = tl_json_bool(it, "single_word", 0, &ok);
        int normalized = tl_json_bool(it, "normalized", !special, &ok);
        if (!ok) return tl_set_error(TL_ERR_FORMAT, "%s: added_tokens[%d]: a flag is not a boolean", path, idx);
        tl_status s = tl_added_push(&tok->added, content, (int32_t)id, special, lstrip, rstrip, single,
                                    normalized, &tok->norm);
        if (s != TL_OK) return tl_error_prefix(s, "%s: added_tokens[%d]", path, idx);
        idx++;
    }
    return TL_OK;
}

/* Builds tok from a parsed tokenizer.json. */
static tl_status from_json(const cJSON *root, const char *path, tl_tokenizer *tok) {
    if (!cJSON_IsObject(root)) return tl_set_error(TL_ERR_FORMAT, "%s: top level is not an object", path);
    const cJSON *model = cJSON_GetObjectItemCaseSensitive(root, "model");
    if (!cJSON_IsObject(model)) return tl_set_error(TL_ERR_FORMAT, "%s: \"model\" is missing or not an object", path);
    const char *type = tl_json_str(model, "type");
    if (!type && cJSON_GetObjectItemCaseSensitive(model, "continuing_subword_prefix") &&
        cJSON_GetObjectItemCaseSensitive(model, "max_input_chars_per_word"))
        type = "WordPiece"; /* older files omit model.type */
    if (!type) return tl_set_error(TL_ERR_FORMAT, "%s: model.type is missing", path);
    tl_status s = tl_normalizer_parse(cJSON_GetObjectItemCaseSensitive(root, "normalizer"), path, 0, &tok->norm);
    if (s == TL_OK) s = tl_pretok_parse(cJSON_GetObjectItemCaseSensitive(root, "pre_tokenizer"), path, 0, &tok->pre);
    if (s != TL_OK) return s;
    if (!strcmp(type, "WordPiece")) { tok->model = TL_MODEL_WORDPIECE; s = tl_wordpiece_parse(model, path, &tok->wp); }
    else if (!strcmp(type, "BPE")) { tok->model = TL_MODEL_BPE; s = tl_bpe_parse(model, path, &tok->bpe); }
    else if (!strcmp(type, "Unigram")) { tok->model = TL_MODEL_UNIGRAM; s = tl_unigram_parse(model, path, &tok->uni); }
    else return tl_set_error(TL_ERR_UNSUPPORTED, "%s: model type \"%s\" is not supported", path, type);
    if (s == TL_OK) s = parse_added(cJSON_GetObjectItemCaseSensitive(root, "added_tokens"), path, tok);
    if (s == TL_OK) s = tl_postproc_parse(cJSON_GetObjectItemCaseSensitive(root, "post_processor"), path, &tok->post);
    if (s == TL_OK) s = tl_decoder_parse(cJSON_GetObjectItemCaseSensitive(root, "decoder"), path, 0, &tok->dec);
    return s;
}

/* Loads a tokenizer.json file into a new tokenizer. */
static tl_status load_json_file(const char *path, tl_tokenizer **out) {
    cJSON *root;
    tl_status s = tl_json_load_file(path, &root);
    if (s != TL_OK) return s;
    tl_tokenizer *tok = calloc(1, sizeof *tok);
    if (!tok) { cJSON_Delete(root); return tl_set_error(TL_ERR_OOM, "%s: out of memory", path); }
    s = from_json(root, path, tok);
    cJSON_Delete(root);
    if (s == TL_OK && !(tok->source = tl_strdup(path))) s = tl_set_error(TL_ERR_OOM, "%s: out of memory", path);
    if (s != TL_OK) { tl_tokenizer_free(tok); return s; }
    tl_tokenizer_finish(tok);
    *out = tok;
    return TL_OK;
}

/* Builds a tokenizer from a legacy layout with loader; fills *out. */
static tl_status load_legacy(const char *dir, const char *file,
                             tl_status (*loader)(const char *, tl_tokenizer *), tl_tokenizer **out) {
    tl_tokenizer *tok = calloc(1, sizeof *tok);
    if (!tok) return tl_set_error(TL_ERR_OOM, "%s: out of memory", dir);
    tl_status s = loader(dir, tok);
    if (s == TL_OK && !(tok->source = tl_path_join(dir, file))) s = tl_set_error(TL_ERR_OOM, "%s: out of memory", dir);
    if (s != TL_OK) { tl_tokenizer_free(tok); return s; }
    tl_tokenizer_finish(tok);
    *out = tok;
    return TL_OK;
}

/* Loads from a directory: tokenizer.json, else vocab.txt, else vocab.json + merges.txt. */
static tl_status load_dir(const char *dir, tl_tokenizer **out) {
    char *json = tl_path_join(dir, "tokenizer.json");
    char *vocab = tl_path_join(dir, "vocab.txt");
    char *vjson = tl_path_join(dir, "vocab.json");
    char *merges = tl_path_join(dir, "merges.txt");
    tl_status s;
    if (!json || !vocab || !vjson || !merges) s = tl_set_error(TL_ERR_OOM, "%s: out of memory", dir);
    else if (tl_file_exists(json)) s = load_json_file(json, out);
    else if (tl_file_exists(vocab)) s = load_legacy(dir, "vocab.txt", tl_tokenizer_load_vocab_txt, out);
    else if (tl_file_exists(vjson) && tl_file_exists(merges)) s = load_legacy(dir, "vocab.json", tl_tokenizer_load_vocab_json, out);
    else s = tl_set_error(TL_ERR_IO, "%s: no tokenizer.json, vocab.txt or vocab.json + merges.txt in this directory", dir);
    free(json); free(vocab); free(vjson); free(merges);
    return s;
}

tl_status tl_tokenizer_load(const char *path_or_id, tl_tokenizer **out) {
    if (!out) return tl_set_error(TL_ERR_INVALID_ARG, "tl_tokenizer_load: out is NULL");
    *out = NULL;
    if (!path_or_id || !*path_or_id) return tl_set_error(TL_ERR_INVALID_ARG, "tl_tokenizer_load: empty path");
    if (tl_dir_exists(path_or_id)) return load_dir(path_or_id, out);
    if (tl_file_exists(path_or_id)) return load_json_file(path_or_id, out);
    char *dir = NULL;
    tl_status s = tl_resolve_model_dir(path_or_id, &dir);
    if (s != TL_OK) return s;
    s = load_dir(dir, out);
    free(dir);
    return s;
}

size_t tl_tokenizer_vocab_size(const tl_tokenizer *tok) { return tok ? tok->vocab_size : 0; }

int32_t tl_tokenizer_token_to_id(const tl_tokenizer *tok, const char *token) {
    if (!tok || !token) return -1;
    int32_t id = tl_added_find(&tok->added, token);
    return id >= 0 ? id : tl_vocab_get(tl_tok_vocab(tok), token, strlen(token));
}

const char *tl_tokenizer_id_to_token(const tl_tokenizer *tok, int32_t id) {
    if (!tok || id < 0) return NULL;
    for (size_t i = 0; i < tok->added.len; i++)
        if (tok->added.v[i].id == id) return tok->added.v[i].content;
    const tl_vocab *v = tl_tok_vocab(tok);
    if ((size_t)id < v->n_ids) return v->id_to_tok[id];
    return NULL;
}
