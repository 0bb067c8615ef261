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
import json
import os
from ctypes import byref, c_void_p
from typing import List, Optional, Sequence, Tuple

from ._lib import TlEncodeParams, check, lib


# tl_encoding_token as a raw pointer: tokens may hold NUL bytes, so read them by length
_token_ptr = lib["tl_encoding_token"]
_token_ptr.restype = ctypes.c_void_p
_token_ptr.argtypes = [ctypes.c_void_p, ctypes.c_size_t]


class Encoding:
    """The result of one encode call; plain Python lists, same fields as tokenizers.Encoding."""

    __slots__ = ("ids", "type_ids", "tokens", "offsets", "attention_mask",
                 "special_tokens_mask", "word_ids")

    def __init__(self, ids, type_ids, tokens, offsets, attention_mask, special_tokens_mask, word_ids):
        self.ids: List[int] = ids
        self.type_ids: List[int] = type_ids
        self.tokens: List[str] = tokens
        self.offsets: List[Tuple[int, int]] = offsets
        self.attention_mask: List[int] = attention_mask
        self.special_tokens_mask: List[int] = special_tokens_mask
        self.word_ids: List[Optional[int]] = word_ids

    @property
    def words(self) -> List[Optional[int]]:
        return self.word_ids

    def __len__(self) -> int:
        return len(self.ids)

    def __repr__(self) -> str:
        return f"Encoding(num_tokens={len(self.ids)}, tokens={self.tokens!r})"

    @classmethod
    def _from_c(cls, h: int) -> "Encoding":
        n = lib.tl_encoding_length(h)
        if n == 0:
            return cls([], [], [], [], [], [], [])
        ids = lib.tl_encoding_ids(h)[:n]
        type_ids = lib.tl_encoding_type_ids(h)[:n]
        special = lib.tl_encoding_special_tokens_mask(h)[:n]
        attn = lib.tl_encoding_attention_mask(h)[:n]
        off = lib.tl_encoding_offsets(h)[:2 * n]
        words = lib.tl_encoding_word_ids(h)[:n]
        tokens = [ctypes.string_at(_token_ptr(h, i), lib.tl_encoding_token_length(h, i)).decode("utf-8")
                  for i in range(n)]
        return cls(ids, type_ids, tokens, [(off[2 * i], off[2 * i + 1]) for i in range(n)],
                   attn, special, [None if w < 0 else w for w in words])


def _as_bytes(s: str) -> bytes:
    if isinstance(s, bytes):
        return s
    # surrogatepass keeps lone surrogates as bytes the C side then rejects as invalid UTF-8
    return s.encode("utf-8", "surrogatepass")


