/* pooling.h — sentence-transformers pooling and normalization over packed hidden states. */
#ifndef TL_TASKS_POOLING_H
#define TL_TASKS_POOLING_H
#include <stddef.h>
#include <stdint.h>
#include "model/st_config.h"

/* Pools one sequence's hidden states h (len, H) with mask (len, may be NULL = all ones)
 * into out (n_modes * H floats), modes concatenated in sentence-transformers' order. */
void tl_pool(const tl_st_config *cfg, const float *h, const int32_t *mask, size_t len,
             size_t H, float *out);

/* x (n) <- x / max(||x||_2, 1e-12), as torch.nn.functional.normalize. */
void tl_l2_normalize(float *x, size_t n);

#endif
