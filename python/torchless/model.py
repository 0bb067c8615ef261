"""torchless.Model: a loaded encoder, with the packed-batch forward pass, feature
extraction and sentence embeddings of the C library."""
from __future__ import annotations

import ctypes
from ctypes import POINTER, byref, c_char_p, c_float, c_int32, c_size_t, c_void_p
from typing import Optional, Sequence

import numpy as np

from ._lib import TlBatch, check, lib


def _as_i32(a) -> np.ndarray:
    return np.ascontiguousarray(np.asarray(a, dtype=np.int32))


class Model:
    """An encoder loaded by libtorchless from a directory or a cached Hugging Face id."""

    def __init__(self, path_or_id: str, num_threads: int = 0, load_tokenizer: bool = True):
        params = lib.tl_model_default_params()
        params.num_threads = num_threads
        params.load_tokenizer = 1 if load_tokenizer else 0
        handle = c_void_p()
        check(lib.tl_model_load(str(path_or_id).encode(), byref(params), byref(handle)))
        self._init_from_handle(handle)

    @classmethod
    def _from_handle(cls, handle) -> "Model":
        """Wraps an already loaded tl_model handle (owned by the new object)."""
        self = cls.__new__(cls)
        self._init_from_handle(handle)
        return self

    def _init_from_handle(self, handle) -> None:
        self._h = handle
        self.hidden_size = lib.tl_model_hidden_size(handle)
        self.max_positions = lib.tl_model_max_positions(handle)
        self.model_type = lib.tl_model_type(handle).decode()
        self.embedding_dim = lib.tl_model_embedding_dim(handle)

    @classmethod
    def from_pretrained(cls, path_or_id: str, **kwargs) -> "Model":
        """Loads a model; same arguments as the constructor."""
        return cls(path_or_id, **kwargs)

    def close(self) -> None:
        """Frees the C model now (also done when the object is collected)."""
        if getattr(self, "_h", None):
            lib.tl_model_free(self._h)
            self._h = None

    def __del__(self):
        self.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def forward(self, input_ids: Sequence[Sequence[int]], token_type_ids=None, attention_mask=None,
                position_ids=None) -> list:
        """Runs the encoder on sequences of different lengths (no padding) and returns one
        (len, hidden) float32 array per sequence: the last hidden state."""
        batch, lens, _keep = self._pack(input_ids, token_type_ids, attention_mask, position_ids)
        total = int(lens.sum())
        out = np.empty((max(total, 1), self.hidden_size), dtype=np.float32)
        check(lib.tl_model_forward(self._h, byref(batch), out.ctypes.data_as(POINTER(c_float)),
                                   out.size))
        res, start = [], 0
        for n in lens:
            res.append(out[start:start + int(n)].copy())
            start += int(n)
        return res

    @staticmethod
    def _pack(input_ids, token_type_ids=None, attention_mask=None, position_ids=None):
        """Packs sequences of different lengths into a TlBatch; returns (batch, lens,
        arrays that must stay alive while the batch is used)."""
        seqs = [_as_i32(s).reshape(-1) for s in input_ids]
        lens = np.array([len(s) for s in seqs], dtype=np.uintp)
        total = int(lens.sum())

        def packed(xs):
            if xs is None:
                return None
            return _as_i32(np.concatenate([_as_i32(x).reshape(-1) for x in xs]) if len(xs) else np.zeros(0))

        ids = packed(seqs)
        tt, am, pos = packed(token_type_ids), packed(attention_mask), packed(position_ids)
        for name, arr in (("token_type_ids", tt), ("attention_mask", am), ("position_ids", pos)):
            if arr is not None and arr.size != total:
                raise ValueError(f"{name} has {arr.size} entries, input_ids {total}")
        ptr = lambda a: None if a is None else a.ctypes.data_as(POINTER(c_int32))
        batch = TlBatch(len(seqs), lens.ctypes.data_as(POINTER(c_size_t)), ptr(ids), ptr(tt),
                        ptr(pos), ptr(am))
        return batch, lens, (lens, ids, tt, am, pos)

    def embed(self, texts: Sequence[str], normalize: Optional[bool] = None,
              max_length: int = 0) -> np.ndarray:
        """Sentence embeddings (n, embedding_dim), as SentenceTransformer.encode gives."""
        texts = list(texts)
        params = lib.tl_embed_default_params()
        if normalize is not None:
            params.normalize = 1 if normalize else 0
        params.max_length = max_length
        arr = (c_char_p * max(len(texts), 1))(*[t.encode("utf-8", "surrogatepass") for t in texts])
        out = np.empty((len(texts), self.embedding_dim), dtype=np.float32)
        check(lib.tl_embed(self._h, arr, len(texts), byref(params),
                           out.ctypes.data_as(POINTER(c_float)), out.size))
        return out

    def extract_features(self, texts: Sequence[str], max_length: int = 0) -> list:
        """Last hidden state (tokens, hidden) of each text, tokenized by the model's tokenizer."""
        texts = list(texts)
        arr = (c_char_p * max(len(texts), 1))(*[t.encode("utf-8", "surrogatepass") for t in texts])
        f = c_void_p()
        check(lib.tl_extract_features(self._h, arr, len(texts), max_length, byref(f)))
        try:
            res = []
            for i in range(len(texts)):
                n, h = c_size_t(), c_size_t()
                p = lib.tl_features_get(f, i, byref(n), byref(h))
                res.append(np.ctypeslib.as_array(p, shape=(n.value, h.value)).copy()
                           if n.value else np.zeros((0, h.value), np.float32))
            return res
        finally:
            lib.tl_features_free(f)

    def describe(self) -> str:
        """The text of `torchless inspect`."""
        p = lib.tl_model_describe(self._h)
        if not p:
            check(4)
        try:
            return ctypes.string_at(p).decode()
        finally:
            lib.tl_free(p)
