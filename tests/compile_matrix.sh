#!/usr/bin/env bash
# Compiles rt.h in the configurations users will build it in, and runs each
# result once. One TAP line per configuration, then "N passed, N failed".
#   - gcc and clang, C99, the house warning set, -Werror
#   - g++ as C++11 (rt.h included from C++ sources)
#   - -m32 (32-bit x86) when a 32-bit toolchain is present
#   - every feature switch off (the list comes from amalgamate.py)
#   - RT_STATIC in a single translation unit
set -u
cd "$(dirname "$0")/.."
out=${BUILD:-build}/compile
mkdir -p "$out"
WARN="-Wall -Wextra -Wpedantic -Werror -Wshadow -Wconversion -Wsign-conversion \
 -Wstrict-prototypes -Wmissing-prototypes -Wundef"
n=0 pass=0 fail=0 skip=0

# try NAME CC FLAGS...: build impl.c + user.c with these flags and run it.
try() {
    local name=$1 cc=$2 bin="$out/$1" log="$out/$1.log"
    shift 2
    n=$((n + 1))
    if $cc "$@" -o "$bin" tests/compile/impl.c tests/compile/user.c >"$log" 2>&1 && "$bin" >>"$log" 2>&1; then
        echo "ok $n - $name"; pass=$((pass + 1))
    else
        echo "not ok $n - $name"; sed 's/^/#   /' "$log" | head -40; fail=$((fail + 1))
    fi
}

skip() {
    n=$((n + 1)); skip=$((skip + 1))
    echo "ok $n - $1 # SKIP: $2"
    echo "SKIP: $1: $2"
}

CXXWARN="-Wall -Wextra -Wpedantic -Werror"
switches=$(python3 amalgamate.py --switches | sed 's/^/-D/' | tr '\n' ' ')

try gcc-c99 gcc -std=c99 $WARN -O2
try clang-c99 clang -std=c99 $WARN -O2
try gxx-cxx11 "g++ -x c++" -std=c++11 $CXXWARN -O2
try clangxx-cxx17 "clang++ -x c++" -std=c++17 $CXXWARN -O2
try gcc-c99-switches-off gcc -std=c99 $WARN -O2 $switches
try gxx-cxx11-switches-off "g++ -x c++" -std=c++11 $CXXWARN -O2 $switches

# Each feature switch alone builds, and really removes its part: no function
# of the modules it names is left in the implementation's object (removes:
# name prefixes), and a program that calls one does not compile (undeclared:
# one function of each part, which must be declared without the switch).
removes() {
    case $1 in
        RT_NO_IO) echo "rt_loop_ rt_server_ rt_conn_ rt_pubsub_ rt_proto_ rt_plat_";;
        RT_NO_PRESENCE) echo "rt_presence_ rt_proto_";;
        RT_NO_PROTO) echo "rt_proto_";;
        RT_NO_SSE) echo "rt_sse_ rt_msg_sse rt_conn_sse_ rt_pubsub_sse rt_proto_http";;
        RT_NO_LONGPOLL) echo "rt_conn_hold rt_pubsub_poll";;
        *) echo "";;
    esac
}
undeclared() {
    case $1 in
        RT_NO_IO) echo "rt_loop_init rt_server_init rt_plat_poller_init";;
        RT_NO_PRESENCE) echo "rt_presence_init";;
        RT_NO_PROTO) echo "rt_proto_init";;
        RT_NO_SSE) echo "rt_sse_format rt_msg_sse rt_conn_sse_start rt_conn_sse_send rt_pubsub_sse
                         rt_proto_http";;
        RT_NO_LONGPOLL) echo "rt_conn_hold rt_pubsub_poll rt_pubsub_poll_expired";;
    esac
}
# still_declared SWITCH: the functions of undeclared() that the switch leaves
# declared, or that are not declared even without it (a stale table).
still_declared() {
    local f src="$out/decl.c"
    for f in $(undeclared "$1"); do
        printf '#include "rt.h"\nint main(void) { return &%s != 0; }\n' "$f" >"$src"
        gcc -std=c99 -w -I. -fsyntax-only "$src" 2>/dev/null || { echo "$f(never declared)"; continue; }
        gcc -std=c99 -w -I. -D"$1" -fsyntax-only "$src" 2>/dev/null && echo "$f"
    done
}
for sw in $(python3 amalgamate.py --switches); do
    n=$((n + 1)); log="$out/$sw.log"; gone=$(removes "$sw"); left=""
    if [ -z "$gone" ] || [ -z "$(undeclared "$sw")" ]; then
        echo "not ok $n - $sw: compile_matrix.sh does not know what it removes"; fail=$((fail + 1))
        continue
    fi
    if gcc -std=c99 $WARN -O2 -D"$sw" -o "$out/$sw" tests/compile/impl.c tests/compile/user.c \
           >"$log" 2>&1 && "$out/$sw" >>"$log" 2>&1 &&
       gcc -std=c99 -O2 -D"$sw" -DRT_IMPLEMENTATION -c -x c -o "$out/$sw.o" rt.h >>"$log" 2>&1; then
        for p in $gone; do
            nm --defined-only "$out/$sw.o" | awk '{print $3}' | grep -q "^$p" && left="$left $p"
        done
        for p in $(still_declared "$sw"); do left="$left declared:$p"; done
    else
        left="(does not build)"
    fi
    if [ -z "$left" ]; then echo "ok $n - $sw alone builds and removes $gone"; pass=$((pass + 1))
    else echo "not ok $n - $sw: still there:$left"; sed 's/^/#   /' "$log" | head -20
         fail=$((fail + 1)); fi
