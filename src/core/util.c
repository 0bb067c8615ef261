/* util.c — file and path helpers. */
#include "core/util.h"
#include "core/error.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

const char *tl_file_kind(mode_t mode) {
    return S_ISDIR(mode) ? "a directory" : S_ISFIFO(mode) ? "a FIFO (named pipe)" :
           S_ISCHR(mode) ? "a character device" : S_ISBLK(mode) ? "a block device" :
           S_ISSOCK(mode) ? "a socket" : S_ISREG(mode) ? "a regular file" : "not a regular file";
}

tl_status tl_open_regular(const char *path, int *fd) {
    *fd = -1;
    /* O_NONBLOCK: opening a FIFO with no writer returns at once instead of blocking */
    int f = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (f < 0) {
        int e = errno;
        if (e == ELOOP) return tl_set_error(TL_ERR_IO, "%s: cannot open: a symbolic link loop", path);
        if (e == ENOENT) return tl_set_error(TL_ERR_IO, "%s: cannot open: no such file", path);
        return tl_set_error(TL_ERR_IO, "%s: cannot open: %s", path, strerror(e));
    }
    struct stat st;
    if (fstat(f, &st) != 0 || !S_ISREG(st.st_mode)) {
        const char *kind = fstat(f, &st) == 0 ? tl_file_kind(st.st_mode) : "unreadable";
        close(f);
        return tl_set_error(TL_ERR_IO, "%s: is %s, not a regular file", path, kind);
    }
    int flags = fcntl(f, F_GETFL);
    if (flags >= 0) fcntl(f, F_SETFL, flags & ~O_NONBLOCK);
    *fd = f;
    return TL_OK;
}

tl_status tl_read_file(const char *path, char **out, size_t *len) {
    *out = NULL;
    if (len) *len = 0;
    int fd;
    tl_status os = tl_open_regular(path, &fd);
    if (os != TL_OK) return os;
    FILE *f = fdopen(fd, "rb");
    if (!f) { close(fd); return tl_set_error(TL_ERR_OOM, "%s: cannot open: out of memory", path); }
    struct stat st;
    if (fstat(fileno(f), &st) != 0) {
        fclose(f);
        return tl_set_error(TL_ERR_IO, "%s: cannot stat: %s", path, strerror(errno));
    }
    size_t n = (size_t)st.st_size;
    char *buf = malloc(n + 1);
    if (!buf) {
        fclose(f);
        return tl_set_error(TL_ERR_OOM, "%s: cannot allocate %zu bytes", path, n + 1);
    }
    if (n && fread(buf, 1, n, f) != n) {
        free(buf);
        fclose(f);
        return tl_set_error(TL_ERR_IO, "%s: read failed", path);
    }
    fclose(f);
    buf[n] = '\0';
    *out = buf;
    if (len) *len = n;
    return TL_OK;
}

int tl_file_exists(const char *path) {
    struct stat st;
    return path && lstat(path, &st) == 0;
}

int tl_dir_exists(const char *path) {
    struct stat st;
    return path && stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

char *tl_path_join(const char *dir, const char *name) {
    size_t a = strlen(dir), b = strlen(name);
    char *p = malloc(a + b + 2);
    if (!p) return NULL;
    memcpy(p, dir, a);
    size_t k = a;
    if (a && dir[a - 1] != '/') p[k++] = '/';
    memcpy(p + k, name, b + 1);
    return p;
}

char *tl_strdup(const char *s) {
    if (!s) return NULL;
    size_t n = strlen(s) + 1;
    char *p = malloc(n);
    if (p) memcpy(p, s, n);
    return p;
}

tl_status tl_refuse_sparse(int fd, size_t size, const char *path) {
    /* holes of at least 64 MiB and 90% of the file: a file that holds almost nothing of what it
     * declares. A valid checkpoint copied sparse (cp --sparse, rsync -S, ZFS compression) keeps
     * its nonzero tensors as data, far more than a tenth of it. */
    const size_t min_bytes = (size_t)64 << 20;
    const size_t need = size / 10 * 9;
    size_t holes = 0, first = size, stop = need > min_bytes ? need : min_bytes;
    off_t pos = 0;
    for (int i = 0; i < 1000000 && (size_t)pos < size && holes <= stop; i++) {
        off_t h = lseek(fd, pos, SEEK_HOLE);
        if (h < 0 || (size_t)h >= size) break; /* the implicit hole at the end, or unsupported */
        off_t d = lseek(fd, h, SEEK_DATA);
        size_t end = d < 0 ? size : (size_t)d; /* ENXIO: a hole up to the end */
        if (first == size) first = (size_t)h;
        holes += end - (size_t)h;
        pos = (off_t)end;
    }
    if (holes < min_bytes || holes < need) return TL_OK;
    return tl_set_error(TL_ERR_FORMAT,
                        "%s: the file is sparse: %s%zu MiB of its %zu MiB are holes with no data on disk (the "
                        "first at byte %zu); an incomplete or hostile file, refused rather than read as zeros (a copy "
                        "made with cp --sparse=never is read)",
                        path, holes > stop ? "at least " : "", holes >> 20, size >> 20, first);
}
