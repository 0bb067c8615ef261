"""A tokenizers.Tokenizer look-alike backed by libtorchless's C tokenizer.

    tok = Tokenizer.from_pretrained("path/to/model")   # or a tokenizer.json, or a hub id
    enc = tok.encode("Hello world", pair=None, add_special_tokens=True)
    enc.ids, enc.type_ids, enc.tokens, enc.offsets, enc.attention_mask,
    enc.special_tokens_mask, enc.word_ids

Like tokenizers.Tokenizer.from_file, loading a tokenizer.json applies the "truncation"
(max_length) and "padding" settings stored in it; change them with enable_truncation /
no_truncation / enable_padding / no_padding.
"""
from __future__ import annotations

import ctypes
import functools
import json
import os
from ctypes import byref, c_void_p
from typing import List, Optional, Sequence, Tuple

from ._lib import TlEncodeParams, check, invalid_input, lib


# tl_encoding_token as a raw pointer: tokens may hold NUL bytes, so read them by length
_token_ptr = lib["tl_encoding_token"]
_token_ptr.restype = ctypes.c_void_p
_token_ptr.argtypes = [ctypes.c_void_p, ctypes.c_size_t]

_STRATEGIES = {"longest_first": 0, "only_first": 1, "only_second": 2}


# The C accessors of the int32 fields, looked up once (Encoding._ints).
_INT_FIELDS = {name: getattr(lib, "tl_encoding_" + name) for name in
               ("ids", "type_ids", "attention_mask", "special_tokens_mask", "word_ids", "sequence_ids")}


class Encoding:
    """The result of one encode call, with the fields of tokenizers.Encoding. Wraps the C
    encoding and converts a field to Python lists the first time it is read."""

    __slots__ = ("_h", "_owner", "_cache", "__weakref__")

    def __init__(self, handle=None, owner=None, cache=None):
        self._h = handle          # tl_encoding*, owned unless owner is set
        self._owner = owner       # the parent Encoding an overflowing window lives in
        self._cache = {} if cache is None else cache

    def __del__(self):
        if self._h and self._owner is None:
            lib.tl_encoding_free(self._h)
            self._h = None

    @classmethod
    def _empty(cls) -> "Encoding":
        c = {f: [] for f in ("ids", "type_ids", "tokens", "offsets", "attention_mask",
                             "special_tokens_mask", "word_ids", "sequence_ids", "overflowing")}
        return cls(None, None, c)

    def _ints(self, name: str) -> list:
        c = self._cache
        v = c.get(name)
        if v is None:
            n = c.get("len")
            if n is None:
                n = len(self)
            v = c[name] = _INT_FIELDS[name](self._h)[:n] if n else []
        return v

    def __len__(self) -> int:
        n = self._cache.get("len")
        if n is None:
            n = self._cache["len"] = lib.tl_encoding_length(self._h) if self._h else 0
        return n

    @property
    def ids(self) -> List[int]:
        return self._ints("ids")

    @property
    def type_ids(self) -> List[int]:
        return self._ints("type_ids")

    @property
    def attention_mask(self) -> List[int]:
        return self._ints("attention_mask")

    @property
    def special_tokens_mask(self) -> List[int]:
        return self._ints("special_tokens_mask")

    @property
    def tokens(self) -> List[str]:
        v = self._cache.get("tokens")
        if v is None:
            h = self._h
            v = self._cache["tokens"] = [
                ctypes.string_at(_token_ptr(h, i), lib.tl_encoding_token_length(h, i)).decode("utf-8")
                for i in range(len(self))]
        return v

    @property
    def offsets(self) -> List[Tuple[int, int]]:
        v = self._cache.get("offsets")
        if v is None:
            n = len(self)
            o = lib.tl_encoding_offsets(self._h)[:2 * n] if n else []
            v = self._cache["offsets"] = list(zip(o[0::2], o[1::2]))
        return v

    def _opt(self, name: str) -> List[Optional[int]]:
        key = name + "_opt"
        v = self._cache.get(key)
        if v is None:
            v = self._cache[key] = [None if w < 0 else w for w in self._ints(name)]
        return v

    @property
    def word_ids(self) -> List[Optional[int]]:
        return self._opt("word_ids")

    @property
    def words(self) -> List[Optional[int]]:
        return self.word_ids

    @property
    def sequence_ids(self) -> List[Optional[int]]:
        """Which input each token comes from: 0, 1, or None for special and padding tokens."""
        return self._opt("sequence_ids")

    @property
    def overflowing(self) -> List["Encoding"]:
        """The windows truncation cut off (with stride overlap), each a full Encoding."""
        v = self._cache.get("overflowing")
        if v is None:
            root = self._owner or self
            v = self._cache["overflowing"] = [
                Encoding(lib.tl_encoding_overflowing(self._h, i), root)
                for i in range(lib.tl_encoding_n_overflowing(self._h))] if self._h else []
        return v

    def token_to_sequence(self, token_index: int) -> Optional[int]:
        return self.sequence_ids[token_index]

    def token_to_word(self, token_index: int) -> Optional[int]:
        return self.word_ids[token_index]

    def __repr__(self) -> str:
        return f"Encoding(num_tokens={len(self)}, attributes=[ids, type_ids, tokens, offsets, " \
               f"attention_mask, special_tokens_mask, overflowing, sequence_ids])"


