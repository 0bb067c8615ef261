/* test_safetensors.c — the safetensors reader on valid files, hostile files (each must
 * fail with the right status and a message naming the file and the tensor or field),
 * sharded checkpoints, and random mutations that must never crash. */
#include "tl_test.h"
#include "tl_tmpdir.h"
#include "io/safetensors.h"
#include "core/util.h"

#include <ftw.h>
#include <stdint.h>
#include <sys/stat.h>
#include <unistd.h>


/* Returns a static path tmpdir/name (creating the temp dir on first use). */
static const char *tmp_path(const char *name) { return tl_tmp_join("st", name); }

static void write_raw(const char *path, const void *p, size_t n) {
    FILE *f = fopen(path, "wb");
    if (!f) { perror(path); exit(2); }
    if (n && fwrite(p, 1, n, f) != n) { perror(path); exit(2); }
    fclose(f);
}

/* Writes u64 LE len(header) + header + data. */
static void write_st(const char *path, const char *header, const void *data, size_t dlen) {
    size_t hn = strlen(header);
    unsigned char *buf = malloc(8 + hn + dlen + 1);
    for (int i = 0; i < 8; i++) buf[i] = (unsigned char)((uint64_t)hn >> (8 * i));
    memcpy(buf + 8, header, hn);
    if (dlen) memcpy(buf + 8 + hn, data, dlen);
    write_raw(path, buf, 8 + hn + dlen);
    free(buf);
}

/* ---------------------------------------------------------------- valid files */

/* u8 "pad" [1] at 0, f32 "w" [2,3] at 1 (unaligned), f16 "h" [7] at 25, bf16 "b" [2] at 39,
 * f64 "d" [2] at 43, f32 "empty" [0,4] at 59, f32 "scalar" [] at 59, i64 "ids" [1] at 63. */
static const char *k_valid_header =
    "{\"__metadata__\": {\"format\": \"pt\"},"
    "\"pad\": {\"dtype\": \"U8\", \"shape\": [1], \"data_offsets\": [0, 1]},"
    "\"w\": {\"dtype\": \"F32\", \"shape\": [2, 3], \"data_offsets\": [1, 25]},"
    "\"h\": {\"dtype\": \"F16\", \"shape\": [7], \"data_offsets\": [25, 39]},"
    "\"b\": {\"dtype\": \"BF16\", \"shape\": [2], \"data_offsets\": [39, 43]},"
    "\"d\": {\"dtype\": \"F64\", \"shape\": [2], \"data_offsets\": [43, 59]},"
    "\"empty\": {\"dtype\": \"F32\", \"shape\": [0, 4], \"data_offsets\": [59, 59]},"
    "\"scalar\": {\"dtype\": \"F32\", \"shape\": [], \"data_offsets\": [59, 63]},"
    "\"ids\": {\"dtype\": \"I64\", \"shape\": [1], \"data_offsets\": [63, 71]}}    ";

static size_t valid_data(unsigned char *d) {
    size_t k = 0;
    d[k++] = 7;
    float w[6] = {1.5f, -2.0f, 3.25f, 0.0f, -0.5f, 1e30f};
    memcpy(d + k, w, sizeof w); k += sizeof w;
    uint16_t h[7] = {0x3c00, 0xc000, 0x0001, 0x03ff, 0x7c00, 0xfc00, 0x7e00};
    memcpy(d + k, h, sizeof h); k += sizeof h;
    uint16_t b[2] = {0x3f80, 0xc040};
    memcpy(d + k, b, sizeof b); k += sizeof b;
    double dd[2] = {0.1, -1e300};
    memcpy(d + k, dd, sizeof dd); k += sizeof dd;
    float sc = 42.0f;
    memcpy(d + k, &sc, 4); k += 4;
    int64_t id = 5;
    memcpy(d + k, &id, 8); k += 8;
    return k; /* 71 */
}

