/* fuzz_config.c — libFuzzer target: any bytes as a config.json must resolve to an
 * architecture or be refused with an error, never crash, leak or read out of bounds. A
 * config that resolves is then bound to an empty state dict (tl_model_load_tensors): the
 * model's own checks must refuse it (a missing tensor) without allocating for the sizes the
 * config declares. */
#include "model/arch.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

/* One input: parse it as config.json text; when it parses, try to build a model on it. */
int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size) {
    char *json = malloc(size + 1);
    if (!json) return 0;
    memcpy(json, data, size);
    json[size] = 0;
    tl_arch arch;
    if (tl_arch_from_json(json, "config", &arch) == TL_OK) {
        tl_model *m = NULL;
        if (tl_model_load_tensors(json, NULL, 0, NULL, &m) == TL_OK) abort(); /* no weights: must fail */
        tl_model_free(m);
    }
    free(json);
    return 0;
}
