"""torchless decoder benchmark (issue 13): prefill and decode tokens/s on a GPT-2-small
shaped model (n_layer 12, n_embd 768, n_head 12, vocab 50257, random weights, seed 0)
against Hugging Face `generate` (eager fp32, and the model in bf16) and CTranslate2
(compute_type float32 and int8), 2 threads each, interleaved, medians with p10 / p90.

    .venv/bin/python bench/decode.py              # full run (about 15-25 min on 2 busy cores)
    .venv/bin/python bench/decode.py --quick      # 2 rounds, batch 1 only

Workloads: batch 1 (a 32-token prompt) and batch 16 (prompts of 8..64 tokens), 64 new
tokens, greedy, eos disabled. Each engine runs every workload twice per round: with 1 new
token (prefill: prompt tokens / time) and with 64 (decode: 63 tokens per sequence over the
difference of the two). Before timing, torchless fp32's greedy tokens are checked equal to
transformers' on every prompt. The decode step's memory-bandwidth bound is the bytes of
weights + KV read per step over the read bandwidth that bench/micro/machine_peak measures.

The engine measured is build/libtorchless.so of this checkout (--lib to change it). The
model, its tokenizer (a byte-level BPE trained in-process with `tokenizers`, so that
CTranslate2's converter has a vocabulary) and the CTranslate2 conversion are cached under
bench/.cache/decode-gpt2/. Not a test: `make test` never runs it. CTranslate2 is a bench
dependency only (requirements-dev.txt).
"""
from __future__ import annotations

import argparse
import os
import sys

_ap = argparse.ArgumentParser(description="torchless decoder benchmark (issue 13)")
_ap.add_argument("--quick", action="store_true", help="2 rounds, batch 1 only")
_ap.add_argument("--rounds", type=int, default=5)
_ap.add_argument("--threads", type=int, default=2)
_ap.add_argument("--lib", default=None, help="libtorchless.so to load (default: build/ of this checkout)")
_ap.add_argument("--engines", default="tl-fp32,tl-bf16,tl-int8,hf-fp32,hf-bf16,ct2-fp32,ct2-int8")
_ap.add_argument("--batches", default="1,16")
_ap.add_argument("--json", default=None, help="also write the results here")
ARGS = _ap.parse_args()
NT = ARGS.threads
for _k in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "TORCHLESS_NUM_THREADS"):
    os.environ[_k] = str(NT)
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")

import gc  # noqa: E402
import json  # noqa: E402
import subprocess  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / "bench" / ".cache" / "decode-gpt2"
os.environ["TORCHLESS_LIB"] = ARGS.lib or str(ROOT / "build" / "libtorchless.so")
sys.path.insert(0, str(ROOT / "python"))
import torchless  # noqa: E402

import torch  # noqa: E402

torch.set_num_threads(NT)
import transformers  # noqa: E402

transformers.logging.set_verbosity_error()
warnings.filterwarnings("ignore")

N_LAYER, N_EMBD, N_HEAD, VOCAB, N_POS = 12, 768, 12, 50257, 1024
PROMPT1, NEW = 32, 64
PAUSE_S = 0.1
T0 = time.time()


def log(*a):
    print(f"[{time.time() - T0:7.1f}s]", *a, flush=True)


# ---- the model, its tokenizer and the CTranslate2 conversion ----------------------------
def train_tokenizer(out: Path):
    """A byte-level BPE of exactly VOCAB tokens (eos <|endoftext|>) trained on random words."""
    from tokenizers import ByteLevelBPETokenizer
    rng = np.random.default_rng(0)
    letters = np.array(list("abcdefghijklmnopqrstuvwxyz"))

    def corpus():
        for _ in range(200):
            lens = rng.integers(2, 10, 2000)
            idx = rng.integers(0, 26, int(lens.sum()))
            cut = np.cumsum(lens)[:-1]
            yield " ".join("".join(w) for w in np.split(letters[idx], cut))

    tok = ByteLevelBPETokenizer()
    tok.train_from_iterator(corpus(), vocab_size=VOCAB, min_frequency=1,
                            special_tokens=["<|endoftext|>"], show_progress=False)
    if tok.get_vocab_size() != VOCAB:
        sys.exit(f"bench: the trained vocabulary has {tok.get_vocab_size()} tokens, not {VOCAB}")
    fast = transformers.PreTrainedTokenizerFast(tokenizer_object=tok._tokenizer, bos_token="<|endoftext|>",
                                                eos_token="<|endoftext|>", unk_token="<|endoftext|>")
    fast.save_pretrained(out)


