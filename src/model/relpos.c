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