# str -> UTF-8 bytes for the C side; surrogatepass keeps lone surrogates as bytes that the
# C side then rejects as invalid UTF-8. A partial of str.encode: mapping it over a list
# makes no Python-level call per item.
_utf8 = functools.partial(str.encode, encoding="utf-8", errors="surrogatepass")


def _as_bytes(s: str) -> bytes:
    """s as UTF-8 bytes (bytes pass through unchanged)."""
    return s if isinstance(s, bytes) else _utf8(s)


class Tokenizer:
    """Owns a tl_tokenizer; freed by close(), by `with`, or when garbage-collected."""

    def __init__(self, path_or_id: str):
        self._h = None
        h = c_void_p()
        check(lib.tl_tokenizer_load(os.fsencode(str(path_or_id)), byref(h)))
        self._h = h.value
        self.name_or_path = str(path_or_id)  # as transformers' tokenizers, for pipeline(tokenizer=...)
        self._trunc: Optional[dict] = None
        self._padding: Optional[dict] = None
        self._added_cache: dict = {}
        self.num_threads = 0  # encode_batch threads; 0 = OpenMP's default (all cores)
        # most tokens in one encoding's overflowing windows; 0 = the C default (1,000,000)
        self.max_overflow_tokens = 0
        # longest padded length; 0 = the C default (1,000,000)
        self.max_padded_length = 0
        # True: truncation drops the cut-off tokens (no overflowing encodings; the kept
        # tokens are the same, and a single text cut on the right stops tokenizing early)
        self.drop_overflowing = False
        # the normalizer may make at most this many times a text's characters + 4096;
        # 0 = the C default (8)
        self.max_normalize_growth = 0
        # a regex of the tokenizer may run this many ms on a text (+ 1 ms per 1,000
        # characters); 0 = the C default (1000)
        self.max_regex_ms = 0
        self._load_settings(str(path_or_id))

    # -- construction -------------------------------------------------------------
    @classmethod
    def from_file(cls, path: str) -> "Tokenizer":
        return cls(path)

    @classmethod
    def from_pretrained(cls, dir_or_id: str) -> "Tokenizer":
        return cls(dir_or_id)

    def _load_settings(self, path: str) -> None:
        """Reads truncation/padding from tokenizer.json as tokenizers.Tokenizer.from_file does."""
        f = path if os.path.isfile(path) else os.path.join(path, "tokenizer.json")
        if not os.path.isfile(f):
            return
        try:
            with open(f, encoding="utf-8") as fh:
                j = json.load(fh)
        except (OSError, ValueError):
            return  # the C loader read it already; a file that changed since is not ours to judge
        if not isinstance(j, dict):
            return

        def field(obj, section, key, default, kind, hi=None):
            """obj[key] checked against tokenizers' type (usize / u32 / str): an error naming
            the file and field, where tokenizers' serde refuses the file too."""
            v = obj.get(key, default)
            if v is None and default is None:
                return None
            ok = isinstance(v, str) if kind is str else (type(v) is int and v >= 0 and (hi is None or v <= hi))
            if not ok:
                want = "a string" if kind is str else f"an integer in [0, {hi}]" if hi else "a non-negative integer"
                raise invalid_input(f"{f}: {section}.{key} must be {want}, got {v!r}")
            return v

        tr = j.get("truncation")
        if isinstance(tr, dict) and tr.get("max_length") is not None:
            strat = {"LongestFirst": "longest_first", "OnlyFirst": "only_first",
                     "OnlySecond": "only_second"}.get(tr.get("strategy"), "longest_first")
            self._trunc = {"max_length": field(tr, "truncation", "max_length", 0, int),
                           "stride": field(tr, "truncation", "stride", 0, int), "strategy": strat,
                           "direction": field(tr, "truncation", "direction", "Right", str).lower()}
        pad = j.get("padding")
        if isinstance(pad, dict):
            strat = pad.get("strategy")
            length = field(strat, "padding.strategy", "Fixed", None, int) if isinstance(strat, dict) else None
            self.enable_padding(pad_id=field(pad, "padding", "pad_id", 0, int, 2**31 - 1),
                                pad_type_id=field(pad, "padding", "pad_type_id", 0, int, 2**31 - 1),
                                pad_token=field(pad, "padding", "pad_token", "[PAD]", str), length=length,
                                pad_to_multiple_of=field(pad, "padding", "pad_to_multiple_of", None, int),
                                direction=field(pad, "padding", "direction", "Right", str).lower())

    def close(self) -> None:
        if getattr(self, "_h", None):
            lib.tl_tokenizer_free(self._h)
            self._h = None

    def __del__(self):
        self.close()

    def __enter__(self) -> "Tokenizer":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _handle(self) -> int:
        if not self._h:
            raise ValueError("tokenizer is closed")
        return self._h

    # -- settings -----------------------------------------------------------------
    def enable_truncation(self, max_length: int, stride: int = 0, strategy: str = "longest_first",
                          direction: str = "right") -> None:
        """As tokenizers: stride must leave room once the special tokens are subtracted."""
        if strategy not in _STRATEGIES:
            raise ValueError("strategy must be one of " + ", ".join(_STRATEGIES))
        if direction not in ("left", "right"):
            raise ValueError("direction must be 'left' or 'right'")
        if max_length < 0 or stride < 0:
            raise ValueError("max_length and stride must be >= 0")
        effective = max_length - self._n_added(False)
        if 0 <= effective < stride:  # tokenizers' unsigned subtraction wraps below 0
            raise ValueError(f"tokenizer stride set to {stride}, which is greater than or equal to its "
                             f"effective max length of {effective} (= {max_length} original max length - "
                             f"{max_length - effective} added special tokens), ")
        self._trunc = {"max_length": int(max_length), "stride": int(stride), "strategy": strategy,
                       "direction": direction}

    def no_truncation(self) -> None:
        self._trunc = None

    @property
    def truncation(self) -> Optional[dict]:
        return None if self._trunc is None else dict(self._trunc)

    def enable_padding(self, direction: str = "right", pad_id: int = 0, pad_type_id: int = 0,
                       pad_token: str = "[PAD]", length: Optional[int] = None,
                       pad_to_multiple_of: Optional[int] = None) -> None:
        if direction not in ("left", "right"):
            raise ValueError("direction must be 'left' or 'right'")
        for name, v, hi in (("pad_id", pad_id, 2**31 - 1), ("pad_type_id", pad_type_id, 2**31 - 1),
                            ("length", length, 2**64 - 1), ("pad_to_multiple_of", pad_to_multiple_of, 2**64 - 1)):
            if v is not None and not (isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= hi):
                raise invalid_input(f"padding {name} must be an integer in [0, {hi}], got {v!r}")
        self._padding = dict(direction=direction, pad_id=pad_id, pad_type_id=pad_type_id,
                             pad_token=pad_token, length=length, pad_to_multiple_of=pad_to_multiple_of)

    def no_padding(self) -> None:
        self._padding = None

    @property
    def padding(self) -> Optional[dict]:
        return None if self._padding is None else dict(self._padding)

    def _params(self, add_special_tokens: bool) -> Tuple[TlEncodeParams, Optional[bytes]]:
        """The C parameters for the current settings (and the pad token bytes to keep alive)."""
        p = TlEncodeParams()
        p.add_special_tokens = 1 if add_special_tokens else 0
        p.num_threads = self.num_threads
        p.max_overflow_tokens = self.max_overflow_tokens
        p.max_padded_length = self.max_padded_length
        p.drop_overflowing = 1 if self.drop_overflowing else 0
        p.max_normalize_growth = self.max_normalize_growth
        p.max_regex_ms = self.max_regex_ms
        t = self._trunc
        if t is not None:
            p.max_length = t["max_length"]
            p.stride = t["stride"]
            p.truncation = _STRATEGIES[t["strategy"]]
            p.truncation_left = t["direction"] == "left"
        pad = self._padding
        tok = None
        if pad is not None:
            p.padding = 1 if pad["length"] is None else 2
            p.pad_length = pad["length"] or 0
            p.pad_to_multiple_of = pad["pad_to_multiple_of"] or 0
            p.pad_id, p.pad_type_id = pad["pad_id"], pad["pad_type_id"]
            tok = pad["pad_token"].encode("utf-8")
            p.pad_token = tok
            p.padding_left = pad["direction"] == "left"
        return p, tok

    # -- vocabulary ---------------------------------------------------------------
    def get_vocab_size(self, with_added_tokens: bool = True) -> int:
        return lib.tl_tokenizer_vocab_size(self._handle())

    def token_to_id(self, token: str) -> Optional[int]:
        i = lib.tl_tokenizer_token_to_id(self._handle(), token.encode("utf-8"))
        return None if i < 0 else i

    def id_to_token(self, id: int) -> Optional[str]:
        if not (0 <= id < 2**31):
            return None
        s = lib.tl_tokenizer_id_to_token(self._handle(), id)
        return None if s is None else s.decode("utf-8")

    # -- decoding -----------------------------------------------------------------
    def decode(self, ids: Sequence[int], skip_special_tokens: bool = True,
               clean_up_tokenization_spaces: bool = False) -> str:
        """tokenizers' Tokenizer.decode; clean_up_tokenization_spaces=True gives transformers'
        tokenizer.decode(..., clean_up_tokenization_spaces=True) (not applied to BPE models,
        as transformers 5 does)."""
        ids = [int(i) for i in ids]
        if any(i < 0 for i in ids):
            raise OverflowError("can't convert negative int to unsigned")
        ids = [i for i in ids if i < 2**31]  # not in any vocabulary: skipped, as tokenizers does
        arr = (ctypes.c_int32 * len(ids))(*ids)
        out, n = c_void_p(), ctypes.c_size_t()
        check(lib.tl_tokenizer_decode_len(self._handle(), arr, len(ids), 1 if skip_special_tokens else 0,
                                          1 if clean_up_tokenization_spaces else 0, byref(out), byref(n)))
        try:
            return ctypes.string_at(out.value, n.value).decode("utf-8")
        finally:
            lib.tl_free(out.value)

    def decode_batch(self, sequences: Sequence[Sequence[int]], skip_special_tokens: bool = True,
                     clean_up_tokenization_spaces: bool = False) -> List[str]:
        return [self.decode(s, skip_special_tokens, clean_up_tokenization_spaces) for s in sequences]

    # -- encoding -----------------------------------------------------------------
    def _zero_length(self, is_pair: bool, add_special_tokens: bool) -> bool:
        """tokenizers' max_length 0 (the C API's 0 means "no truncation"): every token is
        dropped, unless there are specials to leave room for (the subtraction wraps)."""
        t = self._trunc
        return (t is not None and t["max_length"] == 0 and
                (not add_special_tokens or self._n_added(is_pair) == 0))

    def _n_added(self, is_pair: bool) -> int:
        """Number of special tokens the post-processor adds."""
        key = bool(is_pair)
        if key not in self._added_cache:
            out = c_void_p()
            params = TlEncodeParams()
            params.add_special_tokens = 1
            check(lib.tl_tokenizer_encode(self._handle(), b"", 0, b"" if is_pair else None, 0,
                                          byref(params), byref(out)))
            self._added_cache[key] = lib.tl_encoding_length(out.value)
            lib.tl_encoding_free(out.value)
        return self._added_cache[key]

    def encode(self, sequence: str, pair: Optional[str] = None, is_pretokenized: bool = False,
               add_special_tokens: bool = True) -> Encoding:
        if is_pretokenized:
            raise NotImplementedError("is_pretokenized is not supported")
        if self._zero_length(pair is not None, add_special_tokens):
            return Encoding._empty()
        a = _as_bytes(sequence)
        b = None if pair is None else _as_bytes(pair)
        params, _keep = self._params(add_special_tokens)
        out = c_void_p()
        check(lib.tl_tokenizer_encode(self._handle(), a, len(a), b, 0 if b is None else len(b),
                                      byref(params), byref(out)))
        return Encoding(out.value)

    def encode_batch(self, inputs: Sequence, is_pretokenized: bool = False,
                     add_special_tokens: bool = True) -> List[Encoding]:
        """Encodes every input in one C call (OpenMP threads; self.num_threads, 0 = all)."""
        if is_pretokenized:
            raise NotImplementedError("is_pretokenized is not supported")
        n = len(inputs)
        texts, pairs, any_pair = [], [], False
        if all(type(x) is str for x in inputs):  # plain texts: one comprehension, no calls
            texts = list(map(_utf8, inputs))
            pairs = [None] * n
        else:
            for x in inputs:
                if isinstance(x, (tuple, list)):
                    if len(x) != 2:
                        raise ValueError("a pair input must have exactly two sequences")
                    texts.append(_as_bytes(x[0]))
                    pairs.append(_as_bytes(x[1]))
                    any_pair = True
                else:
                    texts.append(_as_bytes(x))
                    pairs.append(None)
        if self._trunc is not None and self._trunc["max_length"] == 0:
            return [self.encode(t, p, add_special_tokens=add_special_tokens) for t, p in zip(texts, pairs)]
        params, _keep = self._params(add_special_tokens)
        c_texts = (ctypes.c_char_p * n)(*texts)
        c_lens = (ctypes.c_size_t * n)(*map(len, texts))
        c_pairs = (ctypes.c_char_p * n)(*pairs) if any_pair else None
        c_plens = (ctypes.c_size_t * n)(*[0 if p is None else len(p) for p in pairs]) if any_pair else None
        outs = (c_void_p * n)()
        check(lib.tl_tokenizer_encode_batch(self._handle(), c_texts, c_lens, c_pairs, c_plens, n,
                                            byref(params), outs))
        return [Encoding(h) for h in outs]
