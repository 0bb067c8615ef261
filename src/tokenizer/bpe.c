/* bpe.c — the BPE model: vocab + merge ranks, tokenizing one word the way tokenizers'
 * BPE::merge_word does (initial symbols with continuing_subword_prefix /
 * end_of_word_suffix, byte_fallback to <0xXX>, unk fusing, then the lowest-rank merge
 * first through a min-heap keyed on (rank, position)). Dropout is not supported. */
#include "tokenizer/tok_model.h"
#include "tokenizer/tok_text.h"
#include "tokenizer/tok_vocab.h"
#include "core/error.h"
#include "core/util.h"
#include "io/json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EMPTY_KEY UINT64_MAX

void tl_mscratch_free(tl_mscratch *s) {
    free(s->buf); free(s->boff); free(s->sym); free(s->heap); free(s->lat);
    memset(s, 0, sizeof *s);
}

int tl_mtoks_push(tl_mtoks *o, int32_t id, size_t s, size_t e) {
    if (o->len == o->cap && tl_grow((void **)&o->v, &o->cap, o->len + 1, sizeof *o->v)) return -1;
    o->v[o->len].id = id; o->v[o->len].s = s; o->v[o->len].e = e; o->v[o->len].raw = 0;
    o->len++;
    return 0;
}

/* Mixes a 64-bit key into a slot hash. */
static size_t mix(uint64_t k) {
    k ^= k >> 33; k *= 0xff51afd7ed558ccdULL; k ^= k >> 33; k *= 0xc4ceb9fe1a85ec53ULL; k ^= k >> 33;
    return (size_t)k;
}

/* Looks up merge (a, b): returns the slot or NULL. */
static const tl_merge_slot *merge_get(const tl_bpe *b, int32_t x, int32_t y) {
    if (!b->merges) return NULL;
    uint64_t key = (uint64_t)(uint32_t)x << 32 | (uint32_t)y;
    size_t h = mix(key) & b->merge_mask;
    while (b->merges[h].key != EMPTY_KEY) {
        if (b->merges[h].key == key) return &b->merges[h];
        h = (h + 1) & b->merge_mask;
    }
    return NULL;
}

/* Inserts or overwrites (later merges of the same pair win, as a Rust HashMap collect). */
static int merge_put(tl_bpe *b, uint64_t key, uint32_t rank, int32_t new_id) {
    if (!b->merges || (b->n_merges + 1) * 2 > b->merge_mask + 1) {
        size_t cap = b->merges ? (b->merge_mask + 1) * 2 : 1024;
        if (cap > SIZE_MAX / sizeof(tl_merge_slot)) return -1;
        tl_merge_slot *m = malloc(cap * sizeof *m);
        if (!m) return -1;
        for (size_t i = 0; i < cap; i++) m[i].key = EMPTY_KEY;
        for (size_t i = 0; b->merges && i <= b->merge_mask; i++) {
            if (b->merges[i].key == EMPTY_KEY) continue;
            size_t h = mix(b->merges[i].key) & (cap - 1);
            while (m[h].key != EMPTY_KEY) h = (h + 1) & (cap - 1);
            m[h] = b->merges[i];
        }
        free(b->merges);
        b->merges = m;
        b->merge_mask = cap - 1;
    }
    size_t h = mix(key) & b->merge_mask;
    while (b->merges[h].key != EMPTY_KEY && b->merges[h].key != key) h = (h + 1) & b->merge_mask;
    if (b->merges[h].key == EMPTY_KEY) b->n_merges++;
    b->merges[h].key = key;
    b->merges[h].rank = rank;
    b->merges[h].new_id = new_id;
    return 0;
}