static void write_valid(const char *path) {
    unsigned char d[128];
    size_t n = valid_data(d);
    write_st(path, k_valid_header, d, n);
}

TL_TEST(valid_file) {
    const char *p = tmp_path("valid.safetensors");
    write_valid(p);
    tl_safetensors *st = NULL;
    CHECK_OK(tl_st_open_file(p, &st));
    if (!st) return;
    CHECK(tl_st_count(st) == 8);
    CHECK(strcmp(tl_st_at(st, 0)->name, "pad") == 0);
    CHECK(strcmp(tl_st_at(st, 7)->name, "ids") == 0);
    CHECK(tl_st_at(st, 8) == NULL);
    CHECK(tl_st_find(st, "nope") == NULL);
    CHECK(tl_st_find(st, "__metadata__") == NULL);

    const tl_st_tensor *w = tl_st_find(st, "w");
    CHECK(w && w->dtype == TL_DTYPE_F32 && w->ndim == 2 && w->shape[0] == 2 && w->shape[1] == 3);
    CHECK(w && w->numel == 6 && w->nbytes == 24 && strcmp(w->file, p) == 0);
    float out[8];
    CHECK_OK(tl_st_copy_f32(w, out));
    CHECK(out[0] == 1.5f && out[1] == -2.0f && out[2] == 3.25f && out[5] == 1e30f);

    const tl_st_tensor *h = tl_st_find(st, "h");
    CHECK_OK(tl_st_copy_f32(h, out));
    CHECK(out[0] == 1.0f && out[1] == -2.0f);
    CHECK(out[2] == 0x1p-24f);            /* smallest subnormal */
    CHECK(out[3] == 1023.0f * 0x1p-24f);  /* largest subnormal */
    CHECK(isinf(out[4]) && out[4] > 0);
    CHECK(isinf(out[5]) && out[5] < 0);
    CHECK(isnan(out[6]));

    CHECK_OK(tl_st_copy_f32(tl_st_find(st, "b"), out));
    CHECK(out[0] == 1.0f && out[1] == -3.0f);
    CHECK_OK(tl_st_copy_f32(tl_st_find(st, "d"), out));
    CHECK(out[0] == (float)0.1 && isinf(out[1]) && out[1] < 0);

    const tl_st_tensor *e = tl_st_find(st, "empty");
    CHECK(e && e->numel == 0 && e->nbytes == 0 && e->ndim == 2);
    CHECK_OK(tl_st_copy_f32(e, out));
    const tl_st_tensor *s = tl_st_find(st, "scalar");
    CHECK(s && s->ndim == 0 && s->numel == 1 && s->nbytes == 4);
    CHECK_OK(tl_st_copy_f32(s, out));
    CHECK(out[0] == 42.0f);

    const tl_st_tensor *ids = tl_st_find(st, "ids");
    CHECK(ids && ids->dtype == TL_DTYPE_I64 && *(const unsigned char *)ids->data == 5);
    CHECK(tl_st_copy_f32(ids, out) == TL_ERR_UNSUPPORTED);
    CHECK_CONTAINS(tl_last_error(), "'ids'");
    CHECK_CONTAINS(tl_last_error(), "I64");
    tl_st_close(st);
    tl_st_close(NULL);
}

TL_TEST(empty_header_and_dtypes) {
    const char *p = tmp_path("empty.safetensors");
    write_st(p, "{}", NULL, 0);
    tl_safetensors *st = NULL;
    CHECK_OK(tl_st_open_file(p, &st));
    CHECK(tl_st_count(st) == 0 && tl_st_find(st, "x") == NULL && tl_st_at(st, 0) == NULL);
    tl_st_close(st);
    CHECK(tl_dtype_size(TL_DTYPE_BF16) == 2 && tl_dtype_size(TL_DTYPE_F64) == 8);
    CHECK(tl_dtype_size(TL_DTYPE_BOOL) == 1 && tl_dtype_size(TL_DTYPE_I32) == 4);
    CHECK(strcmp(tl_dtype_name(TL_DTYPE_BF16), "BF16") == 0);
    CHECK(strcmp(tl_dtype_name(TL_DTYPE_U8), "U8") == 0);
}

