/* pickle.c — the restricted unpickler of pickle.h.
 *
 * A stack machine over the opcodes of protocols 2-5 that build plain values; the stack,
 * MARK nesting, memo, value count and string sizes are bounded (pickle.h). Globals are
 * looked up in k_allowed and become inert TL_PK_GLOBAL values; REDUCE interprets the few
 * accepted callables itself. Values live in an arena freed at once; nothing recurses. */
#include "io/pickle.h"
#include "core/error.h"
#include "core/util.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct tl_pk {
    tl_pk_obj *objs; /* chain of every value */
    size_t nobj;
};

typedef struct unpickler {
    const unsigned char *buf;
    size_t len, pos, op_at; /* op_at: offset of the opcode being run, for messages */
    tl_pk *pk;
    tl_pk_obj **stack;
    size_t n, cap;
    size_t marks[TL_PK_MAX_MARKS];
    size_t nmarks;
    tl_pk_obj **memo;
    size_t memo_cap, memo_len;
    tl_status err; /* why the last new_obj returned NULL */
} unpickler;

static const struct {
    const char *module, *name;
    tl_pk_global g;
    const char *dtype;
    size_t elsize;
} k_allowed[] = {
    {"collections", "OrderedDict", TL_PKG_ORDERED_DICT, NULL, 0},
    {"torch._utils", "_rebuild_tensor_v2", TL_PKG_REBUILD_TENSOR_V2, NULL, 0},
    {"torch._utils", "_rebuild_tensor", TL_PKG_REBUILD_TENSOR, NULL, 0},
    {"torch._utils", "_rebuild_parameter", TL_PKG_REBUILD_PARAMETER, NULL, 0},
    {"torch._utils", "_rebuild_parameter_with_state", TL_PKG_REBUILD_PARAMETER_STATE, NULL, 0},
    {"torch", "FloatStorage", TL_PKG_STORAGE, "F32", 4},
    {"torch", "HalfStorage", TL_PKG_STORAGE, "F16", 2},
    {"torch", "BFloat16Storage", TL_PKG_STORAGE, "BF16", 2},
    {"torch", "DoubleStorage", TL_PKG_STORAGE, "F64", 8},
    {"torch", "LongStorage", TL_PKG_STORAGE, "I64", 8},
    {"torch", "IntStorage", TL_PKG_STORAGE, "I32", 4},
    {"torch", "ShortStorage", TL_PKG_STORAGE, "I16", 2},
    {"torch", "CharStorage", TL_PKG_STORAGE, "I8", 1},
    {"torch", "ByteStorage", TL_PKG_STORAGE, "U8", 1},
    {"torch", "BoolStorage", TL_PKG_STORAGE, "BOOL", 1},
};
#define N_ALLOWED (sizeof k_allowed / sizeof k_allowed[0])

/* Frees every value of a load; NULL is a no-op. */
void tl_pk_free(tl_pk *pk) {
    if (!pk) return;
    for (tl_pk_obj *o = pk->objs, *nx; o; o = nx) {
        nx = o->next_alloc;
        if (o->kind == TL_PK_STR || o->kind == TL_PK_BYTES || o->kind == TL_PK_BIGINT) free(o->u.str.s);
        else if (o->kind == TL_PK_TUPLE || o->kind == TL_PK_LIST || o->kind == TL_PK_DICT) free(o->u.seq.v);
        else if (o->kind == TL_PK_TENSOR) free(o->u.tensor);
        free(o);
    }
    free(pk);
}

/* Sets a TL_ERR_FORMAT error prefixed with the opcode's byte offset. */
#define FAIL(u, ...) fail_at((u), TL_ERR_FORMAT, __VA_ARGS__)
__attribute__((format(printf, 3, 4))) static tl_status fail_at(const unpickler *u, tl_status s, const char *fmt, ...) {
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return tl_set_error(s, "pickle byte %zu: %s", u->op_at, msg);
}

/* A new value of kind k in the arena (NULL with an error set at the value limit / OOM). */
static tl_pk_obj *new_obj(unpickler *u, tl_pk_kind k) {
    if (u->pk->nobj >= TL_PK_MAX_OBJECTS) {
        u->err = FAIL(u, "more than %zu values (limit)", TL_PK_MAX_OBJECTS);
        return NULL;
    }
    tl_pk_obj *o = calloc(1, sizeof *o);
    if (!o) {
        u->err = tl_set_error(TL_ERR_OOM, "pickle: out of memory");
        return NULL;
    }
    o->kind = k;
    o->next_alloc = u->pk->objs;
    u->pk->objs = o;
    u->pk->nobj++;
    return o;
}

