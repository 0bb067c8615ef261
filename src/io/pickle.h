/* pickle.h — a restricted unpickler for torch.save state dicts. It builds a tree of plain
 * values (None, bool, int, float, str, bytes, tuple, list, dict) plus the few torch
 * objects a state dict is made of, and never calls anything the file names: the only
 * globals it accepts are those listed in pickle.c (collections.OrderedDict,
 * torch._utils._rebuild_tensor_v2 / _rebuild_tensor / _rebuild_parameter(_with_state),
 * the torch.<T>Storage classes of the supported dtypes), each interpreted by our own code.
 * Any other global, and the opcodes that build arbitrary objects (INST, OBJ, NEWOBJ,
 * NEWOBJ_EX, EXT*), are refused with an error naming them. Every resource is bounded. */
#ifndef TL_IO_PICKLE_H
#define TL_IO_PICKLE_H
#include <stddef.h>
#include <stdint.h>
#include "torchless.h"

/* Limits (documented in docs/c-api.md). */
#define TL_PK_MAX_STACK 100000         /* values on the stack at once */
#define TL_PK_MAX_MARKS 1000           /* open MARKs (nesting depth of tuples/lists/dicts being built) */
#define TL_PK_MAX_MEMO ((size_t)1 << 22) /* memo keys 0 .. limit-1 */
#define TL_PK_MAX_OBJECTS ((size_t)1 << 22) /* values created by one pickle */
#define TL_PK_MAX_STR ((size_t)1 << 20) /* bytes in one string */
#define TL_PK_MAX_DIMS 8

typedef enum tl_pk_kind {
    TL_PK_NONE, TL_PK_BOOL, TL_PK_INT, TL_PK_BIGINT, TL_PK_FLOAT, TL_PK_STR, TL_PK_BYTES,
    TL_PK_TUPLE, TL_PK_LIST, TL_PK_DICT, TL_PK_GLOBAL, TL_PK_STORAGE, TL_PK_TENSOR
} tl_pk_kind;

/* The accepted globals. */
typedef enum tl_pk_global {
    TL_PKG_ORDERED_DICT, TL_PKG_REBUILD_TENSOR_V2, TL_PKG_REBUILD_TENSOR, TL_PKG_REBUILD_PARAMETER,
    TL_PKG_REBUILD_PARAMETER_STATE, TL_PKG_STORAGE
} tl_pk_global;

typedef struct tl_pk_obj tl_pk_obj;

/* What torch._utils._rebuild_tensor_v2(storage, offset, size, stride, ...) describes. */
typedef struct tl_pk_tensor {
    const tl_pk_obj *storage; /* a TL_PK_STORAGE */
    int64_t offset;           /* in elements, >= 0 */
    int ndim;
    int64_t size[TL_PK_MAX_DIMS], stride[TL_PK_MAX_DIMS]; /* all >= 0 */
} tl_pk_tensor;

struct tl_pk_obj {
    tl_pk_kind kind;
    union {
        int64_t i;                                       /* BOOL (0/1), INT */
        double f;                                        /* FLOAT */
        struct { char *s; size_t len; } str;             /* STR, BYTES, BIGINT (LE bytes); s NUL-terminated */
        struct { tl_pk_obj **v; size_t n, cap; } seq;    /* TUPLE, LIST; DICT: n/2 pairs k0 v0 k1 v1 .. */
        struct { tl_pk_global g; const char *dtype; size_t elsize; const char *name; } glob; /* GLOBAL */
        struct { const char *dtype; size_t elsize; const tl_pk_obj *key; int64_t numel; } storage;
        struct tl_pk_tensor *tensor;                    /* TENSOR */
    } u;
    tl_pk_obj *next_alloc; /* arena chain */
};

typedef struct tl_pk tl_pk; /* owns every value of one load */

/* Unpickles buf[0, len) up to and including its STOP opcode. On success *root is the
 * result, *used the bytes consumed (the pickle may be followed by other data), and the
 * caller frees *arena (which owns every value) with tl_pk_free. Persistent ids (BINPERSID)
 * must be torch's ('storage', torch.<T>Storage, key, location, numel[, None]) and become
 * TL_PK_STORAGE values. TL_ERR_FORMAT naming the opcode and byte offset (and the global,
 * for a refused one); TL_ERR_UNSUPPORTED for a recognised but unsupported torch feature;
 * TL_ERR_OOM. Nothing is left allocated on error. */
tl_status tl_pk_load(const unsigned char *buf, size_t len, tl_pk **arena, const tl_pk_obj **root, size_t *used);

/* Frees every value of a load; NULL is a no-op. */
void tl_pk_free(tl_pk *arena);

/* Dict d's value for string key k (last one wins, as in Python), or NULL. */
const tl_pk_obj *tl_pk_dict_get(const tl_pk_obj *d, const char *k);

#endif
