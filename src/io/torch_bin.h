/* torch_bin.h — safe reader of PyTorch checkpoints (pytorch_model.bin): the zip layout of
 * torch.save (<prefix>/data.pkl, <prefix>/data/<key>, byteorder, version), the legacy
 * pre-zip layout (_use_new_zipfile_serialization=False), and sharded checkpoints through
 * pytorch_model.bin.index.json. The pickle is read by the restricted unpickler of
 * io/pickle.h (nothing a file names is ever called). Tensor data points into a read-only
 * mapping of the file; views with strides are copied into contiguous buffers owned by
 * the handle. The tensors are handed out as tl_tensor_view records, which
 * io/safetensors.c turns into the usual tensor set. */
#ifndef TL_IO_TORCH_BIN_H
#define TL_IO_TORCH_BIN_H
#include <stddef.h>
#include "torchless.h"

/* At most this many tensors in one checkpoint (all shards together). */
#define TL_BIN_MAX_TENSORS ((size_t)1 << 20)

typedef struct tl_torch_bin tl_torch_bin;

/* Opens and validates one torch.save file. Every tensor's storage, offset, shape and
 * strides are checked against the data the file holds (overflow-checked); strided views
 * are copied (at most the file's size in total). TL_ERR_IO (cannot open or map),
 * TL_ERR_FORMAT naming the file and the tensor, zip entry or pickle opcode at fault,
 * TL_ERR_UNSUPPORTED (big-endian, compressed zip entries, unsupported storage types),
 * TL_ERR_OOM. Caller closes *out with tl_tbin_close. */
tl_status tl_tbin_open_file(const char *path, tl_torch_bin **out);

/* Opens every shard listed by the weight_map of ipath (a pytorch_model.bin.index.json in
 * dir); shard names may not hold '/' or '..'; every listed tensor must be in its shard.
 * Errors as tl_tbin_open_file, naming ipath or the shard. Caller closes *out. */
tl_status tl_tbin_open_index(const char *dir, const char *ipath, tl_torch_bin **out);

/* Number of tensors; their views (checkpoint order, shard by shard) and, per tensor, the
 * file it came from. All owned by b and valid until tl_tbin_close. */
size_t tl_tbin_count(const tl_torch_bin *b);
const tl_tensor_view *tl_tbin_views(const tl_torch_bin *b);
const char *const *tl_tbin_files(const tl_torch_bin *b);

/* Unmaps and frees everything; NULL is a no-op. */
void tl_tbin_close(tl_torch_bin *b);

#endif
