/* json.h — thin helpers over cJSON for reading config files with clear errors. */
#ifndef TL_IO_JSON_H
#define TL_IO_JSON_H
#include <cjson/cJSON.h>
#include "torchless.h"

/* Reads and parses a JSON file. TL_ERR_IO if missing, TL_ERR_FORMAT naming the file and
 * the byte offset of the syntax error. Caller frees *out with cJSON_Delete. */
tl_status tl_json_load_file(const char *path, cJSON **out);

/* Looks up key in obj: returns its number as long/double/bool, or def when absent or null.
 * *ok is set to 0 when the key exists with a wrong type, or (tl_json_int) is not an
 * integer within +-2^53 (untouched otherwise). */
long tl_json_int(const cJSON *obj, const char *key, long def, int *ok);
double tl_json_num(const cJSON *obj, const char *key, double def, int *ok);
int tl_json_bool(const cJSON *obj, const char *key, int def, int *ok);
/* Returns the string value of key, or NULL when absent or not a string. */
const char *tl_json_str(const cJSON *obj, const char *key);

#endif
