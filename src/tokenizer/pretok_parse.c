/* pretok_parse.c — reads tokenizer.json "pre_tokenizer" values into tl_pretok. */
#include "tokenizer/tok_pretok.h"
#include "tokenizer/tok_regex.h"
#include "tokenizer/tok_text.h"
#include "core/error.h"
#include "io/json.h"

#include <stdlib.h>
#include <string.h>

#define MAX_DEPTH 16

/* Maps a SplitDelimiterBehavior name; returns 0 when unknown. */
int tl_split_behavior_parse(const char *s, tl_split_behavior *out) {
    static const char *names[] = {"Removed", "Isolated", "MergedWithPrevious", "MergedWithNext", "Contiguous"};
    for (int i = 0; s && i < 5; i++)
        if (!strcmp(s, names[i])) { *out = (tl_split_behavior)i; return 1; }
    return 0;
}

/* Decodes a one-char UTF-8 string; returns 0 unless s is exactly one code point. */
int tl_one_char(const char *s, uint32_t *out) {
    uint32_t *cps;
    size_t n;
    if (!s || tl_utf8_decode(s, strlen(s), "char", &cps, &n) != TL_OK) return 0;
    int ok = n == 1;
    if (ok) *out = cps[0];
    free(cps);
    return ok;
}

/* Parses the Metaspace fields. */
static tl_status parse_metaspace(const cJSON *j, const char *path, tl_pretok *out) {
    int ok = 1;
    if (!tl_one_char(tl_json_str(j, "replacement"), &out->replacement))
        return tl_set_error(TL_ERR_FORMAT, "%s: Metaspace: \"replacement\" must be one character", path);
    int aps = tl_json_bool(j, "add_prefix_space", 1, &ok);
    out->split = tl_json_bool(j, "split", 1, &ok);
    if (!ok) return tl_set_error(TL_ERR_FORMAT, "%s: Metaspace: a flag is not a boolean", path);
    const char *sch = tl_json_str(j, "prepend_scheme");
    out->prepend_scheme = aps ? TL_PREPEND_ALWAYS : TL_PREPEND_NEVER;
    if (sch) {
        if (!strcmp(sch, "always")) out->prepend_scheme = TL_PREPEND_ALWAYS;
        else if (!strcmp(sch, "first")) out->prepend_scheme = TL_PREPEND_FIRST;
        else if (!strcmp(sch, "never")) out->prepend_scheme = TL_PREPEND_NEVER;
        else return tl_set_error(TL_ERR_FORMAT, "%s: Metaspace: unknown prepend_scheme \"%s\"", path, sch);
    }
    return TL_OK;
}

/* Parses the Split fields: pattern {"Regex": ..} or {"String": ..}, behavior, invert. */
static tl_status parse_split(const cJSON *j, const char *path, tl_pretok *out) {
    const cJSON *pat = cJSON_GetObjectItemCaseSensitive(j, "pattern");
    const char *rx = tl_json_str(pat, "Regex"), *str = tl_json_str(pat, "String");
    if (!rx && !str) return tl_set_error(TL_ERR_FORMAT, "%s: Split: \"pattern\" needs a Regex or String", path);
    if (!tl_split_behavior_parse(tl_json_str(j, "behavior"), &out->behavior))
        return tl_set_error(TL_ERR_FORMAT, "%s: Split: missing or unknown \"behavior\"", path);
    int ok = 1;
    out->invert = tl_json_bool(j, "invert", 0, &ok);
    if (!ok) return tl_set_error(TL_ERR_FORMAT, "%s: Split: \"invert\" is not a boolean", path);
    return tl_regex_compile(rx ? rx : str, rx == NULL, path, &out->re);
}

tl_status tl_pretok_parse(const cJSON *j, const char *path, int depth, tl_pretok *out) {
    memset(out, 0, sizeof *out);
    if (!j || cJSON_IsNull(j)) return TL_OK;
    if (depth > MAX_DEPTH) return tl_set_error(TL_ERR_FORMAT, "%s: pre_tokenizer: nesting too deep", path);
    const char *type = tl_json_str(j, "type");
    if (!type) return tl_set_error(TL_ERR_FORMAT, "%s: pre_tokenizer: missing \"type\"", path);
    tl_status s = TL_OK;
    int ok = 1;
    if (!strcmp(type, "BertPreTokenizer")) out->kind = TL_PRE_BERT;
    else if (!strcmp(type, "Whitespace")) out->kind = TL_PRE_WHITESPACE;
    else if (!strcmp(type, "WhitespaceSplit")) out->kind = TL_PRE_WHITESPACE_SPLIT;
    else if (!strcmp(type, "ByteLevel")) {
        out->kind = TL_PRE_BYTE_LEVEL;
        out->add_prefix_space = tl_json_bool(j, "add_prefix_space", 1, &ok);
        out->use_regex = tl_json_bool(j, "use_regex", 1, &ok);
        if (!ok) return tl_set_error(TL_ERR_FORMAT, "%s: ByteLevel: a flag is not a boolean", path);
        if (out->use_regex) s = tl_regex_compile(tl_gpt2_pattern, 0, path, &out->re);
    } else if (!strcmp(type, "Metaspace")) {
        out->kind = TL_PRE_METASPACE;
        s = parse_metaspace(j, path, out);
    } else if (!strcmp(type, "Split")) {
        out->kind = TL_PRE_SPLIT;
        s = parse_split(j, path, out);
    } else if (!strcmp(type, "Punctuation")) {
        out->kind = TL_PRE_PUNCTUATION;
        out->behavior = TL_SPLIT_ISOLATED;
        const char *beh = tl_json_str(j, "behavior");
        if (beh && !tl_split_behavior_parse(beh, &out->behavior))
            return tl_set_error(TL_ERR_FORMAT, "%s: Punctuation: unknown behavior \"%s\"", path, beh);
    } else if (!strcmp(type, "Digits")) {
        out->kind = TL_PRE_DIGITS;
        out->individual_digits = tl_json_bool(j, "individual_digits", 0, &ok);
        if (!ok) return tl_set_error(TL_ERR_FORMAT, "%s: Digits: individual_digits is not a boolean", path);
    } else if (!strcmp(type, "Sequence")) {
        const cJSON *arr = cJSON_GetObjectItemCaseSensitive(j, "pretokenizers");
        if (!cJSON_IsArray(arr)) return tl_set_error(TL_ERR_FORMAT, "%s: pre_tokenizer Sequence: \"pretokenizers\" is not an array", path);
        int n = cJSON_GetArraySize(arr);
        out->kind = TL_PRE_SEQUENCE;
        out->children = calloc(n > 0 ? (size_t)n : 1, sizeof *out->children);
        if (!out->children) return tl_set_error(TL_ERR_OOM, "%s: out of memory", path);
        const cJSON *it;
        cJSON_ArrayForEach(it, arr) {
            s = tl_pretok_parse(it, path, depth + 1, &out->children[out->n_children]);
            out->n_children++;
            if (s != TL_OK) break;
        }
    } else {
        return tl_set_error(TL_ERR_UNSUPPORTED, "%s: pre_tokenizer type \"%s\" is not supported", path, type);
    }
    if (s != TL_OK) tl_pretok_free(out);
    return s;
}

void tl_pretok_free(tl_pretok *p) {
    if (!p) return;
    for (size_t i = 0; i < p->n_children; i++) tl_pretok_free(&p->children[i]);
    free(p->children);
    tl_regex_free(p->re);
    memset(p, 0, sizeof *p);
}
