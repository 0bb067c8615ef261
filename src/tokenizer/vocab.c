/* vocab.c — the model vocabulary: token string -> id hash map, id -> token array, and
 * its parsing from a JSON {token: id} object. */
#include "tokenizer/tok_vocab.h"
#include "core/error.h"
#include "core/util.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* FNV-1a over len bytes. */
static uint64_t hash_bytes(const char *s, size_t len) {
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < len; i++) { h ^= (unsigned char)s[i]; h *= 1099511628211ULL; }
    return h;
}

/* The string and length of slot value e (an id, or -2 - alias index). */
static const char *slot_tok(const tl_vocab *v, int32_t e, size_t *len) {
    if (e >= 0) { *len = v->id_len[e]; return v->id_to_tok[e]; }
    size_t a = (size_t)(-2 - (int64_t)e);
    *len = v->alias_len[a];
    return v->alias_tok[a];
}

/* Inserts slot value e for a string not yet in slots (cap - 1 == mask). */
static void slot_put(int32_t *slots, size_t mask, const char *t, size_t len, int32_t e) {
    size_t h = (size_t)hash_bytes(t, len) & mask;
    while (slots[h] != -1) h = (h + 1) & mask;
    slots[h] = e;
}

/* Rebuilds the slot table with room for 2x entries; 0 or -1 on OOM. */
static int rehash(tl_vocab *v, size_t want) {
    size_t cap = 64;
    while (cap < want * 2) { if (cap > SIZE_MAX / 4) return -1; cap *= 2; }
    int32_t *slots = malloc(cap * sizeof *slots);
    if (!slots) return -1;
    for (size_t i = 0; i < cap; i++) slots[i] = -1;
    for (size_t id = 0; id < v->n_ids; id++) /* strings are unique: tl_vocab_add checks */
        if (v->id_to_tok[id]) slot_put(slots, cap - 1, v->id_to_tok[id], v->id_len[id], (int32_t)id);
    for (size_t a = 0; a < v->n_alias; a++)
        slot_put(slots, cap - 1, v->alias_tok[a], v->alias_len[a], (int32_t)(-2 - (int64_t)a));
    free(v->slots);
    v->slots = slots;
    v->mask = cap - 1;
    return 0;
}

/* Records tok (len bytes, not in v) as an alias of id; 0 or -1 on OOM. */
static int add_alias(tl_vocab *v, const char *tok, size_t len, int32_t id) {
    if (v->n_alias == v->alias_cap) {
        size_t c = v->alias_cap ? v->alias_cap * 2 : 8;
        if (c > (size_t)INT32_MAX - 2) return -1;
        char **t = realloc(v->alias_tok, c * sizeof *t);
        if (!t) return -1;
        v->alias_tok = t;
        size_t *l = realloc(v->alias_len, c * sizeof *l);
        if (!l) return -1;
        v->alias_len = l;
        int32_t *i = realloc(v->alias_id, c * sizeof *i);
        if (!i) return -1;
        v->alias_id = i;
        v->alias_cap = c;
    }
    char *copy = malloc(len + 1);
    if (!copy) return -1;
    memcpy(copy, tok, len);
    copy[len] = 0;
    v->alias_tok[v->n_alias] = copy;
    v->alias_len[v->n_alias] = len;
    v->alias_id[v->n_alias] = id;
    v->n_alias++;
    v->n_tokens++;
    if (v->n_tokens * 2 > v->mask + 1) return rehash(v, v->n_tokens);
    slot_put(v->slots, v->mask, copy, len, (int32_t)(-2 - (int64_t)(v->n_alias - 1)));
    return 0;
}

