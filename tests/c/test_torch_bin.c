/* test_torch_bin.c — the pytorch_model.bin reader (zip + restricted pickle, legacy layout,
 * shards) on files built here byte by byte: valid files (tied storages, offsets, strided
 * views, bf16), and one hostile file per failure (truncated, bad zip offsets, overlapping
 * entries, compressed entries, huge sizes, storages smaller than their views, wrong
 * dtypes, deep nesting, refused globals), each answered with the right status and a
 * message naming the file and the tensor / entry / global; random mutations never crash. */
#include "tl_test.h"
#include "tl_tmpdir.h"
#include "io/safetensors.h"
#include "io/torch_bin.h"
#include "core/util.h"

#include <stdint.h>
#include <sys/stat.h>
#include <time.h>

static const char *tmp_path(const char *name) { return tl_tmp_join("tbin", name); }

/* ------------------------------------------------------------------ byte buffers */

typedef struct buf {
    unsigned char *p;
    size_t n, cap;
} buf;

static void put(buf *b, const void *d, size_t n) {
    if (b->n + n > b->cap) {
        b->cap = (b->n + n) * 2 + 64;
        b->p = realloc(b->p, b->cap);
        if (!b->p) exit(2);
    }
    if (n) memcpy(b->p + b->n, d, n);
    b->n += n;
}
static void put_le(buf *b, uint64_t v, int n) {
    for (int i = 0; i < n; i++) {
        unsigned char c = (unsigned char)(v >> (8 * i));
        put(b, &c, 1);
    }
}
static void op(buf *b, int c) { put_le(b, (unsigned)c, 1); }
static void set_le(unsigned char *p, uint64_t v, int n) {
    for (int i = 0; i < n; i++) p[i] = (unsigned char)(v >> (8 * i));
}

static void write_raw(const char *path, const void *p, size_t n) {
    FILE *f = fopen(path, "wb");
    if (!f) { perror(path); exit(2); }
    if (n && fwrite(p, 1, n, f) != n) { perror(path); exit(2); }
    fclose(f);
}

/* ------------------------------------------------------------------ pickles */

static void pk_str(buf *b, const char *s) {
    op(b, 'X');
    put_le(b, strlen(s), 4);
    put(b, s, strlen(s));
}
static void pk_int(buf *b, long long v) {
    if (v >= INT32_MIN && v <= INT32_MAX) {
        op(b, 'J');
        put_le(b, (uint64_t)v, 4);
    } else {
        op(b, 0x8a);
        op(b, 8);
        put_le(b, (uint64_t)v, 8);
    }
}
static void pk_global(buf *b, const char *mod, const char *name) {
    op(b, 'c');
    put(b, mod, strlen(mod));
    op(b, '\n');
    put(b, name, strlen(name));
    op(b, '\n');
}

typedef struct spec {
    const char *name, *cls, *key;
    long long numel, offset;
    int ndim;
    long long size[4], stride[4];
} spec;

/* _rebuild_tensor_v2(persistent_id(('storage', torch.<cls>, key, 'cpu', numel)), offset,
 * size, stride, False, OrderedDict()). */
static void pk_tensor(buf *b, const spec *t) {
    pk_global(b, "torch._utils", "_rebuild_tensor_v2");
    op(b, '(');
    op(b, '(');
    pk_str(b, "storage");
    pk_global(b, "torch", t->cls);
    pk_str(b, t->key);
    pk_str(b, "cpu");
    pk_int(b, t->numel);
    op(b, 't');
    op(b, 'Q');
    pk_int(b, t->offset);
    op(b, '(');
    for (int d = 0; d < t->ndim; d++) pk_int(b, t->size[d]);
    op(b, 't');
    op(b, '(');
    for (int d = 0; d < t->ndim; d++) pk_int(b, t->stride[d]);
    op(b, 't');
    op(b, 0x89);
    pk_global(b, "collections", "OrderedDict");
    op(b, ')');
    op(b, 'R');
    op(b, 't');
    op(b, 'R');
}

/* A whole state-dict pickle (OrderedDict of the n tensors) into b. */
static void pk_state_dict(buf *b, const spec *t, size_t n) {
    op(b, 0x80);
    op(b, 2);
    pk_global(b, "collections", "OrderedDict");
    op(b, ')');
    op(b, 'R');
    op(b, '(');
    for (size_t i = 0; i < n; i++) {
        pk_str(b, t[i].name);
        pk_tensor(b, &t[i]);
    }
    op(b, 'u');
    op(b, '.');
}

/* ------------------------------------------------------------------ zip archives */

typedef struct zent {
    const char *name;
    const void *data;
    size_t len;
} zent;

