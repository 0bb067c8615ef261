/* torch_bin.c — pytorch_model.bin reader (see torch_bin.h).
 *
 * Zip layout:    <prefix>/data.pkl holds the state dict; each tensor is
 *                _rebuild_tensor_v2(persistent_id('storage', torch.<T>Storage, key, loc, numel),
 *                offset, size, stride, ...) and storage `key` is the STORED entry
 *                <prefix>/data/<key> (64-byte aligned by torch.save). <prefix> is whatever
 *                the first entry's name starts with.
 * Legacy layout: five pickles back to back (magic number, protocol 1001, sys_info, the state
 *                dict, the list of storage keys), then per key: u64 element count + data. */
#include "io/torch_bin.h"
#include "io/json.h"
#include "io/pickle.h"
#include "io/zip.h"
#include "core/error.h"
#include "core/util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct tb_map {
    char *path;
    void *base;
    size_t len;
} tb_map;

typedef struct tb_tensor {
    char *name;
    const char *dtype; /* static "F32", ... */
    int ndim;
    int64_t shape[TL_PK_MAX_DIMS];
    const void *data;
    void *owned; /* contiguous copy of a strided view, or NULL */
    size_t map;  /* index of the file it came from */
} tb_tensor;

struct tl_torch_bin {
    tb_map *maps;
    size_t nmaps;
    tb_tensor *t;
    size_t n, cap;
    tl_tensor_view *views;
    const char **files;
};

/* Resolves a storage of tensor tname to its bytes. */
typedef tl_status (*resolve_fn)(void *ctx, const char *path, const char *tname, const tl_pk_obj *storage,
                                const unsigned char **data, size_t *nbytes);

/* Unmaps and frees everything; NULL is a no-op. */
void tl_tbin_close(tl_torch_bin *b) {
    if (!b) return;
    for (size_t i = 0; i < b->n; i++) {
        free(b->t[i].name);
        free(b->t[i].owned);
    }
    for (size_t i = 0; i < b->nmaps; i++) {
        if (b->maps[i].base) munmap(b->maps[i].base, b->maps[i].len);
        free(b->maps[i].path);
    }
    free(b->maps);
    free(b->t);
    free(b->views);
    free(b->files);
    free(b);
}

size_t tl_tbin_count(const tl_torch_bin *b) { return b ? b->n : 0; }
const tl_tensor_view *tl_tbin_views(const tl_torch_bin *b) { return b ? b->views : NULL; }
const char *const *tl_tbin_files(const tl_torch_bin *b) { return b ? (const char *const *)b->files : NULL; }

