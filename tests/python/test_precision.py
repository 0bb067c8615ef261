"""Reduced precisions (issue #12, docs/precision.md): bf16 and int8 forwards of every tiny
architecture against transformers' fp32, the real all-MiniLM-L6-v2's embeddings against
fp32, a pipeline's decisions, the accuracy guard, and the errors where the CPU (or a
forced lower TORCHLESS_ISA) lacks the instructions.

Tolerances (per token of the last hidden state; measured on the development machine, a
CPU with AVX512-BF16 and AVX512-VNNI):
bf16 relative L2 error <= 1e-2 and cosine >= 0.9999 (measured <= 2.7e-3 / >= 0.999996);
int8 <= 3e-2 and >= 0.999 (measured <= 9.8e-3 / >= 0.99995)."""
import os
import subprocess
import sys

import numpy as np
import pytest
import torch

from test_arch_parity import CASES
from tiny_models import build_tiny_encoder
import torchless
from torchless import Model, TorchlessError

TOL = {"bf16": (1e-2, 0.9999), "int8": (3e-2, 0.999)}


def native(p):
    """Whether this CPU runs precision p (else the tests of it expect the error)."""
    try:
        return _native_cache[p]
    except KeyError:
        pass
    flags = open("/proc/cpuinfo").read() if os.path.exists("/proc/cpuinfo") else ""
    want = {"bf16": ("avx512_bf16", "amx_bf16"), "int8": ("avx512_vnni", "avx_vnni", "amx_int8")}[p]
    _native_cache[p] = any(f" {w}" in flags for w in want)
    return _native_cache[p]


_native_cache = {}


def token_errors(got, want):
    """(max relative L2 error, min cosine) over the rows of two (T, H) arrays."""
    rel = np.linalg.norm(got - want, axis=1) / np.linalg.norm(want, axis=1)
    cos = np.sum(got * want, 1) / np.linalg.norm(got, axis=1) / np.linalg.norm(want, axis=1)
    return float(rel.max()), float(cos.min())


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    cache = {}

    def get(name):
        if name not in cache:
            cls, cfg = CASES[name]
            cache[name] = build_tiny_encoder(tmp_path_factory.mktemp(name), cls, cfg, seed=len(name))
        return cache[name]

    return get


@pytest.mark.parametrize("precision", ["bf16", "int8"])
@pytest.mark.parametrize("name", sorted(CASES))
def test_family_reduced_precision_close_to_transformers(built, name, precision):
    import transformers

    if not native(precision):
        pytest.skip(f"{precision} is not native on this CPU")
    d = built(name)
    hf = transformers.AutoModel.from_pretrained(d).eval()
    tl = Model(d, load_tokenizer=False, precision=precision)
    assert tl.precision == precision
    rng = np.random.default_rng(7)
    lens = [n for n in (1, 7, 33, 129) if n <= tl.max_positions] + [tl.max_positions]
    ids = [[int(x) for x in rng.integers(2, CASES[name][1]["vocab_size"], size=n)] for n in lens]
    got = tl.forward(ids)
    rtol, min_cos = TOL[precision]
    with torch.inference_mode():
        for i, s in enumerate(ids):
            want = hf(input_ids=torch.tensor([s])).last_hidden_state[0].numpy()
            rel, cos = token_errors(got[i], want)
            assert rel <= rtol and cos >= min_cos, f"{name} {precision} len {len(s)}: rel {rel:.3g} cos {cos:.6f}"


def test_fp32_default_is_bit_identical(built):
    d = built("roberta")
    ids = [[5, 6, 7, 8, 9], [10, 11]]
    a = Model(d, load_tokenizer=False).forward(ids)
    b = Model(d, load_tokenizer=False, precision="fp32").forward(ids)
    m = Model(d, load_tokenizer=False, precision="fp32", check_accuracy=True)
    c = m.forward(ids)
    for x, y, z in zip(a, b, c):
        assert np.array_equal(x, y) and np.array_equal(x, z)
    assert m.accuracy["checked"] and m.accuracy["precision"] == "fp32"


@pytest.fixture(scope="module")
def minilm_fp32(minilm_dir):
    from test_minilm_parity import TEXTS

    return TEXTS, Model(minilm_dir).embed(TEXTS, normalize=True)


@pytest.mark.parametrize("precision,min_cos,mean_cos", [("bf16", 0.999, 0.9999), ("int8", 0.99, 0.998)])
def test_minilm_embeddings(minilm_dir, minilm_fp32, precision, min_cos, mean_cos):
    """The issue's goals (0.999 bf16, 0.99 int8). Measured on 62 texts (Xeon with AMX):
    bf16 min 0.99995; int8 (smoothed, u8 activations, FFN out in bf16) min 0.9984; int8
    on a CPU without bf16 (all layers int8) min 0.9931 (docs/precision.md)."""
    if not native(precision):
        pytest.skip(f"{precision} is not native on this CPU")
    texts, ref = minilm_fp32
    m = Model(minilm_dir, precision=precision)
    cos = np.sum(m.embed(texts, normalize=True) * ref, 1)
    assert cos.min() >= min_cos and cos.mean() >= mean_cos, (cos.min(), cos.mean())