/* Appends x to a TUPLE/LIST/DICT's items (growing by doubling). */
static tl_status seq_add(unpickler *u, tl_pk_obj *o, tl_pk_obj *x) {
    if (o->u.seq.n == o->u.seq.cap) {
        size_t cap = o->u.seq.cap ? 2 * o->u.seq.cap : 4;
        tl_pk_obj **v = cap <= SIZE_MAX / sizeof *v ? realloc(o->u.seq.v, cap * sizeof *v) : NULL;
        if (!v) return tl_set_error(TL_ERR_OOM, "pickle: out of memory");
        o->u.seq.v = v;
        o->u.seq.cap = cap;
    }
    o->u.seq.v[o->u.seq.n++] = x;
    (void)u;
    return TL_OK;
}

static tl_status push(unpickler *u, tl_pk_obj *o) {
    if (!o) return u->err; /* error already set by new_obj */
    if (u->n >= TL_PK_MAX_STACK) return FAIL(u, "stack deeper than %d values (limit)", TL_PK_MAX_STACK);
    if (u->n == u->cap) {
        size_t cap = u->cap ? 2 * u->cap : 64;
        tl_pk_obj **s = realloc(u->stack, cap * sizeof *s);
        if (!s) return tl_set_error(TL_ERR_OOM, "pickle: out of memory");
        u->stack = s;
        u->cap = cap;
    }
    u->stack[u->n++] = o;
    return TL_OK;
}

/* Stack bottom of the innermost open MARK (values below it cannot be popped). */
static size_t floor_of(const unpickler *u) { return u->nmarks ? u->marks[u->nmarks - 1] : 0; }

/* Pops one value into *o; FORMAT error on underflow. */
static tl_status pop(unpickler *u, tl_pk_obj **o) {
    *o = NULL;
    if (u->n <= floor_of(u)) return FAIL(u, "stack underflow");
    *o = u->stack[--u->n];
    return TL_OK;
}

/* The value on top without popping it (NULL with an error set on underflow). */
static tl_pk_obj *top(unpickler *u) {
    if (u->n <= floor_of(u)) {
        FAIL(u, "stack underflow");
        return NULL;
    }
    return u->stack[u->n - 1];
}

/* Closes the innermost MARK: *first is the index of the values above it, *k their count. */
static tl_status pop_mark(unpickler *u, size_t *first, size_t *k) {
    *first = *k = 0;
    if (!u->nmarks) return FAIL(u, "no MARK to close");
    *first = u->marks[--u->nmarks];
    *k = u->n - *first;
    return TL_OK;
}

/* Reads n bytes at the cursor into *p (FORMAT error if the pickle ends first). */
static tl_status take(unpickler *u, size_t n, const unsigned char **p) {
    *p = NULL;
    if (n > u->len - u->pos) return FAIL(u, "truncated (needs %zu more bytes, %zu left)", n, u->len - u->pos);
    *p = u->buf + u->pos;
    u->pos += n;
    return TL_OK;
}

/* Reads an n-byte little-endian unsigned integer. */
static tl_status take_uint(unpickler *u, size_t n, uint64_t *v) {
    const unsigned char *p = NULL;
    *v = 0;
    tl_status s = take(u, n, &p);
    if (s != TL_OK) return s;
    *v = 0;
    for (size_t i = n; i-- > 0;) *v = *v << 8 | p[i];
    return TL_OK;
}

/* Pushes a STR/BYTES/BIGINT value holding a copy of the next n bytes. */
static tl_status push_bytes(unpickler *u, tl_pk_kind k, uint64_t n) {
    if (n > TL_PK_MAX_STR) return FAIL(u, "string of %llu bytes (limit %zu)", (unsigned long long)n, TL_PK_MAX_STR);
    const unsigned char *p = NULL;
    tl_status s = take(u, (size_t)n, &p);
    if (s != TL_OK) return s;
    tl_pk_obj *o = new_obj(u, k);
    if (!o) return u->err;
    if (!(o->u.str.s = malloc((size_t)n + 1))) return tl_set_error(TL_ERR_OOM, "pickle: out of memory");
    if (n) memcpy(o->u.str.s, p, (size_t)n);
    o->u.str.s[n] = '\0';
    o->u.str.len = (size_t)n;
    return push(u, o);
}