def prepare_model() -> Path:
    d = CACHE / "model"
    if not (d / "model.safetensors").exists() or not (d / "tokenizer.json").exists():
        log("making the random GPT-2-small model (seed 0) and training its tokenizer")
        d.mkdir(parents=True, exist_ok=True)
        torch.manual_seed(0)
        cfg = transformers.GPT2Config(n_layer=N_LAYER, n_embd=N_EMBD, n_head=N_HEAD, vocab_size=VOCAB,
                                      n_positions=N_POS, bos_token_id=VOCAB - 1, eos_token_id=VOCAB - 1)
        transformers.GPT2LMHeadModel(cfg).eval().save_pretrained(d)
        train_tokenizer(d)
    return d


def prepare_ct2(model_dir: Path) -> Path:
    d = CACHE / "ct2"
    if not (d / "model.bin").exists():
        log("converting for CTranslate2")
        from ctranslate2.converters import TransformersConverter
        TransformersConverter(str(model_dir)).convert(str(d), force=True)
    return d


# ---- engines: run(prompts, new) -> list of new-token lists ------------------------------
class TL:
    def __init__(self, d, precision):
        self.name = "torchless " + precision
        self.m = torchless.Model(str(d), num_threads=NT, precision=precision)

    def run(self, prompts, new):
        return self.m.generate(prompts, max_new_tokens=new, eos_token_id=[])


class HF:
    def __init__(self, d, dtype):
        self.name = "HF eager " + ("bf16" if dtype == torch.bfloat16 else "fp32")
        self.m = transformers.GPT2LMHeadModel.from_pretrained(str(d), torch_dtype=dtype,
                                                              attn_implementation="eager").eval()
        self.m.generation_config.eos_token_id = None
        self.m.generation_config.pad_token_id = 0

    def run(self, prompts, new):
        n, L = len(prompts), max(len(p) for p in prompts)
        ids = torch.zeros((n, L), dtype=torch.long)
        mask = torch.zeros((n, L), dtype=torch.long)
        for i, p in enumerate(prompts):  # left padding, as generate() wants for decoders
            ids[i, L - len(p):] = torch.tensor(p)
            mask[i, L - len(p):] = 1
        with torch.inference_mode():
            out = self.m.generate(input_ids=ids, attention_mask=mask, max_new_tokens=new,
                                  min_new_tokens=new, do_sample=False)
        return out[:, L:].tolist()


class CT2:
    def __init__(self, d, compute_type, vocab):
        import ctranslate2
        self.name = "CTranslate2 " + compute_type
        self.g = ctranslate2.Generator(str(d), device="cpu", compute_type=compute_type,
                                       intra_threads=NT, inter_threads=1)
        self.vocab = vocab
        self.index = {t: i for i, t in enumerate(vocab)}

    def run(self, prompts, new):
        toks = [[self.vocab[i] for i in p] for p in prompts]
        res = self.g.generate_batch(toks, max_length=new, min_length=new, sampling_topk=1,
                                    include_prompt_in_result=False, max_batch_size=len(toks))
        return [[self.index[t] for t in r.sequences[0]] for r in res]


# ---- timing -----------------------------------------------------------------------------
def machine_read_gbs() -> float:
    """Read bandwidth (GB/s) from bench/micro/machine_peak, built on demand."""
    exe = ROOT / "build" / "bench" / "machine_peak"
    subprocess.run(["make", "-C", str(ROOT / "bench/micro"), f"OUT={ROOT / 'build/bench'}"],
                   check=True, capture_output=True)
    out = subprocess.run([str(exe)], check=True, capture_output=True, text=True,
                         env=dict(os.environ, OMP_NUM_THREADS=str(NT), MACHINE_PEAK_SKIP_FMA="1")).stdout
    return json.loads(out)["read_gbs"]


def stats(xs):
    a = np.asarray(xs, dtype=float)
    return {"median": float(np.median(a)), "p10": float(np.percentile(a, 10)),
            "p90": float(np.percentile(a, 90)), "n": len(a)}


