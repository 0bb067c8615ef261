/* safetensors.c — validated, memory-mapped, zero-copy safetensors reader.
 *
 * File layout: u64 little-endian N, N bytes of JSON header, then the data section.
 * Header: {"NAME": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}, ...,
 *          "__metadata__": {str: str}}; offsets are relative to the data section.
 * Nothing read from the file is trusted before it is checked. */
#include "io/safetensors.h"
#include "io/json.h"
#include "io/torch_bin.h"
#include "core/error.h"
#include "core/util.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define ST_MAX_HEADER ((size_t)100 * 1000 * 1000) /* same cap as the Rust safetensors crate */

/* One mapped file. */
typedef struct st_map {
    char *path;
    void *base;
    size_t len;
} st_map;

/* Name index entry: tensors sorted by name for bsearch. */
typedef struct st_name {
    const char *name;
    size_t idx;
} st_name;

struct tl_safetensors {
    st_map *maps;
    size_t nmaps;
    tl_st_tensor *tensors; /* header order (shard by shard for a sharded checkpoint) */
    size_t n;
    st_name *by_name; /* n entries sorted by name */
    tl_torch_bin *bin; /* the pytorch_model.bin reader whose memory the tensors point into, or NULL */
};

/* Unmaps and frees everything; NULL is a no-op. */
void tl_st_close(tl_safetensors *st) {
    if (!st) return;
    for (size_t i = 0; i < st->n; i++) free(st->tensors[i].name);
    for (size_t i = 0; i < st->nmaps; i++) {
        if (st->maps[i].base) munmap(st->maps[i].base, st->maps[i].len);
        free(st->maps[i].path);
    }
    free(st->maps);
    free(st->tensors);
    free(st->by_name);
    tl_tbin_close(st->bin);
    free(st);
}

/* Number of tensors. */
size_t tl_st_count(const tl_safetensors *st) { return st ? st->n : 0; }

/* Tensor i in header order, NULL if out of range. */
const tl_st_tensor *tl_st_at(const tl_safetensors *st, size_t i) {
    return st && i < st->n ? &st->tensors[i] : NULL;
}

static int cmp_name(const void *a, const void *b) {
    return strcmp(((const st_name *)a)->name, ((const st_name *)b)->name);
}

/* Tensor by exact name via bsearch over the name index; NULL when absent. */
const tl_st_tensor *tl_st_find(const tl_safetensors *st, const char *name) {
    if (!st || !name || !st->n) return NULL;
    st_name key = {name, 0};
    const st_name *hit = bsearch(&key, st->by_name, st->n, sizeof key, cmp_name);
    return hit ? &st->tensors[hit->idx] : NULL;
}

/* Builds st->by_name and rejects duplicate names. TL_ERR_FORMAT naming the file(s). */
static tl_status build_name_index(tl_safetensors *st) {
    st->by_name = malloc((st->n ? st->n : 1) * sizeof *st->by_name);
    if (!st->by_name) return tl_set_error(TL_ERR_OOM, "cannot allocate a name index of %zu tensors", st->n);
    for (size_t i = 0; i < st->n; i++) st->by_name[i] = (st_name){st->tensors[i].name, i};
    qsort(st->by_name, st->n, sizeof *st->by_name, cmp_name);
    for (size_t i = 1; i < st->n; i++) {
        if (strcmp(st->by_name[i - 1].name, st->by_name[i].name) != 0) continue;
        const tl_st_tensor *a = &st->tensors[st->by_name[i - 1].idx];
        const tl_st_tensor *b = &st->tensors[st->by_name[i].idx];
        if (strcmp(a->file, b->file) == 0)
            return tl_set_error(TL_ERR_FORMAT, "%s: duplicate tensor name '%s' in the header", a->file, a->name);
        return tl_set_error(TL_ERR_FORMAT, "tensor '%s' is in both %s and %s", a->name, a->file, b->file);
    }
    return TL_OK;
}

/* Reads a JSON number that must be a non-negative integer below 2^63. Returns 1 if ok. */
static int json_u64(const cJSON *v, uint64_t *out) {
    if (!cJSON_IsNumber(v)) return 0;
    double d = v->valuedouble;
    if (!isfinite(d) || d < 0 || d != floor(d) || d >= 9223372036854775808.0) return 0;
    *out = (uint64_t)d;
    return 1;
}