/* Pushes an integer from n little-endian two's-complement bytes (LONG1/LONG4). */
static tl_status push_long(unpickler *u, uint64_t n) {
    if (n > 8) {
        if (n > 16) return FAIL(u, "integer of %llu bytes (limit 16)", (unsigned long long)n);
        return push_bytes(u, TL_PK_BIGINT, n);
    }
    uint64_t v;
    tl_status s = take_uint(u, (size_t)n, &v);
    if (s != TL_OK) return s;
    if (n && n < 8 && (v >> (8 * n - 1)) & 1) v |= ~(uint64_t)0 << (8 * n); /* sign-extend */
    tl_pk_obj *o = new_obj(u, TL_PK_INT);
    if (o) o->u.i = (int64_t)v;
    return push(u, o);
}

/* Pushes the GLOBAL module.name if it is allowed; otherwise a FORMAT error naming it. */
static tl_status push_global(unpickler *u, const char *module, const char *name, const char *op) {
    for (size_t i = 0; i < N_ALLOWED; i++)
        if (!strcmp(k_allowed[i].module, module) && !strcmp(k_allowed[i].name, name)) {
            tl_pk_obj *o = new_obj(u, TL_PK_GLOBAL);
            if (o) {
                o->u.glob.g = k_allowed[i].g;
                o->u.glob.dtype = k_allowed[i].dtype;
                o->u.glob.elsize = k_allowed[i].elsize;
                o->u.glob.name = k_allowed[i].name;
            }
            return push(u, o);
        }
    size_t nl = strlen(name);
    if (!strcmp(module, "torch") && nl > 7 && !strcmp(name + nl - 7, "Storage"))
        return fail_at(u, TL_ERR_UNSUPPORTED, "storage type 'torch.%s' (%s) is not supported", name, op);
    return FAIL(u, "global '%.200s.%.200s' (opcode %s) refused: not one a state dict needs (collections.OrderedDict, "
                "torch._utils._rebuild_tensor_v2, torch._utils._rebuild_parameter, torch.<T>Storage); nothing was "
                "called", module, name, op);
}

/* Reads a newline-terminated line (GLOBAL / INST operands) of at most 1000 bytes. */
static tl_status take_line(unpickler *u, char *out, size_t cap) {
    const unsigned char *p = u->buf + u->pos;
    size_t left = u->len - u->pos, max = left < cap - 1 ? left : cap - 1;
    const unsigned char *nl = memchr(p, '\n', max);
    if (!nl) return FAIL(u, "global name is unterminated or longer than %zu bytes", cap - 1);
    size_t k = (size_t)(nl - p);
    if (memchr(p, 0, k)) return FAIL(u, "global name holds a NUL byte");
    memcpy(out, p, k);
    out[k] = '\0';
    u->pos += k + 1;
    return TL_OK;
}

/* True for an INT value in [0, INT64_MAX]. */
static int is_nonneg_int(const tl_pk_obj *o) { return o->kind == TL_PK_INT && o->u.i >= 0; }

/* Reads a tuple of non-negative ints (a tensor's size or stride) into v, *n dims. */
static tl_status int_tuple(unpickler *u, const tl_pk_obj *t, const char *what, int64_t *v, int *n) {
    if (t->kind != TL_PK_TUPLE) return FAIL(u, "_rebuild_tensor: %s is not a tuple", what);
    if (t->u.seq.n > TL_PK_MAX_DIMS)
        return fail_at(u, TL_ERR_UNSUPPORTED, "_rebuild_tensor: %zu dims (at most %d supported)", t->u.seq.n,
                       TL_PK_MAX_DIMS);
    for (size_t i = 0; i < t->u.seq.n; i++) {
        if (!is_nonneg_int(t->u.seq.v[i]))
            return FAIL(u, "_rebuild_tensor: %s[%zu] is not a non-negative integer", what, i);
        v[i] = t->u.seq.v[i]->u.i;
    }
    *n = (int)t->u.seq.n;
    return TL_OK;
}

