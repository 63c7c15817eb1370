#!/usr/bin/env bash
# scripts/bench.sh still works: a one-second run of every scenario on its own
# private stack (bench.sh starts and stops it), checked for a full table with
# no failed requests.  Not a measurement: the numbers are not judged.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)
out=$(BENCH_DURATION=1s BENCH_CONNS=8 BENCH_CONTEXTS=4 BENCH_BURST=20 BENCH_DELIVERIES=400 \
    timeout 240 "$repo/scripts/bench.sh" 2>&1) || {
    printf '%s\n' "$out" | tail -n 30
    echo "bench-smoke: FAIL: scripts/bench.sh exited non-zero"
    exit 1
}
fail=0
for row in 'form load' 'submit' 'command accept'; do
    line=$(grep -E "^$row" <<<"$out" || true)
    # route ... req/s p50 p99 requests non-2xx errors
    if ! awk '{ if ($(NF-5) + 0 <= 0 || $(NF-1) != 0 || $NF != 0) exit 1 }' <<<"$line" || [ -z "$line" ]; then
        echo "bench-smoke: bad row for $row: ${line:-missing}"
        fail=1
    fi
done
grep -q '^agent-to-tab, burst of 20 commands' <<<"$out" || { echo "bench-smoke: no agent-to-tab latency"; fail=1; }
# delivery NAME ... rows/s elapsed s rows calls mints: every row drained, at least one call.
for row in 'delivery, 100 ms upstream' 'delivery, 0 ms upstream'; do
    line=$(grep -F "$row" <<<"$out" || true)
    if ! awk '{ if ($(NF-5) + 0 <= 0 || $(NF-2) != 400 || $(NF-1) + 0 < 2) exit 1 }' <<<"$line" || [ -z "$line" ]; then
        echo "bench-smoke: bad row for $row: ${line:-missing}"
        fail=1
    fi
done
if [ "$fail" -ne 0 ]; then
    printf '%s\n' "$out" | tail -n 20
    exit 1
fi
echo "bench-smoke: ok ($(grep -c '^[a-z].*ms' <<<"$out") result lines)"
