"""Reduced precisions on every CPU path this machine can run (issue #12), forced with
TORCHLESS_ISA: which precisions load, which oneDNN kernel runs them (ONEDNN_VERBOSE), how
close a forward stays to fp32, and the error (never an illegal instruction) where the path
lacks the instructions. Plus the accuracy guard on a model built to fail in int8.

Tolerances per token of the last hidden state against this engine's fp32 forward (default
path): bf16 relative L2 <= 1e-2, cosine >= 0.9999; int8 <= 5e-2, >= 0.999."""
import os
import subprocess
import sys

import numpy as np
import pytest

from test_arch_parity import BERT_LIKE
from tiny_models import build_tiny_encoder
import torchless
from torchless import Model, TorchlessError

CPU = open("/proc/cpuinfo").read() if os.path.exists("/proc/cpuinfo") else ""


def has(*flags):
    return all(f" {f}" in CPU for f in flags)


# cap -> (CPU flags it needs, bf16 kernel or None (refused), int8 kernel or None)
PATHS = {
    "amx": (("amx_tile", "amx_bf16", "amx_int8"), "brg:avx512_core_amx_bf16", "brg:avx512_core_amx_int8"),
    "avx512-bf16": (("avx512f", "avx512_bf16", "avx512_vnni"), "brg:avx512_core_bf16", "brg:avx512_core_vnni"),
    "avx512-vnni": (("avx512f", "avx512_vnni"), None, "brg:avx512_core_vnni"),
    "avx2-vnni": (("avx2", "avx_vnni"), None, "gemm:jit"),
    "avx512": (("avx512f",), None, None),
    "avx2": (("avx2",), None, None),
    "generic": ((), None, None),
}
BERT = ("BertModel", dict(BERT_LIKE, num_hidden_layers=3))
TOL = {"bf16": (1e-2, 0.9999), "int8": (5e-2, 0.999)}
IDS = [[int(x) for x in np.random.default_rng(5).integers(2, 99, size=n)] for n in (1, 7, 33)]

CHILD = r"""
import json, sys
sys.path.insert(0, %r)
import numpy as np
from torchless import Model, TorchlessError
out = {}
for p in ("bf16", "int8", "auto"):
    try:
        m = Model(%r, load_tokenizer=False, precision=p)
        out[p] = {"precision": m.precision, "y": [a.tolist() for a in m.forward(%r)]}
    except TorchlessError as e:
        out[p] = {"error": str(e)}
print("RESULT " + json.dumps(out))
"""


def token_errors(got, want):
    rel = np.linalg.norm(got - want, axis=1) / np.linalg.norm(want, axis=1)
    cos = np.sum(got * want, 1) / np.linalg.norm(got, axis=1) / np.linalg.norm(want, axis=1)
    return float(rel.max()), float(cos.min())


@pytest.fixture(scope="module")
def bert(tmp_path_factory):
    cls, cfg = BERT
    return build_tiny_encoder(tmp_path_factory.mktemp("bert"), cls, cfg, seed=4)


@pytest.mark.parametrize("cap", sorted(PATHS))
def test_forced_path(bert, cap):
    needs, bf16_kernel, int8_kernel = PATHS[cap]
    if not has(*needs):
        pytest.skip(f"this CPU cannot run the {cap} path")
    code = CHILD % (os.path.dirname(torchless.__path__[0]), str(bert), IDS)
    env = dict(os.environ, TORCHLESS_ISA=cap, ONEDNN_VERBOSE="1")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]  # never an illegal instruction
    import json

    res = json.loads(next(l for l in r.stdout.splitlines() if l.startswith("RESULT "))[7:])
    impls = {l.split(",")[4] for l in r.stdout.splitlines() if l.startswith("onednn_verbose,exec,cpu,matmul")
             or l.startswith("dnnl_verbose,exec,cpu,matmul")}
    if "amx" not in cap:
        assert not any("amx" in i for i in impls), impls  # capped below AMX really runs below it
    want = Model(bert, load_tokenizer=False).forward(IDS)
    for p, kernel in (("bf16", bf16_kernel), ("int8", int8_kernel)):
        got = res[p]
        if kernel is None:
            assert "error" in got, got.get("precision")
            assert "needs a CPU with" in got["error"] and "TORCHLESS_ISA forbids" in got["error"], got["error"]
            continue
        assert "error" not in got, got["error"]
        assert got["precision"] == p
        assert kernel in impls, (kernel, impls)
        rtol, min_cos = TOL[p]
        for g, w in zip(got["y"], want):
            rel, cos = token_errors(np.array(g, dtype=np.float32), w)
            assert rel <= rtol and cos >= min_cos, f"{cap} {p}: rel {rel:.3g} cos {cos:.6f}"
    native = [p for p, k in (("int8", int8_kernel), ("bf16", bf16_kernel)) if k]
    assert res["auto"]["precision"] in (native + ["fp32"] if native else ["fp32"])


