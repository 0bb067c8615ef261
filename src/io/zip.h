/* zip.h — a validating reader of the zip archives torch.save writes: the central
 * directory of a file already in memory (mapped), STORED entries only, zip64 sizes and
 * offsets, every offset and size bounds- and overflow-checked. No decompression. */
#ifndef TL_IO_ZIP_H
#define TL_IO_ZIP_H
#include <stddef.h>
#include <stdint.h>
#include "torchless.h"

/* At most this many entries in one archive (a checkpoint has one per storage, plus ~6). */
#define TL_ZIP_MAX_ENTRIES ((size_t)1 << 20)

/* One entry: its data is buf[offset, offset + size), stored uncompressed. */
typedef struct tl_zip_entry {
    char *name; /* NUL-terminated (names holding a NUL byte are refused) */
    size_t offset, size;
    size_t header; /* offset of its local header */
} tl_zip_entry;

typedef struct tl_zip {
    tl_zip_entry *entries; /* central-directory order */
    size_t n;
    tl_zip_entry **by_name; /* the n entries sorted by name */
    const unsigned char *buf;
} tl_zip;

/* Returns 1 when buf starts with a zip local-file-header signature. */
int tl_zip_is_zip(const unsigned char *buf, size_t len);

/* Reads the central directory of the archive buf[0, len) into *z (caller frees it with
 * tl_zip_free; buf must outlive *z). TL_ERR_FORMAT naming path and the entry for: no end
 * record, offsets or sizes past the end, compressed or encrypted entries, a local header
 * that disagrees with the central directory, entries that overlap, duplicate names, more
 * than TL_ZIP_MAX_ENTRIES entries. TL_ERR_OOM. *z is zeroed on error. */
tl_status tl_zip_open(const unsigned char *buf, size_t len, const char *path, tl_zip *z);

/* Entry by exact name, NULL when absent. O(log n). */
const tl_zip_entry *tl_zip_find(const tl_zip *z, const char *name);

/* Frees the entry table; a zeroed *z is a no-op. */
void tl_zip_free(tl_zip *z);

#endif
