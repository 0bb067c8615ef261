/* test_model_errors.c — tl_model_load on hostile model directories (each must fail with
 * the right status and a message naming the file and the field or tensor at fault, and
 * never crash or leak), tl_model_forward on bad batches, NULL arguments to the public
 * functions, and a valid tiny BERT written from C that loads and runs.
 *
 * The tiny model: 1 layer, hidden 8, 2 heads, intermediate 16, vocab 20, 16 positions,
 * 2 token types; config.json and model.safetensors are written by the helpers below. */
#include "tl_test.h"
#include "tl_tmpdir.h"
#include "torchless.h"

#include <ftw.h>
#include <stdint.h>
#include <sys/stat.h>
#include <unistd.h>

#define H 8
#define I 16
#define V 20
#define P 16
#define TV 2


/* Returns a new empty directory under the test's temp dir (static buffer, 8 in rotation). */
static const char *new_dir(const char *name) {
    const char *dir = tl_tmp_join("model", name);
    if (mkdir(dir, 0700) != 0) { perror(dir); exit(2); }
    return dir;
}

/* Returns dir/name in a static buffer (4 in rotation). */
static const char *join(const char *dir, const char *name) {
    static char buf[4][640];
    static int k;
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof buf[k], "%s/%s", dir, name);
    return buf[k];
}

static void write_raw(const char *path, const void *p, size_t n) {
    FILE *f = fopen(path, "wb");
    if (!f) { perror(path); exit(2); }
    if (n && fwrite(p, 1, n, f) != n) { perror(path); exit(2); }
    fclose(f);
}

static void write_text(const char *path, const char *s) { write_raw(path, s, strlen(s)); }

static size_t file_size(const char *path) {
    struct stat sb;
    if (stat(path, &sb) != 0) { perror(path); exit(2); }
    return (size_t)sb.st_size;
}

static void truncate_to(const char *path, size_t n) {
    if (truncate(path, (off_t)n) != 0) { perror(path); exit(2); }
}

/* ---------------------------------------------------------------- config.json */

/* The config fields of the tiny BERT, in order; a field can be left out or replaced. */
static const struct { const char *key, *value; } k_config[] = {
    {"model_type", "\"bert\""},       {"architectures", "[\"BertModel\"]"},
    {"vocab_size", "20"},             {"hidden_size", "8"},
    {"num_hidden_layers", "1"},       {"num_attention_heads", "2"},
    {"intermediate_size", "16"},      {"max_position_embeddings", "16"},
    {"type_vocab_size", "2"},         {"hidden_act", "\"gelu\""},
    {"layer_norm_eps", "1e-12"},      {"pad_token_id", "0"},
    {"position_embedding_type", "\"absolute\""},
};

/* Writes dir/config.json; key (if not NULL) gets value instead, or is left out when
 * value is NULL. */
static void write_config_with(const char *dir, const char *key, const char *value) {
    char buf[2048];
    size_t k = (size_t)snprintf(buf, sizeof buf, "{");
    int first = 1;
    for (size_t i = 0; i < sizeof k_config / sizeof k_config[0]; i++) {
        const char *v = k_config[i].value;
        if (key && strcmp(key, k_config[i].key) == 0) {
            if (!value) continue;
            v = value;
        }
        k += (size_t)snprintf(buf + k, sizeof buf - k, "%s\n  \"%s\": %s", first ? "" : ",",
                              k_config[i].key, v);
        first = 0;
    }
    snprintf(buf + k, sizeof buf - k, "\n}\n");
    write_text(join(dir, "config.json"), buf);
}

static void write_config(const char *dir) { write_config_with(dir, NULL, NULL); }

/* ---------------------------------------------------------------- model.safetensors */

typedef struct tensor_spec { const char *name; int ndim; int64_t shape[2]; } tensor_spec;

/* Every tensor a 1-layer BERT needs (names as in src/model/families.c). */
static const tensor_spec k_tensors[] = {
    {"embeddings.word_embeddings.weight", 2, {V, H}},
    {"embeddings.position_embeddings.weight", 2, {P, H}},
    {"embeddings.token_type_embeddings.weight", 2, {TV, H}},
    {"embeddings.LayerNorm.weight", 1, {H, 0}},
    {"embeddings.LayerNorm.bias", 1, {H, 0}},
    {"encoder.layer.0.attention.self.query.weight", 2, {H, H}},
    {"encoder.layer.0.attention.self.query.bias", 1, {H, 0}},
    {"encoder.layer.0.attention.self.key.weight", 2, {H, H}},
    {"encoder.layer.0.attention.self.key.bias", 1, {H, 0}},
    {"encoder.layer.0.attention.self.value.weight", 2, {H, H}},
    {"encoder.layer.0.attention.self.value.bias", 1, {H, 0}},
    {"encoder.layer.0.attention.output.dense.weight", 2, {H, H}},
    {"encoder.layer.0.attention.output.dense.bias", 1, {H, 0}},
    {"encoder.layer.0.attention.output.LayerNorm.weight", 1, {H, 0}},
    {"encoder.layer.0.attention.output.LayerNorm.bias", 1, {H, 0}},
    {"encoder.layer.0.intermediate.dense.weight", 2, {I, H}},
    {"encoder.layer.0.intermediate.dense.bias", 1, {I, 0}},
    {"encoder.layer.0.output.dense.weight", 2, {H, I}},
    {"encoder.layer.0.output.dense.bias", 1, {H, 0}},
    {"encoder.layer.0.output.LayerNorm.weight", 1, {H, 0}},
    {"encoder.layer.0.output.LayerNorm.bias", 1, {H, 0}},
};
#define N_TENSORS (sizeof k_tensors / sizeof k_tensors[0])

