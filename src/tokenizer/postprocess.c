/* postprocess.c — post-processors (TemplateProcessing; BertProcessing mapped to the
 * equivalent template) and tokenizers' longest_first truncation. */
#include "tokenizer/tok_encoding.h"
#include "tokenizer/tok_postproc.h"
#include "tokenizer/tok_text.h"
#include "core/error.h"
#include "core/util.h"
#include "io/json.h"
#include "tokenizer/unicode.h"

#include <stdlib.h>
#include <string.h>

void tl_postproc_free(tl_postproc *p) {
    for (size_t i = 0; i < p->n_single; i++) free(p->single[i].name);
    for (size_t i = 0; i < p->n_pair; i++) free(p->pair[i].name);
    free(p->single);
    free(p->pair);
    for (size_t i = 0; i < p->n_specials; i++) {
        tl_tpl_special *s = &p->specials[i];
        for (size_t k = 0; k < s->n; k++) free(s->tokens[k]);
        free(s->tokens);
        free(s->ids);
        free(s->name);
    }
    free(p->specials);
    memset(p, 0, sizeof *p);
}

/* Parses a template array ("single" or "pair") into pieces. */
static tl_status parse_template(const cJSON *arr, const char *path, const char *field,
                                tl_tpl_piece **out, size_t *n) {
    if (!cJSON_IsArray(arr))
        return tl_set_error(TL_ERR_FORMAT, "%s: post_processor.%s is not an array", path, field);
    size_t cnt = (size_t)cJSON_GetArraySize(arr);
    *out = calloc(cnt ? cnt : 1, sizeof **out);
    if (!*out) return tl_set_error(TL_ERR_OOM, "%s: out of memory", path);
    const cJSON *it;
    cJSON_ArrayForEach(it, arr) {
        tl_tpl_piece *pc = &(*out)[*n];
        const cJSON *sp = cJSON_GetObjectItemCaseSensitive(it, "SpecialToken");
        const cJSON *sq = cJSON_GetObjectItemCaseSensitive(it, "Sequence");
        int ok = 1;
        if (cJSON_IsObject(sp)) {
            const char *id = tl_json_str(sp, "id");
            if (!id) return tl_set_error(TL_ERR_FORMAT, "%s: post_processor.%s: SpecialToken without \"id\"", path, field);
            pc->special = 1;
            pc->name = tl_strdup(id);
            if (!pc->name) return tl_set_error(TL_ERR_OOM, "%s: out of memory", path);
            long ty;
            ok = tl_tok_json_index(sp, "type_id", 0, INT32_MAX, &ty);
            pc->type_id = (int32_t)ty;
        } else if (cJSON_IsObject(sq)) {
            const char *id = tl_json_str(sq, "id");
            if (!id || (strcmp(id, "A") && strcmp(id, "B")))
                return tl_set_error(TL_ERR_FORMAT, "%s: post_processor.%s: Sequence id must be \"A\" or \"B\"", path, field);
            pc->seq = id[0] == 'B';
            long ty;
            ok = tl_tok_json_index(sq, "type_id", 0, INT32_MAX, &ty);
            pc->type_id = (int32_t)ty;
        } else {
            return tl_set_error(TL_ERR_FORMAT, "%s: post_processor.%s: a piece is neither SpecialToken nor Sequence", path, field);
        }
        if (!ok || pc->type_id < 0) return tl_set_error(TL_ERR_FORMAT, "%s: post_processor.%s: bad type_id", path, field);
        (*n)++;
    }
    return TL_OK;
}

/* Returns the special-token entry called name, or NULL. */
static const tl_tpl_special *find_special(const tl_postproc *p, const char *name) {
    for (size_t i = 0; i < p->n_specials; i++)
        if (!strcmp(p->specials[i].name, name)) return &p->specials[i];
    return NULL;
}

/* Checks that every special piece of a template names a known special token. */
static tl_status check_template(const tl_postproc *p, const tl_tpl_piece *t, size_t n, const char *path) {
    for (size_t i = 0; i < n; i++)
        if (t[i].special && !find_special(p, t[i].name))
            return tl_set_error(TL_ERR_FORMAT, "%s: post_processor: special token \"%s\" is missing from special_tokens", path, t[i].name);
    return TL_OK;
}

