/* error.h — thread-local last-error message behind tl_last_error(). */
#ifndef TL_CORE_ERROR_H
#define TL_CORE_ERROR_H
#include "torchless.h"

/* Records a printf-style message as this thread's last error and returns s unchanged,
 * so callers write: return tl_set_error(TL_ERR_FORMAT, "%s: ...", path); */
tl_status tl_set_error(tl_status s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Prepends "prefix: " to this thread's last error (for adding context on the way up)
 * and returns s unchanged. */
tl_status tl_error_prefix(tl_status s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Clears this thread's last error. */
void tl_clear_error(void);

#endif
