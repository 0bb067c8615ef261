/* cmd_serve.c — `torchless serve`: loads every --model (NAME=PATH_OR_ID[:TASK]), builds its
 * pipelines and batching engine, warms it up, then serves HTTP (src/server) until SIGTERM or
 * SIGINT: it then stops accepting, finishes in-flight requests and exits 0. */
#include "cli.h"
#include "server/server.h"

#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Prints the serve subcommand's help to f. */
static void serve_usage(FILE *f) {
    fprintf(f,
            "usage: torchless serve --model NAME=PATH_OR_ID[:TASK] [--model ...] [options]\n\n"
            "Serves the models over HTTP/1.1: Text Embeddings Inference, OpenAI embeddings, TorchServe,\n"
            "KServe v2 (Open Inference Protocol), the Hugging Face Inference API task call, /metrics;\n"
            "decoders: text-generation-inference /generate(_stream), OpenAI /v1/completions.\n"
            "See docs/serve.md.\n\n"
            "  -m, --model NAME=PATH_OR_ID[:TASK]  a model to serve (repeatable); NAME is its name in URLs\n"
            "                         ([A-Za-z0-9._-]); TASK: embeddings, feature-extraction,\n"
            "                         text-classification, token-classification, question-answering,\n"
            "                         fill-mask, zero-shot-classification, text-ranking (rerank),\n"
            "                         text-generation; default: from config.json (a bare encoder\n"
            "                         serves embeddings, a one-label classifier reranks, a decoder\n"
            "                         generates)\n"
            "      --host ADDR        IPv4 address to bind (default 127.0.0.1)\n"
            "  -p, --port N           port (default 8080)\n"
            "      --api-key KEY      require Authorization: Bearer KEY on every route but health\n"
            "                         (default: $TORCHLESS_API_KEY, else none)\n"
            "      --max-concurrent-requests N  inference requests in flight; more get 429 (default 512)\n"
            "      --payload-limit BYTES  largest request body; larger get 413 (default 2000000)\n"
            "      --max-client-batch-size N  most inputs in one request; more get 422 (default 32)\n"
            "      --auto-truncate    truncate inputs longer than the model takes (default: 422)\n"
            "      --max-batch-tokens N    tokens in one packed batch (default 16384)\n"
            "      --max-batch-requests N  sequences in one packed batch (default 256)\n"
            "      --max-batch-delay-ms N  wait up to N ms for a fuller batch (default 0)\n"
            "      --workers N        engine workers per model, each with its own context (default 1)\n"
            "      --kv-cache-tokens N  decoders: tokens each worker's KV cache holds, shared by the\n"
            "                         running sequences (default: the model's positions, at most 8192)\n"
            "      --threads N        threads of each worker's forwards (default: every CPU)\n"
            "      --timeout S        close a connection idle for S seconds (default 10)\n"
            "      --max-connections N  open connections (default 1024)\n"
            "      --log-format text|json  one log line per request on stderr (default text)\n"
            "  -h, --help             this help\n");
}

/* Parses NAME=PATH[:TASK] into m (strings malloc'd); prints the problem and returns 0. */
static int parse_model_arg(const char *arg, tl_srv_model *m) {
    const char *eq = strchr(arg, '=');
    if (!eq || eq == arg || !eq[1]) {
        fprintf(stderr, "torchless serve: --model must be NAME=PATH_OR_ID[:TASK], not '%s'\n", arg);
        return 0;
    }
    for (const char *p = arg; p < eq; p++)
        if (!(('a' <= *p && *p <= 'z') || ('A' <= *p && *p <= 'Z') || ('0' <= *p && *p <= '9') || strchr("._-", *p))) {
            fprintf(stderr, "torchless serve: model name '%.*s' may only hold letters, digits, '.', '_' and '-'\n",
                    (int)(eq - arg), arg);
            return 0;
        }
    m->name = strndup(arg, (size_t)(eq - arg));
    const char *colon = strrchr(eq + 1, ':');
    m->task = (tl_srv_task)-1;
    if (colon && tl_srv_parse_task(colon + 1) >= 0) {
        m->task = (tl_srv_task)tl_srv_parse_task(colon + 1);
        m->path = strndup(eq + 1, (size_t)(colon - eq - 1));
    } else if (colon && !strchr(colon, '/')) {
        fprintf(stderr, "torchless serve: unknown task '%s' in --model %s (see --help)\n", colon + 1, arg);
        return 0;
    } else {
        m->path = strdup(eq + 1);
    }
    return m->name && m->path;
}