/* Adds a special-token entry name -> (ids, tokens). */
static tl_status add_special(tl_postproc *p, const char *name, size_t n, const int32_t *ids, const char *const *toks) {
    tl_tpl_special *v = realloc(p->specials, (p->n_specials + 1) * sizeof *v);
    if (!v) return tl_set_error(TL_ERR_OOM, "post_processor: out of memory");
    p->specials = v;
    tl_tpl_special *s = &v[p->n_specials++];
    memset(s, 0, sizeof *s);
    s->name = tl_strdup(name);
    s->ids = malloc((n ? n : 1) * sizeof *s->ids);
    s->tokens = calloc(n ? n : 1, sizeof *s->tokens);
    if (!s->name || !s->ids || !s->tokens) return tl_set_error(TL_ERR_OOM, "post_processor: out of memory");
    for (size_t i = 0; i < n; i++) {
        s->ids[i] = ids[i];
        s->tokens[i] = tl_strdup(toks[i]);
        s->n = i + 1;
        if (!s->tokens[i]) return tl_set_error(TL_ERR_OOM, "post_processor: out of memory");
    }
    return TL_OK;
}

/* Builds single/pair templates from piece lists over two named specials (a = index 0,
 * b = index 1). names[i] < 0 marks a sequence piece ($A or $B). */
static tl_status build_two(tl_postproc *out, const char *t0, int32_t id0, const char *t1, int32_t id1,
                           const int *single, size_t ns, const int *pair, size_t np,
                           const int *ptypes, const int *pseq) {
    out->kind = 1;
    tl_status s = add_special(out, t0, 1, &id0, &t0);
    if (s == TL_OK && strcmp(t0, t1)) s = add_special(out, t1, 1, &id1, &t1);
    out->single = calloc(ns, sizeof *out->single);
    out->pair = calloc(np, sizeof *out->pair);
    if (s == TL_OK && (!out->single || !out->pair)) s = tl_set_error(TL_ERR_OOM, "post_processor: out of memory");
    for (size_t i = 0; i < ns + np && s == TL_OK; i++) {
        int isp = i >= ns;
        int code = isp ? pair[i - ns] : single[i];
        tl_tpl_piece pc = {code >= 0, isp ? pseq[i - ns] : 0, isp ? ptypes[i - ns] : 0, NULL};
        if (code >= 0 && !(pc.name = tl_strdup(code == 0 ? t0 : t1))) s = tl_set_error(TL_ERR_OOM, "post_processor: out of memory");
        if (isp) out->pair[out->n_pair++] = pc;
        else out->single[out->n_single++] = pc;
    }
    if (s != TL_OK) tl_postproc_free(out);
    return s;
}

tl_status tl_postproc_bert(tl_postproc *out, const char *cls, int32_t cls_id, const char *sep, int32_t sep_id) {
    memset(out, 0, sizeof *out);
    out->present = 1;
    static const int single[3] = {0, -1, 1}, pair[5] = {0, -1, 1, -1, 1};
    static const int types[5] = {0, 0, 0, 1, 1}, seqs[5] = {0, 0, 0, 1, 0};
    return build_two(out, cls, cls_id, sep, sep_id, single, 3, pair, 5, types, seqs);
}

/* RobertaProcessing: <s> $A </s> / <s> $A </s> </s> $B </s>, every type id 0. */
static tl_status postproc_roberta(tl_postproc *out, const char *cls, int32_t cls_id, const char *sep, int32_t sep_id) {
    static const int single[3] = {0, -1, 1}, pair[6] = {0, -1, 1, 1, -1, 1};
    static const int types[6] = {0, 0, 0, 0, 0, 0}, seqs[6] = {0, 0, 0, 0, 1, 0};
    tl_status s = build_two(out, cls, cls_id, sep, sep_id, single, 3, pair, 6, types, seqs);
    out->zero_types = 1;
    return s;
}