/* Formats a shape as "[a, b, c]" into buf (for messages). */
static const char *shape_str(const int64_t *shape, int ndim, char *buf, size_t cap) {
    size_t k = (size_t)snprintf(buf, cap, "[");
    for (int i = 0; i < ndim && k < cap; i++)
        k += (size_t)snprintf(buf + k, cap - k, "%s%lld", i ? ", " : "", (long long)shape[i]);
    if (k < cap) snprintf(buf + k, cap - k, "]");
    return buf;
}

/* Validates one header entry and fills t (except t->name, set by the caller).
 * data is the data section start, data_size its length. TL_ERR_FORMAT or
 * TL_ERR_UNSUPPORTED naming path, tensor and field. */
static tl_status parse_entry(const char *path, const cJSON *e, const char *data, size_t data_size,
                             tl_st_tensor *t) {
    const char *nm = t->name;
    if (!cJSON_IsObject(e))
        return tl_set_error(TL_ERR_FORMAT, "%s: tensor '%s': entry is not a JSON object", path, nm);

    const cJSON *jd = cJSON_GetObjectItemCaseSensitive(e, "dtype");
    if (!jd) return tl_set_error(TL_ERR_FORMAT, "%s: tensor '%s': missing field 'dtype'", path, nm);
    if (!cJSON_IsString(jd))
        return tl_set_error(TL_ERR_FORMAT, "%s: tensor '%s': field 'dtype' is not a string", path, nm);
    if (!tl_dtype_parse(jd->valuestring, &t->dtype))
        return tl_set_error(TL_ERR_UNSUPPORTED, "%s: tensor '%s': dtype '%s' is not supported", path, nm,
                            jd->valuestring);

    const cJSON *js = cJSON_GetObjectItemCaseSensitive(e, "shape");
    if (!js) return tl_set_error(TL_ERR_FORMAT, "%s: tensor '%s': missing field 'shape'", path, nm);
    if (!cJSON_IsArray(js))
        return tl_set_error(TL_ERR_FORMAT, "%s: tensor '%s': field 'shape' is not an array", path, nm);
    int ndim = cJSON_GetArraySize(js);
    if (ndim > TL_ST_MAX_DIMS)
        return tl_set_error(TL_ERR_FORMAT, "%s: tensor '%s': shape has %d dims, at most %d supported", path,
                            nm, ndim, TL_ST_MAX_DIMS);
    t->ndim = 0;
    size_t numel = 1;
    const cJSON *d;
    cJSON_ArrayForEach(d, js) {
        uint64_t v;
        if (!json_u64(d, &v))
            return tl_set_error(TL_ERR_FORMAT,
                                "%s: tensor '%s': shape[%d] is not a non-negative integer", path, nm, t->ndim);
        t->shape[t->ndim++] = (int64_t)v;
        if (tl_mul_overflow(numel, (size_t)v, &numel)) {
            char sb[256];
            return tl_set_error(TL_ERR_FORMAT, "%s: tensor '%s': shape %s has too many elements (overflow)",
                                path, nm, shape_str(t->shape, t->ndim, sb, sizeof sb));
        }
    }
    t->numel = numel;
    char sb[256];
    if (tl_mul_overflow(numel, tl_dtype_size(t->dtype), &t->nbytes))
        return tl_set_error(TL_ERR_FORMAT, "%s: tensor '%s': shape %s of %s is too large (overflow)", path, nm,
                            shape_str(t->shape, t->ndim, sb, sizeof sb), tl_dtype_name(t->dtype));

    const cJSON *jo = cJSON_GetObjectItemCaseSensitive(e, "data_offsets");
    if (!jo) return tl_set_error(TL_ERR_FORMAT, "%s: tensor '%s': missing field 'data_offsets'", path, nm);
    uint64_t b, en;
    if (!cJSON_IsArray(jo) || cJSON_GetArraySize(jo) != 2 || !json_u64(cJSON_GetArrayItem(jo, 0), &b) ||
        !json_u64(cJSON_GetArrayItem(jo, 1), &en))
        return tl_set_error(TL_ERR_FORMAT,
                            "%s: tensor '%s': data_offsets is not an array of two non-negative integers", path, nm);
    if (b > en)
        return tl_set_error(TL_ERR_FORMAT, "%s: tensor '%s': data_offsets [%llu, %llu] begin > end", path, nm,
                            (unsigned long long)b, (unsigned long long)en);
    if (en > data_size)
        return tl_set_error(TL_ERR_FORMAT,
                            "%s: tensor '%s': data_offsets [%llu, %llu] end past the data section (%zu bytes)", path,
                            nm, (unsigned long long)b, (unsigned long long)en, data_size);
    if (en - b != t->nbytes)
        return tl_set_error(TL_ERR_FORMAT,
                            "%s: tensor '%s': data_offsets [%llu, %llu] hold %llu bytes, but %s %s needs %zu",
                            path, nm, (unsigned long long)b, (unsigned long long)en,
                            (unsigned long long)(en - b), tl_dtype_name(t->dtype),
                            shape_str(t->shape, t->ndim, sb, sizeof sb), t->nbytes);
    t->data = data + b;
    return TL_OK;
}

