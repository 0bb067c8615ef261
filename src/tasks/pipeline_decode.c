/* pipeline_decode.c — ids / tokens back to text as transformers' tokenizer.decode and
 * convert_tokens_to_string do: the tokenizer's own decoder (WordPiece, ByteLevel,
 * Metaspace, ...) and clean_up_tokenization_spaces. A WordPiece tokenizer.json without a
 * decoder decodes as WordPiece, as transformers' WordPiece tokenizer classes (BertTokenizer,
 * DistilBertTokenizer, ...) set it. Used by fill-mask and token-classification outputs. */
#include "tasks/pipeline.h"
#include "tokenizer/tokenizer.h"

#include <stdlib.h>
#include <string.h>

/* Replaces every occurrence of from by to in s (in place; to is never longer). */
static void replace_all(char *s, const char *from, const char *to) {
    size_t fl = strlen(from), tl = strlen(to);
    char *r = s, *w = s;
    while (*r) {
        if (!strncmp(r, from, fl)) { memmove(w, to, tl); w += tl; r += fl; }
        else *w++ = *r++;
    }
    *w = '\0';
}

/* transformers' clean_up_tokenization on the whole decoded string. */
static void clean_up_tokenization(char *s) {
    static const char *pairs[][2] = {
        {" .", "."}, {" ?", "?"}, {" !", "!"}, {" ,", ","}, {" ' ", "'"}, {" n't", "n't"},
        {" 'm", "'m"}, {" 's", "'s"}, {" 've", "'ve"}, {" 're", "'re"}};
    for (size_t i = 0; i < sizeof pairs / sizeof pairs[0]; i++) replace_all(s, pairs[i][0], pairs[i][1]);
}

char *tl_pl_tokens_to_string(const tl_pipeline *p, const char *const *toks, size_t n) {
    char *s = NULL;
    return tl_tokenizer_decode_tokens(p->m->tok, toks, n, tl_tokenizer_wordpiece_default(p->m->tok), &s) == TL_OK ? s : NULL;
}

char *tl_pl_decode(const tl_pipeline *p, const int32_t *ids, size_t n, int skip_special) {
    return tl_pl_decode_clean(p, ids, n, skip_special, p->clean_up_spaces);
}

char *tl_pl_decode_clean(const tl_pipeline *p, const int32_t *ids, size_t n, int skip_special, int clean) {
    const tl_tokenizer *tok = p->m->tok;
    char *s = NULL;
    if (!tl_tokenizer_wordpiece_default(tok))
        return tl_tokenizer_decode(tok, ids, n, skip_special, clean, &s) == TL_OK ? s : NULL;
    const char **toks = malloc((n ? n : 1) * sizeof *toks);
    if (!toks) return NULL;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        const char *t = tl_tokenizer_id_to_token(tok, ids[i]);
        if (t && !(skip_special && tl_tokenizer_is_special_id(tok, ids[i]))) toks[k++] = t;
    }
    s = tl_pl_tokens_to_string(p, toks, k);
    free(toks);
    if (s && clean) clean_up_tokenization(s);
    return s;
}
