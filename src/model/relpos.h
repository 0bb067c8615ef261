/* relpos.h — relative position buckets and bias tables (MPNet / T5-style). */
#ifndef TL_MODEL_RELPOS_H
#define TL_MODEL_RELPOS_H
#include <stddef.h>

/* The bucket of offset rel = key - query, as transformers' MPNet computes it with 32
 * buckets and max_distance 128 (float32 log, truncation). Returns 0..31. */
int tl_mpnet_bucket(long rel);

/* Fills table (heads, 2*span-1) with bias[h][(span-1) + rel] = w[bucket(rel)][h] for
 * |rel| < span; w is the (buckets, heads) embedding. */
void tl_rel_bias_table(const float *w, size_t heads, size_t span, float *table);

#endif
