"""bench/precision.py's helpers (the full benchmark takes many minutes and is not a test):
the FLOP count, the accuracy metrics, the peak chosen per precision, the ratios and shares,
the goals' verdicts, the Markdown it writes and how it splices docs/BENCHMARKS.md; and
bench/machine_peak's register-only peaks, checked against what the hardware can do per
cycle."""
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "bench"))
import precision as P  # noqa: E402
import workloads as W  # noqa: E402

CFG = {"hidden_size": 4, "intermediate_size": 8, "num_hidden_layers": 2}


def test_flops_by_hand():
    # per layer: GEMMs 2*T*(4*16 + 2*4*8) = 2*8*128 = 2048 for T = 3 + 5; attention 4*4*(9+25) = 544
    g, a = W.flops([3, 5], CFG)
    assert g == 2 * 2048 and a == 2 * 544
    assert W.workload_lens("W4") == [512] * 8 and len(W.workload_lens("W3")) == 32
    with pytest.raises(ValueError, match="W9"):
        W.workload_lens("W9")


def test_token_accuracy():
    ref = [np.array([[3.0, 4.0], [1.0, 0.0]]), np.array([[0.0, 2.0]])]
    assert P.token_accuracy(ref, ref) == {"max_rel_error": 0.0, "min_cosine": 1.0}
    got = [np.array([[3.5, 4.0], [1.0, 0.0]]), np.array([[0.0, -2.0]])]
    a = P.token_accuracy(got, ref)
    assert a["max_rel_error"] == pytest.approx(2.0)  # [0,-2] vs [0,2]: ||diff|| 4 / 2
    assert a["min_cosine"] == pytest.approx(-1.0)
    a = P.token_accuracy(got[:1], ref[:1])
    assert a["max_rel_error"] == pytest.approx(0.1)
    assert a["min_cosine"] == pytest.approx((3.5 * 3 + 16) / (5 * np.hypot(3.5, 4)))


def unit_rows(degrees):
    """One-token 'sequences' at the given angles in the plane."""
    return [np.array([[np.cos(np.radians(d)), np.sin(np.radians(d))]]) for d in degrees]


def test_embedding_accuracy_nearest_neighbours():
    ref = P.mean_pool(unit_rows([0, 10, 90, 110]))  # nearest: 0-1, 1-0, 2-3, 3-2
    a = P.embedding_accuracy(ref, ref)
    assert a["nn_agreement"] == 1.0 and a["min_cosine"] == pytest.approx(1.0) and a["n"] == 4
    # 10 degrees moved to 80: nearest 0-1 (kept), 1-2 (was 0), 2-1 (was 3), 3-2 (kept)
    a = P.embedding_accuracy(P.mean_pool(unit_rows([0, 80, 90, 110])), ref)
    assert a["nn_agreement"] == 0.5
    assert a["min_cosine"] == pytest.approx(np.cos(np.radians(70)))
    assert a["mean_cosine"] == pytest.approx((3 + np.cos(np.radians(70))) / 4)


PEAK = {"clock_ghz": 3.0, "peaks": {
    "fp32_fma_avx512": {"precision": "fp32", "unit": "GFLOP/s", "t1": 190, "tN": 380, "per_cycle_t1": 63},
    "bf16_vdpbf16ps_avx512": {"precision": "bf16", "unit": "GFLOP/s", "t1": 100, "tN": 200, "per_cycle_t1": 33},
    "bf16_amx_tdpbf16ps": {"precision": "bf16", "unit": "GFLOP/s", "t1": 3000, "tN": 6000, "per_cycle_t1": 1000},
    "int8_vpdpbusd_avx512": {"precision": "int8", "unit": "GOP/s", "t1": 700, "tN": 1400, "per_cycle_t1": 233},
    "int8_amx_tdpbusd": {"precision": "int8", "unit": "GOP/s", "t1": 6000, "tN": 12000, "per_cycle_t1": 2000}},
    "skipped": {}}


def test_best_peaks_take_the_fastest_kind_per_precision():
    b = P.best_peaks(PEAK)
    assert {p: v["kind"] for p, v in b.items()} == {
        "fp32": "fp32_fma_avx512", "bf16": "bf16_amx_tdpbf16ps", "int8": "int8_amx_tdpbusd"}
    assert b["bf16"]["rate"] == 6000
    assert P.best_peaks({}) == {}


def stats(ms):
    return {"median_ms": ms, "p10_ms": ms * 0.9, "p90_ms": ms * 1.2, "n": 5}


