/* json.h — thin helpers over cJSON for reading config files with clear errors. */
#ifndef TL_IO_JSON_H
#define TL_IO_JSON_H
#include <cjson/cJSON.h>
#include "torchless.h"

/* Parses len bytes of JSON text. Duplicate keys resolve as Python's json does: the last
 * value wins, at the first key's position. TL_ERR_FORMAT names label and the byte offset
 * of a syntax error. Caller frees *out with cJSON_Delete. */
tl_status tl_json_parse(const char *buf, size_t len, const char *label, cJSON **out);

/* Resolves duplicate keys in every object under j (a parsed tree) as tl_json_parse does.
 * Returns 0, or -1 on OOM. Recursion depth is bounded by cJSON's nesting limit. */
int tl_json_dedupe(cJSON *j);

/* Reads and parses a JSON file. TL_ERR_IO if missing, TL_ERR_FORMAT naming the file and
 * the byte offset of the syntax error; duplicate keys as tl_json_parse. Caller frees *out with cJSON_Delete. */
tl_status tl_json_load_file(const char *path, cJSON **out);

/* Looks up key in obj: returns its number as long/double/bool, or def when absent or null.
 * *ok is set to 0 when the key exists with a wrong type, or (tl_json_int) is not an
 * integer within +-2^53 (untouched otherwise). */
long tl_json_int(const cJSON *obj, const char *key, long def, int *ok);
double tl_json_num(const cJSON *obj, const char *key, double def, int *ok);
int tl_json_bool(const cJSON *obj, const char *key, int def, int *ok);
/* Returns the string value of key, or NULL when absent or not a string. */
const char *tl_json_str(const cJSON *obj, const char *key);
/* As tl_json_str, and sets *ok to 0 when key exists with a value that is neither a string
 * nor null (untouched otherwise). */
const char *tl_json_str_ok(const cJSON *obj, const char *key, int *ok);

#endif