typedef struct st_span {
    size_t begin, end, idx;
} st_span;

static int cmp_span(const void *a, const void *b) {
    const st_span *x = a, *y = b;
    if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
    if (x->end != y->end) return x->end < y->end ? -1 : 1;
    return 0;
}

/* Rejects tensors whose byte ranges overlap (empty tensors overlap nothing). */
static tl_status check_overlaps(const char *path, const tl_safetensors *st, const char *data) {
    if (st->n < 2) return TL_OK;
    st_span *sp = malloc(st->n * sizeof *sp);
    if (!sp) return tl_set_error(TL_ERR_OOM, "%s: cannot allocate %zu spans", path, st->n);
    size_t m = 0;
    for (size_t i = 0; i < st->n; i++) {
        const tl_st_tensor *t = &st->tensors[i];
        if (!t->nbytes) continue;
        size_t b = (size_t)((const char *)t->data - data);
        sp[m++] = (st_span){b, b + t->nbytes, i};
    }
    qsort(sp, m, sizeof *sp, cmp_span);
    tl_status s = TL_OK;
    size_t far = 0; /* the span reaching furthest so far */
    for (size_t i = 1; i < m; i++) {
        if (sp[i].begin < sp[far].end) {
            s = tl_set_error(TL_ERR_FORMAT, "%s: tensor '%s': data_offsets [%zu, %zu] overlap tensor '%s' [%zu, %zu]",
                             path, st->tensors[sp[i].idx].name, sp[i].begin, sp[i].end,
                             st->tensors[sp[far].idx].name, sp[far].begin, sp[far].end);
            break;
        }
        if (sp[i].end > sp[far].end) far = i;
    }
    free(sp);
    return s;
}

/* Checks __metadata__ is an object of strings. */
static tl_status check_metadata(const char *path, const cJSON *md) {
    if (!cJSON_IsObject(md)) return tl_set_error(TL_ERR_FORMAT, "%s: __metadata__ is not a JSON object", path);
    const cJSON *v;
    cJSON_ArrayForEach(v, md) {
        if (!cJSON_IsString(v))
            return tl_set_error(TL_ERR_FORMAT, "%s: __metadata__ key '%s' is not a string", path, v->string);
    }
    return TL_OK;
}

