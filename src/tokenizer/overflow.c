/* overflow.c — the post-processed result of a truncated input: the main encoding and its
 * overflowing windows, combined for pairs in tokenizers' order (Encoding::merge_with),
 * with the windows merge_with nests inside windows when both sequences overflow, and
 * our limit on their total size (max_overflow_tokens). */
#include "tokenizer/tok_encoding.h"
#include "tokenizer/tok_postproc.h"
#include "core/error.h"

#include <stdlib.h>
#include <string.h>

/* Initializes dst (zeroed) as a copy of src sized exactly to it: tokens and sequence
 * ranges, not its windows. */
static tl_status enc_copy(tl_encoding *dst, const tl_encoding *src) {
    tl_status st = tl_enc_init_sized(dst, src->len, src->str_len);
    if (st == TL_OK) st = tl_enc_slice(dst, src, 0, src->len);
    memcpy(dst->rng, src->rng, sizeof src->rng);
    dst->n_rng = src->n_rng;
    return st;
}

/* Gives entry o of res->ovf its own windows, copies of res->ovf[idx[k]] for k < n. */
static tl_status nest(tl_encoding *o, const tl_encoding *res, const size_t *idx, size_t n) {
    if (!(o->ovf = calloc(n, sizeof *o->ovf))) return tl_set_error(TL_ERR_OOM, "encode: out of memory");
    tl_status st = TL_OK;
    for (size_t k = 0; k < n && st == TL_OK; k++) {
        st = enc_copy(&o->ovf[k], &res->ovf[idx[k]]);
        o->n_ovf++;
    }
    return st;
}

/* Gives res's top-level windows the windows tokenizers' merge_with leaves inside them
 * when both sequences overflow (na, nb windows): (a_i + b) holds every (a_i + b_j), and
 * (a + b_j) every (a_i + b_j), each a copy of the top-level combination: 2 * na * nb in
 * all. res->ovf must be in tl_enc_assemble's order. */
static tl_status give_nested_windows(tl_encoding *res, size_t na, size_t nb) {
    /* (a_i + b_j) sits at i * (nb + 1) + j for i < na, (a + b_j) at na * (nb + 1) + j - 1 */
    size_t *idx = malloc((na > nb ? na : nb) * sizeof *idx);
    if (!idx) return tl_set_error(TL_ERR_OOM, "encode: out of memory");
    tl_status st = TL_OK;
    for (size_t i = 0; i < na && st == TL_OK; i++) {
        for (size_t j = 1; j <= nb; j++) idx[j - 1] = i * (nb + 1) + j;
        st = nest(&res->ovf[i * (nb + 1)], res, idx, nb);
    }
    for (size_t j = 1; j <= nb && st == TL_OK; j++) {
        for (size_t i = 0; i < na; i++) idx[i] = i * (nb + 1) + j;
        st = nest(&res->ovf[na * (nb + 1) + j - 1], res, idx, na);
    }
    free(idx);
    return st;
}

/* Tokens in all overflowing windows (nested ones included) that tl_enc_assemble would build for
 * a and b with `added` special tokens per window (as a double: it only meets a limit). */
static double overflow_tokens(const tl_encoding *a, const tl_encoding *b, double added) {
    double na = (double)a->n_ovf, nb = b ? (double)b->n_ovf : 0, sa = 0, sb = 0;
    double la = (double)a->len, lb = b ? (double)b->len : 0;
    for (size_t i = 0; i < a->n_ovf; i++) sa += (double)a->ovf[i].len;
    for (size_t j = 0; b && j < b->n_ovf; j++) sb += (double)b->ovf[j].len;
    double top = (nb + 1) * sa + na * (lb + sb) + na * (nb + 1) * added + nb * (la + added) + sb;
    return top + 2 * (nb * sa + na * sb + na * nb * added);
}

/* Post-processes a (and b) into res, and the overflowing windows into res->ovf in
 * tokenizers' order (Encoding::merge_with): each window a_i of a with b, then with each
 * window b_j of b; then a with each b_j; then the nested windows (give_nested_windows).
 * TL_ERR_INVALID_ARG when the windows would hold more than max_ovf tokens. */
tl_status tl_enc_assemble(const tl_postproc *pp, const tl_encoding *a, const tl_encoding *b, int add_special,
                          size_t max_ovf, tl_encoding *res) {
    size_t na = a->n_ovf, nb = b ? b->n_ovf : 0, total = na * (nb + 1) + nb;
    if (total > 0) {
        double n = overflow_tokens(a, b, add_special ? (double)tl_postproc_added(pp, b != NULL) : 0);
        if (n > (double)max_ovf)
            return tl_set_error(TL_ERR_INVALID_ARG,
                                "encode: truncation would make %.0f tokens of overflowing windows "
                                "(%zu top-level windows%s), over the limit of %zu "
                                "(tl_encode_params.max_overflow_tokens; Python: "
                                "Tokenizer.max_overflow_tokens); raise it, or use a larger "
                                "max_length or stride, or only_first / only_second",
                                n, total, na && nb ? " plus nested ones" : "", max_ovf);
    }
    size_t nb_tok = b ? b->len : 0, nb_str = b ? b->str_len : 0;
    tl_status st = tl_enc_reserve(res, a->len + nb_tok + 8, a->str_len + nb_str + 128);
    if (st == TL_OK) st = tl_postproc_apply(pp, a, b, add_special, 0, res);
    if (st != TL_OK || total == 0) return st;
    res->ovf = calloc(total, sizeof *res->ovf);
    if (!res->ovf) return tl_set_error(TL_ERR_OOM, "encode: out of memory");
    size_t added = add_special ? tl_postproc_added(pp, b != NULL) : 0;
    for (size_t i = 0; i <= na && st == TL_OK; i++) {
        const tl_encoding *ai = i < na ? &a->ovf[i] : a;
        for (size_t j = i < na ? 0 : 1; j <= nb && st == TL_OK; j++) {
            const tl_encoding *bj = !b ? NULL : j == 0 ? b : &b->ovf[j - 1];
            tl_encoding *o = &res->ovf[res->n_ovf];
            /* sized for the window (special tokens' strings guessed at 8 bytes each) */
            st = tl_enc_init_sized(o, ai->len + (bj ? bj->len : 0) + added,
                                   ai->str_len + (bj ? bj->str_len : 0) + 8 * added);
            if (st != TL_OK) break;
            res->n_ovf++;
            st = tl_postproc_apply(pp, ai, bj, add_special, (i < na ? 1u : 0u) | (j > 0 ? 2u : 0u), o);
        }
    }
    if (st != TL_OK || na == 0 || nb == 0) return st;
    return give_nested_windows(res, na, nb);
}
