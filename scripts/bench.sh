#!/usr/bin/env bash
# Benchmark the broker through nginx on a private stack of its own.
#
# usage: scripts/bench.sh        (`make bench` runs it after building build/)
#
# Brings up a stack from the plain build (build/, no sanitizers) on free
# loopback ports with its state under var/bench-$$, seeds a tenant, runs wrk
# over plain HTTP against three routes, then measures agent-to-tab latency
# over the tab channel, prints one table, and stops the stack (trap).
# Bounded: every wrk run lasts BENCH_DURATION, the latency burst at most 60 s.
#
# Environment (defaults in brackets):
#   BENCH_THREADS   wrk threads                               [2]
#   BENCH_CONNS     wrk connections                           [50]
#   BENCH_DURATION  each wrk run                              [10s]
#   BENCH_CONTEXTS  tab contexts the command run spreads over [32]
#   BENCH_BURST     commands in the agent-to-tab burst        [200]
#   BENCH_KEEP      1: keep var/bench-$$ (logs) afterwards    [0]
#   BENCH_DELIVERIES  rows drained in the delivery runs        [20000]
#   BENCH_SF_LATENCY  injected upstream latency per call, ms   [100]
#   CB_BUILD        build directory                           [<repo>/build]
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
THREADS=${BENCH_THREADS:-2}
CONNS=${BENCH_CONNS:-50}
DURATION=${BENCH_DURATION:-10s}
NCTX=${BENCH_CONTEXTS:-32}
BURST=${BENCH_BURST:-200}
NDELIV=${BENCH_DELIVERIES:-20000}
SF_LAT=${BENCH_SF_LATENCY:-100}
export CB_BUILD=${CB_BUILD:-$REPO/build}

say() { printf 'bench: %s\n' "$*" >&2; }
die() { printf 'bench: error: %s\n' "$*" >&2; exit 1; }

[ "$(id -u)" -eq 0 ] || die "run as root (scripts/stack.sh starts the stack as cbroker)"
for v in THREADS CONNS NCTX BURST NDELIV SF_LAT; do
    [[ ${!v} =~ ^[1-9][0-9]*$ ]] || die "BENCH_$v must be a positive integer"
done
[[ $DURATION =~ ^[1-9][0-9]*[smh]?$ ]] || die "BENCH_DURATION must look like 10s"
command -v wrk >/dev/null || die "wrk is not installed (apt-get install wrk; make deps installs it)"
command -v curl >/dev/null || die "curl is not installed"
for b in cb-admin forms submit commands contexts cb-worker; do
    [ -x "$CB_BUILD/bin/$b" ] || die "$CB_BUILD/bin/$b is not built (make)"
done

free_port() {
    local p
    for _ in $(seq 1 200); do
        p=$(( (RANDOM % 20000) + 30000 ))
        # USED_PORTS: those taken by this script already (nothing listens yet).
        if ! ss -Htan "( sport = :$p )" 2>/dev/null | grep -q . && [[ " ${USED_PORTS:-} " != *" $p "* ]]; then
            echo "$p"
            return 0
        fi
    done
    return 1
}

USED_PORTS=
STATE=$REPO/var/bench-$$
export CB_STATE=$STATE
for v in CB_PORT_HTTP CB_PORT_HTTPS CB_PORT_PG CB_PORT_REDIS CB_PORT_WS CB_PORT_FAKESF CB_PORT_FAKEHOOKS; do
    p=$(free_port) || die "no free port"
    USED_PORTS="$USED_PORTS $p"
    export "$v=$p"
done
unset CB_SF_CLIENT_ID CB_CONFIG_FILE
# The delivery runs put more records in the fake than its default cap.
export CB_FAKESF_MAX_RECORDS=$(( NDELIV * 3 + 10000 ))
WORK=$STATE/bench
CLIENT_PID=

cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    if [ -n "$CLIENT_PID" ] && kill -0 "$CLIENT_PID" 2>/dev/null; then
        kill "$CLIENT_PID" 2>/dev/null || true
    fi
    say "stopping the bench stack"
    "$REPO/scripts/stack.sh" stop >/dev/null 2>&1 || say "warning: stack.sh stop failed (state kept in $STATE)"
    if [ "${BENCH_KEEP:-0}" = 1 ] || [ "$rc" -ne 0 ]; then
        say "state and logs kept in $STATE"
    else
        rm -rf "$STATE"
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

say "starting a stack from $CB_BUILD in $STATE"
if ! "$REPO/scripts/stack.sh" start >"$STATE.start.log" 2>&1; then
    cat "$STATE.start.log" >&2
    rm -f "$STATE.start.log"
    die "the stack did not start"
