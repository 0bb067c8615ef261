/* kserve.c — the Open Inference Protocol (KServe v2) over REST: GET /v2, /v2/health/live,
 * /v2/health/ready, /v2/models/{m}, /v2/models/{m}/ready; POST /v2/models/{m}/infer with
 * one BYTES input of texts and FP32 outputs with shapes: "embedding" [n, dim] for an
 * embeddings model, "scores" [n, labels] (the labels in id order) for a text classifier.
 * Tensor data as JSON, or with the binary-data extension (Triton's clients' default): the
 * request's Inference-Header-Content-Length header says how many bytes of the body are
 * JSON, the rest the inputs' raw data; outputs asked for with "binary_data" (or a request
 * with "binary_data_output") come after the reply's JSON as raw little-endian floats.
 * Errors are {"error": message}. */
#include "server/server.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Rewrites a TEI-style error reply as {"error": message}. */
static void to_v2_error(tl_srv_reply *rp) {
    cJSON *e = rp->body ? cJSON_Parse(rp->body) : NULL;
    const cJSON *msg = cJSON_GetObjectItemCaseSensitive(e, "error");
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "error", cJSON_IsString(msg) ? msg->valuestring : "error");
    cJSON_Delete(e);
    tl_reply_json(rp, rp->status, o);
}

/* Adds a tensor description {"name", "datatype", "shape"} to array a. */
static void add_meta(cJSON *a, const char *name, const char *dt, long d0, long d1) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "name", name);
    cJSON_AddStringToObject(o, "datatype", dt);
    cJSON *sh = cJSON_AddArrayToObject(o, "shape");
    cJSON_AddItemToArray(sh, cJSON_CreateNumber((double)d0));
    if (d1) cJSON_AddItemToArray(sh, cJSON_CreateNumber((double)d1));
    cJSON_AddItemToArray(a, o);
}

/* GET /v2/models/{m}: name, versions, platform, inputs and outputs. */
static void metadata(tl_srv_model *m, tl_srv_reply *rp) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "name", m->name);
    cJSON *v = cJSON_AddArrayToObject(o, "versions");
    cJSON_AddItemToArray(v, cJSON_CreateString("1"));
    cJSON_AddStringToObject(o, "platform", "torchless");
    add_meta(cJSON_AddArrayToObject(o, "inputs"), "text", "BYTES", -1, 0);
    cJSON *outs = cJSON_AddArrayToObject(o, "outputs");
    if (m->task == TL_TASK_EMBEDDINGS) add_meta(outs, "embedding", "FP32", -1, (long)tl_model_embedding_dim(m->model));
    else if (m->task == TL_TASK_TEXT_CLASSIFICATION) add_meta(outs, "scores", "FP32", -1, -1);
    tl_reply_json(rp, 200, o);
}

/* The body's JSON part: all of it, or with the binary-data extension the first
 * Inference-Header-Content-Length bytes (*json_len); 0 after a 400 reply when that header
 * is not a byte count within the body. */
static int json_part(const tl_srv_req *rq, size_t *json_len, tl_srv_reply *rp) {
    *json_len = rq->body_len;
    const char *h = rq->inference_header_length;
    if (!h) return 1;
    char *end = NULL;
    unsigned long long v = h[0] >= '0' && h[0] <= '9' ? strtoull(h, &end, 10) : 0;
    if (!end || *end || v == 0 || v > rq->body_len) {
        tl_reply_error(rp, 400, "Validation", "Inference-Header-Content-Length '%.40s' is not a byte count within "
                       "the %zu-byte body", h, rq->body_len);
        return 0;
    }
    *json_len = (size_t)v;
    return 1;
}

/* Decodes a BYTES tensor's binary data (each element a 4-byte little-endian length, then
 * that many bytes of UTF-8 text) into a new JSON list of strings; NULL after a 400 reply
 * when the buffer is malformed, an element is not text (invalid UTF-8, a NUL byte),
 * or the count differs from the shape's numel. */
