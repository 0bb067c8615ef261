/* main.c — `torchless` entry point: dispatches to the subcommands. */
#include "cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Prints the top-level usage to f. */
static void usage(FILE *f) {
    fprintf(f,
            "torchless %s — run Hugging Face Transformers checkpoints from C, no PyTorch\n\n"
            "usage: torchless <command> [options]\n\n"
            "commands:\n"
            "  run       run a task on texts and print one JSON line per input: sentence-embedding,\n"
            "            feature-extraction, text-classification, token-classification (ner),\n"
            "            question-answering, fill-mask, zero-shot-classification, text-pair-scoring,\n"
            "            text-ranking (rerank), sentence-similarity, or auto (from config.json)\n"
            "  inspect   print a model's architecture, parameters, dtypes and forward kernels\n"
            "  tokenize  print token ids, tokens and offsets for texts (or decode ids)\n"
            "  bench     measure latency and throughput on this machine (table, json or csv; --plot)\n"
            "  serve     serve models over HTTP (TEI, OpenAI, TorchServe, KServe v2 protocols)\n\n"
            "A model is a directory with config.json + model.safetensors or pytorch_model.bin\n"
            "(+ tokenizer.json), or a Hugging Face model id found in the local cache (HF_HUB_CACHE, HF_HOME/hub,\n"
            "XDG_CACHE_HOME/huggingface/hub, ~/.cache/huggingface/hub); nothing is downloaded.\n\n"
            "environment:\n"
            "  TORCHLESS_MODEL        default model (directory or cached id) for every command; without\n"
            "                         it `run` uses the task's default model from the cache\n"
            "  TORCHLESS_NUM_THREADS  worker threads, a positive integer (default: the CPUs it may use)\n"
            "  TORCHLESS_ISA          run as a lower CPU class (our kernels and oneDNN): generic, avx2,\n"
            "                         avx2-vnni, avx512, avx512-vnni, avx512-bf16 or amx\n"
            "  TORCHLESS_QUANT_ALPHA   int8 smoothing strength 0..1 (0: off; default 0.5; experiments)\n"
            "  TORCHLESS_QUANT_KEEP    linear kinds int8 keeps in bf16 (default ffn_out; none; experiments)\n"
            "  TORCHLESS_GEMM         force a GEMM backend: dnnl, blas or ref\n"
            "  TORCHLESS_PACK         0 keeps weights unpacked (no oneDNN blocked layout)\n"
            "  TORCHLESS_PROFILE      1 prints per-op timings of each forward to stderr\n"
            "  TORCHLESS_API_KEY      `serve`: the key clients must send as Authorization: Bearer\n"
            "  TORCHLESS_LIB, TORCHLESS_CLI  (Python package) paths of libtorchless.so and of this program\n"
            "  GOMP_SPINCOUNT         `run` and `bench` set 10000 (short OpenMP spin-waits) unless it or\n"
            "                         OMP_WAIT_POLICY is set\n\n"
            "`torchless <command> --help` for a command's options.\n",
            tl_version());
}

/* Re-executes this program with GOMP_SPINCOUNT=10000 unless the user chose an OpenMP wait
 * policy: libgomp reads it once, when loaded, and its default long spins slow a forward on a
 * busy machine (docs/c-api.md, "Busy machines"). Returns only when it did not re-execute. */
static void short_openmp_spins(char **argv) {
    if (getenv("OMP_WAIT_POLICY") || getenv("GOMP_SPINCOUNT")) return;
    if (setenv("GOMP_SPINCOUNT", "10000", 1) != 0) return;
    execv("/proc/self/exe", argv);
    unsetenv("GOMP_SPINCOUNT"); /* exec failed: run with libgomp's defaults */
}

int main(int argc, char **argv) {
    if (argc < 2) { usage(stderr); return 2; }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "-h") || !strcmp(cmd, "--help") || !strcmp(cmd, "help")) { usage(stdout); return 0; }
    if (!strcmp(cmd, "--version") || !strcmp(cmd, "version")) { printf("torchless %s\n", tl_version()); return 0; }
    if (!tl_cli_check_env()) return 2;
    if (!strcmp(cmd, "run") || !strcmp(cmd, "bench")) {
        short_openmp_spins(argv);
        return (cmd[0] == 'r' ? tl_cmd_run : tl_cmd_bench)(argc - 1, argv + 1);
    }
    if (!strcmp(cmd, "inspect")) return tl_cmd_inspect(argc - 1, argv + 1);
    if (!strcmp(cmd, "tokenize")) return tl_cmd_tokenize(argc - 1, argv + 1);
    if (!strcmp(cmd, "serve")) {
        short_openmp_spins(argv);
        return tl_cmd_serve(argc - 1, argv + 1);
    }
    fprintf(stderr, "torchless: unknown command '%s'\n\n", cmd);
    usage(stderr);
    return 2;
}
