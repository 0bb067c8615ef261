#!/usr/bin/env bash
# Runs every C test binary in BUILD/tests and prints the total as "N passed, N failed".
set -u
build="${1:-build}"
passed=0; failed=0
for t in "$build"/tests/test_*; do
    [ -x "$t" ] || continue
    out="$("$t" 2>&1)"; rc=$?
    echo "$out" | tail -n 20
    p=$(echo "$out" | sed -n 's/.*: \([0-9]*\) passed, \([0-9]*\) failed.*/\1/p' | tail -1)
    f=$(echo "$out" | sed -n 's/.*: \([0-9]*\) passed, \([0-9]*\) failed.*/\2/p' | tail -1)
    if [ -z "$p" ] || [ $rc -ne 0 ] && [ "${f:-0}" = 0 ]; then
        echo "$t: exited $rc without a summary"; f=$(( ${f:-0} + 1 )); p=${p:-0}
    fi
    passed=$((passed + p)); failed=$((failed + f))
done
echo "C tests ($build): $passed passed, $failed failed"
[ "$failed" -eq 0 ]