static cJSON *bytes_elements(const unsigned char *p, size_t n, double numel, tl_srv_reply *rp) {
    cJSON *list = cJSON_CreateArray();
    size_t at = 0, count = 0;
    while (list && at < n) {
        if (n - at < 4 || (double)count >= numel) {
            tl_reply_error(rp, 400, "Validation", "the input's binary data does not hold %.0f BYTES elements "
                           "(4-byte length + text each)", numel);
            cJSON_Delete(list);
            return NULL;
        }
        uint32_t len = (uint32_t)p[at] | (uint32_t)p[at + 1] << 8 | (uint32_t)p[at + 2] << 16 | (uint32_t)p[at + 3] << 24;
        at += 4;
        if (len > n - at) {
            tl_reply_error(rp, 400, "Validation", "BYTES element %zu claims %u bytes, past the end of the binary data",
                           count, len);
            cJSON_Delete(list);
            return NULL;
        }
        size_t bad;
        if (!tl_srv_valid_text((const char *)p + at, len, &bad)) {
            tl_reply_error(rp, 400, "Validation", "BYTES element %zu is not valid UTF-8 (or holds a NUL byte) at "
                           "byte %zu", count, bad);
            cJSON_Delete(list);
            return NULL;
        }
        char *t = malloc((size_t)len + 1);
        if (!t) break;
        memcpy(t, p + at, len);
        t[len] = 0;
        cJSON *str = cJSON_CreateString(t);
        free(t);
        if (!str) break;
        cJSON_AddItemToArray(list, str);
        at += len;
        count++;
    }
    if (!list || at < n) {
        cJSON_Delete(list);
        tl_reply_error(rp, 503, "Backend", "out of memory");
        return NULL;
    }
    if ((double)count != numel) {
        tl_reply_error(rp, 400, "Validation", "the input's binary data holds %zu BYTES elements, its shape %.0f",
                       count, numel);
        cJSON_Delete(list);
        return NULL;
    }
    return list;
}

/* Reads the request's texts: the one BYTES input's "data" (a flat list of strings), or its
 * binary data (parameters.binary_data_size bytes after the JSON part, bin / bin_len).
 * *owned receives a JSON list the texts point into when they came from binary data. */
static int infer_texts(tl_srv *s, const cJSON *b, const unsigned char *bin, size_t bin_len, const char ***texts,
                       size_t *n, cJSON **owned, tl_srv_reply *rp) {
    const cJSON *ins = cJSON_GetObjectItemCaseSensitive(b, "inputs");
    if (!cJSON_IsArray(ins) || cJSON_GetArraySize(ins) != 1) {
        tl_reply_error(rp, 400, "Validation", "`inputs` must be a list of one BYTES tensor of texts");
        return 0;
    }
    const cJSON *t = cJSON_GetArrayItem(ins, 0);
    const cJSON *dt = cJSON_GetObjectItemCaseSensitive(t, "datatype"), *name = cJSON_GetObjectItemCaseSensitive(t, "name");
    const cJSON *shape = cJSON_GetObjectItemCaseSensitive(t, "shape"), *data = cJSON_GetObjectItemCaseSensitive(t, "data");
    const cJSON *bsize = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(t, "parameters"),
                                                          "binary_data_size");
    if (!cJSON_IsString(name) || !cJSON_IsString(dt) || strcmp(dt->valuestring, "BYTES") || !cJSON_IsArray(shape)) {
        tl_reply_error(rp, 400, "Validation", "the input tensor needs a name, datatype \"BYTES\" and a shape");
        return 0;
    }
    double numel = 1;
    const cJSON *d;
    cJSON_ArrayForEach(d, shape) numel *= cJSON_IsNumber(d) && d->valuedouble >= 0 ? d->valuedouble : -1;
    if (bsize) {
        if (data || !cJSON_IsNumber(bsize) || bsize->valuedouble < 0 || bsize->valuedouble != (double)bin_len) {
            tl_reply_error(rp, 400, "Validation", "binary_data_size must be the %zu bytes after the JSON part (and "
                           "the input then has no \"data\")", bin_len);
            return 0;
        }
        if (!(*owned = bytes_elements(bin, bin_len, numel, rp))) return 0;
        data = *owned;
    } else if (bin_len) {
        tl_reply_error(rp, 400, "Validation", "%zu bytes follow the JSON part but no input has binary_data_size", bin_len);
        return 0;
    } else if (!data) {
        tl_reply_error(rp, 400, "Validation", "the input tensor has neither JSON \"data\" nor binary_data_size");
        return 0;
    }
    if (!cJSON_IsArray(data) || numel != (double)cJSON_GetArraySize(data)) {
        tl_reply_error(rp, 400, "Validation", "the input's data must be a flat list of as many strings as its shape holds");
        return 0;
    }
    int single;
    return tl_srv_texts(s, data, texts, n, &single, rp);
}

