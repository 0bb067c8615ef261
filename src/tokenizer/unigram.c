/* unigram.c — the Unigram model: best-path (Viterbi) segmentation of one word exactly as
 * tokenizers' Unigram::encode_optimized does (every vocab piece that prefixes the rest of
 * the word, lengths in increasing order, first best kept on ties; a char no single-char
 * piece covers becomes unk at min_score - 10), unknown pieces fused, then byte_fallback. */
#include "tokenizer/tok_model.h"
#include "tokenizer/tok_text.h"
#include "tokenizer/tok_vocab.h"
#include "core/error.h"
#include "core/util.h"
#include "io/json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define UNK_PENALTY 10.0

void tl_unigram_free(tl_unigram *u) {
    tl_vocab_free(&u->vocab);
    free(u->scores);
    memset(u, 0, sizeof *u);
}

/* The double serde_json (tokenizers' JSON reader, without float_roundtrip) gives for the
 * shortest decimal text of d, which tokenizers and Python write: the digits as a u64
 * significand, converted to double, then multiplied or divided by one power of ten. That
 * can be 1 ulp away from the correctly rounded d (cJSON's), which changes Viterbi ties. */
static double serde_f64(double d) {
    if (d == 0 || d != d || d - d != 0) return d;
    char b[40];
    int p = 0;
    for (; p < 17; p++) { /* shortest %.*e that reads back as d */
        snprintf(b, sizeof b, "%.*e", p, d);
        if (strtod(b, NULL) == d) break;
    }
    uint64_t sig = 0;
    int exp10 = 0, neg = b[0] == '-';
    const char *c = b + neg;
    for (; *c && *c != 'e'; c++) {
        if (*c == '.') continue;
        sig = sig * 10 + (uint64_t)(*c - '0');
    }
    if (*c == 'e') exp10 = atoi(c + 1);
    exp10 -= p; /* p digits after the point */
    double f = (double)sig;
    while (exp10 < -308 && f != 0) { f /= 1e308; exp10 += 308; }
    if (exp10 <= 308 && exp10 >= -308) {
        char pw[16];
        snprintf(pw, sizeof pw, "1e%d", exp10 < 0 ? -exp10 : exp10);
        double pow10 = strtod(pw, NULL);
        f = exp10 >= 0 ? f * pow10 : f / pow10;
    }
    return neg ? -f : f;
}

tl_status tl_unigram_parse(const cJSON *j, const char *path, tl_unigram *out) {
    memset(out, 0, sizeof *out);
    int ok = 1;
    out->byte_fallback = tl_json_bool(j, "byte_fallback", 0, &ok);
    if (!ok) return tl_set_error(TL_ERR_FORMAT, "%s: Unigram: byte_fallback is not a boolean", path);
    const cJSON *vocab = cJSON_GetObjectItemCaseSensitive(j, "vocab");
    if (!cJSON_IsArray(vocab)) return tl_set_error(TL_ERR_FORMAT, "%s: Unigram: model.vocab is not an array", path);
    int n = cJSON_GetArraySize(vocab);
    long unk;
    if (!tl_tok_json_index(j, "unk_id", -1, n > 0 ? n - 1 : 0, &unk))
        return tl_set_error(TL_ERR_FORMAT, "%s: Unigram: unk_id is not an index into the vocab", path);
    out->unk_id = (int32_t)unk;
    out->n = (size_t)n;
    out->scores = malloc((n ? (size_t)n : 1) * sizeof *out->scores);
    if (!out->scores) return tl_set_error(TL_ERR_OOM, "%s: out of memory", path);
    out->min_score = 0;
    /* later duplicates win the string -> id map, as a Rust HashMap insert loop: add backwards */
    for (int i = n - 1; i >= 0; i--) {
        const cJSON *it = cJSON_GetArrayItem(vocab, i);
        const cJSON *t = cJSON_GetArrayItem(it, 0), *sc = cJSON_GetArrayItem(it, 1);
        if (!cJSON_IsArray(it) || cJSON_GetArraySize(it) != 2 || !cJSON_IsString(t) || !cJSON_IsNumber(sc)) {
            tl_unigram_free(out);
            return tl_set_error(TL_ERR_FORMAT, "%s: Unigram: vocab[%d] is not [token, score]", path, i);
        }
        out->scores[i] = serde_f64(sc->valuedouble);
        size_t len = strlen(t->valuestring);
        int r = tl_vocab_add(&out->vocab, t->valuestring, len, i);
        if (r) { tl_unigram_free(out); return r == -1 ? tl_set_error(TL_ERR_OOM, "%s: out of memory", path) : tl_set_error(TL_ERR_FORMAT, "%s: Unigram: bad vocab entry %d", path, i); }
        size_t chars = 0;
        for (size_t k = 0; k < len; k++) chars += ((unsigned char)t->valuestring[k] & 0xC0) != 0x80;
        if (chars > out->max_chars) out->max_chars = chars;
    }
    for (int i = 0; i < n; i++)
        if (i == 0 || out->scores[i] < out->min_score) out->min_score = out->scores[i];
    for (int b = 0; b < 256; b++) {
        char name[8];
        snprintf(name, sizeof name, "<0x%02X>", b);
        out->byte_ids[b] = tl_vocab_get(&out->vocab, name, 6);
    }
    return TL_OK;
}

