"""torchless encoder benchmark (issue 5): torchless against Hugging Face eager PyTorch,
ONNX Runtime (transformer-optimized graph) and torch.compile, on the same inputs and the
same thread count, interleaved, with medians, ratios, FLOP rates and the GEMM ceiling.

    .venv/bin/python bench/run.py            # full run (~15-25 min on 2 cores), writes docs
    .venv/bin/python bench/run.py --quick    # smoke run (~5 min), prints only

Writes docs/BENCHMARKS.md (only between the bench:encoder markers), docs/img/*.png and a
JSON record in bench/results/. Not a test: `make test` never runs it.

The engine measured is the committed HEAD (exported with `git archive` and built under
bench/.cache/engine-<sha>/), so other people's uncommitted edits in the working tree never
change what is timed; --engine worktree measures build/ as it is instead.
"""
from __future__ import annotations

import argparse
import os
import sys

# ---- threads: fixed before any numeric library is imported --------------------------
_ap = argparse.ArgumentParser(description="torchless encoder benchmark (issue 5)")
_ap.add_argument("--quick", action="store_true", help="short run: fewer rounds, no charts, "
                 "no torch.compile; prints only unless --docs")
_ap.add_argument("--threads", type=int, default=2)
_ap.add_argument("--docs", action="store_true", help="write docs/ even with --quick")
_ap.add_argument("--no-docs", action="store_true", help="never write docs/")
_ap.add_argument("--engine", choices=["head", "worktree"], default="head",
                 help="head: build the committed sources in bench/.cache (default); "
                      "worktree: use build/libtorchless.so and python/ as they are")
_ap.add_argument("--models", default="bert-base,minilm", help="comma list: bert-base,minilm")
_ap.add_argument("--workloads", default="W1,W2,W3,W4")
_ap.add_argument("--no-compile", action="store_true", help="skip torch.compile")
_ap.add_argument("--no-charts", action="store_true")
ARGS = _ap.parse_args()
NT = ARGS.threads
PAUSE_S = 0.1  # pause before each timed call (see interleaved)
for _k in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "TORCHLESS_NUM_THREADS"):
    os.environ[_k] = str(NT)
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")

import ctypes  # noqa: E402
import datetime  # noqa: E402
import gc  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import re  # noqa: E402
import shutil  # noqa: E402
import subprocess  # noqa: E402
import time  # noqa: E402
import traceback  # noqa: E402
import warnings  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
CACHE = BENCH / ".cache"
sys.path.insert(0, str(BENCH))
import torchless_profile  # noqa: E402
from workloads import (MODELS, WL_DESC, Engine, Inputs, flops, interleaved,  # noqa: E402,F401
                       max_abs_diff, onnx_model, stats, time_call, workload_lens)

warnings.filterwarnings("ignore")
T_START = time.time()


def log(*a):
    print(f"[{time.time() - T_START:7.1f}s]", *a, flush=True)


# ---- the engine under test ------------------------------------------------------------
def sh(cmd, **kw):
    return subprocess.run(cmd, check=True, capture_output=True, text=True, **kw).stdout.strip()


def prepare_engine() -> dict:
    """Returns {"lib", "python", "commit", "dirty"}: the libtorchless.so and binding to load."""
    sha = sh(["git", "rev-parse", "HEAD"], cwd=ROOT)
    dirty = bool(sh(["git", "status", "--porcelain", "--untracked-files=no", "src", "include",
                     "python"], cwd=ROOT))
    if ARGS.engine == "worktree":
        subprocess.run(["make", "-j2", "lib"], cwd=ROOT, check=True, capture_output=True)
        return {"lib": str(ROOT / "build/libtorchless.so"), "python": str(ROOT / "python"),
                "commit": sha[:12] + ("+worktree" if dirty else ""), "dirty": dirty}
    d = CACHE / f"engine-{sha[:12]}"
    so = d / "build/libtorchless.so"
    if not so.exists():
        log(f"building the committed engine {sha[:12]} in {d.relative_to(ROOT)}")
        shutil.rmtree(d, ignore_errors=True)
        d.mkdir(parents=True)
        arch = subprocess.run(["git", "archive", "HEAD", "Makefile", "src", "include", "python"],
                              cwd=ROOT, check=True, capture_output=True).stdout
        subprocess.run(["tar", "-x", "-C", str(d)], input=arch, check=True)
        r = subprocess.run(["make", "-j2", "lib"], cwd=d, capture_output=True, text=True)
        if r.returncode != 0:
            sys.exit(f"bench: building HEAD failed:\n{r.stderr[-3000:]}")
    return {"lib": str(so), "python": str(d / "python"), "commit": sha[:12], "dirty": dirty}


