"""The TORCHLESS_* environment variables the package and the C library read, checked when
the package is imported (the same rules as the `torchless` command)."""
from __future__ import annotations

import os

from ._lib import invalid_input

# name -> what it does; README.md "Environment variables" and `torchless --help` list the same.
VARIABLES = {
    "TORCHLESS_NUM_THREADS": "worker threads (a positive integer; default: the CPUs this process may use)",
    "TORCHLESS_MODEL": "the command line's default model (directory or cached Hugging Face id)",
    "TORCHLESS_LIB": "path of libtorchless.so for the Python package (default: the package's own, or build/)",
    "TORCHLESS_CLI": "path of the torchless program `python -m torchless` runs (default: the package's own, or build/)",
    "TORCHLESS_ISA": "run as a lower CPU class (our kernels and oneDNN): generic, avx2, avx2-vnni, avx512, "
                     "avx512-vnni, avx512-bf16 or amx (tests, A/B runs)",
    "TORCHLESS_QUANT_ALPHA": "int8 smoothing strength 0..1 (0: off; default 0.5; experiments)",
    "TORCHLESS_QUANT_KEEP": "comma list of linear kinds int8 keeps in bf16 (default ffn_out; none; experiments)",
    "TORCHLESS_GEMM": "force a GEMM backend: dnnl, blas or ref (tests, A/B runs)",
    "TORCHLESS_PACK": "0 keeps weights unpacked (no oneDNN blocked layout; A/B runs)",
    "TORCHLESS_PROFILE": "1 prints per-op timings of each forward to stderr",
    "TORCHLESS_API_KEY": "`torchless serve`: the key clients must send as Authorization: Bearer (as --api-key)",
}


def check_num_threads() -> None:
    """Raises a ValueError naming the variable when TORCHLESS_NUM_THREADS is set but is not
    a positive integer (at most 4096); unset or empty means the default."""
    v = os.environ.get("TORCHLESS_NUM_THREADS")
    if v is None or v.strip() == "":
        return
    s = v.strip()
    if not s.isdigit() or not 1 <= int(s) <= 4096:
        raise invalid_input(f"TORCHLESS_NUM_THREADS must be a positive integer (at most 4096), not {v!r}; "
                            f"unset it for the default (the CPUs this process may use)")