tl_status tl_bpe_add_merge(tl_bpe *bpe, const char *a, size_t alen, const char *b, size_t blen,
                           uint32_t rank, const char *what) {
    int32_t ia = tl_vocab_get(&bpe->vocab, a, alen), ib = tl_vocab_get(&bpe->vocab, b, blen);
    if (ia < 0 || ib < 0)
        return tl_set_error(TL_ERR_FORMAT, "%s: merge %u: token \"%.*s\" is not in the vocabulary", what,
                            rank, (int)(ia < 0 ? alen : blen), ia < 0 ? a : b);
    size_t plen = bpe->prefix ? strlen(bpe->prefix) : 0;
    if (plen > blen) plen = blen; /* tokenizers slices b[prefix_len..]; a shorter b is malformed */
    size_t n = alen + blen - plen;
    char stackbuf[256], *buf = n < sizeof stackbuf ? stackbuf : malloc(n + 1);
    if (!buf) return tl_set_error(TL_ERR_OOM, "%s: out of memory", what);
    memcpy(buf, a, alen);
    memcpy(buf + alen, b + plen, blen - plen);
    int32_t id = tl_vocab_get(&bpe->vocab, buf, n);
    tl_status st = TL_OK;
    if (id < 0)
        st = tl_set_error(TL_ERR_FORMAT, "%s: merge %u: token \"%.*s\" is not in the vocabulary", what, rank, (int)n, buf);
    else if (merge_put(bpe, (uint64_t)(uint32_t)ia << 32 | (uint32_t)ib, rank, id))
        st = tl_set_error(TL_ERR_OOM, "%s: out of memory", what);
    if (buf != stackbuf) free(buf);
    return st;
}

void tl_bpe_finish(tl_bpe *bpe) {
    for (int b = 0; b < 256; b++) {
        char name[8];
        snprintf(name, sizeof name, "<0x%02X>", b);
        bpe->byte_ids[b] = tl_vocab_get(&bpe->vocab, name, 6);
    }
}

void tl_bpe_free(tl_bpe *bpe) {
    tl_vocab_free(&bpe->vocab);
    free(bpe->unk_token); free(bpe->prefix); free(bpe->suffix); free(bpe->merges);
    memset(bpe, 0, sizeof *bpe);
}

/* Reads an optional string field into a malloc'd copy (*out NULL when absent/null). */
static tl_status opt_str(const cJSON *j, const char *key, const char *path, char **out) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, key);
    *out = NULL;
    if (!v || cJSON_IsNull(v)) return TL_OK;
    if (!cJSON_IsString(v)) return tl_set_error(TL_ERR_FORMAT, "%s: model.%s is not a string", path, key);
    if (!(*out = tl_strdup(v->valuestring))) return tl_set_error(TL_ERR_OOM, "%s: out of memory", path);
    return TL_OK;
}

tl_status tl_bpe_parse(const cJSON *j, const char *path, tl_bpe *out) {
    memset(out, 0, sizeof *out);
    const cJSON *drop = cJSON_GetObjectItemCaseSensitive(j, "dropout");
    if (drop && !cJSON_IsNull(drop) && !(cJSON_IsNumber(drop) && drop->valuedouble == 0.0))
        return tl_set_error(TL_ERR_UNSUPPORTED, "%s: BPE dropout is not supported (only null)", path);
    int ok = 1;
    out->byte_fallback = tl_json_bool(j, "byte_fallback", 0, &ok);
    out->fuse_unk = tl_json_bool(j, "fuse_unk", 0, &ok);
    out->ignore_merges = tl_json_bool(j, "ignore_merges", 0, &ok);
    if (!ok) return tl_set_error(TL_ERR_FORMAT, "%s: model: byte_fallback/fuse_unk/ignore_merges must be booleans", path);
    tl_status s = opt_str(j, "unk_token", path, &out->unk_token);
    if (s == TL_OK) s = opt_str(j, "continuing_subword_prefix", path, &out->prefix);
    if (s == TL_OK) s = opt_str(j, "end_of_word_suffix", path, &out->suffix);
    if (s == TL_OK) s = tl_vocab_parse_json(cJSON_GetObjectItemCaseSensitive(j, "vocab"), path, &out->vocab);
    const cJSON *merges = cJSON_GetObjectItemCaseSensitive(j, "merges");
    if (s == TL_OK && merges && !cJSON_IsArray(merges)) s = tl_set_error(TL_ERR_FORMAT, "%s: model.merges is not an array", path);
    uint32_t rank = 0;
    const cJSON *it;
    if (s == TL_OK && merges) cJSON_ArrayForEach(it, merges) {
        const char *a, *b;
        size_t alen, blen;
        if (cJSON_IsString(it)) {
            a = it->valuestring;
            const char *sp = strchr(a, ' ');
            if (!sp || strchr(sp + 1, ' ')) { s = tl_set_error(TL_ERR_FORMAT, "%s: model.merges[%u] is not \"a b\"", path, rank); break; }
            alen = (size_t)(sp - a);
            b = sp + 1;
            blen = strlen(b);
        } else if (cJSON_IsArray(it) && cJSON_GetArraySize(it) == 2 && cJSON_IsString(cJSON_GetArrayItem(it, 0)) &&
                   cJSON_IsString(cJSON_GetArrayItem(it, 1))) {
            a = cJSON_GetArrayItem(it, 0)->valuestring;
            b = cJSON_GetArrayItem(it, 1)->valuestring;
            alen = strlen(a);
            blen = strlen(b);
        } else {
            s = tl_set_error(TL_ERR_FORMAT, "%s: model.merges[%u] is neither \"a b\" nor [a, b]", path, rank);
            break;
        }
        if ((s = tl_bpe_add_merge(out, a, alen, b, blen, rank, path)) != TL_OK) break;
        rank++;
    }
    if (s != TL_OK) { tl_bpe_free(out); return s; }
    tl_bpe_finish(out);
    return TL_OK;
}

