"""torchless reduced-precision benchmark (issue 12): torchless fp32 / bf16 / int8 against
PyTorch with the model in bf16 (model.to(torch.bfloat16)), PyTorch fp32 under
torch.autocast("cpu", dtype=torch.bfloat16), ONNX Runtime quantize_dynamic int8 on its
optimized graph, ONNX Runtime fp32 and HF eager fp32: the four workloads of bench/run.py on
BERT-base (random weights) and all-MiniLM-L6-v2, same threads, interleaved rounds, medians
with p10/p90, ratios against the same-precision peer, each engine's share of the measured
peak of its precision (build/bench/machine_peak), and next to every speed the accuracy of
that engine's output against fp32.

    .venv/bin/python bench/precision.py            # full run (~15-30 min on 2 cores), writes docs
    .venv/bin/python bench/precision.py --quick    # smoke run (MiniLM, W1+W2, few rounds), prints only

Writes the part of docs/BENCHMARKS.md between the bench:precision markers and a JSON record
in bench/results/. The engine measured is build/libtorchless.so of this checkout (rebuilt
with `make lib` first). Not a test: `make test` runs only its helpers
(tests/python/test_bench_precision.py).
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import subprocess
import sys
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
NT = 2  # set by main() from --threads before any numeric library is imported


def parse_args(argv=None) -> argparse.Namespace:
    """The command line (see the module docstring)."""
    ap = argparse.ArgumentParser(description="torchless bf16 / int8 benchmark (issue 12)")
    ap.add_argument("--quick", action="store_true",
                    help="smoke run: MiniLM only, W1 and W2, 3 rounds; prints only unless --docs")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--models", default=None, help="comma list of bert-base,minilm")
    ap.add_argument("--workloads", default=None, help="comma list of W1..W4")
    ap.add_argument("--docs", action="store_true", help="write docs/ even with --quick")
    ap.add_argument("--no-docs", action="store_true", help="never write docs/")
    ap.add_argument("--min-rounds", type=int, default=None,
                    help="rounds at least (default: 3 quick, 4 for heavy workloads, 10 otherwise)")
    ap.add_argument("--budget", type=float, default=None,
                    help="seconds of timing per workload before stopping after min rounds "
                         "(default: 45 BERT-base / 20 MiniLM, quick 6 / 3)")
    ap.add_argument("--render", metavar="JSON", help="only rewrite docs/BENCHMARKS.md from a saved record")
    return ap.parse_args(argv)


# ---- pure helpers (no torch / onnxruntime; tests/python/test_bench_precision.py) -----------
# (name, precision, family) of every engine, in table order. family: who it is.
ENGINES = [
    ("torchless fp32", "fp32", "torchless"),
    ("torchless bf16", "bf16", "torchless"),
    ("torchless int8", "int8", "torchless"),
    ("hf-eager fp32", "fp32", "peer"),
    ("onnxruntime fp32", "fp32", "peer"),
    ("pytorch bf16", "bf16", "peer"),
    ("pytorch autocast bf16", "bf16", "peer"),
    ("onnxruntime int8", "int8", "peer"),
]
PRECISION = {n: p for n, p, _ in ENGINES}
REFERENCE = "hf-eager fp32"  # every engine's accuracy is against its output


def peers_of(precision: str) -> list[str]:
    """The peer engines that compute in `precision`."""
    return [n for n, p, f in ENGINES if p == precision and f == "peer"]


def token_accuracy(got: list, ref: list) -> dict:
    """Per token (row) of every sequence: the largest ||got - ref|| / ||ref|| and the least
    cosine(got, ref), in float64."""
    import numpy as np
    rel, cos = 0.0, 1.0
    for g, r in zip(got, ref):
        g = np.asarray(g, np.float64).reshape(len(r), -1)
        r = np.asarray(r, np.float64).reshape(len(r), -1)
        nr, ng = np.linalg.norm(r, axis=1), np.linalg.norm(g, axis=1)
        rel = max(rel, float(np.max(np.linalg.norm(g - r, axis=1) / np.maximum(nr, 1e-30))))
        cos = min(cos, float(np.min(np.sum(g * r, 1) / np.maximum(nr * ng, 1e-30))))
    return {"max_rel_error": rel, "min_cosine": cos}


def mean_pool(hidden: list) -> "np.ndarray":
    """Sentence embeddings: the mean of each sequence's rows, L2-normalized (all rows are real
    tokens: outputs are unpadded first)."""
    import numpy as np
    e = np.stack([np.asarray(h, np.float64).mean(0) for h in hidden])
    return e / np.maximum(np.linalg.norm(e, axis=1, keepdims=True), 1e-30)


def embedding_accuracy(got, ref) -> dict:
    """Sentence embeddings (rows, normalized) against the reference's: min / mean cosine, the
    share of texts whose nearest other text is the same as with the reference, and for the
    texts where it is not, the largest gap in the reference's own similarities between its
    nearest text and the one chosen instead (a small gap: a near tie that flipped)."""
    import numpy as np
    cos = np.sum(got * ref, 1)

    def sims(e):
        s = e @ e.T
        np.fill_diagonal(s, -np.inf)
        return s
    sr, sg = sims(ref), sims(got)
    nr, ng = np.argmax(sr, 1), np.argmax(sg, 1)
    flips = np.nonzero(nr != ng)[0]
    gap = max((float(sr[i, nr[i]] - sr[i, ng[i]]) for i in flips), default=0.0)
    return {"min_cosine": float(cos.min()), "mean_cosine": float(cos.mean()),
            "nn_agreement": float(np.mean(nr == ng)), "n": int(len(cos)), "nn_flips": int(len(flips)),
            "max_flip_gap": gap}


def best_peaks(peak: dict) -> dict:
    """{precision: {"kind", "rate", "t1"}} from machine_peak's JSON: the highest multi-thread
    rate of each precision's kinds (AMX over AVX-512 dot products where both run)."""
    best: dict = {}
    for kind, v in peak.get("peaks", {}).items():
        p = v["precision"]
        if p not in best or v["tN"] > best[p]["rate"]:
            best[p] = {"kind": kind, "rate": v["tN"], "t1": v["t1"], "unit": v["unit"]}
    return best


