/* metrics.c — Prometheus metrics: requests by route and status, in-flight requests, queue
 * size, histograms of the batch size and batch tokens each request ran in, and of the
 * tokenization, queue, inference and total time. Rendered in the text exposition format. */
#include "server/server.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#define MAX_SERIES 128
#define N_BUCKETS 14

/* One histogram: cumulative counts are computed when rendering. */
typedef struct hist {
    const char *name, *help;
    const double *le;
    unsigned long long counts[N_BUCKETS + 1]; /* the last one: above every bound */
    double sum;
    unsigned long long n;
} hist;

static const double k_time_le[N_BUCKETS] = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
                                            0.025, 0.05, 0.1, 0.25, 0.5, 1, 5};
static const double k_count_le[N_BUCKETS] = {1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 4096, 16384, 65536};

static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
static struct { const char *route; int status; unsigned long long n; } g_req[MAX_SERIES];
static size_t g_n_req;
static hist g_hist[] = {
    {"torchless_request_duration_seconds", "Time from the first byte of a request to its reply", k_time_le, {0}, 0, 0},
    {"torchless_tokenization_duration_seconds", "Tokenization time of a request", k_time_le, {0}, 0, 0},
    {"torchless_queue_duration_seconds", "Time a request waited in the engine's queue", k_time_le, {0}, 0, 0},
    {"torchless_inference_duration_seconds", "Inference time of the batch a request ran in", k_time_le, {0}, 0, 0},
    {"torchless_batch_size", "Requests in the batch a request ran in", k_count_le, {0}, 0, 0},
    {"torchless_batch_tokens", "Tokens in the batch a request ran in", k_count_le, {0}, 0, 0},
};

/* Adds one observation v to h (under g_mu). */
static void observe(hist *h, double v) {
    size_t b = 0;
    while (b < N_BUCKETS && v > h->le[b]) b++;
    h->counts[b]++;
    h->sum += v;
    h->n++;
}

void tl_metrics_record(const tl_srv_reply *rp, double total_us) {
    const char *route = rp->route ? rp->route : "unknown";
    pthread_mutex_lock(&g_mu);
    size_t i = 0;
    while (i < g_n_req && (g_req[i].status != rp->status || strcmp(g_req[i].route, route))) i++;
    if (i == g_n_req && g_n_req < MAX_SERIES) {
        g_req[i].route = route; /* route names are static strings */
        g_req[i].status = rp->status;
        g_n_req++;
    }
    if (i < g_n_req) g_req[i].n++;
    observe(&g_hist[0], total_us / 1e6);
    if (rp->engine_runs) {
        observe(&g_hist[1], rp->tokenize_us / 1e6);
        observe(&g_hist[2], rp->queue_us / 1e6);
        observe(&g_hist[3], rp->inference_us / 1e6);
        observe(&g_hist[4], (double)rp->batch_requests);
        observe(&g_hist[5], (double)rp->batch_tokens);
    }
    pthread_mutex_unlock(&g_mu);
}

void tl_metrics_render(tl_srv *s, tl_srv_reply *rp) {
    tl_sbuf b = {0};
    tl_sbuf_printf(&b, "# HELP torchless_requests_total Requests answered, by route and status code\n"
                       "# TYPE torchless_requests_total counter\n");
    pthread_mutex_lock(&g_mu);
    for (size_t i = 0; i < g_n_req; i++)
        tl_sbuf_printf(&b, "torchless_requests_total{route=\"%s\",status=\"%d\"} %llu\n", g_req[i].route,
                       g_req[i].status, g_req[i].n);
    for (size_t k = 0; k < sizeof g_hist / sizeof g_hist[0]; k++) {
        const hist *h = &g_hist[k];
        tl_sbuf_printf(&b, "# HELP %s %s\n# TYPE %s histogram\n", h->name, h->help, h->name);
        unsigned long long cum = 0;
        for (size_t j = 0; j < N_BUCKETS; j++) {
            cum += h->counts[j];
            tl_sbuf_printf(&b, "%s_bucket{le=\"%g\"} %llu\n", h->name, h->le[j], cum);
        }
        tl_sbuf_printf(&b, "%s_bucket{le=\"+Inf\"} %llu\n%s_sum %.9g\n%s_count %llu\n", h->name, h->n, h->name,
                       h->sum, h->name, h->n);
    }
    pthread_mutex_unlock(&g_mu);
    tl_sbuf_printf(&b, "# HELP torchless_queue_size Requests queued in the engines, by model\n"
                       "# TYPE torchless_queue_size gauge\n");
    for (size_t i = 0; i < s->n_models; i++)
        tl_sbuf_printf(&b, "torchless_queue_size{model=\"%s\"} %zu\n", s->models[i].name,
                       tl_engine_queue_size(s->models[i].engine));
    static const char *gen[][2] = {
        {"torchless_decode_steps_total", "Decode steps (prefill + one token per running sequence) of generate requests"},
        {"torchless_generated_tokens_total", "Tokens generated"},
        {"torchless_running_sequences", "Sequences in the decode batches now"},
        {"torchless_max_step_sequences", "Most sequences one decode step ran"}};
    for (size_t k = 0; k < 4; k++) {
        tl_sbuf_printf(&b, "# HELP %s %s, by model\n# TYPE %s %s\n", gen[k][0], gen[k][1], gen[k][0],
                       k < 2 ? "counter" : "gauge");
        for (size_t i = 0; i < s->n_models; i++) {
            if (s->models[i].task != TL_TASK_TEXT_GENERATION) continue;
            tl_engine_stats st;
            tl_engine_get_stats(s->models[i].engine, &st);
            size_t v = k == 0 ? st.decode_steps : k == 1 ? st.generated_tokens : k == 2 ? st.running_seqs : st.max_step_seqs;
            tl_sbuf_printf(&b, "%s{model=\"%s\"} %zu\n", gen[k][0], s->models[i].name, v);
        }
    }
    tl_sbuf_printf(&b, "# HELP torchless_requests_in_flight Inference requests being served\n"
                       "# TYPE torchless_requests_in_flight gauge\ntorchless_requests_in_flight %d\n",
                   atomic_load(&s->in_flight));
    tl_reply_sbuf(rp, 200, &b);
    rp->content_type = "text/plain; version=0.0.4; charset=utf-8";
}