ENGINE = prepare_engine()
os.environ["TORCHLESS_LIB"] = ENGINE["lib"]
sys.path.insert(0, ENGINE["python"])
import torchless  # noqa: E402

import torch  # noqa: E402

torch.set_num_threads(NT)
import onnxruntime as ort  # noqa: E402
import transformers  # noqa: E402
from transformers import AutoModel  # noqa: E402

transformers.logging.set_verbosity_error()

# ---- machine --------------------------------------------------------------------------
ISA_FLAGS = ["sse4_2", "avx", "avx2", "fma", "f16c", "avx512f", "avx512dq", "avx512bw",
             "avx512vl", "avx512_vnni", "avx512_bf16", "avx512_fp16", "avx_vnni", "amx_tile",
             "amx_bf16", "amx_int8"]


def machine_info() -> dict:
    cpu, flags = "unknown", set()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name") and cpu == "unknown":
                cpu = line.split(":", 1)[1].strip()
            if line.startswith("flags") and not flags:
                flags = set(line.split(":", 1)[1].split())
    except OSError:
        pass
    fam = ""
    try:
        txt = Path("/proc/cpuinfo").read_text()
        fam = "family " + re.search(r"cpu family\s*:\s*(\d+)", txt).group(1) + ", model " + \
            re.search(r"\nmodel\s*:\s*(\d+)", txt).group(1)
    except (OSError, AttributeError):
        pass
    core = "?"
    try:
        ob = ctypes.CDLL("libopenblas.so.0")
        ob.openblas_get_corename.restype = ctypes.c_char_p
        core = ob.openblas_get_corename().decode()
    except OSError:
        pass
    return {
        "cpu": cpu, "cpu_id": fam, "cores": os.cpu_count(),
        "hypervisor": "hypervisor" in flags,
        "isa": [f for f in ISA_FLAGS if f in flags],
        "kernel": platform.release(), "python": platform.python_version(),
        "torch": torch.__version__, "onnxruntime": ort.__version__,
        "transformers": transformers.__version__, "numpy": np.__version__,
        "openblas_core": core, "threads": NT,
    }


# ---- engines ---------------------------------------------------------------------------------
class Torchless(Engine):
    name, pads = "torchless", False

    def __init__(self, path):
        self.m = torchless.Model(str(path), num_threads=NT, load_tokenizer=False)

    def run(self, inp):
        return self.m.forward(inp.seqs, token_type_ids=inp.tts)


class HFEager(Engine):
    name = "hf-eager"

    def __init__(self, model):
        self.m = model

    def run(self, inp):
        with torch.inference_mode():
            return self.m(**inp.t_feed).last_hidden_state

    def outputs(self, inp):
        return inp.unpad(self.run(inp).numpy())


class TorchCompile(HFEager):
    name = "torch.compile"

    def __init__(self, model):
        import torch._dynamo
        torch._dynamo.config.cache_size_limit = 64
        self.m = torch.compile(model, dynamic=True)


class ORT(Engine):
    name = "onnxruntime"

    def __init__(self, onnx_path):
        so = ort.SessionOptions()
        so.intra_op_num_threads = NT
        so.inter_op_num_threads = 1
        so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        self.s = ort.InferenceSession(str(onnx_path), so, providers=["CPUExecutionProvider"])
        self.names = [i.name for i in self.s.get_inputs()]

    def run(self, inp):
        return self.s.run(None, {n: inp.np_feed[n] for n in self.names})[0]

    def outputs(self, inp):
        return inp.unpad(self.run(inp))


# ---- GEMM ceiling ------------------------------------------------------------------------------
def gemm_shapes(T: int, cfg: dict) -> list[tuple[int, int, int]]:
    """(M, K, N) of the four linear layers of one encoder layer for T tokens."""
    H, I = cfg["hidden_size"], cfg["intermediate_size"]
    return [(T, H, 3 * H), (T, H, H), (T, H, I), (T, I, H)]


