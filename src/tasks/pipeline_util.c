/* pipeline_util.c — helpers shared by the pipeline tasks: encoding with truncation,
 * the packed forward pass, softmax, JSON parameters and input lists. */
#include "core/error.h"
#include "core/util.h"
#include "tasks/pipeline.h"
#include "tasks/text_batch.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

tl_status tl_pl_encode(const tl_pipeline *p, const char *text, const char *pair, size_t max_length,
                       size_t index, tl_encoding **out) {
    tl_encode_params ep = tl_encode_default_params();
    ep.max_length = max_length;
    ep.drop_overflowing = 1; /* the tasks keep the truncated tokens only */
    tl_status s = tl_tokenizer_encode(p->m->tok, text, strlen(text), pair, pair ? strlen(pair) : 0, &ep, out);
    if (s != TL_OK) return tl_error_prefix(s, "input %zu", index);
    size_t len = tl_encoding_length(*out), cap = tl_model_max_positions(p->m);
    if (len > cap) {
        tl_encoding_free(*out);
        *out = NULL;
        return tl_set_error(TL_ERR_INVALID_ARG,
                            "input %zu has %zu tokens but the model accepts at most %zu: pass "
                            "truncation=true (and max_length) to cut it, or shorten the text",
                            index, len, cap);
    }
    return TL_OK;
}

tl_status tl_pl_forward(const tl_pipeline *p, tl_encoding *const *encs, size_t n, tl_pl_out *o) {
    memset(o, 0, sizeof *o);
    const size_t H = p->m->arch.hidden;
    tl_text_batch tb;
    tl_status s = tl_text_batch_pack(p->m, encs, n, &tb);
    if (s != TL_OK) return s;
    size_t bytes;
    if (tl_mul_overflow(tb.total ? tb.total : 1, H * sizeof(float), &bytes) || !(o->hidden = malloc(bytes))) {
        s = tl_set_error(TL_ERR_OOM, "out of memory for %zu tokens", tb.total);
        goto done;
    }
    s = tl_model_forward(p->m, &tb.batch, o->hidden, tb.total * H);
    o->cu = tb.cu; /* taken over from the batch */
    tb.cu = NULL;
    o->total = tb.total;
done:
    tl_text_batch_free(&tb);
    if (s != TL_OK) tl_pl_out_free(o);
    return s;
}

void tl_pl_out_free(tl_pl_out *o) {
    free(o->hidden);
    free(o->cu);
    memset(o, 0, sizeof *o);
}

tl_status tl_pl_truncation(const tl_pipeline *p, const cJSON *params, int default_on, size_t *max_length) {
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(params, "truncation");
    int on = default_on;
    if (t && !cJSON_IsNull(t)) {
        if (cJSON_IsBool(t)) on = cJSON_IsTrue(t);
        else if (cJSON_IsString(t) && (!strcmp(t->valuestring, "longest_first") ||
                                       !strcmp(t->valuestring, "only_first") ||
                                       !strcmp(t->valuestring, "only_second")))
            on = 1;
        else if (cJSON_IsString(t) && !strcmp(t->valuestring, "do_not_truncate")) on = 0;
        else
            return tl_set_error(TL_ERR_INVALID_ARG, "truncation must be true, false, 'longest_first', "
                                "'only_first', 'only_second' or 'do_not_truncate'");
    }
    long ml = 0;
    tl_status s = tl_pl_int(params, "max_length", 0, 1, &ml);
    if (s != TL_OK) return s;
    *max_length = 0;
    if (!on) return TL_OK;
    size_t cap = tl_model_max_positions(p->m);
    size_t want = ml > 0 ? (size_t)ml : p->model_max_length;
    *max_length = want && want < cap ? want : cap;
    return TL_OK;
}

void tl_pl_softmax(float *x, size_t n) {
    if (!n) return;
    float mx = x[0];
    for (size_t i = 1; i < n; i++) if (x[i] > mx) mx = x[i];
    float sum = 0.0f;
    for (size_t i = 0; i < n; i++) { x[i] = expf(x[i] - mx); sum += x[i]; }
    for (size_t i = 0; i < n; i++) x[i] /= sum;
}

size_t *tl_pl_cp_offsets(const char *s, size_t *n_cp) {
    size_t len = strlen(s), n = 0;
    size_t *off = malloc((len + 1) * sizeof *off);
    if (!off) return NULL;
    for (size_t i = 0; i < len; i++)
        if (((unsigned char)s[i] & 0xC0) != 0x80) off[n++] = i;
    off[n] = len;
    *n_cp = n;
    return off;
}

tl_status tl_pl_items(const cJSON *inputs, const cJSON ***items, size_t *n, int *single) {
    *items = NULL;
    *n = 0;
    *single = !cJSON_IsArray(inputs);
    size_t count = *single ? 1 : (size_t)cJSON_GetArraySize(inputs);
    const cJSON **v = malloc((count ? count : 1) * sizeof *v);
    if (!v) return tl_set_error(TL_ERR_OOM, "out of memory");
    if (*single) v[0] = inputs;
    else {
        size_t i = 0;
        const cJSON *e;
        cJSON_ArrayForEach(e, inputs) v[i++] = e;
    }
    *items = v;
    *n = count;
    return TL_OK;
}

tl_status tl_pl_map(tl_pipeline *p, const cJSON *inputs, tl_pl_one_fn one, const void *ctx, cJSON **out) {
    *out = NULL;
    if (!cJSON_IsArray(inputs)) return one(p, inputs, 0, ctx, out);
    cJSON *res = cJSON_CreateArray();
    if (!res) return tl_set_error(TL_ERR_OOM, "out of memory");
    size_t i = 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, inputs) {
        cJSON *r;
        tl_status s = one(p, it, i++, ctx, &r);
        if (s != TL_OK) { cJSON_Delete(res); return s; }
        cJSON_AddItemToArray(res, r);
    }
    *out = res;
    return TL_OK;
}

tl_status tl_pl_int(const cJSON *params, const char *key, long def, long min, long *out) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(params, key);
    if (!v || cJSON_IsNull(v)) { *out = def; return TL_OK; }
    if (!cJSON_IsNumber(v) || v->valuedouble != floor(v->valuedouble) || v->valuedouble < (double)min ||
        v->valuedouble > 1e15)
        return tl_set_error(TL_ERR_INVALID_ARG, "parameter '%s' must be an integer >= %ld", key, min);
    *out = (long)v->valuedouble;
    return TL_OK;
}

tl_status tl_pl_bool(const cJSON *params, const char *key, int def, int *out) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(params, key);
    if (!v || cJSON_IsNull(v)) { *out = def; return TL_OK; }
    if (!cJSON_IsBool(v)) return tl_set_error(TL_ERR_INVALID_ARG, "parameter '%s' must be true or false", key);
    *out = cJSON_IsTrue(v);
    return TL_OK;
}

cJSON *tl_pl_add_num(cJSON *obj, const char *key, double v) {
    return cJSON_AddNumberToObject(obj, key, v);
}

static _Thread_local tl_text_fn g_stream;
static _Thread_local void *g_stream_user;

tl_text_fn tl_pl_stream(void **user_data) {
    *user_data = g_stream_user;
    return g_stream;
}

void tl_pl_stream_set(tl_text_fn fn, void *user_data) {
    g_stream = fn;
    g_stream_user = user_data;
}
