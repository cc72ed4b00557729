#!/usr/bin/env bash
# bench/rooms.sh - the rooms benchmarks of `make bench`.
#
# Fan-out: 10,000 WebSocket subscribers of one room of examples/03_chat.c
# (plain mode, /ws?room=bench) and one WebSocket sender whose text frames
# the chat publishes to the room, next to examples/01_echo.c --broadcast
# with as many receivers at the same rate: the raw broadcast, the baseline.
# Recovery: 1,001 messages published with POST /publish, then a subscriber
# rejoins over SSE with since = 1,000 messages back and is timed until the
# last of them and the rt.join marker after them have arrived.
#
# The chat server is built here with a history of 2,048 messages (the
# default, RT_ROOM_HISTORY_MAX_MSGS 256, cannot close a gap of 1,000) and
# room for 20,000 connections, and runs with its rate limits off: the
# sender publishes more than 100 msgs/s and every subscriber comes from
# 127.0.0.1. Medians of BENCH_RUNS runs (default 5); prints markdown; exits
# 1 when a run lost, duplicated or corrupted a message.
set -u
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
. bench/lib.sh

SUBSCRIBERS=10000
RATE=100
if [ "$NOFILE" -lt $((SUBSCRIBERS + 100)) ]; then
    SUBSCRIBERS=$((NOFILE - 100))
    echo "(ulimit -n is $NOFILE: $SUBSCRIBERS subscribers)"
fi

make --no-print-directory -s BUILD="$BUILD" "$BUILD/echo" "$BUILD/chat" \
    "$BUILD/bench/loadgen" >/dev/null || exit 1
${CC:-cc} -O2 -std=c99 -DRT_ROOM_HISTORY_MAX_MSGS=2048 -DRT_SERVER_MAX_CONNS=20000 \
    -I"$BUILD/gen" -o "$BUILD/bench/chat-bench" examples/03_chat.c || exit 1

start_server "$BUILD/echo" --broadcast --max-conns 20000 || exit 1
for i in $(seq "$RUNS"); do
    run raw fanout broadcast --conns "$SUBSCRIBERS" --rate "$RATE" --seconds 2
done
stop_server

start_server "$BUILD/bench/chat-bench" --rate-msgs 0 --rate-bytes 0 --accept-rate 0 || exit 1
for i in $(seq "$RUNS"); do
    run room fanout broadcast --conns "$SUBSCRIBERS" --rate "$RATE" --seconds 2 \
        --path '/ws?room=bench'
done
for i in $(seq "$RUNS"); do
    run room recover recover --count 1000 --repeat 20 --room "recover$i"
done
stop_server

raw_d=$(median raw fanout deliveries_per_s)
room_d=$(median room fanout deliveries_per_s)
raw_c=$(median raw fanout cpu_us_per_delivery)
room_c=$(median room fanout cpu_us_per_delivery)
ms() {
    awk -v v="$1" 'BEGIN { if (v == "-") print "-"; else printf "%.1f\n", v / 1000 }'
}
mark() {
    local f
    f=$(failures "$1" "$2")
    [ "$f" -gt 0 ] && echo " ($f/$RUNS runs lost messages)"
}

echo "| $(fmt "$SUBSCRIBERS") subscribers, $RATE msgs/s, median of $RUNS" \
     "| raw broadcast (01_echo --broadcast) | room (03_chat /ws?room=) | room ÷ raw |"
echo "|---|---:|---:|---:|"
echo "| deliveries/s | $(fmt "$raw_d")$(mark raw fanout) | $(fmt "$room_d")$(mark room fanout)" \
     "| $(ratio "$room_d" "$raw_d") |"
echo "| p50 / p99 ms | $(ms "$(median raw fanout p50_us)") / $(ms "$(median raw fanout p99_us)")" \
     "| $(ms "$(median room fanout p50_us)") / $(ms "$(median room fanout p99_us)")" \
     "| $(ratio "$(median room fanout p99_us)" "$(median raw fanout p99_us)") (p99) |"
echo "| server CPU µs per delivery | $(fmt "$raw_c" 3) | $(fmt "$room_c" 3)" \
     "| $(ratio "$room_c" "$raw_c") |"
echo
echo "| recovery: rejoin over SSE 1,000 messages back, median of $RUNS × 20 | ms | messages/s |"
echo "|---|---:|---:|"
echo "| until all 1,000 and the rt.join marker have arrived$(mark room recover)" \
     "| $(fmt "$(median room recover median_ms)" 2) | $(fmt "$(median room recover msgs_per_s)") |"
echo
awk -v d="$(ratio "$room_d" "$raw_d")" -v c="$(ratio "$room_c" "$raw_c")" 'BEGIN {
    if (d == "-" || c == "-") { print "Target (room within 20% of raw): not measured."; exit }
    ok = d >= 0.8 && c <= 1.25
    printf "Target (room within 20%% of the raw broadcast: deliveries/s ratio >= 0.8, CPU per " \
           "delivery ratio <= 1.25): %s.\n", ok ? "met" : "missed" }'

status=0
for t in "raw fanout" "room fanout" "room recover"; do
    # shellcheck disable=SC2086
    [ "$(failures $t)" = 0 ] || status=1
done
rm -f "$RESULTS"
exit $status