/* How to spoil the checkpoint: skip a tensor, give one another shape, or move one's
 * data_offsets past the end of the file. */
typedef struct st_opts {
    const char *skip;
    const char *reshape; /* this tensor gets shape new_shape (2-D) */
    int64_t new_shape[2];
    const char *offset_past_end;
    const char *prefix; /* prepended to every name ("bert." like task checkpoints) */
} st_opts;

/* What was written: header length, data length, and each tensor's [begin, end). */
typedef struct st_layout {
    size_t header_len, data_len;
    size_t begin[N_TENSORS], end[N_TENSORS];
    int present[N_TENSORS];
} st_layout;

static uint64_t g_rng = 0x9e3779b97f4a7c15ull;

/* Uniform float in [-0.5, 0.5) from a fixed-seed xorshift generator. */
static float rnd(void) {
    g_rng ^= g_rng << 13;
    g_rng ^= g_rng >> 7;
    g_rng ^= g_rng << 17;
    return (float)((g_rng >> 40) & 0xffffff) / 16777216.0f - 0.5f;
}

/* Writes dir/model.safetensors: u64 LE header length, the JSON header, then random F32
 * data for every tensor (LayerNorm weights near 1). Fills *lay when not NULL. */
static void write_weights_with(const char *dir, const st_opts *o, st_layout *lay) {
    static const st_opts none = {0};
    if (!o) o = &none;
    st_layout L;
    memset(&L, 0, sizeof L);
    char *hdr = malloc(16384);
    size_t hk = (size_t)snprintf(hdr, 16384, "{\"__metadata__\":{\"format\":\"pt\"}");
    size_t off = 0;
    for (size_t i = 0; i < N_TENSORS; i++) {
        const tensor_spec *t = &k_tensors[i];
        if (o->skip && strcmp(o->skip, t->name) == 0) continue;
        int ndim = t->ndim;
        int64_t sh[2] = {t->shape[0], t->shape[1]};
        if (o->reshape && strcmp(o->reshape, t->name) == 0) {
            ndim = 2;
            sh[0] = o->new_shape[0];
            sh[1] = o->new_shape[1];
        }
        size_t numel = (size_t)sh[0] * (ndim == 2 ? (size_t)sh[1] : 1);
        size_t b = off, e = off + 4 * numel;
        off = e;
        L.present[i] = 1;
        L.begin[i] = b;
        L.end[i] = e;
        if (o->offset_past_end && strcmp(o->offset_past_end, t->name) == 0) {
            b += 100000;
            e += 100000;
        }
        hk += (size_t)snprintf(hdr + hk, 16384 - hk, ",\"%s%s\":{\"dtype\":\"F32\",\"shape\":[",
                               o->prefix ? o->prefix : "", t->name);
        for (int d = 0; d < ndim; d++)
            hk += (size_t)snprintf(hdr + hk, 16384 - hk, "%s%lld", d ? "," : "", (long long)sh[d]);
        hk += (size_t)snprintf(hdr + hk, 16384 - hk, "],\"data_offsets\":[%zu,%zu]}", b, e);
    }
    hk += (size_t)snprintf(hdr + hk, 16384 - hk, "}");
    while (hk % 8) hdr[hk++] = ' '; /* pad so the data section is 8-byte aligned */
    L.header_len = hk;
    L.data_len = off;
    size_t total = 8 + hk + off;
    unsigned char *buf = malloc(total);
    for (int i = 0; i < 8; i++) buf[i] = (unsigned char)((uint64_t)hk >> (8 * i));
    memcpy(buf + 8, hdr, hk);
    float *data = (float *)(buf + 8 + hk);
    for (size_t i = 0; i < N_TENSORS; i++) {
        if (!L.present[i]) continue;
        int is_ln_w = strstr(k_tensors[i].name, "LayerNorm.weight") != NULL;
        for (size_t j = L.begin[i] / 4; j < L.end[i] / 4; j++) {
            float r = rnd();
            data[j] = is_ln_w ? 1.0f + 0.2f * r : r;
        }
    }
    write_raw(join(dir, "model.safetensors"), buf, total);
    free(buf);
    free(hdr);
    if (lay) *lay = L;
}

static void write_weights(const char *dir) { write_weights_with(dir, NULL, NULL); }