/* torch._utils._rebuild_tensor(_v2)(storage, offset, size, stride, ...) -> TENSOR. */
static tl_status rebuild_tensor(unpickler *u, const tl_pk_obj *args, int v2) {
    size_t n = args->u.seq.n;
    if (v2 ? n != 6 && n != 7 : n != 4)
        return FAIL(u, "_rebuild_tensor%s takes %s arguments, got %zu", v2 ? "_v2" : "", v2 ? "6 or 7" : "4", n);
    tl_pk_obj *const *a = args->u.seq.v;
    if (a[0]->kind != TL_PK_STORAGE) return FAIL(u, "_rebuild_tensor: argument 0 is not a storage");
    if (!is_nonneg_int(a[1])) return FAIL(u, "_rebuild_tensor: storage offset is not a non-negative integer");
    tl_pk_tensor *t = calloc(1, sizeof *t);
    if (!t) return tl_set_error(TL_ERR_OOM, "pickle: out of memory");
    tl_pk_obj *o = new_obj(u, TL_PK_TENSOR);
    if (!o) {
        free(t);
        return u->err;
    }
    o->u.tensor = t;
    t->storage = a[0];
    t->offset = a[1]->u.i;
    int ns = 0;
    tl_status s = int_tuple(u, a[2], "size", t->size, &t->ndim);
    if (s == TL_OK) s = int_tuple(u, a[3], "stride", t->stride, &ns);
    if (s == TL_OK && ns != t->ndim) s = FAIL(u, "_rebuild_tensor: size has %d dims but stride %d", t->ndim, ns);
    if (s == TL_OK && v2 && a[4]->kind != TL_PK_BOOL) s = FAIL(u, "_rebuild_tensor_v2: requires_grad is not a bool");
    return s == TL_OK ? push(u, o) : s;
}

/* REDUCE: calls one of the accepted globals as our own code (never the file's). */
static tl_status reduce(unpickler *u) {
    tl_pk_obj *args = NULL, *fn = NULL;
    tl_status s = pop(u, &args);
    if (s == TL_OK) s = pop(u, &fn);
    if (s != TL_OK) return s;
    if (fn->kind != TL_PK_GLOBAL) return FAIL(u, "REDUCE on a value that is not an accepted global");
    if (args->kind != TL_PK_TUPLE) return FAIL(u, "REDUCE of %s: arguments are not a tuple", fn->u.glob.name);
    switch (fn->u.glob.g) {
    case TL_PKG_ORDERED_DICT:
        if (args->u.seq.n) return FAIL(u, "OrderedDict() with arguments is not supported");
        return push(u, new_obj(u, TL_PK_DICT));
    case TL_PKG_REBUILD_TENSOR_V2:
    case TL_PKG_REBUILD_TENSOR:
        return rebuild_tensor(u, args, fn->u.glob.g == TL_PKG_REBUILD_TENSOR_V2);
    case TL_PKG_REBUILD_PARAMETER:
    case TL_PKG_REBUILD_PARAMETER_STATE:
        if (args->u.seq.n != (fn->u.glob.g == TL_PKG_REBUILD_PARAMETER ? 3u : 4u) ||
            args->u.seq.v[0]->kind != TL_PK_TENSOR)
            return FAIL(u, "%s: expected (tensor, requires_grad, hooks%s)", fn->u.glob.name,
                        fn->u.glob.g == TL_PKG_REBUILD_PARAMETER ? "" : ", state");
        return push(u, args->u.seq.v[0]); /* a parameter is its tensor */
    case TL_PKG_STORAGE:
        break;
    }
    return FAIL(u, "calling torch.%s is not supported", fn->u.glob.name);
}

/* BINPERSID: torch's ('storage', torch.<T>Storage, key, location, numel[, None]). */
static tl_status persistent_load(unpickler *u) {
    tl_pk_obj *pid = NULL;
    tl_status s = pop(u, &pid);
    if (s != TL_OK) return s;
    if (pid->kind != TL_PK_TUPLE || pid->u.seq.n < 5 || pid->u.seq.n > 6)
        return FAIL(u, "persistent id is not a ('storage', type, key, location, numel) tuple");
    tl_pk_obj *const *a = pid->u.seq.v;
    if (a[0]->kind != TL_PK_STR || strcmp(a[0]->u.str.s, "storage") != 0)
        return FAIL(u, "persistent id of an unknown kind (only 'storage' is read)");
    if (a[1]->kind != TL_PK_GLOBAL || a[1]->u.glob.g != TL_PKG_STORAGE)
        return FAIL(u, "persistent id: storage type is not a torch.<T>Storage class");
    if (a[2]->kind != TL_PK_STR || !a[2]->u.str.len || strlen(a[2]->u.str.s) != a[2]->u.str.len)
        return FAIL(u, "persistent id: storage key is not a non-empty string");
    if (a[3]->kind != TL_PK_STR) return FAIL(u, "persistent id: location is not a string");
    if (!is_nonneg_int(a[4])) return FAIL(u, "persistent id: storage size is not a non-negative integer");
    if (pid->u.seq.n == 6 && a[5]->kind != TL_PK_NONE)
        return fail_at(u, TL_ERR_UNSUPPORTED, "storage '%s' is a view of another storage (legacy view metadata); "
                       "not supported", a[2]->u.str.s);
    tl_pk_obj *o = new_obj(u, TL_PK_STORAGE);
    if (!o) return u->err;
    o->u.storage.dtype = a[1]->u.glob.dtype;
    o->u.storage.elsize = a[1]->u.glob.elsize;
    o->u.storage.key = a[2];
    o->u.storage.numel = a[4]->u.i;
    return push(u, o);
}

