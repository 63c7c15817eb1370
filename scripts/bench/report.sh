# The report of scripts/bench.sh (sourced last): the runs in detail, then
# one summary table of figures against their references and targets.

# cpu_ceiling REF RUN: the CPU per transaction of REF over that of RUN.
cpu_ceiling() {
    local r=${M[$1.cpu_total]:-} f=${M[$2.cpu_total]:-}
    if [[ $r =~ ^[0-9.]+$ && $f =~ ^[0-9.]+$ ]] && awk -v f="$f" 'BEGIN { exit !(f > 0) }'; then
        awk -v r="$r" -v f="$f" 'BEGIN { printf "%.3f / %.3f ms = %.2fx", r, f, r / f }'
    else
        printf 'not measured'
    fi
}
wrk_line() {
    local k=$1
    printf '%-34s %9s %9s ms %9s ms %10s %8s %7s\n' "${M[$k.label]}" "${M[$k.rps]:-?}" \
        "${M[$k.p50]:-?}" "${M[$k.p99]:-?}" "${M[$k.total]:-?}" "${M[$k.non2xx]}" "${M[$k.errors]}"
}
pg_line() {
    local k=$1
    printf '%-34s %9s %9s ms %9s ms %10s %8s\n' "${M[$k.label]}" "${M[$k.tps]:-?}" \
        "${M[$k.p50]:-?}" "${M[$k.p99]:-?}" "${M[$k.tx]:-?}" "${M[$k.failed]}"
}
# The header comment of a pgbench script up to its variables: what one
# transaction contains.
sql_says() {
    awk '/^-- Variables/ { exit } /^--/ { sub(/^-- ?/, "    "); print }' "$1"
}

# The agent-to-tab figures, or why not.
tab_note=
if [ -n "${T[load.offered]:-}" ]; then
    [ "${T[load.accepted]}" != "${T[load.offered]}" ] &&
        tab_note="$(( T[load.offered] - T[load.accepted] )) not accepted: ${T[load.unsent]} unsent, ${T[load.refused_429]} 429, ${T[load.other_status]} other, ${T[load.errors]} errors"
    [ "${T[load.missing]}" != 0 ] && tab_note="${tab_note:+$tab_note; }${T[load.missing]} frames missing"
    awk -v s="${T[load.sent_rate]}" -v r="$TAB_RATE" 'BEGIN { exit !(s < 0.95 * r) }' &&
        tab_note="${tab_note:+$tab_note; }offered rate not held: ${T[load.sent_rate]}/s sent"
    idle_note=
    [ "${T[idle.missing]:-0}" != 0 ] && idle_note="${T[idle.missing]} frames missing"
    [ "${T[idle.accepted]:-0}" != "${T[idle.offered]:-0}" ] && idle_note="${idle_note:+$idle_note; }not all accepted"
fi

if run_section http; then
    at_least "form load req/s" "${M[forms.rps]}" "bare FastCGI req/s" "${M[fixed.rps]}" "$T_FORM" "$(wrk_note forms)"
    at_least "submit req/s" "${M[submit.rps]}" "pgbench submit tx/s" "${M[pgsub.tps]}" "$T_WRITE" "$(wrk_note submit)"
    at_most "submit p99" "${M[submit.p99]}" "$T_WRITE_P99"
    at_least "command accept req/s" "${M[commands.rps]}" "pgbench command tx/s" "${M[pgcmd.tps]}" "$T_WRITE" "$(wrk_note commands)"
    at_most "command accept p99" "${M[commands.p99]}" "$T_WRITE_P99"
fi
if run_section calls; then
    at_least "call events/s (signed, new)" "${M[calls.rps]:-}" "submit req/s" "${M[submit.rps]:-}" "$T_CALLS" \
        "$(wrk_note calls)${M[calls.note]:+; ${M[calls.note]}}"
    at_most "call event p99" "${M[calls.p99]:-}" "$T_WRITE_P99"
fi
if run_section tabs; then
    at_most "agent->tab 202->frame p99, load" "${T[load.lat202_p99]:-}" "$T_TAB_P99" "$tab_note"
    at_most "agent->tab 202->frame p99, idle" "${T[idle.lat202_p99]:-}" "$T_IDLE_P99" "${idle_note:-}"
fi
run_section approvals && approvals_rows
run_section observe && observe_rows

cpus=$(nproc)
printf '\n== Context Broker benchmark: %s cores, %s, nginx -> FastCGI over plain HTTP\n' "$cpus" "$(date -u '+%Y-%m-%d %H:%M UTC')"
run_section http && cat <<REPORT
   wrk -t$THREADS -c$CONNS -d$DURATION --latency; pgbench -c$CONNS -j$THREADS -T$(dur_s "$DURATION") -M prepared, the stack's own Postgres, role cb_app
$(printf '%-34s %9s %12s %12s %10s %8s %7s' run 'req|tx/s' p50 p99 requests non-2xx errors)
$(wrk_line forms)
$(wrk_line fixed)
$(wrk_line submit)
$(pg_line pgsub)
$(wrk_line commands)
$(pg_line pgcmd)

form load: GET /api/v1/forms/{id} with a tab token ($FORM_BYTES-byte answer); the bare
reference: tools/bench/cb-bench-fixed, $FORMS_PROCS processes like the forms responder, answering
the same $FORM_BYTES bytes from memory, behind the same nginx (a location of the bench stack only).
submit: $NCTX tabs in turn, a unique Idempotency-Key each; command accept: $NCTX tabs in turn, one
API key, a unique nonce each; the policy's rate is $POLICY_RATE/min per tab, its max_in_flight $WINDOW;
the channel admits $CB_WS_MAX_PER_ADDR WebSockets per client address (CB_WS_MAX_PER_ADDR).