/* A complete valid tiny model directory (no tokenizer). */
static const char *valid_model(const char *name) {
    const char *d = new_dir(name);
    write_config(d);
    write_weights(d);
    return d;
}

/* Loads dir without a tokenizer; returns the status and checks *out is NULL on error. */
static tl_status load(const char *dir, tl_model **out) {
    tl_model_params p = tl_model_default_params();
    p.load_tokenizer = 0;
    tl_model *m = (tl_model *)(uintptr_t)1; /* must be overwritten */
    tl_status s = tl_model_load(dir, &p, &m);
    if (s != TL_OK) CHECK(m == NULL);
    if (out) *out = s == TL_OK ? m : NULL;
    else tl_model_free(s == TL_OK ? m : NULL);
    return s;
}

/* Loads dir, expecting status want and a message containing each of the needles. */
#define EXPECT_LOAD_FAIL(dir, want, ...)                                                  \
    do {                                                                                  \
        tl_model *m_ = NULL;                                                              \
        tl_status s_ = load((dir), &m_);                                                  \
        CHECK(s_ == (want));                                                              \
        if (s_ != (want))                                                                 \
            fprintf(stderr, "  got %s: %s\n", tl_status_name(s_), tl_last_error());       \
        const char *needles_[] = {__VA_ARGS__};                                           \
        for (size_t i_ = 0; i_ < sizeof needles_ / sizeof needles_[0]; i_++)              \
            CHECK_CONTAINS(tl_last_error(), needles_[i_]);                                \
        tl_model_free(m_);                                                                \
    } while (0)

/* ---------------------------------------------------------------- directory and config */

TL_TEST(missing_directory) {
    const char *d = new_dir("parent");
    const char *missing = join(d, "no_such_model");
    EXPECT_LOAD_FAIL(missing, TL_ERR_IO, missing, "no such directory");
}

TL_TEST(missing_config) {
    const char *d = new_dir("no_config");
    write_weights(d);
    EXPECT_LOAD_FAIL(d, TL_ERR_IO, join(d, "config.json"));
}

TL_TEST(config_malformed_json) {
    const char *d = new_dir("bad_json");
    write_weights(d);
    write_text(join(d, "config.json"), "{\"model_type\": \"bert\", \"hidden_size\": 8,,}");
    EXPECT_LOAD_FAIL(d, TL_ERR_FORMAT, join(d, "config.json"), "JSON");
    write_text(join(d, "config.json"), "");
    EXPECT_LOAD_FAIL(d, TL_ERR_FORMAT, "config.json", "JSON");
    write_text(join(d, "config.json"), "[1, 2]");
    EXPECT_LOAD_FAIL(d, TL_ERR_FORMAT, "config.json", "not a JSON object");
}

TL_TEST(config_missing_hidden_size) {
    const char *d = new_dir("no_hidden");
    write_weights(d);
    write_config_with(d, "hidden_size", NULL);
    EXPECT_LOAD_FAIL(d, TL_ERR_FORMAT, join(d, "config.json"), "hidden_size");
    write_config_with(d, "model_type", NULL);
    EXPECT_LOAD_FAIL(d, TL_ERR_FORMAT, "config.json", "model_type");
}

TL_TEST(config_bad_values) {
    const char *d = new_dir("bad_values");
    write_weights(d);
    write_config_with(d, "hidden_size", "-8");
    EXPECT_LOAD_FAIL(d, TL_ERR_FORMAT, "config.json", "hidden_size");
    write_config_with(d, "hidden_size", "\"8\"");
    EXPECT_LOAD_FAIL(d, TL_ERR_FORMAT, "config.json", "hidden_size");
    write_config_with(d, "num_hidden_layers", "0.5");
    EXPECT_LOAD_FAIL(d, TL_ERR_FORMAT, "config.json", "num_hidden_layers");
    write_config_with(d, "vocab_size", "1e300");
    EXPECT_LOAD_FAIL(d, TL_ERR_FORMAT, "config.json", "vocab_size");
    write_config_with(d, "num_attention_heads", "0");
    EXPECT_LOAD_FAIL(d, TL_ERR_FORMAT, "config.json", "num_attention_heads");
    write_config_with(d, "layer_norm_eps", "-1");
    EXPECT_LOAD_FAIL(d, TL_ERR_FORMAT, "config.json", "layer_norm_eps");
}

TL_TEST(config_hidden_not_multiple_of_heads) {
    const char *d = new_dir("heads");
    write_weights(d);
    write_config_with(d, "num_attention_heads", "3");
    EXPECT_LOAD_FAIL(d, TL_ERR_FORMAT, join(d, "config.json"), "hidden_size 8",
                     "num_attention_heads 3");
}

TL_TEST(config_unknown_model_type) {
    const char *d = new_dir("model_type");
    write_weights(d);
    write_config_with(d, "model_type", "\"nonsense\"");
    EXPECT_LOAD_FAIL(d, TL_ERR_UNSUPPORTED, join(d, "config.json"), "model_type", "'nonsense'",
                     "supported", "bert");
}

