/* fuzz_st_config.c — libFuzzer target: any sentence-transformers module configuration
 * (modules.json, 1_Pooling/config.json, sentence_bert_config.json) must be read or refused
 * with an error, never crash, leak or read out of bounds. Input: the three files' bytes
 * separated by NUL bytes (a missing part: that file is absent), written into a scratch
 * model directory (in /dev/shm when there is one) that tl_st_config_load reads. */
#include "model/st_config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

static char g_dir[256];

/* Removes the scratch directory at exit. */
static void cleanup(void) {
    static const char *rel[] = {"modules.json", "1_Pooling/config.json", "sentence_bert_config.json", "1_Pooling", ""};
    char p[512];
    for (size_t i = 0; i < sizeof rel / sizeof rel[0]; i++) {
        snprintf(p, sizeof p, "%s/%s", g_dir, rel[i]);
        i < 3 ? unlink(p) : rmdir(p);
    }
}

/* Makes the scratch model directory (with 1_Pooling/). */
int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc; (void)argv;
    snprintf(g_dir, sizeof g_dir, "%s/tl_fuzz_st_XXXXXX", access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
    char sub[300];
    if (!mkdtemp(g_dir)) { perror("fuzz_st_config: mkdtemp"); exit(1); }
    snprintf(sub, sizeof sub, "%s/1_Pooling", g_dir);
    if (mkdir(sub, 0700)) { perror("fuzz_st_config: mkdir"); exit(1); }
    atexit(cleanup);
    return 0;
}

/* Writes n bytes of s to g_dir/rel, or removes the file when s is NULL. */
static void put(const char *rel, const unsigned char *s, size_t n) {
    char p[512];
    snprintf(p, sizeof p, "%s/%s", g_dir, rel);
    if (!s) { unlink(p); return; }
    FILE *f = fopen(p, "wb");
    if (!f) { perror(p); abort(); }
    if (n && fwrite(s, 1, n, f) != n) abort();
    fclose(f);
}

/* One input: split at NULs into the three files, load the module stack, describe it. */
int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size) {
    static const char *rel[3] = {"modules.json", "1_Pooling/config.json", "sentence_bert_config.json"};
    const unsigned char *p = data, *end = data + size;
    for (int i = 0; i < 3; i++) {
        if (!p) { put(rel[i], NULL, 0); continue; }
        const unsigned char *z = memchr(p, 0, (size_t)(end - p));
        put(rel[i], p, (size_t)((z ? z : end) - p));
        p = z ? z + 1 : NULL;
    }
    tl_st_config cfg;
    if (tl_st_config_load(g_dir, &cfg) == TL_OK) {
        char buf[128];
        tl_st_pooling_describe(&cfg, buf, sizeof buf);
        if (tl_st_pooling_count(&cfg) > 6) abort();
    }
    return 0;
}
