#!/usr/bin/env bash
# Replays every seed in fuzz/corpus/TARGET/ through build/asan/replay/TARGET
# (fuzz/replay.c: the fuzz target without libFuzzer, with ASan+UBSan), so the
# inputs that once found a bug keep failing loudly if it comes back.
set -u
dir=${1:-build}
status=0
found=0
for t in "$dir"/asan/replay/fuzz_*; do
    [ -x "$t" ] || continue
    found=1
    name=$(basename "$t")
    echo "# $name: $(ls fuzz/corpus/"$name" | wc -l) seeds"
    "$t" fuzz/corpus/"$name"/* || status=1
done
if [ "$found" = 0 ]; then
    echo "no replay binaries in $dir/asan/replay (run make first)"
    exit 1
fi
exit $status