def derive(st: dict, useful_flops: float, peaks: dict) -> dict:
    """Adds to each engine's stats (median_ms ...) its useful G(FL)OP/s, its share of the peak
    of its precision, and for torchless engines the speedup over each same-precision peer
    (peer median / torchless median, >1: torchless faster) and over hf-eager fp32."""
    for n, s in st.items():
        p = PRECISION[n]
        s["precision"] = p
        s["useful_gops"] = useful_flops / (s["median_ms"] / 1e3) / 1e9
        pk = peaks.get(p)
        s["peak_share"] = s["useful_gops"] / pk["rate"] if pk else None
    for n, p, fam in ENGINES:
        if fam != "torchless" or n not in st:
            continue
        tl = st[n]["median_ms"]
        st[n]["speedup"] = {q: st[q]["median_ms"] / tl for q in peers_of(p) + [REFERENCE] if q in st}
    return st


def _fmt(x, spec: str, none: str = "—") -> str:
    """format(x, spec), or `none` for None."""
    return none if x is None else format(x, spec)


def engine_rows(wl: str, w: dict) -> list[str]:
    """Markdown table rows of one workload: one per engine, with its accuracy."""
    rows = []
    for n, _, fam in ENGINES:
        s = w["engines"].get(n)
        if s is None:
            continue
        acc = w["accuracy"].get(n, {})
        if fam == "torchless":
            sp = ", ".join(f"{v:.2f}x {q}" for q, v in s.get("speedup", {}).items())
            name = f"**{n}**"
        else:
            sp, name = "", n
        err = "(ref)" if n == REFERENCE else _fmt(acc.get("max_rel_error"), ".1e")
        cos = "(ref)" if n == REFERENCE else _fmt(acc.get("min_cosine"), ".6f")
        share = _fmt(None if s["peak_share"] is None else 100 * s["peak_share"], ".1f")
        rows.append(f"| {wl} ({w['tokens']} tok) | {name} | {s['median_ms']:.2f} | {s['p10_ms']:.2f} | "
                    f"{s['p90_ms']:.2f} | {sp} | {s['useful_gops']:.0f} | {share}% | {err} | {cos} |")
    return rows


TABLE_HEAD = ("| workload | engine | median ms | p10 ms | p90 ms | torchless speedup (peer median / ours) "
              "| useful G(FL)OP/s | % of its precision's peak | max rel error vs fp32 | min cosine vs fp32 |\n"
              "|---|---|---:|---:|---:|---|---:|---:|---:|---:|")


