/* linear.c — one linear layer record run on a GEMM backend: the small-M panel kernel of the
 * ISA table, else the backend, then the activation wherever the backend did not fuse it. */
#include "kernels/kernels.h"
#include "kernels/vec.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>

/* Folds one call of a probed record into its probe (linear.h): x (T, in), y (T, out) the
 * record's output, act what it applied. Load time only; serialized in case two threads
 * run probed records at once. */
static void probe_fold(const tl_gemm *g, const tl_linear *L, const float *x, const float *y, size_t T, int act) {
    tl_linear_probe *p = L->probe;
    float *yr = p->ref ? malloc(T * L->out * sizeof *yr) : NULL;
    if (yr) tl_linear_forward(g, p->ref, x, yr, T, act);
    static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
    pthread_mutex_lock(&mu);
    {
        for (size_t t = 0; p->amax && t < T; t++)
            for (size_t c = 0; c < L->in; c++) p->amax[c] = fmaxf(p->amax[c], fabsf(x[t * L->in + c]));
        for (size_t t = 0; yr && t < T; t++) {
            const float *a = y + t * L->out, *r = yr + t * L->out;
            double rr = 0, aa = 0, ar = 0, dd = 0;
            for (size_t o = 0; o < L->out; o++) {
                rr += (double)r[o] * r[o], aa += (double)a[o] * a[o], ar += (double)a[o] * r[o];
                dd += ((double)a[o] - r[o]) * ((double)a[o] - r[o]);
            }
            if (!(rr > 0)) continue;
            double rel = sqrt(dd / rr), cs = aa > 0 ? ar / sqrt(rr * aa) : 0.0;
            if (isnan(rel)) rel = INFINITY;
            if (isnan(cs)) cs = -1.0;
            if (rel > p->max_rel) p->max_rel = rel;
            if (cs < p->min_cos) p->min_cos = cs;
        }
    }
    pthread_mutex_unlock(&mu);
    free(yr);
}

void tl_linear_forward(const tl_gemm *g, const tl_linear *L, const float *x, float *y, size_t T, int act) {
    if (T == 0 || L->out == 0) return;
    const tl_packed *pk = L->pk;
    const tl_gemm_backend *be = g->be;
    tl_gemm_state *st = g->st;
    if (pk && pk->be != be) {
        /* packed by another backend: run the plain weights here (TORCHLESS_GEMM=ref stays
         * the pure reference), or, when they are gone, that backend without a state */
        if (L->w) pk = NULL;
        else be = pk->be, st = NULL;
    }
    if (!(be->dtypes & TL_DTYPE_BIT(L->wtype)) && L->w) be = &tl_gemm_ref, st = NULL, pk = NULL;
    const tl_vec_kernels *vk = tl_vec();
    int act_done;
    if (pk && pk->layout == TL_PACK_PANEL64 && pk->dtype == TL_DTYPE_F32 && T <= TL_SMALL_M_MAX &&
        vk->linear_panel64) {
        /* few tokens: our kernel on the packed panels (gemm_small.c says why) */
        vk->linear_panel64(x, pk, L->b, y, T);
        act_done = 0;
    } else {
        act_done = be->linear(st, L, x, y, T, act);
    }
    if (!act_done && act != TL_LINEAR_NO_ACT) tl_activation_apply(y, T * L->out, (tl_activation)act);
    if (L->probe) probe_fold(g, L, x, y, T, act);
}

int tl_linear_pack(tl_linear *L, const tl_gemm_backend *be) {
    if (!L || !be || !be->pack || L->pk || !L->w || !(be->dtypes & TL_DTYPE_BIT(L->wtype)) ||
        !(be->pack_dtypes & TL_DTYPE_BIT(L->wtype)))
        return 0;
    L->pk = be->pack(L->w, L->wtype, L->in, L->out);
    return L->pk != NULL;
}

void tl_packed_free(tl_packed *pk) {
    if (!pk) return;
    free(pk->data);
    free(pk->desc);
    free(pk);
}
