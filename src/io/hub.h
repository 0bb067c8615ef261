/* hub.h — resolves a model argument (a directory path, or a Hugging Face model id
 * looked up offline in the local cache) to a directory. */
#ifndef TL_IO_HUB_H
#define TL_IO_HUB_H
#include "torchless.h"

/* If path_or_id is an existing directory, returns a copy of it. Otherwise treats it as
 * "ORG/NAME" (or "NAME") and looks in $HF_HUB_CACHE, $HF_HOME/hub and
 * ~/.cache/huggingface/hub for models--ORG--NAME/snapshots/REV/, REV from refs/main
 * when present, else the only (or most recently modified) snapshot. On failure returns
 * TL_ERR_IO with a message naming the id and the places searched. Caller frees *dir. */
tl_status tl_resolve_model_dir(const char *path_or_id, char **dir);

#endif