_OB = None


def openblas_handle():
    global _OB
    if _OB is None:
        _OB = ctypes.CDLL("libopenblas.so.0")  # the one libtorchless.so loaded
        _OB.cblas_sgemm.restype = None
        _OB.cblas_sgemm.argtypes = [ctypes.c_int] * 6 + [ctypes.c_float, ctypes.c_void_p,
                                                          ctypes.c_int, ctypes.c_void_p,
                                                          ctypes.c_int, ctypes.c_float,
                                                          ctypes.c_void_p, ctypes.c_int]
    return _OB


def lib_gemm_times(shapes, reps: int) -> dict[str, dict]:
    """In-process GEMM timings (median seconds per shape) of torch F.linear (MKL/oneDNN
    inside torch), numpy matmul (numpy's own OpenBLAS) and the OpenBLAS torchless links
    (cblas_sgemm through ctypes), on x (M,K) @ w(N,K)^T. Interleaved by repetition."""
    rng = np.random.default_rng(1)
    data = []
    for M, K, N in shapes:
        x = rng.standard_normal((M, K), dtype=np.float32)
        w = rng.standard_normal((N, K), dtype=np.float32)
        data.append((x, w, np.empty((M, N), np.float32), torch.from_numpy(x), torch.from_numpy(w)))
    ob = openblas_handle()

    def f_torch(d):
        with torch.inference_mode():
            torch.nn.functional.linear(d[3], d[4])

    def f_numpy(d):
        np.matmul(d[0], d[1].T, out=d[2])

    def f_openblas(d):
        x, w, o = d[0], d[1], d[2]
        M, K = x.shape
        N = w.shape[0]
        ob.cblas_sgemm(101, 111, 112, M, N, K, 1.0, x.ctypes.data, K, w.ctypes.data, K, 0.0,
                       o.ctypes.data, N)

    libs = {"torch (MKL)": f_torch, "numpy (its OpenBLAS)": f_numpy,
            "OpenBLAS as linked (default core)": f_openblas}
    res = {n: [[] for _ in shapes] for n in libs}
    for n, f in libs.items():  # warm-up
        for d in data:
            f(d)
    for _ in range(reps):
        for n, f in libs.items():
            time.sleep(0.01)
            for i, d in enumerate(data):
                res[n][i].append(time_call(lambda: f(d)))
    return {n: [float(np.median(v)) for v in res[n]] for n in libs}


MICRO = ROOT / "build/bench/gemm_bench"
PEAK = ROOT / "build/bench/machine_peak"


def build_micro() -> str | None:
    r = subprocess.run(["make", "-C", str(BENCH / "micro")], capture_output=True, text=True)
    if r.returncode != 0 or not MICRO.exists():
        return "bench/micro build failed: " + r.stderr[-500:]
    return None


def machine_peak() -> dict:
    """fp32 FMA peak and memory read bandwidth at NT threads (build/bench/machine_peak);
    {} when it cannot run."""
    try:
        out = subprocess.run([str(PEAK)], capture_output=True, text=True, timeout=300,
                             env=dict(os.environ, OMP_NUM_THREADS=str(NT))).stdout
        return json.loads(out)
    except (OSError, ValueError, subprocess.SubprocessError):
        return {}


def micro_gemm_times(shapes, budget: float, env: dict | None = None,
                     epilogue: bool = False) -> dict[str, list[float]]:
    """Runs build/bench/gemm_bench; returns {mode: [median seconds per shape]}."""
    e = dict(os.environ, OMP_NUM_THREADS=str(NT))
    if "OMP_WAIT_POLICY" not in e and "GOMP_SPINCOUNT" not in e:
        # the OpenMP wait policy the torchless package loads its library with (_lib.py):
        # the libraries' ceiling is measured as the engine runs, not with libgomp's long
        # spins, which on a busy machine lower it
        e["GOMP_SPINCOUNT"] = "10000"
    e.update(env or {})
    cmd = [str(MICRO), "--budget", str(budget)] + (["--epilogue"] if epilogue else []) + \
        [f"{M},{K},{N}" for M, K, N in shapes]
    out = subprocess.run(cmd, capture_output=True, text=True, env=e, timeout=900).stdout
    res: dict[str, list[float]] = {}
    for line in out.splitlines():
        j = json.loads(line)
        i = shapes.index((j["M"], j["K"], j["N"]))
        res.setdefault(j["mode"], [float("nan")] * len(shapes))[i] = j["ms"] / 1e3
    return res