/* Maps path read-only as b's next map. TL_ERR_IO / TL_ERR_FORMAT (empty) naming it. */
static tl_status map_file(tl_torch_bin *b, const char *path) {
    tb_map *m = realloc(b->maps, (b->nmaps + 1) * sizeof *m);
    if (!m) return tl_set_error(TL_ERR_OOM, "%s: out of memory", path);
    b->maps = m;
    m = &b->maps[b->nmaps];
    memset(m, 0, sizeof *m);
    if (!(m->path = tl_strdup(path))) return tl_set_error(TL_ERR_OOM, "%s: out of memory", path);
    b->nmaps++;
    int fd;
    tl_status os = tl_open_regular(path, &fd); /* never blocks; names a directory, FIFO, ... */
    if (os != TL_OK) return os;
    struct stat sb;
    if (fstat(fd, &sb) != 0) {
        close(fd);
        return tl_set_error(TL_ERR_IO, "%s: cannot stat: %s", path, strerror(errno));
    }
    if (sb.st_size == 0 || (uint64_t)sb.st_size > SIZE_MAX) {
        close(fd);
        return tl_set_error(TL_ERR_FORMAT, "%s: file is %lld bytes: not a torch.save checkpoint", path,
                            (long long)sb.st_size);
    }
    tl_status sp = tl_refuse_sparse(fd, (size_t)sb.st_size, path);
    if (sp != TL_OK) {
        close(fd);
        return sp;
    }
    void *p = mmap(NULL, (size_t)sb.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    int err = errno;
    close(fd);
    if (p == MAP_FAILED) return tl_set_error(TL_ERR_IO, "%s: cannot mmap: %s", path, strerror(err));
    m->base = p;
    m->len = (size_t)sb.st_size;
    return TL_OK;
}

/* Copies a strided view (elements of elsize bytes at storage[offset + sum i_d * stride_d])
 * into dst, contiguous row-major. The caller checked every index is inside the storage. */
static void gather(unsigned char *dst, const unsigned char *src, size_t elsize, const tl_pk_tensor *t) {
    int64_t idx[TL_PK_MAX_DIMS] = {0};
    size_t numel = 1;
    for (int d = 0; d < t->ndim; d++) numel *= (size_t)t->size[d];
    for (size_t k = 0; k < numel; k++) {
        size_t at = (size_t)t->offset;
        for (int d = 0; d < t->ndim; d++) at += (size_t)idx[d] * (size_t)t->stride[d];
        memcpy(dst + k * elsize, src + at * elsize, elsize);
        for (int d = t->ndim - 1; d >= 0; d--) { /* odometer */
            if (++idx[d] < t->size[d]) break;
            idx[d] = 0;
        }
    }
}

/* Checks tensor t of name nm against its storage's bytes and sets out->data (a pointer
 * into the storage when contiguous, else a copy in out->owned; *copied counts copies). */
static tl_status place(const char *path, const char *nm, const tl_pk_tensor *t, const unsigned char *data,
                       size_t nbytes, size_t budget, size_t *copied, tb_tensor *out) {
    const tl_pk_obj *st = t->storage;
    size_t el = st->u.storage.elsize, have = nbytes / el, numel = 1, need;
    const char *key = st->u.storage.key->u.str.s;
    for (int d = 0; d < t->ndim; d++)
        if (tl_mul_overflow(numel, (size_t)t->size[d], &numel))
            return tl_set_error(TL_ERR_FORMAT, "%s: tensor '%s': shape has too many elements (overflow)", path, nm);
    if (tl_mul_overflow(numel, el, &need))
        return tl_set_error(TL_ERR_FORMAT, "%s: tensor '%s': shape is too large (overflow)", path, nm);
    out->data = data;
    if (!numel) return TL_OK;
    int contiguous = 1;
    size_t expect = 1, last = (size_t)t->offset; /* last: highest element index the view reads */
    for (int d = t->ndim - 1; d >= 0; d--) {
        if (t->size[d] != 1 && (size_t)t->stride[d] != expect) contiguous = 0;
        expect *= (size_t)t->size[d];
        size_t span;
        if (tl_mul_overflow((size_t)(t->size[d] - 1), (size_t)t->stride[d], &span) ||
            tl_add_overflow(last, span, &last))
            return tl_set_error(TL_ERR_FORMAT, "%s: tensor '%s': offset and strides overflow", path, nm);
    }
    if (last >= have)
        return tl_set_error(TL_ERR_FORMAT,
                            "%s: tensor '%s': view (offset %lld, %zu elements) reads element %zu of storage '%s', "
                            "which holds %zu %s elements", path, nm, (long long)t->offset, numel, last, key, have,
                            st->u.storage.dtype);
    if (contiguous) {
        out->data = data + (size_t)t->offset * el;
        return TL_OK;
    }
    if (numel > have)
        return tl_set_error(TL_ERR_UNSUPPORTED, "%s: tensor '%s': a strided view of %zu elements over a storage of "
                            "%zu (overlapping strides) is not supported", path, nm, numel, have);
    if (*copied + need > budget)
        return tl_set_error(TL_ERR_FORMAT, "%s: tensor '%s': strided views need more than the file's size (%zu bytes) "
                            "in copies", path, nm, budget);
    if (!(out->owned = malloc(need)))
        return tl_set_error(TL_ERR_OOM, "%s: tensor '%s': cannot allocate %zu bytes", path, nm, need);
    gather(out->owned, data, el, t);
    out->data = out->owned;
    *copied += need;
    return TL_OK;
}

/* Adds every tensor of the state dict root (a dict of name -> tensor; other values are
 * skipped) to b, reading storages through fn. */
static tl_status add_tensors(tl_torch_bin *b, const char *path, const tl_pk_obj *root, resolve_fn fn, void *ctx) {
    if (root->kind != TL_PK_DICT)
        return tl_set_error(TL_ERR_FORMAT, "%s: the pickled object is not a dict of tensors (a state dict)", path);
    size_t np = root->u.seq.n / 2, map = b->nmaps - 1, copied = 0;
    if (np > TL_BIN_MAX_TENSORS - b->n)
        return tl_set_error(TL_ERR_FORMAT, "%s: more than %zu tensors (limit)", path, TL_BIN_MAX_TENSORS);
    tb_tensor *t = realloc(b->t, (b->n + np + 1) * sizeof *t);
    if (!t) return tl_set_error(TL_ERR_OOM, "%s: out of memory", path);
    b->t = t;
    for (size_t i = 0; i < np; i++) {
        const tl_pk_obj *k = root->u.seq.v[2 * i], *v = root->u.seq.v[2 * i + 1];
        if (v->kind != TL_PK_TENSOR) continue;
        if (k->kind != TL_PK_STR || !k->u.str.len || strlen(k->u.str.s) != k->u.str.len)
            return tl_set_error(TL_ERR_FORMAT, "%s: state dict key %zu is not a non-empty string", path, i);
        const tl_pk_tensor *pt = v->u.tensor;
        const unsigned char *data;
        size_t nbytes, decl;
        tl_status s = fn(ctx, path, k->u.str.s, pt->storage, &data, &nbytes);
        if (s != TL_OK) return s;
        const tl_pk_obj *st = pt->storage;
        if (tl_mul_overflow((size_t)st->u.storage.numel, st->u.storage.elsize, &decl) || decl != nbytes)
            return tl_set_error(TL_ERR_FORMAT, "%s: tensor '%s': storage '%s' declares %lld %s elements but holds %zu "
                                "bytes", path, k->u.str.s, st->u.storage.key->u.str.s,
                                (long long)st->u.storage.numel, st->u.storage.dtype, nbytes);
        tb_tensor *o = &b->t[b->n];
        memset(o, 0, sizeof *o);
        if (!(o->name = tl_strdup(k->u.str.s))) return tl_set_error(TL_ERR_OOM, "%s: out of memory", path);
        b->n++;
        o->dtype = st->u.storage.dtype;
        o->ndim = pt->ndim;
        memcpy(o->shape, pt->size, sizeof o->shape);
        o->map = map;
        if ((s = place(path, o->name, pt, data, nbytes, b->maps[map].len, &copied, o)) != TL_OK) return s;
    }
    return TL_OK;
}

/* ------------------------------------------------------------------ zip layout */

typedef struct zip_ctx {
    const tl_zip *z;
    const char *prefix;
    size_t plen;
    const char **dtype; /* per entry: the dtype its storage was first used with */
} zip_ctx;

/* Storage `key` is the entry <prefix>data/<key>, used with one dtype only. */
static tl_status zip_resolve(void *c, const char *path, const char *tname, const tl_pk_obj *st,
                             const unsigned char **data, size_t *nbytes) {
    zip_ctx *x = c;
    const char *key = st->u.storage.key->u.str.s;
    size_t klen = st->u.storage.key->u.str.len;
    char *name = malloc(x->plen + 5 + klen + 1);
    if (!name) return tl_set_error(TL_ERR_OOM, "%s: out of memory", path);
    snprintf(name, x->plen + 5 + klen + 1, "%sdata/%s", x->prefix, key);
    const tl_zip_entry *e = tl_zip_find(x->z, name);
    free(name);
    if (!e)
        return tl_set_error(TL_ERR_FORMAT, "%s: tensor '%s': storage '%s' has no entry %sdata/%s in the archive", path,
                            tname, key, x->prefix, key);
    size_t i = (size_t)(e - x->z->entries);
    if (x->dtype[i] && strcmp(x->dtype[i], st->u.storage.dtype) != 0)
        return tl_set_error(TL_ERR_FORMAT, "%s: tensor '%s': storage '%s' is used as both %s and %s", path, tname, key,
                            x->dtype[i], st->u.storage.dtype);
    x->dtype[i] = st->u.storage.dtype;
    *data = x->z->buf + e->offset;
    *nbytes = e->size;
    return TL_OK;
}

/* Reads the zip layout of the mapped file buf[0, len) into b. */
static tl_status load_zip(tl_torch_bin *b, const char *path, const unsigned char *buf, size_t len) {
    tl_zip z;
    tl_status s = tl_zip_open(buf, len, path, &z);
    if (s != TL_OK) return s;
    tl_pk *pk = NULL;
    const tl_pk_obj *root;
    char *name = NULL;
    zip_ctx x = {.z = &z};
    const char *first = z.n ? z.entries[0].name : "", *slash = strchr(first, '/');
    if (!slash) {
        s = tl_set_error(TL_ERR_FORMAT, "%s: first zip entry '%s' has no record prefix: not a torch.save archive", path,
                         first);
        goto done;
    }
    x.plen = (size_t)(slash - first) + 1;
    if (!(name = malloc(x.plen + 16)) || !(x.dtype = calloc(z.n, sizeof *x.dtype))) {
        s = tl_set_error(TL_ERR_OOM, "%s: out of memory", path);
        goto done;
    }
    memcpy(name, first, x.plen);
    name[x.plen] = '\0';
    x.prefix = name; /* "<prefix>/" for zip_resolve; entries looked up below use name + x.plen */
    char *tail = malloc(x.plen + 16);
    if (!tail) {
        s = tl_set_error(TL_ERR_OOM, "%s: out of memory", path);
        goto done;
    }
    snprintf(tail, x.plen + 16, "%sbyteorder", name);
    const tl_zip_entry *e = tl_zip_find(&z, tail);
    if (e && !(e->size == 6 && !memcmp(buf + e->offset, "little", 6))) {
        s = tl_set_error(TL_ERR_UNSUPPORTED, "%s: %s is not 'little': only little-endian checkpoints are read", path,
                         tail);
    }
    snprintf(tail, x.plen + 16, "%sversion", name);
    e = tl_zip_find(&z, tail);
    if (s == TL_OK && e) {
        size_t i = 0;
        while (i < e->size && buf[e->offset + i] >= '0' && buf[e->offset + i] <= '9') i++;
        if (!i || i > 9 || (i < e->size && buf[e->offset + i] != '\n'))
            s = tl_set_error(TL_ERR_FORMAT, "%s: %s is not a version number", path, tail);
    }
    snprintf(tail, x.plen + 16, "%sdata.pkl", name);
    e = tl_zip_find(&z, tail);
    if (s == TL_OK && !e) s = tl_set_error(TL_ERR_FORMAT, "%s: no %s: not a torch.save archive", path, tail);
    if (s == TL_OK && (s = tl_pk_load(buf + e->offset, e->size, &pk, &root, NULL)) != TL_OK)
        tl_error_prefix(s, "%s: %s", path, tail);
    free(tail);
    if (s == TL_OK) s = add_tensors(b, path, root, zip_resolve, &x);
done:
    tl_pk_free(pk);
    free(x.dtype);
    free(name);
    tl_zip_free(&z);
    return s;
}

/* ------------------------------------------------------------------ legacy layout */

typedef struct leg_store {
    const char *key, *dtype;
    size_t elsize;
    const unsigned char *data;
    size_t nbytes;
} leg_store;

typedef struct leg_ctx {
    leg_store **sorted; /* by key */
    size_t n;
} leg_ctx;

static int cmp_store(const void *a, const void *b) {
    return strcmp((*(leg_store *const *)a)->key, (*(leg_store *const *)b)->key);
}

/* The store of key, or NULL. */
static leg_store *leg_find(const leg_ctx *x, const char *key) {
    leg_store k = {.key = key}, *kp = &k, **hit = bsearch(&kp, x->sorted, x->n, sizeof kp, cmp_store);
    return hit ? *hit : NULL;
}

/* Storage `key` is the list entry of that key, used with one dtype only. */
static tl_status leg_resolve(void *c, const char *path, const char *tname, const tl_pk_obj *st,
                             const unsigned char **data, size_t *nbytes) {
    leg_store *e = leg_find(c, st->u.storage.key->u.str.s);
    if (!e)
        return tl_set_error(TL_ERR_FORMAT, "%s: tensor '%s': storage '%s' is not in the file's storage list", path,
                            tname, st->u.storage.key->u.str.s);
    if (e->dtype && strcmp(e->dtype, st->u.storage.dtype) != 0)
        return tl_set_error(TL_ERR_FORMAT, "%s: tensor '%s': storage '%s' is used as both %s and %s", path, tname,
                            e->key, e->dtype, st->u.storage.dtype);
    e->dtype = st->u.storage.dtype;
    e->elsize = st->u.storage.elsize;
    *data = e->data;
    *nbytes = e->nbytes;
    return TL_OK;
}

/* Reads the legacy layout: the five pickles, then the storages in list order. */
static tl_status load_legacy(tl_torch_bin *b, const char *path, const unsigned char *buf, size_t len) {
    static const unsigned char magic[10] = {0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19};
    static const char *what[5] = {"magic number", "protocol version", "sys_info", "state dict", "storage keys"};
    tl_pk *pk[5] = {0};
    const tl_pk_obj *r[5] = {0};
    size_t pos = 0, used;
    leg_store *st = NULL;
    leg_ctx x = {0};
    tl_status s = TL_OK;
    for (int i = 0; i < 5 && s == TL_OK; i++, pos += used)
        if ((s = tl_pk_load(buf + pos, len - pos, &pk[i], &r[i], &used)) != TL_OK)
            tl_error_prefix(s, "%s: legacy torch.save %s (byte %zu)", path, what[i], pos);
    if (s != TL_OK) goto done;
    if (r[0]->kind != TL_PK_BIGINT || r[0]->u.str.len != 10 || memcmp(r[0]->u.str.s, magic, 10) != 0) {
        s = tl_set_error(TL_ERR_FORMAT, "%s: not a torch.save checkpoint (no zip archive, no legacy magic number)", path);
        goto done;
    }
    if (r[1]->kind != TL_PK_INT || r[1]->u.i != 1001) {
        s = tl_set_error(TL_ERR_UNSUPPORTED, "%s: legacy torch.save protocol %lld (only 1001 is read)", path,
                         r[1]->kind == TL_PK_INT ? (long long)r[1]->u.i : -1LL);
        goto done;
    }
    const tl_pk_obj *le = tl_pk_dict_get(r[2], "little_endian");
    if (le && (le->kind != TL_PK_BOOL || !le->u.i)) {
        s = tl_set_error(TL_ERR_UNSUPPORTED, "%s: big-endian checkpoint: only little-endian checkpoints are read", path);
        goto done;
    }
    if (r[4]->kind != TL_PK_LIST || r[4]->u.seq.n > TL_BIN_MAX_TENSORS) {
        s = tl_set_error(TL_ERR_FORMAT, "%s: legacy storage key list is not a list of at most %zu keys", path,
                         TL_BIN_MAX_TENSORS);
        goto done;
    }
    x.n = r[4]->u.seq.n;
    st = calloc(x.n + 1, sizeof *st);
    x.sorted = calloc(x.n + 1, sizeof *x.sorted);
    if (!st || !x.sorted) {
        s = tl_set_error(TL_ERR_OOM, "%s: out of memory", path);
        goto done;
    }
    for (size_t i = 0; i < x.n; i++) {
        const tl_pk_obj *k = r[4]->u.seq.v[i];
        if (k->kind != TL_PK_STR) {
            s = tl_set_error(TL_ERR_FORMAT, "%s: legacy storage key %zu is not a string", path, i);
            goto done;
        }
        st[i].key = k->u.str.s;
        x.sorted[i] = &st[i];
    }
    qsort(x.sorted, x.n, sizeof *x.sorted, cmp_store);
    for (size_t i = 1; i < x.n; i++)
        if (!strcmp(x.sorted[i - 1]->key, x.sorted[i]->key)) {
            s = tl_set_error(TL_ERR_FORMAT, "%s: legacy storage key '%s' is listed twice", path, x.sorted[i]->key);
            goto done;
        }
    /* each storage's dtype comes from the tensors using it; its size from the data */
    if (r[3]->kind != TL_PK_DICT) {
        s = tl_set_error(TL_ERR_FORMAT, "%s: the pickled object is not a dict of tensors (a state dict)", path);
        goto done;
    }
    for (size_t i = 1; i < r[3]->u.seq.n; i += 2) {
        const tl_pk_obj *v = r[3]->u.seq.v[i];
        if (v->kind != TL_PK_TENSOR) continue;
        const tl_pk_obj *so = v->u.tensor->storage;
        leg_store *e = leg_find(&x, so->u.storage.key->u.str.s);
        if (e && !e->dtype) {
            e->dtype = so->u.storage.dtype;
            e->elsize = so->u.storage.elsize;
        }
    }
    for (size_t i = 0; i < x.n; i++) {
        uint64_t cnt = 0;
        if (len - pos < 8) {
            s = tl_set_error(TL_ERR_FORMAT, "%s: truncated: storage '%s' has no size record at byte %zu", path, st[i].key,
                             pos);
            goto done;
        }
        for (int k = 7; k >= 0; k--) cnt = cnt << 8 | buf[pos + (size_t)k];
        pos += 8;
        if (!st[i].dtype) {
            s = tl_set_error(TL_ERR_FORMAT, "%s: storage '%s' is not used by any tensor (its element size is unknown)",
                             path, st[i].key);
            goto done;
        }
        size_t nb;
        if (cnt > SIZE_MAX || tl_mul_overflow((size_t)cnt, st[i].elsize, &nb) || nb > len - pos) {
            s = tl_set_error(TL_ERR_FORMAT, "%s: storage '%s' declares %llu %s elements at byte %zu, past the end of the "
                             "file (%zu bytes; truncated?)", path, st[i].key, (unsigned long long)cnt, st[i].dtype,
                             pos, len);
            goto done;
        }
        st[i].data = buf + pos;
        st[i].nbytes = nb;
        pos += nb;
        st[i].dtype = NULL; /* leg_resolve re-checks the dtype of every use */
    }
    s = add_tensors(b, path, r[3], leg_resolve, &x);
done:
    for (int i = 0; i < 5; i++) tl_pk_free(pk[i]);
    free(st);
    free(x.sorted);
    return s;
}

/* ------------------------------------------------------------------ files, shards */

/* Builds b->views and b->files from b->t. */
static tl_status finish(tl_torch_bin *b, const char *label) {
    b->views = calloc(b->n + 1, sizeof *b->views);
    b->files = calloc(b->n + 1, sizeof *b->files);
    if (!b->views || !b->files) return tl_set_error(TL_ERR_OOM, "%s: out of memory", label);
    for (size_t i = 0; i < b->n; i++) {
        const tb_tensor *t = &b->t[i];
        b->views[i] = (tl_tensor_view){t->name, t->dtype, t->ndim, t->shape, t->data};
        b->files[i] = b->maps[t->map].path;
    }
    return TL_OK;
}

/* Maps path and reads it into b (zip or legacy layout by its first bytes). */
static tl_status load_file(tl_torch_bin *b, const char *path) {
    tl_status s = map_file(b, path);
    if (s != TL_OK) return s;
    const unsigned char *buf = b->maps[b->nmaps - 1].base;
    size_t len = b->maps[b->nmaps - 1].len;
    if (tl_zip_is_zip(buf, len)) return load_zip(b, path, buf, len);
    if (len >= 3 && buf[0] == 0x80 && buf[1] == 2 && buf[2] == 0x8a) return load_legacy(b, path, buf, len);
    if (len >= 262 && !memcmp(buf + 257, "ustar", 5))
        return tl_set_error(TL_ERR_UNSUPPORTED, "%s: a tar archive (torch.save before PyTorch 0.4?) is not supported",
                            path);
    return tl_set_error(TL_ERR_FORMAT, "%s: not a torch.save checkpoint (neither a zip archive nor the legacy format)",
                        path);
}

/* Opens one torch.save file (see torch_bin.h). */
tl_status tl_tbin_open_file(const char *path, tl_torch_bin **out) {
    if (!out || !path) return tl_set_error(TL_ERR_INVALID_ARG, "tl_tbin_open_file: NULL argument");
    *out = NULL;
    tl_torch_bin *b = calloc(1, sizeof *b);
    if (!b) return tl_set_error(TL_ERR_OOM, "%s: out of memory", path);
    tl_status s = load_file(b, path);
    if (s == TL_OK) s = finish(b, path);
    if (s != TL_OK) {
        tl_tbin_close(b);
        return s;
    }
    *out = b;
    return TL_OK;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* Loads the distinct shards names[0..k) of dir into b and checks weight_map against them. */
static tl_status load_shards(tl_torch_bin *b, const char *dir, const char *ipath, const cJSON *wm, char **names,
                             size_t k) {
    size_t *first = calloc(k + 1, sizeof *first); /* shard i's tensors are b->t[first[i], first[i+1]) */
    tl_status s = first ? TL_OK : tl_set_error(TL_ERR_OOM, "%s: out of memory", ipath);
    for (size_t i = 0; i < k && s == TL_OK; i++) {
        char *p = tl_path_join(dir, names[i]);
        first[i] = b->n;
        s = p ? load_file(b, p) : tl_set_error(TL_ERR_OOM, "%s: out of memory", ipath);
        free(p);
    }
    if (s == TL_OK) first[k] = b->n;
    char **sorted = s == TL_OK ? malloc((b->n + 1) * sizeof *sorted) : NULL;
    if (s == TL_OK && !sorted) s = tl_set_error(TL_ERR_OOM, "%s: out of memory", ipath);
    for (size_t i = 0; i < k && s == TL_OK; i++) { /* each shard's names sorted in place of its range */
        for (size_t j = first[i]; j < first[i + 1]; j++) sorted[j] = b->t[j].name;
        qsort(sorted + first[i], first[i + 1] - first[i], sizeof *sorted, cmp_str);
    }
    const cJSON *e;
    if (s == TL_OK) cJSON_ArrayForEach(e, wm) {
        char **hit = bsearch(&e->valuestring, names, k, sizeof *names, cmp_str);
        size_t i = (size_t)(hit - names);
        const char *key = e->string;
        if (!bsearch(&key, sorted + first[i], first[i + 1] - first[i], sizeof *sorted, cmp_str)) {
            s = tl_set_error(TL_ERR_FORMAT, "%s: weight_map says tensor '%s' is in %s, but %s/%s has no such tensor",
                             ipath, e->string, names[i], dir, names[i]);
            break;
        }
    }
    free(sorted);
    free(first);
    return s;
}

/* Opens every shard of a pytorch_model.bin.index.json (see torch_bin.h). */
tl_status tl_tbin_open_index(const char *dir, const char *ipath, tl_torch_bin **out) {
    if (!out || !dir || !ipath) return tl_set_error(TL_ERR_INVALID_ARG, "tl_tbin_open_index: NULL argument");
    *out = NULL;
    cJSON *index = NULL;
    tl_status s = tl_json_load_file(ipath, &index);
    if (s != TL_OK) return s;
    const cJSON *wm = cJSON_GetObjectItemCaseSensitive(index, "weight_map"), *e;
    size_t nw = cJSON_IsObject(wm) ? (size_t)cJSON_GetArraySize(wm) : 0, k = 0;
    char **names = NULL;
    tl_torch_bin *b = NULL;
    if (!cJSON_IsObject(wm)) s = tl_set_error(TL_ERR_FORMAT, "%s: missing object field 'weight_map'", ipath);
    else if (!nw) s = tl_set_error(TL_ERR_FORMAT, "%s: weight_map is empty", ipath);
    else if (nw > TL_BIN_MAX_TENSORS) s = tl_set_error(TL_ERR_FORMAT, "%s: weight_map has more than %zu tensors", ipath,
                                                       TL_BIN_MAX_TENSORS);
    if (s == TL_OK) cJSON_ArrayForEach(e, wm) {
        if (!cJSON_IsString(e) || !e->valuestring[0]) {
            s = tl_set_error(TL_ERR_FORMAT, "%s: weight_map['%s'] is not a file name", ipath, e->string);
            break;
        }
        if (strchr(e->valuestring, '/') || strstr(e->valuestring, "..")) {
            s = tl_set_error(TL_ERR_FORMAT, "%s: weight_map['%s'] = '%s': shard names may not contain '/' or '..'",
                             ipath, e->string, e->valuestring);
            break;
        }
    }
    if (s == TL_OK && (!(names = malloc(nw * sizeof *names)) || !(b = calloc(1, sizeof *b))))
        s = tl_set_error(TL_ERR_OOM, "%s: out of memory", ipath);
    if (s == TL_OK) {
        cJSON_ArrayForEach(e, wm) names[k++] = e->valuestring;
        qsort(names, k, sizeof *names, cmp_str);
        size_t u = 0;
        for (size_t i = 0; i < k; i++)
            if (!u || strcmp(names[u - 1], names[i]) != 0) names[u++] = names[i];
        s = load_shards(b, dir, ipath, wm, names, u);
    }
    if (s == TL_OK) s = finish(b, ipath);
    free(names);
    cJSON_Delete(index);
    if (s != TL_OK) {
        tl_tbin_close(b);
        return s;
    }
    *out = b;
    return TL_OK;
}