/* Best path node: score, start char, id (-1: none yet). */
typedef struct { double score; size_t start; int32_t id; int set; } node;

/* Pushes the byte-fallback tokens of the piece [s, e) if all bytes have one; 1 if done. */
static int byte_fallback(const tl_unigram *u, const char *w, size_t bs, size_t be, size_t s, size_t e, tl_mtoks *out, int *oom) {
    for (size_t k = bs; k < be; k++) if (u->byte_ids[(unsigned char)w[k]] < 0) return 0;
    for (size_t k = bs; k < be; k++)
        if (tl_mtoks_push(out, u->byte_ids[(unsigned char)w[k]], s, e)) { *oom = 1; return 1; }
    return 1;
}

tl_status tl_unigram_tokenize(const tl_unigram *u, const uint32_t *cps, size_t n, tl_mscratch *sc, tl_mtoks *out) {
    out->len = 0;
    if (n == 0) return TL_OK;
    size_t need;
    if (tl_mul_overflow(n, 4, &need) || tl_add_overflow(need, 8, &need) ||
        tl_grow((void **)&sc->buf, &sc->buf_cap, need, 1) || tl_grow((void **)&sc->boff, &sc->boff_cap, n + 1, sizeof(size_t)) ||
        tl_grow(&sc->lat, &sc->lat_cap, n + 1, sizeof(node)))
        return tl_set_error(TL_ERR_OOM, "Unigram: out of memory");
    char *w = sc->buf;
    size_t *bo = sc->boff, b = 0;
    for (size_t i = 0; i < n; i++) { bo[i] = b; b += tl_utf8_put(cps[i], w + b); }
    bo[n] = b;
    node *best = sc->lat;
    for (size_t i = 0; i <= n; i++) { best[i].set = 0; best[i].score = 0; best[i].id = -1; best[i].start = 0; }
    double unk_score = u->min_score - UNK_PENALTY;
    for (size_t st = 0; st < n; st++) {
        double base = best[st].score;
        int single = 0;
        size_t maxl = n - st < u->max_chars ? n - st : u->max_chars;
        for (size_t l = 1; l <= maxl; l++) {
            int32_t id = tl_vocab_get(&u->vocab, w + bo[st], bo[st + l] - bo[st]);
            if (id < 0) continue;
            double cand = u->scores[id] + base;
            node *t = &best[st + l];
            if (!t->set || cand > t->score) { t->score = cand; t->start = st; t->id = id; t->set = 1; }
            if (l == 1) single = 1;
        }
        if (!single) {
            if (u->unk_id < 0) return tl_set_error(TL_ERR_FORMAT, "Unigram: a character is not in the vocabulary and there is no unk_id");
            double cand = unk_score + base;
            node *t = &best[st + 1];
            if (!t->set || cand > t->score) { t->score = cand; t->start = st; t->id = u->unk_id; t->set = 1; }
        }
    }
    /* backtrack into pieces (reversed), fusing runs of unk */
    size_t np = 0, e = n;
    tl_mtoks rev = {0};
    while (e > 0) {
        node *nd = &best[e];
        size_t s = nd->start;
        int is_unk = nd->id == u->unk_id && u->unk_id >= 0;
        if (is_unk && np > 0 && rev.v[np - 1].raw) rev.v[np - 1].s = s; /* extend the fused unk leftwards */
        else {
            if (tl_mtoks_push(&rev, nd->id, s, e)) { free(rev.v); return tl_set_error(TL_ERR_OOM, "Unigram: out of memory"); }
            rev.v[np].raw = is_unk;
            np++;
        }
        e = s;
    }
    tl_status st = TL_OK;
    int oom = 0;
    for (size_t k = np; k-- > 0 && !oom;) {
        tl_mtok p = rev.v[k];
        int32_t id = tl_vocab_get(&u->vocab, w + bo[p.s], bo[p.e] - bo[p.s]);
        if (id < 0) {
            if (u->byte_fallback && byte_fallback(u, w, bo[p.s], bo[p.e], p.s, p.e, out, &oom)) continue;
            id = u->unk_id;
        }
        if (tl_mtoks_push(out, id, p.s, p.e)) oom = 1;
        else out->v[out->len - 1].raw = 1;
    }
    free(rev.v);
    if (oom) st = tl_set_error(TL_ERR_OOM, "Unigram: out of memory");
    return st;
}
