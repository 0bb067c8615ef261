/* task_head.c — tl_task_head: the encoder plus one task head, returning raw logits on a
 * packed batch (what torchless.optimize hands back as {"logits": ...}). */
#include "core/error.h"
#include "core/util.h"
#include "model/heads.h"
#include "model/model.h"

#include <stdlib.h>
#include <string.h>

struct tl_task_head {
    tl_model *model;
    tl_head head;
    tl_head_kind kind;
};

/* Maps a task name to its head kind; returns 0 when unknown. */
static int kind_of(const char *task, tl_head_kind *kind) {
    for (int k = 0; k < TL_HEAD_N_KINDS; k++)
        if (task && strcmp(task, tl_head_kind_task((tl_head_kind)k)) == 0) {
            *kind = (tl_head_kind)k;
            return 1;
        }
    return 0;
}

tl_status tl_task_head_create(tl_model *model, const char *task, size_t n_labels,
                              tl_task_head **out) {
    if (!out) return tl_set_error(TL_ERR_INVALID_ARG, "tl_task_head_create: out is NULL");
    *out = NULL;
    if (!model) return tl_set_error(TL_ERR_INVALID_ARG, "tl_task_head_create: model is NULL");
    tl_head_kind kind;
    if (!kind_of(task, &kind))
        return tl_set_error(TL_ERR_INVALID_ARG, "task head '%s' is not one of text-classification, "
                            "token-classification, question-answering, fill-mask, replaced-token-detection", task ? task : "(null)");
    tl_task_head *th = calloc(1, sizeof *th);
    if (!th) return tl_set_error(TL_ERR_OOM, "out of memory");
    th->model = model;
    th->kind = kind;
    tl_status s = tl_head_bind(&th->head, model, kind, n_labels);
    if (s != TL_OK) {
        free(th);
        return s;
    }
    *out = th;
    return TL_OK;
}

void tl_task_head_free(tl_task_head *th) {
    if (!th) return;
    tl_head_free(&th->head);
    free(th);
}

size_t tl_task_head_width(const tl_task_head *th) { return th ? th->head.n_out : 0; }

int tl_task_head_per_token(const tl_task_head *th) { return th && th->kind != TL_HEAD_SEQ_CLS; }

tl_status tl_task_head_forward(tl_task_head *th, const tl_batch *b, float *out, size_t out_len) {
    if (!th || !b || !out) return tl_set_error(TL_ERR_INVALID_ARG, "tl_task_head_forward: NULL argument");
    tl_model *m = th->model;
    size_t total;
    tl_status s = tl_batch_validate(m, b, &total);
    if (s != TL_OK) return s;
    const size_t H = m->arch.hidden, rows = tl_task_head_per_token(th) ? total : b->n_seqs;
    size_t need, hbytes;
    if (tl_mul_overflow(rows, th->head.n_out, &need) || need > out_len)
        return tl_set_error(TL_ERR_INVALID_ARG, "tl_task_head_forward: out holds %zu floats, %zu rows x %zu need more",
                            out_len, rows, th->head.n_out);
    if (tl_mul_overflow(total ? total : 1, H * sizeof(float), &hbytes))
        return tl_set_error(TL_ERR_OOM, "batch too large");
    float *hidden = malloc(hbytes);
    size_t *cu = tl_task_head_per_token(th) ? NULL : malloc((b->n_seqs + 1) * sizeof *cu);
    if (!hidden || (!tl_task_head_per_token(th) && !cu)) {
        free(hidden);
        free(cu);
        return tl_set_error(TL_ERR_OOM, "out of memory for %zu tokens", total);
    }
    s = tl_model_forward(m, b, hidden, total * H);
    if (s == TL_OK && cu) { /* sequence heads pool each sequence (its first token, or a mean) */
        cu[0] = 0;
        for (size_t i = 0; i < b->n_seqs; i++) cu[i + 1] = cu[i] + b->seq_lens[i];
        s = tl_head_apply_seqs(&th->head, m, hidden, cu, b->attention_mask, b->n_seqs, out);
    } else if (s == TL_OK) {
        s = tl_head_apply(&th->head, m, hidden, NULL, rows, out);
    }
    free(hidden);
    free(cu);
    return s;
}