/* Reads a ["token", id] pair of BertProcessing. */
static int token_pair(const cJSON *j, const char **tok, int32_t *id) {
    if (!cJSON_IsArray(j) || cJSON_GetArraySize(j) != 2) return 0;
    const cJSON *t = cJSON_GetArrayItem(j, 0), *i = cJSON_GetArrayItem(j, 1);
    if (!cJSON_IsString(t) || !cJSON_IsNumber(i) || i->valuedouble < 0 || i->valuedouble > INT32_MAX) return 0;
    *tok = t->valuestring;
    *id = (int32_t)i->valuedouble;
    return 1;
}

/* Parses a TemplateProcessing body into out (kind 1). */
static tl_status parse_template_proc(const cJSON *j, const char *path, tl_postproc *out) {
    out->kind = 1;
    tl_status s = parse_template(cJSON_GetObjectItemCaseSensitive(j, "single"), path, "single", &out->single, &out->n_single);
    if (s == TL_OK) s = parse_template(cJSON_GetObjectItemCaseSensitive(j, "pair"), path, "pair", &out->pair, &out->n_pair);
    const cJSON *sp = cJSON_GetObjectItemCaseSensitive(j, "special_tokens");
    if (s == TL_OK && sp && !cJSON_IsObject(sp)) s = tl_set_error(TL_ERR_FORMAT, "%s: post_processor.special_tokens is not an object", path);
    const cJSON *it;
    if (s == TL_OK) cJSON_ArrayForEach(it, sp) {
        const cJSON *ids = cJSON_GetObjectItemCaseSensitive(it, "ids");
        const cJSON *toks = cJSON_GetObjectItemCaseSensitive(it, "tokens");
        if (!cJSON_IsArray(ids) || !cJSON_IsArray(toks) || cJSON_GetArraySize(ids) != cJSON_GetArraySize(toks)) {
            s = tl_set_error(TL_ERR_FORMAT, "%s: post_processor.special_tokens[\"%s\"]: ids/tokens missing or of different lengths", path, it->string);
            break;
        }
        size_t n = (size_t)cJSON_GetArraySize(ids);
        int32_t *idv = malloc((n ? n : 1) * sizeof *idv);
        const char **tv = malloc((n ? n : 1) * sizeof *tv);
        if (!idv || !tv) { free(idv); free(tv); s = tl_set_error(TL_ERR_OOM, "%s: out of memory", path); break; }
        for (size_t k = 0; k < n && s == TL_OK; k++) {
            const cJSON *a = cJSON_GetArrayItem(ids, (int)k), *b = cJSON_GetArrayItem(toks, (int)k);
            if (!cJSON_IsNumber(a) || a->valuedouble < 0 || a->valuedouble > INT32_MAX || !cJSON_IsString(b))
                s = tl_set_error(TL_ERR_FORMAT, "%s: post_processor.special_tokens[\"%s\"]: bad id or token", path, it->string);
            else { idv[k] = (int32_t)a->valuedouble; tv[k] = b->valuestring; }
        }
        if (s == TL_OK) s = add_special(out, it->string, n, idv, tv);
        free(idv);
        free(tv);
        if (s != TL_OK) break;
    }
    if (s == TL_OK) s = check_template(out, out->single, out->n_single, path);
    if (s == TL_OK) s = check_template(out, out->pair, out->n_pair, path);
    return s;
}

/* Parses one processor into out, flattening Sequence: at most one template-like stage;
 * ByteLevel stages become trims before or after it. */
