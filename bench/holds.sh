#!/usr/bin/env bash
# bench/holds.sh - long polls timing out among many connections
# (bench/holds.c): rt.h as it is, against the same program built with
# RT_HOLD_SLOT_MS=1, a pass over the connections for every millisecond
# that has a deadline. Each binary runs three times, taking turns, pinned
# to core 0; each run prints the median of its own five. Prints a markdown
# table of the medians.
set -u
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
make --no-print-directory -s BUILD="$BUILD" "$BUILD/bench/holds" "$BUILD/bench/holds-slot1" \
    >/dev/null || exit 1
ulimit -n 20000 2>/dev/null || ulimit -n "$(ulimit -Hn)"
out=$(mktemp)
for i in 1 2 3; do
    for b in holds holds-slot1; do
        line=$(taskset -c 0 timeout 60 "$BUILD/bench/$b" | grep '^RESULT') || {
            echo "FAILED: $b"
            rm -f "$out"
            exit 1
        }
        echo "$b $line" >>"$out"
    done
done
# med BINARY KEY: the median of KEY over that binary's runs.
med() {
    grep "^$1 " "$out" | sed -n "s/.* $2=\([0-9.]*\).*/\1/p" | sort -g | sed -n 2p
}
a=$(med holds cpu_ms_per_s)
b=$(med holds-slot1 cpu_ms_per_s)
slot=$(grep '^holds ' "$out" | head -1 | sed -n 's/.* slot_ms=\([0-9]*\).*/\1/p')
idle=$(grep '^holds ' "$out" | head -1 | sed -n 's/.* idle=\([0-9]*\).*/\1/p')
held=$(grep '^holds ' "$out" | head -1 | sed -n 's/.* held=\([0-9]*\).*/\1/p')
echo "| $idle idle + $held held connections, ~$(med holds timeouts_per_s) timeouts/s, median of 3 | CPU ms per s (server and clients) |"
echo "|---|---:|"
echo "| rt.h (RT_HOLD_SLOT_MS=$slot) | $a |"
echo "| a pass per millisecond with a deadline (RT_HOLD_SLOT_MS=1) | $b |"
echo "| ratio | $(awk -v a="$a" -v b="$b" 'BEGIN { printf "%.2f", a / b }') |"
rm -f "$out"
