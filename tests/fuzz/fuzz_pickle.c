/* fuzz_pickle.c — libFuzzer target: any bytes as a pickle must be unpickled or refused by
 * the restricted unpickler, within its limits, never crash or leak. */
#include "io/pickle.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

/* One input: load, free. */
int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size) {
    tl_pk *pk = NULL;
    const tl_pk_obj *root = NULL;
    size_t used = 0;
    if (tl_pk_load(data, size, &pk, &root, &used) == TL_OK && used > size) __builtin_trap();
    tl_pk_free(pk);
    return 0;
}