fi
rm -f "$STATE.start.log"
# shellcheck disable=SC1091
. "$STATE/stack.env"
mkdir -p "$WORK"

# ------------------------------------------------------------------ seed
json_str() {
    sed -n 's/.*"'"$2"'"[[:space:]]*:[[:space:]]*"\([^"\\]*\)".*/\1/p' <<<"$1" | head -n 1
}
admin() { "$CB_BUILD/bin/cb-admin" "$@"; }

slug=bench-$$
admin org-create "$slug" 'Bench tenant' >/dev/null
FORM=$(json_str "$(admin form-create "$slug" 'Contact us' "$REPO/docs/examples/contact-form.json")" form_id)
[ -n "$FORM" ] || die "form-create failed"
admin policy-set "$FORM" set_field,focus,highlight,show_message \
    '#email,#full_name,#topic,#message,#subscribe' 6000 >/dev/null
AGENT=$(json_str "$(admin agent-create "$slug" bench-agent)" agent_id)
KEY=$(json_str "$(admin key-create "$AGENT")" api_key)
[ -n "$KEY" ] || die "key-create failed"

open_ctx() {
    curl -sf --max-time 5 -X POST -H 'Content-Type: application/json' \
        --data "{\"form_id\":\"$FORM\"}" "$CB_HTTP_URL/api/v1/contexts"
}
c=$(open_ctx) || die "POST /api/v1/contexts failed"
TOKEN=$(json_str "$c" tab_token)
CTXS=()
for _ in $(seq 1 "$NCTX"); do
    c=$(open_ctx) || die "POST /api/v1/contexts failed"
    CTXS+=("$(json_str "$c" ctx_ref)")
done
say "seeded tenant $slug: form $FORM, $NCTX contexts for commands"

# ------------------------------------------------------------------ wrk scripts
cat >"$WORK/submit.lua" <<'EOF'
-- POST submit; a unique Idempotency-Key per request: run prefix, thread id, counter.
local n = 0
local nthreads = 0
function setup(thread)
    nthreads = nthreads + 1
    thread:set("tid", nthreads)
end
function init(args)
    token, form, prefix = args[1], args[2], args[3]
    path = "/api/v1/forms/" .. form .. "/submit"
    body = '{"data":{"full_name":"Bench Mark","email":"bench@example.com","topic":"sales","message":"load test","subscribe":false}}'
end
function request()
    n = n + 1
    return wrk.format("POST", path, {
        ["Authorization"] = "Bearer " .. token,
        ["Content-Type"] = "application/json",
        ["Idempotency-Key"] = string.format('"%s-%d-%d"', prefix, tid, n),
    }, body)
end
EOF
cat >"$WORK/commands.lua" <<'EOF'
-- POST commands, round robin over many contexts (the rate limit is per tab);
-- a unique nonce per request: run prefix, thread id, counter.
local n = 0
local nthreads = 0
function setup(thread)
    nthreads = nthreads + 1
    thread:set("tid", nthreads)
end
function init(args)
    key, prefix = args[1], args[2]
    ctxs = {}
    for i = 3, #args do ctxs[#ctxs + 1] = "/api/v1/contexts/" .. args[i] .. "/commands" end
end
function request()
    n = n + 1
    local body = string.format(
        '{"type":"set_field","selector":"#email","value":"bench@example.com","nonce":"%s-%d-%d"}',
        prefix, tid, n)
    return wrk.format("POST", ctxs[(n + tid) % #ctxs + 1], {
        ["Authorization"] = "Bearer " .. key,
        ["Content-Type"] = "application/json",
    }, body)
end
EOF

# ------------------------------------------------------------------ runs
RESULTS=()
# wrk_run NAME OUTFILE ARGS...: run, keep the output, add one result line.
wrk_run() {
    local name=$1 out=$2 rps p50 p99 non2xx errs total
    shift 2
    say "wrk: $name (-t$THREADS -c$CONNS -d$DURATION)"
    wrk -t"$THREADS" -c"$CONNS" -d"$DURATION" --latency "$@" >"$out" 2>&1 || { cat "$out" >&2; die "wrk failed ($name)"; }
    rps=$(awk '/^Requests\/sec:/ { printf "%.0f", $2 }' "$out")
    p50=$(awk '/Latency Distribution/ { d = 1 } d && $1 == "50%" { print $2; exit }' "$out")
    p99=$(awk '/Latency Distribution/ { d = 1 } d && $1 == "99%" { print $2; exit }' "$out")
    total=$(awk '/requests in/ { print $1; exit }' "$out")
    non2xx=$(awk -F': ' '/Non-2xx or 3xx responses/ { print $2 }' "$out")
    errs=$(awk '/Socket errors/ { s = 0; for (i = 4; i <= NF; i += 2) { gsub(",", "", $i); s += $i } print s }' "$out")
    RESULTS+=("$(printf '%-30s %9s %10s %10s %10s %9s %7s' "$name" "${rps:-?}" "${p50:-?}" "${p99:-?}" \
        "${total:-?}" "${non2xx:-0}" "${errs:-0}")")
}