TL_TEST(many_tensors_lookup) {
    /* 500 tensors in reverse name order: every one must be found by bsearch. */
    size_t cap = 500 * 96 + 16, k = 0;
    char *hdr = malloc(cap);
    k += (size_t)snprintf(hdr + k, cap - k, "{");
    for (int i = 499; i >= 0; i--)
        k += (size_t)snprintf(hdr + k, cap - k, "%s\"t.%03d\": {\"dtype\": \"I8\", \"shape\": [1], \"data_offsets\": [%d, %d]}",
                              i == 499 ? "" : ",", i, i, i + 1);
    snprintf(hdr + k, cap - k, "}");
    unsigned char data[500];
    for (int i = 0; i < 500; i++) data[i] = (unsigned char)i;
    const char *p = tmp_path("many.safetensors");
    write_st(p, hdr, data, sizeof data);
    free(hdr);
    tl_safetensors *st = NULL;
    CHECK_OK(tl_st_open_file(p, &st));
    int bad = 0;
    for (int i = 0; i < 500; i++) {
        char nm[16];
        snprintf(nm, sizeof nm, "t.%03d", i);
        const tl_st_tensor *t = tl_st_find(st, nm);
        bad += !t || *(const unsigned char *)t->data != (unsigned char)i;
    }
    CHECK(bad == 0);
    tl_st_close(st);
}

/* ---------------------------------------------------------------- hostile files */

/* Opens path, expects status want and a message naming the file and containing needle. */
static void expect_open_err(const char *path, tl_status want, const char *needle) {
    tl_safetensors *st = (tl_safetensors *)1;
    tl_status s = tl_st_open_file(path, &st);
    CHECK(s == want);
    CHECK(st == NULL);
    if (s != want) fprintf(stderr, "    got %s: %s\n", tl_status_name(s), tl_last_error());
    CHECK_CONTAINS(tl_last_error(), path);
    CHECK_CONTAINS(tl_last_error(), needle);
    if (s == TL_OK) tl_st_close(st);
}

/* Writes header + data as name, then expects the error. */
static void expect_hdr_err(const char *name, const char *header, size_t dlen, tl_status want, const char *needle) {
    static unsigned char zeros[256];
    const char *p = tmp_path(name);
    write_st(p, header, zeros, dlen);
    expect_open_err(p, want, needle);
}

#define ENT(name, dt, shape, offs) "\"" name "\": {\"dtype\": \"" dt "\", \"shape\": " shape ", \"data_offsets\": " offs "}"

TL_TEST(hostile_sizes) {
    const char *p = tmp_path("short.safetensors");
    write_raw(p, "\x02\0\0\0\0", 5);
    expect_open_err(p, TL_ERR_FORMAT, "too short");

    unsigned char big[18] = {0xe8, 0x03}; /* header size 1000, 10 bytes follow */
    p = tmp_path("bighdr.safetensors");
    write_raw(p, big, sizeof big);
    expect_open_err(p, TL_ERR_FORMAT, "header size 1000");

    unsigned char huge[16] = {0, 0, 0, 0, 0, 0, 0, 0x80, '{', '}'};
    p = tmp_path("hugehdr.safetensors");
    write_raw(p, huge, sizeof huge);
    expect_open_err(p, TL_ERR_FORMAT, "exceeds");

    expect_hdr_err("zerohdr.safetensors", "", 0, TL_ERR_FORMAT, "not valid JSON");
    expect_open_err(tmp_path("missing.safetensors"), TL_ERR_IO, "cannot open");
    expect_open_err(tmp_path(""), TL_ERR_IO, "not a regular file"); /* the temp dir itself */
}

