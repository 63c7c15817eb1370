#!/usr/bin/env bash
# Benchmark the broker through nginx on a private stack of its own, against
# references measured in the same run, and print each figure's ratio to its
# target.  A measurement, not a test: it exits 0 when targets are missed
# (printed MISS); non-zero only when it could not measure.
#
# usage: scripts/bench.sh        (`make bench` runs it after building build/)
#
# Brings up a stack from the plain build (build/, no sanitizers) on free
# loopback ports with its state under var/bench-$$, seeds a tenant, and runs:
#   - wrk (THREADS threads, CONNS connections, DURATION each) over plain HTTP:
#     form load, and the bare FastCGI reference (tools/bench/cb-bench-fixed:
#     the same body, behind the same nginx, in a location only the bench
#     stack has); submit, then pgbench with the rows a submit writes
#     (scripts/bench/pg-submit.sql); command accept, then pgbench with the
#     rows a command accept writes (scripts/bench/pg-command.sql); pgbench
#     at CONNS clients, THREADS threads, the same duration, against the
#     stack's own Postgres as the broker's role;
#   - agent to tab (tools/bench/cb-bench-tabs): TABS tab WebSockets through
#     nginx, commands offered open-loop at TAB_RATE/s across them, 202 ->
#     frame latency; then IDLE single commands on an idle channel;
#   - delivery (scripts/bench/delivery.sh): queued Salesforce rows drained
#     into the fake;
#   - calls (scripts/bench/calls.sh): signed inbound call events, new each,
#     against the submit route's throughput in the same run;
#   - approvals (scripts/bench/approvals.sh): commands held for a person,
#     each approved by a signed Slack click: click -> frame, and creation;
#   - observe (scripts/bench/observe.sh): the form load with metrics and
#     tracing on against both off (two edges side by side, taking turns);
# then prints the figures, one summary table (figure, reference, ratio,
# target, PASS/MISS), and stops the stack (trap).  Exit status: 0 when
# everything was measured, targets met or not; 3 when a reference or a run
# could not be measured (a pgbench script the schema refuses, a failed
# agent-to-tab run: printed as "not measured"); 1 when the stack or the
# seeding failed.  During the HTTP runs the
# Salesforce sink is paused, so the worker's deliveries do not run beside
# them; the rows those runs queue are dropped before the delivery section.
#
# Environment (defaults in brackets):
#   BENCH_THREADS     wrk threads, pgbench threads             [2]
#   BENCH_CONNS       wrk connections, pgbench clients         [16]
#   BENCH_DURATION    each wrk and pgbench run                 [10s]
#   BENCH_CONTEXTS    tabs the submit and command runs spread over [100]
#   BENCH_TABS        tab WebSockets of the agent-to-tab run   [100]
#   BENCH_TAB_RATE    commands per second offered across them  [2000]
#   BENCH_TAB_SECONDS length of the agent-to-tab run           [BENCH_DURATION]
#   BENCH_TAB_SENDERS agent HTTP connections offering them     [64]
#   BENCH_IDLE        single commands on an idle channel       [200]
#   BENCH_ONLY        sections to run, comma-separated: http (wrk and
#                     pgbench), tabs (agent to tab), delivery, calls, approvals,
#                     observe (metrics and tracing on versus off)
#                                          [http,tabs,delivery,calls,approvals,observe]
#   BENCH_CALLS_POOL  signed call events prepared for the calls run [5000 a second]
#   BENCH_KEEP        1: keep var/bench-$$ (logs) afterwards   [0]
#   BENCH_DELIVERIES  rows drained in the delivery runs        [20000]
#   BENCH_SF_LATENCY  injected upstream latency per call, ms   [100]
#   BENCH_APPR_RATE   approvals offered per second             [50]
#   BENCH_APPR_TABS   tabs they spread over                    [50]
#   BENCH_OBS_ROUNDS  on/off rounds of the observe section, before and
#                     again after the edges swap roles        [20]
#   BENCH_OBS_SECONDS each of its runs, seconds                [1]
#   BENCH_OBS_WARM    seconds of load, not counted, warming an edge [2]
#   CB_BUILD          build directory                          [<repo>/build]
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
THREADS=${BENCH_THREADS:-2}
CONNS=${BENCH_CONNS:-16}
DURATION=${BENCH_DURATION:-10s}
NCTX=${BENCH_CONTEXTS:-100}
TABS=${BENCH_TABS:-100}
TAB_RATE=${BENCH_TAB_RATE:-2000}
TAB_SENDERS=${BENCH_TAB_SENDERS:-64}
IDLE=${BENCH_IDLE:-200}
NDELIV=${BENCH_DELIVERIES:-20000}
SF_LAT=${BENCH_SF_LATENCY:-100}
ONLY=${BENCH_ONLY:-http,tabs,delivery,calls,approvals,observe}
APPR_RATE=${BENCH_APPR_RATE:-50}
APPR_TABS=${BENCH_APPR_TABS:-50}
APPR_SENDERS=16
export CB_BUILD=${CB_BUILD:-$REPO/build}