prefix="b$$-$(date +%s)"
wrk_run "form load (GET forms/{id})" "$WORK/forms.txt" \
    -H "Authorization: Bearer $TOKEN" "$CB_HTTP_URL/api/v1/forms/$FORM"
wrk_run "submit (POST, unique keys)" "$WORK/submit.txt" \
    -s "$WORK/submit.lua" "$CB_HTTP_URL" -- "$TOKEN" "$FORM" "$prefix"
wrk_run "command accept (POST, 202)" "$WORK/commands.txt" \
    -s "$WORK/commands.lua" "$CB_HTTP_URL" -- "$KEY" "$prefix" "${CTXS[@]}"

# ------------------------------------------------------------------ agent -> tab latency
LATENCY="agent-to-tab latency: not measured"
if modules=$("$REPO/tests/browser/install.sh" 2>"$WORK/install.log"); then
    cat >"$WORK/latency.mjs" <<'EOF'
// Hold one tab's WebSocket; send a burst of commands over HTTP; for each,
// time from its HTTP 202 to its frame on the socket.  Receipts go back at
// once, so the channel's window of 2 keeps moving.
import { createRequire } from 'node:module';
import { performance } from 'node:perf_hooks';

const require = createRequire(process.env.CB_NODE_MODULES + '/x.js');
const WebSocket = require('ws');
const base = process.env.CB_HTTP_URL, key = process.env.BENCH_KEY, form = process.env.BENCH_FORM;
const N = Number(process.env.BENCH_BURST), PARALLEL = 4;
const acked = new Map(), arrived = new Map();
const fail = (m) => { console.log(`FAIL ${m}`); process.exit(1); };
setTimeout(() => fail(`timed out: ${acked.size} accepted, ${arrived.size} frames of ${N}`), 60000).unref();

const post = async (path, body, auth) => {
	const h = { 'Content-Type': 'application/json' };
	if (auth) h.Authorization = `Bearer ${auth}`;
	const r = await fetch(base + path, { method: 'POST', headers: h, body: JSON.stringify(body) });
	return { status: r.status, json: await r.json().catch(() => null) };
};
const c = await post('/api/v1/contexts', { form_id: form });
if (c.status !== 201) fail(`context: ${c.status}`);
const ctx = c.json.ctx_ref;
const ws = new WebSocket(`${base.replace(/^http/, 'ws')}/ws/ctx/${ctx}`, 'cb.tab.v1');
let t0 = 0, tEnd = 0;
const done = new Promise((resolve) => {
	ws.on('open', () => ws.send(JSON.stringify({ type: 'auth', token: c.json.tab_token, last_seq: 0 })));
	ws.on('message', (data) => {
		const now = performance.now();
		const m = JSON.parse(String(data));
		if (m.type === 'ready') burst();
		if (m.type === 'command') {
			arrived.set(m.id, now);
			ws.send(JSON.stringify({ type: 'receipt', seq: m.seq, status: 'applied' }));
			if (arrived.size === N) { tEnd = now; resolve(); }
		}
		if (m.type === 'error' || m.type === 'resync') fail(`channel: ${String(data)}`);
	});
	ws.on('close', (code) => { if (arrived.size < N) fail(`channel closed ${code}`); });
	ws.on('error', (e) => fail(`channel: ${e.message}`));
});
async function burst() {
	t0 = performance.now();
	let next = 0;
	const worker = async () => {
		while (next < N) {
			const i = next++;
			const r = await post(`/api/v1/contexts/${ctx}/commands`,
			    { type: 'set_field', selector: '#email', value: `n${i}@example.com`, nonce: `lat-${process.pid}-${i}` }, key);
			if (r.status !== 202) fail(`command ${i}: ${r.status} ${JSON.stringify(r.json)}`);
			acked.set(r.json.id, performance.now());
		}
	};
	await Promise.all(Array.from({ length: PARALLEL }, worker));
}
await done;
let early = 0;
const latencies = (ids) => {
	const lat = [];
	for (const id of ids) {
		const d = arrived.get(id) - acked.get(id);
		if (d < 0) early++;
		lat.push(Math.max(0, d));
	}
	lat.sort((a, b) => a - b);
	const pct = (p) => lat[Math.min(lat.length - 1, Math.ceil((p / 100) * lat.length) - 1)].toFixed(2) + 'ms';
	return { p50: pct(50), p99: pct(99), max: pct(100) };
};
const b = latencies([...arrived.keys()]);