TL_TEST(hostile_offsets) {
    expect_hdr_err("trunc.safetensors", "{" ENT("w", "F32", "[4]", "[0, 16]") "}", 8, TL_ERR_FORMAT,
                   "tensor 'w': data_offsets [0, 16] end past the data section (8 bytes)");
    expect_hdr_err("past.safetensors", "{" ENT("w", "F32", "[4]", "[100, 116]") "}", 16, TL_ERR_FORMAT,
                   "tensor 'w': data_offsets [100, 116] end past");
    expect_hdr_err("beginend.safetensors", "{" ENT("w", "F32", "[1]", "[8, 4]") "}", 16, TL_ERR_FORMAT,
                   "tensor 'w': data_offsets [8, 4] begin > end");
    expect_hdr_err("overlap.safetensors",
                   "{" ENT("a", "F32", "[2]", "[0, 8]") "," ENT("b", "F32", "[2]", "[4, 12]") "}", 16,
                   TL_ERR_FORMAT, "overlap tensor 'a'");
    expect_hdr_err("overlap2.safetensors",
                   "{" ENT("a", "F32", "[4]", "[0, 16]") "," ENT("z", "I8", "[0]", "[3, 3]") ","
                   ENT("b", "I8", "[1]", "[10, 11]") "}", 16, TL_ERR_FORMAT, "tensor 'b'");
    expect_hdr_err("bytelen.safetensors", "{" ENT("w", "F32", "[3]", "[0, 8]") "}", 16, TL_ERR_FORMAT,
                   "tensor 'w': data_offsets [0, 8] hold 8 bytes, but F32 [3] needs 12");
    expect_hdr_err("offs1.safetensors", "{" ENT("w", "F32", "[1]", "[4]") "}", 16, TL_ERR_FORMAT,
                   "tensor 'w': data_offsets");
    expect_hdr_err("offs2.safetensors", "{" ENT("w", "F32", "[1]", "[\"0\", \"4\"]") "}", 16, TL_ERR_FORMAT,
                   "tensor 'w': data_offsets");
    expect_hdr_err("offs3.safetensors", "{" ENT("w", "F32", "[1]", "[-4, 0]") "}", 16, TL_ERR_FORMAT,
                   "tensor 'w': data_offsets");
    expect_hdr_err("offs4.safetensors", "{" ENT("w", "F32", "[1]", "[0, 1e400]") "}", 16, TL_ERR_FORMAT,
                   "tensor 'w': data_offsets");
}

TL_TEST(hostile_shapes) {
    expect_hdr_err("ovf.safetensors", "{" ENT("w", "F32", "[4611686018427387904, 8]", "[0, 8]") "}", 16,
                   TL_ERR_FORMAT, "tensor 'w': shape [4611686018427387904, 8] has too many elements");
    expect_hdr_err("ovf2.safetensors", "{" ENT("w", "F32", "[4611686018427387904]", "[0, 8]") "}", 16,
                   TL_ERR_FORMAT, "tensor 'w': shape [4611686018427387904] of F32 is too large");
    expect_hdr_err("neg.safetensors", "{" ENT("w", "F32", "[2, -1]", "[0, 8]") "}", 16, TL_ERR_FORMAT,
                   "tensor 'w': shape[1] is not a non-negative integer");
    expect_hdr_err("frac.safetensors", "{" ENT("w", "F32", "[1.5]", "[0, 8]") "}", 16, TL_ERR_FORMAT,
                   "tensor 'w': shape[0]");
    expect_hdr_err("strdim.safetensors", "{" ENT("w", "F32", "[\"2\"]", "[0, 8]") "}", 16, TL_ERR_FORMAT,
                   "tensor 'w': shape[0]");
    expect_hdr_err("hugedim.safetensors", "{" ENT("w", "F32", "[1e300]", "[0, 8]") "}", 16, TL_ERR_FORMAT,
                   "tensor 'w': shape[0]");
    expect_hdr_err("dims.safetensors", "{" ENT("w", "F32", "[1,1,1,1,1,1,1,1,1]", "[0, 4]") "}", 16,
                   TL_ERR_FORMAT, "tensor 'w': shape has 9 dims");
    expect_hdr_err("shapeobj.safetensors", "{" ENT("w", "F32", "{}", "[0, 4]") "}", 16, TL_ERR_FORMAT,
                   "tensor 'w': field 'shape' is not an array");
}