/* Parses the header JSON (hdr, hlen bytes) and fills st's tensors. */
static tl_status parse_header(const char *path, const char *hdr, size_t hlen, const char *data, size_t data_size,
                              tl_safetensors *st) {
    char *buf = malloc(hlen + 1);
    if (!buf) return tl_set_error(TL_ERR_OOM, "%s: cannot allocate a %zu-byte header", path, hlen);
    memcpy(buf, hdr, hlen);
    buf[hlen] = '\0';
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(buf, hlen, &end, 0);
    if (!root) {
        size_t off = end && end >= buf ? (size_t)(end - buf) : 0;
        free(buf);
        return tl_set_error(TL_ERR_FORMAT, "%s: header is not valid JSON (error near byte %zu of %zu)", path,
                            off, hlen);
    }
    tl_status s = TL_OK;
    for (const char *p = end; p < buf + hlen; p++) /* only padding may follow the object */
        if (*p != ' ' && *p != '\t' && *p != '\n' && *p != '\r') {
            s = tl_set_error(TL_ERR_FORMAT, "%s: header has trailing bytes after the JSON (at byte %zu)", path,
                             (size_t)(p - buf));
            goto done;
        }
    if (!cJSON_IsObject(root)) {
        s = tl_set_error(TL_ERR_FORMAT, "%s: header is not a JSON object", path);
        goto done;
    }
    size_t count = (size_t)cJSON_GetArraySize(root);
    st->tensors = calloc(count ? count : 1, sizeof *st->tensors);
    if (!st->tensors) {
        s = tl_set_error(TL_ERR_OOM, "%s: cannot allocate %zu tensors", path, count);
        goto done;
    }
    const cJSON *e;
    cJSON_ArrayForEach(e, root) {
        if (strcmp(e->string, "__metadata__") == 0) {
            if ((s = check_metadata(path, e)) != TL_OK) goto done;
            continue;
        }
        tl_st_tensor *t = &st->tensors[st->n];
        t->name = tl_strdup(e->string);
        if (!t->name) {
            s = tl_set_error(TL_ERR_OOM, "%s: out of memory", path);
            goto done;
        }
        t->file = st->maps[0].path;
        st->n++;
        if ((s = parse_entry(path, e, data, data_size, t)) != TL_OK) goto done;
    }
    if ((s = build_name_index(st)) != TL_OK) goto done;
    s = check_overlaps(path, st, data);
done:
    cJSON_Delete(root);
    free(buf);
    return s;
}

/* Maps path read-only into st->maps[0]. TL_ERR_IO naming the path. */
static tl_status map_file(const char *path, st_map *m) {
    int fd;
    tl_status os = tl_open_regular(path, &fd); /* never blocks; names a directory, FIFO, ... */
    if (os != TL_OK) return os;
    struct stat sb;
    if (fstat(fd, &sb) != 0) {
        close(fd);
        return tl_set_error(TL_ERR_IO, "%s: cannot stat: %s", path, strerror(errno));
    }
    if (sb.st_size < 8) {
        close(fd);
        return tl_set_error(TL_ERR_FORMAT, "%s: file is %lld bytes, too short for a safetensors header (8 bytes)",
                            path, (long long)sb.st_size);
    }
    if ((uint64_t)sb.st_size > SIZE_MAX) {
        close(fd);
        return tl_set_error(TL_ERR_IO, "%s: file too large to map", path);
    }
    m->len = (size_t)sb.st_size;
    tl_status sp = tl_refuse_sparse(fd, m->len, path); /* before mapping: the declared size may exceed
                                                         * the address space */
    if (sp != TL_OK) {
        close(fd);
        return sp;
    }
    void *p = mmap(NULL, m->len, PROT_READ, MAP_PRIVATE, fd, 0);
    int err = errno;
    close(fd);
    if (p == MAP_FAILED) return tl_set_error(TL_ERR_IO, "%s: cannot mmap %zu bytes: %s", path, m->len, strerror(err));
    m->base = p;
    return TL_OK;
}

