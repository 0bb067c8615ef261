/* zip.c — central-directory reader for torch.save archives (see zip.h).
 *
 * Layout read: [local header + data]* central directory [zip64 end record + locator]
 * end record. Sizes and offsets come from the central directory (zip64 extra field when
 * a 32-bit field is saturated); each local header is checked against it. Nothing read
 * from the file is used before it is checked against len. */
#include "io/zip.h"
#include "core/error.h"
#include "core/util.h"

#include <stdlib.h>
#include <string.h>

#define SIG_LOCAL 0x04034b50u
#define SIG_CENTRAL 0x02014b50u
#define SIG_END 0x06054b50u
#define SIG_END64 0x06064b50u
#define SIG_LOC64 0x07064b50u

/* Little-endian loads from p (caller checked the bytes are inside the buffer). */
static uint16_t rd16(const unsigned char *p) { return (uint16_t)(p[0] | p[1] << 8); }
static uint32_t rd32(const unsigned char *p) { return (uint32_t)rd16(p) | (uint32_t)rd16(p + 2) << 16; }
static uint64_t rd64(const unsigned char *p) { return (uint64_t)rd32(p) | (uint64_t)rd32(p + 4) << 32; }

/* Returns 1 when buf starts with a zip local-file-header signature. */
int tl_zip_is_zip(const unsigned char *buf, size_t len) { return len >= 4 && rd32(buf) == SIG_LOCAL; }

/* Frees the entry table; a zeroed *z is a no-op. */
void tl_zip_free(tl_zip *z) {
    if (!z) return;
    for (size_t i = 0; i < z->n; i++) free(z->entries[i].name);
    free(z->entries);
    free(z->by_name);
    memset(z, 0, sizeof *z);
}

/* Finds the end record (the last signature whose comment fits the file); 0 if none. */
static int find_end(const unsigned char *buf, size_t len, size_t *pos) {
    if (len < 22) return 0;
    size_t lo = len - 22 > 65535 ? len - 22 - 65535 : 0;
    for (size_t p = len - 22 + 1; p-- > lo;)
        if (rd32(buf + p) == SIG_END && p + 22 + rd16(buf + p + 20) <= len) {
            *pos = p;
            return 1;
        }
    return 0;
}

/* Reads the central directory's offset, size and entry count, from the zip64 end record
 * when a locator precedes the end record. */
static tl_status read_end(const unsigned char *buf, size_t len, const char *path, uint64_t *cd_off,
                          uint64_t *cd_size, uint64_t *count) {
    size_t e;
    if (!find_end(buf, len, &e))
        return tl_set_error(TL_ERR_FORMAT, "%s: not a complete zip archive (no end-of-central-directory record; "
                            "truncated?)", path);
    *count = rd16(buf + e + 10);
    *cd_size = rd32(buf + e + 12);
    *cd_off = rd32(buf + e + 16);
    if (rd16(buf + e + 4) != 0 || rd16(buf + e + 6) != 0)
        return tl_set_error(TL_ERR_FORMAT, "%s: multi-disk zip archives are not supported", path);
    if (e >= 20 && rd32(buf + e - 20) == SIG_LOC64) {
        uint64_t o = rd64(buf + e - 20 + 8);
        if (o > len || len - o < 56 || rd32(buf + o) != SIG_END64)
            return tl_set_error(TL_ERR_FORMAT, "%s: zip64 end record offset %llu is not inside the file (%zu bytes)",
                                path, (unsigned long long)o, len);
        *count = rd64(buf + o + 32);
        *cd_size = rd64(buf + o + 40);
        *cd_off = rd64(buf + o + 48);
    }
    if (*cd_off > len || *cd_size > len - *cd_off)
        return tl_set_error(TL_ERR_FORMAT, "%s: central directory [%llu, +%llu) is past the end of the file (%zu bytes)",
                            path, (unsigned long long)*cd_off, (unsigned long long)*cd_size, len);
    if (*count > TL_ZIP_MAX_ENTRIES || *count > *cd_size / 46)
        return tl_set_error(TL_ERR_FORMAT, "%s: zip declares %llu entries (central directory %llu bytes, limit %zu)",
                            path, (unsigned long long)*count, (unsigned long long)*cd_size, TL_ZIP_MAX_ENTRIES);
    return TL_OK;
}

