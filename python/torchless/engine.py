"""torchless.Engine: the library's batching engine (tl_engine) from Python. Requests
submitted from any number of threads are tokenized on the submitting thread and packed by
the engine's workers into padding-free batches; ctypes releases the GIL while the C library
runs, so Python threads submitting at once share batches."""
from __future__ import annotations

import ctypes
import json
from ctypes import POINTER, byref, c_char_p, c_size_t, c_void_p
from typing import Optional, Sequence, Union

import numpy as np

from ._lib import TlEngineParams, TlRequestParams, TlRequestTiming, check, invalid_input, lib
from .model import Model, _c_texts

_EMBED, _FEATURES, _PIPELINE = 0, 1, 2


class Request:
    """One submitted request: wait() for its result; cancel() drops it if no worker took
    it yet. Holds its engine (and through it the model) alive until freed."""

    def __init__(self, engine: "Engine", handle: c_void_p, kind: int, n: int, single: bool):
        self._engine, self._h, self._kind, self._n, self._single = engine, handle, kind, n, single

    def done(self) -> bool:
        """True once the result or the error is set."""
        return bool(lib.tl_request_done(self._h))

    def cancel(self) -> None:
        """Drops the request if no worker has taken it (wait() then raises "cancelled")."""
        lib.tl_request_cancel(self._h)

    def wait(self, timeout: Optional[float] = None):
        """Waits (timeout in seconds, None: forever) and returns the result: embeddings
        (n, dim) (one vector for a single text), per-text feature matrices, or the
        pipeline's output; raises the request's error, TimeoutError when the wait timed out."""
        ms = -1 if timeout is None else max(0, int(timeout * 1000))
        st = lib.tl_request_wait(self._h, ms)
        if st != 0 and not self.done():
            raise TimeoutError(f"request not done after {timeout} s")
        if st != 0:
            name = lib.tl_status_name(st).decode()
            msg = lib.tl_request_error(self._h).decode("utf-8", "replace")
            from ._lib import _ERROR_CLASS, TorchlessError
            raise _ERROR_CLASS.get(name, TorchlessError)(name, msg)
        return self._result()

    def _result(self):
        """The done request's result, copied out of the C request."""
        if self._kind == _EMBED:
            n, dim = c_size_t(), c_size_t()
            p = lib.tl_request_embeddings(self._h, byref(n), byref(dim))
            out = np.ctypeslib.as_array(p, shape=(n.value, dim.value)).copy()
            return out[0] if self._single else out
        if self._kind == _FEATURES:
            rows = []
            for i in range(self._n):
                t, hdim = c_size_t(), c_size_t()
                p = lib.tl_request_features(self._h, i, byref(t), byref(hdim))
                rows.append(np.ctypeslib.as_array(p, shape=(t.value, hdim.value)).copy())
            return rows[0] if self._single else rows
        return json.loads(ctypes.string_at(lib.tl_request_output_json(self._h)).decode("utf-8"))

    def timing(self) -> dict:
        """Where the time went (microseconds) and the batch it ran in (zeros until done)."""
        t = TlRequestTiming()
        lib.tl_request_get_timing(self._h, byref(t))
        return {k: getattr(t, k) for k, _ in TlRequestTiming._fields_}

    def close(self) -> None:
        """Frees the C request (a queued one is cancelled first)."""
        if getattr(self, "_h", None):
            lib.tl_request_free(self._h)
            self._h = None

    def __del__(self):
        self.close()