done

# Every switch but RT_NO_IO at once (no SSE, long poll, presence or
# protocol): the server, rooms and pubsub that remain still serve
# (tests/compile/small_server.c answers HTTP and a WebSocket through a
# room), and the echo example builds that way too.
n=$((n + 1)); log="$out/all-but-io.log"
but_io=$(python3 amalgamate.py --switches | grep -vx RT_NO_IO | sed 's/^/-D/' | tr '\n' ' ')
if gcc -std=c99 $WARN -O2 $but_io -o "$out/small_server" tests/compile/small_server.c >"$log" 2>&1 &&
   "$out/small_server" >>"$log" 2>&1 &&
   gcc -std=c99 -Wall -Wextra -Wpedantic -Werror -O2 $but_io -o "$out/echo-all-but-io" \
       examples/01_echo.c >>"$log" 2>&1; then
    echo "ok $n - every switch but RT_NO_IO ($but_io): a server still serves"; pass=$((pass + 1))
else
    echo "not ok $n - every switch but RT_NO_IO"; sed 's/^/#   /' "$log" | head -20; fail=$((fail + 1))
fi

# The implementation's file must include rt.h before system headers under a
# strict -std (the C library reads the POSIX request once): the other order is
# a clear #error, and -D_POSIX_C_SOURCE fixes it.
printf '#include <stdio.h>\n#define RT_IMPLEMENTATION\n#include "rt.h"\nint main(void) { return puts(rt_result_str(0)) < 0; }\n' \
    >"$out/order.c"
n=$((n + 1))
if ! gcc -std=c99 -I. -o "$out/order" "$out/order.c" >"$out/order.log" 2>&1 &&
   grep -q 'must include rt.h before any system header' "$out/order.log" &&
   gcc -std=c99 $WARN -D_POSIX_C_SOURCE=200809L -I. -o "$out/order" "$out/order.c" >>"$out/order.log" 2>&1 &&
   "$out/order" >/dev/null; then
    echo "ok $n - a system header before the implementation's rt.h is a clear #error"; pass=$((pass + 1))
else
    echo "not ok $n - include order"; sed 's/^/#   /' "$out/order.log" | head; fail=$((fail + 1))
fi

# A file built with a different struct-sizing limit than the implementation's
# does not link (layout.h), and says which value it had.
n=$((n + 1))
if ! gcc -std=c99 -O2 -c -o "$out/impl.o" tests/compile/impl.c >"$out/layout.log" 2>&1 ||
   ! gcc -std=c99 -O2 -DRT_HTTP_MAX_HEADERS=16 -c -o "$out/user16.o" tests/compile/user.c \
         >>"$out/layout.log" 2>&1; then
    echo "not ok $n - layout check: the objects do not build"; sed 's/^/#   /' "$out/layout.log"
    fail=$((fail + 1))
elif ! gcc -o "$out/layout" "$out/impl.o" "$out/user16.o" >>"$out/layout.log" 2>&1 &&
     grep -q 'rt_layout_http_headers_16' "$out/layout.log"; then
    echo "ok $n - a file with another RT_HTTP_MAX_HEADERS than the implementation does not link"
    pass=$((pass + 1))
else
    echo "not ok $n - a layout mismatch linked"; sed 's/^/#   /' "$out/layout.log" | head; fail=$((fail + 1))
fi
n=$((n + 1))
if gcc -std=c99 -O2 -DRT_NO_LONGPOLL -c -o "$out/user-nolp.o" tests/compile/user.c \
       >>"$out/layout.log" 2>&1 &&
   ! gcc -o "$out/layout" "$out/impl.o" "$out/user-nolp.o" >>"$out/layout.log" 2>&1 &&
   grep -q 'rt_layout_no_longpoll_1' "$out/layout.log"; then
    echo "ok $n - a file with RT_NO_LONGPOLL when the implementation has it not does not link"
    pass=$((pass + 1))
else
    echo "not ok $n - a RT_NO_LONGPOLL mismatch linked"; sed 's/^/#   /' "$out/layout.log" | head
    fail=$((fail + 1))
fi
if echo 'int main(void){return 0;}' | gcc -m32 -x c - -o "$out/m32probe" 2>/dev/null; then
    try gcc-c99-m32 gcc -m32 -std=c99 $WARN -O2
