#!/usr/bin/env bash
# Checks amalgamate.py itself: rt.h is fresh, the output is deterministic, a
# hand edit to rt.h is caught, bad sources are refused, and rt.h exports only
# rt_ symbols.
set -u
cd "$(dirname "$0")/.."
n=0 pass=0 fail=0
ok() { n=$((n + 1)); pass=$((pass + 1)); echo "ok $n - $1"; }
bad() { n=$((n + 1)); fail=$((fail + 1)); echo "not ok $n - $1"; }
check() { local name=$1; shift; if "$@"; then ok "$name"; else bad "$name"; fi; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
copy() { rm -rf "$tmp/t"; mkdir -p "$tmp/t"; cp -r amalgamate.py src rt.h "$tmp/t/"; }

check "rt.h matches src/ (amalgamate.py --check)" python3 amalgamate.py --check

python3 amalgamate.py --stdout >"$tmp/a"; python3 amalgamate.py --stdout >"$tmp/b"
check "output is byte-identical on re-run" cmp -s "$tmp/a" "$tmp/b"

copy
sed -i '0,/rt_result_str/s//rt_result_name/' "$tmp/t/rt.h"
python3 "$tmp/t/amalgamate.py" --check 2>/dev/null; rc=$?
check "a hand edit to rt.h fails --check (exit $rc)" test "$rc" = 1

copy
echo '#include "no_such_file.h"' >>"$tmp/t/src/base/core.c"
python3 "$tmp/t/amalgamate.py" --stdout >/dev/null 2>"$tmp/err"; rc=$?
check "an unknown local include is refused (exit $rc)" \
    test "$rc" = 2 -a -n "$(grep no_such_file "$tmp/err")"

copy
printf '#ifndef RT_UNDOCUMENTED_KNOB\n#define RT_UNDOCUMENTED_KNOB 1\n#endif\n' >>"$tmp/t/src/base/core.h"
python3 "$tmp/t/amalgamate.py" --stdout >/dev/null 2>"$tmp/err"; rc=$?
check "a config macro missing from the manual is refused (exit $rc)" \
    test "$rc" = 2 -a -n "$(grep RT_UNDOCUMENTED_KNOB "$tmp/err")"

copy
printf '#ifndef RT_NO_LONG_POLL\n#endif\n' >>"$tmp/t/src/io/conn.c"
python3 "$tmp/t/amalgamate.py" --stdout >/dev/null 2>"$tmp/err"; rc=$?
check "a misspelt feature switch is refused (exit $rc)" \
    test "$rc" = 2 -a -n "$(grep RT_NO_LONG_POLL "$tmp/err")"

check "--switches lists every switch" \
    test "$(python3 amalgamate.py --switches | tr '\n' ' ')" = \
         "RT_NO_IO RT_NO_LONGPOLL RT_NO_PRESENCE RT_NO_PROTO RT_NO_SSE "

copy
echo '#include <stdio.h>' >>"$tmp/t/src/base/core.h"
python3 "$tmp/t/amalgamate.py" --stdout >/dev/null 2>&1; rc=$?
check "a platform include in the public part is refused (exit $rc)" test "$rc" = 2

check "the public part includes only stddef.h and stdint.h" \
    test -z "$(sed -n '/^#ifndef RT_H_INCLUDED/,/^#endif \/\* RT_H_INCLUDED/p' rt.h |
               grep -E '^\s*#\s*include' | grep -vE '<(stddef|stdint)\.h>')"

if cc -c -x c -DRT_IMPLEMENTATION -o "$tmp/impl.o" rt.h 2>"$tmp/err"; then
    leaked=$(nm -g --defined-only "$tmp/impl.o" | awk '{print $3}' | grep -v '^rt_')
    check "every exported symbol starts with rt_${leaked:+ (leaked: $leaked)}" test -z "$leaked"
else
    cat "$tmp/err"; bad "rt.h compiles as one implementation object"
fi

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