class Tokenizer:
    """Owns a tl_tokenizer; freed by close(), by `with`, or when garbage-collected."""

    def __init__(self, path_or_id: str):
        self._h = None
        h = c_void_p()
        check(lib.tl_tokenizer_load(os.fsencode(str(path_or_id)), byref(h)))
        self._h = h.value
        self._max_length: Optional[int] = None
        self._padding: Optional[dict] = None
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
            return
        tr = j.get("truncation")
        if isinstance(tr, dict) and tr.get("max_length") is not None:
            self._max_length = int(tr["max_length"])
        pad = j.get("padding")
        if isinstance(pad, dict):
            strat = pad.get("strategy")
            length = strat.get("Fixed") if isinstance(strat, dict) else None
            self.enable_padding(pad_id=pad.get("pad_id", 0), pad_type_id=pad.get("pad_type_id", 0),
                                pad_token=pad.get("pad_token", "[PAD]"), length=length,
                                pad_to_multiple_of=pad.get("pad_to_multiple_of"),
                                direction=pad.get("direction", "Right").lower())

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
        if stride or strategy != "longest_first" or direction != "right":
            raise NotImplementedError("only stride=0, strategy='longest_first', direction='right'")
        if max_length < 0:
            raise ValueError("max_length must be >= 0")
        self._max_length = int(max_length)

    def no_truncation(self) -> None:
        self._max_length = None

    @property
    def truncation(self) -> Optional[dict]:
        if self._max_length is None:
            return None
        return {"max_length": self._max_length, "stride": 0, "strategy": "longest_first",
                "direction": "right"}

    def enable_padding(self, direction: str = "right", pad_id: int = 0, pad_type_id: int = 0,
                       pad_token: str = "[PAD]", length: Optional[int] = None,
                       pad_to_multiple_of: Optional[int] = None) -> None:
        self._padding = dict(direction=direction, pad_id=pad_id, pad_type_id=pad_type_id,
                             pad_token=pad_token, length=length, pad_to_multiple_of=pad_to_multiple_of)

    def no_padding(self) -> None:
        self._padding = None

    @property
    def padding(self) -> Optional[dict]:
        return None if self._padding is None else dict(self._padding)

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

    # -- encoding -----------------------------------------------------------------
    def _encode_raw(self, sequence, pair, add_special_tokens: bool) -> Encoding:
        a = _as_bytes(sequence)
        b = None if pair is None else _as_bytes(pair)
        max_len = self._max_length or 0
        params = TlEncodeParams(1 if add_special_tokens else 0, max_len)
        out = c_void_p()
        check(lib.tl_tokenizer_encode(self._handle(), a, len(a), b, 0 if b is None else len(b),
                                      byref(params), byref(out)))
        try:
            enc = Encoding._from_c(out.value)
        finally:
            lib.tl_encoding_free(out.value)
        if self._max_length == 0:
            # the C API's 0 means "no truncation"; tokenizers' 0 drops every token (and
            # wraps to "no truncation" when there are specials to leave room for)
            if not add_special_tokens or self._n_added(pair is not None) == 0:
                return Encoding([], [], [], [], [], [], [])
        return enc

    def _n_added(self, is_pair: bool) -> int:
        """Number of special tokens the post-processor adds."""
        out = c_void_p()
        params = TlEncodeParams(1, 0)
        check(lib.tl_tokenizer_encode(self._handle(), b"", 0, b"" if is_pair else None, 0,
                                      byref(params), byref(out)))
        try:
            return lib.tl_encoding_length(out.value)
        finally:
            lib.tl_encoding_free(out.value)

    def _pad(self, encs: List[Encoding]) -> List[Encoding]:
        p = self._padding
        if p is None or not encs:
            return encs
        target = p["length"] if p["length"] is not None else max(len(e) for e in encs)
        m = p["pad_to_multiple_of"]
        if m and target % m:
            target += m - target % m
        for e in encs:
            n = target - len(e)
            if n <= 0:
                continue
            fill = dict(ids=[p["pad_id"]] * n, type_ids=[p["pad_type_id"]] * n,
                        tokens=[p["pad_token"]] * n, offsets=[(0, 0)] * n, attention_mask=[0] * n,
                        special_tokens_mask=[1] * n, word_ids=[None] * n)
            for f in Encoding.__slots__:
                cur = getattr(e, f)
                setattr(e, f, cur + fill[f] if p["direction"] == "right" else fill[f] + cur)
        return encs

    def encode(self, sequence: str, pair: Optional[str] = None, is_pretokenized: bool = False,
               add_special_tokens: bool = True) -> Encoding:
        if is_pretokenized:
            raise NotImplementedError("is_pretokenized is not supported")
        return self._pad([self._encode_raw(sequence, pair, add_special_tokens)])[0]

    def encode_batch(self, inputs: Sequence, is_pretokenized: bool = False,
                     add_special_tokens: bool = True) -> List[Encoding]:
        if is_pretokenized:
            raise NotImplementedError("is_pretokenized is not supported")
        encs = []
        for x in inputs:
            if isinstance(x, (tuple, list)):
                if len(x) != 2:
                    raise ValueError("a pair input must have exactly two sequences")
                encs.append(self._encode_raw(x[0], x[1], add_special_tokens))
            else:
                encs.append(self._encode_raw(x, None, add_special_tokens))
        return self._pad(encs)