def goals(res: dict) -> list[dict]:
    """The issue's goals, each with the measured figure and whether it is met, per model;
    a goal whose workload or engines did not run is left out."""
    out = []
    for key, m in res["models"].items():
        W = m["workloads"]

        def sp(wl, prec, peers):
            e = W.get(wl, {}).get("engines", {})
            t = e.get(f"torchless {prec}")
            have = [q for q in peers if q in e]
            if not t or not have:
                return None
            worst = min(have, key=lambda q: e[q]["median_ms"])  # the fastest peer
            return e[worst]["median_ms"] / t["median_ms"], worst, e[worst]["p10_ms"] / t["p10_ms"]
        for wl, prec, peers, target in (
                ("W1", "bf16", peers_of("bf16"), 2.0), ("W1", "bf16", [REFERENCE], 5.0),
                ("W1", "int8", peers_of("int8"), 1.5), ("W3", "bf16", peers_of("bf16"), 2.5),
                ("W3", "int8", peers_of("int8"), 2.5)):
            r = sp(wl, prec, peers)
            if r:
                out.append({"model": key, "goal": f"{wl} {prec}: >= {target:g}x {' / '.join(peers)}",
                            "measured": f"{r[0]:.2f}x (vs {r[1]}; p10 {r[2]:.2f}x)", "met": r[0] >= target})
        for prec in ("bf16", "int8"):
            s = W.get("W4", {}).get("engines", {}).get(f"torchless {prec}")
            if s and s["peak_share"] is not None:
                out.append({"model": key, "goal": f"W4 {prec}: >= 70% of the {prec} peak",
                            "measured": f"{100 * s['peak_share']:.1f}%", "met": s["peak_share"] >= 0.70})
        t = m.get("texts")
        if t:
            for prec, c in (("bf16", 0.999), ("int8", 0.99)):
                a = t["accuracy"].get(f"torchless {prec}")
                if a:
                    out.append({"model": key, "goal": f"{t['n']} texts, {prec}: embedding cosine >= {c} to fp32",
                                "measured": f"min {a['min_cosine']:.5f}", "met": a["min_cosine"] >= c})
                    out.append({"model": key, "goal": f"{t['n']} texts, {prec}: nearest neighbour = fp32's on >= 99.5%",
                                "measured": f"{100 * a['nn_agreement']:.1f}%", "met": a["nn_agreement"] >= 0.995})
    return out