TL_TEST(hostile_json) {
    expect_hdr_err("dtype.safetensors", "{" ENT("w.q", "F8_E4M3", "[4]", "[0, 4]") "}", 16, TL_ERR_UNSUPPORTED,
                   "tensor 'w.q': dtype 'F8_E4M3' is not supported");
    expect_hdr_err("dtypenum.safetensors", "{\"w\": {\"dtype\": 3, \"shape\": [1], \"data_offsets\": [0, 4]}}", 16,
                   TL_ERR_FORMAT, "tensor 'w': field 'dtype' is not a string");
    expect_hdr_err("badjson.safetensors", "{\"w\": {\"dtype\": ", 16, TL_ERR_FORMAT, "not valid JSON");
    expect_hdr_err("array.safetensors", "[1, 2]", 16, TL_ERR_FORMAT, "header is not a JSON object");
    expect_hdr_err("trail.safetensors", "{} x", 16, TL_ERR_FORMAT, "trailing bytes");
    expect_hdr_err("entry.safetensors", "{\"w\": 5}", 16, TL_ERR_FORMAT, "tensor 'w': entry is not a JSON object");
    expect_hdr_err("nodtype.safetensors", "{\"w\": {\"shape\": [1], \"data_offsets\": [0, 4]}}", 16,
                   TL_ERR_FORMAT, "tensor 'w': missing field 'dtype'");
    expect_hdr_err("noshape.safetensors", "{\"w\": {\"dtype\": \"F32\", \"data_offsets\": [0, 4]}}", 16,
                   TL_ERR_FORMAT, "tensor 'w': missing field 'shape'");
    expect_hdr_err("nooffs.safetensors", "{\"w\": {\"dtype\": \"F32\", \"shape\": [1]}}", 16, TL_ERR_FORMAT,
                   "tensor 'w': missing field 'data_offsets'");
    expect_hdr_err("dup.safetensors",
                   "{" ENT("w", "F32", "[1]", "[0, 4]") "," ENT("w", "F32", "[1]", "[4, 8]") "}", 16,
                   TL_ERR_FORMAT, "duplicate tensor name 'w'");
    expect_hdr_err("meta.safetensors", "{\"__metadata__\": [1]}", 0, TL_ERR_FORMAT, "__metadata__");
    expect_hdr_err("meta2.safetensors", "{\"__metadata__\": {\"k\": 1}}", 0, TL_ERR_FORMAT, "__metadata__ key 'k'");
}

/* ---------------------------------------------------------------- sharded */

static const char *mkdir_tmp(const char *name) {
    const char *p = tmp_path(name);
    mkdir(p, 0700);
    return p;
}

/* Writes dir/name with content. */
static void write_in(const char *dir, const char *name, const char *content) {
    char p[600];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    write_raw(p, content, strlen(content));
}

static void write_shard(const char *dir, const char *name, const char *header, size_t dlen) {
    char p[600];
    unsigned char data[64];
    for (size_t i = 0; i < sizeof data; i++) data[i] = (unsigned char)i;
    snprintf(p, sizeof p, "%s/%s", dir, name);
    write_st(p, header, data, dlen);
}

#define SH1 "model-00001-of-00002.safetensors"
#define SH2 "model-00002-of-00002.safetensors"