@pytest.mark.parametrize("precision", ["bf16", "int8"])
def test_text_classification_decisions_equal_fp32(tmp_path, precision):
    from tiny_models import build_tiny_bert_task

    if not native(precision):
        pytest.skip(f"{precision} is not native on this CPU")
    d = build_tiny_bert_task(tmp_path / "cls", "seq-cls", seed=3)
    texts = ["I like you", "I hate you", "the quick brown fox", "a test sentence", "nothing at all",
             "good", "bad", "the of and a to in is you that it", "hello world", "what is this"]
    ref = torchless.pipeline("text-classification", model=str(d))(texts)
    got = torchless.pipeline("text-classification", model=str(d), precision=precision)(texts)
    assert [r["label"] for r in ref] == [g["label"] for g in got]
    for r, g in zip(ref, got):
        assert abs(r["score"] - g["score"]) < 2e-2


def test_guard_refuses_with_value_and_threshold(built):
    p = "int8" if native("int8") else "bf16" if native("bf16") else None
    if p is None:
        pytest.skip("no reduced precision is native on this CPU")
    with pytest.raises(TorchlessError, match=rf"precision {p} failed the accuracy guard .*min cosine "
                                             r"0\.\d+ below the threshold 0\.999999"):
        Model(built("electra_projected"), load_tokenizer=False, precision=p, check_accuracy=True,
              min_cosine=0.999999)
    m = Model(built("electra_projected"), load_tokenizer=False, precision=p, check_accuracy=True)
    acc = m.accuracy
    assert acc["checked"] and acc["precision"] == p and acc["n_tokens"] > 0
    assert 0 < acc["max_rel_error"] < 0.05 and acc["min_cosine"] > 0.999


def test_auto_picks_a_native_precision(built):
    m = Model(built("distilbert"), load_tokenizer=False, precision="auto")
    acc = m.accuracy
    assert acc["checked"]
    want = {"int8", "bf16"} if native("int8") or native("bf16") else {"fp32"}
    assert acc["precision"] in want


def test_bad_precision_value(built):
    with pytest.raises(ValueError, match="precision must be"):
        Model(built("distilbert"), load_tokenizer=False, precision="fp16")


def run_env(code, **env):
    e = dict(os.environ, **env)
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=e)


def test_forced_avx2_makes_reduced_precisions_an_error(built):
    d = str(built("distilbert"))
    code = ("import sys; sys.path.insert(0, %r)\n"
            "from torchless import Model, TorchlessError\n"
            "for p in ('bf16', 'int8'):\n"
            "    try:\n        Model(%r, load_tokenizer=False, precision=p); print(p, 'loaded')\n"
            "    except TorchlessError as e: print(p, 'error', e)\n"
            "print('auto', Model(%r, load_tokenizer=False, precision='auto').precision)\n"
            % (os.path.dirname(torchless.__path__[0]), d, d))
    r = run_env(code, TORCHLESS_ISA="avx2")
    assert r.returncode == 0, r.stderr
    out = r.stdout
    assert "bf16 error" in out and "AVX512-BF16 or AMX-BF16" in out
    assert "int8 error" in out and "AVX512-VNNI, AVX-VNNI or AMX-INT8" in out
    if native("bf16"):
        assert "TORCHLESS_ISA forbids the instructions this CPU has" in out
    assert "auto fp32" in out


def test_blas_backend_refuses_reduced_precision(built):
    if not native("bf16"):
        pytest.skip("bf16 is not native on this CPU")
    d = str(built("distilbert"))
    code = ("import sys; sys.path.insert(0, %r)\nfrom torchless import Model, TorchlessError\n"
            "try: Model(%r, load_tokenizer=False, precision='bf16')\n"
            "except TorchlessError as e: print('error', e)\n"
            % (os.path.dirname(torchless.__path__[0]), d))
    r = run_env(code, TORCHLESS_GEMM="blas")
    assert "error" in r.stdout and "fp32 only" in r.stdout, r.stdout + r.stderr


def test_ref_backend_runs_bf16_close_to_dnnl(built):
    if not native("bf16"):
        pytest.skip("bf16 is not native on this CPU")
    d = str(built("distilbert"))
    code = ("import sys; sys.path.insert(0, %r)\nimport numpy as np\nfrom torchless import Model\n"
            "m = Model(%r, load_tokenizer=False, precision='bf16')\n"
            "print(repr(m.forward([[5, 6, 7, 8, 9, 10, 11]])[0].tolist()))\n"
            % (os.path.dirname(torchless.__path__[0]), d))
    r = run_env(code, TORCHLESS_GEMM="ref")
    assert r.returncode == 0, r.stderr
    got = np.array(eval(r.stdout.strip().splitlines()[-1]))
    want = Model(d, load_tokenizer=False, precision="bf16").forward([[5, 6, 7, 8, 9, 10, 11]])[0]
    rel, cos = token_errors(got, want)
    assert rel < 1e-3 and cos > 0.99999


def test_cli_inspect_prints_the_guard(cli, built):
    p = "bf16" if native("bf16") else "fp32"
    r = subprocess.run([str(cli), "inspect", "--model", str(built("distilbert")), "--precision", p,
                        "--check-accuracy"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert f"precision:    {p}" in r.stdout
    assert "accuracy:     vs fp32 on" in r.stdout and "min cosine" in r.stdout
    r = subprocess.run([str(cli), "inspect", "--model", str(built("distilbert")), "--precision", "fp8"],
                       capture_output=True, text=True)
    assert r.returncode == 2 and "--precision must be fp32, bf16, int8 or auto" in r.stderr