int tl_cmd_serve(int argc, char **argv) {
    enum { O_HOST = 256, O_KEY, O_MAXCONC, O_PAYLOAD, O_CLIENTBATCH, O_TRUNC, O_BTOK, O_BREQ, O_BDELAY,
           O_WORKERS, O_THREADS, O_TIMEOUT, O_MAXCONN, O_LOG, O_KV };
    static const struct option opts[] = {
        {"model", required_argument, 0, 'm'}, {"host", required_argument, 0, O_HOST},
        {"port", required_argument, 0, 'p'}, {"api-key", required_argument, 0, O_KEY},
        {"max-concurrent-requests", required_argument, 0, O_MAXCONC}, {"payload-limit", required_argument, 0, O_PAYLOAD},
        {"max-client-batch-size", required_argument, 0, O_CLIENTBATCH}, {"auto-truncate", no_argument, 0, O_TRUNC},
        {"max-batch-tokens", required_argument, 0, O_BTOK}, {"max-batch-requests", required_argument, 0, O_BREQ},
        {"max-batch-delay-ms", required_argument, 0, O_BDELAY}, {"workers", required_argument, 0, O_WORKERS},
        {"threads", required_argument, 0, O_THREADS}, {"timeout", required_argument, 0, O_TIMEOUT},
        {"max-connections", required_argument, 0, O_MAXCONN}, {"log-format", required_argument, 0, O_LOG},
        {"kv-cache-tokens", required_argument, 0, O_KV},
        {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    tl_srv srv = {0};
    srv.cfg = (tl_srv_config){.host = "127.0.0.1", .port = 8080, .api_key = getenv("TORCHLESS_API_KEY"),
                              .max_concurrent_requests = 512, .payload_limit = 2000000,
                              .max_client_batch_size = 32, .timeout_s = 10, .max_connections = 1024};
    tl_engine_params ep = tl_engine_default_params();
    int threads = 0, c, rc = 0;
    const char *model_args[64];
    size_t n_models = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, "m:p:h", opts, NULL)) != -1) {
        long v = 1;
        switch (c) {
        case 'm':
            if (n_models == 64) { fprintf(stderr, "torchless serve: at most 64 models\n"); return 2; }
            model_args[n_models++] = optarg;
            break;
        case O_HOST: srv.cfg.host = optarg; break;
        case 'p': v = srv.cfg.port = (int)tl_cli_positive(optarg, 65535, "serve", "--port"); break;
        case O_KEY: srv.cfg.api_key = optarg; break;
        case O_MAXCONC: v = srv.cfg.max_concurrent_requests = (int)tl_cli_positive(optarg, 1000000, "serve", "--max-concurrent-requests"); break;
        case O_PAYLOAD: v = (long)(srv.cfg.payload_limit = (size_t)tl_cli_positive(optarg, 1L << 30, "serve", "--payload-limit")); break;
        case O_CLIENTBATCH: v = (long)(srv.cfg.max_client_batch_size = (size_t)tl_cli_positive(optarg, 1000000, "serve", "--max-client-batch-size")); break;
        case O_TRUNC: srv.cfg.auto_truncate = 1; break;
        case O_BTOK: v = (long)(ep.max_batch_tokens = (size_t)tl_cli_positive(optarg, 1L << 24, "serve", "--max-batch-tokens")); break;
        case O_BREQ: v = (long)(ep.max_batch_requests = (size_t)tl_cli_positive(optarg, 1L << 20, "serve", "--max-batch-requests")); break;
        case O_BDELAY:
            ep.max_batch_delay_ms = strcmp(optarg, "0") ? (int)tl_cli_positive(optarg, 60000, "serve", "--max-batch-delay-ms") : 0;
            v = strcmp(optarg, "0") ? ep.max_batch_delay_ms : 1;
            break;
        case O_WORKERS: v = ep.num_workers = (int)tl_cli_positive(optarg, 256, "serve", "--workers"); break;
        case O_KV: v = (long)(ep.kv_cache_tokens = (size_t)tl_cli_positive(optarg, 1L << 24, "serve", "--kv-cache-tokens")); break;
        case O_THREADS: v = threads = (int)tl_cli_positive(optarg, 1024, "serve", "--threads"); break;
        case O_TIMEOUT: v = srv.cfg.timeout_s = (int)tl_cli_positive(optarg, 3600, "serve", "--timeout"); break;
        case O_MAXCONN: v = srv.cfg.max_connections = (int)tl_cli_positive(optarg, 65536, "serve", "--max-connections"); break;
        case O_LOG:
            if (strcmp(optarg, "text") && strcmp(optarg, "json")) {
                fprintf(stderr, "torchless serve: --log-format must be text or json\n");
                return 2;
            }
            srv.cfg.json_logs = !strcmp(optarg, "json");
            break;
        case 'h': serve_usage(stdout); return 0;
        default: serve_usage(stderr); return 2;
        }
        if (v <= 0) return 2;
    }
    if (optind < argc) { fprintf(stderr, "torchless serve: unexpected argument '%s'\n", argv[optind]); return 2; }
    if (!n_models) { fprintf(stderr, "torchless serve: give at least one --model NAME=PATH_OR_ID[:TASK]\n"); return 2; }
    if (srv.cfg.api_key && !*srv.cfg.api_key) srv.cfg.api_key = NULL;
    ep.threads_per_worker = threads;
    /* SIGTERM / SIGINT are taken by sigwait below: block them before any thread starts */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);
    srv.models = calloc(n_models, sizeof *srv.models);
    if (!srv.models) return tl_cli_fail("out of memory");
    for (size_t i = 0; i < n_models && !rc; i++) {
        srv.n_models = i + 1;
        if (!parse_model_arg(model_args[i], &srv.models[i])) rc = 2;
        for (size_t k = 0; !rc && k < i; k++)
            if (!strcmp(srv.models[k].name, srv.models[i].name)) {
                fprintf(stderr, "torchless serve: two models are named %s\n", srv.models[i].name);
                rc = 2;
            }
        if (!rc && !tl_srv_model_load(&srv.models[i], &ep, threads)) rc = 1;
    }
    if (!rc && !tl_srv_start(&srv)) rc = 1;
    if (!rc) {
        fprintf(stderr, "torchless serve: ready on http://%s:%d (", srv.cfg.host, srv.cfg.port);
        for (size_t i = 0; i < srv.n_models; i++)
            fprintf(stderr, "%s%s: %s", i ? ", " : "", srv.models[i].name, srv.models[i].task_name);
        fprintf(stderr, ")\n");
        int sig = 0;
        sigwait(&sigs, &sig);
        fprintf(stderr, "torchless serve: %s: finishing in-flight requests\n", sig == SIGTERM ? "SIGTERM" : "SIGINT");
        tl_srv_stop(&srv, 30);
        fprintf(stderr, "torchless serve: stopped\n");
    }
    for (size_t i = 0; i < srv.n_models; i++) tl_srv_model_free(&srv.models[i]);
    free(srv.models);
    return rc;
}
