#!/usr/bin/env bash
# Runs every unit-test binary in DIR (build/ or build/asan/) and passes their
# output through; tests/run.sh adds up their summary lines.
set -u
dir=${1:-build}
status=0
found=0
for t in "$dir"/test_*; do
    [ -x "$t" ] || continue
    found=1
    echo "# $t"
    "$t" || status=1
done
if [ "$found" = 0 ]; then
    echo "no unit-test binaries in $dir (run make first)"
    exit 1
fi
exit $status