else
    skip gcc-c99-m32 "no 32-bit toolchain (apt-get install gcc-multilib)"
fi
n=$((n + 1))
if gcc -std=c99 $WARN -O2 -o "$out/static" tests/compile/static.c >"$out/static.log" 2>&1 &&
   "$out/static"; then
    echo "ok $n - gcc-c99-rt-static"; pass=$((pass + 1))
else
    echo "not ok $n - gcc-c99-rt-static"; sed 's/^/#   /' "$out/static.log"; fail=$((fail + 1))
fi

# Every public header under src/ compiles by itself (it includes what it
# uses), as C99 under gcc and clang and as C++11, and no local include points
# up the layers: base < codec < model < io < proto.
headers() {
    local cc=$1 h bad=""
    shift
    for h in src/*/*.h src/layout.h; do
        [ "$h" = src/base/config.h ] && continue # private: the implementation's defaults
        $cc "$@" -fsyntax-only "$h" >>"$out/headers.log" 2>&1 || bad="$bad $h"
    done
    [ -z "$bad" ] || { echo "headers that do not compile alone:$bad" >>"$out/headers.log"; return 1; }
}
layers_point_down() {
    local rank f inc l
    rank() { case $1 in base) echo 1;; codec) echo 2;; model) echo 3;; io) echo 4;; proto) echo 5;;
             *) echo 9;; esac; }
    for f in src/*/*.[ch]; do
        l=$(rank "$(basename "$(dirname "$f")")")
        for inc in $(sed -n -E 's|^\s*#\s*include\s*"\.\./([a-z]+)/.*|\1|p' "$f"); do
            if [ "$(rank "$inc")" -gt "$l" ]; then
                echo "$f includes from the higher layer $inc/" >>"$out/headers.log"; return 1
            fi
        done
    done
}
for h in "gcc-c99 gcc -x c -std=c99 $WARN" "clang-c99 clang -x c -std=c99 $WARN" \
         "gxx-cxx11 g++ -x c++ -std=c++11 $CXXWARN"; do
    set -- $h
    name=$1; shift
    n=$((n + 1)); : >"$out/headers.log"
    if headers "$@"; then echo "ok $n - every src/ header compiles alone ($name)"; pass=$((pass + 1))
    else echo "not ok $n - every src/ header compiles alone ($name)"
         sed 's/^/#   /' "$out/headers.log" | head -20; fail=$((fail + 1)); fi
done
n=$((n + 1)); : >"$out/headers.log"
if layers_point_down; then echo "ok $n - no include points up the layers"; pass=$((pass + 1))
else echo "not ok $n - no include points up the layers"; sed 's/^/#   /' "$out/headers.log"
     fail=$((fail + 1)); fi

# Only src/io/platform.c talks to the operating system: no other file
# includes a socket, poll, file, clock or errno header (a port to lwIP or
# Windows rewrites that one file).
n=$((n + 1))
os_users=$(grep -lE '^\s*#\s*include\s*<(sys/|netinet/|arpa/|netdb\.h|unistd\.h|fcntl\.h|poll\.h|errno\.h|time\.h|signal\.h|pthread\.h)' \
           src/*/*.[ch] | grep -v '^src/io/platform\.c$')
if [ -z "$os_users" ]; then echo "ok $n - only src/io/platform.c includes operating-system headers"
     pass=$((pass + 1))
else echo "not ok $n - operating-system headers outside src/io/platform.c: $os_users"
     fail=$((fail + 1)); fi

# The quick starts in rt.h's manual and in README.md must compile as shown, as C
# and as C++, with no warning under -Wall -Wextra.
quick() {
    local name=$1 src=$2
    n=$((n + 1))
    if [ -s "$src" ] && grep -q main "$src" &&
       gcc -std=c99 -Wall -Wextra -Wno-unused-parameter -Werror -I. -c -o "$out/$name.o" \
           -x c "$src" >"$out/$name.log" 2>&1 &&
       g++ -std=c++11 -Wall -Wextra -Wno-unused-parameter -Werror -I. -c -o "$out/$name.o" \
           -x c++ "$src" >>"$out/$name.log" 2>&1; then
        echo "ok $n - $name"; pass=$((pass + 1))
    else
        echo "not ok $n - $name"; sed 's/^/#   /' "$out/$name.log" | head -20; fail=$((fail + 1))
    fi
}
sed -n '/^QUICK START/,/^SANS-IO/p' rt.h | sed '1d;$d' | sed 's/^       //' \
    >"$out/manual_quick.c"
quick manual-quick-start-compiles "$out/manual_quick.c"
sed -n '/^## Quick start/,/^## /p' README.md | sed -n '/^```c$/,/^```$/p' | sed '1d;$d' \
    >"$out/readme_quick.c"
quick readme-quick-start-compiles "$out/readme_quick.c"

if [ "$skip" -gt 0 ]; then echo "$pass passed, $fail failed, $skip skipped"
else echo "$pass passed, $fail failed"; fi
[ "$fail" -eq 0 ]
