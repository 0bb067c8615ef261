/* test_hub.c — resolving directories and model ids against fake Hugging Face caches
 * built in a temp dir (HF_HUB_CACHE, HF_HOME, XDG_CACHE_HOME, HOME set with setenv). */
#include "tl_test.h"
#include "tl_tmpdir.h"
#include "io/hub.h"

#include <fcntl.h>
#include <ftw.h>
#include <sys/stat.h>
#include <unistd.h>


/* Returns a static path tmpdir/rel (creating the temp dir on first use). */
static const char *tmp_path(const char *rel) { return tl_tmp_join("hub", rel); }

/* mkdir -p tmpdir/rel, optionally setting its mtime; returns the full path. */
static const char *mkdirs(const char *rel, time_t mtime) {
    const char *full = tmp_path(rel);
    char p[512];
    snprintf(p, sizeof p, "%s", full);
    for (char *s = p + strlen(tl_tmp_root("hub")) + 1; *s; s++)
        if (*s == '/') { *s = '\0'; mkdir(p, 0700); *s = '/'; }
    mkdir(p, 0700);
    if (mtime) {
        struct timespec ts[2] = {{mtime, 0}, {mtime, 0}};
        utimensat(AT_FDCWD, p, ts, 0);
    }
    return full;
}

static void write_file(const char *rel, const char *content) {
    FILE *f = fopen(tmp_path(rel), "w");
    if (!f) { perror(rel); exit(2); }
    fputs(content, f);
    fclose(f);
}

/* Clears every cache variable, then sets HF_HUB_CACHE to tmpdir/rel when rel != NULL. */
static void env_only_hub_cache(const char *rel) {
    unsetenv("HF_HUB_CACHE");
    unsetenv("HUGGINGFACE_HUB_CACHE");
    unsetenv("HF_HOME");
    unsetenv("XDG_CACHE_HOME");
    unsetenv("HOME");
    if (rel) setenv("HF_HUB_CACHE", tmp_path(rel), 1);
}

/* Resolves arg, expecting success and a path ending in want_suffix. */
static void expect_dir(const char *arg, const char *want_suffix) {
    char *dir = NULL;
    CHECK_OK(tl_resolve_model_dir(arg, &dir));
    size_t a = dir ? strlen(dir) : 0, b = strlen(want_suffix);
    CHECK(dir && a >= b && strcmp(dir + a - b, want_suffix) == 0);
    if (dir && !(a >= b && strcmp(dir + a - b, want_suffix) == 0))
        fprintf(stderr, "    got %s, want ...%s\n", dir, want_suffix);
    free(dir);
}

/* Resolves arg, expecting status want and a message containing needle. */
static void expect_err(const char *arg, tl_status want, const char *needle) {
    char *dir = (char *)1;
    tl_status s = tl_resolve_model_dir(arg, &dir);
    CHECK(s == want && dir == NULL);
    if (s != want) fprintf(stderr, "    %s: got %s: %s\n", arg, tl_status_name(s), tl_last_error());
    CHECK_CONTAINS(tl_last_error(), needle);
    if (s == TL_OK) free(dir);
}

TL_TEST(existing_directory_is_returned) {
    const char *d = mkdirs("plain/model", 0);
    char *dir = NULL;
    CHECK_OK(tl_resolve_model_dir(d, &dir));
    CHECK(dir && strcmp(dir, d) == 0 && dir != d);
    free(dir);
}

TL_TEST(path_like_arguments) {
    env_only_hub_cache("c1");
    expect_err("./no-such-model-dir", TL_ERR_IO, "./no-such-model-dir: no such directory");
    expect_err("../no-such-model-dir", TL_ERR_IO, "no such directory");
    expect_err("/nonexistent/torchless/model", TL_ERR_IO, "/nonexistent/torchless/model: no such directory");
    expect_err("~/no-such-model-dir", TL_ERR_IO, "no such directory");
    write_file("afile", "x");
    expect_err(tmp_path("afile"), TL_ERR_IO, "not a directory");
    /* ~/ is expanded with $HOME when the shell did not */
    mkdirs("home1/models/m", 0);
    setenv("HOME", tmp_path("home1"), 1);
    expect_dir("~/models/m", "/home1/models/m");
}

