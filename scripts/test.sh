#!/usr/bin/env bash
# scripts/test.sh: run every test against a private stack on free loopback
# ports, then tear the stack down.  Called by `make test` (sanitizer build)
# and `make test-plain`.  Exits non-zero on any failure, sanitizer report or
# leftover process; the last line is "N passed, N failed".
#
#   scripts/test.sh                 every test
#   scripts/test.sh delivery kv     only tests whose name contains a word given
#
# The suites run in lanes (CB_TEST_LANES, default one more than the cores,
# at most 3), each lane against a
# private stack of its own (its own Postgres, Redis, nginx, worker and fakes),
# so a suite that restarts the worker, crashes Postgres or freezes Redis
# disturbs only its own lane.  The lanes take suites from one queue, slowest
# first, and their reports are printed one lane after the other.
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

# Lane N draws its ports from its own range (20000 + 2000 N, 2000 ports), so
# two lanes starting at once never pick the same free port (scripts/ports.sh).
lane=${CB_TEST_LANE:-0}
# shellcheck source=ports.sh
. "$repo/scripts/ports.sh"

# Every suite the filters want, slowest first (known slow ones, then the
# integration suites, the scripts and the unit suites in name order): the
# lanes' queue.
slow_first=(bench-smoke.sh test_channel test_twonode test_auth test_approvals test_engine browser.sh fuzz.sh valgrind.sh static.sh test_chaos
	test_backup test_alerts test_calls test_webhooks test_sinkfaults install.sh clone-anywhere.sh)