def main():
    d = prepare_model()
    ct2_dir = prepare_ct2(d) if any(e.startswith("ct2") for e in ARGS.engines.split(",")) else None
    tok = transformers.PreTrainedTokenizerFast.from_pretrained(str(d))
    vocab = tok.convert_ids_to_tokens(list(range(VOCAB)))
    rng = np.random.default_rng(0)
    work = {}
    batches = [int(b) for b in ARGS.batches.split(",")] if not ARGS.quick else [1]
    for b in batches:
        lens = [PROMPT1] if b == 1 else [int(x) for x in np.linspace(8, 64, b).round()]
        work[b] = [rng.integers(0, VOCAB - 1, L).tolist() for L in lens]
    makers = {"tl-fp32": lambda: TL(d, "fp32"), "tl-bf16": lambda: TL(d, "bf16"), "tl-int8": lambda: TL(d, "int8"),
              "hf-fp32": lambda: HF(d, torch.float32), "hf-bf16": lambda: HF(d, torch.bfloat16),
              "ct2-fp32": lambda: CT2(ct2_dir, "float32", vocab), "ct2-int8": lambda: CT2(ct2_dir, "int8", vocab)}
    engines = []
    for k in ARGS.engines.split(","):
        log("loading", k)
        engines.append((k, makers[k]()))
    # greedy parity before timing: torchless fp32 against transformers fp32, every prompt alone
    ref = dict(engines).get("hf-fp32") or HF(d, torch.float32)
    tl32 = dict(engines).get("tl-fp32") or TL(d, "fp32")
    agree = {}
    for b, prompts in work.items():
        want = [ref.run([p], NEW)[0] for p in prompts]
        got = tl32.run(prompts, NEW)
        if got != want:
            bad = next(i for i in range(len(want)) if got[i] != want[i])
            sys.exit(f"bench: torchless fp32 greedy tokens differ from transformers' (batch {b}, prompt {bad})")
        for k, e in engines:
            if k != "tl-fp32":
                out = e.run(prompts, NEW)
                agree.setdefault(k, []).append(sum(int(o == w) for o, w in zip(out, want)) / len(want))
        log(f"batch {b}: torchless fp32 greedy == transformers on {len(prompts)} prompts x {NEW} tokens")
    times = {(k, b, n): [] for k, _ in engines for b in work for n in (1, NEW)}
    rounds = 2 if ARGS.quick else ARGS.rounds
    gc.disable()
    for r in range(rounds):
        for b, prompts in work.items():
            order = engines[r % len(engines):] + engines[:r % len(engines)]
            for k, e in order:
                for n in (1, NEW):
                    time.sleep(PAUSE_S)
                    t = time.perf_counter()
                    out = e.run(prompts, n)
                    times[(k, b, n)].append(time.perf_counter() - t)
                    if any(len(o) != n for o in out):
                        sys.exit(f"bench: {k} returned {[len(o) for o in out]} tokens, not {n}")
        gc.collect()
        log(f"round {r + 1}/{rounds} done")
    gc.enable()
    res = []
    for k, e in engines:
        for b, prompts in work.items():
            n_prompt = sum(len(p) for p in prompts)
            t1, tn = np.asarray(times[(k, b, 1)]), np.asarray(times[(k, b, NEW)])
            res.append({"engine": e.name, "key": k, "batch": b, "prefill_tok_s": stats(n_prompt / t1),
                        "decode_tok_s": stats(b * (NEW - 1) / np.maximum(tn - t1, 1e-9)),
                        "e2e_tok_s": stats(b * NEW / tn), "prefill_ms": stats(t1 * 1e3),
                        "total_ms": stats(tn * 1e3)})
    bw = machine_read_gbs()
    report(res, bw, agree, work)
    if ARGS.json:
        Path(ARGS.json).write_text(json.dumps({"results": res, "read_gbs": bw, "agree": agree}, indent=1))


def step_bytes(dtype_bytes: float, n_seqs: int, ctx_len: float) -> float:
    """Bytes one decode step reads: every weight once (linear layers and the tied lm_head,
    at dtype_bytes each, embeddings rows negligible) + each sequence's K and V (fp32)."""
    H = N_EMBD
    per_layer = H * 3 * H + H * H + 2 * H * 4 * H
    weights = (N_LAYER * per_layer + VOCAB * H) * dtype_bytes
    kv = n_seqs * ctx_len * N_LAYER * 2 * H * 4
    return weights + kv


def report(res, bw, agree, work):
    uptime = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    print()
    print(f"machine: {os.cpu_count()} CPUs, {NT} threads; load: {uptime}")
    print(f"read bandwidth (bench/micro/machine_peak, {NT} threads): {bw:.1f} GB/s")
    for b, prompts in work.items():
        ctx = np.mean([len(p) for p in prompts]) + NEW / 2
        for name, nb in (("fp32", 4), ("bf16", 2), ("int8", 1)):
            by = step_bytes(nb, b, ctx)
            print(f"  bound batch {b:>2} {name}: {by / 1e6:7.1f} MB per step -> {bw * 1e9 / by:7.1f} steps/s "
                  f"= {b * bw * 1e9 / by:8.1f} tokens/s")
    print()
    hdr = f"{'engine':<20} {'batch':>5} {'prefill tok/s':>22} {'decode tok/s':>22} {'end-to-end tok/s':>22}"
    print(hdr)
    for r in res:
        def f(s):
            return f"{s['median']:8.1f} ({s['p10']:.0f}-{s['p90']:.0f})"
        print(f"{r['engine']:<20} {r['batch']:>5} {f(r['prefill_tok_s']):>22} {f(r['decode_tok_s']):>22} "
              f"{f(r['e2e_tok_s']):>22}")
    print()
    for k, a in agree.items():
        print(f"greedy tokens equal to transformers fp32 ({k}): " + ", ".join(f"{x:.0%}" for x in a))


if __name__ == "__main__":
    main()
