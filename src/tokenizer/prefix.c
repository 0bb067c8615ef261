/* prefix.c — when the first tokens of a long text can be made from a prefix of it: the
 * normalizers and pre-tokenizers whose output for a prefix cut before a space that
 * follows a printable ASCII char is, word for word, the start of their output for the
 * whole text (up to the prefix's last word, which the caller does not trust), and where
 * to cut. */
#include "tokenizer/tok_tokenizer.h"

/* 1 when normalizer n works char by char, or on combining sequences and graphemes that
 * cannot span such a cut (a space is a starter that composes with nothing before it),
 * or only at the text's ends (Strip, Prepend). Replace (a pattern may span the cut) is not. */
static int norm_safe(const tl_normalizer *n) {
    switch (n->kind) {
    case TL_NORM_NONE: case TL_NORM_BERT: case TL_NORM_LOWERCASE: case TL_NORM_STRIP_ACCENTS:
    case TL_NORM_NFD: case TL_NORM_NFKD: case TL_NORM_NFC: case TL_NORM_NFKC: case TL_NORM_PRECOMPILED:
    case TL_NORM_STRIP: case TL_NORM_PREPEND:
        return 1;
    case TL_NORM_SEQUENCE:
        for (size_t i = 0; i < n->n_children; i++)
            if (!norm_safe(&n->children[i])) return 0;
        return 1;
    default:
        return 0;
    }
}

/* 1 when pre-tokenizer p never makes a word across a space (after a printable char):
 * whitespace / punctuation / digit splitting, Metaspace, ByteLevel (GPT-2's pattern).
 * Split (any pattern) is not. */
static int pre_safe(const tl_pretok *p) {
    switch (p->kind) {
    case TL_PRE_NONE: case TL_PRE_BERT: case TL_PRE_WHITESPACE: case TL_PRE_WHITESPACE_SPLIT:
    case TL_PRE_BYTE_LEVEL: case TL_PRE_METASPACE: case TL_PRE_PUNCTUATION: case TL_PRE_DIGITS:
        return 1;
    case TL_PRE_SEQUENCE:
        for (size_t i = 0; i < p->n_children; i++)
            if (!pre_safe(&p->children[i])) return 0;
        return 1;
    default:
        return 0;
    }
}

int tl_tok_prefix_safe(const tl_tokenizer *t) {
    for (size_t i = 0; i < t->added.len; i++)
        if (t->added.v[i].normalized) return 0; /* matched on normalized text, possibly across the cut */
    return norm_safe(&t->norm) && pre_safe(&t->pre);
}

size_t tl_prefix_cut(const uint32_t *cps, size_t from, size_t to) {
    for (size_t c = from > 0 ? from : 1; c < to; c++)
        if (cps[c] == ' ' && cps[c - 1] > 0x20 && cps[c - 1] < 0x7F) return c;
    return to;
}
