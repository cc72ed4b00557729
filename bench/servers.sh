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
#   broadcast at 12,800 msgs/s, the project's target rate, every time
# Broadcast and echo runs send for half a second before they measure.
# Before each round of broadcasts bench/floor.c times a bare loop of 1,000
# send() calls 100 times a second, the kernel's share of reaching 1,000
# receivers, and its receiver measures the loop's own delivery latency the
# way the load generator does: the p99 at 100 msgs/s is also given as a
# ratio to the floor's p99.
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

# All columns' servers run at once, idle but for the one under load, and
# the loads take turns: run 1 on poll, epoll, lws, then run 2, and so on.
# On a shared machine whose speed drifts over minutes, that keeps the
# ratios between servers honest; measuring one column after the other
# would let the drift decide them.
declare -A BIN PID PORT BEST

# start_all ARGS...: one server per column, all on the server core.
start_all() {
    local c
    for c in $COLS; do
        start_server "${BIN[$c]}" "$@" || return 1
        PID[$c]=$SRV_PID
        PORT[$c]=$SRV_PORT
    done
}

# use COLUMN: point run at that column's server.
use() {
    SRV_PID=${PID[$1]}
    SRV_PORT=${PORT[$1]}
}

stop_all() {
    local c
    for c in $COLS; do
        use "$c"
        stop_server
    done
}

# measure: every load, RUNS rounds, each round visiting every column.
measure() {
    local i c
    start_all --max-conns 20000 || return
    for i in $(seq "$RUNS"); do
        for c in $COLS; do
            use "$c"
            run "$c" echo100 echo --conns 100 --seconds 2 --warmup 0.5
            run "$c" echo1000 echo --conns 1000 --seconds 2 --warmup 0.5
            run "$c" connect connect --conns 100 --seconds 2 --warmup 0.5
        done
    done
    stop_all
    for i in $(seq "$RUNS"); do # a fresh server each time: RSS from 0 connections
        for c in $COLS; do
            start_server "${BIN[$c]}" --max-conns 20000 || return
            run "$c" idle idle --conns "$IDLE_CONNS"
            stop_server
        done
    done
    start_all --max-conns 20000 --broadcast || return
    for i in $(seq "$RUNS"); do
        floor_fanout
        for c in $COLS; do
            use "$c"
            run "$c" bc100 broadcast --conns 1000 --rate 100 --seconds 2 --warmup 0.5
            run "$c" bc12800 broadcast --conns 1000 --rate 12800 --seconds 2 --warmup 0.5
        done
    done
    for c in $COLS; do
        use "$c"
        search_rate "$c"
        BEST[$c]=$BEST
        echo "$c|best|RESULT rate=$BEST" >>"$RESULTS"
    done
    for i in $(seq "$RUNS"); do
        for c in $COLS; do
            use "$c"
            [ "${BEST[$c]}" -gt 0 ] &&
                run "$c" bchigh broadcast --conns 1000 --rate "${BEST[$c]}" --seconds 2 --warmup 0.5
        done
    done
    stop_all
}

# floor_fanout: one run of bench/floor.c, the kernel's part of a broadcast
# (it pins itself to the same two cores): its round time (fanout) and its
# receiver's delivery latency (deliver).
floor_fanout() {
    local out
    out=$(timeout 120 "$BUILD/bench/floor" --conns 1000 2>/dev/null)
    echo "floor|fanout|$(echo "$out" | grep '^RESULT mode=fanout' || echo FAILED)" >>"$RESULTS"
    echo "floor|deliver|$(echo "$out" | grep '^RESULT mode=deliver' || echo FAILED)" >>"$RESULTS"
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

# floor_row LABEL TEST KEY: each server's KEY ÷ the bare loop's median KEY.
floor_row() {
    local f line c
    f=$(median floor deliver "$3")
    line="| $1"
    for c in $COLS; do
        line="$line | $(ratio "$(median "$c" "$2" "$3")" "$f")"
    done
    [ -n "$LWS" ] && line="$line | - | -"
    echo "$line |"
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
    floor_row "broadcast 100 msgs/s to 1,000: p99 ÷ the floor's p99" bc100 p99_us
    row "broadcast 12,800 msgs/s to 1,000: deliveries/s" bc12800 deliveries_per_s
    latency_row "broadcast 12,800 msgs/s to 1,000: p50 / p99 ms" bc12800
    row "broadcast 12,800 msgs/s to 1,000: server CPU µs per delivery" bc12800 cpu_us_per_delivery 3
    row "highest clean broadcast rate found, msgs/s to 1,000" best rate
    row "at that rate: deliveries/s" bchigh deliveries_per_s
    latency_row "at that rate: p50 / p99 ms" bchigh
    row "at that rate: server CPU µs per delivery" bchigh cpu_us_per_delivery 3
    row "handshakes/s (100 at a time)" connect handshakes_per_s
    row "server CPU µs per handshake" connect cpu_us_per_handshake 1
    row "memory per idle connection ($(fmt "$IDLE_CONNS") open), bytes of RSS" idle \
        bytes_per_conn
    echo
    echo "Server on core $SERVER_CORE, load generator on core $LOADGEN_CORE (taskset);" \
        "the servers took turns, run by run."
    echo "The floor (bench/floor.c, run before each round of broadcasts): a bare loop of" \
        "1,000 send() calls of 34 bytes on loopback TCP, 100 times a second, takes" \
        "$(fmt "$(median floor fanout round_us)") µs (median round); its receiver on core" \
        "$LOADGEN_CORE gets the messages $(ms "$(median floor deliver p50_us)") /" \
        "$(ms "$(median floor deliver p99_us)") ms (p50 / p99) after the round starts." \
        "No server here can deliver sooner."
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
BIN[poll]=$BUILD/echo
BIN[epoll]=$BUILD/echo-epoll
BIN[lws]=$BUILD/bench/lws_echo
measure
report
status=0
for c in poll epoll; do
    for t in echo100 echo1000 connect idle bc100 bc12800; do
        [ "$(failures "$c" "$t")" = 0 ] || status=1
    done
done
rm -f "$RESULTS"
exit $status
