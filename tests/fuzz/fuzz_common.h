/* fuzz_common.h — hands a fuzz input to readers that open a path: the bytes go into an
 * anonymous memory file (memfd) reached as /proc/self/fd/N, so nothing touches the disk. */
#ifndef TL_FUZZ_COMMON_H
#define TL_FUZZ_COMMON_H
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <string.h>
#include <unistd.h>

/* Writes data into a fresh memfd and sets path to its /proc name; returns the fd (close it
 * after use) or -1. */
static int fuzz_memfile(const unsigned char *data, size_t size, char *path, size_t cap) {
    int fd = memfd_create("tl_fuzz", MFD_CLOEXEC);
    if (fd < 0) return -1;
    size_t done = 0;
    while (done < size) {
        ssize_t w = write(fd, data + done, size - done);
        if (w <= 0) {
            close(fd);
            return -1;
        }
        done += (size_t)w;
    }
    snprintf(path, cap, "/proc/self/fd/%d", fd);
    return fd;
}
#endif
