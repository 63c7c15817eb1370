#!/usr/bin/env bash
# scripts/test.sh: run every test against a private stack on free loopback
# ports, then tear the stack down.  Called by `make test` (sanitizer build)
# and `make test-plain`.  Exits non-zero on any failure, sanitizer report or
# leftover process; the last line is "N passed, N failed".
#
#   scripts/test.sh                 every test
#   scripts/test.sh delivery kv     only tests whose name contains a word given
set -uo pipefail
filters=("$@")
wanted() {
	local f
	(( ${#filters[@]} == 0 )) && return 0
	for f in "${filters[@]}"; do [[ $1 == *"$f"* ]] && return 0; done
	return 1
}

repo=$(cd "$(dirname "$0")/.." && pwd)
: "${CB_BUILD:=$repo/build-san}"
export CB_BUILD

free_port() {
	local p
	for _ in $(seq 1 200); do
		p=$(( (RANDOM % 20000) + 30000 ))
		if ! ss -Htan "( sport = :$p )" 2>/dev/null | grep -q .; then
			echo "$p"
			return 0
		fi
	done
	return 1
}

# The state directory: var/test-PID, or where the service user can reach it
# when it cannot reach the clone (stack.sh state: a link points there).
link="$repo/var/test-$$"
if ! state=$(CB_STATE="$link" "$repo/scripts/stack.sh" state); then
	echo "cannot make the state directory for $link"
	echo "0 passed, 1 failed"
	exit 1
fi
[ -L "$link" ] || link=
export CB_STATE="$state"
CB_PORT_HTTP=$(free_port); CB_PORT_HTTPS=$(free_port); CB_PORT_PG=$(free_port)
CB_PORT_REDIS=$(free_port); CB_PORT_WS=$(free_port); CB_PORT_FAKESF=$(free_port)
CB_PORT_FAKEHOOKS=$(free_port)
export CB_PORT_HTTP CB_PORT_HTTPS CB_PORT_PG CB_PORT_REDIS CB_PORT_WS CB_PORT_FAKESF CB_PORT_FAKEHOOKS
export CB_LOG_LEVEL=${CB_LOG_LEVEL:-info}
# Short clocks so retries, leases and timeouts happen within a test's time.
export CB_OUTBOX_SCHEDULE=0,100ms,200ms,400ms
export CB_OUTBOX_LEASE_S=3 CB_SF_TIMEOUT_MS=2000 CB_SF_PROBE_S=2 CB_WEBHOOK_TIMEOUT_MS=1500 CB_SLACK_TIMEOUT_MS=1500
# The retention duty purges every second (its lifetimes keep their defaults:
# suites make rows old by moving their timestamps back).
export CB_RETAIN_INTERVAL_S=1
# Its batches and pauses, stated (test_retention checks a big purge is paced by them).
export CB_RETAIN_BATCH=500 CB_RETAIN_PAUSE_MS=50
# An open Redis circuit breaker waits this long before its probe: longer than
# the failfast suite's measured run, so no probe falls inside it.
export CB_KV_BREAKER_COOLOFF_MS=15000
# The audit duty seals 4 rows a statement every 400 ms: test_audit sees both hold.
export CB_AUDIT_SEAL_MS=400 CB_AUDIT_SEAL_BATCH=4
# Agent policy governance, stated: test_policies changes policies at and
# over both limits (the suites' seeded policies change 10 entries at once).
export CB_POLICY_MAX_CHANGES=20 CB_POLICY_MAX_LIST=12
# The approvals duty sweeps every 1.5 s, 3 approvals a statement
# (test_approvals checks the interval holds, and the batch).
export CB_APPROVAL_SWEEP_MS=1500 CB_APPROVAL_EXPIRE_BATCH=3
# A call source's previous secret verifies this long after a rotation
# (test_calls checks it is this value, not the default).
export CB_CALL_SECRET_OVERLAP_S=7200
# The contact cache's lifetimes, stated: test_sfquery reads them back from Redis.
export CB_SF_CONTACT_TTL_S=40 CB_SF_CONTACT_MISS_TTL_S=9
# The engine's flood test puts 20,000 records in the fake on top of the rest.
export CB_FAKESF_MAX_RECORDS=100000
export CB_CORS_ORIGINS="https://app.example.test, https://admin.example.test"
# Edge limits (nginx): every suite talks from 127.0.0.1, which the stack
# exempts (CB_EDGE_EXEMPT); test_edge talks from 127.0.0.2-127.0.0.9 and sees
# the production rates (gen-nginx-routes.sh) with small connection caps.
export CB_EDGE_WS_PER_ADDR=6 CB_EDGE_CONN_PER_ADDR=16 CB_EDGE_RATE_ANONYMOUS=10r/s CB_EDGE_BURST_ANONYMOUS=40
# Quotas: the free plan (every suite's tenants) is never reached; the team
# and enterprise plans, which only test_edge's tenants have, are tight.
export CB_QUOTA_FREE_SUBMITS_PER_MIN=100000000 CB_QUOTA_FREE_COMMANDS_PER_MIN=100000000
export CB_QUOTA_TEAM_SUBMITS_PER_MIN=4 CB_QUOTA_TEAM_COMMANDS_PER_MIN=4
export CB_QUOTA_ENTERPRISE_SUBMITS_PER_MIN=7 CB_QUOTA_ENTERPRISE_COMMANDS_PER_MIN=7
export CB_QUOTA_KEY_COMMANDS_PER_MIN=100000000
# Inbound call events: the free plan is never reached; test_calls puts a
# tenant on the team plan to see its 429.
export CB_QUOTA_FREE_CALL_EVENTS_PER_MIN=100000000 CB_QUOTA_TEAM_CALL_EVENTS_PER_MIN=5
export CB_QUOTA_ENTERPRISE_CALL_EVENTS_PER_MIN=100000000
# The bundled fakes stand in for Salesforce and Slack.
unset CB_SF_CLIENT_ID CB_CONFIG_FILE CB_SLACK_WEBHOOK_URL CB_SLACK_BOT_TOKEN
mkdir -p "$state/log"
# Sanitizer reports from every process of the stack land in one place.  The
# suppressions travel with the state: the service user may not reach the
# clone.
install -m 0644 "$repo/tests/lsan.supp" "$state/lsan.supp"
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=0:log_path=$state/log/asan"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:log_path=$state/log/ubsan"
export LSAN_OPTIONS="suppressions=$state/lsan.supp:print_suppressions=0"

passed=0
failed=0
failures=()

cleanup() {
	"$repo/scripts/stack.sh" stop >/dev/null 2>&1 || true
}
trap cleanup EXIT

echo "== starting a private stack in $state"
if ! "$repo/scripts/stack.sh" start; then
	echo "stack failed to start; logs:"
	tail -n 20 "$state"/log/*.log 2>/dev/null
	echo "0 passed, 1 failed"
	exit 1
fi
# shellcheck disable=SC1091
source "$state/stack.env"

# Count one suite's result: its binary, its output, its exit code, its seconds.
tally() {
	local bin=$1 out=$2 rc=$3 secs=$4 name checks fails errs
	name=${bin#"$CB_BUILD"/tests/}
	printf '%s\n' "$out" | sed "s|^|  [$name] |" | grep -vE '^\s*\[[^]]*\]\s*$' | tail -n 40
	echo "  [$name] $secs s"
	# Check's summary: "NN%: Checks: N, Failures: N, Errors: N"
	if [[ $out =~ Checks:\ ([0-9]+),\ Failures:\ ([0-9]+),\ Errors:\ ([0-9]+) ]]; then
		checks=${BASH_REMATCH[1]}; fails=${BASH_REMATCH[2]}; errs=${BASH_REMATCH[3]}
		passed=$((passed + checks - fails - errs))
		failed=$((failed + fails + errs))
		if (( rc != 0 && fails + errs == 0 )); then
			failed=$((failed + 1)); failures+=("$name (exit $rc)")
		elif (( fails + errs > 0 )); then
			failures+=("$name")
		fi
	elif (( rc == 0 )); then
		passed=$((passed + 1))
	else
		failed=$((failed + 1)); failures+=("$name (exit $rc)")
	fi
}

run_one() {
	local bin=$1 out rc t0=$SECONDS
	out=$(timeout 600 "$bin" 2>&1)
	rc=$?
	tally "$bin" "$out" "$rc" $((SECONDS - t0))
}

# The unit suites share nothing but Postgres and Redis (scratch databases
# are named by pid): two at a time, reported in order.
echo "== unit tests (two at a time)"
units=()
for t in "$CB_BUILD"/tests/unit/*; do
	[ -x "$t" ] && wanted "$(basename "$t")" && units+=("$t")
done
udir=$(mktemp -d)
for t in "${units[@]}"; do
	while (( $(jobs -rp | wc -l) >= 2 )); do wait -n; done
	(
		t0=$SECONDS
		timeout 600 "$t" >"$udir/$(basename "$t").out" 2>&1
		echo "$? $((SECONDS - t0))" >"$udir/$(basename "$t").rc"
	) &
done
wait
for t in "${units[@]}"; do
	read -r urc usecs <"$udir/$(basename "$t").rc" || { urc=1; usecs=0; }
	tally "$t" "$(cat "$udir/$(basename "$t").out")" "$urc" "$usecs"
done
rm -rf "$udir"
echo "== integration tests (through nginx)"
for t in "$CB_BUILD"/tests/integration/*; do
	[ -x "$t" ] && wanted "$(basename "$t")" && run_one "$t"
done
for t in "$repo"/tests/scripts/*.sh; do
	[ -x "$t" ] && wanted "$(basename "$t")" || continue
	name="scripts/$(basename "$t")"
	if out=$(timeout 600 "$t" 2>&1); then
		passed=$((passed + 1)); echo "  [$name] ok"
	else
		failed=$((failed + 1)); failures+=("$name"); printf '%s\n' "$out" | sed "s|^|  [$name] |" | tail -n 30
	fi
done

# Whatever the suites did, the audit trail they left must verify end to end.
if wanted audit-chain; then
	if out=$("$CB_BUILD/bin/cb-admin" audit verify 2>&1); then
		passed=$((passed + 1)); echo "  [audit-chain] ok: $out"
	else
		failed=$((failed + 1)); failures+=("audit-chain"); echo "  [audit-chain] $out"
	fi
fi

echo "== stopping the stack"
"$repo/scripts/stack.sh" stop
trap - EXIT

# Nothing the stack started may survive it: any process whose environment
# names this run's state directory (other stacks on the machine are not ours).
left=0
for p in $(ps -u cbroker -o pid= 2>/dev/null); do
	if { tr '\0' '\n' <"/proc/$p/environ"; } 2>/dev/null | grep -qx "CB_STATE=$state"; then
		left=$((left + 1))
	fi
done
if (( left > 0 )); then
	failed=$((failed + 1)); failures+=("processes left behind: $left")
fi
# No secret may reach a log: every secret of the stack (passwords, pepper,
# root key) and every one the tests used (API keys, tab tokens, passwords,
# access and refresh tokens, recorded through test_record_secret).
patterns="$state/all-secrets.txt"
: >"$patterns"
for f in "$state"/secrets/*.pw "$state"/secrets/*.hex "$state"/secrets/*.key; do
	[ -f "$f" ] && { tr -d '\n' <"$f"; echo; } >>"$patterns"
done
[ -f "$state/test-secrets.txt" ] && cat "$state/test-secrets.txt" >>"$patterns"
nsecrets=$(grep -c . "$patterns")
if leaks=$(grep -rlF -f "$patterns" "$state/log" 2>/dev/null) && [ -n "$leaks" ]; then
	failed=$((failed + 1)); failures+=("secrets found in logs: $(echo "$leaks" | tr '\n' ' ')")
else
	echo "== log scan: none of $nsecrets secrets appears in $(find "$state/log" -type f | wc -l) log files"
	passed=$((passed + 1))
fi
rm -f "$patterns"

# Any sanitizer report from any process fails the run.
if compgen -G "$state/log/asan*" >/dev/null || compgen -G "$state/log/ubsan*" >/dev/null; then
	failed=$((failed + 1)); failures+=("sanitizer reports")
	for f in "$state"/log/asan* "$state"/log/ubsan*; do
		[ -f "$f" ] && { echo "--- $f"; head -n 40 "$f"; }
	done
fi

if (( failed > 0 )); then
	echo "FAILED:"; printf '  %s\n' "${failures[@]}"
	echo "logs kept in $state/log"
else
	rm -rf "$state"
	[ -z "$link" ] || rm -f "$link"
fi
echo "$passed passed, $failed failed"
(( failed == 0 ))