/* A symbol of the word being merged: id, byte length, linked-list neighbours. */
typedef struct { int32_t id; int32_t prev, next; size_t len; } sym;
typedef struct { uint32_t rank; uint32_t pos; int32_t new_id; } hent;

/* Heap order: lower rank first, then lower position. */
static int hless(const hent *a, const hent *b) {
    return a->rank != b->rank ? a->rank < b->rank : a->pos < b->pos;
}

static void hpush(hent *h, size_t *n, hent e) {
    size_t i = (*n)++;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!hless(&e, &h[p])) break;
        h[i] = h[p];
        i = p;
    }
    h[i] = e;
}

static hent hpop(hent *h, size_t *n) {
    hent top = h[0], last = h[--*n];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= *n) break;
        if (c + 1 < *n && hless(&h[c + 1], &h[c])) c++;
        if (!hless(&h[c], &last)) break;
        h[i] = h[c];
        i = c;
    }
    h[i] = last;
    return top;
}

/* Appends a symbol; 0 or -1. */
static int add_sym(tl_mscratch *sc, size_t *ns, int32_t id, size_t len) {
    if (tl_grow(&sc->sym, &sc->sym_cap, *ns + 1, sizeof(sym))) return -1;
    sym *v = sc->sym;
    v[*ns].id = id;
    v[*ns].len = len;
    v[*ns].prev = (int32_t)*ns - 1;
    v[*ns].next = -1;
    if (*ns > 0) v[*ns - 1].next = (int32_t)*ns;
    (*ns)++;
    return 0;
}

