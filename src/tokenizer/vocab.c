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

/* Rebuilds the slot table with room for 2x entries; 0 or -1 on OOM. */
static int rehash(tl_vocab *v, size_t want) {
    size_t cap = 64;
    while (cap < want * 2) { if (cap > SIZE_MAX / 4) return -1; cap *= 2; }
    int32_t *slots = malloc(cap * sizeof *slots);
    if (!slots) return -1;
    for (size_t i = 0; i < cap; i++) slots[i] = -1;
    for (size_t id = 0; id < v->n_ids; id++) {
        const char *t = v->id_to_tok[id];
        if (!t) continue;
        size_t h = (size_t)hash_bytes(t, strlen(t)) & (cap - 1);
        while (slots[h] >= 0) {
            if (!strcmp(v->id_to_tok[slots[h]], t)) break;
            h = (h + 1) & (cap - 1);
        }
        if (slots[h] < 0) slots[h] = (int32_t)id;
    }
    free(v->slots);
    v->slots = slots;
    v->mask = cap - 1;
    return 0;
}

/* The id of tok (len bytes), or -1; read-only, safe to call from many threads. */
int32_t tl_vocab_get(const tl_vocab *v, const char *tok, size_t len) {
    if (!v->slots) return -1;
    size_t h = (size_t)hash_bytes(tok, len) & v->mask;
    while (v->slots[h] >= 0) {
        const char *t = v->id_to_tok[v->slots[h]];
        if (v->id_len[v->slots[h]] == len && !memcmp(t, tok, len)) return v->slots[h];
        h = (h + 1) & v->mask;
    }
    return -1;
}

/* Adds tok -> id (the first insertion of a string wins); 0, -1 on OOM, -2 on a bad id. */
int tl_vocab_add(tl_vocab *v, const char *tok, size_t len, int32_t id) {
    if (id < 0 || memchr(tok, 0, len)) return -2;
    if (tl_vocab_get(v, tok, len) >= 0) return 0;
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
    if (v->id_to_tok[id]) return 0; /* id taken: keep the first token for it */
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
        size_t h = (size_t)hash_bytes(tok, len) & v->mask;
        while (v->slots[h] >= 0) h = (h + 1) & v->mask;
        v->slots[h] = id;
    }
    return 0;
}

/* Frees v's arrays and zeroes it. */
void tl_vocab_free(tl_vocab *v) {
    for (size_t i = 0; i < v->n_ids; i++) free(v->id_to_tok[i]);
    free(v->id_to_tok);
    free(v->id_len);
    free(v->slots);
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
