/* util.h — small helpers: overflow-checked sizes, whole-file reads, paths. */
#ifndef TL_CORE_UTIL_H
#define TL_CORE_UTIL_H
#include <stddef.h>
#include <stdint.h>
#include "torchless.h"

/* Sets *out = a * b; returns 1 on overflow (then *out is unspecified), else 0. */
static inline int tl_mul_overflow(size_t a, size_t b, size_t *out) { return __builtin_mul_overflow(a, b, out); }
/* Sets *out = a + b; returns 1 on overflow, else 0. */
static inline int tl_add_overflow(size_t a, size_t b, size_t *out) { return __builtin_add_overflow(a, b, out); }

/* "a directory", "a FIFO (named pipe)", "a character device", ... for a stat mode. */
#include <sys/types.h>
const char *tl_file_kind(mode_t mode);
/* Opens path read-only without ever blocking (a FIFO is opened O_NONBLOCK, then refused);
 * TL_ERR_IO naming what path is instead of a regular file (a directory, FIFO, device,
 * socket), a symbolic link loop, or a missing file. Caller closes *fd. */
tl_status tl_open_regular(const char *path, int *fd);

/* Refuses (TL_ERR_FORMAT naming path) a sparse file fd of size bytes whose holes
 * (SEEK_HOLE / SEEK_DATA: ranges with no data on disk) make at least 64 MiB and 90% of it:
 * what it declares would be read as zeros it does not hold (an incomplete or hostile
 * file). ZFS stores zero blocks as holes, hence the share as well as the size. Counts at
 * most 1M holes; TL_OK when the file system cannot say. Call before mapping the file. */
tl_status tl_refuse_sparse(int fd, size_t size, const char *path);

/* Reads a whole file into a NUL-terminated malloc'd buffer (*len excludes the NUL).
 * Returns TL_ERR_IO naming the path when it is missing or unreadable. Caller frees *out. */
tl_status tl_read_file(const char *path, char **out, size_t *len);

/* Returns 1 if anything is at path (a file, directory, FIFO, device, or a symbolic link,
 * even a dangling or looping one), 0 when nothing is: callers then open it with
 * tl_read_file / tl_open_regular, whose error names what it is instead of calling it missing. */
int tl_file_exists(const char *path);
/* Returns 1 if path names an existing directory, 0 otherwise. */
int tl_dir_exists(const char *path);

/* Returns malloc'd "dir/name" (NULL on OOM). */
char *tl_path_join(const char *dir, const char *name);

/* Returns a malloc'd copy of s (NULL on OOM or when s is NULL). */
char *tl_strdup(const char *s);

/* Grows *p to hold at least n elements of elem bytes (capacity in *cap, doubled from 16);
 * returns 0, or -1 on OOM / overflow (then *p and *cap are unchanged). */
int tl_grow(void **p, size_t *cap, size_t n, size_t elem);

#endif
