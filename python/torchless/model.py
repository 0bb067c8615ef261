"""torchless.Model: a loaded encoder, with the packed-batch forward pass, feature
extraction and sentence embeddings of the C library."""
from __future__ import annotations

import ctypes
from ctypes import POINTER, byref, c_char_p, c_float, c_int, c_int32, c_size_t, c_void_p
import json
import sys
from typing import Any, Optional, Sequence, Union

import numpy as np

from . import hub
from ._lib import TOKEN_FN, TlAccuracyReport, TlBatch, check, invalid_input, lib


def _as_i32(a, name: str = "input_ids") -> np.ndarray:
    """a as a contiguous int32 array; a value that is not an integer or does not fit in
    int32 is an error naming `name` (numpy's cast would wrap it silently)."""
    arr = np.asarray(a)
    if arr.size and arr.dtype.kind not in "iub":
        raise invalid_input(f"{name} must hold integers, got {arr.dtype} values")
    if arr.size and arr.dtype.kind in "iu" and (int(arr.min()) < -2**31 or int(arr.max()) > 2**31 - 1):
        bad = int(arr.max()) if int(arr.max()) > 2**31 - 1 else int(arr.min())
        raise invalid_input(f"{name} value {bad} does not fit in 32 bits")
    return np.ascontiguousarray(arr, dtype=np.int32)


def _c_texts(texts: Sequence[str]):
    """texts as a C array of UTF-8 strings; a text with a NUL character is rejected (a C
    string would end there), with the message the C library gives for JSON inputs."""
    enc = []
    for i, t in enumerate(texts):
        if not isinstance(t, str):
            raise invalid_input(f"text {i} is a {type(t).__name__}, not a str")
        if "\0" in t:
            raise invalid_input(f"text {i} contains a NUL character (\\u0000), which is not supported")
        enc.append(t.encode("utf-8", "surrogatepass"))
    return (c_char_p * max(len(enc), 1))(*enc)


class Config:
    """A model's config.json as attributes (config.model_type, config.id2label with integer
    keys, as transformers' PretrainedConfig); to_dict() gives the JSON object."""

    def __init__(self, d: dict):
        d = dict(d)
        if isinstance(d.get("id2label"), dict):
            d["id2label"] = {int(k): v for k, v in d["id2label"].items()}
        self.__dict__.update(d)

    def to_dict(self) -> dict:
        """The config as a plain dict."""
        return dict(self.__dict__)

    def __repr__(self) -> str:
        return f"Config({self.__dict__!r})"


def _precision_value(precision) -> int:
    """The tl_precision of "fp32", "bf16", "int8" or "auto"; ValueError otherwise."""
    v = c_int(0)
    if not isinstance(precision, str) or not lib.tl_precision_parse(precision.encode(), byref(v)):
        raise ValueError(f"precision must be 'fp32', 'bf16', 'int8' or 'auto', not {precision!r}")
    return v.value