def ceiling(T: int, cfg: dict, quick: bool, micro_ok: bool) -> dict:
    """GEMM rate (GFLOP/s) of each library on the four layer shapes for T rows: the sum of
    their FLOPs over the sum of their median times; the best library is the ceiling."""
    shapes = gemm_shapes(T, cfg)
    fl = [2.0 * M * K * N for M, K, N in shapes]
    work = sum(fl)
    reps = 5 if work < 5e9 else 3
    if not quick:
        reps *= 2
    per = lib_gemm_times(shapes, reps)
    if micro_ok:
        b = 0.15 if quick else 0.4
        for mode, ts in micro_gemm_times(shapes, b).items():
            label = {"openblas": "OpenBLAS-openmp (default core)",
                     "openblas_rowblock": None,
                     "dnnl_sgemm": "oneDNN dnnl_sgemm",
                     "dnnl_matmul": "oneDNN matmul",
                     "dnnl_packed": "oneDNN matmul, packed weights"}.get(mode)
            if label:
                per[label] = ts
        sk = micro_gemm_times(shapes, b, env={"OPENBLAS_CORETYPE": "SkylakeX"})
        if "openblas" in sk:
            per["OpenBLAS-openmp, OPENBLAS_CORETYPE=SkylakeX"] = sk["openblas"]
    rates = {n: work / sum(ts) / 1e9 for n, ts in per.items()}
    per_shape = {n: [f / t / 1e9 for f, t in zip(fl, ts)] for n, ts in per.items()}
    best = max(rates, key=rates.get)
    return {"T": T, "shapes": shapes, "rates": rates, "per_shape": per_shape, "best": best,
            "best_rate": rates[best]}


