#!/usr/bin/env bash
# Makes the fuzz targets' fixtures once into OUT/fixtures (make_seeds.py fixtures: the
# tokenizers fuzz_tokenizer_encode picks from, the tiny models fuzz_server serves), again
# when make_seeds.py changes. Usage: fixtures.sh OUT
set -euo pipefail
out="${1:?usage: fixtures.sh OUT}"
py="${PY:-.venv/bin/python}"
stamp="$out/fixtures/.made"
if [ ! -f "$stamp" ] || [ tests/fuzz/make_seeds.py -nt "$stamp" ]; then
    rm -rf "$out/fixtures"
    mkdir -p "$out/fixtures"
    HF_HUB_DISABLE_PROGRESS_BARS=1 TRANSFORMERS_VERBOSITY=error "$py" tests/fuzz/make_seeds.py fixtures "$out/fixtures" >/dev/null
    touch "$stamp"
fi