def test_unknown_isa_named(bert):
    code = ("import sys; sys.path.insert(0, %r)\nfrom torchless import Model, TorchlessError\n"
            "try: Model(%r, load_tokenizer=False)\nexcept TorchlessError as e: print('error', e)\n"
            % (os.path.dirname(torchless.__path__[0]), str(bert)))
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                       env=dict(os.environ, TORCHLESS_ISA="avx9000"), timeout=120)
    assert "TORCHLESS_ISA='avx9000'" in r.stdout and "avx2-vnni" in r.stdout, r.stdout + r.stderr


@pytest.fixture(scope="module")
def outlier_bert(tmp_path_factory):
    """A tiny BERT with outlier activations in one layer: layer 0's output LayerNorm gain
    on channel 5 times 100, so layer 1's QKV input carries a 100x channel that its weights
    ignore (their column 5 zeroed). The per-token int8 scale then covers the outlier and
    rounds the rest of each row to a few levels: layer 1 QKV drifts, the others do not.
    (Smoothing cannot move an outlier onto a zero weight column.)"""
    import torch
    import transformers

    cls, cfg = BERT
    d = tmp_path_factory.mktemp("outlier")
    build_tiny_encoder(d, cls, cfg, seed=9)
    model = transformers.AutoModel.from_pretrained(d).eval()
    with torch.no_grad():
        model.encoder.layer[0].output.LayerNorm.weight[5] *= 100.0
        a = model.encoder.layer[1].attention.self
        for lin in (a.query, a.key, a.value):
            lin.weight[:, 5] = 0.0
    model.save_pretrained(d, safe_serialization=True)
    return d


def test_guard_refuses_outlier_layer_and_names_it(outlier_bert):
    if not any(has(f) for f in ("avx512_vnni", "avx_vnni", "amx_int8")):
        pytest.skip("int8 is not native on this CPU")
    with pytest.raises(TorchlessError) as e:
        Model(outlier_bert, load_tokenizer=False, precision="int8", check_accuracy=True)
    msg = str(e.value)
    assert "precision int8 failed the accuracy guard" in msg, msg
    assert "layer 1 qkv drifts, cosine 0." in msg and "below the per-layer threshold 0.990000" in msg, msg
    m = Model(outlier_bert, load_tokenizer=False, precision="auto")
    assert m.precision != "int8"  # auto fell back (to bf16 where native, else fp32)
    assert m.accuracy["checked"] and m.accuracy["min_cosine"] >= 0.999


def test_cli_inspect_prints_per_layer_drift(cli, outlier_bert):
    p = "bf16" if has("avx512_bf16") or has("amx_bf16") else None
    if p is None:
        pytest.skip("bf16 is not native on this CPU")
    r = subprocess.run([str(cli), "inspect", "--model", str(outlier_bert), "--precision", p, "--check-accuracy"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    i = next(k for k, l in enumerate(lines) if l.startswith("per layer"))
    rows = [l.split() for l in lines[i + 2:i + 2 + 4 * BERT[1]["num_hidden_layers"]]]
    assert [r[:3] for r in rows[:4]] == [["0", n, p] for n in ("qkv", "attn_out", "ffn_in", "ffn_out")]
    assert all(0.99 < float(r[3]) <= 1.0 and 0 <= float(r[4]) < 0.05 for r in rows), rows
    r = subprocess.run([str(cli), "inspect", "--model", str(outlier_bert), "--precision", "int8",
                        "--check-accuracy"], capture_output=True, text=True, timeout=120)
    assert r.returncode != 0 and "layer 1 qkv drifts" in r.stderr, r.stderr


def test_a_lower_min_cosine_lowers_the_per_layer_threshold(outlier_bert):
    """The user's min_cosine, set below 0.99, is the per-layer threshold too."""
    if not any(has(f) for f in ("avx512_vnni", "avx_vnni", "amx_int8")):
        pytest.skip("int8 is not native on this CPU")
    m = Model(outlier_bert, load_tokenizer=False, precision="int8", check_accuracy=True, min_cosine=0.5,
              max_rel_error=1.0)
    assert m.precision == "int8"
    with pytest.raises(TorchlessError, match="below the per-layer threshold 0.990000"):  # not raised above 0.99
        Model(outlier_bert, load_tokenizer=False, precision="int8", check_accuracy=True, min_cosine=0.995,
              max_rel_error=1.0)
