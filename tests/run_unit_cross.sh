#!/usr/bin/env bash
# The unit tests again on a 32-bit big-endian CPU: clang cross-compiles them
# for MIPS (the kind of core many routers and IoT gateways run) and qemu-mips
# runs them. Catches endian-dependent loads and 64-bit assumptions.
set -u
cd "$(dirname "$0")/.."
out=${1:-build}/mips
sysroot=/usr/mips-linux-gnu
gccdir=$(ls -d /usr/lib/gcc-cross/mips-linux-gnu/* 2>/dev/null | tail -n 1)
if ! command -v qemu-mips >/dev/null || ! command -v clang >/dev/null ||
   [ ! -d "$sysroot/lib" ] || [ -z "$gccdir" ] || [ ! -x /usr/bin/mips-linux-gnu-ld ]; then
    echo "SKIP: mips unit tests: need clang, qemu-user, binutils-mips-linux-gnu," \
         "libc6-dev-mips-cross and libgcc-12-dev-mips-cross"
    echo "0 passed, 0 failed, 1 skipped"
    exit 0
fi
mkdir -p "$out"
status=0
for src in tests/unit/test_*.c; do
    bin="$out/$(basename "$src" .c)"
    if ! clang --target=mips-linux-gnu --sysroot="$sysroot" --ld-path=/usr/bin/mips-linux-gnu-ld \
         -B"$gccdir" -L"$gccdir" -static -std=c99 -O2 -Wall -Wextra -Werror \
         -o "$bin" "$src" 2>"$bin.log"; then
        cat "$bin.log"
        echo "0 passed, 1 failed"
        status=1
        continue
    fi
    echo "# $bin (qemu-mips)"
    qemu-mips "$bin" || status=1
done
exit $status
