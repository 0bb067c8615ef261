/* cmd_bench_png.c — writes a bench_canvas as a PNG file: signature, IHDR (8-bit RGB), one
 * zlib-compressed IDAT of filter-0 scanlines, IEND; chunk CRCs from zlib's crc32. */
#include "cmd_bench.h"

#include <stdlib.h>
#include <string.h>
#include <zlib.h>

/* Stores v big-endian in p[0..4). */
static void be32(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)(v >> 24); p[1] = (uint8_t)(v >> 16); p[2] = (uint8_t)(v >> 8); p[3] = (uint8_t)v;
}

/* Writes one chunk (length, type, data, CRC of type + data); returns 0 on a write error. */
static int chunk(FILE *f, const char *type, const uint8_t *data, size_t n) {
    uint8_t head[8], crc[4];
    be32(head, (uint32_t)n);
    memcpy(head + 4, type, 4);
    uLong c = crc32(0L, head + 4, 4);
    if (n) c = crc32(c, data, (uInt)n);
    be32(crc, (uint32_t)c);
    return fwrite(head, 1, 8, f) == 8 && (!n || fwrite(data, 1, n, f) == n) && fwrite(crc, 1, 4, f) == 4;
}

int bench_png_write(FILE *f, const bench_canvas *c) {
    static const uint8_t sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    uint8_t ihdr[13];
    be32(ihdr, (uint32_t)c->w);
    be32(ihdr + 4, (uint32_t)c->h);
    ihdr[8] = 8;  /* bit depth */
    ihdr[9] = 2;  /* RGB */
    ihdr[10] = ihdr[11] = ihdr[12] = 0; /* deflate, adaptive filtering, no interlace */
    size_t row = (size_t)c->w * 3 + 1, raw_n = row * (size_t)c->h;
    uLongf z_n = compressBound((uLong)raw_n);
    uint8_t *raw = malloc(raw_n), *z = malloc(z_n);
    int ok = raw && z;
    for (int y = 0; ok && y < c->h; y++) {
        raw[(size_t)y * row] = 0; /* filter: none */
        memcpy(raw + (size_t)y * row + 1, c->px + (size_t)y * (size_t)c->w * 3, (size_t)c->w * 3);
    }
    ok = ok && compress2(z, &z_n, raw, (uLong)raw_n, 9) == Z_OK;
    ok = ok && fwrite(sig, 1, 8, f) == 8 && chunk(f, "IHDR", ihdr, 13) && chunk(f, "IDAT", z, z_n) &&
         chunk(f, "IEND", NULL, 0);
    free(raw);
    free(z);
    return ok;
}