# ---- main measurement ---------------------------------------------------------------------------
def main():
    quick = ARGS.quick
    info = machine_info()
    info["engine_commit"] = ENGINE["commit"]
    log(f"machine: {info['cpu']} ({info['cpu_id']}), {info['cores']} cores, threads {NT}, "
        f"OpenBLAS core {info['openblas_core']}, engine {ENGINE['commit']}")
    micro_err = build_micro()
    if micro_err:
        log(micro_err)
    else:
        info["peak"] = machine_peak()
        log(f"machine peak: {info['peak']}")
    results = {"machine": info, "quick": quick, "date": datetime.datetime.now().isoformat(
        timespec="seconds"), "command": "bench/run.py " + " ".join(sys.argv[1:]),
        "models": {}, "charts": {}, "notes": []}
    cfgs, prof_inputs = {}, {}
    wls = ARGS.workloads.split(",")
    for key in ARGS.models.split(","):
        title, getdir = MODELS[key]
        path = getdir()
        cfg = json.loads((path / "config.json").read_text())
        cfgs[key] = cfg
        onnx_path, onnx_meta = onnx_model(key, path, cfg)
        hf = AutoModel.from_pretrained(path).eval()
        engines: list[Engine] = [Torchless(path), HFEager(hf), ORT(onnx_path)]
        compile_note = None
        if quick or ARGS.no_compile:
            compile_note = "skipped (--quick)" if quick else "skipped (--no-compile)"
        else:
            try:
                tc = TorchCompile(hf)
                t0 = time.time()
                probe = Inputs([16, 12], cfg["vocab_size"])
                tc.run(probe)
                engines.append(tc)
                compile_note = f"works (first compile {time.time() - t0:.0f} s, dynamic=True)"
            except Exception as e:
                compile_note = f"failed: {type(e).__name__}: {str(e).splitlines()[0][:200]}"
        log(f"{title}: torch.compile {compile_note}; ONNX fused ops {onnx_meta['fused']}")
        mres = {"title": title, "path": str(path), "config": {k: cfg[k] for k in (
            "num_hidden_layers", "hidden_size", "num_attention_heads", "intermediate_size")},
            "onnx": onnx_meta, "torch_compile": compile_note, "workloads": {}}
        results["models"][key] = mres
        big = cfg["hidden_size"] >= 768
        for wl in wls:
            lens = workload_lens(wl)
            inp = Inputs(lens, cfg["vocab_size"])
            gf, af = flops(lens, cfg)
            pgf, paf = flops([max(lens)] * len(lens), cfg)
            # correctness first (also the first warm-up): torchless vs HF on real tokens
            ref = engines[1].outputs(inp)
            diffs = {}
            for e in engines:
                if e.name != "hf-eager":
                    try:
                        diffs[e.name] = max_abs_diff(e.outputs(inp), ref)
                    except Exception as ex:  # a broken peer is reported, not fatal
                        diffs[e.name] = float("nan")
                        log(f"{e.name} failed on {wl}: {ex}")
            heavy = gf > 2e11
            budget = (20 if big else 8) if quick else (60 if big else 25)
            tim = interleaved(engines, inp, budget=budget,
                              min_rounds=3 if quick else (4 if heavy else 10),
                              max_rounds=15 if quick else 60, warmup=1)
            st = {n: stats(t) for n, t in tim.items()}
            tl, tl10 = st["torchless"]["median_ms"], st["torchless"]["p10_ms"]
            for n, s in st.items():
                s["speedup_vs_torchless"] = s["median_ms"] / tl  # >1: torchless is faster
                s["speedup_p10"] = s["p10_ms"] / tl10
                s["useful_gflops"] = (gf + af) / (s["median_ms"] / 1e3) / 1e9
                s["seq_per_s"] = len(lens) / (s["median_ms"] / 1e3)
                s["max_abs_diff_vs_hf"] = diffs.get(n, 0.0)
            ceil = ceiling(sum(lens), cfg, quick, micro_err is None)
            w = {"lens": lens, "tokens": sum(lens), "loadavg": os.getloadavg()[0],
                 "padded_tokens": max(lens) * len(lens),
                 "gemm_flops": gf, "attn_flops": af, "padded_flops": pgf + paf,
                 "engines": st, "ceiling": ceil}
            mres["workloads"][wl] = w
            prof_inputs[(key, wl)] = (str(path), lens)
            save(results)  # partial record: a long run interrupted still leaves numbers
            ok = diffs.get("torchless", 1.0) <= 1e-3
            log(f"{key} {wl}: " + ", ".join(f"{n} {s['median_ms']:.1f} ms" for n, s in st.items())
                + f"; torchless vs HF max|diff| {diffs.get('torchless'):.2e} "
                + ("OK" if ok else "FAIL") + f"; GEMM ceiling {ceil['best_rate']:.0f} GFLOP/s "
                f"({ceil['best']})")
        if not quick and not ARGS.no_charts:
            results["charts"][key] = charts_data(engines, cfg)
        for e in engines:
            del e
        del engines, hf
        gc.collect()
    # per-kernel breakdowns (TORCHLESS_PROFILE=1, in subprocesses)
    results["profiles"] = {}
    for (key, wl), (path, lens) in prof_inputs.items():
        reps = 3 if sum(lens) > 2000 else 10
        try:
            p = torchless_profile.profile(path, lens, NT, reps=reps, warmup=1,
                                          python_dir=ENGINE["python"])
            results["profiles"][f"{key}/{wl}"] = p
        except Exception as ex:
            log(f"profile {key}/{wl} failed: {ex}")
    # the single biggest what-if: OpenBLAS's AVX-512 kernel instead of the detected one
    results["whatif"] = whatif(prof_inputs, quick)
    log(f"results: {save(results).relative_to(ROOT)}")
    print()
    print(render_table(results))
    write_docs = (not quick or ARGS.docs) and not ARGS.no_docs
    if write_docs:
        import report
        report.write(results, ROOT)
        log("wrote docs/BENCHMARKS.md and docs/img/")
    bad = [f"{k}/{wl}" for k, m in results["models"].items() for wl, w in m["workloads"].items()
           if not w["engines"]["torchless"]["max_abs_diff_vs_hf"] <= 1e-3]
    log(f"done in {time.time() - T_START:.0f} s")
    if bad:
        log(f"OUTPUT MISMATCH (torchless vs HF > 1e-3): {bad}")
        sys.exit(1)


_STAMP = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")


def save(results: dict) -> Path:
    """Writes (or rewrites) this run's JSON record in bench/results/."""
    out = BENCH / "results"
    out.mkdir(exist_ok=True)
    p = out / f"encoder-{_STAMP}.json"
    p.write_text(json.dumps(results, indent=1, default=str))
    return p


