#!/usr/bin/env bash
# Integration tests: real sockets on 127.0.0.1, a real redis-server, real
# clients nobody here wrote (npm ws, eventsource, Chromium via playwright-core).
#
# Each suite names the tools it needs. A missing tool is installed when we can
# (root with apt-get, npm with the registry); when we cannot, the suite is
# skipped with a loud "SKIP:" line and counted as skipped (tests/run.sh turns
# skips into failures under RT_REQUIRE_ALL=1).
set -u
cd "$(dirname "$0")/../.."
BUILD=${1:-build}
export BUILD
total_pass=0 total_fail=0 total_skip=0 status=0

apt_install() {
    [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null || return 1
    echo "# installing $* with apt-get"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$@" >/dev/null 2>&1 ||
        { apt-get update -q >/dev/null 2>&1 &&
          DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$@" >/dev/null 2>&1; }
}

# need_cmd CMD PACKAGE: make sure CMD exists, installing PACKAGE if we can.
need_cmd() {
    command -v "$1" >/dev/null 2>&1 || apt_install "$2"
    command -v "$1" >/dev/null 2>&1
}

# need_node_modules: the test-only JavaScript clients, pinned by package-lock.json.
need_node_modules() {
    need_cmd node nodejs && need_cmd npm npm || return 1
    [ -d tests/integration/js/node_modules ] ||
        (cd tests/integration/js && npm ci --no-audit --no-fund >/dev/null 2>&1)
    [ -d tests/integration/js/node_modules ]
}

skip_suite() {
    echo "SKIP: $1: $2"
    total_skip=$((total_skip + 1))
}

# run_suite NAME CMD...: run a suite and add up its "N passed, N failed" or
# node --test "# pass N" / "# fail N" lines.
run_suite() {
    local name=$1 log p f rc
    shift
    log=$(mktemp)
    echo "# suite: $name"
    "$@" 2>&1 | tee "$log"
    rc=${PIPESTATUS[0]}
    [ "$rc" -eq 0 ] || status=1
    p=$(sed -n -E 's/^(# )?([0-9]+) passed, ([0-9]+) failed.*/\2/p; s/^# pass ([0-9]+)$/\1/p' "$log" |
        awk '{s += $1} END {print s + 0}')
    f=$(sed -n -E 's/^(# )?([0-9]+) passed, ([0-9]+) failed.*/\3/p; s/^# fail ([0-9]+)$/\1/p' "$log" |
        awk '{s += $1} END {print s + 0}')
    if [ "$rc" != 0 ] && [ "$f" = 0 ]; then f=1; fi
    rm -f "$log"
    total_pass=$((total_pass + p)); total_fail=$((total_fail + f))
}

# C suites: each binary in build/itest is a self-contained test over real sockets.
for t in "$BUILD"/itest/*; do
    [ -x "$t" ] || continue
    run_suite "$(basename "$t")" "$t"
done

# JavaScript suites: tests/integration/js/*.test.mjs, run by node's test runner.
# The browser suite needs Debian's Chromium (driven by playwright-core).
js=(tests/integration/js/*.test.mjs)
if [ -e "${js[0]}" ]; then
    if ! need_node_modules; then
        skip_suite "node clients" "node/npm or the npm packages are not available"
        js=()
    elif [ -e tests/integration/js/browser.test.mjs ] && ! need_cmd chromium chromium; then
        skip_suite "browser (Chromium)" "/usr/bin/chromium is missing (apt-get install chromium)"
        js=("${js[@]/tests\/integration\/js\/browser.test.mjs}")
    fi
    if [ "${#js[@]}" -gt 0 ]; then
        run_suite "node clients" node --test --test-reporter=tap --test-concurrency=1 ${js[@]}
    fi
fi

if [ "$total_skip" -gt 0 ]; then
    echo "$total_pass passed, $total_fail failed, $total_skip skipped"
else
    echo "$total_pass passed, $total_fail failed"
fi
[ "$status" = 0 ] && [ "$total_fail" = 0 ]