// Then one command at a time, each sent after the previous one's frame: the
// latency of an idle channel, without the burst's queueing.
const SOLO = 30;
const solo = [];
let wake = null;
ws.removeAllListeners('message');
ws.on('message', (data) => {
	const now = performance.now();
	const m = JSON.parse(String(data));
	if (m.type !== 'command') return;
	arrived.set(m.id, now);
	ws.send(JSON.stringify({ type: 'receipt', seq: m.seq, status: 'applied' }));
	if (wake) wake();
});
for (let i = 0; i < SOLO; i++) {
	const seen = new Promise((resolve) => { wake = resolve; });
	const r = await post(`/api/v1/contexts/${ctx}/commands`,
	    { type: 'focus', selector: '#email', nonce: `solo-${process.pid}-${i}` }, key);
	if (r.status !== 202) fail(`solo command ${i}: ${r.status}`);
	acked.set(r.json.id, performance.now());
	while (!arrived.has(r.json.id)) await seen;
	solo.push(r.json.id);
	await new Promise((resolve) => setTimeout(resolve, 20));
}
const s = latencies(solo);
ws.close();
console.log(`OK n=${N} p50=${b.p50} p99=${b.p99} max=${b.max} burst=${(tEnd - t0).toFixed(0)}ms ` +
    `rate=${(N / ((tEnd - t0) / 1000)).toFixed(0)} early=${early} solon=${SOLO} solop50=${s.p50} solop99=${s.p99}`);