def render_markdown(res: dict) -> str:
    """The precision section of docs/BENCHMARKS.md (between the markers) from a results dict."""
    mi = res["machine"]
    pk = res.get("peak", {})
    L = [START, "## Reduced precision: bf16 and int8 against peers (issue 12)", "",
         "_Generated by `bench/precision.py`; everything between the `bench:precision` markers is "
         "rewritten on each full run._", "",
         "### Machine, command, load", "",
         f"- CPU: **{mi['cpu']}** ({mi['cpu_id']}), {mi['cores']} cores"
         f"{', KVM guest (shared host)' if mi.get('hypervisor') else ''}; ISA flags: {', '.join(mi['isa'])}",
         f"- Threads for every engine: **{res['threads']}**; software: torch {mi['torch']}, onnxruntime "
         f"{mi['onnxruntime']}, transformers {mi['transformers']}; torchless commit `{res['engine_commit']}`",
         f"- Command: `{res['command']}`, run on {res['date']} ({res.get('elapsed_s', 0) / 60:.0f} min)",
         f"- Load (`uptime`) before: `{res['uptime_before']}`; after: `{res.get('uptime_after', '?')}`. The machine "
         "is shared with other sessions, so absolute times drift; rounds are interleaved (one call of "
         "each engine per round, order rotated), which keeps the ratios fair. p10..p90 shows the spread.", ""]
    if pk:
        L += ["### Measured peaks (`build/bench/machine_peak`, register-only)", "",
              f"Clock while running scalar code: **{pk.get('clock_ghz', 0):.2f} GHz** (dependent-add chain). "
              "Each rate is summed over the threads, each thread over its own CPU time (so preemption by "
              "other jobs does not count).", "",
              "| kind | precision | 1 thread | " f"{res['threads']} threads | per cycle per core (1 thread) "
              "| ideal per cycle |", "|---|---|---:|---:|---:|---:|"]
        ideal = {"fp32_fma_avx512": 64, "fp32_fma_avx2": 32, "bf16_amx_tdpbf16ps": 1024,
                 "int8_amx_tdpbusd": 2048, "int8_amx_tdpbssd": 2048}
        for k, v in pk.get("peaks", {}).items():
            i = ideal.get(k)
            L.append(f"| {k} | {v['precision']} | {v['t1']:.0f} {v['unit']} | {v['tN']:.0f} {v['unit']} | "
                     f"{v['per_cycle_t1']:.0f} | {i if i else '—'} |")
        L += [""]
        bp = best_peaks(pk)
        L += ["Peak used for each precision's share: " + "; ".join(
            f"{p} **{v['rate']:.0f} {v['unit']}** ({v['kind']})" for p, v in bp.items()) + ".", ""]
        if pk.get("skipped"):
            L += ["Not measured here: " + "; ".join(f"{k} ({v})" for k, v in pk["skipped"].items()) + ".", ""]
    L += ["### Method", "",
          "- **torchless fp32 / bf16 / int8**: `torchless.Model(path, precision=P)`, packed batch (no padding). "
          "bf16: linear layers bf16 x bf16 -> fp32 on oneDNN; int8: u8 x s8 linear layers (FFN out in bf16), "
          "per docs/precision.md; attention, LayerNorm, softmax fp32.",
          "- **pytorch bf16**: `AutoModel.from_pretrained(path).to(torch.bfloat16)`, default attention (SDPA), "
          "`torch.inference_mode`, padded batches.",
          "- **pytorch autocast bf16**: the fp32 model under `torch.autocast('cpu', dtype=torch.bfloat16)`.",
          "- **onnxruntime int8**: the optimized graph of bench/run.py (`torch.onnx.export`, "
          "`optimize_model(model_type='bert')`) through `onnxruntime.quantization.quantize_dynamic` "
          "(weights QInt8, activations u8 per tensor at run time); **onnxruntime fp32** is the optimized "
          "graph itself; **hf-eager fp32**: `AutoModel` fp32.",
          "- Workloads: W1 1 x 128, W2 1 x 16, W3 32 sequences of U[16,256] tokens (numpy seed 2024; peers pad "
          "to the longest), W4 8 x 512; random token ids (fixed seed).",
          "- **Useful FLOPs** as bench/run.py counts them: GEMMs `2*T*(4H^2 + 2HI)` plus attention "
          "`4*H*sum(L^2)` per layer, real tokens only, the same count for every engine (int8 ones: "
          "operations, GOP/s). **% of peak**: that rate over the measured peak of the engine's precision "
          "at the same thread count (fp32 FMA, AMX bf16, AMX int8). torchless int8 runs FFN out in bf16 and "
          "attention in fp32, so its share of the int8 peak is bounded well below 100% by design.",
          "- **Accuracy** (same table): the engine's last hidden state against hf-eager fp32 on every real "
          "token of the workload: the largest relative error `||y - y_fp32|| / ||y_fp32||` and the "
          "least cosine over tokens.",
          "- **speedup**: peer median / torchless median of the same precision (and against hf-eager fp32); "
          ">1 means torchless is faster.", ""]
    for key, m in res["models"].items():
        L += [f"### {m['title']}", "", TABLE_HEAD]
        for wl, w in m["workloads"].items():
            L += engine_rows(wl, w)
        L += [""]
        loads = ", ".join(f"{wl} {w['loadavg']:.1f}" for wl, w in m["workloads"].items())
        L += [f"1-min load average when each workload finished: {loads}. ORT int8 graph: "
              f"{m.get('ort_int8_ops', {})}.", ""]
        t = m.get("texts")
        if t:
            L += [f"**Sentence embeddings of {t['n']} varied texts** (tests/python/test_minilm_parity.py's "
                  "corpus, tokenized once by the HF tokenizer, mean pooling, normalized) against hf-eager fp32:", "",
                  "| engine | min cosine | mean cosine | nearest neighbour = fp32's | flips: largest fp32 gap |",
                  "|---|---:|---:|---:|---:|"]
            for n, a in t["accuracy"].items():
                flips = f"{a['nn_flips']}: {a['max_flip_gap']:.4f}" if a.get("nn_flips") else "0"
                L.append(f"| {n} | {a['min_cosine']:.6f} | {a['mean_cosine']:.6f} | {100 * a['nn_agreement']:.1f}% "
                         f"| {flips} |")
            L += ["", "(A flip's gap is the fp32 cosine of the fp32 nearest text minus that of the text the "
                  "engine picked: a gap near 0 is a near tie in fp32 itself.)"]
            L += [""]
    G = goals(res)
    if G:
        L += ["### The issue's goals, measured in this run", "",
              "| model | goal | measured | met |", "|---|---|---|---|"]
        for g in G:
            L.append(f"| {g['model']} | {g['goal']} | {g['measured']} | {'yes' if g['met'] else '**no**'} |")
        L += [""]
    for note in res.get("notes", []):
        L += [note, ""]
    L.append(END)
    return "\n".join(L)


