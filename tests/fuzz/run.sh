#!/usr/bin/env bash
# Runs one libFuzzer target for SECONDS seconds: tests/fuzz/run.sh TARGET SECONDS [libFuzzer flags]
# TARGET is the NAME of tests/fuzz/fuzz_NAME.c. Builds it (make fuzz: clang, ASan+UBSan), makes
# the fixtures once (make_seeds.py fixtures, with the test virtualenv), and fuzzes from the
# committed seeds (tests/fuzz/seeds/TARGET) and the dictionary (tests/fuzz/TARGET.dict) into a
# growing corpus in build/fuzz/corpus/TARGET; a crashing, leaking or slow input is saved in
# build/fuzz/artifacts/TARGET/. Exits non-zero when libFuzzer found anything.
set -euo pipefail
target="${1:?usage: run.sh TARGET SECONDS}"
secs="${2:?usage: run.sh TARGET SECONDS}"
shift 2
root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"
out="${FUZZ_BUILD:-build/fuzz}"
[ -f "tests/fuzz/fuzz_$target.c" ] || { echo "run.sh: no target tests/fuzz/fuzz_$target.c" >&2; exit 2; }
command -v "${FUZZ_CC:-clang}" >/dev/null || { echo "run.sh: clang is not installed (scripts/setup.sh installs it)" >&2; exit 1; }
make -s -j2 "$out/fuzz_$target" >&2
bash tests/fuzz/fixtures.sh "$out"
mkdir -p "$out/corpus/$target" "$out/artifacts/$target"
dict=()
[ -f "tests/fuzz/$target.dict" ] && dict=(-dict="tests/fuzz/$target.dict")
# max_len: the largest seed (tokenizer.json files) fits; inputs run at most 10 s each
TL_FUZZ_FIXTURES="$out/fixtures" "$out/fuzz_$target" -max_total_time="$secs" -max_len=65536 -timeout=10 \
    -rss_limit_mb=2048 -print_final_stats=1 "${dict[@]}" -artifact_prefix="$out/artifacts/$target/" "$@" \
    "$out/corpus/$target" "tests/fuzz/seeds/$target"