static size_t g_local[16], g_central[16], g_cd_start; /* offsets of the last zip built */
static int g_zip64; /* write zip64 records (saturated 32-bit fields), as for checkpoints over 4 GiB */

/* A STORED zip of the entries, data aligned to 64 bytes (padding in the extra field). */
static void zip_build(buf *b, const zent *e, size_t n) {
    b->n = 0;
    for (size_t i = 0; i < n; i++) {
        g_local[i] = b->n;
        size_t nl = strlen(e[i].name), pad = (64 - (b->n + 30 + nl) % 64) % 64;
        if (pad && pad < 4) pad += 64;
        put_le(b, 0x04034b50, 4);
        put_le(b, 20, 2), put_le(b, 0, 2), put_le(b, 0, 2), put_le(b, 0, 4), put_le(b, 0, 4);
        put_le(b, e[i].len, 4), put_le(b, e[i].len, 4), put_le(b, nl, 2), put_le(b, pad, 2);
        put(b, e[i].name, nl);
        if (pad) {
            put_le(b, 0x4246, 2), put_le(b, pad - 4, 2);
            for (size_t k = 4; k < pad; k++) op(b, 'Z');
        }
        put(b, e[i].data, e[i].len);
    }
    g_cd_start = b->n;
    for (size_t i = 0; i < n; i++) {
        g_central[i] = b->n;
        size_t nl = strlen(e[i].name);
        uint64_t sat = g_zip64 ? 0xffffffffu : 0;
        put_le(b, 0x02014b50, 4);
        put_le(b, 20, 2), put_le(b, 20, 2), put_le(b, 0, 2), put_le(b, 0, 2), put_le(b, 0, 4), put_le(b, 0, 4);
        put_le(b, sat ? sat : e[i].len, 4), put_le(b, sat ? sat : e[i].len, 4), put_le(b, nl, 2);
        put_le(b, g_zip64 ? 28 : 0, 2), put_le(b, 0, 2);
        put_le(b, 0, 2), put_le(b, 0, 2), put_le(b, 0, 4), put_le(b, sat ? sat : g_local[i], 4);
        put(b, e[i].name, nl);
        if (g_zip64) { /* id 1: uncompressed size, compressed size, local header offset */
            put_le(b, 1, 2), put_le(b, 24, 2);
            put_le(b, e[i].len, 8), put_le(b, e[i].len, 8), put_le(b, g_local[i], 8);
        }
    }
    size_t cd_size = b->n - g_cd_start;
    if (g_zip64) {
        size_t end64 = b->n;
        put_le(b, 0x06064b50, 4), put_le(b, 44, 8), put_le(b, 45, 2), put_le(b, 45, 2), put_le(b, 0, 4);
        put_le(b, 0, 4), put_le(b, n, 8), put_le(b, n, 8), put_le(b, cd_size, 8), put_le(b, g_cd_start, 8);
        put_le(b, 0x07064b50, 4), put_le(b, 0, 4), put_le(b, end64, 8), put_le(b, 1, 4);
    }
    put_le(b, 0x06054b50, 4);
    put_le(b, 0, 2), put_le(b, 0, 2), put_le(b, g_zip64 ? 0xffff : n, 2), put_le(b, g_zip64 ? 0xffff : n, 2);
    put_le(b, g_zip64 ? 0xffffffffu : cd_size, 4), put_le(b, g_zip64 ? 0xffffffffu : g_cd_start, 4), put_le(b, 0, 2);
}

/* The reference checkpoint: storage 0 = F32 0..5, storage 1 = BF16 [1, -2, 0.5]. */
static const spec k_valid[] = {
    {"w", "FloatStorage", "0", 6, 0, 2, {2, 3}, {3, 1}},
    {"tied", "FloatStorage", "0", 6, 0, 2, {2, 3}, {3, 1}},
    {"t", "FloatStorage", "0", 6, 0, 2, {3, 2}, {1, 3}},      /* w transposed: a strided view */
    {"row1", "FloatStorage", "0", 6, 3, 1, {3}, {1}},         /* offset view */
    {"h", "BFloat16Storage", "1", 3, 0, 1, {3}, {1}},
    {"empty", "FloatStorage", "0", 6, 0, 2, {0, 4}, {4, 1}},
    {"scalar", "FloatStorage", "0", 6, 5, 0, {0}, {0}},
    {"col", "FloatStorage", "0", 6, 3, 2, {1, 3}, {7, 1}},    /* any stride on a size-1 dim: contiguous */
};
#define N_VALID (sizeof k_valid / sizeof k_valid[0])

static const float k_f32[6] = {0, 1, 2, 3, 4, 5};
static const uint16_t k_bf16[3] = {0x3f80, 0xc000, 0x3f00};