CPU per request (or transaction), ms, by component of the stack (clients not counted):
$(for k in forms fixed submit pgsub commands pgcmd; do printf '  %-32s %s\n' "${M[$k.label]}" "${M[$k.cpu]:-not measured}"; done)
Both runs of a pair keep every core busy, so the ratio of their throughputs can reach at
most the ratio of their CPU per request (less, as wrk costs more than pgbench's client):
  submit: $(cpu_ceiling pgsub submit); command accept: $(cpu_ceiling pgcmd commands).

What one pgbench transaction contains:
  submit (scripts/bench/pg-submit.sql):
$(sql_says "$REPO/scripts/bench/pg-submit.sql")
    In this run: ${M[pgsub.rows]:-not checked}.
  command accept (scripts/bench/pg-command.sql):
$(sql_says "$REPO/scripts/bench/pg-command.sql")
    In this run: ${M[pgcmd.rows]:-not checked}.

REPORT
run_section calls && cat <<REPORT
$(printf '%-34s %9s %12s %12s %10s %8s %7s' run 'req/s' p50 p99 requests non-2xx errors)
$(wrk_line calls)
call events: one call source, each request a new call_started event signed ahead (cb-bench-calls),
verified, counted against the plan's quota, checked, and written with its outbox row;
rows recorded: ${M[calls.rows]:-?}${M[calls.note]:+ (${M[calls.note]})}.

REPORT
if ! run_section tabs; then
    :
elif [ -n "${T[load.offered]:-}" ]; then
    cat <<REPORT
Agent to tab: ${T[tabs]} tabs on WebSockets through nginx (receipts sent at once), ${T[load.offered]} commands
offered open-loop at ${T[rate]}/s for ${T[seconds]} s (${T[load.sent_rate]}/s sent) over ${T[senders]} agent connections, ${T[rate]}/${T[tabs]} per tab:
  accepted ${T[load.accepted]}, refused 429 ${T[load.refused_429]}, other ${T[load.other_status]}, errors ${T[load.errors]}, unsent ${T[load.unsent]}; frames ${T[load.frames]}, missing ${T[load.missing]}, before their 202 ${T[load.early]}
  202 -> frame   p50 ${T[load.lat202_p50]} ms  p95 ${T[load.lat202_p95]} ms  p99 ${T[load.lat202_p99]} ms  max ${T[load.lat202_max]} ms
  send -> frame  p50 ${T[load.latsend_p50]} ms  p95 ${T[load.latsend_p95]} ms  p99 ${T[load.latsend_p99]} ms  max ${T[load.latsend_max]} ms
  send lag behind schedule  p99 ${T[load.sendlag_p99]} ms  max ${T[load.sendlag_max]} ms
  accepted while ${T[window]}+ earlier commands of the tab were unframed (the window, max_in_flight ${T[window]}, full): ${T[load.window_waits]}$(
    awk -v w="${T[load.window_waits]}" -v a="${T[load.accepted]}" 'BEGIN { if (a > 0 && w / a > 0.01)
        printf "\n  %.0f%% of the commands queued behind earlier ones of their tab; the tabs answer every frame at once, so what\n  held them is the channel'"'"'s turnaround per command (its writes for the send and the receipt), not the tabs", 100 * w / a }')
Idle channel: ${T[idle.offered]:-0} commands one at a time (5 ms apart, tabs in turn): accepted ${T[idle.accepted]:-?}, missing ${T[idle.missing]:-?}
  202 -> frame   p50 ${T[idle.lat202_p50]:-?} ms  p95 ${T[idle.lat202_p95]:-?} ms  p99 ${T[idle.lat202_p99]:-?} ms  max ${T[idle.lat202_max]:-?} ms
  send -> frame  p50 ${T[idle.latsend_p50]:-?} ms  p99 ${T[idle.latsend_p99]:-?} ms
channel errors ${T[channel_errors]}, agent connection errors ${T[http_errors]}, reconnects ${T[reconnects]}
(missing: no frame within 10 s of the last 202; they count as later than every frame, "lost" where a
percentile falls on one; unsent: not offered 30 s after the last was due, the agent side saturated)

REPORT
else
    printf 'Agent to tab: not measured (see %s)\n\n' "$WORK/tabs.err"
fi
run_section approvals && approvals_report
run_section observe && observe_report
run_section delivery && cat <<REPORT
$(printf '%-30s %9s %10s %7s %6s %8s' 'delivery (CB_OUTBOX_CONCURRENCY='"${CB_OUTBOX_CONCURRENCY:-16}"')' rows/s elapsed rows calls mints)
$(printf '%s\n' "${DELIVERY[@]}")
$DELIVERY_TOTALS

REPORT
cat <<REPORT
== Summary: targets at $CONNS connections, references measured in this run
$(printf '%-34s %12s  %-30s %12s %7s %10s  %s' measure figure reference 'ref figure' ratio target verdict)
$(printf '%s\n' "${SUMMARY[@]}")
$( [ "$MISSES" -eq 0 ] && echo "all ${#SUMMARY[@]} targets met" || echo "MISS: $MISSES of ${#SUMMARY[@]} targets missed (a measurement: make bench still succeeds)")
$( [ "${#UNMEASURED[@]}" -eq 0 ] || printf 'NOT MEASURED: %s\n' "${UNMEASURED[@]}")
REPORT
