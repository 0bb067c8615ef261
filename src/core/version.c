/* version.c — library version string. */
#include "torchless.h"

#define TL_STR2(x) #x
#define TL_STR(x) TL_STR2(x)

const char *tl_version(void) {
    return TL_STR(TL_VERSION_MAJOR) "." TL_STR(TL_VERSION_MINOR) "." TL_STR(TL_VERSION_PATCH);
}
