/* linear.c — one linear layer record run on a GEMM backend: the small-M panel kernel of the
 * ISA table, else the backend, then the activation wherever the backend did not fuse it. */
#include "kernels/kernels.h"
#include "kernels/vec.h"

#include <stdlib.h>

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