/* Builds a TUPLE/LIST of the k values at stack[first..] and replaces them with it. */
static tl_status collect(unpickler *u, tl_pk_kind kind, size_t first, size_t k) {
    tl_pk_obj *o = new_obj(u, kind);
    if (!o) return u->err;
    for (size_t i = 0; i < k; i++)
        if (seq_add(u, o, u->stack[first + i]) != TL_OK) return TL_ERR_OOM;
    u->n = first;
    return push(u, o);
}

/* Adds the k values at stack[first..] to the container below them (APPENDS, SETITEMS). */
static tl_status add_items(unpickler *u, tl_pk_kind want, size_t first, size_t k) {
    if (first <= floor_of(u) || u->stack[first - 1]->kind != want)
        return FAIL(u, "%s on a value that is not a %s", want == TL_PK_DICT ? "SETITEMS" : "APPENDS",
                    want == TL_PK_DICT ? "dict" : "list");
    if (want == TL_PK_DICT && k % 2) return FAIL(u, "SETITEMS with an odd number of values");
    tl_pk_obj *c = u->stack[first - 1];
    for (size_t i = 0; i < k; i++)
        if (seq_add(u, c, u->stack[first + i]) != TL_OK) return TL_ERR_OOM;
    u->n = first;
    return TL_OK;
}

/* Stores the top of the stack under memo key k. */
static tl_status memo_put(unpickler *u, uint64_t k) {
    if (k >= TL_PK_MAX_MEMO) return FAIL(u, "memo key %llu (limit %zu)", (unsigned long long)k, TL_PK_MAX_MEMO);
    tl_pk_obj *o = top(u);
    if (!o) return TL_ERR_FORMAT;
    if (k >= u->memo_cap) {
        size_t cap = u->memo_cap ? u->memo_cap : 64;
        while (cap <= k) cap *= 2;
        tl_pk_obj **m = realloc(u->memo, cap * sizeof *m);
        if (!m) return tl_set_error(TL_ERR_OOM, "pickle: out of memory");
        memset(m + u->memo_cap, 0, (cap - u->memo_cap) * sizeof *m);
        u->memo = m;
        u->memo_cap = cap;
    }
    if (!u->memo[k]) u->memo_len++;
    u->memo[k] = o;
    return TL_OK;
}

/* Pushes the value under memo key k. */
static tl_status memo_get(unpickler *u, uint64_t k) {
    if (k >= u->memo_cap || !u->memo[k]) return FAIL(u, "memo key %llu was never stored", (unsigned long long)k);
    return push(u, u->memo[k]);
}

