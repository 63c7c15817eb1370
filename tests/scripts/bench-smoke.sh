#!/usr/bin/env bash
# scripts/bench.sh still works: a one-second run of every section on its own
# private stack (bench.sh starts and stops it), checked for full tables, no
# failed request or transaction, every reference measured and a summary.
# Not a measurement: the numbers are not judged (targets may be missed).
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)
out=$(BENCH_DURATION=1s BENCH_CONNS=8 BENCH_CONTEXTS=4 BENCH_TABS=10 BENCH_TAB_RATE=50 \
    BENCH_TAB_SECONDS=1 BENCH_TAB_SENDERS=4 BENCH_IDLE=10 BENCH_DELIVERIES=400 \
    BENCH_APPR_TABS=5 BENCH_APPR_RATE=10 \
    timeout 300 "$repo/scripts/bench.sh" 2>&1) || {
    printf '%s\n' "$out" | tail -n 30
    echo "bench-smoke: FAIL: scripts/bench.sh exited non-zero"
    exit 1
}
fail=0
bad() { echo "bench-smoke: $*"; fail=1; }
# wrk rows: label, req/s, p50 ms, p99 ms, requests, non-2xx, errors.
for row in 'form load \(GET' 'bare FastCGI' 'submit \(POST' 'command accept \(POST' 'call event \(POST' \
    'form load, metrics\+tracing on #1' 'form load, both off #2'; do
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
if [ "$fail" -ne 0 ]; then
    printf '%s\n' "$out" | tail -n 40
    exit 1
fi
echo "bench-smoke: ok ($n summary rows)"