TL_TEST(config_unsupported_hidden_act) {
    const char *d = new_dir("act");
    write_weights(d);
    write_config_with(d, "hidden_act", "\"quadratic_tanh\"");
    EXPECT_LOAD_FAIL(d, TL_ERR_UNSUPPORTED, join(d, "config.json"), "hidden_act",
                     "'quadratic_tanh'", "gelu");
    write_config_with(d, "position_embedding_type", "\"relative_key\"");
    EXPECT_LOAD_FAIL(d, TL_ERR_UNSUPPORTED, "config.json", "position_embedding_type",
                     "relative_key");
}

/* ---------------------------------------------------------------- safetensors */

TL_TEST(missing_safetensors) {
    const char *d = new_dir("no_weights");
    write_config(d);
    EXPECT_LOAD_FAIL(d, TL_ERR_IO, d, "model.safetensors");
}

TL_TEST(safetensors_truncated_in_header) {
    const char *d = new_dir("cut_header");
    write_config(d);
    st_layout L;
    write_weights_with(d, NULL, &L);
    const char *f = join(d, "model.safetensors");
    truncate_to(f, 8 + L.header_len / 2);
    EXPECT_LOAD_FAIL(d, TL_ERR_FORMAT, f, "header");
    truncate_to(f, 5); /* not even the 8-byte length */
    EXPECT_LOAD_FAIL(d, TL_ERR_FORMAT, f, "too short");
    truncate_to(f, 0);
    EXPECT_LOAD_FAIL(d, TL_ERR_FORMAT, f);
}

TL_TEST(safetensors_truncated_in_data) {
    const char *d = new_dir("cut_data");
    write_config(d);
    st_layout L;
    write_weights_with(d, NULL, &L);
    const char *f = join(d, "model.safetensors");
    CHECK(file_size(f) == 8 + L.header_len + L.data_len);
    size_t cut = L.data_len / 2 + 2; /* inside some tensor, not on a boundary */
    truncate_to(f, 8 + L.header_len + cut);
    const char *victim = NULL; /* the first tensor in header order that no longer fits */
    for (size_t i = 0; i < N_TENSORS && !victim; i++)
        if (L.end[i] > cut) victim = k_tensors[i].name;
    CHECK(victim != NULL);
    char needle[160];
    snprintf(needle, sizeof needle, "tensor '%s'", victim ? victim : "?");
    EXPECT_LOAD_FAIL(d, TL_ERR_FORMAT, f, needle, "data_offsets");
    /* cut right after the header: every tensor is past the end */
    truncate_to(f, 8 + L.header_len);
    snprintf(needle, sizeof needle, "tensor '%s'", k_tensors[0].name);
    EXPECT_LOAD_FAIL(d, TL_ERR_FORMAT, f, needle, "data_offsets");
}

TL_TEST(safetensors_offsets_past_end) {
    const char *d = new_dir("offsets");
    write_config(d);
    const char *name = "encoder.layer.0.intermediate.dense.weight";
    st_opts o = {.offset_past_end = name};
    write_weights_with(d, &o, NULL);
    char needle[160];
    snprintf(needle, sizeof needle, "tensor '%s'", name);
    EXPECT_LOAD_FAIL(d, TL_ERR_FORMAT, join(d, "model.safetensors"), needle, "data_offsets", "past");
}

TL_TEST(safetensors_wrong_shape) {
    const char *d = new_dir("shape");
    write_config(d);
    st_opts o = {.reshape = "encoder.layer.0.attention.self.query.weight", .new_shape = {8, 4}};
    write_weights_with(d, &o, NULL);
    EXPECT_LOAD_FAIL(d, TL_ERR_FORMAT, join(d, "model.safetensors"),
                     "tensor 'encoder.layer.0.attention.self.query.weight' has shape [8,4], "
                     "config.json says [8,8]");
    /* a non-QKV tensor, and a 1-D tensor stored as 2-D */
    o = (st_opts){.reshape = "encoder.layer.0.intermediate.dense.weight", .new_shape = {8, 16}};
    write_weights_with(d, &o, NULL);
    EXPECT_LOAD_FAIL(d, TL_ERR_FORMAT,
                     "tensor 'encoder.layer.0.intermediate.dense.weight' has shape [8,16], "
                     "config.json says [16,8]");
    o = (st_opts){.reshape = "embeddings.LayerNorm.bias", .new_shape = {1, 8}};
    write_weights_with(d, &o, NULL);
    EXPECT_LOAD_FAIL(d, TL_ERR_FORMAT, "tensor 'embeddings.LayerNorm.bias' has shape [1,8]",
                     "config.json says [8]");
    /* the checkpoint is right but config.json disagrees */
    write_weights(d);
    write_config_with(d, "vocab_size", "30");
    EXPECT_LOAD_FAIL(d, TL_ERR_FORMAT, "tensor 'embeddings.word_embeddings.weight' has shape [20,8]",
                     "config.json says [30,8]");
}

