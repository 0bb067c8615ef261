"""Hostile files and inputs, each answered by a clear error (or the correct result) within
bounded time and memory: every case runs in a subprocess with a timeout and an
address-space limit (RLIMIT_AS). Built at test time from a tiny model: config.json /
tokenizer.json / model.safetensors replaced by a directory, a FIFO, a device, a symbolic
link loop; deeply nested and truncated JSON; tokenizers whose normalizers amplify text,
whose WordPiece word limit is huge, whose regexes backtrack catastrophically; configs of
absurd sizes; model-level safetensors cases (truncated, overlapping offsets, negative and
overflowing sizes, unknown and integer dtypes, wrong shapes, a sparse 8 GB tensor, a
100,000-deep header); a 10 MB text for every task. (The safetensors reader's byte-level
variety is in tests/c/test_safetensors.c, .bin contents in tests/c/test_torch_bin.c and
tests/python/test_torch_bin.py; values and padding bounds in test_values.py; NaN weights in
test_numeric.py.)"""
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT_S = 60
MEM_LIMIT = 4 << 30  # RLIMIT_AS of each case's process (the libraries map ~1-2 GB at start)

RUNNER = r"""
import resource, sys
resource.setrlimit(resource.RLIMIT_AS, ({mem}, {mem}))
sys.path.insert(0, {py!r})
from torchless import Model, TorchlessError
from torchless.tokenizer import Tokenizer
kind, path = sys.argv[1], sys.argv[2]
try:
    if kind == "model":
        Model(path, load_tokenizer=False)
    elif kind == "model+tok":
        Model(path)
    else:
        Tokenizer.from_file(path)
except (TorchlessError, ValueError, OSError) as e:
    print("ERROR", e)
    sys.exit(3)
print("LOADED")
"""


def _run(kind, path):
    code = RUNNER.format(mem=MEM_LIMIT, py=str(ROOT / "python"))
    env = dict(os.environ)
    r = subprocess.run([sys.executable, "-c", code, kind, str(path)], capture_output=True, text=True,
                       timeout=TIMEOUT_S, env=env)
    return r.returncode, r.stdout + r.stderr


def _replace(p: Path, how: str):
    """Replaces file p by a directory, FIFO, device symlink or a symlink loop."""
    p.unlink()
    if how == "directory":
        p.mkdir()
    elif how == "fifo":
        os.mkfifo(p)
    elif how == "device":
        os.symlink("/dev/zero", p)
    elif how == "symlink_loop":
        os.symlink(p.name + ".b", p)
        os.symlink(p.name, p.parent / (p.name + ".b"))
    return {"directory": "a directory", "fifo": "FIFO", "device": "character device",
            "symlink_loop": "symbolic link loop"}[how]


@pytest.fixture(scope="module")
def tiny(tiny_models):
    return tiny_models("hostile_tiny", layers=1, hidden=32, heads=2, seed=8)


@pytest.mark.parametrize("how", ["directory", "fifo", "device", "symlink_loop"])
@pytest.mark.parametrize("target", ["config.json", "model.safetensors", "tokenizer.json"])
def test_special_files_named_never_block(tmp_path, tiny, target, how):
    d = tmp_path / "m"
    shutil.copytree(tiny, d)
    want = _replace(d / target, how)
    kind = "tok" if target == "tokenizer.json" else "model"
    rc, out = _run(kind, d)  # the model directory: the loader finds the hostile entry
    assert rc == 3, out
    assert target in out and want in out, out


def test_deeply_nested_json(tmp_path, tiny):
    d = tmp_path / "m"
    shutil.copytree(tiny, d)
    (d / "config.json").write_text("[" * 200000 + "]" * 200000)
    rc, out = _run("model", d)
    assert rc == 3 and "config.json" in out and "invalid JSON" in out, out
    cfg = json.dumps(json.loads((tiny / "config.json").read_text()))
    (d / "config.json").write_text(cfg[:-1] + ', "extra": ' + '{"x": ' * 5000 + "0" + "}" * 5000 + "}")
    rc, out = _run("model", d)
    assert rc == 3 and "config.json" in out, out