/* Builds a torch.save-shaped zip of the tensors t with prefix pre ("archive") into b. */
static void build_zip(buf *b, const char *pre, const spec *t, size_t n) {
    buf pk = {0};
    pk_state_dict(&pk, t, n);
    char names[5][64];
    snprintf(names[0], 64, "%s/data.pkl", pre);
    snprintf(names[1], 64, "%s/byteorder", pre);
    snprintf(names[2], 64, "%s/data/0", pre);
    snprintf(names[3], 64, "%s/data/1", pre);
    snprintf(names[4], 64, "%s/version", pre);
    zent e[5] = {{names[0], pk.p, pk.n}, {names[1], "little", 6}, {names[2], k_f32, sizeof k_f32},
                 {names[3], k_bf16, sizeof k_bf16}, {names[4], "3\n", 2}};
    zip_build(b, e, 5);
    free(pk.p);
}

/* Opens path expecting status want and a message holding each of the NULL-ended needles. */
static void expect_fail(const char *path, tl_status want, const char *const *needles) {
    tl_torch_bin *tb = NULL;
    tl_status s = tl_tbin_open_file(path, &tb);
    CHECK(s == want);
    CHECK(tb == NULL);
    if (s != want) fprintf(stderr, "  got %s: %s\n", tl_status_name(s), tl_last_error());
    CHECK_CONTAINS(tl_last_error(), path);
    for (; *needles; needles++) CHECK_CONTAINS(tl_last_error(), *needles);
    tl_tbin_close(tb);
}
#define EXPECT_FAIL(path, want, ...) expect_fail((path), (want), (const char *const[]){__VA_ARGS__, NULL})

/* Writes buf b as name and returns its path. */
static const char *save(const char *name, const buf *b) {
    const char *p = tmp_path(name);
    write_raw(p, b->p, b->n);
    return p;
}

/* Checks the tensors of k_valid as read into st. */
static void check_valid_set(const tl_safetensors *st) {
    CHECK(tl_st_count(st) == N_VALID);
    const tl_st_tensor *w = tl_st_find(st, "w"), *tied = tl_st_find(st, "tied"), *t = tl_st_find(st, "t");
    const tl_st_tensor *row1 = tl_st_find(st, "row1"), *h = tl_st_find(st, "h"), *e = tl_st_find(st, "empty");
    const tl_st_tensor *sc = tl_st_find(st, "scalar"), *col = tl_st_find(st, "col");
    if (!w || !tied || !t || !row1 || !h || !e || !sc || !col) { CHECK(0); return; }
    CHECK(w->dtype == TL_DTYPE_F32 && w->ndim == 2 && w->shape[0] == 2 && w->shape[1] == 3 && w->numel == 6);
    CHECK(w->data == tied->data);                 /* tied weights: one storage, no copy */
    CHECK((uintptr_t)w->data % 64 == 0);          /* mapped in place, aligned */
    CHECK(memcmp(w->data, k_f32, sizeof k_f32) == 0);
    const float *tv = t->data;
    CHECK(t->shape[0] == 3 && t->shape[1] == 2);
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 2; j++) CHECK(tv[i * 2 + j] == k_f32[j * 3 + i]);
    CHECK(row1->data == (const float *)w->data + 3 && row1->numel == 3);
    float hf[3];
    CHECK_OK(tl_st_copy_f32(h, hf));
    CHECK(h->dtype == TL_DTYPE_BF16 && hf[0] == 1.0f && hf[1] == -2.0f && hf[2] == 0.5f);
    CHECK(e->numel == 0 && e->ndim == 2);
    CHECK(sc->ndim == 0 && sc->numel == 1 && *(const float *)sc->data == 5.0f);
    CHECK(col->numel == 3 && memcmp(col->data, k_f32 + 3, 3 * sizeof(float)) == 0);
    CHECK(strcmp(col->file, w->file) != 0 || col->data == (const float *)w->data + 3); /* in place */
}

TL_TEST(valid_zip_with_any_prefix) {
    const char *prefixes[] = {"archive", "pytorch_model", "x"};
    for (int i = 0; i < 3; i++) {
        buf b = {0};
        build_zip(&b, prefixes[i], k_valid, N_VALID);
        char dir[64];
        snprintf(dir, sizeof dir, "valid%d", i);
        mkdir(tmp_path(dir), 0700);
        char rel[96];
        snprintf(rel, sizeof rel, "%s/pytorch_model.bin", dir);
        save(rel, &b);
        tl_safetensors *st = NULL;
        CHECK_OK(tl_st_open_dir(tmp_path(dir), &st));
        if (st) {
            check_valid_set(st);
            CHECK_CONTAINS(tl_st_find(st, "w")->file, "pytorch_model.bin");
        }
        tl_st_close(st);
        free(b.p);
    }
}