class Engine:
    """A batching engine on `model` (a Model or a path): num_workers worker threads, each
    with its own context of threads_per_worker threads (0: the model's), batches of at most
    max_batch_tokens tokens and max_batch_requests sequences, a worker waiting at most
    max_batch_delay_ms for more requests (0: run what is queued at once). Zeros take the
    library's defaults (tl_engine_default_params)."""

    def __init__(self, model: Union[Model, str], num_workers: int = 0, threads_per_worker: int = 0,
                 max_batch_tokens: int = 0, max_batch_requests: int = 0, max_batch_delay_ms: int = 0):
        self.model = model if isinstance(model, Model) else Model(str(model))
        p = lib.tl_engine_default_params()
        for name, v in (("num_workers", num_workers), ("threads_per_worker", threads_per_worker),
                        ("max_batch_tokens", max_batch_tokens),
                        ("max_batch_requests", max_batch_requests),
                        ("max_batch_delay_ms", max_batch_delay_ms)):
            if not isinstance(v, int) or isinstance(v, bool) or v < 0:
                raise invalid_input(f"Engine: {name} must be an int >= 0, got {v!r}")
            if v:
                setattr(p, name, v)
        h = c_void_p()
        check(lib.tl_engine_new(self.model._h, byref(p), byref(h)))
        self._h = h

    def queue_size(self) -> int:
        """Requests submitted and not yet taken by a worker."""
        return int(lib.tl_engine_queue_size(self._h))

    def _submit(self, texts, kind: int, normalize=None, truncate: bool = False,
                truncation_direction: str = "right", max_length: int = 0) -> Request:
        """Tokenizes texts on this thread and queues them as one request."""
        if self._h is None:
            raise invalid_input("Engine: the engine is closed")
        single = isinstance(texts, str)
        texts = [texts] if single else list(texts)
        if not texts:
            raise invalid_input("Engine: no texts to submit")
        if truncation_direction not in ("right", "left"):
            raise invalid_input(f"truncation_direction must be 'right' or 'left', got {truncation_direction!r}")
        rp = lib.tl_request_default_params()
        rp.kind = kind
        if normalize is not None:
            rp.normalize = 1 if normalize else 0
        rp.truncate, rp.truncate_left = int(bool(truncate)), int(truncation_direction == "left")
        rp.max_length = max_length
        arr = _c_texts(texts)
        h = c_void_p()
        check(lib.tl_engine_submit(self._h, arr, None, len(texts), byref(rp), byref(h)))
        return Request(self, h, kind, len(texts), single)

    def submit_embed(self, texts: Union[str, Sequence[str]], normalize: Optional[bool] = None,
                     truncate: bool = False, truncation_direction: str = "right",
                     max_length: int = 0) -> Request:
        """Queues sentence embeddings of texts (as Model.embed); returns the Request.
        An input longer than the limit is an error unless truncate is True."""
        return self._submit(texts, _EMBED, normalize, truncate, truncation_direction, max_length)

    def submit_features(self, texts: Union[str, Sequence[str]], truncate: bool = False,
                        truncation_direction: str = "right", max_length: int = 0) -> Request:
        """Queues the last hidden states of texts (as Model.extract_features)."""
        return self._submit(texts, _FEATURES, None, truncate, truncation_direction, max_length)

    def submit_ids(self, ids: Sequence[Sequence[int]], features: bool = False, normalize: Optional[bool] = None,
                   truncate: bool = False, truncation_direction: str = "right") -> Request:
        """Queues pre-tokenized sequences (used as they are: no special tokens added) for
        sentence embeddings, or for per-token features when features is True."""
        if self._h is None:
            raise invalid_input("Engine: the engine is closed")
        if truncation_direction not in ("right", "left"):
            raise invalid_input(f"truncation_direction must be 'right' or 'left', got {truncation_direction!r}")
        seqs = []
        for i, s in enumerate(ids):
            ints = isinstance(s, np.ndarray) and np.issubdtype(s.dtype, np.integer) or not isinstance(s, np.ndarray) \
                and all(isinstance(x, (int, np.integer)) and not isinstance(x, (bool, np.bool_)) for x in s)
            a = np.asarray(s) if ints else None
            if not ints or a.ndim != 1 or (a.size and (a.min() < 0 or a.max() > 2**31 - 1)):
                raise invalid_input(f"Engine.submit_ids: sequence {i} must be a list of token ids (ints in 0..2^31-1)")
            seqs.append(np.ascontiguousarray(a, dtype=np.int64))
        seqs = [a.astype(np.int32) for a in seqs]
        n = len(seqs)
        ptrs = (POINTER(ctypes.c_int32) * max(n, 1))(*[a.ctypes.data_as(POINTER(ctypes.c_int32)) for a in seqs])
        lens = (c_size_t * max(n, 1))(*[a.size for a in seqs])
        rp = lib.tl_request_default_params()
        rp.kind = _FEATURES if features else _EMBED
        if normalize is not None:
            rp.normalize = 1 if normalize else 0
        rp.truncate, rp.truncate_left = int(bool(truncate)), int(truncation_direction == "left")
        h = c_void_p()
        check(lib.tl_engine_submit_ids(self._h, ptrs, lens, n, byref(rp), byref(h)))
        return Request(self, h, rp.kind, n, False)

    def submit_pipeline(self, pipe, inputs, **params) -> Request:
        """Queues a pipeline run on a torchless Pipeline of this engine's model, with the
        inputs and parameters its __call__ takes in JSON form (a string, a list, a dict)."""
        if getattr(pipe, "model", None) is not self.model:
            raise invalid_input("Engine.submit_pipeline: the pipeline must be built on the engine's model")
        rp = lib.tl_request_default_params()
        rp.kind, rp.pipeline = _PIPELINE, pipe._h
        rp.inputs_json = json.dumps(inputs, ensure_ascii=False).encode("utf-8", "surrogatepass")
        rp.params_json = json.dumps(params).encode() if params else None
        h = c_void_p()
        check(lib.tl_engine_submit(self._h, None, None, 0, byref(rp), byref(h)))
        req = Request(self, h, _PIPELINE, 0, False)
        req._pipe = pipe  # the pipeline must outlive the request
        return req

    def embed(self, texts, **kw):
        """submit_embed(...).wait()."""
        return self.submit_embed(texts, **kw).wait()

    def extract_features(self, texts, **kw):
        """submit_features(...).wait()."""
        return self.submit_features(texts, **kw).wait()

    def close(self) -> None:
        """Stops the engine after the submitted requests have run."""
        if getattr(self, "_h", None):
            lib.tl_engine_free(self._h)
            self._h = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        self.close()