static tl_status parse_one(const cJSON *j, const char *path, int depth, tl_postproc *out) {
    const char *type = tl_json_str(j, "type");
    if (!type) return tl_set_error(TL_ERR_FORMAT, "%s: post_processor: missing \"type\"", path);
    if (depth > 16) return tl_set_error(TL_ERR_FORMAT, "%s: post_processor: nesting too deep", path);
    int ok = 1;
    if (!strcmp(type, "ByteLevel")) {
        int trim = tl_json_bool(j, "trim_offsets", 1, &ok), aps = tl_json_bool(j, "add_prefix_space", 1, &ok);
        if (!ok) return tl_set_error(TL_ERR_FORMAT, "%s: post_processor ByteLevel: a flag is not a boolean", path);
        if (out->kind) out->renumber_after = 1;
        if (!trim) return TL_OK;
        if (out->kind) { out->trim_after = 1; out->aps_after = aps; }
        else if (out->trim_before) return tl_set_error(TL_ERR_UNSUPPORTED, "%s: post_processor: two trimming ByteLevel stages", path);
        else { out->trim_before = 1; out->aps_before = aps; }
        return TL_OK;
    }
    if (!strcmp(type, "Sequence")) {
        const cJSON *arr = cJSON_GetObjectItemCaseSensitive(j, "processors"), *it;
        if (!cJSON_IsArray(arr)) return tl_set_error(TL_ERR_FORMAT, "%s: post_processor Sequence: \"processors\" is not an array", path);
        cJSON_ArrayForEach(it, arr) {
            tl_status s = parse_one(it, path, depth + 1, out);
            if (s != TL_OK) return s;
        }
        return TL_OK;
    }
    if (out->kind) return tl_set_error(TL_ERR_UNSUPPORTED, "%s: post_processor: more than one template stage", path);
    if (!strcmp(type, "BertProcessing") || !strcmp(type, "RobertaProcessing")) {
        const char *cls, *sep;
        int32_t cls_id, sep_id;
        if (!token_pair(cJSON_GetObjectItemCaseSensitive(j, "cls"), &cls, &cls_id) ||
            !token_pair(cJSON_GetObjectItemCaseSensitive(j, "sep"), &sep, &sep_id))
            return tl_set_error(TL_ERR_FORMAT, "%s: post_processor %s: bad cls/sep", path, type);
        if (type[0] == 'B') return tl_postproc_bert(out, cls, cls_id, sep, sep_id);
        int trim = tl_json_bool(j, "trim_offsets", 1, &ok), aps = tl_json_bool(j, "add_prefix_space", 1, &ok);
        if (!ok) return tl_set_error(TL_ERR_FORMAT, "%s: post_processor RobertaProcessing: a flag is not a boolean", path);
        if (trim && out->trim_before) return tl_set_error(TL_ERR_UNSUPPORTED, "%s: post_processor: two trimming stages", path);
        if (trim) { out->trim_before = 1; out->aps_before = aps; }
        int tb = out->trim_before, ab = out->aps_before;
        tl_status s = postproc_roberta(out, cls, cls_id, sep, sep_id);
        out->trim_before = tb;
        out->aps_before = ab;
        return s;
    }
    if (!strcmp(type, "TemplateProcessing")) return parse_template_proc(j, path, out);
    return tl_set_error(TL_ERR_UNSUPPORTED, "%s: post_processor type \"%s\" is not supported", path, type);
}

tl_status tl_postproc_parse(const cJSON *j, const char *path, tl_postproc *out) {
    memset(out, 0, sizeof *out);
    if (!j || cJSON_IsNull(j)) return TL_OK;
    out->present = 1;
    tl_status s = parse_one(j, path, 0, out);
    if (s != TL_OK) tl_postproc_free(out);
    return s;
}

size_t tl_postproc_added(const tl_postproc *p, int is_pair) {
    if (!p->kind) return 0;
    const tl_tpl_piece *t = is_pair ? p->pair : p->single;
    size_t n = is_pair ? p->n_pair : p->n_single, total = 0;
    for (size_t i = 0; i < n; i++)
        if (t[i].special) {
            const tl_tpl_special *s = find_special(p, t[i].name);
            total += s ? s->n : 0;
        }
    return total;
}

/* Appends sequence src (0 = A, 1 = B) as template piece idx to out with type_id (< 0:
 * keep src's). Sequence ranges as tokenizers sets them: every input (and window) when
 * there is a post-processor, only the main inputs of a pair without one; a ByteLevel
 * stage after the template also numbers each piece (not windows: it never sees them
 * there). Trims offsets for that stage. */