TL_TEST(valid_zip64_records) {
    buf b = {0};
    g_zip64 = 1;
    build_zip(&b, "archive", k_valid, N_VALID);
    g_zip64 = 0;
    tl_torch_bin *tb = NULL;
    CHECK_OK(tl_tbin_open_file(save("zip64.bin", &b), &tb));
    CHECK(tl_tbin_count(tb) == N_VALID);
    if (tb) CHECK(memcmp(tl_tbin_views(tb)[0].data, k_f32, sizeof k_f32) == 0);
    tl_tbin_close(tb);
    /* the zip64 extra field's local header offset past the end */
    g_zip64 = 1;
    build_zip(&b, "archive", k_valid, N_VALID);
    g_zip64 = 0;
    set_le(b.p + g_central[2] + 46 + strlen("archive/data/0") + 20, 1ull << 40, 8);
    EXPECT_FAIL(save("zip64bad.bin", &b), TL_ERR_FORMAT, "archive/data/0", "local header offset 1099511627776");
    free(b.p);
}

/* The legacy layout of k_valid: five pickles, then u64 count + data per storage. */
static void build_legacy(buf *b, int truncate_data) {
    b->n = 0;
    op(b, 0x80), op(b, 2), op(b, 0x8a), op(b, 10);
    static const unsigned char magic[10] = {0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19};
    put(b, magic, 10);
    op(b, '.');
    op(b, 0x80), op(b, 2), pk_int(b, 1001), op(b, '.');
    op(b, 0x80), op(b, 2), op(b, '}'), pk_str(b, "little_endian"), op(b, 0x88), op(b, 's'), op(b, '.');
    pk_state_dict(b, k_valid, N_VALID);
    op(b, 0x80), op(b, 2), op(b, ']'), op(b, '('), pk_str(b, "1"), pk_str(b, "0"), op(b, 'e'), op(b, '.');
    put_le(b, 3, 8);
    put(b, k_bf16, sizeof k_bf16);
    put_le(b, 6, 8);
    put(b, k_f32, sizeof k_f32 - (truncate_data ? 1 : 0));
}

TL_TEST(valid_legacy) {
    buf b = {0};
    build_legacy(&b, 0);
    mkdir(tmp_path("legacy"), 0700);
    save("legacy/pytorch_model.bin", &b);
    tl_safetensors *st = NULL;
    CHECK_OK(tl_st_open_dir(tmp_path("legacy"), &st));
    if (st) {
        /* legacy data is not aligned: compare by copy */
        const tl_st_tensor *w = tl_st_find(st, "w");
        float v[6];
        CHECK(w && tl_st_copy_f32(w, v) == TL_OK && memcmp(v, k_f32, sizeof v) == 0);
        CHECK(w && tl_st_find(st, "tied")->data == w->data);
        CHECK(tl_st_count(st) == N_VALID);
    }
    tl_st_close(st);
    build_legacy(&b, 1);
    EXPECT_FAIL(save("legacy_trunc.bin", &b), TL_ERR_FORMAT, "storage '0'", "truncated");
    free(b.p);
}

TL_TEST(sharded_index) {
    mkdir(tmp_path("shards"), 0700);
    buf b = {0};
    build_zip(&b, "archive", k_valid, 4);
    save("shards/a.bin", &b);
    build_zip(&b, "archive", k_valid + 4, N_VALID - 4);
    save("shards/b.bin", &b);
    const char *idx = "{\"metadata\": {}, \"weight_map\": {\"w\": \"a.bin\", \"tied\": \"a.bin\", \"t\": \"a.bin\", "
                      "\"row1\": \"a.bin\", \"h\": \"b.bin\", \"empty\": \"b.bin\", \"scalar\": \"b.bin\", "
                      "\"col\": \"b.bin\"}}";
    write_raw(tmp_path("shards/pytorch_model.bin.index.json"), idx, strlen(idx));
    tl_safetensors *st = NULL;
    CHECK_OK(tl_st_open_dir(tmp_path("shards"), &st));
    if (st) {
        check_valid_set(st);
        CHECK_CONTAINS(tl_st_find(st, "h")->file, "b.bin");
        CHECK_CONTAINS(tl_st_find(st, "w")->file, "a.bin");
    }
    tl_st_close(st);
    /* a listed tensor missing from its shard; a tensor in two shards; a path escape */
    const char *bad[][2] = {
        {"{\"weight_map\": {\"w\": \"b.bin\", \"h\": \"b.bin\"}}", "has no such tensor"},
        {"{\"weight_map\": {\"w\": \"../a.bin\"}}", "may not contain"},
        {"{\"weight_map\": {}}", "empty"},
    };
    mkdir(tmp_path("shards2"), 0700);
    build_zip(&b, "archive", k_valid, 4);
    save("shards2/a.bin", &b);
    save("shards2/b.bin", &b);
    for (int i = 0; i < 3; i++) {
        write_raw(tmp_path("shards/pytorch_model.bin.index.json"), bad[i][0], strlen(bad[i][0]));
        CHECK(tl_st_open_dir(tmp_path("shards"), &st) == TL_ERR_FORMAT && !st);
        CHECK_CONTAINS(tl_last_error(), bad[i][1]);
    }
    const char *dup = "{\"weight_map\": {\"w\": \"a.bin\", \"tied\": \"b.bin\"}}";
    write_raw(tmp_path("shards2/pytorch_model.bin.index.json"), dup, strlen(dup));
    CHECK(tl_st_open_dir(tmp_path("shards2"), &st) == TL_ERR_FORMAT && !st);
    CHECK_CONTAINS(tl_last_error(), "is in both");
    free(b.p);
}

