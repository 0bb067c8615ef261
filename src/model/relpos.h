/* relpos.h — relative position buckets and bias tables (MPNet / T5-style). */
#ifndef TL_MODEL_RELPOS_H
#define TL_MODEL_RELPOS_H
#include <stddef.h>

/* The bucket of offset rel = key - query, as transformers' MPNet computes it with 32
 * buckets and max_distance 128 (float32 log, truncation). Returns 0..31. */
int tl_mpnet_bucket(long rel);

/* DeBERTa's relative position of offset rel = query - key: rel itself when buckets <= 0
 * or |rel| <= buckets / 2, else a log bucket up to max_position, as transformers'
 * make_log_bucket_position computes it in float32. */
long tl_deberta_bucket(long rel, long buckets, long max_position);

/* Fills table (heads, 2*span-1) with bias[h][(span-1) + rel] = w[bucket(rel)][h] for
 * |rel| < span; w is the (buckets, heads) embedding. */
void tl_rel_bias_table(const float *w, size_t heads, size_t span, float *table);

#endif
