#!/usr/bin/env bash
# scripts/bench.sh still works: a one-second run of every section on its own
# private stack (bench.sh starts and stops it), checked for full tables, no
# failed request or transaction, every reference measured and a summary
# whose every verdict agrees with its row; and the bench's judge itself, on
# figures whose verdicts are known.  Not a measurement: whether a target is
# met on this machine is not judged here (make bench says).
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)

# The bench's judge (scripts/bench/lib.sh: at_least, at_most), on figures
# whose verdicts are known: a target met just, missed just, a figure with a
# note (non-2xx answers) never passes, nothing measured or a zero reference
# is a MISS, and MISSES counts the misses.
judge() {
    (
        say() { :; }
        die() { echo "bench-smoke: $*"; exit 1; }
        # shellcheck source=../../scripts/bench/lib.sh
        . "$repo/scripts/bench/lib.sh"
        at_least "a" 97 "ref" 100 0.97
        at_least "b" 96 "ref" 100 0.97
        at_least "c" 150 "ref" 100 0.97 "3 non-2xx"
        at_least "d" "?" "ref" 100 0.97
        at_least "e" 10 "ref" 0 0.97
        at_most "f" 499.9 500
        at_most "g" 500.1 500
        at_most "h" "?" 500
        printf '%s\n' "${SUMMARY[@]}" | awk '{ print $NF == "PASS" ? "PASS" : ($0 ~ /MISS/ ? "MISS" : "?") }' | tr '\n' ' '
        echo "$MISSES"
    )
}
verdicts=$(judge)
[ "$verdicts" = "PASS MISS MISS MISS MISS PASS MISS MISS 6" ] || {
    echo "bench-smoke: FAIL: the bench's judge gave '$verdicts' for figures whose verdicts are known"
    exit 1
}
out=$(BENCH_DURATION=1s BENCH_CONNS=8 BENCH_CONTEXTS=4 BENCH_TABS=10 BENCH_TAB_RATE=50 \
    BENCH_TAB_SECONDS=1 BENCH_TAB_SENDERS=4 BENCH_IDLE=10 BENCH_DELIVERIES=400 \
    BENCH_APPR_TABS=5 BENCH_APPR_RATE=10 BENCH_OBS_ROUNDS=2 BENCH_OBS_SECONDS=1 BENCH_OBS_WARM=1 \
    timeout 300 "$repo/scripts/bench.sh" 2>&1) || {
    printf '%s\n' "$out" | tail -n 30
    echo "bench-smoke: FAIL: scripts/bench.sh exited non-zero"
    exit 1
}
fail=0
bad() { echo "bench-smoke: $*"; fail=1; }
# wrk rows: label, req/s, p50 ms, p99 ms, requests, non-2xx, errors.
for row in 'form load \(GET' 'bare FastCGI' 'submit \(POST' 'command accept \(POST' 'call event \(POST' \
    'form load on, bench edge' 'form load off, bench edge' 'form load on, node' 'form load off, node'; do
    line=$(grep -E "^$row" <<<"$out" | head -n 1 || true)
    if [ -z "$line" ] || ! awk '{ if ($(NF-7) + 0 <= 0 || $(NF-1) != 0 || $NF != 0) exit 1 }' <<<"$line"; then
        bad "bad row for $row: ${line:-missing}"
    fi
done
# pgbench rows: label, tx/s, p50 ms, p99 ms, transactions, failed.
for row in 'pgbench: submit rows' 'pgbench: command rows'; do
    line=$(grep "^$row" <<<"$out" | head -n 1 || true)
    if [ -z "$line" ] || ! awk '{ if ($(NF-6) + 0 <= 0 || $NF != 0) exit 1 }' <<<"$line"; then
        bad "bad row for $row: ${line:-missing}"
    fi
done
# The observe section ran what its settings asked (BENCH_OBS_ROUNDS=2, BENCH_OBS_SECONDS=1).
n=$(grep -cE 'wrk: form load, (metrics\+tracing on|both off) #[0-9]+ \(.* -d1s\)' <<<"$out" || true)
[ "$n" = 8 ] || bad "observe: $n runs of 1 s, not 2 halves x 2 rounds x 2 sides"
grep -Eq '^  accepted 50, refused 429 0, other 0, errors 0, unsent 0' <<<"$out" || bad "agent-to-tab load: not all 50 accepted"
grep -Eq '^Idle channel: 10 commands .*accepted 10, missing 0' <<<"$out" || bad "agent-to-tab idle: not all 10 framed"
# delivery NAME ... rows/s elapsed s rows calls mints: every row drained, at least one call.
for row in 'delivery, 100 ms upstream' 'delivery, 0 ms upstream'; do
    line=$(grep -F "$row" <<<"$out" || true)
    if ! awk '{ if ($(NF-5) + 0 <= 0 || $(NF-2) != 400 || $(NF-1) + 0 < 2) exit 1 }' <<<"$line" || [ -z "$line" ]; then
        bad "bad row for $row: ${line:-missing}"
    fi
done
n=$(sed -n '/^== Summary/,$p' <<<"$out" | grep -cE ' (PASS|MISS)' || true)
[ "$n" = 12 ] || bad "the summary has $n rows of 12"
# Every verdict agrees with its row: PASS exactly when the ratio reaches the
# target (or the latency stays under it) and no note qualifies the figure.
while IFS= read -r line; do
    if [[ $line =~ ([0-9.]+)x\ +\>=\ ([0-9.]+)x\ +(PASS|MISS)(\ \(.*\))?$ ]]; then
        want=$(awk -v x="${BASH_REMATCH[1]}" -v m="${BASH_REMATCH[2]}" 'BEGIN { print (x >= m) ? "PASS" : "MISS" }')
    elif [[ $line =~ \ ([0-9.]+)\ ms\ .*\<=\ ([0-9.]+)\ ms\ +(PASS|MISS)(\ \(.*\))?$ ]]; then
        want=$(awk -v x="${BASH_REMATCH[1]}" -v m="${BASH_REMATCH[2]}" 'BEGIN { print (x <= m) ? "PASS" : "MISS" }')
    else
        continue
    fi
    [ -n "${BASH_REMATCH[4]}" ] && want=MISS
    [ "${BASH_REMATCH[3]}" = "$want" ] || bad "a verdict disagrees with its row: $line"
done < <(sed -n '/^== Summary/,$p' <<<"$out" | grep -E ' (PASS|MISS)')
if [ "$fail" -ne 0 ]; then
    printf '%s\n' "$out" | tail -n 40
    exit 1
fi
echo "bench-smoke: ok ($n summary rows)"
