/* features.c — feature extraction: every token's last hidden state, per text. */
#include "core/error.h"
#include "core/util.h"
#include "model/model.h"
#include "tasks/text_batch.h"

#include <stdlib.h>

struct tl_features {
    size_t n, hidden;
    size_t *offsets; /* n + 1 token offsets into data */
    float *data;     /* (total, hidden) */
};

tl_status tl_extract_features(tl_model *m, const char *const *texts, size_t n, size_t max_length,
                              tl_features **out) {
    if (!m || !out || (n && !texts)) return tl_set_error(TL_ERR_INVALID_ARG, "tl_extract_features: NULL argument");
    *out = NULL;
    tl_status s = tl_model_require_tokenizer(m);
    if (s != TL_OK) return s;
    size_t cap = m->arch.max_seq_len;
    if (!max_length || max_length > cap) max_length = cap;
    tl_text_batch tb;
    s = tl_text_batch_build(m, texts, n, max_length, &tb);
    if (s != TL_OK) return s;
    const size_t H = m->arch.hidden;
    tl_features *f = calloc(1, sizeof *f);
    size_t bytes;
    if (!f || tl_mul_overflow(tb.total ? tb.total : 1, H * sizeof(float), &bytes) ||
        !(f->data = malloc(bytes)) || !(f->offsets = malloc((n + 1) * sizeof(size_t)))) {
        s = tl_set_error(TL_ERR_OOM, "out of memory for %zu tokens", tb.total);
        goto done;
    }
    f->n = n;
    f->hidden = H;
    f->offsets[0] = 0;
    for (size_t i = 0; i < n; i++) f->offsets[i + 1] = f->offsets[i] + tb.seq_lens[i];
    s = tl_model_forward(m, &tb.batch, f->data, tb.total * H);
done:
    tl_text_batch_free(&tb);
    if (s != TL_OK) tl_features_free(f);
    else *out = f;
    return s;
}

size_t tl_features_count(const tl_features *f) { return f ? f->n : 0; }

const float *tl_features_get(const tl_features *f, size_t i, size_t *n_tokens, size_t *hidden) {
    if (!f || i >= f->n) return NULL;
    if (n_tokens) *n_tokens = f->offsets[i + 1] - f->offsets[i];
    if (hidden) *hidden = f->hidden;
    return f->data + f->offsets[i] * f->hidden;
}

void tl_features_free(tl_features *f) {
    if (!f) return;
    free(f->offsets);
    free(f->data);
    free(f);
}