/* Applies the zip64 extra field (id 1) of a central entry to the saturated fields. */
static int apply_zip64(const unsigned char *x, size_t xlen, uint64_t *usize, uint64_t *csize, uint64_t *lho) {
    while (xlen >= 4) {
        uint16_t id = rd16(x), n = rd16(x + 2);
        if ((size_t)n > xlen - 4) return 0;
        if (id == 1) {
            const unsigned char *p = x + 4, *end = x + 4 + n;
            uint64_t *f[3] = {usize, csize, lho};
            for (int i = 0; i < 3; i++) {
                if (*f[i] != 0xffffffffu) continue;
                if (end - p < 8) return 0;
                *f[i] = rd64(p);
                p += 8;
            }
            return 1;
        }
        x += 4 + n;
        xlen -= 4 + (size_t)n;
    }
    return 1;
}

/* Parses central entry i at buf[*pos] into z->entries[i], checking its local header. */
static tl_status read_entry(const unsigned char *buf, size_t len, const char *path, size_t cd_end, size_t *pos,
                            size_t i, tl_zip_entry *en) {
    size_t p = *pos;
    if (cd_end - p < 46 || rd32(buf + p) != SIG_CENTRAL)
        return tl_set_error(TL_ERR_FORMAT, "%s: zip central directory entry %zu is malformed", path, i);
    uint16_t flags = rd16(buf + p + 8), method = rd16(buf + p + 10);
    uint64_t csize = rd32(buf + p + 20), usize = rd32(buf + p + 24), lho = rd32(buf + p + 42);
    size_t nlen = rd16(buf + p + 28), xlen = rd16(buf + p + 30), clen = rd16(buf + p + 32);
    if (cd_end - p - 46 < nlen + xlen + clen)
        return tl_set_error(TL_ERR_FORMAT, "%s: zip central directory entry %zu runs past the directory", path, i);
    const unsigned char *name = buf + p + 46;
    if (memchr(name, 0, nlen) || !nlen)
        return tl_set_error(TL_ERR_FORMAT, "%s: zip entry %zu has an empty name or a name holding a NUL byte", path, i);
    en->name = malloc(nlen + 1);
    if (!en->name) return tl_set_error(TL_ERR_OOM, "%s: out of memory", path);
    memcpy(en->name, name, nlen);
    en->name[nlen] = '\0';
    if (!apply_zip64(name + nlen, xlen, &usize, &csize, &lho))
        return tl_set_error(TL_ERR_FORMAT, "%s: zip entry '%s': malformed zip64 extra field", path, en->name);
    if (flags & 1)
        return tl_set_error(TL_ERR_FORMAT, "%s: zip entry '%s' is encrypted", path, en->name);
    if (method != 0)
        return tl_set_error(TL_ERR_FORMAT,
                            "%s: zip entry '%s' is compressed (method %u); torch.save writes STORED entries and "
                            "compressed ones are not read", path, en->name, method);
    if (csize != usize)
        return tl_set_error(TL_ERR_FORMAT, "%s: zip entry '%s' is stored but its sizes differ (%llu vs %llu)", path,
                            en->name, (unsigned long long)csize, (unsigned long long)usize);
    if (lho > len || len - lho < 30 || rd32(buf + lho) != SIG_LOCAL)
        return tl_set_error(TL_ERR_FORMAT, "%s: zip entry '%s': local header offset %llu is not a local header "
                            "inside the file (%zu bytes)", path, en->name, (unsigned long long)lho, len);
    size_t lnlen = rd16(buf + lho + 26), lxlen = rd16(buf + lho + 28);
    if (lnlen != nlen || len - lho - 30 < lnlen || memcmp(buf + lho + 30, name, nlen) != 0)
        return tl_set_error(TL_ERR_FORMAT, "%s: zip entry '%s': local header names a different entry", path, en->name);
    if (rd16(buf + lho + 8) != 0)
        return tl_set_error(TL_ERR_FORMAT, "%s: zip entry '%s': local header says compressed", path, en->name);
    size_t data = (size_t)lho + 30 + lnlen + lxlen; /* lho < len and the rest < 2^17: no overflow */
    if (data > len || usize > len - data)
        return tl_set_error(TL_ERR_FORMAT, "%s: zip entry '%s': data [%zu, +%llu) is past the end of the file "
                            "(%zu bytes; truncated?)", path, en->name, data, (unsigned long long)usize, len);
    en->header = (size_t)lho;
    en->offset = data;
    en->size = (size_t)usize;
    *pos = p + 46 + nlen + xlen + clen;
    return TL_OK;
}

