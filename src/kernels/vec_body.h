/* vec_body.h — the bodies of the ISA-sensitive kernels. Not a normal header: each file
 * of src/kernels/isa/ defines TL_FN(name) (adding its ISA suffix) and includes it once,
 * compiled with its own -march, so one source gives the generic, AVX2 and AVX-512
 * variants that src/kernels/vec.c chooses from at run time. */
#include <math.h>
#include <string.h>

#include "kernels/fastmath.h"
#include "kernels/kernels.h"
#include "kernels/vec.h"

/* Softmax of one score row in place after scaling and adding the mask bias; with every
 * key masked, torch's additive mask gives equal weights, and so does this. */
static void TL_FN(softmax_row)(float *restrict s, const float *restrict bias, const float *restrict rel,
                               size_t len, float scale, int any_key, size_t lo, size_t hi) {
    for (size_t j = 0; j < lo; j++) s[j] = -INFINITY; /* outside a local window */
    for (size_t j = hi; j < len; j++) s[j] = -INFINITY;
    if (!any_key) {
        for (size_t j = 0; j < len; j++) s[j] = 1.0f / (float)len;
        return;
    }
    if (rel) /* scores / sqrt(d) + relative position bias, as MPNet adds it */
        for (size_t j = 0; j < len; j++) s[j] = s[j] * scale + rel[j];
    else
        for (size_t j = 0; j < len; j++) s[j] *= scale;
    float lanes[16];
    for (size_t k = 0; k < 16; k++) lanes[k] = -INFINITY;
    size_t j = 0;
    for (; j + 16 <= len; j += 16)
        for (size_t k = 0; k < 16; k++) {
            float v = s[j + k] + bias[j + k];
            s[j + k] = v;
            lanes[k] = v > lanes[k] ? v : lanes[k];
        }
    for (; j < len; j++) {
        s[j] = s[j] + bias[j];
        lanes[0] = s[j] > lanes[0] ? s[j] : lanes[0];
    }
    float mx = lanes[0];
    for (size_t k = 1; k < 16; k++) mx = lanes[k] > mx ? lanes[k] : mx;
    if (mx == -INFINITY) { /* nothing visible (window and mask exclude every key) */
        for (j = 0; j < len; j++) s[j] = 0.0f;
        return;
    }
    tl_v16f vsum = {0};
    for (j = 0; j + 16 <= len; j += 16) {
        tl_v16f p = tl_exp_nonpos_v16(tl_v16_load(s + j) - mx);
        tl_v16_store(s + j, p);
        vsum += p;
    }
    float sum = 0.0f;
    for (int k = 0; k < 16; k++) sum += vsum[k];
    for (; j < len; j++) {
        s[j] = tl_exp_nonpos(s[j] - mx);
        sum += s[j];
    }
    const float inv = 1.0f / sum;
    for (j = 0; j < len; j++) s[j] *= inv;
}

/* Applies act to x[0..n) in place. */
static void TL_FN(activation_chunk)(float *x, size_t n, tl_activation act) {
    switch (act) {
    case TL_ACT_GELU: {
        size_t i = 0;
        for (; i + 16 <= n; i += 16) {
            tl_v16f v = tl_v16_load(x + i);
            tl_v16_store(x + i, 0.5f * v * (1.0f + tl_erf_v16(v * 0.70710678118654752f)));
        }
        for (; i < n; i++) x[i] = 0.5f * x[i] * (1.0f + tl_erf(x[i] * 0.70710678118654752f));
        break;
    }
    case TL_ACT_GELU_TANH:
        for (size_t i = 0; i < n; i++) {
            float v = x[i], u = 0.7978845608028654f * (v + 0.044715f * v * v * v);
            x[i] = 0.5f * v * (1.0f + tanhf(u));
        }
        break;
    case TL_ACT_RELU:
        for (size_t i = 0; i < n; i++) x[i] = x[i] > 0.0f ? x[i] : 0.0f;
        break;
    case TL_ACT_SILU:
        for (size_t i = 0; i < n; i++) x[i] = x[i] / (1.0f + expf(-x[i]));
        break;
    }
}


/* Horizontal sum of a 16-lane vector, in double. */
static double TL_FN(hsum)(tl_v16f v) {
    double s = 0.0;
    for (int k = 0; k < 16; k++) s += v[k];
    return s;
}

/* row (H) <- LN(row + res) * g + b in place; res and b may be NULL. Sums run in 16 float
 * lanes (partial sums of H / 16 terms) and are reduced in double. */
