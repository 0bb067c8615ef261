/* safetensors.h — validated, memory-mapped, zero-copy safetensors reader (one file or
 * a sharded checkpoint through model.safetensors.index.json). */
#ifndef TL_IO_SAFETENSORS_H
#define TL_IO_SAFETENSORS_H
#include <stddef.h>
#include <stdint.h>
#include "core/dtype.h" /* tl_dtype, tl_dtype_size, tl_dtype_name */
#include "torchless.h"

#define TL_ST_MAX_DIMS 8

/* One tensor: data points into the read-only mapping (not aligned beyond 1 byte in
 * general); nbytes == dtype size * product(shape), checked at open. */
typedef struct tl_st_tensor {
    char *name;
    tl_dtype dtype;
    int ndim;
    int64_t shape[TL_ST_MAX_DIMS];
    size_t numel;
    const void *data;
    size_t nbytes;
    const char *file; /* the file it lives in, for error messages */
} tl_st_tensor;

typedef struct tl_safetensors tl_safetensors;

/* Opens and validates one .safetensors file: header JSON well-formed, every tensor's
 * offsets inside the data section, no overlaps, nbytes == dtype size * numel without
 * overflow, known dtypes. Errors name the file and the tensor. Caller closes *out. */
tl_status tl_st_open_file(const char *path, tl_safetensors **out);

/* Opens dir/model.safetensors, or every shard listed by dir/model.safetensors.index.json;
 * failing those, dir/pytorch_model.bin or the shards of dir/pytorch_model.bin.index.json,
 * read safely by io/torch_bin.h into the same kind of set (data in a mapping of the file,
 * strided views copied). TL_ERR_IO naming dir when none exists. Caller closes *out. */
tl_status tl_st_open_dir(const char *dir, tl_safetensors **out);

/* Builds a tensor set over caller memory (no mapping, no copy): validates names
 * (non-empty, unique), dtypes, ndim and shape overflow; label names the source in
 * errors. The caller's memory must outlive *out. Close with tl_st_close. */
tl_status tl_st_from_views(const tl_tensor_view *views, size_t n, const char *label,
                           tl_safetensors **out);

/* Unmaps and frees everything; NULL is a no-op. */
void tl_st_close(tl_safetensors *st);

/* Number of tensors, and tensor i in header order (NULL if out of range). */
size_t tl_st_count(const tl_safetensors *st);
const tl_st_tensor *tl_st_at(const tl_safetensors *st, size_t i);

/* Tensor by exact name, NULL when absent. O(log n) or hashed. */
const tl_st_tensor *tl_st_find(const tl_safetensors *st, const char *name);

/* Sets *out to t's elements as fp32: the mapping itself when t is F32 and 4-byte aligned
 * (*owned = NULL), else a converted copy that is also returned in *owned for the caller
 * to free. Errors as tl_st_copy_f32, or TL_ERR_OOM. */
tl_status tl_st_view_f32(const tl_st_tensor *t, const float **out, float **owned);

/* Converts a float tensor (F32, F16, BF16, F64) to fp32 into dst (t->numel floats). */
tl_status tl_st_copy_f32(const tl_st_tensor *t, float *dst);

#endif
