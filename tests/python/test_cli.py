"""The `torchless` command-line program (build/torchless) and the C API example
(build/tests/example_embed), run as subprocesses: help and usage errors, load errors on
corrupted model directories, `inspect` output, and `run` / `tokenize` results compared with
sentence-transformers and tokenizers on the real all-MiniLM-L6-v2."""
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "build" / "tests" / "example_embed"

TEXTS = [
    "Hello, world!",
    "The cat sits on the mat.",
    "A dog is playing in the park.",
    "Café naïve résumé — 東京 is big.",
]


def run(exe, *args, env=None, stdin=None, cwd=None):
    """Runs exe with args (str or bytes); TORCHLESS_MODEL unset unless env sets it."""
    e = {k: v for k, v in os.environ.items() if k != "TORCHLESS_MODEL"}
    e.update(env or {})
    argv = [os.fsencode(str(exe))] + [a if isinstance(a, bytes) else os.fsencode(str(a)) for a in args]
    p = subprocess.run(argv, capture_output=True, env=e, input=stdin, cwd=cwd, timeout=600)
    p.out = p.stdout.decode("utf-8", "replace")
    p.err = p.stderr.decode("utf-8", "replace")
    return p


def json_lines(text):
    return [json.loads(line) for line in text.splitlines() if line.strip()]


# ------------------------------------------------------------------ help and usage errors

HELP_OPTIONS = {
    "run": ["--model", "--task", "--input", "--max-length", "--normalize", "--no-normalize",
            "--similarity", "--format", "--threads", "sentence-embedding", "feature-extraction"],
    "inspect": ["--model"],
    "tokenize": ["--model", "--pair", "--input", "--offsets", "--max-length", "--no-special-tokens"],
}


@pytest.mark.parametrize("cmd", sorted(HELP_OPTIONS))
@pytest.mark.parametrize("flag", ["--help", "-h"])
def test_subcommand_help(cli, cmd, flag):
    p = run(cli, cmd, flag)
    assert p.returncode == 0, p.err
    assert p.out.startswith(f"usage: torchless {cmd}")
    for opt in HELP_OPTIONS[cmd]:
        assert opt in p.out, f"`torchless {cmd} --help` does not mention {opt}"
    assert p.err == ""


def test_top_level_help_and_version(cli):
    p = run(cli, "--help")
    assert p.returncode == 0
    for cmd in HELP_OPTIONS:
        assert re.search(rf"^\s+{cmd}\s", p.out, re.M), f"top-level help does not list {cmd}"
    assert "TORCHLESS_MODEL" in p.out
    v = run(cli, "--version")
    assert v.returncode == 0
    assert re.fullmatch(r"torchless \d+\.\d+\.\d+\n", v.out)
    bare = run(cli)
    assert bare.returncode == 2
    assert "usage: torchless <command>" in bare.err


def test_unknown_command(cli):
    p = run(cli, "frobnicate", "--model", "x")
    assert p.returncode == 2
    assert "unknown command 'frobnicate'" in p.err
    assert "usage: torchless <command>" in p.err
    assert p.out == ""


def test_unknown_task(cli, tmp_path):
    p = run(cli, "run", "--model", tmp_path, "--task", "summarize", "hi")
    assert p.returncode == 2
    assert "unknown task 'summarize'" in p.err
    assert "sentence-embedding" in p.err and "feature-extraction" in p.err


def test_unknown_format(cli, tmp_path):
    p = run(cli, "run", "--model", tmp_path, "--format", "xml", "hi")
    assert p.returncode == 2
    assert "--format" in p.err and "'xml'" in p.err


@pytest.mark.parametrize("cmd", sorted(HELP_OPTIONS))
def test_unknown_option(cli, cmd):
    p = run(cli, cmd, "--bogus-option")
    assert p.returncode == 2
    assert "bogus-option" in p.err
    assert f"usage: torchless {cmd}" in p.err


