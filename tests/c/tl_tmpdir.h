/* tl_tmpdir.h — one temporary directory per C test program, created on first use and
 * removed (recursively) when the program exits. */
#ifndef TL_TMPDIR_H
#define TL_TMPDIR_H
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static char tl_tmp_root_[64];

/* nftw callback: removes one file or (empty, depth-first) directory. */
static int tl_tmp_rm_(const char *p, const struct stat *sb, int flag, struct FTW *ftw) {
    (void)sb; (void)flag; (void)ftw;
    return remove(p);
}

__attribute__((destructor)) static void tl_tmp_cleanup_(void) {
    if (tl_tmp_root_[0]) nftw(tl_tmp_root_, tl_tmp_rm_, 16, FTW_DEPTH | FTW_PHYS);
}

/* Returns the test's temp dir, creating /tmp/tl_<tag>_XXXXXX on first use (exits on failure). */
static const char *tl_tmp_root(const char *tag) {
    if (!tl_tmp_root_[0]) {
        snprintf(tl_tmp_root_, sizeof tl_tmp_root_, "/tmp/tl_%s_XXXXXX", tag);
        if (!mkdtemp(tl_tmp_root_)) { perror("mkdtemp"); exit(2); }
    }
    return tl_tmp_root_;
}

/* Returns "<temp dir>/rel" in one of 8 rotating static buffers. */
static const char *tl_tmp_join(const char *tag, const char *rel) {
    static char buf[8][512];
    static int k;
    k = (k + 1) % 8;
    snprintf(buf[k], sizeof buf[k], "%s/%s", tl_tmp_root(tag), rel);
    return buf[k];
}
#endif