TL_TEST(safetensors_first_then_bin_then_nothing) {
    mkdir(tmp_path("none"), 0700);
    tl_safetensors *st = NULL;
    CHECK(tl_st_open_dir(tmp_path("none"), &st) == TL_ERR_IO);
    CHECK_CONTAINS(tl_last_error(), "pytorch_model.bin");
}

/* ------------------------------------------------------------------ hostile files */

TL_TEST(hostile_truncated_at_every_byte) {
    buf b = {0};
    build_zip(&b, "archive", k_valid, N_VALID);
    size_t n = b.n, fails = 0;
    const char *p = tmp_path("trunc.bin");
    for (size_t k = 0; k < n; k++) {
        write_raw(p, b.p, k);
        tl_torch_bin *tb = NULL;
        tl_status s = tl_tbin_open_file(p, &tb);
        fails += s != TL_OK;
        CHECK(s != TL_OK || tb);
        tl_tbin_close(tb);
    }
    CHECK(fails == n); /* the end record is last: every strict prefix is refused */
    write_raw(p, b.p, n - 5);
    EXPECT_FAIL(p, TL_ERR_FORMAT, "end-of-central-directory");
    free(b.p);
}

TL_TEST(hostile_bad_zip_offsets) {
    buf b = {0};
    build_zip(&b, "archive", k_valid, N_VALID);
    set_le(b.p + g_central[2] + 42, 0x7fffff00u, 4); /* local header offset past the end */
    EXPECT_FAIL(save("badoff.bin", &b), TL_ERR_FORMAT, "archive/data/0", "local header offset");
    build_zip(&b, "archive", k_valid, N_VALID);
    set_le(b.p + g_central[2] + 42, g_local[3], 4); /* points at another entry's header */
    EXPECT_FAIL(save("badoff2.bin", &b), TL_ERR_FORMAT, "archive/data/0", "different entry");
    build_zip(&b, "archive", k_valid, N_VALID);
    set_le(b.p + b.n - 6, 0xfffffff0u, 4); /* central directory offset */
    EXPECT_FAIL(save("badcd.bin", &b), TL_ERR_FORMAT, "central directory");
    build_zip(&b, "archive", k_valid, N_VALID);
    set_le(b.p + b.n - 12, 0xffff, 2); /* entry count */
    set_le(b.p + b.n - 14, 0xffff, 2);
    EXPECT_FAIL(save("badcount.bin", &b), TL_ERR_FORMAT, "65535 entries");
    free(b.p);
}

TL_TEST(hostile_overlapping_entries) {
    buf b = {0};
    build_zip(&b, "archive", k_valid, N_VALID);
    /* entry 2 (data/0) grows to cover entry 3's header and data */
    size_t grow = sizeof k_f32 + 64;
    for (int k = 0; k < 2; k++) {
        set_le(b.p + g_central[2] + 20 + 4 * k, grow, 4);
        set_le(b.p + g_local[2] + 18 + 4 * k, grow, 4);
    }
    EXPECT_FAIL(save("overlap.bin", &b), TL_ERR_FORMAT, "overlap", "archive/data/0", "archive/data/1");
    free(b.p);
}

TL_TEST(hostile_compressed_entry) {
    buf b = {0};
    build_zip(&b, "archive", k_valid, N_VALID);
    set_le(b.p + g_central[0] + 10, 8, 2); /* deflate */
    EXPECT_FAIL(save("deflate.bin", &b), TL_ERR_FORMAT, "archive/data.pkl", "compressed");
    free(b.p);
}