class Model:
    """An encoder loaded by libtorchless from a directory or a cached Hugging Face id."""

    def __init__(self, path_or_id: str, num_threads: int = 0, load_tokenizer: bool = True,
                 revision: Optional[str] = None, precision: str = "fp32",
                 check_accuracy: bool = False, min_cosine: float = 0.0, max_rel_error: float = 0.0):
        """path_or_id: a model directory or a Hugging Face id in the local cache; revision:
        a branch, tag or commit of a cached id (default: refs/main); precision: "fp32"
        (default), "bf16", "int8" or "auto" for the encoder's linear layers
        (docs/precision.md); check_accuracy: compare with fp32 on a calibration batch at load
        and refuse the precision beyond min_cosine / max_rel_error (0: the defaults)."""
        params = lib.tl_model_default_params()
        params.num_threads = num_threads
        params.load_tokenizer = 1 if load_tokenizer else 0
        params.precision = _precision_value(precision)
        params.check_accuracy = 1 if check_accuracy else 0
        params.min_cosine, params.max_rel_error = float(min_cosine), float(max_rel_error)
        handle = c_void_p()
        where = hub.resolve(path_or_id, revision)
        check(lib.tl_model_load(where.encode(), byref(params), byref(handle)))
        self._init_from_handle(handle)
        self.name_or_path, self._where = str(path_or_id), where

    @classmethod
    def _from_handle(cls, handle, config: Optional[dict] = None) -> "Model":
        """Wraps an already loaded tl_model handle (owned by the new object); config is the
        config.json it was loaded from, when not from a directory."""
        self = cls.__new__(cls)
        self._init_from_handle(handle)
        self._config = Config(config) if config is not None else None
        return self

    def _init_from_handle(self, handle) -> None:
        self._h = handle
        self._config: Optional[Config] = None
        self.name_or_path, self._where = "", ""
        self.hidden_size = lib.tl_model_hidden_size(handle)
        self.max_positions = lib.tl_model_max_positions(handle)
        self.model_type = lib.tl_model_type(handle).decode()
        self.embedding_dim = lib.tl_model_embedding_dim(handle)

    @property
    def precision(self) -> str:
        """The precision the encoder's linear layers run ("auto" resolved)."""
        return self.accuracy["precision"]

    @property
    def accuracy(self) -> dict:
        """What the accuracy guard measured at load: precision, checked, max_rel_error,
        min_cosine, n_tokens (the errors are 0 / 1 when it did not run)."""
        r = TlAccuracyReport()
        check(lib.tl_model_accuracy(self._h, byref(r)))
        return {"precision": lib.tl_precision_name(r.precision).decode(), "checked": bool(r.checked),
                "max_rel_error": r.max_rel_error, "min_cosine": r.min_cosine, "n_tokens": r.n_tokens}

    @classmethod
    def from_pretrained(cls, path_or_id: str, **kwargs) -> "Model":
        """Loads a model; same arguments as the constructor."""
        return cls(path_or_id, **kwargs)

    @property
    def directory(self) -> Optional[str]:
        """The directory the model was loaded from (a cached id's snapshot), or None."""
        d = hub.model_dir(self._where) if self._where else None
        return str(d) if d else None

    @property
    def config(self) -> Optional[Config]:
        """config.json as a Config (attributes as transformers' PretrainedConfig), or None
        when the model was not loaded from a directory or a config."""
        if self._config is None and self.directory:
            with open(f"{self.directory}/config.json", encoding="utf-8") as f:
                self._config = Config(json.load(f))
        return self._config

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

    def _context(self, kv_cache_tokens: int):
        """A new tl_context handle with a KV cache of kv_cache_tokens (freed by the caller)."""
        params = lib.tl_context_default_params()
        params.kv_cache_tokens = kv_cache_tokens
        ctx = c_void_p()
        check(lib.tl_context_new(self._h, byref(params), byref(ctx)))
        return ctx

    def logits(self, input_ids: Sequence[Sequence[int]]) -> list:
        """A decoder's logits for sequences of different lengths (no padding): one
        (len, vocab) float32 array per sequence, as transformers' model(ids).logits."""
        batch, lens, _keep = self._pack(input_ids)
        total, vocab = int(lens.sum()), lib.tl_model_vocab_size(self._h)
        out = np.empty((max(total, 1), vocab), dtype=np.float32)
        pages = sum(-(-int(n) // 16) * 16 for n in lens)
        ctx = self._context(max(pages, 16))
        try:
            check(lib.tl_context_logits(ctx, byref(batch), out.ctypes.data_as(POINTER(c_float)), out.size))
        finally:
            lib.tl_context_free(ctx)
        res, start = [], 0
        for n in lens:
            res.append(out[start:start + int(n)].copy())
            start += int(n)
        return res

    def generation_defaults(self) -> dict:
        """The model's generation defaults (generation_config.json when present, else
        config.json's eos / bos over transformers' GenerationConfig defaults)."""
        g = lib.tl_model_generate_params(self._h)
        return dict(max_new_tokens=g.max_new_tokens, do_sample=bool(g.do_sample), temperature=g.temperature,
                    top_k=g.top_k, top_p=g.top_p, min_p=g.min_p, repetition_penalty=g.repetition_penalty,
                    no_repeat_ngram_size=g.no_repeat_ngram_size, min_new_tokens=g.min_new_tokens,
                    eos_token_id=[g.eos_ids[i] for i in range(g.n_eos)], bos_token_id=g.bos_token_id)

    def generate(self, input_ids, max_new_tokens: Optional[int] = None, do_sample: Optional[bool] = None,
                 temperature: Optional[float] = None, top_k: Optional[int] = None, top_p: Optional[float] = None,
                 repetition_penalty: Optional[float] = None, seed: int = 0, eos_token_id=None,
                 min_p: Optional[float] = None, no_repeat_ngram_size: Optional[int] = None,
                 min_new_tokens: Optional[int] = None, bos_token_id: Optional[int] = None,
                 stop_strings=None, return_logprobs: bool = False, on_token=None):
        """Generates continuations of one prompt (a list of ids) or several (a list of
        lists, of different lengths: no padding) and returns the new tokens of each (a list,
        or a list of lists), eos included when reached. A setting left None takes the
        model's generation defaults (generation_defaults(): generation_config.json, else
        transformers' defaults). eos_token_id: an id or a list of ids (-1 or []: none). An
        empty prompt starts from bos_token_id. stop_strings: a string or a list, decoded
        with the model's tokenizer. return_logprobs: also return each chosen token's
        log-probability, as (tokens, logprobs). on_token(seq, token, logprob): called per
        token as it is chosen; a true return ends that sequence. Sampling (do_sample)
        draws from a stream seeded by seed: reproducible, not torch's random numbers."""
        single = len(input_ids) == 0 or np.isscalar(input_ids[0])
        prompts = [input_ids] if single else list(input_ids)
        batch, lens, _keep = self._pack(prompts)
        params = lib.tl_model_generate_params(self._h)
        given = dict(max_new_tokens=max_new_tokens, do_sample=do_sample, temperature=temperature, top_k=top_k,
                     top_p=top_p, repetition_penalty=repetition_penalty, min_p=min_p,
                     no_repeat_ngram_size=no_repeat_ngram_size, min_new_tokens=min_new_tokens,
                     bos_token_id=bos_token_id)
        for k, v in given.items():
            if v is None:
                continue
            if k in ("max_new_tokens", "no_repeat_ngram_size", "min_new_tokens"):
                v = max(int(v), 0)
            elif k in ("top_k", "bos_token_id", "do_sample"):
                v = int(v)
            setattr(params, k, v)
        params.seed = int(seed) & (2**64 - 1)
        eos = None
        if eos_token_id is not None:
            eos = [eos_token_id] if np.isscalar(eos_token_id) else list(eos_token_id)
            eos = _as_i32(np.array([e for e in eos if e >= 0]))
            params.eos_ids, params.n_eos = eos.ctypes.data_as(POINTER(c_int32)), eos.size
        stops = None
        if stop_strings:
            stop_list = [stop_strings] if isinstance(stop_strings, str) else list(stop_strings)
            stops = (c_char_p * len(stop_list))(*[x.encode() for x in stop_list])
            params.stop_strings, params.n_stop_strings = stops, len(stop_list)
            params.tokenizer = lib.tl_model_tokenizer(self._h)
        n, M = len(prompts), params.max_new_tokens
        out = np.empty(max(n * M, 1), dtype=np.int32)
        lp = np.empty(max(n * M, 1), dtype=np.float32)
        if return_logprobs:
            params.out_logprobs = lp.ctypes.data_as(POINTER(c_float))
        errors = []
        cb = None
        if on_token is not None:
            def _cb(_user, seq, token, logprob):
                try:
                    return 1 if on_token(int(seq), int(token), float(logprob)) else 0
                except BaseException as e:  # noqa: BLE001 - re-raised after the call
                    errors.append(e)
                    return 1
            cb = TOKEN_FN(_cb)
            params.on_token = ctypes.cast(cb, c_void_p)
        n_out = np.zeros(max(n, 1), dtype=np.uintp)
        pages = sum(-(-(max(int(k), 1) + M - 1) // 16) * 16 for k in lens)
        ctx = self._context(max(pages, 16))
        try:
            check(lib.tl_generate(ctx, byref(batch), byref(params), out.ctypes.data_as(POINTER(c_int32)),
                                  out.size, n_out.ctypes.data_as(POINTER(c_size_t))))
        finally:
            lib.tl_context_free(ctx)
        if errors:
            raise errors[0]
        res = [out[i * M:i * M + int(n_out[i])].tolist() for i in range(n)]
        if return_logprobs:
            lps = [lp[i * M:i * M + int(n_out[i])].tolist() for i in range(n)]
            return (res[0], lps[0]) if single else (res, lps)
        return res[0] if single else res

    @staticmethod
    def _pack(input_ids, token_type_ids=None, attention_mask=None, position_ids=None):
        """Packs sequences of different lengths into a TlBatch; returns (batch, lens,
        arrays that must stay alive while the batch is used)."""
        seqs = [_as_i32(s).reshape(-1) for s in input_ids]
        lens = np.array([len(s) for s in seqs], dtype=np.uintp)
        total = int(lens.sum())

        def packed(xs, name):
            if xs is None:
                return None
            if not len(xs):
                return np.zeros(0, dtype=np.int32)
            return _as_i32(np.concatenate([_as_i32(x, name).reshape(-1) for x in xs]), name)

        ids = packed(seqs, "input_ids")
        tt, am = packed(token_type_ids, "token_type_ids"), packed(attention_mask, "attention_mask")
        pos = packed(position_ids, "position_ids")
        for name, arr in (("token_type_ids", tt), ("attention_mask", am), ("position_ids", pos)):
            if arr is not None and arr.size != total:
                raise ValueError(f"{name} has {arr.size} entries, input_ids {total}")
        ptr = lambda a: None if a is None else a.ctypes.data_as(POINTER(c_int32))
        batch = TlBatch(len(seqs), lens.ctypes.data_as(POINTER(c_size_t)), ptr(ids), ptr(tt),
                        ptr(pos), ptr(am))
        return batch, lens, (lens, ids, tt, am, pos)

    def embed(self, texts: Union[str, Sequence[str]], normalize: Optional[bool] = None,
              max_length: int = 0) -> np.ndarray:
        """Sentence embeddings (n, embedding_dim), as SentenceTransformer.encode gives; a
        single string gives one vector (embedding_dim,)."""
        if isinstance(texts, str):
            return self.embed([texts], normalize, max_length)[0]
        texts = list(texts)
        params = lib.tl_embed_default_params()
        if normalize is not None:
            params.normalize = 1 if normalize else 0
        params.max_length = max_length
        arr = _c_texts(texts)
        out = np.empty((len(texts), self.embedding_dim), dtype=np.float32)
        check(lib.tl_embed(self._h, arr, len(texts), byref(params),
                           out.ctypes.data_as(POINTER(c_float)), out.size))
        return out

    def encode(self, sentences: Union[str, Sequence[str]], batch_size: int = 32,
               show_progress_bar: Optional[bool] = None, output_value: Optional[str] = "sentence_embedding",
               precision: str = "float32", convert_to_numpy: bool = True, convert_to_tensor: bool = False,
               device: Any = None, normalize_embeddings: bool = False, **kwargs: Any):
        """SentenceTransformer.encode with its signature and results: a (n, dim) float32 array
        (one (dim,) vector for a single string); normalize_embeddings=True normalizes even
        when the model has no Normalize module; output_value="token_embeddings" gives each
        text's last hidden state; convert_to_tensor / convert_to_numpy=False give torch
        tensors; show_progress_bar shows a tqdm bar over the batches. Only float32 precision
        and the CPU (device None or "cpu") are supported."""
        if precision != "float32":
            raise invalid_input(f"encode: precision={precision!r} is not supported (torchless computes float32)")
        if device is not None and str(device).split(":")[0] != "cpu":
            raise invalid_input(f"encode: device={device!r} is not supported (torchless runs on the CPU)")
        if output_value not in ("sentence_embedding", "token_embeddings"):
            raise invalid_input(f"encode: output_value={output_value!r} is not supported "
                                f"(use 'sentence_embedding' or 'token_embeddings')")
        for k, v in kwargs.items():
            if v not in (None, False):  # e.g. prompt_name, prompt, task, chunk_size
                raise invalid_input(f"encode: {k}={v!r} is not supported")
        if batch_size < 1:
            raise invalid_input(f"encode: batch_size must be >= 1, not {batch_size}")
        single = isinstance(sentences, str)
        texts = [sentences] if single else list(sentences)
        batches = range(0, len(texts), batch_size)
        if show_progress_bar:
            try:
                from tqdm.auto import tqdm

                batches = tqdm(batches, desc="Batches")
            except ImportError:
                pass
        rows: list = []
        for start in batches:
            part = texts[start:start + batch_size]
            if output_value == "token_embeddings":
                rows.extend(self.extract_features(part))
            else:
                rows.extend(self.embed(part, normalize=True if normalize_embeddings else None))
        if output_value == "token_embeddings":
            if convert_to_tensor or not convert_to_numpy:
                rows = _to_torch(rows)
            return rows[0] if single else rows
        if convert_to_tensor:
            import torch

            out = torch.from_numpy(np.stack(rows) if rows else np.zeros((0, self.embedding_dim), np.float32))
            return out[0] if single else out
        if not convert_to_numpy:
            rows = _to_torch(rows)
            return rows[0] if single else rows
        out = np.stack(rows) if rows else np.zeros((0, self.embedding_dim), np.float32)
        return out[0] if single else out

    def extract_features(self, texts: Union[str, Sequence[str]], max_length: int = 0):
        """Last hidden state (tokens, hidden) of each text, tokenized by the model's tokenizer;
        a single string gives its one array."""
        if isinstance(texts, str):
            return self.extract_features([texts], max_length)[0]
        texts = list(texts)
        arr = _c_texts(texts)
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


def _to_torch(rows: list) -> list:
    """numpy rows as torch tensors (sentence-transformers' list output); numpy when torch is
    not installed."""
    if "torch" not in sys.modules:
        try:
            import torch  # noqa: F401
        except ImportError:
            return rows
    import torch

    return [torch.from_numpy(np.ascontiguousarray(r)) for r in rows]
