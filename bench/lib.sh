# bench/lib.sh - helpers for the server benchmarks (sourced by bench/servers.sh
# and bench/rooms.sh, with BUILD set).
#
# A server runs pinned to core 0 and the load generator to core 1 (the
# machines here have two). Servers listen on a free port (--port 0) that
# their banner tells; every load goes to 127.0.0.1 and every run is bounded
# by the load generator's own clock and by `timeout` around it.
#
# Each run appends "COLUMN|TEST|RESULT key=value ..." to $RESULTS, or
# "COLUMN|TEST|FAILED" when the load generator died or timed out; the
# report functions read medians and failure counts back from that file.

SERVER_CORE=0
LOADGEN_CORE=1
RUNS=${BENCH_RUNS:-5}
RESULTS=${RESULTS:-$(mktemp)}
SRV_PID=
SRV_PORT=

# Both processes need one descriptor per connection (10,000 idle ones and a
# few more): raise the soft limit as far as the hard one allows.
ulimit -n 20000 2>/dev/null || ulimit -n "$(ulimit -Hn)"
NOFILE=$(ulimit -n)

# start_server BINARY ARGS...: starts it on a free port; sets SRV_PID and SRV_PORT.
start_server() {
    local out i
    out=$(mktemp)
    taskset -c "$SERVER_CORE" "$@" --port 0 >"$out" 2>&1 &
    SRV_PID=$!
    SRV_PORT=
    for i in $(seq 100); do
        SRV_PORT=$(sed -n 's/.*listening on http:\/\/127\.0\.0\.1:\([0-9]*\).*/\1/p' "$out")
        [ -n "$SRV_PORT" ] && break
        sleep 0.05
    done
    rm -f "$out"
    if [ -z "$SRV_PORT" ]; then
        echo "could not start: $*" >&2
        stop_server
        return 1
    fi
}

# stop_server: asks for a graceful shutdown, then insists after 3 s.
stop_server() {
    local i
    [ -n "$SRV_PID" ] || return 0
    kill -TERM "$SRV_PID" 2>/dev/null
    for i in $(seq 30); do
        kill -0 "$SRV_PID" 2>/dev/null || break
        sleep 0.1
    done
    kill -KILL "$SRV_PID" 2>/dev/null
    wait "$SRV_PID" 2>/dev/null
    SRV_PID=
}

# run COLUMN TEST MODE ARGS...: one load generator run against the server
# that is up; records its RESULT line.
run() {
    local col=$1 test=$2 line
    shift 2
    line=$(timeout 180 taskset -c "$LOADGEN_CORE" "$BUILD/bench/loadgen" "$@" \
               --port "$SRV_PORT" --server-pid "$SRV_PID" 2>/dev/null | grep '^RESULT')
    echo "$col|$test|${line:-FAILED}" >>"$RESULTS"
    LAST=${line:-FAILED}
}

# field KEY LINE: the value of KEY in a RESULT line.
field() {
    sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<"$2"
}

# clean LINE: 0 when the run delivered everything intact.
clean() {
    local k
    [ "$1" != FAILED ] || return 1
    for k in lost dup bad closed errors; do
        [ "$(field "$k" "$1")" = 0 ] || return 1
    done
}

# lines COLUMN TEST: the recorded lines of one test on one server.
lines() {
    awk -F'|' -v c="$1" -v t="$2" '$1 == c && $2 == t { print $3 }' "$RESULTS"
}

# median COLUMN TEST KEY: the median of KEY over the recorded runs, "-" if none.
median() {
    lines "$1" "$2" | grep '^RESULT' | while read -r line; do
        field "$3" "$line"
    done | sort -g | awk '{a[NR] = $1}
        END { if (NR == 0) print "-";
              else if (NR % 2) print a[(NR + 1) / 2];
              else print (a[NR / 2] + a[NR / 2 + 1]) / 2 }'
}

# failures COLUMN TEST: how many recorded runs were not clean.
failures() {
    local n=0 line
    while read -r line; do
        clean "$line" || n=$((n + 1))
    done < <(lines "$1" "$2")
    echo "$n"
}

# fmt VALUE [DECIMALS]: thousands separators, or DECIMALS places; "-" stays.
fmt() {
    awk -v v="$1" -v d="${2:-0}" 'BEGIN {
        if (v == "-" || v == "") { print "-"; exit }
        if (d > 0) { printf "%.*f\n", d, v; exit }
        s = sprintf("%.0f", v); o = ""
        while (length(s) > 3) { o = "," substr(s, length(s) - 2) o; s = substr(s, 1, length(s) - 3) }
        print s o }'
}

# ratio A B [DECIMALS]: A / B, "-" when either is missing.
ratio() {
    awk -v a="$1" -v b="$2" -v d="${3:-2}" 'BEGIN {
        if (a == "-" || b == "-" || a == "" || b == "" || b + 0 == 0) print "-";
        else printf "%.*f\n", d, a / b }'
}