TL_TEST(hostile_huge_declared_sizes) {
    buf b = {0};
    spec t = {"big", "FloatStorage", "0", 6, 0, 2, {1LL << 40, 1LL << 40}, {1LL << 40, 1}};
    build_zip(&b, "archive", &t, 1);
    EXPECT_FAIL(save("bigshape.bin", &b), TL_ERR_FORMAT, "tensor 'big'", "overflow");
    spec t2 = {"big", "FloatStorage", "0", 1LL << 62, 0, 1, {6}, {1}};
    build_zip(&b, "archive", &t2, 1);
    EXPECT_FAIL(save("bignumel.bin", &b), TL_ERR_FORMAT, "tensor 'big'", "storage '0' declares");
    spec t3 = {"big", "FloatStorage", "0", 6, 1LL << 61, 1, {6}, {1}};
    build_zip(&b, "archive", &t3, 1);
    EXPECT_FAIL(save("bigoffset.bin", &b), TL_ERR_FORMAT, "tensor 'big'");
    free(b.p);
}

TL_TEST(hostile_storage_smaller_than_view) {
    buf b = {0};
    spec t = {"w", "FloatStorage", "0", 6, 2, 2, {2, 3}, {3, 1}}; /* needs elements 2..7 of 6 */
    build_zip(&b, "archive", &t, 1);
    EXPECT_FAIL(save("small.bin", &b), TL_ERR_FORMAT, "tensor 'w'", "storage '0'", "reads element 7");
    spec s2 = {"t", "FloatStorage", "0", 6, 0, 2, {3, 2}, {1, 4}}; /* strided, last index 6 */
    build_zip(&b, "archive", &s2, 1);
    EXPECT_FAIL(save("small2.bin", &b), TL_ERR_FORMAT, "tensor 't'", "reads element 6");
    spec s3 = {"x", "FloatStorage", "0", 6, 0, 2, {4, 6}, {0, 1}}; /* 24 elements over 6: overlapping */
    build_zip(&b, "archive", &s3, 1);
    EXPECT_FAIL(save("expand.bin", &b), TL_ERR_UNSUPPORTED, "tensor 'x'", "overlapping");
    spec s4 = {"m", "FloatStorage", "9", 6, 0, 1, {6}, {1}}; /* no data/9 */
    build_zip(&b, "archive", &s4, 1);
    EXPECT_FAIL(save("missing.bin", &b), TL_ERR_FORMAT, "tensor 'm'", "archive/data/9");
    free(b.p);
}

TL_TEST(hostile_wrong_dtypes) {
    buf b = {0};
    spec t[2] = {{"a", "FloatStorage", "0", 6, 0, 1, {6}, {1}}, {"b", "HalfStorage", "0", 12, 0, 1, {12}, {1}}};
    build_zip(&b, "archive", t, 2);
    EXPECT_FAIL(save("twodtypes.bin", &b), TL_ERR_FORMAT, "tensor 'b'", "used as both F32 and F16");
    spec c = {"c", "ComplexFloatStorage", "0", 3, 0, 1, {3}, {1}};
    build_zip(&b, "archive", &c, 1);
    EXPECT_FAIL(save("complex.bin", &b), TL_ERR_UNSUPPORTED, "torch.ComplexFloatStorage");
    spec d = {"d", "DoubleStorage", "0", 6, 0, 1, {6}, {1}}; /* 6 doubles need 48 bytes, entry has 24 */
    build_zip(&b, "archive", &d, 1);
    EXPECT_FAIL(save("double.bin", &b), TL_ERR_FORMAT, "tensor 'd'", "holds 24 bytes");
    free(b.p);
}

/* A zip whose data.pkl is the given pickle bytes. */
static const char *save_pickle(const char *name, const buf *pk) {
    buf b = {0};
    zent e[2] = {{"archive/data.pkl", pk->p, pk->n}, {"archive/data/0", k_f32, sizeof k_f32}};
    zip_build(&b, e, 2);
    const char *p = save(name, &b);
    free(b.p);
    return p;
}