EOF
    say "agent-to-tab latency: a burst of $BURST commands to one tab"
    CB_NODE_MODULES=$modules BENCH_KEY=$KEY BENCH_FORM=$FORM BENCH_BURST=$BURST CB_HTTP_URL=$CB_HTTP_URL \
        timeout 90 node "$WORK/latency.mjs" >"$WORK/latency.txt" 2>&1 &
    CLIENT_PID=$!
    wait "$CLIENT_PID" || true
    CLIENT_PID=
    line=$(tail -n 1 "$WORK/latency.txt")
    if [[ $line == OK* ]]; then
        declare -A L=()
        for kv in ${line#OK }; do
            [[ $kv =~ ^([a-z0-9]+)=([0-9A-Za-z./]+)$ ]] && L[${BASH_REMATCH[1]}]=${BASH_REMATCH[2]}
        done
        LATENCY=$(printf '%s\n%s' \
            "$(printf 'agent-to-tab, burst of %s commands (HTTP 202 -> frame): p50 %s  p99 %s  max %s  (all delivered in %s: %s commands/s; %s frames beat their 202)' \
                "${L[n]:-?}" "${L[p50]:-?}" "${L[p99]:-?}" "${L[max]:-?}" "${L[burst]:-?}" "${L[rate]:-?}" "${L[early]:-?}")" \
            "$(printf 'agent-to-tab, %s single commands on an idle channel:  p50 %s  p99 %s' \
                "${L[solon]:-?}" "${L[solop50]:-?}" "${L[solop99]:-?}")")
    else
        LATENCY="agent-to-tab latency: FAILED: $line"
    fi
else
    LATENCY="agent-to-tab latency: not measured (installing the ws client failed: $(tail -n 1 "$WORK/install.log"))"
fi

# ------------------------------------------------------------------ delivery
# Drain NDELIV queued Salesforce rows into the fake, with SF_LAT ms and then
# 0 ms of latency injected per call, and count the token mints.  The rows
# are queued while the sink is paused (sink_pauses), so the run measures the
# drain alone; they carry their field map in the clear (the pre-sealing row
# format the worker still delivers), which skips one decryption per row.
psql_app() { psql "$CB_PG_DSN" -X -q -t -A -v ON_ERROR_STOP=1 "$@"; }
fake() { curl -sf --max-time 10 -X "$1" ${3:+-H 'Content-Type: application/json' --data "$3"} "$CB_FAKESF_URL$2"; }
fake_stat() { fake GET /__fake/stats | sed -n 's/.*"'"$1"'"[[:space:]]*:[[:space:]]*\([0-9]*\).*/\1/p'; }
delivery_run() {   # NAME LATENCY_MS -> one result line in DELIVERY
    local name=$1 lat=$2 t0 t1 left mints0 mints calls0 calls secs
    psql_app -c "INSERT INTO sink_pauses (sink, until, reason) VALUES ('salesforce', now() + interval '1 hour', 'bench: queueing')
                 ON CONFLICT (sink) DO UPDATE SET until = EXCLUDED.until" >/dev/null
    psql_app -c "INSERT INTO outbox (org_id, kind, ref_id, payload)
        SELECT g.id, 'salesforce.upsert', u, jsonb_build_object('sobject', 'Form_Submission__c',
               'ext_field', 'Broker_Submission_Id__c', 'ext_value', u::text,
               'fields', jsonb_build_object('Full_Name__c', 'Bench ' || i, 'Email__c', 'b' || i || '@example.com'))
        FROM orgs g, (SELECT gen_random_uuid() AS u, i FROM generate_series(1, $NDELIV) i) x
        WHERE g.slug = '$slug'" >/dev/null
    fake DELETE /__fake/faults >/dev/null || true
    [ "$lat" -gt 0 ] && fake POST /__fake/faults "{\"target\":\"any\",\"kind\":\"latency\",\"latency_ms\":$lat,\"count\":100000}" >/dev/null
    mints0=$(fake_stat token_requests); calls0=$(fake_stat api_usage)
    t0=$(date +%s.%N)
    psql_app -c "DELETE FROM sink_pauses WHERE sink = 'salesforce'" >/dev/null
    for _ in $(seq 1 600); do
        left=$(psql_app -c "SELECT count(*) FROM outbox WHERE kind = 'salesforce.upsert' AND state IN ('pending', 'running')")
        [ "$left" = 0 ] && break
        sleep 0.2
    done
    t1=$(date +%s.%N)
    mints=$(( $(fake_stat token_requests) - mints0 )); calls=$(( $(fake_stat api_usage) - calls0 ))
    secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }')
    fake DELETE /__fake/faults >/dev/null || true
    if [ "$left" != 0 ]; then
        DELIVERY+=("$(printf '%-30s %s rows still queued after 120 s' "$name" "$left")")
        return
    fi
    DELIVERY+=("$(printf '%-30s %9s %8s s %7s %6s %8s' "$name" \
        "$(awk -v n="$NDELIV" -v s="$secs" 'BEGIN { printf "%.0f", n / s }')" "$secs" "$NDELIV" "$calls" "$mints")")
}
DELIVERY=()
if [ -n "${CB_FAKESF_URL:-}" ] && command -v psql >/dev/null; then
    say "delivery: draining $NDELIV rows with ${SF_LAT} ms per call, then 0 ms"
    delivery_run "delivery, ${SF_LAT} ms upstream" "$SF_LAT"
    delivery_run "delivery, 0 ms upstream" 0
    delivered=$(psql_app -c "SELECT count(*) FROM outbox WHERE kind = 'salesforce.upsert' AND state = 'done'")
    records=$(fake_stat records)
    all_mints=$(fake_stat token_requests)
else
    DELIVERY+=("delivery: not measured (no fake Salesforce or no psql)")
fi

# ------------------------------------------------------------------ report
cpus=$(nproc)
cat <<EOF

== Context Broker benchmark: nginx -> FastCGI, plain HTTP, $cpus cores, wrk -t$THREADS -c$CONNS -d$DURATION
$(printf '%-30s %9s %10s %10s %10s %9s %7s' route req/s p50 p99 requests non-2xx errors)
$(printf '%s\n' "${RESULTS[@]}")

$LATENCY

$(printf '%-30s %9s %10s %7s %6s %8s' 'delivery (CB_OUTBOX_CONCURRENCY='"${CB_OUTBOX_CONCURRENCY:-16}"')' rows/s elapsed rows calls mints)
$(printf '%s\n' "${DELIVERY[@]}")
${delivered:+salesforce rows done: $delivered; records in the fake: $records (submit run included); token mints in the whole run: $all_mints}

Reference points (from the issue, same 2-core class of machine):
  bare FastCGI responder doing one Redis GET, through nginx   ~22,000 req/s
  pgbench, two-insert transactions committed                  ~10,000 tx/s
  form load = tab token, definition and current version: process cache, then Redis, then Postgres;
  submit = idempotency key + submission + outbox row in one Postgres transaction;
  command accept = API key, then context + policy (Postgres, one query), rate limit (Redis), one insert.
EOF