@pytest.mark.parametrize("args", [["--max-length", "0"], ["--max-length", "-3"], ["--threads", "0"]])
def test_bad_numeric_option(cli, tmp_path, args):
    p = run(cli, "run", "--model", tmp_path, *args, "hi")
    assert p.returncode == 2
    assert args[0] in p.err


@pytest.mark.parametrize("cmd", ["run", "inspect", "tokenize"])
def test_missing_model(cli, cmd, tmp_path):
    args = [] if cmd == "inspect" else ["some text"]
    # an empty cache: `run` looks for the task's default model there and says it is missing
    empty_cache = {"HF_HUB_CACHE": str(tmp_path), "HF_HOME": str(tmp_path), "HOME": str(tmp_path),
                   "XDG_CACHE_HOME": str(tmp_path)}
    p = run(cli, cmd, *args, env=empty_cache)
    assert p.returncode == 2
    assert "--model" in p.err and "TORCHLESS_MODEL" in p.err
    assert p.out == ""
    if cmd == "run":
        assert "sentence-transformers/all-MiniLM-L6-v2" in p.err
    # an empty TORCHLESS_MODEL is the same as none
    p = run(cli, cmd, *args, env=dict(empty_cache, TORCHLESS_MODEL=""))
    assert p.returncode == 2
    assert "TORCHLESS_MODEL" in p.err


@pytest.mark.parametrize("cmd", ["run", "tokenize"])
def test_no_input_texts(cli, cmd, tmp_path):
    p = run(cli, cmd, "--model", tmp_path)
    assert p.returncode == 2
    assert "no input" in p.err


def test_missing_input_file(cli, tmp_path):
    missing = tmp_path / "nope.jsonl"
    p = run(cli, "run", "--model", tmp_path, "--input", missing)
    assert p.returncode == 2
    assert str(missing) in p.err


@pytest.mark.parametrize("bad_line", ['{"txt": "wrong key"}', "{not json", "42", '["a list"]',
                                      '{"text": 7}'])
@pytest.mark.parametrize("cmd", ["run", "tokenize"])
def test_malformed_jsonl_names_file_and_line(cli, tmp_path, cmd, bad_line, tiny_dir):
    f = tmp_path / "in.jsonl"
    f.write_text(json.dumps("fine") + "\n\n" + json.dumps({"text": "also fine"}) + "\n" + bad_line + "\n"
                 + json.dumps("after") + "\n", encoding="utf-8")
    p = run(cli, cmd, "--model", tiny_dir if cmd == "run" else tmp_path, "--input", f)
    assert p.returncode == 2
    assert f"{f}:4" in p.err, p.err
    if cmd == "tokenize":  # reads every input before loading the tokenizer
        assert p.out == ""
    else:  # run streams: the inputs before the bad line are done, none after it (--on-error stop)
        assert [r["index"] for r in json_lines(p.out)] == [0, 1]


# ------------------------------------------------------------------ load errors

def read_st(path):
    """Returns (header dict, data bytes) of a safetensors file."""
    b = path.read_bytes()
    n = int.from_bytes(b[:8], "little")
    return json.loads(b[8:8 + n]), b[8 + n:]


def write_st(path, header, data):
    h = json.dumps(header).encode()
    h += b" " * (-len(h) % 8)
    path.write_bytes(len(h).to_bytes(8, "little") + h + data)


def edit_config(d, **changes):
    cfg = json.loads((d / "config.json").read_text())
    for k, v in changes.items():
        if v is None:
            cfg.pop(k, None)
        else:
            cfg[k] = v
    (d / "config.json").write_text(json.dumps(cfg))


def _no_config(d):
    (d / "config.json").unlink()
    return [str(d / "config.json")]


def _config_bad_json(d):
    (d / "config.json").write_text('{"model_type": "bert", "hidden_size": ')
    return [str(d / "config.json"), "JSON"]


def _no_hidden_size(d):
    edit_config(d, hidden_size=None)
    return [str(d / "config.json"), "'hidden_size'"]