def fake_results(w1_bf16_ms=10.0, w4_int8_ms=100.0):
    peaks = P.best_peaks(PEAK)
    meds = {"torchless fp32": 40, "torchless bf16": w1_bf16_ms, "torchless int8": 8,
            "hf-eager fp32": 60, "onnxruntime fp32": 45, "pytorch bf16": 30, "pytorch autocast bf16": 25,
            "onnxruntime int8": 16}
    w1 = P.derive({n: stats(v) for n, v in meds.items()}, 6e10, peaks)
    w4 = P.derive({"torchless bf16": stats(150.0), "torchless int8": stats(w4_int8_ms),
                   "onnxruntime int8": stats(500.0)}, 1.2e12, peaks)
    acc = {n: {"max_rel_error": 0.01, "min_cosine": 0.9999} for n in meds if n != P.REFERENCE}
    texts = {"n": 62, "accuracy": {"torchless bf16": {"min_cosine": 0.99995, "mean_cosine": 0.99999,
                                                      "nn_agreement": 1.0, "n": 62},
                                   "torchless int8": {"min_cosine": 0.985, "mean_cosine": 0.998,
                                                      "nn_agreement": 0.98, "n": 62}}}
    return {"machine": {"cpu": "Test CPU", "cpu_id": "family 6, model 1", "cores": 2, "hypervisor": True,
                        "isa": ["avx512f", "amx_bf16"], "torch": "t", "onnxruntime": "o", "transformers": "x"},
            "threads": 2, "engine_commit": "abc", "command": ".venv/bin/python bench/precision.py",
            "date": "2026-01-01T00:00:00", "elapsed_s": 600, "uptime_before": "load average: 1.0",
            "uptime_after": "load average: 2.0", "peak": PEAK,
            "models": {"m": {"title": "Model M", "ort_int8_ops": {"MatMulInteger": 3},
                             "texts": texts, "workloads": {
                                 "W1": {"tokens": 128, "engines": w1, "accuracy": acc, "loadavg": 1.5},
                                 "W4": {"tokens": 4096, "engines": w4,
                                        "accuracy": {"torchless bf16": {}, "torchless int8": {}},
                                        "loadavg": 2.0}}}}}


def test_derive_ratios_and_peak_shares():
    st = fake_results()["models"]["m"]["workloads"]["W1"]["engines"]
    assert st["torchless bf16"]["speedup"] == {"pytorch bf16": 3.0, "pytorch autocast bf16": 2.5,
                                               "hf-eager fp32": 6.0}
    assert st["torchless int8"]["speedup"] == {"onnxruntime int8": 2.0, "hf-eager fp32": 7.5}
    assert "speedup" not in st["pytorch bf16"]
    # 6e10 useful FLOPs in 10 ms = 6000 GFLOP/s = the whole bf16 peak; fp32 40 ms = 1500 of 380
    assert st["torchless bf16"]["peak_share"] == pytest.approx(1.0)
    assert st["torchless fp32"]["useful_gops"] == pytest.approx(1500)
    assert st["onnxruntime int8"]["peak_share"] == pytest.approx(6e10 / 0.016 / 1e9 / 12000)


def test_goals_verdicts():
    G = {g["goal"]: g for g in P.goals(fake_results())}
    # judged against the faster PyTorch bf16 (autocast, 25 ms): 2.5x >= 2
    assert G["W1 bf16: >= 2x pytorch bf16 / pytorch autocast bf16"]["met"]
    assert "2.50x (vs pytorch autocast bf16; p10 2.50x)" == G["W1 bf16: >= 2x pytorch bf16 / pytorch autocast bf16"]["measured"]
    assert G["W1 bf16: >= 5x hf-eager fp32"]["met"]
    assert G["W1 int8: >= 1.5x onnxruntime int8"]["met"]
    # W4 int8: 1.2e12 in 100 ms = 12000 GOP/s: 100% of the peak; bf16 1.2e12 / 0.15 s = 8000 > 6000
    assert G["W4 int8: >= 70% of the int8 peak"]["met"]
    assert G["62 texts, bf16: embedding cosine >= 0.999 to fp32"]["met"]
    assert not G["62 texts, int8: embedding cosine >= 0.99 to fp32"]["met"]
    assert not G["62 texts, int8: nearest neighbour = fp32's on >= 99.5%"]["met"]
    assert not any(g.startswith("W3") for g in G)  # W3 did not run: no verdict
    slow = {g["goal"]: g for g in P.goals(fake_results(w1_bf16_ms=20.0, w4_int8_ms=200.0))}
    assert not slow["W1 bf16: >= 2x pytorch bf16 / pytorch autocast bf16"]["met"]
    assert slow["W4 int8: >= 70% of the int8 peak"]["measured"] == "50.0%"
    assert not slow["W4 int8: >= 70% of the int8 peak"]["met"]