/* Opens and validates one .safetensors file (see safetensors.h). Caller closes *out. */
tl_status tl_st_open_file(const char *path, tl_safetensors **out) {
    if (!out) return tl_set_error(TL_ERR_INVALID_ARG, "tl_st_open_file: out is NULL");
    *out = NULL;
    if (!path) return tl_set_error(TL_ERR_INVALID_ARG, "tl_st_open_file: path is NULL");
    tl_safetensors *st = calloc(1, sizeof *st);
    if (st) st->maps = calloc(1, sizeof *st->maps);
    if (!st || !st->maps) {
        if (st) free(st);
        return tl_set_error(TL_ERR_OOM, "%s: out of memory", path);
    }
    st->nmaps = 1;
    st->maps[0].path = tl_strdup(path);
    if (!st->maps[0].path) {
        tl_st_close(st);
        return tl_set_error(TL_ERR_OOM, "%s: out of memory", path);
    }
    tl_status s = map_file(path, &st->maps[0]);
    if (s != TL_OK) {
        tl_st_close(st);
        return s;
    }
    const unsigned char *b = st->maps[0].base;
    uint64_t hn = 0;
    for (int i = 7; i >= 0; i--) hn = hn << 8 | b[i];
    size_t avail = st->maps[0].len - 8;
    if (hn > avail || hn > ST_MAX_HEADER) {
        s = tl_set_error(TL_ERR_FORMAT, "%s: header size %llu exceeds the %s (%zu bytes)", path,
                         (unsigned long long)hn, hn > avail ? "file" : "limit",
                         hn > avail ? avail : ST_MAX_HEADER);
        tl_st_close(st);
        return s;
    }
    const char *hdr = (const char *)b + 8;
    s = parse_header(path, hdr, (size_t)hn, hdr + hn, avail - (size_t)hn, st);
    if (s != TL_OK) {
        tl_st_close(st);
        return s;
    }
    *out = st;
    return TL_OK;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* Moves every shard's maps and tensors into one merged set (shards are emptied). */
static tl_status merge_shards(tl_safetensors **sh, size_t k, const char *dir, tl_safetensors **out) {
    tl_safetensors *m = calloc(1, sizeof *m);
    size_t nt = 0;
    for (size_t i = 0; i < k; i++) nt += sh[i]->n;
    if (m) {
        m->maps = calloc(k, sizeof *m->maps);
        m->tensors = calloc(nt ? nt : 1, sizeof *m->tensors);
    }
    if (!m || !m->maps || !m->tensors) {
        tl_st_close(m);
        return tl_set_error(TL_ERR_OOM, "%s: out of memory merging %zu shards", dir, k);
    }
    for (size_t i = 0; i < k; i++) {
        m->maps[m->nmaps++] = sh[i]->maps[0];
        sh[i]->nmaps = 0;
        memcpy(m->tensors + m->n, sh[i]->tensors, sh[i]->n * sizeof *m->tensors);
        m->n += sh[i]->n;
        sh[i]->n = 0;
    }
    tl_status s = build_name_index(m);
    if (s != TL_OK) {
        tl_st_close(m);
        return s;
    }
    *out = m;
    return TL_OK;
}

/* Opens every shard listed by index (a parsed model.safetensors.index.json at ipath). */
static tl_status open_index(const char *dir, const char *ipath, const cJSON *index, tl_safetensors **out) {
    const cJSON *wm = cJSON_GetObjectItemCaseSensitive(index, "weight_map");
    if (!cJSON_IsObject(wm)) return tl_set_error(TL_ERR_FORMAT, "%s: missing object field 'weight_map'", ipath);
    size_t nw = (size_t)cJSON_GetArraySize(wm);
    if (!nw) return tl_set_error(TL_ERR_FORMAT, "%s: weight_map is empty", ipath);
    const cJSON *e;
    cJSON_ArrayForEach(e, wm) {
        if (!cJSON_IsString(e) || !e->valuestring[0])
            return tl_set_error(TL_ERR_FORMAT, "%s: weight_map['%s'] is not a file name", ipath, e->string);
        if (strchr(e->valuestring, '/') || strstr(e->valuestring, ".."))
            return tl_set_error(TL_ERR_FORMAT, "%s: weight_map['%s'] = '%s': shard names may not contain '/' or '..'",
                                ipath, e->string, e->valuestring);
    }
    /* distinct shard names, sorted */
    char **names = malloc(nw * sizeof *names);
    tl_safetensors **sh = calloc(nw, sizeof *sh);
    tl_status s = TL_OK;
    size_t k = 0;
    if (!names || !sh) {
        s = tl_set_error(TL_ERR_OOM, "%s: out of memory", ipath);
        goto done;
    }
    cJSON_ArrayForEach(e, wm) names[k++] = e->valuestring;
    qsort(names, k, sizeof *names, cmp_str);
    size_t u = 0;
    for (size_t i = 0; i < k; i++)
        if (!u || strcmp(names[u - 1], names[i]) != 0) names[u++] = names[i];
    k = u;
    for (size_t i = 0; i < k && s == TL_OK; i++) {
        char *p = tl_path_join(dir, names[i]);
        if (!p) s = tl_set_error(TL_ERR_OOM, "%s: out of memory", ipath);
        else s = tl_st_open_file(p, &sh[i]);
        free(p);
    }
    if (s != TL_OK) goto done;
    cJSON_ArrayForEach(e, wm) {
        char **hit = bsearch(&e->valuestring, names, k, sizeof *names, cmp_str);
        if (!hit) continue; /* cannot happen: names holds every value */
        const tl_safetensors *one = sh[hit - names];
        if (!tl_st_find(one, e->string)) {
            s = tl_set_error(TL_ERR_FORMAT, "%s: weight_map says tensor '%s' is in %s, but %s has no such tensor",
                             ipath, e->string, names[hit - names], one->maps[0].path);
            goto done;
        }
    }
    s = merge_shards(sh, k, dir, out);
done:
    if (sh)
        for (size_t i = 0; i < k; i++) tl_st_close(sh[i]);
    free(sh);
    free(names);
    return s;
}

static tl_status st_from_views(const tl_tensor_view *views, const char *const *files, size_t n, const char *label,
                               tl_safetensors **out);

/* Opens a pytorch_model.bin (index_dir: the pytorch_model.bin.index.json of that
 * directory) with io/torch_bin.h; the tensor set owns the reader. */
static tl_status open_bin(const char *path, const char *index_dir, tl_safetensors **out) {
    tl_torch_bin *b = NULL;
    tl_status s = index_dir ? tl_tbin_open_index(index_dir, path, &b) : tl_tbin_open_file(path, &b);
    if (s == TL_OK) s = st_from_views(tl_tbin_views(b), tl_tbin_files(b), tl_tbin_count(b), path, out);
    if (s != TL_OK) {
        tl_tbin_close(b);
        return s;
    }
    (*out)->bin = b;
    return TL_OK;
}

/* Opens dir/model.safetensors or the shards of dir/model.safetensors.index.json, else
 * dir/pytorch_model.bin or the shards of dir/pytorch_model.bin.index.json.
 * TL_ERR_IO naming dir when none exists. Caller closes *out. */
tl_status tl_st_open_dir(const char *dir, tl_safetensors **out) {
    if (!out) return tl_set_error(TL_ERR_INVALID_ARG, "tl_st_open_dir: out is NULL");
    *out = NULL;
    if (!dir) return tl_set_error(TL_ERR_INVALID_ARG, "tl_st_open_dir: dir is NULL");
    char *single = tl_path_join(dir, "model.safetensors");
    char *ipath = tl_path_join(dir, "model.safetensors.index.json");
    char *bin = tl_path_join(dir, "pytorch_model.bin");
    char *bindex = tl_path_join(dir, "pytorch_model.bin.index.json");
    tl_status s;
    if (!single || !ipath || !bin || !bindex) {
        s = tl_set_error(TL_ERR_OOM, "%s: out of memory", dir);
    } else if (tl_file_exists(single)) {
        s = tl_st_open_file(single, out);
    } else if (tl_file_exists(ipath)) {
        cJSON *index = NULL;
        s = tl_json_load_file(ipath, &index);
        if (s == TL_OK) s = open_index(dir, ipath, index, out);
        cJSON_Delete(index);
    } else if (tl_file_exists(bin)) {
        s = open_bin(bin, NULL, out);
    } else if (tl_file_exists(bindex)) {
        s = open_bin(bindex, dir, out);
    } else {
        s = tl_set_error(TL_ERR_IO, "%s: no model.safetensors or model.safetensors.index.json (nor "
                         "pytorch_model.bin or pytorch_model.bin.index.json)", dir);
    }
    free(single);
    free(ipath);
    free(bin);
    free(bindex);
    return s;
}

/* Converts a float tensor (F32, F16, BF16, F64) to fp32 into dst (t->numel floats);
 * TL_ERR_UNSUPPORTED naming the tensor for other dtypes. Data may be unaligned. */
tl_status tl_st_copy_f32(const tl_st_tensor *t, float *dst) {
    if (!t || (!dst && t->numel)) return tl_set_error(TL_ERR_INVALID_ARG, "tl_st_copy_f32: NULL argument");
    if (tl_convert_to_f32(t->dtype, t->data, dst, t->numel)) return TL_OK;
    return tl_set_error(TL_ERR_UNSUPPORTED, "%s: tensor '%s': cannot convert dtype %s to F32", t->file,
                        t->name, tl_dtype_name(t->dtype));
}

/* tl_st_from_views, with tensor i reported as living in files[i] (files may be NULL:
 * label for every tensor). */
static tl_status st_from_views(const tl_tensor_view *views, const char *const *files, size_t n, const char *label,
                               tl_safetensors **out) {
    if (!out) return tl_set_error(TL_ERR_INVALID_ARG, "tl_st_from_views: out is NULL");
    *out = NULL;
    if (n && !views) return tl_set_error(TL_ERR_INVALID_ARG, "%s: tensors is NULL", label);
    tl_safetensors *st = calloc(1, sizeof *st);
    if (st) st->tensors = calloc(n ? n : 1, sizeof *st->tensors);
    if (!st || !st->tensors) {
        free(st);
        return tl_set_error(TL_ERR_OOM, "%s: out of memory", label);
    }
    tl_status s = TL_OK;
    for (size_t i = 0; i < n && s == TL_OK; i++, st->n++) {
        const tl_tensor_view *v = &views[i];
        tl_st_tensor *t = &st->tensors[i];
        t->file = files && files[i] ? files[i] : label;
        if (!v->name || !*v->name) {
            s = tl_set_error(TL_ERR_INVALID_ARG, "%s: tensor %zu has no name", label, i);
            break;
        }
        if (!(t->name = tl_strdup(v->name))) { s = tl_set_error(TL_ERR_OOM, "%s: out of memory", label); break; }
        if (!v->dtype || !tl_dtype_parse(v->dtype, &t->dtype)) {
            s = tl_set_error(TL_ERR_UNSUPPORTED, "%s: tensor '%s': dtype '%s' is not supported", label,
                             v->name, v->dtype ? v->dtype : "(null)");
            break;
        }
        if (v->ndim < 0 || v->ndim > TL_ST_MAX_DIMS || (v->ndim && !v->shape) || !v->data) {
            s = tl_set_error(TL_ERR_INVALID_ARG, "%s: tensor '%s': bad ndim %d, shape or data", label,
                             v->name, v->ndim);
            break;
        }
        size_t numel = 1;
        t->ndim = v->ndim;
        for (int d = 0; d < v->ndim && s == TL_OK; d++) {
            t->shape[d] = v->shape[d];
            if (v->shape[d] < 0 || tl_mul_overflow(numel, (size_t)v->shape[d], &numel))
                s = tl_set_error(TL_ERR_INVALID_ARG, "%s: tensor '%s': shape[%d] is negative or too large",
                                 label, v->name, d);
        }
        if (s == TL_OK && tl_mul_overflow(numel, tl_dtype_size(t->dtype), &t->nbytes))
            s = tl_set_error(TL_ERR_INVALID_ARG, "%s: tensor '%s' is too large", label, v->name);
        t->numel = numel;
        t->data = v->data;
    }
    if (s == TL_OK) s = build_name_index(st);
    if (s != TL_OK) {
        tl_st_close(st);
        return s;
    }
    *out = st;
    return TL_OK;
}

tl_status tl_st_from_views(const tl_tensor_view *views, size_t n, const char *label,
                           tl_safetensors **out) {
    return st_from_views(views, NULL, n, label, out);
}

tl_status tl_st_view_f32(const tl_st_tensor *t, const float **out, float **owned) {
    *owned = NULL;
    if (t->dtype == TL_DTYPE_F32 && ((uintptr_t)t->data % sizeof(float)) == 0) {
        *out = t->data;
        return TL_OK;
    }
    float *buf = malloc(t->numel ? t->numel * sizeof(float) : 1);
    if (!buf) return tl_set_error(TL_ERR_OOM, "out of memory converting tensor '%s'", t->name);
    tl_status s = tl_st_copy_f32(t, buf);
    if (s != TL_OK) {
        free(buf);
        return s;
    }
    *out = *owned = buf;
    return TL_OK;
}