TL_TEST(safetensors_missing_tensor) {
    const char *d = new_dir("missing_tensor");
    write_config(d);
    st_opts o = {.skip = "encoder.layer.0.output.dense.bias"};
    write_weights_with(d, &o, NULL);
    EXPECT_LOAD_FAIL(d, TL_ERR_FORMAT, join(d, "model.safetensors"),
                     "missing tensor 'encoder.layer.0.output.dense.bias'");
    o = (st_opts){.skip = "encoder.layer.0.attention.self.value.weight"};
    write_weights_with(d, &o, NULL);
    EXPECT_LOAD_FAIL(d, TL_ERR_FORMAT, "missing tensor 'encoder.layer.0.attention.self.value.weight'");
    o = (st_opts){.skip = "embeddings.word_embeddings.weight"};
    write_weights_with(d, &o, NULL);
    EXPECT_LOAD_FAIL(d, TL_ERR_FORMAT, "model.safetensors", "embeddings.word_embeddings.weight");
    /* one layer more in config.json than in the checkpoint */
    write_weights(d);
    write_config_with(d, "num_hidden_layers", "2");
    EXPECT_LOAD_FAIL(d, TL_ERR_FORMAT, "missing tensor 'encoder.layer.1.");
}

TL_TEST(safetensors_prefixed_names_load) {
    const char *d = new_dir("prefixed");
    write_config(d);
    st_opts o = {.prefix = "bert."};
    write_weights_with(d, &o, NULL);
    tl_model *m = NULL;
    CHECK_OK(load(d, &m));
    tl_model_free(m);
    o = (st_opts){.prefix = "bert.", .skip = "encoder.layer.0.attention.output.dense.weight"};
    write_weights_with(d, &o, NULL);
    EXPECT_LOAD_FAIL(d, TL_ERR_FORMAT, "missing tensor 'bert.encoder.layer.0.attention.output.dense.weight'");
}

/* ---------------------------------------------------------------- sentence-transformers files */

TL_TEST(bad_sentence_transformers_modules) {
    const char *d = valid_model("st_modules");
    const char *mods = join(d, "modules.json");
    char pool_dir[600];
    snprintf(pool_dir, sizeof pool_dir, "%s/1_Pooling", d);
    if (mkdir(pool_dir, 0700) != 0) { perror(pool_dir); exit(2); }
    const char *pool = join(pool_dir, "config.json");
    static const char *k_mods =
        "[{\"idx\":0,\"name\":\"0\",\"path\":\"\",\"type\":\"sentence_transformers.models.Transformer\"},"
        "{\"idx\":1,\"name\":\"1\",\"path\":\"1_Pooling\",\"type\":\"sentence_transformers.models.Pooling\"},"
        "{\"idx\":2,\"name\":\"2\",\"path\":\"2_Normalize\",\"type\":\"sentence_transformers.models.Normalize\"}]";

    write_text(mods, "{not json");
    EXPECT_LOAD_FAIL(d, TL_ERR_FORMAT, mods, "JSON");
    write_text(mods, "{\"type\": \"Pooling\"}");
    EXPECT_LOAD_FAIL(d, TL_ERR_FORMAT, mods, "array");
    write_text(mods, "[{\"idx\":0,\"type\":\"sentence_transformers.models.Transformer\"}]");
    EXPECT_LOAD_FAIL(d, TL_ERR_FORMAT, mods, "'path'");
    write_text(mods, "[{\"idx\":0,\"path\":\"3_Dense\",\"type\":\"sentence_transformers.models.Dense\"}]");
    EXPECT_LOAD_FAIL(d, TL_ERR_UNSUPPORTED, mods, "Dense");
    write_text(mods, "[{\"idx\":0,\"path\":\"../1_Pooling\",\"type\":\"sentence_transformers.models.Pooling\"}]");
    EXPECT_LOAD_FAIL(d, TL_ERR_FORMAT, mods, "../1_Pooling");

    write_text(mods, k_mods);
    EXPECT_LOAD_FAIL(d, TL_ERR_IO, "1_Pooling/config.json"); /* listed but absent */
    write_text(pool, "{\"word_embedding_dimension\": 8, \"pooling_mode_mean_tokens\": tru}");
    EXPECT_LOAD_FAIL(d, TL_ERR_FORMAT, pool, "JSON");
    write_text(pool, "{\"word_embedding_dimension\": 8, \"pooling_mode_mean_tokens\": \"yes\"}");
    EXPECT_LOAD_FAIL(d, TL_ERR_FORMAT, pool, "pooling_mode_");
    write_text(pool, "{\"word_embedding_dimension\": 8, \"pooling_mode_mean_tokens\": false}");
    EXPECT_LOAD_FAIL(d, TL_ERR_FORMAT, pool, "no pooling mode");

    write_text(pool, "{\"word_embedding_dimension\": 8, \"pooling_mode_cls_token\": true,"
                     " \"pooling_mode_mean_tokens\": true}");
    write_text(join(d, "sentence_bert_config.json"), "{\"max_seq_length\": -3}");
    EXPECT_LOAD_FAIL(d, TL_ERR_FORMAT, "sentence_bert_config.json", "max_seq_length");
    write_text(join(d, "sentence_bert_config.json"), "{\"max_seq_length\": 12, \"do_lower_case\": false}");
    tl_model *m = NULL;
    CHECK_OK(load(d, &m));
    CHECK(tl_model_embedding_dim(m) == 2 * H); /* cls + mean concatenated */
    char *desc = tl_model_describe(m);
    CHECK_CONTAINS(desc, "cls, mean");
    CHECK_CONTAINS(desc, "normalize");
    tl_free(desc);
    tl_model_free(m);
}