/* Whether the output `name` goes as binary data: the requested output's
 * parameters.binary_data when it says, else the request's parameters.binary_data_output. 0 after a 400 reply for an output the model does not
 * have or a parameter that is not a boolean. */
static int output_binary(const cJSON *b, const char *name, int *binary, tl_srv_reply *rp) {
    const cJSON *outs = cJSON_GetObjectItemCaseSensitive(b, "outputs");
    const cJSON *flag = NULL;
    *binary = 0;
    if (outs) {
        const cJSON *o, *found = NULL;
        if (!cJSON_IsArray(outs)) { tl_reply_error(rp, 400, "Validation", "`outputs` must be a list"); return 0; }
        cJSON_ArrayForEach(o, outs) {
            const cJSON *on = cJSON_GetObjectItemCaseSensitive(o, "name");
            if (!cJSON_IsString(on) || strcmp(on->valuestring, name)) {
                tl_reply_error(rp, 400, "Validation", "unknown output '%.100s': this model's output is '%s'",
                               cJSON_IsString(on) ? on->valuestring : "?", name);
                return 0;
            }
            found = o;
        }
        const cJSON *params = cJSON_GetObjectItemCaseSensitive(found, "parameters");
        const cJSON *cc = cJSON_GetObjectItemCaseSensitive(params, "classification");
        if (cc && !(cJSON_IsNumber(cc) && cc->valuedouble == 0)) {
            tl_reply_error(rp, 400, "Validation", "the classification extension is not supported: ask for the scores");
            return 0;
        }
        flag = cJSON_GetObjectItemCaseSensitive(params, "binary_data");
    }
    if (!flag) /* the request's default for outputs that do not say */
        flag = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(b, "parameters"), "binary_data_output");
    if (flag && !cJSON_IsBool(flag)) {
        tl_reply_error(rp, 400, "Validation", "binary_data / binary_data_output must be a boolean");
        return 0;
    }
    *binary = cJSON_IsTrue(flag);
    return 1;
}

/* Appends one output tensor {"name", "datatype": "FP32", "shape": [d0, d1]} with its "data",
 * or, when bin is not NULL, with parameters.binary_data_size and the floats appended to bin
 * as little-endian bytes. */
static void put_output(tl_sbuf *b, tl_sbuf *bin, const char *name, const float *x, size_t d0, size_t d1) {
    tl_sbuf_put(b, "{\"name\":", 8);
    tl_sbuf_json_str(b, name);
    tl_sbuf_printf(b, ",\"datatype\":\"FP32\",\"shape\":[%zu,%zu],", d0, d1);
    if (!bin) {
        tl_sbuf_put(b, "\"data\":", 7);
        tl_sbuf_floats(b, x, d0 * d1);
    } else {
        tl_sbuf_printf(b, "\"parameters\":{\"binary_data_size\":%zu}", d0 * d1 * 4);
        for (size_t i = 0; i < d0 * d1; i++) {
            uint32_t u;
            memcpy(&u, &x[i], 4);
            unsigned char le[4] = {(unsigned char)u, (unsigned char)(u >> 8), (unsigned char)(u >> 16),
                                   (unsigned char)(u >> 24)};
            tl_sbuf_put(bin, (const char *)le, 4);
        }
    }
    tl_sbuf_put(b, "}", 1);
}