/* A directory with two shards: a, b in SH1 and c in SH2. */
static const char *make_sharded(const char *name) {
    const char *d = mkdir_tmp(name);
    write_shard(d, SH1, "{" ENT("a", "F32", "[2]", "[0, 8]") "," ENT("b", "U8", "[3]", "[8, 11]") "}", 11);
    write_shard(d, SH2, "{" ENT("c", "F32", "[]", "[0, 4]") "}", 4);
    return d;
}

TL_TEST(sharded_ok) {
    char d[512];
    snprintf(d, sizeof d, "%s", make_sharded("sh_ok"));
    write_in(d, "model.safetensors.index.json",
             "{\"metadata\": {\"total_size\": 15}, \"weight_map\": {\"a\": \"" SH1 "\", \"c\": \"" SH2
             "\", \"b\": \"" SH1 "\"}}");
    tl_safetensors *st = NULL;
    CHECK_OK(tl_st_open_dir(d, &st));
    CHECK(tl_st_count(st) == 3);
    const tl_st_tensor *a = tl_st_find(st, "a"), *c = tl_st_find(st, "c");
    CHECK(a && c && tl_st_find(st, "b"));
    CHECK(a && strstr(a->file, SH1) && ((const unsigned char *)a->data)[1] == 1);
    CHECK(c && strstr(c->file, SH2) && c->ndim == 0 && ((const unsigned char *)c->data)[0] == 0);
    tl_st_close(st);
}

TL_TEST(sharded_errors) {
    char d[512];
    tl_safetensors *st = NULL;
    snprintf(d, sizeof d, "%s", make_sharded("sh_missing"));
    write_in(d, "model.safetensors.index.json",
             "{\"weight_map\": {\"a\": \"" SH1 "\", \"x\": \"model-00003-of-00003.safetensors\"}}");
    CHECK(tl_st_open_dir(d, &st) == TL_ERR_IO && st == NULL);
    CHECK_CONTAINS(tl_last_error(), "model-00003-of-00003.safetensors");

    snprintf(d, sizeof d, "%s", make_sharded("sh_absent"));
    write_in(d, "model.safetensors.index.json",
             "{\"weight_map\": {\"a\": \"" SH1 "\", \"c\": \"" SH1 "\"}}");
    CHECK(tl_st_open_dir(d, &st) == TL_ERR_FORMAT && st == NULL);
    CHECK_CONTAINS(tl_last_error(), "model.safetensors.index.json");
    CHECK_CONTAINS(tl_last_error(), "tensor 'c' is in " SH1);

    snprintf(d, sizeof d, "%s", make_sharded("sh_dotdot"));
    write_in(d, "model.safetensors.index.json", "{\"weight_map\": {\"a\": \"../" SH1 "\"}}");
    CHECK(tl_st_open_dir(d, &st) == TL_ERR_FORMAT && st == NULL);
    CHECK_CONTAINS(tl_last_error(), "'/' or '..'");
    CHECK_CONTAINS(tl_last_error(), "weight_map['a']");

    snprintf(d, sizeof d, "%s", make_sharded("sh_dup"));
    write_shard(d, SH2, "{" ENT("a", "F32", "[]", "[0, 4]") "}", 4);
    write_in(d, "model.safetensors.index.json",
             "{\"weight_map\": {\"a\": \"" SH2 "\", \"b\": \"" SH1 "\"}}");
    CHECK(tl_st_open_dir(d, &st) == TL_ERR_FORMAT && st == NULL);
    CHECK_CONTAINS(tl_last_error(), "tensor 'a' is in both");

    snprintf(d, sizeof d, "%s", make_sharded("sh_badjson"));
    write_in(d, "model.safetensors.index.json", "{\"weight_map\": ");
    CHECK(tl_st_open_dir(d, &st) == TL_ERR_FORMAT && st == NULL);
    CHECK_CONTAINS(tl_last_error(), "model.safetensors.index.json");

    snprintf(d, sizeof d, "%s", make_sharded("sh_nomap"));
    write_in(d, "model.safetensors.index.json", "{\"weight_map\": {\"a\": 3}}");
    CHECK(tl_st_open_dir(d, &st) == TL_ERR_FORMAT && st == NULL);
    CHECK_CONTAINS(tl_last_error(), "weight_map['a']");
}