/* ---------------------------------------------------------------- valid model + forward */

static int all_finite(const float *x, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (!isfinite(x[i])) return 0;
    return 1;
}

TL_TEST(valid_model_loads_and_runs) {
    const char *d = valid_model("valid");
    tl_model *m = NULL;
    CHECK_OK(load(d, &m));
    if (!m) return;
    CHECK(tl_model_hidden_size(m) == H);
    CHECK(tl_model_max_positions(m) == P);
    CHECK(tl_model_embedding_dim(m) == H); /* no modules.json: mean pooling */
    CHECK(strcmp(tl_model_type(m), "bert") == 0);
    CHECK(tl_model_tokenizer(m) == NULL);

    /* 3 sequences, one of them empty, packed: lens 5, 0, 16 (the maximum) */
    size_t lens[3] = {5, 0, P};
    int32_t ids[5 + P], tt[5 + P];
    for (int i = 0; i < 5 + P; i++) { ids[i] = (i * 7 + 3) % V; tt[i] = i % 2; }
    tl_batch b = {.n_seqs = 3, .seq_lens = lens, .input_ids = ids, .token_type_ids = tt};
    float out[(5 + P) * H];
    for (size_t i = 0; i < sizeof out / sizeof out[0]; i++) out[i] = NAN;
    CHECK_OK(tl_model_forward(m, &b, out, sizeof out / sizeof out[0]));
    CHECK(all_finite(out, sizeof out / sizeof out[0]));
    /* LayerNorm output with non-trivial weights is not constant */
    CHECK(fabsf(out[0] - out[1]) > 1e-6f);

    /* each sequence alone gives the same rows: no cross-talk in the packed batch */
    float one[P * H];
    tl_batch b0 = {.n_seqs = 1, .seq_lens = &lens[0], .input_ids = ids, .token_type_ids = tt};
    CHECK_OK(tl_model_forward(m, &b0, one, 5 * H));
    float maxd = 0;
    for (size_t i = 0; i < 5 * H; i++) maxd = fmaxf(maxd, fabsf(one[i] - out[i]));
    CHECK_NEAR(maxd, 0, 1e-5);
    tl_batch b2 = {.n_seqs = 1, .seq_lens = &lens[2], .input_ids = ids + 5, .token_type_ids = tt + 5};
    CHECK_OK(tl_model_forward(m, &b2, one, P * H));
    maxd = 0;
    for (size_t i = 0; i < P * H; i++) maxd = fmaxf(maxd, fabsf(one[i] - out[5 * H + i]));
    CHECK_NEAR(maxd, 0, 1e-5);

    /* explicit defaults (zeros types, 0..n-1 positions, all-ones mask) equal NULLs */
    int32_t zeros[5] = {0}, pos[5] = {0, 1, 2, 3, 4}, ones[5] = {1, 1, 1, 1, 1};
    float a[5 * H], c[5 * H];
    tl_batch bn = {.n_seqs = 1, .seq_lens = &lens[0], .input_ids = ids};
    tl_batch be = {.n_seqs = 1, .seq_lens = &lens[0], .input_ids = ids, .token_type_ids = zeros,
                   .position_ids = pos, .attention_mask = ones};
    CHECK_OK(tl_model_forward(m, &bn, a, 5 * H));
    CHECK_OK(tl_model_forward(m, &be, c, 5 * H));
    maxd = 0;
    for (size_t i = 0; i < 5 * H; i++) maxd = fmaxf(maxd, fabsf(a[i] - c[i]));
    CHECK_NEAR(maxd, 0, 1e-6);

    /* an empty batch is fine */
    tl_batch empty = {.n_seqs = 0};
    CHECK_OK(tl_model_forward(m, &empty, a, 0));

    char *desc = tl_model_describe(m);
    CHECK_CONTAINS(desc, "layers:       1");
    CHECK_CONTAINS(desc, "hidden:       8");
    CHECK_CONTAINS(desc, "parameters:");
    CHECK_CONTAINS(desc, "F32");
    CHECK_CONTAINS(desc, "attention");
    CHECK_CONTAINS(desc, "layernorm");
    tl_free(desc);
    tl_model_free(m);
}

