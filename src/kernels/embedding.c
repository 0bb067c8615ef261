/* embedding.c — sum of word, position and token-type embedding rows, optionally
 * LayerNorm-ed row by row in the same pass. */
#include "kernels/kernels.h"
#include "kernels/vec.h"
#include "runtime/threads.h"

/* o (H) = word[ids[t]] + type[type_ids[t]] + pos[pos_ids[t]] for token t. */
static void embed_row(const float *word, const float *pos, const float *type, const int32_t *ids,
                      const int32_t *pos_ids, const int32_t *type_ids, size_t t, float *o,
                      size_t H) {
    const float *wr = word + (size_t)ids[t] * H;
    const float *pr = pos ? pos + (size_t)pos_ids[t] * H : NULL;
    const float *tr = type ? type + (size_t)(type_ids ? type_ids[t] : 0) * H : NULL;
    if (pr) /* BERT's order: (word + type) + position */
        for (size_t i = 0; i < H; i++) o[i] = (wr[i] + (tr ? tr[i] : 0.0f)) + pr[i];
    else
        for (size_t i = 0; i < H; i++) o[i] = wr[i] + (tr ? tr[i] : 0.0f);
}

void tl_embeddings_sum(const float *word, const float *pos, const float *type,
                       const int32_t *ids, const int32_t *pos_ids, const int32_t *type_ids,
                       float *out, size_t T, size_t H) {
    for (size_t t = 0; t < T; t++)
        embed_row(word, pos, type, ids, pos_ids, type_ids, t, out + t * H, H);
}

void tl_embeddings_ln(const float *word, const float *pos, const float *type,
                      const int32_t *ids, const int32_t *pos_ids, const int32_t *type_ids,
                      const float *g, const float *b, float eps, float *out, size_t T, size_t H) {
    const tl_vec_kernels *vk = tl_vec();
    int nt = tl_threads_get();
#pragma omp parallel for num_threads(nt) schedule(static) if (T * H >= TL_LN_PARALLEL_MIN)
    for (size_t t = 0; t < T; t++) {
        embed_row(word, pos, type, ids, pos_ids, type_ids, t, out + t * H, H);
        vk->add_layernorm_row(out + t * H, NULL, g, b, H, eps);
    }
}