/* Scores of a text classifier for n texts, labels in id order (pipeline with top_k null). */
static float *class_scores(tl_srv *s, tl_srv_model *m, const char **texts, size_t n, size_t *n_labels,
                           tl_srv_reply *rp) {
    const cJSON *i2l = cJSON_GetObjectItemCaseSensitive(m->config, "id2label");
    size_t L = (size_t)cJSON_GetArraySize(i2l);
    cJSON *in = cJSON_CreateArray(), *params = cJSON_CreateObject();
    for (size_t i = 0; i < n; i++) cJSON_AddItemToArray(in, cJSON_CreateString(texts[i]));
    cJSON_AddNullToObject(params, "top_k");
    if (s->cfg.auto_truncate) cJSON_AddTrueToObject(params, "truncation");
    cJSON *out = tl_srv_run_pipeline(s, m, m->pipeline, in, params, rp);
    cJSON_Delete(in);
    cJSON_Delete(params);
    if (!out) return NULL;
    float *x = calloc(n * (L ? L : 1), sizeof *x);
    for (size_t i = 0; x && i < n; i++) {
        const cJSON *e;
        cJSON_ArrayForEach(e, cJSON_GetArrayItem(out, (int)i)) {
            const cJSON *lab = cJSON_GetObjectItemCaseSensitive(e, "label");
            const cJSON *l;
            size_t k = 0;
            cJSON_ArrayForEach(l, i2l) {
                if (cJSON_IsString(l) && cJSON_IsString(lab) && !strcmp(l->valuestring, lab->valuestring) && k < L)
                    x[i * L + (size_t)atoi(l->string)] = (float)cJSON_GetObjectItemCaseSensitive(e, "score")->valuedouble;
                k++;
            }
        }
    }
    cJSON_Delete(out);
    *n_labels = L;
    return x;
}

/* POST /v2/models/{m}/infer. */
static void infer(tl_srv *s, tl_srv_model *m, const tl_srv_req *rq, tl_srv_reply *rp) {
    size_t json_len;
    if (!json_part(rq, &json_len, rp)) return;
    tl_srv_req jrq = *rq;
    jrq.body_len = json_len;
    cJSON *b = tl_srv_parse_body(&jrq, rp), *owned = NULL;
    if (!b) return;
    const char **texts = NULL;
    const char *out_name = m->task == TL_TASK_EMBEDDINGS ? "embedding" : "scores";
    size_t n = 0;
    int binary = 0;
    if (!cJSON_IsObject(b)) tl_reply_error(rp, 400, "Validation", "the request body must be a JSON object");
    else if (m->task != TL_TASK_EMBEDDINGS && m->task != TL_TASK_TEXT_CLASSIFICATION)
        tl_reply_error(rp, 400, "Validation", "model '%s' (%s) has no v2 tensor interface: use /models/%s", m->name,
                       tl_srv_task_name(m->task), m->name);
    else if (output_binary(b, out_name, &binary, rp) &&
             infer_texts(s, b, (const unsigned char *)rq->body + json_len, rq->body_len - json_len, &texts, &n,
                         &owned, rp)) {
        tl_sbuf out = {0}, bin = {0};
        tl_sbuf_put(&out, "{\"model_name\":", 14);
        tl_sbuf_json_str(&out, m->name);
        tl_sbuf_put(&out, ",\"model_version\":\"1\"", 20);
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(b, "id");
        if (cJSON_IsString(id)) {
            tl_sbuf_put(&out, ",\"id\":", 6);
            tl_sbuf_json_str(&out, id->valuestring);
        }
        tl_sbuf_put(&out, ",\"outputs\":[", 12);
        int ok = 0;
        if (m->task == TL_TASK_EMBEDDINGS) {
            tl_request *r = tl_srv_run_texts(s, m, TL_REQUEST_EMBED, texts, n, -1, 0, -1, rp);
            if (r) {
                size_t rows, dim;
                const float *e = tl_request_embeddings(r, &rows, &dim);
                put_output(&out, binary ? &bin : NULL, out_name, e, rows, dim);
                tl_request_free(r);
                ok = 1;
            }
        } else {
            size_t L = 0;
            float *x = class_scores(s, m, texts, n, &L, rp);
            if (x) {
                put_output(&out, binary ? &bin : NULL, out_name, x, n, L);
                free(x);
                ok = 1;
            }
        }
        tl_sbuf_put(&out, "]}", 2);
        size_t json_bytes = out.n;
        if (ok && binary) tl_sbuf_put(&out, bin.s ? bin.s : "", bin.n);
        if (ok) tl_reply_sbuf(rp, 200, &out);
        else free(out.s);
        if (ok && binary && rp->status == 200) {
            rp->json_header_len = json_bytes;
            rp->content_type = "application/octet-stream";
        }
        free(bin.s);
    }
    free(texts);
    cJSON_Delete(owned);
    cJSON_Delete(b);
}

