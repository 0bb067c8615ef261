/* relpos.c — MPNet's relative position buckets, computed in float32 as torch does. */
#include "model/relpos.h"

#include <math.h>

int tl_mpnet_bucket(long rel) {
    const long half = 16, max_exact = 8; /* 32 buckets: 16 per direction */
    long n = -rel, ret = n < 0 ? half : 0;
    n = n < 0 ? -n : n;
    if (n < max_exact) return (int)(ret + n);
    float q = logf((float)n / (float)max_exact) / (float)log(128.0 / 8.0) * (float)(half - max_exact);
    long large = max_exact + (long)q;
    return (int)(ret + (large < half - 1 ? large : half - 1));
}

void tl_rel_bias_table(const float *w, size_t heads, size_t span, float *table) {
    const size_t width = 2 * span - 1;
    for (size_t k = 0; k < width; k++) {
        int bucket = tl_mpnet_bucket((long)k - (long)(span - 1));
        for (size_t h = 0; h < heads; h++) table[h * width + k] = w[(size_t)bucket * heads + h];
    }
}

long tl_deberta_bucket(long rel, long buckets, long max_position) {
    if (buckets <= 0 || max_position <= 0) return rel;
    long mid = buckets / 2, sign = rel > 0 ? 1 : (rel < 0 ? -1 : 0);
    long abs_pos = (rel < mid && rel > -mid) ? mid - 1 : (rel < 0 ? -rel : rel);
    if (abs_pos <= mid) return rel;
    float log_pos = ceilf(logf((float)abs_pos / (float)mid) /
                          logf((float)((double)(max_position - 1) / (double)mid)) * (float)(mid - 1)) +
                    (float)mid;
    return (long)log_pos * sign;
}
