/* fuzz_torch_bin.c — libFuzzer target: any bytes as a pytorch_model.bin (zip or legacy
 * layout) must be read or refused with an error, never crash, leak or read out of bounds;
 * every tensor a successful open hands out is read in full. */
#include "fuzz_common.h"
#include "io/torch_bin.h"

#include <string.h>

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

/* One input: open it, touch every byte of every tensor, close. */
int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size) {
    char path[64];
    int fd = fuzz_memfile(data, size, path, sizeof path);
    if (fd < 0) return 0;
    tl_torch_bin *b = NULL;
    if (tl_tbin_open_file(path, &b) == TL_OK) {
        volatile unsigned char acc = 0;
        for (size_t i = 0; i < tl_tbin_count(b); i++) {
            const tl_tensor_view *v = &tl_tbin_views(b)[i];
            size_t n = 1, el = !strcmp(v->dtype, "F64") || !strcmp(v->dtype, "I64") ? 8
                             : !strcmp(v->dtype, "F32") || !strcmp(v->dtype, "I32") ? 4
                             : !strcmp(v->dtype, "F16") || !strcmp(v->dtype, "BF16") || !strcmp(v->dtype, "I16") ? 2 : 1;
            for (int d = 0; d < v->ndim; d++) n *= (size_t)v->shape[d];
            for (size_t k = 0; k < n * el; k++) acc ^= ((const unsigned char *)v->data)[k];
        }
        (void)acc;
    }
    tl_tbin_close(b);
    close(fd);
    return 0;
}