def _heads(d):
    edit_config(d, num_attention_heads=5)
    return [str(d / "config.json"), "hidden_size 64", "num_attention_heads 5"]


def _model_type(d):
    edit_config(d, model_type="nonsense")
    return [str(d / "config.json"), "model_type", "'nonsense'", "bert"]


def _hidden_act(d):
    edit_config(d, hidden_act="swirly")
    return [str(d / "config.json"), "hidden_act", "'swirly'"]


def _no_weights(d):
    (d / "model.safetensors").unlink()
    return [str(d), "model.safetensors"]


def _cut_header(d):
    f = d / "model.safetensors"
    n = int.from_bytes(f.read_bytes()[:8], "little")
    os.truncate(f, 8 + n // 2)
    return [str(f), "header"]


def _cut_data(d):
    f = d / "model.safetensors"
    hdr, data = read_st(f)
    keep = len(data) // 2 + 3
    os.truncate(f, f.stat().st_size - len(data) + keep)
    victim = next(k for k, v in hdr.items() if k != "__metadata__" and v["data_offsets"][1] > keep)
    return [str(f), f"tensor '{victim}'", "data_offsets"]


def _offsets_past_end(d):
    f = d / "model.safetensors"
    hdr, data = read_st(f)
    name = "encoder.layer.1.intermediate.dense.weight"
    b, e = hdr[name]["data_offsets"]
    hdr[name]["data_offsets"] = [len(data) + 64, len(data) + 64 + (e - b)]
    write_st(f, hdr, data)
    return [str(f), f"tensor '{name}'", "data_offsets", "past"]


def _wrong_shape(d):
    f = d / "model.safetensors"
    hdr, data = read_st(f)
    name = "encoder.layer.0.attention.self.query.weight"
    assert hdr[name]["shape"] == [64, 64]
    hdr[name]["shape"] = [32, 128]  # same byte count: only the shape check can catch it
    write_st(f, hdr, data)
    return [str(f), f"tensor '{name}' has shape [32,128], config.json says [64,64]"]


def _missing_tensor(d):
    f = d / "model.safetensors"
    hdr, data = read_st(f)
    b, e = hdr.pop("encoder.layer.1.output.dense.bias")["data_offsets"]
    for k, v in hdr.items():  # drop its bytes too, so the file stays fully covered
        if k != "__metadata__" and v["data_offsets"][0] >= e:
            v["data_offsets"] = [v["data_offsets"][0] - (e - b), v["data_offsets"][1] - (e - b)]
    write_st(f, hdr, data[:b] + data[e:])
    return [str(f), "missing tensor 'encoder.layer.1.output.dense.bias'"]


def _bad_pooling(d):
    (d / "modules.json").write_text(json.dumps([
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"}]))
    (d / "1_Pooling").mkdir()
    (d / "1_Pooling" / "config.json").write_text(json.dumps(
        {"word_embedding_dimension": 64, "pooling_mode_mean_tokens": False, "pooling_mode_cls_token": False}))
    return [str(d / "1_Pooling" / "config.json"), "no pooling mode"]


def _bad_modules_json(d):
    (d / "modules.json").write_text('[{"idx": 0, "path": "", ')
    return [str(d / "modules.json"), "JSON"]


LOAD_ERRORS = {f.__name__[1:]: f for f in [
    _no_config, _config_bad_json, _no_hidden_size, _heads, _model_type, _hidden_act, _no_weights,
    _cut_header, _cut_data, _offsets_past_end, _wrong_shape, _missing_tensor, _bad_pooling,
    _bad_modules_json]}


@pytest.fixture(scope="module")
def tiny_dir(tiny_models):
    return tiny_models("cli_tiny", layers=2, hidden=64, heads=4, seed=11)


@pytest.mark.parametrize("case", sorted(LOAD_ERRORS))
@pytest.mark.parametrize("cmd", ["run", "inspect"])
def test_load_error_names_file_and_field(cli, tiny_dir, tmp_path, cmd, case):
    d = tmp_path / "model"
    shutil.copytree(tiny_dir, d)
    needles = LOAD_ERRORS[case](d)
    args = ["run", "--model", d, "hello"] if cmd == "run" else ["inspect", "--model", d]
    p = run(cli, *args)
    assert p.returncode == 1, (p.returncode, p.err)
    assert p.err.startswith("torchless: cannot load model: "), p.err
    for n in needles:
        assert n in p.err, f"{n!r} not in {p.err!r}"
    assert p.out == ""


def test_model_from_env_and_missing_directory(cli, tmp_path):
    missing = tmp_path / "does-not-exist"
    p = run(cli, "inspect", env={"TORCHLESS_MODEL": str(missing)})
    assert p.returncode == 1
    assert str(missing) in p.err


# ------------------------------------------------------------------ inspect

def test_inspect_tiny_model(cli, tiny_dir):
    p = run(cli, "inspect", "--model", tiny_dir)
    assert p.returncode == 0, p.err
    out = p.out
    cfg = json.loads((tiny_dir / "config.json").read_text())
    V, H, L, I = cfg["vocab_size"], cfg["hidden_size"], cfg["num_hidden_layers"], cfg["intermediate_size"]
    P, T = cfg["max_position_embeddings"], cfg["type_vocab_size"]
    n_params = V * H + P * H + T * H + 2 * H + L * (4 * (H * H + H) + 2 * H + 2 * I * H + I + H + 2 * H)
    assert re.search(r"^model_type:\s+bert\b", out, re.M)
    assert re.search(rf"^layers:\s+{L}$", out, re.M)
    assert re.search(rf"^hidden:\s+{H}$", out, re.M)
    assert re.search(rf"^heads:\s+4 x {H // 4}$", out, re.M)
    assert re.search(rf"^parameters:\s+{n_params}\b", out, re.M), out
    assert re.search(r"^dtypes:\s+checkpoint F32\b", out, re.M)
    assert re.search(rf"^vocab:\s+{V}, max positions {P}", out, re.M)
    # the kernel sequence of one layer, in order
    kernels = ["embeddings_sum", "layernorm(x)", f"repeat {L} layers", "qkv = linear_", "attention(",
               "ctx, Wo", "add_layernorm", f"W1 ({I}, {H})", "gelu(f)", f"W2 ({H}, {I})", "add_layernorm",
               "pool(mean)"]
    pos = 0
    for k in kernels:
        i = out.find(k, pos)
        assert i >= 0, f"kernel line {k!r} missing or out of order in:\n{out}"
        pos = i + len(k)


def test_inspect_bf16_and_positional_model(cli, tiny_models):
    d = tiny_models("cli_tiny_bf16", layers=1, hidden=32, heads=2, seed=12, dtype="bfloat16",
                    hidden_act="gelu_new")
    p = run(cli, "inspect", d)  # the model may also be given positionally
    assert p.returncode == 0, p.err
    assert re.search(r"^dtypes:\s+checkpoint BF16\b", p.out, re.M)
    assert re.search(r"^layers:\s+1$", p.out, re.M)
    assert "gelu_new" in p.out


def test_inspect_minilm(cli, minilm_dir):
    p = run(cli, "inspect", "--model", minilm_dir)
    assert p.returncode == 0, p.err
    assert re.search(r"^layers:\s+6$", p.out, re.M)
    assert re.search(r"^hidden:\s+384$", p.out, re.M)
    assert re.search(r"^parameters:\s+22565376\b", p.out, re.M)
    assert "pooling mean, normalize" in p.out
    assert re.search(r"^max_seq_length:\s+256$", p.out, re.M)


# ------------------------------------------------------------------ run on all-MiniLM-L6-v2

@pytest.fixture(scope="module")
def st_model(minilm_dir):
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(minilm_dir), device="cpu")


def embeddings_of(lines):
    rows = [r for r in lines if "embedding" in r]
    assert [r["index"] for r in rows] == list(range(len(rows)))
    return np.array([r["embedding"] for r in rows], dtype=np.float64)


def test_run_sentence_embedding_matches_sentence_transformers(cli, minilm_dir, st_model):
    p = run(cli, "run", "--model", minilm_dir, "--task", "sentence-embedding", *TEXTS)
    assert p.returncode == 0, p.err
    lines = json_lines(p.out)
    assert len(lines) == len(TEXTS)
    got = embeddings_of(lines)
    want = st_model.encode(TEXTS, convert_to_numpy=True)
    assert got.shape == want.shape == (len(TEXTS), 384)
    np.testing.assert_allclose(got, want, atol=1e-5, rtol=0)
    np.testing.assert_allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-5)
    # sentence-embedding is the default task
    d = run(cli, "run", "--model", minilm_dir, *TEXTS)
    assert d.returncode == 0, d.err
    np.testing.assert_allclose(embeddings_of(json_lines(d.out)), got, atol=1e-6, rtol=0)


def test_run_no_normalize_and_max_length(cli, minilm_dir, st_model):
    p = run(cli, "run", "--model", minilm_dir, "--no-normalize", *TEXTS[:2])
    assert p.returncode == 0, p.err
    got = embeddings_of(json_lines(p.out))
    # without the Normalize module: the raw mean-pooled vectors
    from sentence_transformers import SentenceTransformer

    raw = SentenceTransformer(modules=[st_model[0], st_model[1]], device="cpu")
    want = raw.encode(TEXTS[:2], convert_to_numpy=True)
    np.testing.assert_allclose(got, want, atol=1e-5, rtol=0)
    assert np.all(np.abs(np.linalg.norm(got, axis=1) - 1.0) > 1e-3)

    long_text = " ".join(["word"] * 40)
    p = run(cli, "run", "--model", minilm_dir, "--max-length", "8", long_text)
    assert p.returncode == 0, p.err
    old = st_model.max_seq_length
    try:
        st_model.max_seq_length = 8
        want = st_model.encode([long_text], convert_to_numpy=True)
    finally:
        st_model.max_seq_length = old
    np.testing.assert_allclose(embeddings_of(json_lines(p.out)), want, atol=1e-5, rtol=0)


def test_run_feature_extraction_matches_sentence_transformers(cli, minilm_dir, st_model):
    p = run(cli, "run", "--model", minilm_dir, "--task", "feature-extraction", *TEXTS)
    assert p.returncode == 0, p.err
    lines = json_lines(p.out)
    assert [r["index"] for r in lines] == list(range(len(TEXTS)))
    want = st_model.encode(TEXTS, output_value="token_embeddings", convert_to_numpy=False)
    for r, w in zip(lines, want):
        got = np.array(r["last_hidden_state"], dtype=np.float64)
        w = w.cpu().numpy()
        assert r["tokens"] == w.shape[0] == got.shape[0]
        assert got.shape == w.shape
        np.testing.assert_allclose(got, w, atol=1e-5, rtol=0)


def test_run_input_file_same_as_args(cli, minilm_dir, tmp_path):
    f = tmp_path / "texts.jsonl"
    f.write_text(json.dumps(TEXTS[0]) + "\n" + json.dumps({"text": TEXTS[1], "id": 7}) + "\n\n"
                 + json.dumps({"text": TEXTS[2]}, ensure_ascii=False) + "\r\n" + json.dumps(TEXTS[3]) + "\n",
                 encoding="utf-8")
    a = run(cli, "run", "--model", minilm_dir, *TEXTS)
    b = run(cli, "run", "--model", minilm_dir, "--input", f)
    assert a.returncode == 0 and b.returncode == 0, (a.err, b.err)
    np.testing.assert_allclose(embeddings_of(json_lines(b.out)), embeddings_of(json_lines(a.out)),
                               atol=1e-6, rtol=0)
    # stdin, and file texts come before positional ones
    c = run(cli, "run", "--model", minilm_dir, "--input", "-", "extra text", stdin=f.read_bytes())
    assert c.returncode == 0, c.err
    got = embeddings_of(json_lines(c.out))
    assert got.shape[0] == len(TEXTS) + 1
    np.testing.assert_allclose(got[:len(TEXTS)], embeddings_of(json_lines(a.out)), atol=1e-6, rtol=0)
    e = run(cli, "run", "--model", minilm_dir, "extra text")
    np.testing.assert_allclose(got[-1:], embeddings_of(json_lines(e.out)), atol=1e-6, rtol=0)
    # feature-extraction reads the same file
    fa = run(cli, "run", "--model", minilm_dir, "-t", "feature-extraction", *TEXTS)
    fb = run(cli, "run", "--model", minilm_dir, "-t", "feature-extraction", "-i", f)
    assert fa.returncode == 0 and fb.returncode == 0
    for x, y in zip(json_lines(fa.out), json_lines(fb.out)):
        assert x["tokens"] == y["tokens"]
        np.testing.assert_allclose(x["last_hidden_state"], y["last_hidden_state"], atol=1e-6, rtol=0)


def test_run_similarity_matrix(cli, minilm_dir, st_model):
    p = run(cli, "run", "--model", minilm_dir, "--similarity", *TEXTS)
    assert p.returncode == 0, p.err
    lines = json_lines(p.out)
    assert len(lines) == len(TEXTS) + 1
    assert set(lines[-1]) == {"similarity"}
    sim = np.array(lines[-1]["similarity"])
    emb = st_model.encode(TEXTS, convert_to_numpy=True).astype(np.float64)
    emb /= np.linalg.norm(emb, axis=1, keepdims=True)
    want = emb @ emb.T
    assert sim.shape == (len(TEXTS), len(TEXTS))
    np.testing.assert_allclose(sim, want, atol=1e-5, rtol=0)
    np.testing.assert_allclose(np.diag(sim), 1.0, atol=1e-5)
    np.testing.assert_allclose(embeddings_of(lines[:-1]), st_model.encode(TEXTS), atol=1e-5, rtol=0)


def test_run_table_format(cli, minilm_dir):
    p = run(cli, "run", "--model", minilm_dir, "--format", "table", "--similarity", *TEXTS[:2])
    assert p.returncode == 0, p.err
    assert "dim 384" in p.out and "norm 1.0000" in p.out
    assert "cosine similarity" in p.out


def test_run_empty_string(cli, minilm_dir, st_model):
    p = run(cli, "run", "--model", minilm_dir, "")
    assert p.returncode == 0, p.err
    got = embeddings_of(json_lines(p.out))
    np.testing.assert_allclose(got, st_model.encode([""]), atol=1e-5, rtol=0)
    f = run(cli, "run", "--model", minilm_dir, "-t", "feature-extraction", "", "x")
    assert f.returncode == 0, f.err
    lines = json_lines(f.out)
    assert [r["tokens"] for r in lines] == [2, 3]  # [CLS] [SEP], [CLS] x [SEP]


def test_run_threads_option_same_result(cli, minilm_dir):
    a = run(cli, "run", "--model", minilm_dir, "--threads", "1", *TEXTS)
    b = run(cli, "run", "--model", minilm_dir, *TEXTS, env={"TORCHLESS_NUM_THREADS": "3"})
    assert a.returncode == 0 and b.returncode == 0, (a.err, b.err)
    np.testing.assert_allclose(embeddings_of(json_lines(a.out)), embeddings_of(json_lines(b.out)),
                               atol=1e-6, rtol=0)


# ------------------------------------------------------------------ tokenize

def hf_encode(minilm_dir, text, pair=None):
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(minilm_dir / "tokenizer.json"))
    tok.no_truncation()
    tok.no_padding()
    return tok.encode(text, pair) if pair is not None else tok.encode(text)


@pytest.mark.parametrize("text", ["Hello, world!", "Café naïve — 東京 über 🙂 x", "", "   "])
def test_tokenize_matches_tokenizers(cli, minilm_dir, text):
    p = run(cli, "tokenize", "--model", minilm_dir, "--offsets", text)
    assert p.returncode == 0, p.err
    (got,) = json_lines(p.out)
    want = hf_encode(minilm_dir, text)
    assert got["ids"] == want.ids
    assert got["tokens"] == want.tokens
    assert [tuple(o) for o in got["offsets"]] == [tuple(o) for o in want.offsets]
    assert got["type_ids"] == want.type_ids
    assert got["attention_mask"] == want.attention_mask
    assert got["special_tokens_mask"] == want.special_tokens_mask
    assert got["word_ids"] == [-1 if w is None else w for w in want.word_ids]


def test_tokenize_pair_and_options(cli, minilm_dir):
    p = run(cli, "tokenize", "--model", minilm_dir, "--pair", "Second one.", "First one.")
    assert p.returncode == 0, p.err
    (got,) = json_lines(p.out)
    want = hf_encode(minilm_dir, "First one.", "Second one.")
    assert got["ids"] == want.ids and got["type_ids"] == want.type_ids
    assert "offsets" not in got
    p = run(cli, "tokenize", "--model", minilm_dir, "--no-special-tokens", "Hello, world!")
    (got,) = json_lines(p.out)
    assert got["ids"] == hf_encode(minilm_dir, "Hello, world!").ids[1:-1]
    p = run(cli, "tokenize", "--model", minilm_dir, "--max-length", "4", "Hello, world, again!")
    (got,) = json_lines(p.out)
    full = hf_encode(minilm_dir, "Hello, world, again!").ids
    assert got["ids"] == full[:3] + [full[-1]]
    # a tokenizer.json path works too
    p = run(cli, "tokenize", "--model", minilm_dir / "tokenizer.json", "Hello")
    assert p.returncode == 0, p.err
    assert json_lines(p.out)[0]["ids"] == hf_encode(minilm_dir, "Hello").ids


# ------------------------------------------------------------------ invalid UTF-8

BAD = b"abc\xff\xfedef"  # invalid from byte offset 3


def _names_offset_3(err):
    return "utf-8" in err.lower() and re.search(r"(?<![\d.])3(?![\d.])", err)


@pytest.mark.parametrize("args", [["run"], ["run", "-t", "feature-extraction"], ["tokenize"]])
def test_invalid_utf8_argument(cli, minilm_dir, args):
    p = run(cli, *args, "--model", minilm_dir, "fine", BAD)
    assert p.returncode == 1, (p.returncode, p.err)  # a negative code would be a crash
    assert _names_offset_3(p.err), p.err
    assert "Traceback" not in p.err and "Sanitizer" not in p.err


@pytest.mark.parametrize("bad", [b"\xc3", b"\xed\xa0\x80", b"\xc0\xaf", b"\xf4\x90\x80\x80"])
def test_invalid_utf8_variants_do_not_crash(cli, minilm_dir, bad):
    p = run(cli, "tokenize", "--model", minilm_dir, b"ab" + bad)
    assert p.returncode == 1, (p.returncode, p.err)
    assert "utf-8" in p.err.lower()


# ------------------------------------------------------------------ docs/examples/embed.c

def parse_example(out):
    dim = int(re.search(r"^dimension: (\d+)$", out, re.M).group(1))
    first = [[float(x) for x in m.group(2).split()]
             for m in re.finditer(r"^sentence (\d+): \[([-\d.e ]+) \.\.\.\]", out, re.M)]
    sims = {int(m.group(1)): float(m.group(2))
            for m in re.finditer(r"^cosine\(0, (\d+)\) = ([-\d.e]+)$", out, re.M)}
    sentences = re.findall(r'^sentence \d+: .*"(.*)"$', out, re.M)
    return dim, first, sims, sentences


def test_example_embed_matches_sentence_transformers(minilm_dir, st_model):
    assert EXAMPLE.exists(), "build/tests/example_embed missing: run `make`"
    p = run(EXAMPLE, minilm_dir)
    assert p.returncode == 0, p.err
    dim, first, sims, sentences = parse_example(p.out)
    assert dim == 384
    assert len(sentences) == 3 and len(first) == 3
    emb = st_model.encode(sentences, convert_to_numpy=True).astype(np.float64)
    for i in range(3):
        np.testing.assert_allclose(first[i], emb[i, :len(first[i])], atol=1e-4, rtol=0)
    emb /= np.linalg.norm(emb, axis=1, keepdims=True)
    assert set(sims) == {1, 2}
    for j in (1, 2):
        assert abs(sims[j] - float(emb[0] @ emb[j])) <= 1e-4, (j, sims[j], float(emb[0] @ emb[j]))
    # the model may come from TORCHLESS_MODEL instead of argv[1]
    q = run(EXAMPLE, env={"TORCHLESS_MODEL": str(minilm_dir)})
    assert q.returncode == 0, q.err
    assert q.out == p.out


def test_example_embed_errors(tmp_path):
    assert EXAMPLE.exists(), "build/tests/example_embed missing: run `make`"
    missing = tmp_path / "no-such-model"
    p = run(EXAMPLE, missing)
    assert p.returncode == 1
    assert str(missing) in p.err
    assert p.out == ""
    p = run(EXAMPLE)
    assert p.returncode == 2
    assert "TORCHLESS_MODEL" in p.err


# ------------------------------------------------------------------ docs/c-api.md

def test_c_api_doc_is_complete():
    doc = (ROOT / "docs" / "c-api.md").read_text(encoding="utf-8")
    example = (ROOT / "docs" / "examples" / "embed.c").read_text(encoding="utf-8")
    assert example in doc, "docs/c-api.md must include docs/examples/embed.c verbatim"
    header = (ROOT / "include" / "torchless.h").read_text(encoding="utf-8")
    exported = set(re.findall(r"\b(tl_[a-z0-9_]+)\s*\(", header))
    assert len(exported) > 30
    missing = sorted(f for f in exported if f not in doc)
    assert not missing, f"functions of torchless.h not documented in docs/c-api.md: {missing}"
    for word in ("TORCHLESS_NUM_THREADS", "TORCHLESS_GEMM", "tl_last_error", "seq_lens",
                 "-lpcre2-8 -L$B -Wl,-rpath,$B -lopenblas -lm -lpthread -fopenmp"):
        assert word in doc


# ------------------------------------------------------------------ OpenMP wait policy

@pytest.mark.parametrize("user_env, want", [
    ({}, "GOMP_SPINCOUNT = '10000'"),                     # run sets short spins
    ({"GOMP_SPINCOUNT": "777"}, "GOMP_SPINCOUNT = '777'"),  # the user's choice is kept
    ({"OMP_WAIT_POLICY": "active"}, "OMP_WAIT_POLICY = 'ACTIVE'"),
])
def test_run_openmp_spin_policy(cli, minilm_dir, user_env, want):
    """libgomp prints the policy it loaded with (OMP_DISPLAY_ENV): `run` re-executes itself
    with GOMP_SPINCOUNT=10000 unless the user set a wait policy (docs/c-api.md)."""
    env = {k: v for k, v in os.environ.items() if k not in ("GOMP_SPINCOUNT", "OMP_WAIT_POLICY")}
    env.update(user_env, OMP_DISPLAY_ENV="verbose")
    p = subprocess.run([str(cli), "run", "--model", str(minilm_dir), "hi"], capture_output=True,
                       text=True, env=env, timeout=600)
    assert p.returncode == 0, p.stderr
    assert want in p.stderr
    if user_env:
        assert "GOMP_SPINCOUNT = '10000'" not in p.stderr
