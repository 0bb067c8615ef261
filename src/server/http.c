/* http.c — the HTTP/1.1 layer on libmicrohttpd: one thread per connection, bodies gathered
 * up to --payload-limit, API key check, the in-flight limit, timing headers, one log line
 * per request, metrics, and the graceful stop (stop accepting, drain, close). */
#include "server/server.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Per-request state kept by libmicrohttpd between the calls of one request. */
typedef struct conn_state {
    char *body;
    size_t len, cap;
    int too_large;
    double t0;
} conn_state;

/* Wall-clock microseconds (monotonic). */
static double now_us(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e6 + (double)t.tv_nsec / 1e3;
}

/* Routes that need no API key and count as health checks. */
static int is_health(const char *path) {
    return !strcmp(path, "/health") || !strcmp(path, "/ping") || !strncmp(path, "/v2/health/", 11);
}

/* Returns 1 when the request carries "Authorization: Bearer <key>" (compared in constant time). */
static int key_ok(struct MHD_Connection *c, const char *key) {
    const char *h = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
    if (!h || strncmp(h, "Bearer ", 7)) return 0;
    h += 7;
    size_t a = strlen(h), b = strlen(key);
    unsigned diff = (unsigned)(a ^ b);
    for (size_t i = 0; i < b; i++) diff |= (unsigned char)(i < a ? h[i] : 0) ^ (unsigned char)key[i];
    return diff == 0;
}

/* Appends a JSON-escaped copy of s to a log line buffer. */
static size_t log_str(char *buf, size_t cap, size_t n, const char *s) {
    for (; *s && n + 8 < cap; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\') { buf[n++] = '\\'; buf[n++] = (char)ch; }
        else if (ch < 0x20) n += (size_t)snprintf(buf + n, cap - n, "\\u%04x", ch);
        else buf[n++] = (char)ch;
    }
    return n;
}

/* Prints one log line for a finished request (text or JSON). */
static void log_request(const tl_srv *s, const char *method, const char *path, const tl_srv_reply *rp, double total_us) {
    char line[1024];
    size_t n;
    if (s->cfg.json_logs) {
        n = (size_t)snprintf(line, sizeof line, "{\"method\":\"%s\",\"path\":\"", method);
        n = log_str(line, sizeof line, n, path);
        n += (size_t)snprintf(line + n, sizeof line - n,
                              "\",\"status\":%d,\"route\":\"%s\",\"total_ms\":%.3f,\"tokenization_ms\":%.3f,"
                              "\"queue_ms\":%.3f,\"inference_ms\":%.3f,\"batch_tokens\":%zu}\n",
                              rp->status, rp->route ? rp->route : "unknown", total_us / 1e3, rp->tokenize_us / 1e3,
                              rp->queue_us / 1e3, rp->inference_us / 1e3, rp->batch_tokens);
    } else {
        n = (size_t)snprintf(line, sizeof line, "%s %.200s %d %s total=%.3fms tokenization=%.3fms queue=%.3fms "
                             "inference=%.3fms batch_tokens=%zu\n", method, path, rp->status,
                             rp->route ? rp->route : "unknown", total_us / 1e3, rp->tokenize_us / 1e3,
                             rp->queue_us / 1e3, rp->inference_us / 1e3, rp->batch_tokens);
    }
    fputs(line, stderr);
    (void)n;
}

/* Queues rp on the connection with the timing headers. */
_Static_assert(TL_SRV_STREAM_END == (long)MHD_CONTENT_READER_END_OF_STREAM &&
               TL_SRV_STREAM_ERROR == (long)MHD_CONTENT_READER_END_WITH_ERROR, "stream codes are libmicrohttpd's");
_Static_assert(sizeof(long) == sizeof(ssize_t) && sizeof(unsigned long long) == sizeof(uint64_t),
               "the stream reader's signature is MHD_ContentReaderCallback's");

static enum MHD_Result send_reply(struct MHD_Connection *c, tl_srv_reply *rp, double total_us) {
    struct MHD_Response *r;
    if (rp->stream_fn) { /* server-sent events: chunked, produced as the tokens come */
        r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 4096, (MHD_ContentReaderCallback)rp->stream_fn,
                                              rp->stream_cls, rp->stream_free);
        if (!r) { rp->stream_free(rp->stream_cls); return MHD_NO; }
        MHD_add_response_header(r, "Cache-Control", "no-cache");
        MHD_add_response_header(r, "X-Accel-Buffering", "no");
    } else {
        r = MHD_create_response_from_buffer(rp->len, rp->body, MHD_RESPMEM_MUST_FREE);
        if (!r) return MHD_NO;
    }
    rp->body = NULL;
    MHD_add_response_header(r, "Content-Type", rp->content_type ? rp->content_type : "application/json");
    char v[64];
    if (rp->engine_runs) {
        snprintf(v, sizeof v, "%.3f", rp->tokenize_us / 1e3);
        MHD_add_response_header(r, "x-tokenization-time", v);
        snprintf(v, sizeof v, "%.3f", rp->queue_us / 1e3);
        MHD_add_response_header(r, "x-queue-time", v);
        snprintf(v, sizeof v, "%.3f", rp->inference_us / 1e3);
        MHD_add_response_header(r, "x-inference-time", v);
    }
    snprintf(v, sizeof v, "%.3f", total_us / 1e3);
    MHD_add_response_header(r, "x-total-time", v);
    if (rp->status == 401) MHD_add_response_header(r, "WWW-Authenticate", "Bearer");
    if (rp->json_header_len) {
        snprintf(v, sizeof v, "%zu", rp->json_header_len);
        MHD_add_response_header(r, "Inference-Header-Content-Length", v);
    }
    enum MHD_Result ok = MHD_queue_response(c, (unsigned)rp->status, r);
    MHD_destroy_response(r);
    return ok;
}