# The targets (ratios to a reference measured in this run, or ceilings).
T_FORM=0.90       # form load >= 0.9x the bare FastCGI reference
T_WRITE=0.75      # submit, command accept >= 0.75x their pgbench references
T_WRITE_P99=10    # ms, p99 of submit, command accept and call events
T_CALLS=1.0       # call events >= 1x the submit route in the same run
T_TAB_P99=20      # ms, 202 -> frame p99 with TABS tabs at TAB_RATE/s
T_IDLE_P99=2      # ms, 202 -> frame p99 on an idle channel
T_APPR_DECIDE_P99=250  # ms, signed Slack click -> frame p99 (seed 004; our aim: 20)
T_APPR_CREATE_P95=120  # ms, command sent -> its approval message at the fake Slack, p95

say() { printf 'bench: %s\n' "$*" >&2; }
die() { printf 'bench: error: %s\n' "$*" >&2; exit 1; }

[ "$(id -u)" -eq 0 ] || die "run as root (scripts/stack.sh starts the stack as cbroker)"
[[ $DURATION =~ ^[1-9][0-9]*[smh]?$ ]] || die "BENCH_DURATION must look like 10s"
. "$REPO/scripts/bench/lib.sh"
TAB_SECONDS=${BENCH_TAB_SECONDS:-$(dur_s "$DURATION")}
APPR_SECONDS=$TAB_SECONDS
for v in THREADS CONNS NCTX TABS TAB_RATE TAB_SECONDS TAB_SENDERS NDELIV SF_LAT APPR_RATE APPR_TABS; do
    [[ ${!v} =~ ^[1-9][0-9]*$ ]] || die "BENCH_$v must be a positive integer"
done
[[ $IDLE =~ ^[0-9]+$ ]] || die "BENCH_IDLE must be a number"
[[ ,$ONLY, =~ ^(,(http|tabs|delivery|calls|approvals|observe))+,$ ]] || die "BENCH_ONLY must list http, tabs, delivery, calls, approvals, observe (comma-separated)"
run_section() { [[ ,$ONLY, == *,$1,* ]]; }
for t in wrk curl "$PGBENCH" psql; do
    command -v "$t" >/dev/null || die "$t is not installed (make deps installs it)"
done
for b in cb-admin forms submit commands contexts calls cb-worker cb-bench-fixed cb-bench-tabs cb-bench-calls; do
    [ -x "$CB_BUILD/bin/$b" ] || die "$CB_BUILD/bin/$b is not built (make bench builds it)"
done
. "$REPO/scripts/bench/pg.sh"
. "$REPO/scripts/bench/delivery.sh"
. "$REPO/scripts/bench/calls.sh"
. "$REPO/scripts/bench/approvals.sh"
. "$REPO/scripts/bench/observe.sh"

# shellcheck source=ports.sh
. "$REPO/scripts/ports.sh"

pick_ports() {
    local v
    for v in CB_PORT_HTTP CB_PORT_HTTPS CB_PORT_PG CB_PORT_REDIS CB_PORT_WS CB_PORT_FAKESF CB_PORT_FAKEHOOKS \
        CB_PORT_OPS CB_PORT_PROM; do
        free_port "$v" 10000 10000 || die "no free port"
        export "${v?}"
    done
}
STATE=$REPO/var/bench-$$
export CB_STATE=$STATE
unset CB_SF_CLIENT_ID CB_CONFIG_FILE
# The delivery runs put more records in the fake than its default cap.
export CB_FAKESF_MAX_RECORDS=$(( NDELIV * 3 + 10000 ))
WORK=$STATE/bench
# The bench stack's route table: the product's, plus the bare reference at
# /bench/fixed (served like any responder, so behind the same nginx
# location shape).  The reference answers the bytes of this file, written
# once the form exists.
export CB_ROUTES=$REPO/var/bench-$$.routes.tab
export CB_BENCH_FIXED_BODY=$WORK/fixed.json
# Every tab of the agent-to-tab run connects from 127.0.0.1: the channel's
# cap of WebSockets per client address must let them all in.
export CB_WS_MAX_PER_ADDR=$(( TABS + 64 ))
# The calls run's tenant is on the free plan: its call events a minute out of the way.
export CB_QUOTA_FREE_CALL_EVENTS_PER_MIN=100000000
FORMS_PROCS=$(awk '$3 == "forms" { print $4; exit }' "$REPO/routes.tab")
TABS_PID=

cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    if [ -n "$TABS_PID" ] && kill -0 "$TABS_PID" 2>/dev/null; then
        kill "$TABS_PID" 2>/dev/null || true
    fi
    observe_stop
    say "stopping the bench stack"
    "$REPO/scripts/stack.sh" stop >/dev/null 2>&1 || say "warning: stack.sh stop failed (state kept in $STATE)"
    rm -f "$CB_ROUTES"
    if [ "${BENCH_KEEP:-0}" = 1 ] || [ "$rc" -ne 0 ]; then
        say "state and logs kept in $STATE"
    else
        rm -rf "$STATE"
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

mkdir -p "$REPO/var"
{ cat "$REPO/routes.tab"; printf 'GET /bench/fixed cb-bench-fixed %s 0 tab\n' "${FORMS_PROCS:-4}"; } >"$CB_ROUTES"
# A port found free may be taken by someone else before the stack binds it:
# then the stack rolls back, and another set of ports is tried.
for attempt in 1 2 3; do
    pick_ports
    say "starting a stack from $CB_BUILD in $STATE"
    "$REPO/scripts/stack.sh" start >"$STATE.start.log" 2>&1 && break
    if [ "$attempt" = 3 ] || ! grep -q 'already in use\|Address already in use' "$STATE.start.log"; then
        cat "$STATE.start.log" >&2
        rm -f "$STATE.start.log"
        die "the stack did not start"
    fi
    say "a port was taken meanwhile: trying other ports"
    "$REPO/scripts/stack.sh" stop >/dev/null 2>&1 || true
    rm -rf "$STATE"
done
rm -f "$STATE.start.log"
# shellcheck disable=SC1091
. "$STATE/stack.env"
mkdir -p "$WORK"
chmod 0755 "$WORK"

# ------------------------------------------------------------------ seed
json_str() {
    sed -n 's/.*"'"$2"'"[[:space:]]*:[[:space:]]*"\([^"\\]*\)".*/\1/p' <<<"$1" | head -n 1
}
admin() { "$CB_BUILD/bin/cb-admin" "$@"; }
psql_app() { psql "$CB_PG_DSN" -X -q -t -A -v ON_ERROR_STOP=1 "$@"; }

# No deliveries beside the HTTP runs (see the top).
psql_app -c "INSERT INTO sink_pauses (sink, until, reason) VALUES ('salesforce', now() + interval '1 day', 'bench: HTTP runs')
             ON CONFLICT (sink) DO UPDATE SET until = EXCLUDED.until" >/dev/null

slug=bench-$$
admin org-create "$slug" 'Bench tenant' >/dev/null
FORM=$(json_str "$(admin form-create "$slug" 'Contact us' "$REPO/docs/examples/contact-form.json")" form_id)
[ -n "$FORM" ] || die "form-create failed"
# The policy's rate is per tab and per minute; 6000/min (100/s, the most the
# schema allows) is well above what each run offers a tab: the command run
# spreads over NCTX tabs, the agent-to-tab run gives each tab TAB_RATE/TABS.
POLICY_RATE=6000
admin policy-set "$FORM" set_field,focus,highlight,show_message \
    '#email,#full_name,#topic,#message,#subscribe' "$POLICY_RATE" >/dev/null
AGENT=$(json_str "$(admin agent-create "$slug" bench-agent)" agent_id)
KEY=$(json_str "$(admin key-create "$AGENT")" api_key)
[ -n "$KEY" ] || die "key-create failed"
ORG_ID=$(psql_app -c "SELECT id FROM orgs WHERE slug = '$slug'")
WINDOW=$(psql_app -c "SELECT max_in_flight FROM agent_policies WHERE form_id = '$FORM'")
FORM_VER=$(psql_app -c "SELECT current_version FROM forms WHERE id = '$FORM'")
KEY_ID=$(psql_app -c "SELECT id FROM api_keys WHERE agent_id = '$AGENT'")

open_ctx() {
    curl -sf --max-time 5 -X POST -H 'Content-Type: application/json' \
        --data "{\"form_id\":\"$FORM\"}" "$CB_HTTP_URL/api/v1/contexts"
}
CTXS=()
TOKENS=()
for _ in $(seq 1 "$NCTX"); do
    c=$(open_ctx) || die "POST /api/v1/contexts failed"
    CTXS+=("$(json_str "$c" ctx_ref)")
    TOKENS+=("$(json_str "$c" tab_token)")
done
TOKEN=${TOKENS[0]}

# The form load answer, which the bare reference then answers byte for byte.
curl -sf --max-time 5 -H "Authorization: Bearer $TOKEN" -o "$WORK/form.json" \
    "$CB_HTTP_URL/api/v1/forms/$FORM" || die "GET /api/v1/forms/$FORM failed"
