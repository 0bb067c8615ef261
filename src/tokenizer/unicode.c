/* unicode.c — tokenizers-exact character classes (generated tables) + utf8proc. */
#include "tokenizer/unicode.h"

#include <utf8proc.h>

/* Returns 1 if c lies in one of the n sorted, disjoint [lo, hi] ranges. */
static int in_ranges(const uint32_t (*r)[2], size_t n, uint32_t c) {
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (c < r[mid][0]) hi = mid;
        else if (c > r[mid][1]) lo = mid + 1;
        else return 1;
    }
    return 0;
}

int tl_uc_is_bert_control(uint32_t c) { return in_ranges(tl_uc_other, tl_uc_other_n, c); }

int tl_uc_is_whitespace(uint32_t c) {
    return (c >= 0x09 && c <= 0x0D) || c == 0x20 || c == 0x85 || c == 0xA0 || c == 0x1680 ||
           (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F ||
           c == 0x205F || c == 0x3000;
}

int tl_uc_is_bert_punct(uint32_t c) { return in_ranges(tl_uc_punct, tl_uc_punct_n, c); }

int tl_uc_is_mn(uint32_t c) { return in_ranges(tl_uc_mn, tl_uc_mn_n, c); }

int tl_uc_is_mark(uint32_t c) { return in_ranges(tl_uc_mark, tl_uc_mark_n, c); }

int tl_uc_is_chinese(uint32_t c) {
    return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) ||
           (c >= 0x20000 && c <= 0x2A6DF) || (c >= 0x2A700 && c <= 0x2B73F) ||
           (c >= 0x2B740 && c <= 0x2B81F) || (c >= 0x2B920 && c <= 0x2CEAF) ||
           (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x2F800 && c <= 0x2FA1F);
}

int tl_uc_is_word(uint32_t c) { return in_ranges(tl_uc_word, tl_uc_word_n, c); }

int tl_uc_lower(uint32_t c, uint32_t out[3]) {
    size_t lo = 0, hi = tl_uc_lower_tab_n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (c < tl_uc_lower_tab[mid].cp) hi = mid;
        else if (c > tl_uc_lower_tab[mid].cp) lo = mid + 1;
        else {
            for (uint32_t i = 0; i < tl_uc_lower_tab[mid].n; i++) out[i] = tl_uc_lower_tab[mid].lower[i];
            return (int)tl_uc_lower_tab[mid].n;
        }
    }
    out[0] = c > 0x10FFFF ? c : (uint32_t)utf8proc_tolower((utf8proc_int32_t)c);
    return 1;
}

int tl_uc_decompose(uint32_t c, int compat, uint32_t *out, int cap) {
    if (cap < 1) return -1;
    if (c > 0x10FFFF || in_ranges(tl_uc_nodecomp, tl_uc_nodecomp_n, c)) {
        out[0] = c;
        return 1;
    }
    int last = 0;
    utf8proc_option_t opt = UTF8PROC_DECOMPOSE | (compat ? UTF8PROC_COMPAT : 0);
    utf8proc_ssize_t n = utf8proc_decompose_char((utf8proc_int32_t)c, (utf8proc_int32_t *)out,
                                                 cap, opt, &last);
    if (n < 0) { out[0] = c; return 1; }
    if (n > cap) return -1;
    return (int)n;
}

int tl_uc_ccc(uint32_t c) {
    if (c > 0x10FFFF) return 0;
    int ccc = utf8proc_get_property((utf8proc_int32_t)c)->combining_class;
    return ccc && in_ranges(tl_uc_ccc0, tl_uc_ccc0_n, c) ? 0 : ccc;
}

int tl_uc_is_numeric(uint32_t c) {
    if (c > 0x10FFFF) return 0;
    utf8proc_category_t k = utf8proc_category((utf8proc_int32_t)c);
    return k == UTF8PROC_CATEGORY_ND || k == UTF8PROC_CATEGORY_NL || k == UTF8PROC_CATEGORY_NO;
}
