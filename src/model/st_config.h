/* st_config.h — a sentence-transformers model's module stack (modules.json,
 * 1_Pooling/config.json, 2_Normalize, sentence_bert_config.json). */
#ifndef TL_MODEL_ST_CONFIG_H
#define TL_MODEL_ST_CONFIG_H
#include <stddef.h>
#include "torchless.h"

/* Pooling modes in the order sentence-transformers concatenates them. */
enum {
    TL_POOL_CLS = 1 << 0,
    TL_POOL_MAX = 1 << 1,
    TL_POOL_MEAN = 1 << 2,
    TL_POOL_MEAN_SQRT_LEN = 1 << 3,
    TL_POOL_WEIGHTED_MEAN = 1 << 4,
    TL_POOL_LAST_TOKEN = 1 << 5
};

typedef struct tl_st_config {
    int present;           /* modules.json was found */
    unsigned pooling;      /* TL_POOL_* bits; mean when no Pooling module is configured */
    int include_prompt;    /* 1 unless 1_Pooling says false (no prompts are used yet) */
    int normalize;         /* a Normalize module follows pooling */
    size_t max_seq_length; /* sentence_bert_config.json; 0 when absent */
    int do_lower_case;     /* sentence_bert_config.json do_lower_case */
} tl_st_config;

/* Reads the sentence-transformers files of dir into *cfg. A model without modules.json
 * gets sentence-transformers' defaults for a plain transformers model (mean pooling, no
 * normalize). Unknown module types (Dense, ...) are TL_ERR_UNSUPPORTED naming the module. */
tl_status tl_st_config_load(const char *dir, tl_st_config *cfg); /* dir NULL: defaults */

/* Number of pooling modes set, i.e. how many hidden-size blocks an embedding has. */
size_t tl_st_pooling_count(const tl_st_config *cfg);

/* Writes a comma-separated description ("mean", "cls, max") into buf. */
void tl_st_pooling_describe(const tl_st_config *cfg, char *buf, size_t cap);

#endif