cp "$WORK/form.json" "$CB_BENCH_FIXED_BODY"
chmod 0644 "$CB_BENCH_FIXED_BODY"
FORM_BYTES=$(wc -c <"$WORK/form.json")
fixed_bytes=$(curl -sf --max-time 5 -o /dev/null -w '%{size_download}' "$CB_HTTP_URL/bench/fixed") \
    || die "the bare reference (GET /bench/fixed) did not answer 200"
[ "$fixed_bytes" = "$FORM_BYTES" ] || die "the bare reference answered $fixed_bytes bytes, the form $FORM_BYTES"
# One submit through the broker: the sealed texts pgbench copies.
st=$(curl -s --max-time 5 -o /dev/null -w '%{http_code}' -X POST -H "Authorization: Bearer $TOKEN" \
    -H 'Content-Type: application/json' -H "Idempotency-Key: \"seed-$$\"" \
    --data '{"data":{"full_name":"Bench Mark","email":"bench@example.com","topic":"sales","message":"load test","subscribe":false}}' \
    "$CB_HTTP_URL/api/v1/forms/$FORM/submit")
[ "$st" = 201 ] || die "the seed submit answered $st"
pg_prepare
say "seeded tenant $slug: form $FORM (answer $FORM_BYTES bytes), $NCTX tabs, $CONNS pgbench contexts"

# ------------------------------------------------------------------ wrk and pgbench, back to back
prefix="b$$-$(date +%s)"
if run_section http; then
wrk_run forms "form load (GET forms/{id})" -H "Authorization: Bearer $TOKEN" "$CB_HTTP_URL/api/v1/forms/$FORM"
wrk_run fixed "bare FastCGI, fixed body" "$CB_HTTP_URL/bench/fixed"
wrk_run submit "submit (POST, unique keys)" -s "$REPO/scripts/bench/submit.lua" "$CB_HTTP_URL" -- \
    "$FORM" "$prefix" "$THREADS" "${TOKENS[@]}"
pg_submit
wrk_run commands "command accept (POST, 202)" -s "$REPO/scripts/bench/commands.lua" "$CB_HTTP_URL" -- \
    "$KEY" "$prefix" "$THREADS" "${CTXS[@]}"
pg_command
pg_check
fi

# ------------------------------------------------------------------ metrics and tracing on/off
# Before the other sections: the edge is restarted between its runs.
run_section observe && observe_section

# ------------------------------------------------------------------ inbound call events
run_section calls && calls_section

# ------------------------------------------------------------------ agent -> tab
declare -A T=()
if run_section tabs; then
say "agent-to-tab: $TABS tabs, $TAB_RATE commands/s for $TAB_SECONDS s over $TAB_SENDERS connections, then $IDLE on an idle channel"
CB_HTTP_URL=$CB_HTTP_URL timeout $((TAB_SECONDS + 180)) "$CB_BUILD/bin/cb-bench-tabs" --form "$FORM" --key "$KEY" \
    --tabs "$TABS" --rate "$TAB_RATE" --seconds "$TAB_SECONDS" --senders "$TAB_SENDERS" --idle "$IDLE" \
    --window "$WINDOW" \
    >"$WORK/tabs.txt" 2>"$WORK/tabs.err" &
TABS_PID=$!
tabs_rc=0
wait "$TABS_PID" || tabs_rc=$?
TABS_PID=
if [ "$tabs_rc" -eq 0 ]; then
    while IFS='=' read -r k v; do
        [[ $k =~ ^[a-z0-9_.]+$ ]] && T[$k]=$v
    done <"$WORK/tabs.txt"
else
    say "agent-to-tab run failed ($tabs_rc): $(tail -n 1 "$WORK/tabs.err")"
    UNMEASURED+=("agent to tab: cb-bench-tabs exited $tabs_rc: $(tail -n 1 "$WORK/tabs.err" | cut -c1-160)")
fi
fi

# ------------------------------------------------------------------ delivery
# The HTTP runs' queued rows (and pgbench's, whose sealed payload is a copy)
# are never delivered: dropped, then the sink is resumed by the runs.
psql_app -c "DELETE FROM outbox WHERE kind = 'salesforce.upsert' AND state = 'pending'" >/dev/null
psql_app -c "DELETE FROM sink_pauses WHERE sink = 'salesforce'" >/dev/null
DELIVERY=()
DELIVERY_TOTALS=
run_section delivery && delivery_section
run_section approvals && approvals_section

# ------------------------------------------------------------------ report
. "$REPO/scripts/bench/report.sh"
[ "${#UNMEASURED[@]}" -eq 0 ] || exit 3