static tl_status put_seq(const tl_postproc *p, tl_encoding *out, const tl_encoding *src, int32_t seq,
                         int32_t type_id, int set_range, int window, size_t idx) {
    size_t from = out->len;
    tl_status s = tl_enc_append(out, src, type_id);
    if (s != TL_OK) return s;
    if (set_range) tl_enc_set_range(out, seq, from, out->len);
    if (p->renumber_after && !window) tl_enc_set_range(out, (int32_t)idx, from, out->len);
    if (p->trim_after) tl_trim_offsets(out, from, out->len, p->aps_after);
    return TL_OK;
}

tl_status tl_postproc_apply(const tl_postproc *p, const tl_encoding *a, const tl_encoding *b,
                            int add_special, unsigned keep_types, tl_encoding *out) {
    /* overflowing windows keep the model's type ids, except under RobertaProcessing
     * with special tokens, which rewrites every window to 0 */
    int32_t keep_a = (keep_types & 1) ? -1 : 0, keep_b = (keep_types & 2) ? -1 : 0;
    int ra = p->present || (b && !(keep_types & 1)), rb = p->present || !(keep_types & 2);
    if (!p->kind) {
        tl_status s = put_seq(p, out, a, 0, -1, ra, keep_types & 1, 0);
        return s == TL_OK && b ? put_seq(p, out, b, 1, -1, rb, keep_types & 2, 1) : s;
    }
    if (!add_special && p->zero_types) {
        tl_status s = put_seq(p, out, a, 0, keep_a, ra, keep_types & 1, 0);
        return s == TL_OK && b ? put_seq(p, out, b, 1, keep_b, rb, keep_types & 2, 1) : s;
    }
    int zero = p->zero_types;
    const tl_tpl_piece *t = b ? p->pair : p->single;
    size_t n = b ? p->n_pair : p->n_single, idx = 0;
    for (size_t i = 0; i < n; i++) {
        tl_status s = TL_OK;
        if (t[i].special) {
            if (!add_special) continue;
            size_t from = out->len;
            const tl_tpl_special *sp = find_special(p, t[i].name);
            for (size_t k = 0; sp && k < sp->n && s == TL_OK; k++)
                s = tl_enc_push(out, sp->ids[k], sp->tokens[k], strlen(sp->tokens[k]), t[i].type_id, 1, 0, 0, -1);
            if (s == TL_OK && p->renumber_after) tl_enc_set_range(out, (int32_t)idx, from, out->len);
            idx++;
        } else if (t[i].seq ? b != NULL : 1) {
            unsigned bit = t[i].seq ? 2u : 1u;
            int32_t ty = (keep_types & bit) && !zero ? -1 : t[i].type_id;
            s = put_seq(p, out, t[i].seq ? b : a, t[i].seq, ty, t[i].seq ? rb : ra, (keep_types & bit) != 0, idx++);
        }
        if (s != TL_OK) return s;
    }
    return TL_OK;
}

void tl_trim_offsets(tl_encoding *e, size_t from, size_t to, int add_prefix_space) {
    for (size_t i = from; i < to; i++) {
        const char *tok = e->str + e->tok_off[i];
        uint32_t *cps;
        size_t n;
        if (tl_utf8_decode(tok, strlen(tok), "token", &cps, &n) != TL_OK) continue;
        size_t lead = 0, trail = 0;
        while (lead < n && (cps[lead] == 0x120 || tl_uc_is_whitespace(cps[lead]))) lead++;
        while (trail < n && (cps[n - 1 - trail] == 0x120 || tl_uc_is_whitespace(cps[n - 1 - trail]))) trail++;
        free(cps);
        int32_t *o = &e->offsets[2 * i];
        if (lead > 0) {
            int is_first = i == from || o[0] == 0;
            if (is_first && add_prefix_space && lead == 1) lead = 0;
            int64_t ns = (int64_t)o[0] + (int64_t)lead;
            o[0] = (int32_t)(ns < o[1] ? ns : o[1]);
        }
        if (trail > 0 && (int64_t)o[1] >= (int64_t)trail) {
            int64_t ne = (int64_t)o[1] - (int64_t)trail;
            o[1] = (int32_t)(ne > o[0] ? ne : o[0]);
        }
    }
}
