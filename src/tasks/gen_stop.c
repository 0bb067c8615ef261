/* gen_stop.c — stop strings: whether the text a sequence has generated so far contains
 * one of tl_generate_params.stop_strings, decoded with its tokenizer. */
#include "core/error.h"
#include "tasks/sampling.h"

#include <stdlib.h>
#include <string.h>

/* Finds needle (nlen bytes) in hay (hlen bytes; may hold NUL). */
static int contains(const char *hay, size_t hlen, const char *needle, size_t nlen) {
    for (size_t i = 0; i + nlen <= hlen; i++)
        if (hay[i] == needle[0] && !memcmp(hay + i, needle, nlen)) return 1;
    return 0;
}

tl_status tl_stop_string_hit(const tl_generate_params *p, const int32_t *toks, size_t n, int *hit) {
    *hit = 0;
    if (!p->n_stop_strings || !n) return TL_OK;
    /* checked after every token: a stop string first appears when the token ending it
     * comes, so a window of the last tokens (each decodes to >= 1 byte) suffices */
    size_t longest = 0;
    for (size_t i = 0; i < p->n_stop_strings; i++) {
        size_t l = strlen(p->stop_strings[i]);
        longest = l > longest ? l : longest;
    }
    size_t w = longest + 3 < n ? longest + 3 : n;
    char *text = NULL;
    size_t len = 0;
    tl_status s = tl_tokenizer_decode_len(p->tokenizer, toks + n - w, w, 0, 0, &text, &len);
    if (s) return s;
    for (size_t i = 0; i < p->n_stop_strings && !*hit; i++)
        *hit = contains(text, len, p->stop_strings[i], strlen(p->stop_strings[i]));
    tl_free(text);
    return TL_OK;
}