def test_truncated_config_and_tokenizer(tmp_path, tiny):
    d = tmp_path / "m"
    shutil.copytree(tiny, d)
    text = (d / "tokenizer.json").read_text()
    (d / "tokenizer.json").write_text(text[: len(text) // 2])
    rc, out = _run("tok", d)
    assert rc == 3 and "tokenizer.json" in out and "invalid JSON" in out, out
    text = (d / "config.json").read_text()
    (d / "config.json").write_text(text[: len(text) // 2])
    rc, out = _run("model", d)
    assert rc == 3 and "config.json" in out and "invalid JSON" in out, out


# ----------------------------------------------------------------- resources, files, texts
# Each case is a snippet run in a subprocess (timeout, RLIMIT_AS) against `path`; it prints
# its result, or "ERROR <message>" with exit code 3 for a TorchlessError. Cases already
# covered elsewhere are not repeated here: the safetensors reader's byte-level hostile
# headers (truncated, overlapping offsets, negative / overflowing / huge sizes, bad
# dtypes, duplicate names) in tests/c/test_safetensors.c, hostile pickles and zips in
# tests/c/test_torch_bin.c and test_torch_bin.py, NaN / Inf weights in test_numeric.py,
# duplicate keys in test_json_duplicates.py; config values without the subprocess in
# test_values.py.

CASE_RUNNER = r"""
import resource, sys, time
resource.setrlimit(resource.RLIMIT_AS, ({mem}, {mem}))
sys.path.insert(0, {py!r})
import numpy as np
import torchless
from torchless import Model, TorchlessError
from torchless.tokenizer import Tokenizer
path = sys.argv[1]
WORDS = "the quick brown fox jumps over a lazy dog and runs far away".split()
def big(n=10_000_000):
    # n bytes of space-separated words (a fixed sequence)
    s = " ".join(WORDS[i % len(WORDS)] for i in range(n // 4 + 8))
    return s[: s.rfind(" ", 0, n)]
t0 = time.time()
try:
{body}
except TorchlessError as e:
    print("ERROR", e)
    print("SECONDS %.2f" % (time.time() - t0))
    sys.exit(3)
print("SECONDS %.2f" % (time.time() - t0))
"""


def _case(body, path, timeout=TIMEOUT_S):
    code = CASE_RUNNER.format(mem=MEM_LIMIT, py=str(ROOT / "python"),
                              body="\n".join("    " + line for line in body.strip("\n").splitlines()))
    r = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True,
                       timeout=timeout, env=dict(os.environ))
    return r.returncode, r.stdout + r.stderr


def _tokenizer_with(tmp_path, tiny, **changes):
    j = json.loads((tiny / "tokenizer.json").read_text())
    for k, v in changes.items():
        if k == "model_max_chars":
            j["model"]["max_input_chars_per_word"] = v
        else:
            j[k] = v
    p = tmp_path / "tokenizer.json"
    p.write_text(json.dumps(j))
    return p


def _split(pattern):
    return {"type": "Split", "pattern": {"Regex": pattern}, "behavior": "Isolated", "invert": False}


TOKENIZER_CASES = {
    # a Replace normalizer that makes 1000 characters of one: refused as the text grows
    "replace_amplifies": ({"normalizer": {"type": "Replace", "pattern": {"String": "a"}, "content": "b" * 1000}},
                          "Tokenizer(path).encode('a' * 1_000_000)", "max_normalize_growth"),
    # twelve Replace normalizers, each x10: 10^12 times the text
    "replace_chain": ({"normalizer": {"type": "Sequence", "normalizers": [
        {"type": "Replace", "pattern": {"String": "a"}, "content": "a" * 10}] * 12}},
        "Tokenizer(path).encode('a' * 100)", "max_normalize_growth"),
    # NFKC makes 18 characters of U+FDFA, the most any normal form makes: within the default
    # growth of 18; past a limit of 8 set by the caller
    "nfkc_expansion": ({"normalizer": {"type": "NFKC"}},
                       "t = Tokenizer(path)\nprint('TOKENS', len(t.encode('\\ufdfa' * 300_000).ids))\n"
                       "t.max_normalize_growth = 8\n"
                       "try:\n    t.encode('\\ufdfa' * 300_000)\nexcept TorchlessError as e:\n    print('REFUSED', e)\n",
                       "REFUSED"),
    # WordPiece with max_input_chars_per_word 2^30 and a 10 MB word: linear, a result
    "wordpiece_huge_word": ({"model_max_chars": 1 << 30},
                            "print('TOKENS', len(Tokenizer(path).encode('a' * 10_000_000).ids))", "TOKENS 10000002"),
    # exponential backtracking: PCRE2's match limit, the pattern named
    "regex_exponential": ({"pre_tokenizer": _split("(a+)+$")},
                          "Tokenizer(path).encode('a' * 5000 + 'b')", "(a+)+$"),
    # quadratic: [ab]*+ rescans the rest of the text from every start; the time budget
    "regex_quadratic": ({"pre_tokenizer": _split("[ab]*[cd]")},
                        "Tokenizer(path).encode('a' * 1_000_000)", "max_regex_ms"),
    # quadratic inside one match: a lookahead that scans to the end, in a repeat
    "regex_lookahead_repeat": ({"pre_tokenizer": _split("(?:(?=[ab]*c)a)*")},
                               "Tokenizer(path).encode('a' * 1_000_000)", "max_regex_ms"),
    # a Replace normalizer's regex is bounded the same way
    "replace_regex_exponential": ({"normalizer": {"type": "Replace", "pattern": {"Regex": "(a|aa)+$"},
                                                  "content": "x"}},
                                  "Tokenizer(path).encode('a' * 5000 + 'b')", "(a|aa)+$"),
}


@pytest.mark.parametrize("case", sorted(TOKENIZER_CASES))
def test_tokenizer_resources_bounded(tmp_path, tiny, case):
    changes, body, want = TOKENIZER_CASES[case]
    p = _tokenizer_with(tmp_path, tiny, **changes)
    rc, out = _case(body, p)
    assert rc in (0, 3) and want in out, out
    if rc == 3:
        assert "tokenizer.json" in out, out  # the file whose content caused it is named
    if case == "nfkc_expansion":
        assert rc == 0 and "TOKENS" in out, out


CONFIG_CASES = {
    "layers_million": ({"num_hidden_layers": 10**6}, "num_hidden_layers"),
    "hidden_2_40": ({"hidden_size": 2**40}, "hidden_size"),
    "vocab_2_40": ({"vocab_size": 2**40}, "vocab_size"),
    "positions_2_40": ({"max_position_embeddings": 2**40}, "max_position_embeddings"),
    "intermediate_2_40": ({"intermediate_size": 2**40}, "intermediate_size"),
    "heads_2_40": ({"num_attention_heads": 2**40}, "num_attention_heads"),
    # within the limits, but not what the weights hold: refused from the shapes
    "positions_2_24": ({"max_position_embeddings": 2**24}, "position_embeddings"),
    "intermediate_2_20": ({"intermediate_size": 2**20}, "intermediate"),
}


@pytest.mark.parametrize("case", sorted(CONFIG_CASES))
def test_absurd_config_sizes(tmp_path, tiny, case):
    changes, field = CONFIG_CASES[case]
    d = tmp_path / "m"
    shutil.copytree(tiny, d)
    cfg = json.loads((d / "config.json").read_text())
    cfg.update(changes)
    (d / "config.json").write_text(json.dumps(cfg))
    rc, out = _case("Model(path, load_tokenizer=False)", d)
    assert rc == 3 and ("config.json" in out or "model.safetensors" in out), out
    assert field in out, out


def _seconds(out):
    """The SECONDS line a case printed (its time inside the subprocess)."""
    return float(out.rsplit("SECONDS", 1)[1].split()[0])


def _rewrite_safetensors(d, edit, extend_to=None):
    """Rewrites d/model.safetensors with edit(header dict, data bytes) -> (header, data);
    extend_to: the data section's final size (a sparse tail, no bytes written)."""
    import struct

    p = d / "model.safetensors"
    raw = p.read_bytes()
    n = struct.unpack("<Q", raw[:8])[0]
    hdr, data = edit(json.loads(raw[8:8 + n]), raw[8 + n:])
    h = json.dumps(hdr).encode()
    h += b" " * (-len(h) % 8)
    with open(p, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + data)
        if extend_to:
            f.truncate(8 + len(h) + extend_to)


def _tensor(hdr, part):
    return next(k for k in hdr if part in k)


def _sparse_embeddings(hdr, data):
    """word_embeddings declared as [2^26, 32] F32 (8 GB) past the data: a sparse tail."""
    k = _tensor(hdr, "word_embeddings")
    end = max(v["data_offsets"][1] for n, v in hdr.items() if n != "__metadata__")
    hdr[k] = {"dtype": "F32", "shape": [1 << 26, 32], "data_offsets": [end, end + (1 << 26) * 32 * 4]}
    return hdr, data


def _overlap(hdr, data):
    a, b = _tensor(hdr, "attention.output.LayerNorm.weight"), _tensor(hdr, "attention.output.LayerNorm.bias")
    hdr[b]["data_offsets"] = hdr[a]["data_offsets"]
    return hdr, data


def _retype(dtype):
    def edit(hdr, data):
        hdr[_tensor(hdr, "attention.output.LayerNorm.weight")]["dtype"] = dtype
        return hdr, data
    return edit


def _reshape(hdr, data):
    k = _tensor(hdr, "attention.self.query.weight")
    r, c = hdr[k]["shape"]
    hdr[k]["shape"] = [r // 2, c * 2]  # the same bytes, the wrong shape
    return hdr, data


def _set_shape(shape):
    def edit(hdr, data):
        hdr[_tensor(hdr, "attention.self.query.weight")]["shape"] = shape
        return hdr, data
    return edit


FILE_CASES = {
    # model-level versions of the reader's cases (tests/c/test_safetensors.c has the
    # byte-level variety): each through Model() on an otherwise valid directory
    "truncated": (lambda d: (d / "model.safetensors").write_bytes((d / "model.safetensors").read_bytes()[:3000]),
                  "model.safetensors"),
    "overlapping_offsets": (lambda d: _rewrite_safetensors(d, _overlap), "overlap"),
    "negative_size": (lambda d: _rewrite_safetensors(d, _set_shape([-1, 32])), "shape"),
    "overflowing_size": (lambda d: _rewrite_safetensors(d, _set_shape([2**62, 2**62])), "shape"),
    "unknown_dtype": (lambda d: _rewrite_safetensors(d, _retype("F33")), "F33"),
    "integer_dtype": (lambda d: _rewrite_safetensors(d, _retype("I32")), "LayerNorm"),
    "wrong_shape": (lambda d: _rewrite_safetensors(d, _reshape), "query"),
    # an 8 GB tensor declared in an 80 KB sparse file: refused, not read as zeros
    "sparse_huge_tensor": (lambda d: (_rewrite_safetensors(d, _sparse_embeddings, extend_to=(1 << 26) * 128 + 200000),
                                      (d / "config.json").write_text(json.dumps(
                                          {**json.loads((d / "config.json").read_text()), "vocab_size": 1 << 26}))),
                           "sparse"),
    # the same as a pytorch_model.bin (its zip followed by an 8 GB hole)
    "sparse_bin": (lambda d: _sparse_bin(d), "sparse"),
    # 100,000-deep JSON in the safetensors header and in tokenizer.json
    "deep_safetensors_header": (lambda d: _deep_header(d), "model.safetensors"),
    "deep_tokenizer_json": (lambda d: (d / "tokenizer.json").write_text("[" * 100000 + "]" * 100000),
                            "tokenizer.json"),
}


def _sparse_bin(d):
    """Replaces d/model.safetensors by a torch.save'd pytorch_model.bin of the same tensors,
    extended by an 8 GB hole."""
    import torch
    from safetensors.torch import load_file

    torch.save(load_file(str(d / "model.safetensors")), str(d / "pytorch_model.bin"))
    (d / "model.safetensors").unlink()
    with open(d / "pytorch_model.bin", "r+b") as f:
        f.truncate((d / "pytorch_model.bin").stat().st_size + (8 << 30))


def _deep_header(d):
    """Replaces the header of d/model.safetensors by 100,000 nested arrays."""
    import struct

    h = b"[" * 100000 + b"]" * 100000
    (d / "model.safetensors").write_bytes(struct.pack("<Q", len(h)) + h)


@pytest.mark.parametrize("case", sorted(FILE_CASES))
def test_hostile_model_files(tmp_path, tiny, case):
    make, want = FILE_CASES[case]
    d = tmp_path / "m"
    shutil.copytree(tiny, d)
    make(d)
    rc, out = _case("Model(path)", d)
    assert rc == 3 and want in out, out
    assert _seconds(out) < 30, out


@pytest.fixture(scope="module")
def task_dir(tmp_path_factory):
    """Tiny BERT task models (tiny_models.BERT_TASKS), built once each."""
    from tiny_models import build_tiny_bert_task

    cache = {}

    def get(task):
        if task not in cache:
            cache[task] = build_tiny_bert_task(tmp_path_factory.mktemp(task), task, seed=4)
        return cache[task]
    return get


# A 10 MB text per task: the result of each equals the result for its first 100 KB (both
# truncated to the same tokens), within the subprocess's time and memory bounds.
TEXT_CASES = {
    "sentence_embedding_model_embed": (None, """
m = Model(path)
a, b = m.embed([big()])[0], m.embed([big(100_000)])[0]
assert np.allclose(a, b, atol=1e-6)"""),
    "sentence_embedding_engine": (None, """
m = Model(path)
with torchless.Engine(m) as e:
    a = np.asarray(e.embed([big()], truncate=True))[0]
assert np.allclose(a, m.embed([big(100_000)])[0], atol=1e-6)"""),
    "sentence_embedding_pipeline": (None, """
p = torchless.pipeline("sentence-embedding", model=path)
assert np.allclose(np.asarray(p(big())), np.asarray(p(big(100_000))), atol=1e-6)"""),
    "feature_extraction": (None, """
m = Model(path)
a = m.extract_features(big(), max_length=128)
assert a.shape[0] == 128 and np.allclose(a, m.extract_features(big(100_000), max_length=128), atol=1e-6)"""),
    "text_classification": ("seq-cls", """
p = torchless.pipeline("text-classification", model=path)
assert p(big(), truncation=True) == p(big(100_000), truncation=True)"""),
    "text_classification_pair": ("seq-cls", """
p = torchless.pipeline("text-classification", model=path)
x, y = {"text": big(), "text_pair": big()}, {"text": big(100_000), "text_pair": big(100_000)}
assert p(x, truncation=True) == p(y, truncation=True)"""),
    "token_classification": ("token-cls", """
p = torchless.pipeline("token-classification", model=path)
assert p(big()) == p(big(100_000))"""),
    "fill_mask": ("mlm", """
p = torchless.pipeline("fill-mask", model=path)
kw = {"tokenizer_kwargs": {"truncation": True}}
assert p("[MASK] " + big(), **kw) == p("[MASK] " + big(100_000), **kw)"""),
    "zero_shot": ("nli", """
p = torchless.pipeline("zero-shot-classification", model=path)
a, b = (p(t, candidate_labels=["sports", "music"]) for t in (big(), big(100_000)))
assert (a["labels"], a["scores"]) == (b["labels"], b["scores"])  # "sequence" is the input"""),
    # question answering reads every window of its context (doc_stride): a 10 MB context
    # makes ~2.5M tokens of windows, over max_overflow_tokens: a clear error
    "question_answering": ("qa", """
p = torchless.pipeline("question-answering", model=path)
p(question="who?", context=big())"""),
}


@pytest.mark.parametrize("case", sorted(TEXT_CASES))
def test_ten_megabyte_text_per_task(minilm_dir, task_dir, case):
    task, body = TEXT_CASES[case]
    rc, out = _case(body + '\nprint("SAME")', minilm_dir if task is None else task_dir(task), timeout=120)
    if case == "question_answering":
        assert rc == 3 and "max_overflow_tokens" in out, out
    else:
        assert rc == 0 and "SAME" in out, out
    assert _seconds(out) < 60, out


def test_a_valid_checkpoint_copied_sparse_loads(tmp_path, minilm_dir):
    """Zero blocks stored as holes (cp --sparse=always, rsync -S, ZFS compression) are not a
    hostile file: MiniLM with its vocabulary padded by zero rows to 100,000 (about half the
    file zeros), copied sparse, loads and gives the dense copy's outputs."""
    import shutil
    import subprocess

    import numpy as np
    from safetensors.numpy import load_file, save_file

    from torchless import Model

    dense, sparse = tmp_path / "dense", tmp_path / "sparse"
    shutil.copytree(minilm_dir, dense, ignore=shutil.ignore_patterns("*.onnx", "onnx", "openvino", "*.bin"))
    t = load_file(str(dense / "model.safetensors"))
    key = next(k for k in t if k.endswith("word_embeddings.weight"))
    t[key] = np.concatenate([t[key], np.zeros((100_000 - t[key].shape[0], t[key].shape[1]), np.float32)])
    save_file(t, str(dense / "model.safetensors"))
    cfg = json.loads((dense / "config.json").read_text())
    cfg["vocab_size"] = 100_000
    (dense / "config.json").write_text(json.dumps(cfg))
    shutil.copytree(dense, sparse, ignore=shutil.ignore_patterns("model.safetensors"))
    subprocess.run(["cp", "--sparse=always", str(dense / "model.safetensors"), str(sparse / "model.safetensors")],
                   check=True)
    ids = [[101, 7592, 2088, 102]]
    a = Model(str(dense), load_tokenizer=False).forward(ids)
    b = Model(str(sparse), load_tokenizer=False).forward(ids)
    np.testing.assert_array_equal(np.asarray(a[0]), np.asarray(b[0]))
