/* fuzz_safetensors.c — libFuzzer target: any bytes as a .safetensors file must be read or
 * refused, never crash, leak or read out of bounds; a successful open's tensors are read
 * in full (converted to fp32 where they are float). */
#include "fuzz_common.h"
#include "io/safetensors.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

/* One input: open it, read every tensor, close. */
int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size) {
    char path[64];
    int fd = fuzz_memfile(data, size, path, sizeof path);
    if (fd < 0) return 0;
    tl_safetensors *st = NULL;
    if (tl_st_open_file(path, &st) == TL_OK) {
        volatile unsigned char acc = 0;
        for (size_t i = 0; i < tl_st_count(st); i++) {
            const tl_st_tensor *t = tl_st_at(st, i);
            for (size_t k = 0; k < t->nbytes; k++) acc ^= ((const unsigned char *)t->data)[k];
            const float *f;
            float *owned = NULL;
            if (t->numel < (1u << 20) && tl_st_view_f32(t, &f, &owned) == TL_OK) free(owned);
        }
        (void)acc;
    }
    tl_st_close(st);
    close(fd);
    return 0;
}
