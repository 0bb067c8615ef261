"""Per-kernel time breakdown of torchless forwards, from TORCHLESS_PROFILE=1.

Runs in its own process (the C library reads TORCHLESS_PROFILE once, at the first
forward), so bench/run.py calls it as a subprocess; it also works by hand:

    .venv/bin/python bench/torchless_profile.py MODEL_DIR --lens 128 --reps 10
    .venv/bin/python bench/torchless_profile.py MODEL_DIR --lens 128,64 --env OPENBLAS_CORETYPE=SkylakeX
    .venv/bin/python bench/torchless_profile.py MODEL_DIR --lens 512 --batch 8 --precision int8

Prints one JSON object: the median wall time of a forward, and per kernel the median
milliseconds over the timed forwards (after --warmup untimed ones).
"""
from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LINE = re.compile(r"^\s+(.+?)\s+([\d.]+) ms\s+[\d.]+%$")
HEAD = re.compile(r"^torchless profile: .*: ([\d.]+) ms$")


def parse_profile(text: str) -> list[dict]:
    """Splits TORCHLESS_PROFILE output into one {kernel: ms} dict per forward."""
    reports, cur = [], None
    for line in text.splitlines():
        if HEAD.match(line):
            cur = {}
            reports.append(cur)
        elif cur is not None:
            m = LINE.match(line)
            if m:
                cur[m.group(1)] = float(m.group(2))
    return reports


def worker(args) -> None:
    """Inside the profiled process: runs the forwards; the C side prints to fd 2."""
    sys.path.insert(0, args.python_dir or str(ROOT / "python"))
    import numpy as np
    import torchless
    cfg = json.loads((Path(args.model) / "config.json").read_text())
    lens = [int(x) for x in args.lens.split(",")]
    if args.batch > 1 and len(lens) == 1:
        lens = lens * args.batch
    from workloads import make_ids
    seqs = make_ids(lens, cfg["vocab_size"], args.seed)
    tts = [np.zeros_like(s) for s in seqs]
    m = torchless.Model(args.model, num_threads=args.threads, load_tokenizer=False,
                        precision=args.precision)
    walls = []
    for i in range(args.warmup + args.reps):
        t0 = time.perf_counter()
        m.forward(seqs, token_type_ids=tts)
        walls.append(time.perf_counter() - t0)
        sys.stderr.flush()
        print(f"@@wall {walls[-1] * 1e3:.4f}", file=sys.stderr, flush=True)


def profile(model: str, lens: list[int], threads: int = 2, reps: int = 10, warmup: int = 2,
            env: dict | None = None, seed: int = 0, python_dir: str | None = None,
            precision: str = "fp32") -> dict:
    """Runs the worker in a subprocess with TORCHLESS_PROFILE=1 and returns
    {"wall_ms": median, "kernels": {name: median ms}, "forwards": n}."""
    e = dict(os.environ)
    e.update({"TORCHLESS_PROFILE": "1", "OMP_NUM_THREADS": str(threads),
              "TORCHLESS_NUM_THREADS": str(threads)})
    e.update(env or {})
    cmd = [sys.executable, __file__, model, "--lens", ",".join(map(str, lens)), "--reps",
           str(reps), "--warmup", str(warmup), "--threads", str(threads), "--seed", str(seed),
           "--precision", precision, "--worker"] + (["--python-dir", python_dir] if python_dir else [])
    with tempfile.TemporaryFile("w+") as err:
        r = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=err, env=e, timeout=1800)
        err.seek(0)
        text = err.read()
    if r.returncode != 0:
        raise RuntimeError(f"profile worker failed ({r.returncode}): {text[-2000:]}")
    walls = [float(l.split()[1]) for l in text.splitlines() if l.startswith("@@wall")][warmup:]
    reports = parse_profile(text)[warmup:]
    names = list(reports[0]) if reports else []
    return {
        "wall_ms": statistics.median(walls) if walls else float("nan"),
        "kernels": {n: statistics.median(r.get(n, 0.0) for r in reports) for n in names},
        "forwards": len(reports),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model")
    ap.add_argument("--lens", default="128", help="comma-separated sequence lengths")
    ap.add_argument("--batch", type=int, default=1, help="repeat a single length this often")
    ap.add_argument("--reps", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--precision", default="fp32", help="fp32, bf16, int8 or auto (the linear layers)")
    ap.add_argument("--env", action="append", default=[], help="KEY=VALUE for the worker")
    ap.add_argument("--python-dir", help="directory holding the torchless package (default: python/;"
                    " set TORCHLESS_LIB for the matching libtorchless.so)")
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        worker(args)
        return
    lens = [int(x) for x in args.lens.split(",")]
    if args.batch > 1 and len(lens) == 1:
        lens = lens * args.batch
    env = dict(kv.split("=", 1) for kv in args.env)
    print(json.dumps(profile(args.model, lens, args.threads, args.reps, args.warmup, env,
                             args.seed, args.python_dir, args.precision), indent=1))


if __name__ == "__main__":
    main()