def whatif(prof_inputs: dict, quick: bool) -> dict:
    """torchless forward wall time with the OpenBLAS core it detects vs forced SkylakeX
    (AVX-512), alternating subprocesses, for W1 and W4 of each model."""
    res = {}
    for (key, wl), (path, lens) in prof_inputs.items():
        if wl not in ("W1", "W4"):
            continue
        rounds = 2
        reps = 3 if sum(lens) > 2000 else 15
        t = {"default": [], "SkylakeX": []}
        for _ in range(rounds):
            for name, env in (("default", {}), ("SkylakeX", {"OPENBLAS_CORETYPE": "SkylakeX"})):
                try:
                    p = torchless_profile.profile(path, lens, NT, reps=reps, warmup=1, env=env,
                                                  python_dir=ENGINE["python"])
                    t[name].append(p["wall_ms"])
                except Exception as ex:
                    log(f"what-if {key}/{wl} {name} failed: {ex}")
        if t["default"] and t["SkylakeX"]:
            res[f"{key}/{wl}"] = {n: float(np.median(v)) for n, v in t.items()}
    return res


def charts_data(engines: list[Engine], cfg: dict) -> dict:
    """Latency against sequence length (batch 1) and throughput against batch size (len 128)."""
    big = cfg["hidden_size"] >= 768
    data = {"latency": {"x": [16, 32, 64, 128, 256, 384, 512], "ms": {}},
            "throughput": {"x": [1, 2, 4, 8, 16] if big else [1, 2, 4, 8, 16, 32],
                           "seq_per_s": {}}}
    for e in engines:
        data["latency"]["ms"][e.name] = []
        data["throughput"]["seq_per_s"][e.name] = []
    for L in data["latency"]["x"]:
        inp = Inputs([L], cfg["vocab_size"], seed=L)
        tim = interleaved(engines, inp, budget=5 if big else 3, min_rounds=3, max_rounds=15)
        for n, t in tim.items():
            data["latency"]["ms"][n].append(float(np.median(t)) * 1e3)
    log("chart: latency vs length done")
    for B in data["throughput"]["x"]:
        inp = Inputs([128] * B, cfg["vocab_size"], seed=B)
        tim = interleaved(engines, inp, budget=5 if big else 3, min_rounds=2, max_rounds=15)
        for n, t in tim.items():
            data["throughput"]["seq_per_s"][n].append(B / float(np.median(t)))
    log("chart: throughput vs batch done")
    return data


def render_table(res: dict) -> str:
    """Plain-text results table for stdout."""
    lines = []
    hdr = f"{'model':<10} {'wl':<3} {'engine':<14} {'median ms':>10} {'p10':>9} {'p90':>9} " \
          f"{'speedup':>8} {'GFLOP/s':>8} {'seq/s':>8} {'max|d|':>9}"
    lines.append(hdr)
    lines.append("-" * len(hdr))
    for key, m in res["models"].items():
        for wl, w in m["workloads"].items():
            for n, s in w["engines"].items():
                sp = "" if n == "torchless" else f"{s['speedup_vs_torchless']:.2f}x"
                d = "" if n == "hf-eager" else f"{s['max_abs_diff_vs_hf']:.1e}"
                lines.append(f"{key:<10} {wl:<3} {n:<14} {s['median_ms']:10.2f} {s['p10_ms']:9.2f} "
                             f"{s['p90_ms']:9.2f} {sp:>8} {s['useful_gflops']:8.1f} "
                             f"{s['seq_per_s']:8.1f} {d:>9}")
            c = w["ceiling"]
            tl = w["engines"]["torchless"]["useful_gflops"]
            lines.append(f"{'':<10} {wl:<3} GEMM ceiling {c['best_rate']:.0f} GFLOP/s "
                         f"({c['best']}); torchless end to end {tl:.0f} GFLOP/s = "
                         f"{100 * tl / c['best_rate']:.0f}% of it")
        lines.append("")
    lines.append("speedup = peer median / torchless median (>1: torchless faster); GFLOP/s counts "
                 "useful FLOPs (real tokens) for every engine.")
    return "\n".join(lines)


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        sys.exit(130)
    except SystemExit:
        raise
    except Exception:
        traceback.print_exc()
        sys.exit(1)
