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
            "  run       run a task (feature-extraction, sentence-embedding) on texts, print JSON\n"
            "  inspect   print a model's architecture, parameters, dtypes and forward kernels\n"
            "  tokenize  print token ids, tokens and offsets for texts\n"
            "  serve     serve models over HTTP (TEI, OpenAI, TorchServe, KServe v2 protocols)\n\n"
            "A model is a directory with config.json + model.safetensors (+ tokenizer.json), or a\n"
            "Hugging Face model id found in the local cache (HF_HUB_CACHE, HF_HOME/hub,\n"
            "~/.cache/huggingface/hub); nothing is downloaded. TORCHLESS_MODEL sets a default.\n"
            "TORCHLESS_NUM_THREADS sets the thread count (default: the CPUs it may use). `run` sets\n"
            "GOMP_SPINCOUNT=10000 (short OpenMP spin-waits) unless it or OMP_WAIT_POLICY is set.\n\n"
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
    if (!strcmp(cmd, "run")) {
        short_openmp_spins(argv);
        return tl_cmd_run(argc - 1, argv + 1);
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