/* Runs one opcode; sets *done at STOP. */
static tl_status step(unpickler *u, const tl_pk_obj **root, int *done) {
    const unsigned char *p = NULL;
    uint64_t v = 0;
    tl_pk_obj *a = NULL, *b = NULL;
    size_t first = 0, k = 0;
    tl_status s;
    u->op_at = u->pos;
    if ((s = take(u, 1, &p)) != TL_OK) return FAIL(u, "truncated: no STOP opcode");
    unsigned char op = *p;
    switch (op) {
    case 0x80: /* PROTO */
        if ((s = take_uint(u, 1, &v)) != TL_OK) return s;
        return v <= 5 ? TL_OK : FAIL(u, "pickle protocol %llu (at most 5 known)", (unsigned long long)v);
    case 0x95: /* FRAME: an 8-byte length hint */
        return take_uint(u, 8, &v);
    case '.': /* STOP */
        if ((s = pop(u, &a)) != TL_OK) return s;
        *root = a;
        *done = 1;
        return TL_OK;
    case '(': /* MARK */
        if (u->nmarks >= TL_PK_MAX_MARKS) return FAIL(u, "more than %d nested MARKs (limit)", TL_PK_MAX_MARKS);
        u->marks[u->nmarks++] = u->n;
        return TL_OK;
    case '0': /* POP */
        if (u->n > floor_of(u)) return pop(u, &a);
        return pop_mark(u, &first, &k);
    case '1': /* POP_MARK */
        if ((s = pop_mark(u, &first, &k)) != TL_OK) return s;
        u->n = first;
        return TL_OK;
    case '2': /* DUP */
        if (!(a = top(u))) return TL_ERR_FORMAT;
        return push(u, a);
    case 'N': return push(u, new_obj(u, TL_PK_NONE));
    case 0x88: case 0x89: /* NEWTRUE, NEWFALSE */
        if ((a = new_obj(u, TL_PK_BOOL))) a->u.i = op == 0x88;
        return push(u, a);
    case 'J': /* BININT: signed 32-bit */
        if ((s = take_uint(u, 4, &v)) != TL_OK) return s;
        if ((a = new_obj(u, TL_PK_INT))) a->u.i = (int32_t)(uint32_t)v;
        return push(u, a);
    case 'K': case 'M': /* BININT1, BININT2 */
        if ((s = take_uint(u, op == 'K' ? 1 : 2, &v)) != TL_OK) return s;
        if ((a = new_obj(u, TL_PK_INT))) a->u.i = (int64_t)v;
        return push(u, a);
    case 0x8a: case 0x8b: /* LONG1, LONG4 */
        if ((s = take_uint(u, op == 0x8a ? 1 : 4, &v)) != TL_OK) return s;
        return push_long(u, v);
    case 'G': { /* BINFLOAT: big-endian double */
        if ((s = take(u, 8, &p)) != TL_OK) return s;
        uint64_t bits = 0;
        for (int i = 0; i < 8; i++) bits = bits << 8 | p[i];
        if ((a = new_obj(u, TL_PK_FLOAT))) memcpy(&a->u.f, &bits, 8);
        return push(u, a);
    }
    case 'X': case 0x8c: case 0x8d: case 'T': case 'U': /* BINUNICODE(8), SHORT_BINUNICODE, BINSTRING, SHORT_BINSTRING */
        if ((s = take_uint(u, op == 0x8c || op == 'U' ? 1 : op == 0x8d ? 8 : 4, &v)) != TL_OK) return s;
        if (op == 'T' && v > INT32_MAX) return FAIL(u, "BINSTRING with a negative length");
        return push_bytes(u, TL_PK_STR, v);
    case 'B': case 'C': case 0x8e: /* BINBYTES, SHORT_BINBYTES, BINBYTES8 */
        if ((s = take_uint(u, op == 'C' ? 1 : op == 'B' ? 4 : 8, &v)) != TL_OK) return s;
        return push_bytes(u, TL_PK_BYTES, v);
    case ')': return push(u, new_obj(u, TL_PK_TUPLE));
    case ']': return push(u, new_obj(u, TL_PK_LIST));
    case '}': return push(u, new_obj(u, TL_PK_DICT));
    case 't': case 'l': case 'd': /* TUPLE, LIST, DICT from the values above the MARK */
        if ((s = pop_mark(u, &first, &k)) != TL_OK) return s;
        if (op == 'd' && k % 2) return FAIL(u, "DICT with an odd number of values");
        return collect(u, op == 't' ? TL_PK_TUPLE : op == 'l' ? TL_PK_LIST : TL_PK_DICT, first, k);
    case 0x85: case 0x86: case 0x87: /* TUPLE1..3 */
        k = (size_t)(op - 0x84);
        if (u->n < floor_of(u) + k) return FAIL(u, "stack underflow");
        return collect(u, TL_PK_TUPLE, u->n - k, k);
    case 'a': case 's': /* APPEND, SETITEM */
        k = op == 'a' ? 1 : 2;
        if (u->n < floor_of(u) + k) return FAIL(u, "stack underflow");
        return add_items(u, op == 'a' ? TL_PK_LIST : TL_PK_DICT, u->n - k, k);
    case 'e': case 'u': /* APPENDS, SETITEMS */
        if ((s = pop_mark(u, &first, &k)) != TL_OK) return s;
        return add_items(u, op == 'e' ? TL_PK_LIST : TL_PK_DICT, first, k);
    case 'q': case 'r': /* BINPUT, LONG_BINPUT */
        if ((s = take_uint(u, op == 'q' ? 1 : 4, &v)) != TL_OK) return s;
        return memo_put(u, v);
    case 0x94: return memo_put(u, u->memo_len); /* MEMOIZE */
    case 'h': case 'j': /* BINGET, LONG_BINGET */
        if ((s = take_uint(u, op == 'h' ? 1 : 4, &v)) != TL_OK) return s;
        return memo_get(u, v);
    case 'c': case 'i': { /* GLOBAL, INST: "module\nname\n" operands */
        char mod[1001], name[1001];
        if ((s = take_line(u, mod, sizeof mod)) != TL_OK || (s = take_line(u, name, sizeof name)) != TL_OK) return s;
        if ((s = push_global(u, mod, name, op == 'c' ? "GLOBAL" : "INST")) != TL_OK) return s;
        if (op == 'c') return TL_OK;
        return FAIL(u, "INST (builds an object of global '%s.%s') is not allowed", mod, name);
    }
    case 0x93: /* STACK_GLOBAL */
        if ((s = pop(u, &b)) != TL_OK || (s = pop(u, &a)) != TL_OK) return s;
        if (a->kind != TL_PK_STR || b->kind != TL_PK_STR || strlen(a->u.str.s) != a->u.str.len ||
            strlen(b->u.str.s) != b->u.str.len)
            return FAIL(u, "STACK_GLOBAL operands are not strings without NUL bytes");
        return push_global(u, a->u.str.s, b->u.str.s, "STACK_GLOBAL");
    case 'R': return reduce(u);
    case 'b': /* BUILD: only an OrderedDict's attributes (torch's _metadata), which are ignored */
        if ((s = pop(u, &b)) != TL_OK) return s;
        if (!(a = top(u))) return TL_ERR_FORMAT;
        if (a->kind != TL_PK_DICT || (b->kind != TL_PK_DICT && b->kind != TL_PK_NONE))
            return FAIL(u, "BUILD is only accepted on an OrderedDict with a dict of attributes");
        return TL_OK;
    case 'Q': return persistent_load(u);
    case 'o': return FAIL(u, "OBJ (builds an arbitrary object) is not allowed");
    case 0x81: return FAIL(u, "NEWOBJ (builds an arbitrary object) is not allowed");
    case 0x92: return FAIL(u, "NEWOBJ_EX (builds an arbitrary object) is not allowed");
    case 0x82: case 0x83: case 0x84: return FAIL(u, "EXT opcodes (the copyreg extension registry) are not allowed");
    case 'P': return FAIL(u, "PERSID (text persistent id) is not supported");
    default:
        return FAIL(u, "opcode 0x%02x ('%c') is not supported", op, op >= 0x20 && op < 0x7f ? op : '?');
    }
}