TL_TEST(hostile_deeply_nested_pickle) {
    clock_t t0 = clock();
    buf pk = {0};
    op(&pk, 0x80), op(&pk, 2);
    for (int i = 0; i < 100000; i++) op(&pk, '(');
    EXPECT_FAIL(save_pickle("marks.bin", &pk), TL_ERR_FORMAT, "nested MARKs");
    pk.n = 2;
    for (int i = 0; i < 1000000; i++) op(&pk, ']');
    EXPECT_FAIL(save_pickle("lists.bin", &pk), TL_ERR_FORMAT, "stack deeper");
    pk.n = 2; /* a list nested 50000 deep, built by APPEND: fine for the parser, not a state dict */
    op(&pk, ']');
    for (int i = 0; i < 50000; i++) op(&pk, ']');
    for (int i = 0; i < 50000; i++) op(&pk, 'a');
    op(&pk, '.');
    EXPECT_FAIL(save_pickle("nested.bin", &pk), TL_ERR_FORMAT, "not a dict of tensors");
    pk.n = 2;
    op(&pk, 'N'), op(&pk, 'r'), put_le(&pk, 0xffffffffu, 4);
    EXPECT_FAIL(save_pickle("memo.bin", &pk), TL_ERR_FORMAT, "memo key 4294967295");
    pk.n = 2;
    op(&pk, 'X'), put_le(&pk, 0xfffffff0u, 4);
    EXPECT_FAIL(save_pickle("str.bin", &pk), TL_ERR_FORMAT, "string of 4294967280 bytes");
    pk.n = 2;
    op(&pk, 'h'), op(&pk, 3);
    EXPECT_FAIL(save_pickle("get.bin", &pk), TL_ERR_FORMAT, "memo key 3 was never stored");
    pk.n = 2;
    op(&pk, 'N');
    EXPECT_FAIL(save_pickle("nostop.bin", &pk), TL_ERR_FORMAT, "no STOP");
    CHECK((double)(clock() - t0) / CLOCKS_PER_SEC < 20.0);
    free(pk.p);
}

TL_TEST(hostile_refused_globals_and_opcodes) {
    buf pk = {0};
    op(&pk, 0x80), op(&pk, 2);
    pk_global(&pk, "os", "system"), pk_str(&pk, "touch /tmp/tl_pwned"), op(&pk, 0x85), op(&pk, 'R'), op(&pk, '.');
    EXPECT_FAIL(save_pickle("os.bin", &pk), TL_ERR_FORMAT, "archive/data.pkl", "global 'os.system'", "refused");
    pk.n = 2;
    pk_str(&pk, "builtins"), pk_str(&pk, "eval"), op(&pk, 0x93);
    EXPECT_FAIL(save_pickle("sg.bin", &pk), TL_ERR_FORMAT, "global 'builtins.eval' (opcode STACK_GLOBAL)");
    pk.n = 2; /* a NUL byte must not let "collections\0x" pass as collections */
    op(&pk, 'X'), put_le(&pk, 13, 4), put(&pk, "collections\0x", 13), pk_str(&pk, "OrderedDict"), op(&pk, 0x93);
    EXPECT_FAIL(save_pickle("nul.bin", &pk), TL_ERR_FORMAT, "NUL");
    pk.n = 2;
    op(&pk, 'c'), put(&pk, "collections\0x\nOrderedDict\n", 26);
    EXPECT_FAIL(save_pickle("nul2.bin", &pk), TL_ERR_FORMAT, "NUL");
    pk.n = 2;
    op(&pk, '('), put(&pk, "isubprocess\nPopen\n", 18);
    EXPECT_FAIL(save_pickle("inst.bin", &pk), TL_ERR_FORMAT, "global 'subprocess.Popen' (opcode INST)");
    pk.n = 2; /* INST of an accepted global is still refused */
    op(&pk, '('), put(&pk, "icollections\nOrderedDict\n", 25);
    EXPECT_FAIL(save_pickle("inst2.bin", &pk), TL_ERR_FORMAT, "INST", "is not allowed");
    pk.n = 2;
    op(&pk, '('), pk_global(&pk, "collections", "OrderedDict"), op(&pk, 'o');
    EXPECT_FAIL(save_pickle("obj.bin", &pk), TL_ERR_FORMAT, "OBJ");
    pk.n = 2;
    pk_global(&pk, "collections", "OrderedDict"), op(&pk, ')'), op(&pk, 0x81);
    EXPECT_FAIL(save_pickle("newobj.bin", &pk), TL_ERR_FORMAT, "NEWOBJ");
    pk.n = 2; /* REDUCE of a REDUCE result: OrderedDict()() */
    pk_global(&pk, "collections", "OrderedDict"), op(&pk, ')'), op(&pk, 'R'), op(&pk, ')'), op(&pk, 'R');
    EXPECT_FAIL(save_pickle("rr.bin", &pk), TL_ERR_FORMAT, "REDUCE on a value that is not an accepted global");
    pk.n = 2;
    pk_global(&pk, "torch", "FloatStorage"), op(&pk, ')'), op(&pk, 'R');
    EXPECT_FAIL(save_pickle("callstorage.bin", &pk), TL_ERR_FORMAT, "calling torch.FloatStorage");
    pk.n = 2;
    op(&pk, 0x82), op(&pk, 1);
    EXPECT_FAIL(save_pickle("ext.bin", &pk), TL_ERR_FORMAT, "EXT");
    free(pk.p);
}