START, END = "<!-- bench:precision:start -->", "<!-- bench:precision:end -->"


def splice(doc: str, section: str) -> str:
    """doc with the text between the precision markers replaced by section (appended at the end
    when the markers are missing); everything else is kept."""
    if START in doc and END in doc:
        i, j = doc.index(START), doc.index(END) + len(END)
        return doc[:i] + section + doc[j:]
    return doc.rstrip("\n") + "\n\n" + section + "\n"


# ---- measurement (heavy imports inside) -----------------------------------------------------
def log(*a):
    """Prints a line with the seconds since start."""
    print(f"[{time.time() - T0:7.1f}s]", *a, flush=True)


T0 = time.time()


def run_peak() -> dict:
    """build/bench/machine_peak at NT threads (built first); {} when it cannot run."""
    exe = ROOT / "build/bench/machine_peak"
    r = subprocess.run(["make", "-C", str(BENCH / "micro"), str(exe)], capture_output=True, text=True)
    if r.returncode != 0:
        log("machine_peak build failed:", r.stderr[-400:])
        return {}
    try:
        out = subprocess.run([str(exe), "--no-bandwidth"], capture_output=True, text=True, timeout=300,
                             env=dict(os.environ, OMP_NUM_THREADS=str(NT))).stdout
        return json.loads(out)
    except (OSError, ValueError, subprocess.SubprocessError) as e:
        log("machine_peak failed:", e)
        return {}


def ort_int8(opt_path: Path) -> tuple[Path, dict]:
    """quantize_dynamic of the optimized ONNX graph (weights QInt8), cached next to it; returns
    the path and the counts of the quantized op types in the result."""
    import onnx
    out = opt_path.with_name("model.int8.onnx")
    if not out.exists():
        from onnxruntime.quantization import QuantType, quantize_dynamic
        log(f"quantize_dynamic {opt_path.parent.name}")
        # the fused ops (Attention, SkipLayerNormalization, ...) are in the com.microsoft domain,
        # which ONNX shape inference does not type: their outputs are fp32
        quantize_dynamic(str(opt_path), str(out), weight_type=QuantType.QInt8,
                         extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT})
    ops: dict = {}
    for n in onnx.load(str(out), load_external_data=False).graph.node:
        if any(t in n.op_type for t in ("Integer", "Quant", "QAttention", "QEmbed")):
            ops[n.op_type] = ops.get(n.op_type, 0) + 1
    return out, ops


