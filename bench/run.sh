#!/usr/bin/env bash
# The benchmarks, as `make bench` runs them (BUILD=dir: where make put the
# binaries, default build). Each step is one line of STEPS, "title|command";
# add a benchmark by adding a line. Steps run in order and print markdown;
# a failing step is reported and the others still run, and the exit status
# is 1 if any step failed. The server steps pin the server to core 0 and
# bench/loadgen.c to core 1, send traffic to 127.0.0.1 only, and take about
# a few minutes each (BENCH_RUNS=N sets the runs per figure, default 5;
# `make bench` takes about 11 minutes in all).
set -u
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}

STEPS=(
    "Sans-IO core: masking, UTF-8, handshake|$BUILD/bench/bench_core"
    "WebSocket servers: echo, broadcast, handshakes, idle memory|bash bench/servers.sh"
    "Rooms: fan-out to 10,000 subscribers, recovery|bash bench/rooms.sh"
    "Long polls: held requests timing out among 9,000 connections|bash bench/holds.sh"
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