TL_TEST(hostile_persistent_ids_and_tensor_args) {
    buf pk = {0};
    op(&pk, 0x80), op(&pk, 2);
    pk_str(&pk, "storage"), pk_global(&pk, "collections", "OrderedDict"), op(&pk, 0x86), op(&pk, 'Q');
    EXPECT_FAIL(save_pickle("pid.bin", &pk), TL_ERR_FORMAT, "persistent id");
    pk.n = 2; /* negative shape */
    spec t = {"neg", "FloatStorage", "0", 6, 0, 1, {-1}, {1}};
    op(&pk, '}'), pk_str(&pk, "neg"), pk_tensor(&pk, &t), op(&pk, 's'), op(&pk, '.');
    EXPECT_FAIL(save_pickle("negshape.bin", &pk), TL_ERR_FORMAT, "size[0] is not a non-negative integer");
    pk.n = 2;
    spec t2 = {"k", "FloatStorage", "0", 6, -3, 1, {1}, {1}};
    op(&pk, '}'), pk_str(&pk, "k"), pk_tensor(&pk, &t2), op(&pk, 's'), op(&pk, '.');
    EXPECT_FAIL(save_pickle("negoff.bin", &pk), TL_ERR_FORMAT, "storage offset");
    free(pk.p);
}

TL_TEST(hostile_not_a_checkpoint) {
    const char *p = tmp_path("junk.bin");
    write_raw(p, "hello world, not a checkpoint", 29);
    EXPECT_FAIL(p, TL_ERR_FORMAT, "not a torch.save checkpoint");
    write_raw(p, "", 0);
    EXPECT_FAIL(p, TL_ERR_FORMAT, "0 bytes");
    buf b = {0};
    buf pk = {0};
    pk_state_dict(&pk, k_valid, 1);
    zent e[3] = {{"archive/data.pkl", pk.p, pk.n}, {"archive/byteorder", "big", 3}, {"archive/data/0", k_f32, 24}};
    zip_build(&b, e, 3);
    EXPECT_FAIL(save("big.bin", &b), TL_ERR_UNSUPPORTED, "little-endian");
    zent f[2] = {{"nodir.pkl", pk.p, pk.n}, {"archive/data/0", k_f32, 24}};
    zip_build(&b, f, 2);
    EXPECT_FAIL(save("noprefix.bin", &b), TL_ERR_FORMAT, "record prefix");
    zent g[1] = {{"archive/data/0", k_f32, 24}};
    zip_build(&b, g, 1);
    EXPECT_FAIL(save("nopkl.bin", &b), TL_ERR_FORMAT, "no archive/data.pkl");
    free(pk.p);
    free(b.p);
}

/* Flips random bytes of the valid zip and legacy files: open must fail cleanly or succeed. */
TL_TEST(random_mutations_never_crash) {
    buf z = {0}, l = {0};
    build_zip(&z, "archive", k_valid, N_VALID);
    build_legacy(&l, 0);
    const char *p = tmp_path("mut.bin");
    unsigned seed = 12345;
    int ok = 0, failed = 0;
    for (int it = 0; it < 3000; it++) {
        buf *src = it % 2 ? &l : &z;
        unsigned char *m = malloc(src->n);
        memcpy(m, src->p, src->n);
        int flips = 1 + (int)((seed = seed * 1103515245u + 12345u) >> 16) % 4;
        for (int f = 0; f < flips; f++) {
            seed = seed * 1103515245u + 12345u;
            size_t at = (seed >> 8) % src->n;
            seed = seed * 1103515245u + 12345u;
            m[at] = (unsigned char)(seed >> 16);
        }
        write_raw(p, m, src->n);
        free(m);
        tl_torch_bin *tb = NULL;
        tl_status s = tl_tbin_open_file(p, &tb);
        if (s == TL_OK) {
            ok++;
            for (size_t i = 0; i < tl_tbin_count(tb); i++) { /* every view's bytes are readable */
                const tl_tensor_view *v = &tl_tbin_views(tb)[i];
                size_t n = 1, sz = !strcmp(v->dtype, "F32") ? 4 : !strcmp(v->dtype, "BF16") ? 2 : 0;
                for (int d = 0; d < v->ndim; d++) n *= (size_t)v->shape[d];
                volatile unsigned char acc = 0;
                for (size_t k = 0; k < n * sz; k++) acc ^= ((const unsigned char *)v->data)[k];
                (void)acc;
            }
        } else {
            failed++;
            CHECK(tb == NULL && tl_last_error()[0]);
        }
        tl_tbin_close(tb);
    }
    CHECK(ok > 0 && failed > 0);
    free(z.p);
    free(l.p);
}