queue_items() {
	local f t
	for f in "${slow_first[@]}"; do
		for t in "$CB_BUILD"/tests/integration/"$f" "$repo"/tests/scripts/"$f"; do
			[ -x "$t" ] && wanted "$f" && echo "$t"
		done
	done
	for t in "$CB_BUILD"/tests/integration/* "$repo"/tests/scripts/*.sh "$CB_BUILD"/tests/unit/*; do
		[ -x "$t" ] && wanted "$(basename "$t")" || continue
		[[ " ${slow_first[*]} " == *" $(basename "$t") "* ]] || echo "$t"
	done
}

if [ -z "${CB_TEST_LANE:-}" ]; then
	t_start=$(date +%s)
	# One lane more than the cores (at most 3): the suites wait on timers and
	# servers much of the time (2 cores: 3 lanes kept them 80 % busy, 235 s
	# against 313 s for 2 lanes).
	cores=$(nproc 2>/dev/null || echo 2)
	lanes=${CB_TEST_LANES:-$(( cores + 1 > 3 ? 3 : cores + 1 ))}
	[[ $lanes =~ ^[1-4]$ ]] || { echo "CB_TEST_LANES must be 1 to 4"; echo "0 passed, 1 failed"; exit 1; }
	qdir=$(mktemp -d)
	chmod 0755 "$qdir"
	queue_items >"$qdir/queue"
	n=$(grep -c . "$qdir/queue")
	(( n < lanes )) && lanes=$(( n > 0 ? n : 1 ))
	echo "== $n suites in $lanes lane(s), each against its own stack"
	pids=()
	for ((i = 1; i <= lanes; i++)); do
		CB_TEST_LANE=$i CB_TEST_QUEUE="$qdir/queue" "$0" "$@" >"$qdir/lane$i.out" 2>&1 &
		pids+=($!)
	done
	trap 'kill "${pids[@]}" 2>/dev/null; wait; rm -rf "$qdir"' INT TERM
	total_p=0 total_f=0 rc=0
	for ((i = 1; i <= lanes; i++)); do
		wait "${pids[$((i - 1))]}" || rc=1
		echo "== lane $i"
		sed '$d' "$qdir/lane$i.out"
		last=$(tail -n 1 "$qdir/lane$i.out")
		if [[ $last =~ ^([0-9]+)\ passed,\ ([0-9]+)\ failed$ ]]; then
			total_p=$((total_p + BASH_REMATCH[1])); total_f=$((total_f + BASH_REMATCH[2]))
		else
			echo "$last"; total_f=$((total_f + 1)); rc=1
		fi
	done
	# The run in a few lines at the end, where a log's tail shows them: the
	# failed checks again, the slowest suites, and where the time went.
	if grep -qhE ':[FE]:|: FAIL' "$qdir"/lane*.out; then
		echo "== failed checks"
		grep -hE ':[FE]:|: FAIL' "$qdir"/lane*.out | cut -c1-400 | head -n 20
	fi
	echo "== slowest suites: $(grep -hE '^  \[[^]]*\] (ok, )?[0-9]+ s$' "$qdir"/lane*.out |
		sed -E 's/^  \[([^]]*)\] (ok, )?([0-9]+) s$/\3 \1/' | sort -rn | head -n 8 |
		awk '{printf "%s%s %s s", (NR > 1 ? ", " : ""), $2, $1}')"
	echo "== slowest cases: $(grep -hE '^  \[slow case\] ' "$qdir"/lane*.out | sed 's/^  \[slow case\] //' |
		sort -rn | head -n 8 | awk '{printf "%s%s %s s", (NR > 1 ? ", " : ""), $2, $1}')"
	before=
	[[ ${CB_MAKE_T0:-} =~ ^[0-9]+$ ]] && before="installing and building $(( t_start - CB_MAKE_T0 )) s, "
	echo "== time: ${before}suites $(( $(date +%s) - t_start )) s in $lanes lane(s) on $(nproc) cores (load $(cut -d' ' -f1-3 /proc/loadavg))"
	rm -rf "$qdir"
	(( total_f > 0 )) && rc=1
	echo "$total_p passed, $total_f failed"
	exit "$rc"
fi

# A lane: the queue is this run's; the suites must not see it (the
# clone-anywhere test runs a scripts/test.sh of its own).
queue=$CB_TEST_QUEUE
unset CB_TEST_LANE CB_TEST_QUEUE
# The next suite of the queue for this lane, or nothing when it is empty.
next_item() {
	local n
	{
		flock 9
		n=$(cat "$queue.next" 2>/dev/null || echo 0)
		echo $((n + 1)) >"$queue.next"
	} 9>>"$queue.lock"
	sed -n "$((n + 1))p" "$queue"
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
for v in CB_PORT_HTTP CB_PORT_HTTPS CB_PORT_PG CB_PORT_REDIS CB_PORT_WS CB_PORT_FAKESF \
	CB_PORT_FAKEHOOKS CB_PORT_OPS CB_PORT_PROM CB_PORT_FAKESF2; do
	free_port "$v" $((20000 + lane * 2000)) 2000 || { echo "no free port for $v"; echo "0 passed, 1 failed"; exit 1; }
done
export CB_PORT_HTTP CB_PORT_HTTPS CB_PORT_PG CB_PORT_REDIS CB_PORT_WS CB_PORT_FAKESF CB_PORT_FAKEHOOKS
export CB_PORT_OPS CB_PORT_PROM
# Prometheus scrapes /metrics and evaluates its rules every second: test_metrics
# sees a counter move through its HTTP API within a few seconds.
export CB_PROM_SCRAPE_INTERVAL=1s
# test_sforgs runs a second fake Salesforce org (its own cb-fake-sf) on this
# port for a tenant's own connection: the worker may reach it.
export CB_PORT_FAKESF2 CB_EGRESS_PRIVATE_ALLOW="127.0.0.1:$CB_PORT_FAKESF2"
export CB_LOG_LEVEL=${CB_LOG_LEVEL:-info}
# Short clocks so retries, leases and timeouts happen within a test's time.
export CB_OUTBOX_SCHEDULE=0,100ms,200ms,400ms
export CB_OUTBOX_LEASE_S=3 CB_SF_TIMEOUT_MS=2000 CB_SF_PROBE_S=2 CB_WEBHOOK_TIMEOUT_MS=1500 CB_SLACK_TIMEOUT_MS=1500
# The retention duty purges every second (its lifetimes keep their defaults:
# suites make rows old by moving their timestamps back).
export CB_RETAIN_INTERVAL_S=1
# Its batches and pauses, stated (test_retention checks a big purge is paced by them).
export CB_RETAIN_BATCH=500 CB_RETAIN_PAUSE_MS=50
# Retention by class: 3 rows a batch, so test_retclass sees several batches.
export CB_RETAIN_CLASS_BATCH=3
# An open Redis circuit breaker waits this long before its probe: longer than
# the failfast suite's measured run on a quiet machine (it judges only the
# answers that start before a probe could come), and short enough that a
# breaker opened by a loaded machine's slow moment heals within a case.
export CB_KV_BREAKER_COOLOFF_MS=10000
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
# A tenant's Salesforce key rotation: the next key's overlap, and the key
# age that warns, stated (test_sforgs sees a promotion after 5 s, and a
# 70-day-old key warned about, which the defaults of a day and 90 would not).
export CB_SF_KEY_OVERLAP_S=5 CB_SF_KEY_WARN_DAYS=60
# Residency: this deployment is in region us; which host is in which region
# (test_sforgs pins tenants and is refused a destination in another).
export CB_REGION=us CB_REGION_HOSTS="127.0.0.1=us,localhost=eu,.eu.example.test=eu,.us.example.test=us"
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
# Call feeds per tenant: test_callfeed opens one more than this.
export CB_WS_MAX_FEEDS_PER_ORG=2
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

# One suite; Check's XML report gives each case's seconds: the cases over
# 3 s are listed ("[slow case]"), for the summary at the end of the run.
run_one() {
	local bin=$1 out rc t0=$SECONDS xml
	xml="$state/ck-$(basename "$bin").xml"
	out=$(CK_XML_LOG_FILE_NAME="$xml" timeout 600 "$bin" 2>&1)
	rc=$?
	tally "$bin" "$out" "$rc" $((SECONDS - t0))
	[ -f "$xml" ] && awk -v suite="$(basename "$bin")" '
		/<id>/ { gsub(/.*<id>|<\/id>.*/, ""); id = $0 }
		/<\/test>/ { id = "" }
		/<duration>/ && id != "" { gsub(/.*<duration>|<\/duration>.*/, ""); if ($0 + 0 >= 3)
			printf "  [slow case] %.1f %s:%s\n", $0, suite, id }' "$xml"
	rm -f "$xml"
}