TL_TEST(forward_bad_batches) {
    const char *d = valid_model("forward_errors");
    tl_model *m = NULL;
    CHECK_OK(load(d, &m));
    if (!m) return;
    float out[(P + 1) * H];
    size_t cap = sizeof out / sizeof out[0];
    int32_t ids[P + 1];
    for (int i = 0; i <= P; i++) ids[i] = i % V;
    size_t lens[2] = {2, 3};
    tl_batch b = {.n_seqs = 2, .seq_lens = lens, .input_ids = ids};

    ids[3] = V; /* sequence 1 token 1 */
    CHECK(tl_model_forward(m, &b, out, cap) == TL_ERR_INVALID_ARG);
    CHECK_CONTAINS(tl_last_error(), "sequence 1 token 1");
    CHECK_CONTAINS(tl_last_error(), "input id 20");
    ids[3] = -1;
    CHECK(tl_model_forward(m, &b, out, cap) == TL_ERR_INVALID_ARG);
    CHECK_CONTAINS(tl_last_error(), "input id -1");
    ids[3] = 3;

    size_t too_long = P + 1;
    tl_batch bl = {.n_seqs = 1, .seq_lens = &too_long, .input_ids = ids};
    CHECK(tl_model_forward(m, &bl, out, cap) == TL_ERR_INVALID_ARG);
    CHECK_CONTAINS(tl_last_error(), "17 tokens");
    CHECK_CONTAINS(tl_last_error(), "at most 16");

    int32_t tt[5] = {0, 1, 0, 2, 0};
    tl_batch bt = {.n_seqs = 2, .seq_lens = lens, .input_ids = ids, .token_type_ids = tt};
    CHECK(tl_model_forward(m, &bt, out, cap) == TL_ERR_INVALID_ARG);
    CHECK_CONTAINS(tl_last_error(), "token type id 2");

    int32_t pos[5] = {0, 1, 0, 1, P};
    tl_batch bp = {.n_seqs = 2, .seq_lens = lens, .input_ids = ids, .position_ids = pos};
    CHECK(tl_model_forward(m, &bp, out, cap) == TL_ERR_INVALID_ARG);
    CHECK_CONTAINS(tl_last_error(), "position id 16");
    pos[4] = -5;
    CHECK(tl_model_forward(m, &bp, out, cap) == TL_ERR_INVALID_ARG);
    CHECK_CONTAINS(tl_last_error(), "position id -5");

    /* out too small: 5 tokens x 8 need 40 floats */
    CHECK(tl_model_forward(m, &b, out, 39) == TL_ERR_INVALID_ARG);
    CHECK_CONTAINS(tl_last_error(), "39");
    CHECK_OK(tl_model_forward(m, &b, out, 40));

    /* a huge length must not overflow or read past ids */
    size_t huge[2] = {(size_t)-1, 2};
    tl_batch bh = {.n_seqs = 2, .seq_lens = huge, .input_ids = ids};
    CHECK(tl_model_forward(m, &bh, out, cap) == TL_ERR_INVALID_ARG);

    /* NULL members */
    tl_batch bnull = {.n_seqs = 2, .seq_lens = NULL, .input_ids = ids};
    CHECK(tl_model_forward(m, &bnull, out, cap) == TL_ERR_INVALID_ARG);
    bnull = (tl_batch){.n_seqs = 2, .seq_lens = lens, .input_ids = NULL};
    CHECK(tl_model_forward(m, &bnull, out, cap) == TL_ERR_INVALID_ARG);
    CHECK(tl_model_forward(m, NULL, out, cap) == TL_ERR_INVALID_ARG);
    CHECK(tl_model_forward(m, &b, NULL, cap) == TL_ERR_INVALID_ARG);
    CHECK(tl_model_forward(NULL, &b, out, cap) == TL_ERR_INVALID_ARG);
    CHECK(strlen(tl_last_error()) > 0);

    /* text entry points without a tokenizer fail cleanly */
    const char *texts[1] = {"hello"};
    CHECK(tl_embed(m, texts, 1, NULL, out, cap) != TL_OK);
    CHECK_CONTAINS(tl_last_error(), "tokenizer");
    tl_features *f = (tl_features *)(uintptr_t)1;
    CHECK(tl_extract_features(m, texts, 1, 0, &f) != TL_OK);
    CHECK(f == NULL);
    CHECK_CONTAINS(tl_last_error(), "tokenizer");

    /* the model still works after all those errors */
    CHECK_OK(tl_model_forward(m, &b, out, cap));
    CHECK(all_finite(out, 5 * H));
    tl_model_free(m);
}

/* ---------------------------------------------------------------- NULL arguments */

