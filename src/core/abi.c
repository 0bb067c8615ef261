/* abi.c — tl_struct_size: the sizes of the public structs, for bindings (the Python
 * package's ctypes mirrors) to check their copies of the layout against. */
#include "torchless.h"

#include <string.h>

/* sizeof the public struct called name, or 0 when no public struct has that name. */
size_t tl_struct_size(const char *name) {
    static const struct { const char *name; size_t size; } structs[] = {
        {"tl_encode_params", sizeof(tl_encode_params)}, {"tl_model_params", sizeof(tl_model_params)},
        {"tl_batch", sizeof(tl_batch)},                 {"tl_embed_params", sizeof(tl_embed_params)},
        {"tl_tensor_view", sizeof(tl_tensor_view)},     {"tl_accuracy_report", sizeof(tl_accuracy_report)},
        {"tl_context_params", sizeof(tl_context_params)}, {"tl_generate_params", sizeof(tl_generate_params)},
        {"tl_engine_params", sizeof(tl_engine_params)}, {"tl_request_params", sizeof(tl_request_params)},
        {"tl_request_timing", sizeof(tl_request_timing)},
    };
    for (size_t i = 0; name && i < sizeof structs / sizeof structs[0]; i++)
        if (!strcmp(structs[i].name, name)) return structs[i].size;
    return 0;
}