TL_TEST(invalid_ids) {
    env_only_hub_cache("c1");
    expect_err("a/b/c", TL_ERR_INVALID_ARG, "more than one '/'");
    expect_err("org/", TL_ERR_INVALID_ARG, "empty part");
    expect_err("a..b", TL_ERR_INVALID_ARG, "'..'");
    expect_err("org/..", TL_ERR_INVALID_ARG, "'..'");
    expect_err("org/na me", TL_ERR_INVALID_ARG, "invalid character");
    expect_err("", TL_ERR_INVALID_ARG, "empty");
    CHECK(tl_resolve_model_dir(NULL, NULL) == TL_ERR_INVALID_ARG);
}

TL_TEST(refs_main_selects_snapshot) {
    mkdirs("c2/models--org--name/snapshots/abc123", 1000);
    mkdirs("c2/models--org--name/snapshots/zzz999", 2000); /* newer, but refs/main wins */
    mkdirs("c2/models--org--name/refs", 0);
    write_file("c2/models--org--name/refs/main", "  abc123\n");
    env_only_hub_cache("c2");
    expect_dir("org/name", "/c2/models--org--name/snapshots/abc123");

    /* refs/main naming a snapshot that is gone: fall back to the newest */
    write_file("c2/models--org--name/refs/main", "deadbeef\n");
    expect_dir("org/name", "/c2/models--org--name/snapshots/zzz999");
    /* refs/main trying to escape */
    write_file("c2/models--org--name/refs/main", "../../x\n");
    expect_dir("org/name", "/c2/models--org--name/snapshots/zzz999");
}

TL_TEST(without_refs_newest_snapshot) {
    mkdirs("c3/models--solo/snapshots/only", 0);
    env_only_hub_cache("c3");
    expect_dir("solo", "/c3/models--solo/snapshots/only");

    mkdirs("c3/models--org--multi/snapshots/old", 1000);
    mkdirs("c3/models--org--multi/snapshots/new", 3000);
    mkdirs("c3/models--org--multi/snapshots/mid", 2000);
    write_file("c3/models--org--multi/snapshots/notadir", "x");
    expect_dir("org/multi", "/c3/models--org--multi/snapshots/new");
}

TL_TEST(cache_root_order) {
    mkdirs("hfhome/hub/models--o--m/snapshots/h1", 0);
    mkdirs("xdg/huggingface/hub/models--o--m/snapshots/x1", 0);
    mkdirs("home2/.cache/huggingface/hub/models--o--m/snapshots/d1", 0);
    mkdirs("hubcache/models--o--m/snapshots/c1", 0);

    env_only_hub_cache(NULL);
    setenv("HOME", tmp_path("home2"), 1);
    expect_dir("o/m", "/home2/.cache/huggingface/hub/models--o--m/snapshots/d1");
    setenv("XDG_CACHE_HOME", tmp_path("xdg"), 1);
    expect_dir("o/m", "/xdg/huggingface/hub/models--o--m/snapshots/x1");
    setenv("HF_HOME", tmp_path("hfhome"), 1);
    expect_dir("o/m", "/hfhome/hub/models--o--m/snapshots/h1");
    setenv("HF_HUB_CACHE", tmp_path("hubcache"), 1);
    expect_dir("o/m", "/hubcache/models--o--m/snapshots/c1");
    /* a root without the model is skipped */
    setenv("HF_HUB_CACHE", tmp_path("emptycache"), 1);
    expect_dir("o/m", "/hfhome/hub/models--o--m/snapshots/h1");
}

TL_TEST(not_found_message) {
    env_only_hub_cache("nf1");
    setenv("HF_HOME", tmp_path("nf2"), 1);
    setenv("HOME", tmp_path("nf3"), 1);
    char *dir = (char *)1;
    CHECK(tl_resolve_model_dir("sentence-transformers/all-MiniLM-L6-v2", &dir) == TL_ERR_IO);
    CHECK(dir == NULL);
    const char *e = tl_last_error();
    CHECK_CONTAINS(e, "sentence-transformers/all-MiniLM-L6-v2");
    CHECK_CONTAINS(e, tmp_path("nf1/models--sentence-transformers--all-MiniLM-L6-v2"));
    CHECK_CONTAINS(e, tmp_path("nf2/hub/models--sentence-transformers--all-MiniLM-L6-v2"));
    CHECK_CONTAINS(e, tmp_path("nf3/.cache/huggingface/hub/models--sentence-transformers--all-MiniLM-L6-v2"));
    CHECK_CONTAINS(e, "download it first or pass a directory path (we are offline)");

    /* a repo dir with no snapshots is not found either */
    mkdirs("nf1/models--org--empty/snapshots", 0);
    expect_err("org/empty", TL_ERR_IO, "models--org--empty");

    env_only_hub_cache(NULL);
    expect_err("org/name", TL_ERR_IO, "none of HF_HUB_CACHE");
}
