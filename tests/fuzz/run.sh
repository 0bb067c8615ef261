#!/usr/bin/env bash
# Builds and runs one libFuzzer target for SECONDS seconds:
#   tests/fuzz/run.sh torch_bin|pickle|safetensors SECONDS
# Needs clang and libFuzzer (apt-get install -y clang libfuzzer-14-dev). Builds into
# build/fuzz/, seeds from tests/fuzz/make_seeds.py (torch.save / safetensors files written
# with the test virtualenv), keeps the growing corpus in build/fuzz/corpus/TARGET and any
# crashing input in build/fuzz/artifacts/TARGET/. Not part of `make test`.
set -euo pipefail
target="${1:?usage: run.sh TARGET SECONDS}"
secs="${2:?usage: run.sh TARGET SECONDS}"
root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"
out=build/fuzz
py="${PY:-.venv/bin/python}"
[ -f "tests/fuzz/fuzz_$target.c" ] || { echo "no target tests/fuzz/fuzz_$target.c" >&2; exit 2; }
mkdir -p "$out/corpus/$target" "$out/artifacts/$target"
src="src/core/error.c src/core/util.c src/io/json.c src/io/safetensors.c src/io/torch_bin.c src/io/zip.c src/io/pickle.c"
clang -g -O1 -std=c11 -D_GNU_SOURCE -Wall -Wextra -fsanitize=fuzzer,address,undefined \
      -fno-sanitize-recover=undefined -Iinclude -Isrc "tests/fuzz/fuzz_$target.c" $src -lcjson \
      -o "$out/fuzz_$target"
[ -d "$out/seeds/$target" ] || "$py" tests/fuzz/make_seeds.py "$out/seeds"
"$out/fuzz_$target" -max_total_time="$secs" -max_len=65536 -timeout=10 -rss_limit_mb=2048 \
    -print_final_stats=1 -artifact_prefix="$out/artifacts/$target/" "$out/corpus/$target" "$out/seeds/$target"
