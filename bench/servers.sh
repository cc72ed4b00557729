#!/usr/bin/env bash
# bench/servers.sh - the WebSocket server benchmarks of `make bench`:
# examples/01_echo.c on the poll backend (build/echo) and on epoll
# (build/echo-epoll), next to the same server written on libwebsockets
# (bench/lws/lws_echo.c) when that library is installed or can be.
#
# Loads (bench/loadgen.c, 32-byte text messages, every one checked):
#   echo       100 and 1,000 connections, one message in flight each
#   broadcast  1,000 receivers of a server started with --broadcast, one
#              sender paced at 100 msgs/s, then at the highest rate found
#              where nothing is lost and p99 < 100 ms
#   connect    handshakes/s: open, upgrade, close, 100 at a time
#   idle       10,000 idle connections: the server's VmRSS per connection
# Broadcast and echo runs send for half a second before they measure.
# Beside them, bench/floor.c measures the same echo and fan-out with
# nothing but the kernel (a bare recv + send, a bare loop of send()), and
# a second table gives every server as a ratio to that floor.
# Each figure is the median of BENCH_RUNS runs (default 5). Prints a
# markdown table; exits 1 when a run against rt.h lost, duplicated or
# corrupted a message, or a connection failed.
set -u
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
. bench/lib.sh

IDLE_CONNS=10000
if [ "$NOFILE" -lt $((IDLE_CONNS + 100)) ]; then
    IDLE_CONNS=$((NOFILE - 100))
    echo "(ulimit -n is $NOFILE: the idle test opens $IDLE_CONNS connections)"
fi