tl_status tl_bpe_tokenize(const tl_bpe *bpe, const uint32_t *cps, size_t n, tl_mscratch *sc, tl_mtoks *out) {
    out->len = 0;
    if (n == 0) return TL_OK;
    size_t plen = bpe->prefix ? strlen(bpe->prefix) : 0, slen = bpe->suffix ? strlen(bpe->suffix) : 0;
    size_t need;
    if (tl_mul_overflow(n, 4, &need) || tl_add_overflow(need, plen + slen + 8, &need) ||
        tl_grow((void **)&sc->buf, &sc->buf_cap, need, 1) || tl_grow((void **)&sc->boff, &sc->boff_cap, need, sizeof(size_t)))
        return tl_set_error(TL_ERR_OOM, "BPE: out of memory");
    /* the word as UTF-8 (at buf + plen) and byte -> char index in boff */
    char *w = sc->buf + plen;
    size_t wb = 0;
    for (size_t i = 0; i < n; i++) {
        size_t k = tl_utf8_put(cps[i], w + wb);
        for (size_t j = 0; j < k; j++) sc->boff[wb + j] = i;
        wb += k;
    }
    if (bpe->ignore_merges) {
        int32_t id = tl_vocab_get(&bpe->vocab, w, wb);
        if (id >= 0) return tl_mtoks_push(out, id, 0, n) ? tl_set_error(TL_ERR_OOM, "BPE: out of memory") : TL_OK;
    }
    size_t ns = 0, pos = 0;
    int32_t unk_id = -1;
    size_t unk_len = 0;
    int have_unk = 0;
    char tmp[64];
    for (size_t i = 0; i < n; i++) {
        char c8[4];
        size_t clen = tl_utf8_put(cps[i], c8);
        int first = i == 0, last = i + 1 == n;
        /* s = (prefix if not first) + char + (suffix if last) */
        size_t len = 0;
        if (!first && plen) { memcpy(tmp, bpe->prefix, plen < 24 ? plen : 24); len = plen < 24 ? plen : 24; }
        memcpy(tmp + len, c8, clen); len += clen;
        if (last && slen) { size_t k = slen < 24 ? slen : 24; memcpy(tmp + len, bpe->suffix, k); len += k; }
        int32_t id = (plen < 24 && slen < 24) ? tl_vocab_get(&bpe->vocab, tmp, len) : -1;
        pos += clen;
        if (id >= 0) {
            if (have_unk) { if (add_sym(sc, &ns, unk_id, unk_len)) goto oom; have_unk = 0; }
            if (add_sym(sc, &ns, id, clen)) goto oom;
            continue;
        }
        if (bpe->byte_fallback) {
            int all = 1;
            for (size_t k = 0; k < len && all; k++) all = bpe->byte_ids[(unsigned char)tmp[k]] >= 0;
            if (all) {
                for (size_t k = 0; k < len; k++)
                    if (add_sym(sc, &ns, bpe->byte_ids[(unsigned char)tmp[k]], 1)) goto oom;
                continue;
            }
        }
        if (bpe->unk_token) {
            if (have_unk && bpe->fuse_unk) { unk_len += clen; continue; }
            if (have_unk && add_sym(sc, &ns, unk_id, unk_len)) goto oom;
            unk_id = tl_vocab_get(&bpe->vocab, bpe->unk_token, strlen(bpe->unk_token));
            if (unk_id < 0) return tl_set_error(TL_ERR_FORMAT, "BPE: unk token \"%s\" is not in the vocabulary", bpe->unk_token);
            unk_len = clen;
            have_unk = 1;
        }
    }
    if (have_unk && add_sym(sc, &ns, unk_id, unk_len)) goto oom;
    (void)pos;

    /* merges, lowest rank first */
    sym *sy = sc->sym;
    if (ns > 1 && bpe->merges) {
        if (tl_grow(&sc->heap, &sc->heap_cap, 2 * ns + 1, sizeof(hent))) goto oom;
        hent *h = sc->heap;
        size_t hn = 0;
        for (size_t i = 0; i + 1 < ns; i++) {
            const tl_merge_slot *m = merge_get(bpe, sy[i].id, sy[i + 1].id);
            if (m) hpush(h, &hn, (hent){m->rank, (uint32_t)i, m->new_id});
        }
        while (hn > 0) {
            hent top = hpop(h, &hn);
            sym *cur = &sy[top.pos];
            if (cur->len == 0 || cur->next < 0) continue;
            sym right = sy[cur->next];
            const tl_merge_slot *m = merge_get(bpe, cur->id, right.id);
            if (!m || m->new_id != top.new_id) continue;
            size_t rpos = (size_t)cur->next;
            cur->id = top.new_id;
            cur->len += right.len;
            cur->next = right.next;
            sy[rpos].len = 0;
            if (right.next >= 0 && (size_t)right.next < ns) sy[right.next].prev = (int32_t)top.pos;
            /* the heap never holds more than one entry per live pair plus stale ones; grow if needed */
            if (tl_grow(&sc->heap, &sc->heap_cap, hn + 2, sizeof(hent))) goto oom;
            h = sc->heap;
            if (cur->prev >= 0) {
                const tl_merge_slot *pm = merge_get(bpe, sy[cur->prev].id, cur->id);
                if (pm) hpush(h, &hn, (hent){pm->rank, (uint32_t)cur->prev, pm->new_id});
            }
            if (cur->next >= 0 && (size_t)cur->next < ns) {
                const tl_merge_slot *nm = merge_get(bpe, cur->id, sy[cur->next].id);
                if (nm) hpush(h, &hn, (hent){nm->rank, top.pos, nm->new_id});
            }
        }
    }
    /* byte offsets accumulate over the surviving symbols, then map back to chars */
    size_t b = 0;
    for (size_t i = 0; i < ns; i++) {
        if (sy[i].len == 0) continue;
        size_t bs = b, be = b + sy[i].len;
        b = be;
        size_t cs = bs < wb ? sc->boff[bs] : n, ce = (be - 1) < wb ? sc->boff[be - 1] + 1 : n;
        if (cs > n) cs = n;
        if (ce < cs) ce = cs;
        if (tl_mtoks_push(out, sy[i].id, cs, ce)) goto oom;
    }
    return TL_OK;
oom:
    return tl_set_error(TL_ERR_OOM, "BPE: out of memory");
}