echo "== suites (lane $lane)"
while t=$(next_item) && [ -n "$t" ]; do
	case $t in
	*.sh)
		name="scripts/$(basename "$t")"
		t0=$SECONDS
		# `make valgrind` runs every unit suite under valgrind: longer.
		if out=$(timeout "${CB_SCRIPT_TIMEOUT:-600}" "$t" 2>&1); then
			passed=$((passed + 1)); echo "  [$name] ok, $((SECONDS - t0)) s"
		else
			failed=$((failed + 1)); failures+=("$name"); printf '%s\n' "$out" | sed "s|^|  [$name] |" | tail -n 30
		fi
		;;
	*) run_one "$t" ;;
	esac
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
# No personal data in the broker's logs, masked or not at all: the names the
# suites submitted (test_record_personal) and anything shaped like an
# unmasked email address or E.164 phone number.  The fakes' logs are not
# scanned (they stand in for the systems that do receive the data), nor
# Prometheus's (its build information names its packager's address).
personal="$state/all-personal.txt"
: >"$personal"
[ -f "$state/test-personal.txt" ] && sort -u "$state/test-personal.txt" >"$personal"
mapfile -t blogs < <(find "$state/log" -type f ! -name '*fake*' ! -name 'prometheus*')
pii_hits=()
if (( ${#blogs[@]} > 0 )); then
	if [ -s "$personal" ]; then
		mapfile -t -O "${#pii_hits[@]}" pii_hits < <(grep -nF -f "$personal" "${blogs[@]}" | cut -d: -f1,2)
	fi
	mapfile -t -O "${#pii_hits[@]}" pii_hits < <(grep -nE \
		-e '[A-Za-z0-9._%+-]{2,}@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}' \
		-e '\+[1-9][0-9]{7,14}' "${blogs[@]}" | cut -d: -f1,2)
fi
if (( ${#pii_hits[@]} > 0 )); then
	failed=$((failed + 1)); failures+=("personal data in logs at: ${pii_hits[*]:0:10}")
else
	echo "== log scan: no personal data ($(grep -c . "$personal") submitted names, emails and phones by shape) in ${#blogs[@]} broker log files"
	passed=$((passed + 1))
fi
rm -f "$personal"

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