def make_engines(path: Path, onnx_fp32: Path, onnx_i8: Path):
    """The eight engines of ENGINES, loaded."""
    import onnxruntime as ort
    import torch
    import torchless
    from transformers import AutoModel
    from workloads import Engine

    class TL(Engine):
        pads = False

        def __init__(self, prec):
            self.name = f"torchless {prec}"
            self.m = torchless.Model(str(path), num_threads=NT, load_tokenizer=False, precision=prec)
            assert self.m.precision == prec, (self.m.precision, prec)

        def run(self, inp):
            return self.m.forward(inp.seqs, token_type_ids=inp.tts)

    class Torch(Engine):
        def __init__(self, name, model, autocast):
            self.name, self.m, self.autocast = name, model, autocast

        def run(self, inp):
            with torch.inference_mode():
                if self.autocast:
                    with torch.autocast("cpu", dtype=torch.bfloat16):
                        return self.m(**inp.t_feed).last_hidden_state
                return self.m(**inp.t_feed).last_hidden_state

        def outputs(self, inp):
            return inp.unpad(self.run(inp).float().numpy())

    class ORT(Engine):
        def __init__(self, name, p):
            so = ort.SessionOptions()
            so.intra_op_num_threads = NT
            so.inter_op_num_threads = 1
            so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
            so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
            self.name = name
            self.s = ort.InferenceSession(str(p), so, providers=["CPUExecutionProvider"])
            self.names = [i.name for i in self.s.get_inputs()]

        def run(self, inp):
            return self.s.run(None, {n: inp.np_feed[n] for n in self.names})[0]

        def outputs(self, inp):
            return inp.unpad(self.run(inp))

    fp32 = AutoModel.from_pretrained(path).eval()
    bf16 = AutoModel.from_pretrained(path).eval().to(torch.bfloat16)
    made = {"torchless fp32": TL("fp32"), "torchless bf16": TL("bf16"), "torchless int8": TL("int8"),
            "hf-eager fp32": Torch("hf-eager fp32", fp32, False),
            "onnxruntime fp32": ORT("onnxruntime fp32", onnx_fp32),
            "pytorch bf16": Torch("pytorch bf16", bf16, False),
            "pytorch autocast bf16": Torch("pytorch autocast bf16", fp32, True),
            "onnxruntime int8": ORT("onnxruntime int8", onnx_i8)}
    return [made[n] for n, _, _ in ENGINES]


def text_accuracy(engines, path: Path) -> dict:
    """Sentence embeddings of the MiniLM parity corpus through every engine (same token ids),
    against hf-eager fp32's."""
    sys.path.insert(0, str(ROOT / "tests/python"))
    from test_minilm_parity import varied_texts
    from transformers import AutoTokenizer
    from workloads import Inputs
    texts = varied_texts()
    tok = AutoTokenizer.from_pretrained(path)
    seqs = [tok(t, truncation=True, max_length=256)["input_ids"] for t in texts]
    inp = Inputs(None, 0, seqs=seqs)
    emb = {e.name: mean_pool(e.outputs(inp)) for e in engines}
    ref = emb[REFERENCE]
    return {"n": len(texts), "accuracy": {n: embedding_accuracy(v, ref) for n, v in emb.items() if n != REFERENCE}}


def machine() -> dict:
    """CPU name, id, flags and library versions."""
    import re

    import onnxruntime
    import torch
    import transformers
    txt = Path("/proc/cpuinfo").read_text()
    flags = set(re.search(r"\nflags\s*:(.*)", txt).group(1).split())
    want = ["avx2", "fma", "avx512f", "avx512bw", "avx512vl", "avx512_vnni", "avx512_bf16", "avx_vnni",
            "amx_tile", "amx_bf16", "amx_int8"]
    return {"cpu": re.search(r"model name\s*:\s*(.*)", txt).group(1).strip(),
            "cpu_id": "family " + re.search(r"cpu family\s*:\s*(\d+)", txt).group(1) + ", model " +
            re.search(r"\nmodel\s*:\s*(\d+)", txt).group(1), "cores": os.cpu_count(),
            "hypervisor": "hypervisor" in flags, "isa": [f for f in want if f in flags],
            "torch": torch.__version__, "onnxruntime": onnxruntime.__version__,
            "transformers": transformers.__version__}


