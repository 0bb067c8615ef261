/* test_json.c — tl_json_parse: duplicate keys resolve as Python's json (last value wins, at
 * the first key's position), in small and large (hashed) objects, nested; syntax errors. */
#include "tl_test.h"
#include "core/error.h"
#include "io/json.h"

/* The keys of obj joined by ',' into buf. */
static const char *keys(const cJSON *obj, char *buf, size_t n) {
    buf[0] = 0;
    const cJSON *c;
    cJSON_ArrayForEach(c, obj) {
        strncat(buf, c->string, n - strlen(buf) - 1);
        strncat(buf, ",", n - strlen(buf) - 1);
    }
    return buf;
}

TL_TEST(duplicates_last_wins_small) {
    const char *t = "{\"a\":1,\"b\":2,\"a\":3,\"c\":{\"x\":1,\"x\":[{\"y\":1,\"y\":2}]},\"a\":4}";
    cJSON *j = NULL;
    CHECK_OK(tl_json_parse(t, strlen(t), "t.json", &j));
    char buf[128];
    CHECK(!strcmp(keys(j, buf, sizeof buf), "a,b,c,"));
    CHECK(tl_json_int(j, "a", 0, NULL) == 4);
    const cJSON *c = cJSON_GetObjectItemCaseSensitive(j, "c");
    CHECK(!strcmp(keys(c, buf, sizeof buf), "x,"));
    const cJSON *x = cJSON_GetObjectItemCaseSensitive(c, "x");
    CHECK(cJSON_IsArray(x) && tl_json_int(cJSON_GetArrayItem(x, 0), "y", 0, NULL) == 2);
    cJSON_Delete(j);
}

TL_TEST(duplicates_last_wins_large) {
    char t[4096] = "{";
    for (int i = 0; i < 40; i++) sprintf(t + strlen(t), "\"k%d\":%d,", i % 20, i); /* each twice */
    strcat(t, "\"k0\":99}");
    cJSON *j = NULL;
    CHECK_OK(tl_json_parse(t, strlen(t), "t.json", &j));
    CHECK(cJSON_GetArraySize(j) == 20);
    CHECK(!strcmp(cJSON_GetArrayItem(j, 0)->string, "k0") && tl_json_int(j, "k0", 0, NULL) == 99);
    for (int i = 1; i < 20; i++) {
        char k[8];
        sprintf(k, "k%d", i);
        CHECK(!strcmp(cJSON_GetArrayItem(j, i)->string, k) && tl_json_int(j, k, 0, NULL) == i + 20);
    }
    cJSON_Delete(j);
}

TL_TEST(syntax_error_names_label) {
    cJSON *j = NULL;
    CHECK(tl_json_parse("{\"a\": }", 7, "cfg.json", &j) == TL_ERR_FORMAT && !j);
    CHECK(strstr(tl_last_error(), "cfg.json") != NULL);
}