int tl_kserve_route(tl_srv *s, const tl_srv_req *rq, tl_srv_reply *rp) {
    const char *p = rq->path;
    if (strncmp(p, "/v2", 3) || (p[3] && p[3] != '/')) return 0;
    int get = !strcmp(rq->method, "GET"), post = !strcmp(rq->method, "POST");
    if (!strcmp(p, "/v2/health/live") && get) {
        rp->route = "v2_live";
        tl_reply_text(rp, 200, "application/json", "{\"live\":true}");
    } else if (!strcmp(p, "/v2/health/ready") && get) {
        rp->route = "v2_ready";
        if (atomic_load(&s->stopping)) tl_reply_text(rp, 503, "application/json", "{\"ready\":false}");
        else tl_reply_text(rp, 200, "application/json", "{\"ready\":true}");
    } else if (!strcmp(p, "/v2") && get) {
        rp->route = "v2_server";
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "name", "torchless");
        cJSON_AddStringToObject(o, "version", tl_version());
        cJSON_AddItemToArray(cJSON_AddArrayToObject(o, "extensions"), cJSON_CreateString("binary_tensor_data"));
        tl_reply_json(rp, 200, o);
    } else if (!strncmp(p, "/v2/models/", 11)) {
        char name[256];
        const char *rest = strchr(p + 11, '/');
        size_t len = rest ? (size_t)(rest - (p + 11)) : strlen(p + 11);
        rp->route = "v2_model";
        if (len == 0 || len >= sizeof name) {
            tl_reply_error(rp, 404, "NotFound", "no such model");
        } else {
            memcpy(name, p + 11, len);
            name[len] = 0;
            /* Triton's clients may name a version: /v2/models/{m}/versions/{v}/... */
            if (rest && !strncmp(rest, "/versions/", 10)) rest = strchr(rest + 10, '/');
            tl_srv_model *m = tl_srv_find_model(s, name, rp);
            if (!m) {
            } else if (!rest && get) {
                metadata(m, rp);
            } else if (rest && !strcmp(rest, "/ready") && get) {
                rp->route = "v2_model_ready";
                cJSON *o = cJSON_CreateObject();
                cJSON_AddStringToObject(o, "name", m->name);
                cJSON_AddBoolToObject(o, "ready", !atomic_load(&s->stopping));
                tl_reply_json(rp, atomic_load(&s->stopping) ? 503 : 200, o);
            } else if (rest && !strcmp(rest, "/infer") && post) {
                rp->route = "v2_infer";
                infer(s, m, rq, rp);
            } else {
                tl_reply_error(rp, 404, "NotFound", "no route %s %.200s", rq->method, p);
            }
        }
    } else {
        rp->route = "not_found";
        tl_reply_error(rp, 404, "NotFound", "no route %s %.200s", rq->method, p);
    }
    if (rp->status >= 400) to_v2_error(rp);
    return 1;
}