def uptime() -> str:
    """The `uptime` line (load averages)."""
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def main(argv=None) -> int:
    global NT
    args = parse_args(argv)
    if args.render:
        md = render_markdown(json.loads(Path(args.render).read_text()))
        doc = ROOT / "docs/BENCHMARKS.md"
        doc.write_text(splice(doc.read_text(), md))
        print(md)
        return 0
    NT = args.threads
    for k in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "TORCHLESS_NUM_THREADS"):
        os.environ[k] = str(NT)
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    r = subprocess.run(["make", "-j2", "lib"], cwd=ROOT, capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"precision: make lib failed:\n{r.stderr[-2000:]}")
    os.environ["TORCHLESS_LIB"] = str(ROOT / "build/libtorchless.so")
    sys.path.insert(0, str(ROOT / "python"))
    sys.path.insert(0, str(BENCH))
    import warnings
    warnings.filterwarnings("ignore")
    import torch
    torch.set_num_threads(NT)
    import workloads as W

    quick = args.quick
    models = (args.models or ("minilm" if quick else "bert-base,minilm")).split(",")
    wls = (args.workloads or ("W1,W2" if quick else "W1,W2,W3,W4")).split(",")
    sha = subprocess.run(["git", "rev-parse", "--short=12", "HEAD"], cwd=ROOT, capture_output=True,
                         text=True).stdout.strip()
    dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "src", "include", "python"],
                           cwd=ROOT, capture_output=True, text=True).stdout.strip()
    res = {"machine": machine(), "threads": NT, "quick": quick, "engine_commit": sha + ("+dirty" if dirty else ""),
           "command": " ".join([".venv/bin/python bench/precision.py"] + list(sys.argv[1:] if argv is None else argv)),
           "date": datetime.datetime.now().isoformat(timespec="seconds"), "uptime_before": uptime(),
           "models": {}, "notes": []}
    log("uptime before:", res["uptime_before"])
    res["peak"] = run_peak()
    peaks = best_peaks(res["peak"])
    log("peaks:", {p: f"{v['rate']:.0f} {v['unit']} ({v['kind']})" for p, v in peaks.items()})
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    rec = BENCH / "results" / f"precision-{stamp}.json"
    rec.parent.mkdir(exist_ok=True)
    for key in models:
        title, getdir = W.MODELS[key]
        path = getdir(log)
        cfg = json.loads((path / "config.json").read_text())
        onnx_fp32, _ = W.onnx_model(key, path, cfg, log)
        onnx_i8, ops = ort_int8(onnx_fp32)
        engines = make_engines(path, onnx_fp32, onnx_i8)
        m = {"title": title, "ort_int8_ops": ops, "workloads": {}}
        res["models"][key] = m
        if key == "minilm":
            m["texts"] = text_accuracy(engines, path)
            log("texts:", {n: round(a["min_cosine"], 6) for n, a in m["texts"]["accuracy"].items()})
        big = cfg["hidden_size"] >= 768
        for wl in wls:
            lens = W.workload_lens(wl)
            inp = W.Inputs(lens, cfg["vocab_size"])
            gf, af = W.flops(lens, cfg)
            outs = {e.name: e.outputs(inp) for e in engines}  # also the first warm-up
            acc = {n: token_accuracy(o, outs[REFERENCE]) for n, o in outs.items() if n != REFERENCE}
            del outs
            heavy = gf > 2e11
            budget = args.budget if args.budget is not None else \
                (6 if big else 3) if quick else (45 if big else 20)
            rounds = args.min_rounds if args.min_rounds is not None else 3 if quick else (4 if heavy else 10)
            tim = W.interleaved(engines, inp, budget=budget, min_rounds=rounds,
                                max_rounds=max(rounds, 5 if quick else 60), warmup=1)
            st = derive({n: W.stats(t) for n, t in tim.items()}, gf + af, peaks)
            m["workloads"][wl] = {"lens": lens, "tokens": sum(lens), "padded_tokens": max(lens) * len(lens),
                                  "useful_flops": gf + af, "engines": st, "accuracy": acc,
                                  "loadavg": os.getloadavg()[0]}
            rec.write_text(json.dumps(res, indent=1, default=str))
            log(f"{key} {wl}: " + ", ".join(f"{n} {s['median_ms']:.1f}" for n, s in st.items()))
        del engines
        import gc
        gc.collect()
    res["uptime_after"] = uptime()
    res["elapsed_s"] = time.time() - T0
    log("uptime after:", res["uptime_after"])
    rec.write_text(json.dumps(res, indent=1, default=str))
    md = render_markdown(res)
    print(md)
    if (not quick or args.docs) and not args.no_docs:
        doc = ROOT / "docs/BENCHMARKS.md"
        doc.write_text(splice(doc.read_text(), md))
        log("wrote docs/BENCHMARKS.md")
    log(f"results: {rec.relative_to(ROOT)}")
    bad = [f"{k}/{wl}" for k, mm in res["models"].items() for wl, w in mm["workloads"].items()
           if w["accuracy"]["torchless fp32"]["max_rel_error"] > 1e-3]
    if bad:
        log(f"torchless fp32 differs from hf-eager fp32 by more than 1e-3 relative: {bad}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