/* The id of tok (len bytes), or -1; read-only, safe to call from many threads. */
int32_t tl_vocab_get(const tl_vocab *v, const char *tok, size_t len) {
    if (!v->slots) return -1;
    size_t h = (size_t)hash_bytes(tok, len) & v->mask;
    while (v->slots[h] != -1) {
        size_t tl;
        const char *t = slot_tok(v, v->slots[h], &tl);
        if (tl == len && !memcmp(t, tok, len))
            return v->slots[h] >= 0 ? v->slots[h] : v->alias_id[-2 - (int64_t)v->slots[h]];
        h = (h + 1) & v->mask;
    }
    return -1;
}

/* Adds tok -> id (the first insertion of a string wins; a string for a taken id becomes an
 * alias, as tokenizers maps both strings to the id); 0, -1 on OOM, -2 on a bad id. */
int tl_vocab_add(tl_vocab *v, const char *tok, size_t len, int32_t id) {
    if (id < 0 || memchr(tok, 0, len)) return -2;
    if (tl_vocab_get(v, tok, len) >= 0) return 0;
    if (len > v->max_len) v->max_len = len; /* only grows: a failed add leaves a bound */
    if ((size_t)id >= v->n_ids) {
        size_t n = (size_t)id + 1, bytes;
        if (n < v->n_ids * 2) n = v->n_ids * 2;
        if (tl_mul_overflow(n, sizeof(char *), &bytes)) return -1;
        char **a = realloc(v->id_to_tok, bytes);
        if (!a) return -1;
        memset(a + v->n_ids, 0, (n - v->n_ids) * sizeof *a);
        v->id_to_tok = a;
        size_t *l = realloc(v->id_len, n * sizeof *l); /* same count, same-size elements */
        if (!l) return -1;
        memset(l + v->n_ids, 0, (n - v->n_ids) * sizeof *l);
        v->id_len = l;
        v->n_ids = n;
    }
    if (v->id_to_tok[id]) return add_alias(v, tok, len, id); /* id -> the first token */
    char *copy = malloc(len + 1);
    if (!copy) return -1;
    memcpy(copy, tok, len);
    copy[len] = 0;
    v->id_to_tok[id] = copy;
    v->id_len[id] = len;
    v->n_tokens++;
    if (!v->slots || v->n_tokens * 2 > v->mask + 1) {
        if (rehash(v, v->n_tokens)) return -1;
    } else {
        slot_put(v->slots, v->mask, tok, len, id);
    }
    return 0;
}

/* Frees v's arrays and zeroes it. */
void tl_vocab_free(tl_vocab *v) {
    for (size_t i = 0; i < v->n_ids; i++) free(v->id_to_tok[i]);
    free(v->id_to_tok);
    free(v->id_len);
    free(v->slots);
    for (size_t a = 0; a < v->n_alias; a++) free(v->alias_tok[a]);
    free(v->alias_tok);
    free(v->alias_len);
    free(v->alias_id);
    memset(v, 0, sizeof *v);
}

/* Parses a JSON {token: id} object into v. */
tl_status tl_vocab_parse_json(const cJSON *vocab, const char *path, tl_vocab *v) {
    if (!cJSON_IsObject(vocab)) return tl_set_error(TL_ERR_FORMAT, "%s: model.vocab is missing or not an object", path);
    size_t n = (size_t)cJSON_GetArraySize(vocab);
    const cJSON *it;
    cJSON_ArrayForEach(it, vocab) {
        double d = cJSON_IsNumber(it) ? it->valuedouble : -1;
        if (d < 0 || d > (double)INT32_MAX - 1 || d != (double)(int64_t)d || (size_t)d > 4 * n + 65536)
            return tl_set_error(TL_ERR_FORMAT, "%s: vocab[\"%s\"] is not a valid id", path, it->string ? it->string : "");
        int r = tl_vocab_add(v, it->string, strlen(it->string), (int32_t)d);
        if (r) return r == -1 ? tl_set_error(TL_ERR_OOM, "%s: out of memory", path)
                              : tl_set_error(TL_ERR_FORMAT, "%s: vocab has a bad entry", path);
    }
    return TL_OK;
}
