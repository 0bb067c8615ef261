#!/usr/bin/env bash
# Runs every libFuzzer target of tests/fuzz (or the TARGETs named) for SECONDS seconds each,
# JOBS (default 2) at a time, and prints per target: executions, executions per second,
# corpus size and coverage (libFuzzer's cov: edges and ft: features). Fails when any target
# found a crash, a leak, an out-of-memory or an input slower than 10 s, or did not finish.
#   tests/fuzz/run_all.sh SECONDS [TARGET...]        (make test-fuzz: FUZZ_SECONDS, default 60)
# Logs: build/fuzz/logs/TARGET.log; crashing inputs: build/fuzz/artifacts/TARGET/.
set -uo pipefail
secs="${1:?usage: run_all.sh SECONDS [TARGET...]}"
shift
root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"
out="${FUZZ_BUILD:-build/fuzz}"
jobs="${JOBS:-2}"
if [ $# -gt 0 ]; then targets=("$@"); else
    targets=(); for f in tests/fuzz/fuzz_*.c; do n="${f##*/fuzz_}"; targets+=("${n%.c}"); done
fi
command -v "${FUZZ_CC:-clang}" >/dev/null || {
    echo "run_all.sh: FAIL: clang is not installed (scripts/setup.sh installs clang and libclang-rt-14-dev)" >&2; exit 1; }
make -s -j2 fuzz >&2 || { echo "run_all.sh: FAIL: the fuzz build failed" >&2; exit 1; }
bash tests/fuzz/fixtures.sh "$out" || { echo "run_all.sh: FAIL: make_seeds.py fixtures failed" >&2; exit 1; }
mkdir -p "$out/logs"
declare -A pid_of rc_of
running=0
for t in "${targets[@]}"; do
    if [ "$running" -ge "$jobs" ]; then wait -n; running=$((running - 1)); fi
    echo "run_all.sh: fuzzing $t for ${secs}s" >&2
    # the outer timeout catches a hang libFuzzer's own -timeout cannot see
    timeout -k 10 $((secs + 120)) bash tests/fuzz/run.sh "$t" "$secs" > "$out/logs/$t.log" 2>&1 &
    pid_of[$t]=$!
    running=$((running + 1))
done
fail=0
for t in "${targets[@]}"; do wait "${pid_of[$t]}"; rc_of[$t]=$?; done
printf '%-18s %6s %12s %8s %8s %8s %8s %s\n' target rc runs exec/s corpus cov ft result
for t in "${targets[@]}"; do
    log="$out/logs/$t.log"
    done_line="$(grep -E '^#[0-9]+[[:space:]]+DONE' "$log" | tail -1)"
    runs="$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)"
    eps="$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)"
    cov="$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$done_line")"
    ft="$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$done_line")"
    corp="$(sed -n 's/.* corp: \([0-9]*\/[0-9]*[a-zA-Z]*\).*/\1/p' <<<"$done_line")"
    result=ok
    if [ "${rc_of[$t]}" -ne 0 ] || [ -z "$done_line" ]; then
        result="FAIL: $(grep -m1 -E 'ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)|runtime error|SUMMARY' "$log" || echo "exit ${rc_of[$t]}, see $log")"
        fail=1
    fi
    printf '%-18s %6s %12s %8s %8s %8s %8s %s\n' "$t" "${rc_of[$t]}" "${runs:--}" "${eps:--}" "${corp:--}" \
        "${cov:--}" "${ft:--}" "$result"
done
[ "$fail" -eq 0 ] || { echo "run_all.sh: FAIL: see $out/logs/ and $out/artifacts/" >&2; exit 1; }
echo "run_all.sh: ok: ${#targets[@]} targets, ${secs}s each"
