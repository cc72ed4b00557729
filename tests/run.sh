#!/usr/bin/env bash
# The whole test suite, as `make test` runs it. Stages run in order and the
# first failing stage stops the run. Every stage prints "N passed, N failed"
# lines; this script adds them up into the one summary line at the end.
#
#   RT_REQUIRE_ALL=1   a suite that must be skipped (a tool is missing) fails
#   BUILD=dir          where the binaries are (default build)
set -u
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
passed=0 failed=0 skipped=0

summary() {
    if [ "$skipped" -gt 0 ]; then
        echo "$passed passed, $failed failed, $skipped skipped"
    else
        echo "$passed passed, $failed failed"
    fi
}

# count FILE: add the "N passed, N failed[, N skipped]" lines of a stage's log.
count() {
    local p f s
    while read -r p f s; do
        passed=$((passed + p)); failed=$((failed + f)); skipped=$((skipped + s))
    done < <(sed -n -E 's/^(# )?([0-9]+) passed, ([0-9]+) failed(, ([0-9]+) skipped)?$/\2 \3 \5/p' "$1" |
             awk '{print $1, $2, ($3 == "" ? 0 : $3)}')
}

# stage NAME COMMAND...: run one stage, show its output, count it, stop on failure.
stage() {
    local name=$1 log rc
    shift
    log=$(mktemp)
    echo "=== $name"
    "$@" 2>&1 | tee "$log"
    rc=${PIPESTATUS[0]}
    count "$log"
    rm -f "$log"
    if [ "$rc" -ne 0 ]; then
        echo "=== $name FAILED (exit $rc)"
        [ "$failed" -gt 0 ] || failed=$((failed + 1))
        summary
        exit 1
    fi
}

stage "amalgamation" bash tests/test_amalgamate.sh
stage "compile matrix" bash tests/compile_matrix.sh
stage "stack budget" python3 tests/stack.py
stage "unit tests" bash tests/run_unit.sh "$BUILD"
stage "unit tests (ASan+UBSan)" bash tests/run_unit.sh "$BUILD/asan"
stage "fuzz seeds (ASan+UBSan)" bash tests/run_fuzz_seeds.sh "$BUILD"
stage "unit tests (32-bit big-endian MIPS, qemu)" bash tests/run_unit_cross.sh "$BUILD"
stage "integration tests" bash tests/integration/run.sh "$BUILD"

if [ "$skipped" -gt 0 ] && [ "${RT_REQUIRE_ALL:-0}" = 1 ]; then
    echo "RT_REQUIRE_ALL=1: $skipped skipped suite(s) count as failures"
    failed=$((failed + skipped))
fi
summary
[ "$failed" -eq 0 ]