static int cmp_by_name(const void *a, const void *b) {
    return strcmp((*(const tl_zip_entry *const *)a)->name, (*(const tl_zip_entry *const *)b)->name);
}

typedef struct span {
    size_t begin, end, idx;
} span;

static int cmp_span(const void *a, const void *b) {
    const span *x = a, *y = b;
    return x->begin < y->begin ? -1 : x->begin > y->begin;
}

/* Sorts the name index (refusing duplicates) and refuses entries whose header+data overlap. */
static tl_status check_entries(tl_zip *z, const char *path) {
    z->by_name = malloc((z->n ? z->n : 1) * sizeof *z->by_name);
    span *sp = malloc((z->n ? z->n : 1) * sizeof *sp);
    tl_status s = TL_OK;
    if (!z->by_name || !sp) {
        free(sp);
        return tl_set_error(TL_ERR_OOM, "%s: out of memory", path);
    }
    for (size_t i = 0; i < z->n; i++) {
        z->by_name[i] = &z->entries[i];
        sp[i] = (span){z->entries[i].header, z->entries[i].offset + z->entries[i].size, i};
    }
    qsort(z->by_name, z->n, sizeof *z->by_name, cmp_by_name);
    for (size_t i = 1; i < z->n && s == TL_OK; i++)
        if (strcmp(z->by_name[i - 1]->name, z->by_name[i]->name) == 0)
            s = tl_set_error(TL_ERR_FORMAT, "%s: zip entry '%s' appears twice", path, z->by_name[i]->name);
    qsort(sp, z->n, sizeof *sp, cmp_span);
    for (size_t i = 1; i < z->n && s == TL_OK; i++)
        if (sp[i].begin < sp[i - 1].end)
            s = tl_set_error(TL_ERR_FORMAT, "%s: zip entries '%s' and '%s' overlap", path,
                             z->entries[sp[i - 1].idx].name, z->entries[sp[i].idx].name);
    free(sp);
    return s;
}

/* Reads the central directory of buf[0, len) into *z (see zip.h). */
tl_status tl_zip_open(const unsigned char *buf, size_t len, const char *path, tl_zip *z) {
    memset(z, 0, sizeof *z);
    uint64_t cd_off = 0, cd_size = 0, count = 0;
    tl_status s = read_end(buf, len, path, &cd_off, &cd_size, &count);
    if (s != TL_OK) return s;
    z->buf = buf;
    z->entries = calloc(count ? (size_t)count : 1, sizeof *z->entries);
    if (!z->entries) return tl_set_error(TL_ERR_OOM, "%s: cannot allocate %llu zip entries", path,
                                         (unsigned long long)count);
    size_t pos = (size_t)cd_off, cd_end = (size_t)(cd_off + cd_size);
    for (size_t i = 0; i < count && s == TL_OK; i++) {
        s = read_entry(buf, len, path, cd_end, &pos, i, &z->entries[i]);
        z->n++; /* entry i's name (if any) is now owned by z */
    }
    if (s == TL_OK) s = check_entries(z, path);
    if (s != TL_OK) tl_zip_free(z);
    return s;
}

/* Entry by exact name via bsearch over the name index; NULL when absent. */
const tl_zip_entry *tl_zip_find(const tl_zip *z, const char *name) {
    size_t lo = 0, hi = z->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(z->by_name[mid]->name, name);
        if (!c) return z->by_name[mid];
        if (c < 0) lo = mid + 1;
        else hi = mid;
    }
    return NULL;
}