/* Unpickles buf[0, len) up to and including STOP (see pickle.h). */
tl_status tl_pk_load(const unsigned char *buf, size_t len, tl_pk **arena, const tl_pk_obj **root, size_t *used) {
    *arena = NULL;
    *root = NULL;
    unpickler u = {.buf = buf, .len = len};
    if (!(u.pk = calloc(1, sizeof *u.pk))) return tl_set_error(TL_ERR_OOM, "pickle: out of memory");
    tl_status s = TL_OK;
    int done = 0;
    while (!done && s == TL_OK) s = step(&u, root, &done);
    free(u.stack);
    free(u.memo);
    if (s != TL_OK) {
        tl_pk_free(u.pk);
        *root = NULL;
        return s;
    }
    *arena = u.pk;
    if (used) *used = u.pos;
    return TL_OK;
}

/* Dict d's value for string key k (last one wins), or NULL. */
const tl_pk_obj *tl_pk_dict_get(const tl_pk_obj *d, const char *k) {
    if (!d || d->kind != TL_PK_DICT) return NULL;
    const tl_pk_obj *hit = NULL;
    for (size_t i = 0; i + 1 < d->u.seq.n; i += 2)
        if (d->u.seq.v[i]->kind == TL_PK_STR && !strcmp(d->u.seq.v[i]->u.str.s, k)) hit = d->u.seq.v[i + 1];
    return hit;
}