/* Runs one complete request: key, limits, route, reply, log, metrics. */
static enum MHD_Result serve(tl_srv *s, struct MHD_Connection *c, const char *method, const char *url,
                             conn_state *st) {
    tl_srv_reply rp = {0};
    tl_srv_req rq = {.method = method, .path = url, .body = st->body ? st->body : "", .body_len = st->len,
                     .conn = c};
    rq.content_type = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Type");
    rq.inference_header_length = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Inference-Header-Content-Length");
    rq.query = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "model");
    int counted = 0;
    if (st->too_large) {
        rp.route = "payload_limit";
        tl_reply_error(&rp, 413, "Validation", "the request body is larger than the payload limit (%zu bytes)",
                       s->cfg.payload_limit);
    } else if (s->cfg.api_key && !is_health(url) && !key_ok(c, s->cfg.api_key)) {
        rp.route = "unauthorized";
        tl_reply_error(&rp, 401, "Unauthorized", "missing or wrong API key: send Authorization: Bearer <key>");
    } else if (strcmp(method, "GET") && strcmp(method, "HEAD") &&
               atomic_fetch_add(&s->in_flight, 1) >= s->cfg.max_concurrent_requests) {
        counted = 1;
        rp.route = "overloaded";
        tl_reply_error(&rp, 429, "Overloaded", "too many concurrent requests (limit %d)", s->cfg.max_concurrent_requests);
    } else {
        counted = strcmp(method, "GET") && strcmp(method, "HEAD");
        tl_srv_route(s, &rq, &rp);
    }
    if (counted) atomic_fetch_sub(&s->in_flight, 1);
    if (!rp.body && !rp.stream_fn) tl_reply_error(&rp, 500, "Backend", "no reply");
    double total = now_us() - st->t0;
    log_request(s, method, url, &rp, total);
    tl_metrics_record(&rp, total);
    return send_reply(c, &rp, total);
}

/* libmicrohttpd's access handler: gathers the body, then serves. */
static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                                  const char *version, const char *upload, size_t *upload_size, void **con_cls) {
    (void)version;
    tl_srv *s = cls;
    conn_state *st = *con_cls;
    if (!st) {
        st = calloc(1, sizeof *st);
        if (!st) return MHD_NO;
        st->t0 = now_us();
        *con_cls = st;
        const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Length");
        if (cl && strtoull(cl, NULL, 10) > s->cfg.payload_limit) {
            st->too_large = 1; /* answer 413 now: the body is never read (MHD closes after) */
            return serve(s, c, method, url, st);
        }
        return MHD_YES;
    }
    if (*upload_size) {
        if (!st->too_large && st->len + *upload_size > s->cfg.payload_limit) st->too_large = 1;
        if (!st->too_large) {
            if (st->len + *upload_size + 1 > st->cap) {
                size_t cap = (st->len + *upload_size + 1) * 2;
                if (cap > s->cfg.payload_limit + 1) cap = s->cfg.payload_limit + 1;
                char *b = realloc(st->body, cap);
                if (!b) return MHD_NO;
                st->body = b;
                st->cap = cap;
            }
            memcpy(st->body + st->len, upload, *upload_size);
            st->len += *upload_size;
            st->body[st->len] = 0;
        }
        *upload_size = 0;
        return MHD_YES;
    }
    return serve(s, c, method, url, st);
}

/* Frees a request's state when libmicrohttpd is done with it. */
static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls, enum MHD_RequestTerminationCode toe) {
    (void)cls; (void)c; (void)toe;
    conn_state *st = *con_cls;
    if (st) free(st->body);
    free(st);
    *con_cls = NULL;
}

int tl_srv_start(tl_srv *s) {
    struct sockaddr_in addr = {0};
    addr.sin_family = AF_INET;
    addr.sin_port = htons((uint16_t)s->cfg.port);
    if (inet_pton(AF_INET, s->cfg.host, &addr.sin_addr) != 1) {
        fprintf(stderr, "torchless serve: --host %s is not an IPv4 address\n", s->cfg.host);
        return 0;
    }
    s->daemon = MHD_start_daemon(MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD |
                                     MHD_USE_ITC,
                                 (uint16_t)s->cfg.port, NULL, NULL, on_request, s,
                                 MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr,
                                 MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)s->cfg.timeout_s,
                                 MHD_OPTION_CONNECTION_LIMIT, (unsigned)s->cfg.max_connections,
                                 MHD_OPTION_PER_IP_CONNECTION_LIMIT, 0u,
                                 MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)256 * 1024,
                                 MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
                                 MHD_OPTION_LISTENING_ADDRESS_REUSE, 1u,
                                 MHD_OPTION_END);
    if (!s->daemon) {
        fprintf(stderr, "torchless serve: cannot listen on %s:%d (in use, or not allowed)\n", s->cfg.host, s->cfg.port);
        return 0;
    }
    return 1;
}

void tl_srv_stop(tl_srv *s, int grace_s) {
    if (!s->daemon) return;
    atomic_store(&s->stopping, 1);
    MHD_socket fd = MHD_quiesce_daemon(s->daemon);
    if (fd != MHD_INVALID_SOCKET) close(fd);
    for (int i = 0; i < grace_s * 100 && atomic_load(&s->in_flight) > 0; i++) usleep(10000);
    MHD_stop_daemon(s->daemon);
    s->daemon = NULL;
}