# libwebsockets for the comparison column: the Debian package, installed
# here when missing and we may (root with apt-get); skipped otherwise.
build_lws() {
    local hdr=/usr/include/libwebsockets.h
    if [ ! -f "$hdr" ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        echo "(installing libwebsockets-dev for the comparison column)"
        export DEBIAN_FRONTEND=noninteractive
        timeout 300 apt-get install -y libwebsockets-dev >/dev/null 2>&1 ||
            { timeout 300 apt-get update >/dev/null 2>&1 &&
              timeout 300 apt-get install -y libwebsockets-dev >/dev/null 2>&1; }
    fi
    [ -f "$hdr" ] && ${CC:-cc} -O2 -std=gnu99 -o "$BUILD/bench/lws_echo" bench/lws/lws_echo.c \
        -lwebsockets >/dev/null 2>&1
}

# try_rate COLUMN RATE: 0 when a broadcast run at RATE lost nothing and had
# p99 < 100 ms. A failed run gets a second chance: on a shared machine one
# run can be slowed by someone else's job.
try_rate() {
    local i p99
    for i in 1 2; do
        run "$1" "search@$2" broadcast --conns 1000 --rate "$2" --seconds 2 --warmup 0.5
        p99=$(field p99_us "$LAST")
        clean "$LAST" && [ -n "$p99" ] && awk -v p="$p99" 'BEGIN { exit !(p < 100000) }' &&
            return 0
    done
    return 1
}

# search_rate COLUMN: sets BEST to the highest clean rate: doubling from 100
# msgs/s while clean, then two bisection steps below the first failure
# (0 when even 100 msgs/s is not clean).
search_rate() {
    local lo=0 hi=0 r=100 i
    while [ "$r" -le 51200 ]; do
        if try_rate "$1" "$r"; then lo=$r; r=$((r * 2)); else hi=$r; break; fi
    done
    for i in 1 2; do
        [ "$lo" -gt 0 ] && [ "$hi" -gt 0 ] || break
        r=$(((lo + hi) / 2))
        if try_rate "$1" "$r"; then lo=$r; else hi=$r; fi
    done
    BEST=$lo
}

# column NAME BINARY: every load against one server binary.
column() {
    local col=$1 bin=$2 i
    start_server "$bin" --max-conns 20000 || return
    for i in $(seq "$RUNS"); do
        run "$col" echo100 echo --conns 100 --seconds 2 --warmup 0.5
        run "$col" echo1000 echo --conns 1000 --seconds 2 --warmup 0.5
        run "$col" connect connect --conns 100 --seconds 2 --warmup 0.5
    done
    stop_server
    for i in $(seq "$RUNS"); do # a fresh server each time: RSS from 0 connections
        start_server "$bin" --max-conns 20000 || return
        run "$col" idle idle --conns "$IDLE_CONNS"
        stop_server
    done
    start_server "$bin" --max-conns 20000 --broadcast || return
    for i in $(seq "$RUNS"); do
        run "$col" bc100 broadcast --conns 1000 --rate 100 --seconds 2 --warmup 0.5
    done
    search_rate "$col"
    echo "$col|best|RESULT rate=$BEST" >>"$RESULTS"
    if [ "$BEST" -gt 0 ]; then
        for i in $(seq "$RUNS"); do
            run "$col" bchigh broadcast --conns 1000 --rate "$BEST" --seconds 2 --warmup 0.5
        done
    fi
    stop_server
}

# floor_column: bench/floor.c's bare loads, the kernel's part of every
# figure (it pins itself to the same two cores).
floor_column() {
    local i t line
    for i in $(seq "$RUNS"); do
        for t in "echo100 echo --conns 100" "echo1000 echo --conns 1000" \
                 "fanout fanout --conns 1000"; do
            set -- $t
            line=$(timeout 120 "$BUILD/bench/floor" "${@:2}" 2>/dev/null | grep '^RESULT')
            echo "floor|$1|${line:-FAILED}" >>"$RESULTS"
        done
    done
}

# cell COLUMN TEST KEY [DECIMALS]: the median, marked when runs failed.
cell() {
    local v f
    v=$(fmt "$(median "$1" "$2" "$3")" "${4:-0}")
    f=$(failures "$1" "$2")
    [ "$2" != best ] && [ "$f" -gt 0 ] && v="$v (${f}/${RUNS} runs lost messages)"
    echo "$v"
}

# row LABEL TEST KEY [DECIMALS]: one table row, ratios against libwebsockets.
row() {
    local label=$1 test=$2 key=$3 d=${4:-0} line c
    line="| $label"
    for c in $COLS; do
        line="$line | $(cell "$c" "$test" "$key" "$d")"
    done
    if [ -n "$LWS" ]; then
        for c in poll epoll; do
            line="$line | $(ratio "$(median "$c" "$test" "$key")" "$(median lws "$test" "$key")")"
        done
    fi
    echo "$line |"
}

# ms MICROSECONDS: milliseconds, one decimal.
ms() {
    awk -v v="$1" 'BEGIN { if (v == "-") print "-"; else printf "%.1f\n", v / 1000 }'
}

# latency_row LABEL TEST: p50 / p99 in ms.
latency_row() {
    local line="| $1" c
    for c in $COLS; do
        line="$line | $(ms "$(median "$c" "$2" p50_us)") / $(ms "$(median "$c" "$2" p99_us)")"
    done
    [ -n "$LWS" ] && line="$line | - | -"
    echo "$line |"
}

# floor_row LABEL FLOOR_TEST FLOOR_KEY TEST KEY [DECIMALS]: the floor, then
# each server ÷ it.
floor_row() {
    local f line c
    f=$(median floor "$2" "$3")
    line="| $1 | $(fmt "$f" "${6:-0}")"
    for c in $COLS; do
        line="$line | $(ratio "$(median "$c" "$4" "$5")" "$f")"
    done
    echo "$line |"
}

floor_report() {
    local head="| The floor: bench/floor.c, the kernel alone, median of $RUNS | floor" sep="|---|---:" c
    for c in $COLS; do
        head="$head | $c ÷ floor"
        sep="$sep|---:"
    done
    echo "$head |"
    echo "$sep|"
    floor_row "echo, 100 connections: CPU µs per message (recv + send)" echo100 cpu_us_per_msg \
        echo100 cpu_us_per_msg 2
    floor_row "echo, 1,000 connections: CPU µs per message (recv + send)" echo1000 \
        cpu_us_per_msg echo1000 cpu_us_per_msg 2
    floor_row "one message sent to 1,000 connections back to back, µs (÷: broadcast p99 at 100 msgs/s)" \
        fanout round_us bc100 p99_us
}

report() {
    local head="| 32-byte messages, median of $RUNS | rt.h poll | rt.h epoll" sep="|---|---:|---:" c
    if [ -n "$LWS" ]; then
        head="$head | libwebsockets | poll ÷ lws | epoll ÷ lws"
        sep="$sep|---:|---:|---:"
    fi
    echo "$head |"
    echo "$sep|"
    row "echo, 100 connections: messages/s" echo100 msgs_per_s
    row "echo, 100 connections: server CPU µs per message" echo100 cpu_us_per_msg 2
    row "echo, 1,000 connections: messages/s" echo1000 msgs_per_s
    row "echo, 1,000 connections: server CPU µs per message" echo1000 cpu_us_per_msg 2
    row "broadcast 100 msgs/s to 1,000: deliveries/s" bc100 deliveries_per_s
    latency_row "broadcast 100 msgs/s to 1,000: p50 / p99 ms" bc100
    row "broadcast 100 msgs/s to 1,000: server CPU µs per delivery" bc100 cpu_us_per_delivery 3
    row "highest clean broadcast rate found, msgs/s to 1,000" best rate
    row "at that rate: deliveries/s" bchigh deliveries_per_s
    latency_row "at that rate: p50 / p99 ms" bchigh
    row "at that rate: server CPU µs per delivery" bchigh cpu_us_per_delivery 3
    row "handshakes/s (100 at a time)" connect handshakes_per_s
    row "server CPU µs per handshake" connect cpu_us_per_handshake 1
    row "memory per idle connection ($(fmt "$IDLE_CONNS") open), bytes of RSS" idle \
        bytes_per_conn
    echo
    floor_report
    echo
    echo "Server on core $SERVER_CORE, load generator on core $LOADGEN_CORE (taskset)."
    [ -n "$LWS" ] && echo "Ratios are rt.h ÷ libwebsockets: above 1 is better for rates," \
        "below 1 is better for CPU time and memory."
    [ -n "$LWS" ] || echo "libwebsockets column skipped: libwebsockets-dev is not installed."
    for c in $COLS; do
        [ "$(median "$c" best rate)" = 0 ] &&
            echo "$c: even 100 msgs/s to 1,000 receivers lost messages or had p99 >= 100 ms."
    done
    return 0
}

make --no-print-directory -s BUILD="$BUILD" "$BUILD/echo" "$BUILD/echo-epoll" \
    "$BUILD/bench/loadgen" "$BUILD/bench/floor" >/dev/null || exit 1
COLS="poll epoll"
LWS=
if build_lws; then
    COLS="poll epoll lws"
    LWS=1
fi
floor_column
column poll "$BUILD/echo"
column epoll "$BUILD/echo-epoll"
[ -n "$LWS" ] && column lws "$BUILD/bench/lws_echo"
report
status=0
for c in poll epoll; do
    for t in echo100 echo1000 connect idle bc100; do
        [ "$(failures "$c" "$t")" = 0 ] || status=1
    done
done
rm -f "$RESULTS"
exit $status