static void TL_FN(add_layernorm_row)(float *restrict row, const float *restrict res,
                                     const float *restrict g, const float *restrict b, size_t H,
                                     float eps) {
    tl_v16f vs = {0};
    double sum = 0.0;
    size_t i = 0;
    for (; i + 16 <= H; i += 16) {
        tl_v16f v = tl_v16_load(row + i);
        if (res) v += tl_v16_load(res + i);
        tl_v16_store(row + i, v);
        vs += v;
    }
    for (; i < H; i++) {
        if (res) row[i] += res[i];
        sum += row[i];
    }
    const float mean = (float)((sum + TL_FN(hsum)(vs)) / (double)H);
    tl_v16f vq = {0};
    double var = 0.0;
    for (i = 0; i + 16 <= H; i += 16) {
        tl_v16f d = tl_v16_load(row + i) - mean;
        vq += d * d;
    }
    for (; i < H; i++) var += (double)(row[i] - mean) * (row[i] - mean);
    const float inv = (float)(1.0 / sqrt((var + TL_FN(hsum)(vq)) / (double)H + eps));
    for (i = 0; i + 16 <= H; i += 16) {
        tl_v16f y = (tl_v16_load(row + i) - mean) * inv * tl_v16_load(g + i);
        if (b) y += tl_v16_load(b + i);
        tl_v16_store(row + i, y);
    }
    for (; i < H; i++) row[i] = (row[i] - mean) * inv * g[i] + (b ? b[i] : 0.0f);
}

/* Dot product of a and b (n floats): 16 float lanes, then the tail. */
static inline float TL_FN(dot)(const float *restrict a, const float *restrict b, size_t n) {
    tl_v16f acc = {0};
    size_t c = 0;
    for (; c + 16 <= n; c += 16) acc += tl_v16_load(a + c) * tl_v16_load(b + c);
    float s = 0.0f;
    for (int k = 0; k < 16; k++) s += acc[k];
    for (; c < n; c++) s += a[c] * b[c];
    return s;
}

/* o (d) <- attention of one query row qr (d) at position p over the cached keys / values
 * of KV head kh (pages pg, layout lay), keys [p + 1 - window, p] (window 0: [0, p]),
 * scores scaled by scale; sc holds p + 1 floats of scratch. As tl_attend_cached_row_ref,
 * in 16-lane vectors: sums reassociated, exp from fastmath.h (relative error < 3e-7). */
static void TL_FN(attend_cached_row)(const float *restrict qr, float *restrict o, size_t p,
                                     float *const *pg, const tl_kv_layout *lay, size_t kh,
                                     size_t d, size_t window, float scale, float *restrict sc) {
    const size_t lo = window && p + 1 > window ? p + 1 - window : 0, n = p + 1 - lo;
    const size_t pt = lay->page_tokens, off = kh * d;
    float mx = -INFINITY;
    for (size_t j = lo, pi = lo / pt, r = lo % pt; j <= p; j++) {
        const float *k = pg[pi] + lay->k_off + r * lay->ld + off;
        const float s = TL_FN(dot)(qr, k, d) * scale;
        sc[j - lo] = s;
        mx = s > mx ? s : mx;
        if (++r == pt) r = 0, pi++;
    }
    tl_v16f vsum = {0};
    size_t j = 0;
    for (; j + 16 <= n; j += 16) {
        tl_v16f e = tl_exp_nonpos_v16(tl_v16_load(sc + j) - mx);
        memcpy(sc + j, &e, sizeof e);
        vsum += e;
    }
    float sum = 0.0f;
    for (int k = 0; k < 16; k++) sum += vsum[k];
    for (; j < n; j++) {
        sc[j] = tl_exp_nonpos(sc[j] - mx);
        sum += sc[j];
    }
    const float inv = 1.0f / sum;
    size_t c = 0;
    for (; c + 16 <= d; c += 16) { /* 16 output columns at a time, every key */
        tl_v16f acc = {0};
        for (size_t jj = lo, pi = lo / pt, r = lo % pt; jj <= p; jj++) {
            acc += sc[jj - lo] * tl_v16_load(pg[pi] + lay->v_off + r * lay->ld + off + c);
            if (++r == pt) r = 0, pi++;
        }
        acc *= inv;
        memcpy(o + c, &acc, sizeof acc);
    }
    for (; c < d; c++) {
        float acc = 0.0f;
        for (size_t jj = lo; jj <= p; jj++) acc += sc[jj - lo] * tl_kv_v_row(lay, pg, jj)[off + c];
        o[c] = acc * inv;
    }
}
