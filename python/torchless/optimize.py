"""torchless.optimize: a drop-in for "trace and compile" model optimizers (such as
BladeDISC's Hugging Face adapter). Give it a model — a directory, a cached Hugging Face id,
or a live transformers.PreTrainedModel — and call the result like the model's forward."""
from __future__ import annotations

import ctypes
from ctypes import byref, c_void_p
from typing import Any, Optional

import numpy as np

from ._lib import TlTensorView, check, lib
from .model import Model

_DTYPES = {"torch.float32": "F32", "torch.float16": "F16", "torch.bfloat16": "BF16",
           "torch.float64": "F64"}


def _from_live_model(model, num_threads: int) -> tuple[Model, list]:
    """Loads a torch PreTrainedModel's weights into libtorchless without copying fp32
    tensors; returns the Model and the tensors that must stay alive with it."""
    keep, views = [], []
    for name, t in model.state_dict().items():
        dtype = _DTYPES.get(str(t.dtype))
        if dtype is None:  # integer buffers such as position_ids
            continue
        if t.device.type != "cpu":
            raise ValueError(f"torchless.optimize: tensor '{name}' is on {t.device}; move the model to the CPU first")
        t = t.detach()
        if not t.is_contiguous():
            t = t.contiguous()
        shape = (ctypes.c_int64 * max(t.dim(), 1))(*t.shape)
        keep.extend([t, shape])
        views.append(TlTensorView(name.encode(), dtype.encode(), t.dim(), shape, c_void_p(t.data_ptr())))
    arr = (TlTensorView * max(len(views), 1))(*views)
    params = lib.tl_model_default_params()
    params.num_threads = num_threads
    params.load_tokenizer = 0
    handle = c_void_p()
    check(lib.tl_model_load_tensors(model.config.to_json_string().encode(), arr, len(views),
                                    byref(params), byref(handle)))
    return Model._from_handle(handle), keep


class OptimizedModel:
    """A callable with the encoder's forward signature (input_ids, attention_mask,
    token_type_ids, position_ids) returning {"last_hidden_state": (batch, seq, hidden)}:
    torch tensors when given torch tensors, numpy arrays otherwise."""

    def __init__(self, model: Model, keep: Optional[list] = None, config=None, padding: str = "compute"):
        if padding not in ("compute", "skip"):
            raise ValueError("padding must be 'compute' (outputs equal transformers' at every position) "
                             "or 'skip' (padding positions are not computed and returned as zeros)")
        self.model, self._keep, self.config, self.padding = model, keep or [], config, padding

    def __call__(self, input_ids=None, attention_mask=None, token_type_ids=None, position_ids=None,
                 return_dict: bool = True, **unused: Any):
        if input_ids is None:
            raise ValueError("torchless.optimize: input_ids is required (inputs_embeds is not supported)")
        as_torch = type(input_ids).__module__.startswith("torch")
        np_of = lambda x: None if x is None else np.asarray(x.cpu() if hasattr(x, "cpu") else x)
        ids = np_of(input_ids)
        if ids.ndim == 1:
            ids = ids[None, :]
        B, L = ids.shape
        mask, types, pos = (None if x is None else np_of(x).reshape(B, L)
                            for x in (attention_mask, token_type_ids, position_ids))
        if self.padding == "skip" and mask is not None:
            keep = [np.nonzero(mask[b])[0] for b in range(B)]
            pick = lambda a: None if a is None else [a[b, keep[b]] for b in range(B)]
            outs = self.model.forward(pick(ids), pick(types), None, pick(pos))
            hidden = np.zeros((B, L, self.model.hidden_size), dtype=np.float32)
            for b in range(B):
                hidden[b, keep[b]] = outs[b]
        else:
            rows = lambda a: None if a is None else list(a)
            outs = self.model.forward(rows(ids), rows(types), rows(mask), rows(pos))
            hidden = np.stack(outs) if B else np.zeros((0, L, self.model.hidden_size), np.float32)
        if as_torch:
            import torch

            hidden = torch.from_numpy(hidden)
        out = {"last_hidden_state": hidden}
        return out if return_dict else (hidden,)

    forward = __call__


def optimize(task: Optional[str] = None, model=None, *, num_threads: int = 0,
             padding: str = "compute") -> OptimizedModel:
    """Returns an OptimizedModel running `model` on libtorchless.

    model: a model directory, a Hugging Face id in the local cache, or a live
    transformers.PreTrainedModel (its fp32 weights are used in place, not copied).
    task: None or "feature-extraction" — task heads (logits) are served by
    torchless.pipeline(task) for now. padding: "compute" gives transformers' values at
    every position, "skip" never computes padding (zeros there)."""
    if model is None:
        raise ValueError("torchless.optimize: pass model= (a directory, a cached model id, or a "
                         "transformers PreTrainedModel)")
    if task not in (None, "feature-extraction"):
        raise NotImplementedError(
            f"torchless.optimize(task={task!r}): task heads (logits) are not wired into optimize() yet; "
            f"use torchless.pipeline({task!r}, model=...) for task outputs")
    if isinstance(model, (str, bytes)) or hasattr(model, "__fspath__"):
        return OptimizedModel(Model(str(model), num_threads=num_threads, load_tokenizer=False),
                              padding=padding)
    if hasattr(model, "state_dict") and hasattr(model, "config"):
        tl_model, keep = _from_live_model(model, num_threads)
        return OptimizedModel(tl_model, keep, config=model.config, padding=padding)
    raise TypeError(f"torchless.optimize: unsupported model of type {type(model).__name__}")
