/* embedding.c — sum of word, position and token-type embedding rows. */
#include "kernels/kernels.h"

void tl_embeddings_sum(const float *word, const float *pos, const float *type,
                       const int32_t *ids, const int32_t *pos_ids, const int32_t *type_ids,
                       float *out, size_t T, size_t H) {
    for (size_t t = 0; t < T; t++) {
        const float *wr = word + (size_t)ids[t] * H;
        const float *pr = pos ? pos + (size_t)pos_ids[t] * H : NULL;
        const float *tr = type ? type + (size_t)(type_ids ? type_ids[t] : 0) * H : NULL;
        float *o = out + t * H;
        if (pr) /* BERT's order: (word + type) + position */
            for (size_t i = 0; i < H; i++) o[i] = (wr[i] + (tr ? tr[i] : 0.0f)) + pr[i];
        else
            for (size_t i = 0; i < H; i++) o[i] = wr[i] + (tr ? tr[i] : 0.0f);
    }
}