def test_render_and_splice():
    md = P.render_markdown(fake_results())
    assert md.startswith(P.START) and md.endswith(P.END)
    row = [r for r in md.splitlines() if r.startswith("| W1 (128 tok) | **torchless bf16** |")]
    assert len(row) == 1
    cells = [c.strip() for c in row[0].split("|")[1:-1]]
    assert cells[2:5] == ["10.00", "9.00", "12.00"]
    assert "3.00x pytorch bf16" in cells[5] and cells[7] == "100.0%" and cells[8] == "1.0e-02"
    assert "| m | W1 int8: >= 1.5x onnxruntime int8 | 2.00x (vs onnxruntime int8; p10 2.00x) | yes |" in md
    assert "| **no** |" in md
    assert "| bf16_amx_tdpbf16ps | bf16 | 3000 GFLOP/s | 6000 GFLOP/s | 1000 | 1024 |" in md
    assert "(ref)" in md  # the reference row carries no error of its own
    doc = "# Benchmarks\n\n<!-- bench:encoder:start -->\nfp32\n<!-- bench:encoder:end -->\n"
    once = P.splice(doc, md)
    assert once.startswith(doc.rstrip("\n")) and once.count(P.START) == 1
    twice = P.splice(once.replace("Test CPU", "Old CPU") + "\n## Tokenizer\nkept\n", md)
    assert twice.count(P.START) == 1 and "Old CPU" not in twice and twice.endswith("## Tokenizer\nkept\n")
    assert "<!-- bench:encoder:start -->\nfp32\n" in twice


@pytest.fixture(scope="module")
def machine_peak():
    exe = ROOT / "build/bench/machine_peak"
    r = subprocess.run(["make", "-C", str(ROOT / "bench/micro"), f"OUT={exe.parent}", str(exe)],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    out = subprocess.run([str(exe), "--no-bandwidth", "--quick"], capture_output=True, text=True, timeout=120,
                         env=dict(os.environ, OMP_NUM_THREADS="2"))
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def cpu_flags():
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("flags"):
            return set(line.split(":", 1)[1].split())
    return set()


def test_machine_peak_is_sane(machine_peak):
    """Per core and cycle (at the scalar clock, which AVX-512 / AMX never exceed) no kind may pass
    what the instructions can do (2 FMA ports: 64 fp32 FLOP; an AMX tile product per 16 cycles:
    1024 bf16 FLOP, 2048 int8 OP), and the fp32 and AMX ones reach at least 40% of it; every
    kind this CPU has is measured, and those it lacks are named with a reason."""
    pk, flags = machine_peak, cpu_flags()
    assert 0.5 < pk["clock_ghz"] < 7
    have = pk["peaks"]
    expect = {"fp32_fma_avx512": "avx512f", "bf16_vdpbf16ps_avx512": "avx512_bf16",
              "int8_vpdpbusd_avx512": "avx512_vnni", "int8_vpdpbusd_avxvnni": "avx_vnni",
              "bf16_amx_tdpbf16ps": "amx_bf16", "int8_amx_tdpbusd": "amx_int8", "int8_amx_tdpbssd": "amx_int8"}
    for kind, flag in expect.items():
        if flag in flags:
            assert kind in have, (kind, pk.get("skipped"))
        else:
            assert kind not in have and kind in pk["skipped"]
    ideal = {"fp32_fma_avx512": 64, "fp32_fma_avx2": 32, "bf16_amx_tdpbf16ps": 1024,
             "int8_amx_tdpbusd": 2048, "int8_amx_tdpbssd": 2048, "int8_vpdpbusd_avx512": 256,
             "bf16_vdpbf16ps_avx512": 128, "int8_vpdpbusd_avxvnni": 128}
    for kind, v in have.items():
        assert v["t1"] > 0 and v["tN"] > 0
        assert v["per_cycle_t1"] <= ideal[kind] * 1.05, (kind, v)
        if kind in ("fp32_fma_avx512", "bf16_amx_tdpbf16ps", "int8_amx_tdpbusd"):
            assert v["per_cycle_t1"] >= 0.4 * ideal[kind], (kind, v)
    assert pk["fma_peak_gflops"] == max(v["tN"] for k, v in have.items() if k.startswith("fp32"))


def test_machine_peak_bad_option(machine_peak):
    r = subprocess.run([str(ROOT / "build/bench/machine_peak"), "--bogus"], capture_output=True, text=True)
    assert r.returncode == 2 and "unknown option '--bogus'" in r.stderr


def test_documented_command_parses():
    """The command docs/BENCHMARKS.md's precision section says it ran is one precision.py accepts."""
    doc = (ROOT / "docs/BENCHMARKS.md").read_text()
    if P.START not in doc:
        pytest.skip("no precision section in docs/BENCHMARKS.md yet")
    sec = doc[doc.index(P.START):doc.index(P.END)]
    line = next(l for l in sec.splitlines() if l.startswith("- Command: `"))
    cmd = line.split("`")[1].split()
    assert cmd[:2] == [".venv/bin/python", "bench/precision.py"], cmd
    a = P.parse_args(cmd[2:])
    assert a.threads >= 1 and not a.quick
