/* json.c — cJSON helpers with file-naming errors. */
#include "io/json.h"
#include "core/error.h"
#include "core/util.h"

#include <stdlib.h>

tl_status tl_json_load_file(const char *path, cJSON **out) {
    *out = NULL;
    char *buf;
    size_t len;
    tl_status s = tl_read_file(path, &buf, &len);
    if (s != TL_OK) return s;
    const char *end = NULL;
    cJSON *j = cJSON_ParseWithLengthOpts(buf, len, &end, 0);
    if (!j) {
        size_t off = end ? (size_t)(end - buf) : 0;
        free(buf);
        return tl_set_error(TL_ERR_FORMAT, "%s: invalid JSON near byte %zu", path, off);
    }
    free(buf);
    *out = j;
    return TL_OK;
}

long tl_json_int(const cJSON *obj, const char *key, long def, int *ok) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!v || cJSON_IsNull(v)) return def;
    /* an integer that fits in long (and is exact in a double): anything else is wrong */
    if (!cJSON_IsNumber(v) || !(v->valuedouble >= -9007199254740992.0 && v->valuedouble <= 9007199254740992.0) ||
        v->valuedouble != (double)(long)v->valuedouble) {
        if (ok) *ok = 0;
        return def;
    }
    return (long)v->valuedouble;
}

double tl_json_num(const cJSON *obj, const char *key, double def, int *ok) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!v || cJSON_IsNull(v)) return def;
    if (!cJSON_IsNumber(v)) { if (ok) *ok = 0; return def; }
    return v->valuedouble;
}

int tl_json_bool(const cJSON *obj, const char *key, int def, int *ok) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!v || cJSON_IsNull(v)) return def;
    if (!cJSON_IsBool(v)) { if (ok) *ok = 0; return def; }
    return cJSON_IsTrue(v);
}

const char *tl_json_str(const cJSON *obj, const char *key) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}
