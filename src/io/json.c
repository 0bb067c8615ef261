/* json.c — cJSON helpers with file-naming errors. */
#include "io/json.h"
#include "core/error.h"
#include "core/util.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* FNV-1a hash of a NUL-terminated key. */
static uint64_t key_hash(const char *k) {
    uint64_t h = 1469598103934665603ull;
    for (; *k; k++) h = (h ^ (unsigned char)*k) * 1099511628211ull;
    return h;
}

/* Resolves duplicate keys of one object as Python's json does: the key keeps the position
 * of its first occurrence and takes the value of its last. Linear scan for small objects,
 * a hash table otherwise. Returns 0, or -1 on OOM (the object is then left as it was). */
static int dedupe_object(cJSON *obj) {
    size_t n = 0;
    for (cJSON *c = obj->child; c; c = c->next) n++;
    if (n < 2) return 0;
    if (n <= 8) {
        for (cJSON *c = obj->child->next, *next; c; c = next) {
            next = c->next;
            for (cJSON *e = obj->child; e != c; e = e->next)
                if (e->string && c->string && strcmp(e->string, c->string) == 0) {
                    cJSON_DetachItemViaPointer(obj, c);
                    cJSON_ReplaceItemViaPointer(obj, e, c);
                    break;
                }
        }
        return 0;
    }
    size_t cap = 16;
    while (cap < 2 * n) cap *= 2;
    cJSON **tab = calloc(cap, sizeof *tab);
    if (!tab) return -1;
    for (cJSON *c = obj->child, *next; c; c = next) {
        next = c->next;
        if (!c->string) continue;
        size_t i = (size_t)key_hash(c->string) & (cap - 1);
        while (tab[i] && strcmp(tab[i]->string, c->string) != 0) i = (i + 1) & (cap - 1);
        if (tab[i]) { /* a later duplicate: its value replaces the first one, in place */
            cJSON_DetachItemViaPointer(obj, c);
            cJSON_ReplaceItemViaPointer(obj, tab[i], c);
        }
        tab[i] = c;
    }
    free(tab);
    return 0;
}

int tl_json_dedupe(cJSON *j) {
    if (!j) return 0;
    if (cJSON_IsObject(j) && dedupe_object(j) != 0) return -1;
    for (cJSON *c = j->child; c; c = c->next)
        if ((cJSON_IsObject(c) || cJSON_IsArray(c)) && tl_json_dedupe(c) != 0) return -1;
    return 0;
}

tl_status tl_json_parse(const char *buf, size_t len, const char *label, cJSON **out) {
    *out = NULL;
    const char *end = NULL;
    cJSON *j = cJSON_ParseWithLengthOpts(buf, len, &end, 0);
    if (!j) {
        size_t off = end && end >= buf ? (size_t)(end - buf) : 0;
        return tl_set_error(TL_ERR_FORMAT, "%s: invalid JSON near byte %zu", label, off);
    }
    if (tl_json_dedupe(j) != 0) {
        cJSON_Delete(j);
        return tl_set_error(TL_ERR_OOM, "%s: out of memory resolving duplicate keys", label);
    }
    *out = j;
    return TL_OK;
}

tl_status tl_json_load_file(const char *path, cJSON **out) {
    *out = NULL;
    char *buf;
    size_t len;
    tl_status s = tl_read_file(path, &buf, &len);
    if (s != TL_OK) return s;
    s = tl_json_parse(buf, len, path, out);
    free(buf);
    return s;
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

const char *tl_json_str_ok(const cJSON *obj, const char *key, int *ok) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (v && !cJSON_IsNull(v) && !cJSON_IsString(v) && ok) *ok = 0;
    return cJSON_IsString(v) ? v->valuestring : NULL;
}