TL_TEST(open_dir_single_and_missing) {
    char d[512];
    tl_safetensors *st = NULL;
    snprintf(d, sizeof d, "%s", mkdir_tmp("single"));
    write_valid(tmp_path("single/model.safetensors"));
    CHECK_OK(tl_st_open_dir(d, &st));
    CHECK(tl_st_count(st) == 8);
    tl_st_close(st);
    st = NULL;

    snprintf(d, sizeof d, "%s", mkdir_tmp("nothing"));
    CHECK(tl_st_open_dir(d, &st) == TL_ERR_IO && st == NULL);
    CHECK_CONTAINS(tl_last_error(), d);
    CHECK_CONTAINS(tl_last_error(), "no model.safetensors or model.safetensors.index.json");

    write_in(d, "pytorch_model.bin", "PK"); /* .bin is now read (tests/c/test_torch_bin.c); 2 bytes are no zip */
    CHECK(tl_st_open_dir(d, &st) == TL_ERR_FORMAT && st == NULL);
    CHECK_CONTAINS(tl_last_error(), "pytorch_model.bin: not a torch.save checkpoint");
}

/* ---------------------------------------------------------------- fuzz */

static uint64_t g_rng = 0x9e3779b97f4a7c15ull;
static uint64_t rnd(void) {
    g_rng ^= g_rng << 13; g_rng ^= g_rng >> 7; g_rng ^= g_rng << 17;
    return g_rng;
}

TL_TEST(random_mutations_never_crash) {
    unsigned char d[128];
    size_t dn = valid_data(d), hn = strlen(k_valid_header), n = 8 + hn + dn;
    unsigned char *orig = malloc(n), *buf = malloc(n);
    for (int i = 0; i < 8; i++) orig[i] = (unsigned char)((uint64_t)hn >> (8 * i));
    memcpy(orig + 8, k_valid_header, hn);
    memcpy(orig + 8 + hn, d, dn);
    const char *p = tmp_path("fuzz.safetensors");
    static const char interesting[] = "{}[],:\"0123456789-.eE \\";
    int opened = 0;
    for (int it = 0; it < 2000; it++) {
        memcpy(buf, orig, n);
        size_t len = n;
        int kind = (int)(rnd() % 4);
        if (kind == 0) { /* truncate */
            len = (size_t)(rnd() % n);
        } else {
            int flips = 1 + (int)(rnd() % 4);
            for (int f = 0; f < flips; f++) {
                size_t at = kind == 3 ? rnd() % 8 : 8 + rnd() % hn; /* length prefix or header */
                buf[at] = kind == 2 ? (unsigned char)interesting[rnd() % (sizeof interesting - 1)]
                                    : (unsigned char)rnd();
            }
        }
        write_raw(p, buf, len);
        tl_safetensors *st = NULL;
        tl_status s = tl_st_open_file(p, &st);
        CHECK((s == TL_OK) == (st != NULL));
        if (s != TL_OK) {
            CHECK(strstr(tl_last_error(), p) != NULL);
            continue;
        }
        opened++;
        for (size_t i = 0; i < tl_st_count(st); i++) {
            const tl_st_tensor *t = tl_st_at(st, i);
            CHECK(tl_st_find(st, t->name) == t);
            CHECK(t->nbytes == t->numel * tl_dtype_size(t->dtype));
            float *f = malloc((t->numel ? t->numel : 1) * sizeof *f);
            tl_st_copy_f32(t, f);
            free(f);
        }
        tl_st_close(st);
    }
    CHECK(opened > 0); /* some mutations (e.g. inside names or values) stay valid */
    free(orig);
    free(buf);
}
