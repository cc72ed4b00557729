#!/usr/bin/env bash
# The benchmarks, as `make bench` runs them (BUILD=dir: where make put the
# binaries, default build). Each step is one line of STEPS, "title|command";
# add a benchmark by adding a line. Steps run in order and print markdown;
# a failing step is reported and the others still run, and the exit status
# is 1 if any step failed.
set -u
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}

STEPS=(
    "Sans-IO core: masking, UTF-8, handshake|$BUILD/bench/bench_core"
)

status=0
for step in "${STEPS[@]}"; do
    title=${step%%|*}
    cmd=${step#*|}
    echo "## $title"
    echo
    if ! $cmd; then
        echo "FAILED: $title ($cmd)"
        status=1
    fi
    echo
done
exit $status