TL_TEST(null_arguments) {
    tl_model *m = (tl_model *)(uintptr_t)1;
    CHECK(tl_model_load(NULL, NULL, &m) == TL_ERR_INVALID_ARG);
    CHECK(m == NULL);
    CHECK(strlen(tl_last_error()) > 0);
    m = (tl_model *)(uintptr_t)1;
    CHECK(tl_model_load("", NULL, &m) == TL_ERR_INVALID_ARG);
    CHECK(m == NULL);
    const char *d = valid_model("null_args");
    CHECK(tl_model_load(d, NULL, NULL) == TL_ERR_INVALID_ARG);
    CHECK_CONTAINS(tl_last_error(), "out");

    tl_model_free(NULL);
    tl_free(NULL);
    tl_features_free(NULL);
    tl_tokenizer_free(NULL);
    tl_encoding_free(NULL);
    CHECK(tl_model_hidden_size(NULL) == 0);
    CHECK(tl_model_max_positions(NULL) == 0);
    CHECK(tl_model_embedding_dim(NULL) == 0);
    CHECK(tl_model_type(NULL) == NULL);
    CHECK(tl_model_tokenizer(NULL) == NULL);
    CHECK(tl_model_describe(NULL) == NULL);
    CHECK_CONTAINS(tl_last_error(), "NULL");
    CHECK(tl_features_count(NULL) == 0);
    size_t nt = 7, hd = 7;
    CHECK(tl_features_get(NULL, 0, &nt, &hd) == NULL);

    float out[H];
    const char *texts[1] = {"x"};
    CHECK(tl_embed(NULL, texts, 1, NULL, out, H) == TL_ERR_INVALID_ARG);
    tl_features *f = NULL;
    CHECK(tl_extract_features(NULL, texts, 1, 0, &f) == TL_ERR_INVALID_ARG);
    CHECK(f == NULL);

    tl_model *vm = NULL;
    CHECK_OK(load(d, &vm));
    if (vm) {
        CHECK(tl_embed(vm, NULL, 1, NULL, out, H) == TL_ERR_INVALID_ARG);
        CHECK(tl_embed(vm, texts, 1, NULL, NULL, H) == TL_ERR_INVALID_ARG);
        CHECK(tl_extract_features(vm, NULL, 1, 0, &f) == TL_ERR_INVALID_ARG);
        CHECK(tl_extract_features(vm, texts, 1, 0, NULL) == TL_ERR_INVALID_ARG);
        tl_model_free(vm);
    }

    tl_tokenizer *tok = (tl_tokenizer *)(uintptr_t)1;
    CHECK(tl_tokenizer_load(NULL, &tok) != TL_OK);
    CHECK(tok == NULL);
    CHECK(tl_tokenizer_load(d, NULL) != TL_OK);
    tl_encoding *e = (tl_encoding *)(uintptr_t)1;
    CHECK(tl_tokenizer_encode(NULL, "x", 1, NULL, 0, NULL, &e) != TL_OK);
    CHECK(e == NULL);
    CHECK(tl_encoding_length(NULL) == 0);

    CHECK(strcmp(tl_status_name(TL_ERR_FORMAT), "TL_ERR_FORMAT") == 0);
    CHECK(strcmp(tl_status_name((tl_status)99), "TL_ERR_UNKNOWN") == 0);
    CHECK(tl_version() && tl_version()[0] == '0' + TL_VERSION_MAJOR);
}

/* Loading a model whose files are fine except the tokenizer: with load_tokenizer = 1 a
 * directory without tokenizer files still loads (text entry points then fail). */
TL_TEST(no_tokenizer_files_is_not_a_load_error) {
    const char *d = valid_model("no_tok");
    tl_model *m = NULL;
    CHECK_OK(tl_model_load(d, NULL, &m));
    CHECK(tl_model_tokenizer(m) == NULL);
    const char *texts[1] = {"x"};
    float out[H];
    CHECK(tl_embed(m, texts, 1, NULL, out, H) == TL_ERR_INVALID_ARG);
    CHECK_CONTAINS(tl_last_error(), "tokenizer.json");
    tl_model_free(m);
}

/* A bad $TORCHLESS_NUM_THREADS is a load error naming the value, not a silent default;
 * an explicit num_threads does not read it. */
TL_TEST(bad_num_threads_env_is_a_load_error) {
    const char *d = valid_model("bad_threads");
    const char *bad[] = {"abc", "0", "-2", "3x", "5000"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        setenv("TORCHLESS_NUM_THREADS", bad[i], 1);
        tl_model *m = (tl_model *)1;
        CHECK(tl_model_load(d, NULL, &m) == TL_ERR_INVALID_ARG);
        CHECK(m == NULL);
        CHECK_CONTAINS(tl_last_error(), "TORCHLESS_NUM_THREADS");
        CHECK_CONTAINS(tl_last_error(), bad[i]);
    }
    tl_model_params p = tl_model_default_params();
    p.num_threads = 1;
    tl_model *m = NULL;
    CHECK_OK(tl_model_load(d, &p, &m));
    tl_model_free(m);
    setenv("TORCHLESS_NUM_THREADS", "2", 1);
    CHECK_OK(tl_model_load(d, NULL, &m));
    tl_model_free(m);
    unsetenv("TORCHLESS_NUM_THREADS");
}
