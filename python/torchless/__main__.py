"""`python -m torchless ...` and the `torchless` console command: run the torchless program
(the C command line) that ships in the package (torchless/bin/torchless), or the one built
in the source tree (build/torchless)."""
from __future__ import annotations

import os
import sys
from pathlib import Path


def program() -> str:
    """Path of the torchless program: $TORCHLESS_CLI, the package's bin/torchless, or the
    source tree's build/torchless; raises FileNotFoundError when there is none."""
    here = Path(__file__).resolve().parent
    env = os.environ.get("TORCHLESS_CLI")
    for cand in ([Path(env)] if env else []) + [here / "bin" / "torchless", here.parent.parent / "build" / "torchless"]:
        if cand.is_file() and os.access(cand, os.X_OK):
            return str(cand)
    raise FileNotFoundError("the torchless program is not installed with this package and build/torchless does "
                            "not exist: run `make` in the source tree, or `pip install .`")


def main(argv=None) -> int:
    """Replaces this process with the torchless program, passing argv (default sys.argv[1:])."""
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        exe = program()
    except FileNotFoundError as e:
        print(f"torchless: {e}", file=sys.stderr)
        return 127
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(exe, ["torchless"] + args)
    return 127  # not reached


if __name__ == "__main__":
    sys.exit(main())
