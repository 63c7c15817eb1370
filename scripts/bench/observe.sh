# The observe section of scripts/bench.sh (sourced): what metrics and
# tracing cost the form load (issue 11: under 3 %).  The same wrk run of
# GET /api/v1/forms/{id} as the http section, alternately with both on
# (the product's defaults: CB_METRICS_DIR set, CB_TRACE=on, nginx's trace
# maps and headers) and both off (CB_METRICS_DIR empty, CB_TRACE=off,
# nginx/trace-off.conf), on, off, on, off, so a drift of the machine's load
# falls on both sides; `scripts/stack.sh restart-edge` restarts the
# responders and reloads nginx between runs.  The figure is the sum of the
# "on" runs' requests over the "off" runs': at least 0.97x (overhead < 3 %).
# The requests carry no traceparent: nginx starts a trace for each.
#
# Needs from the caller: REPO CB_HTTP_URL FORM TOKEN, wrk_run, say, die.

# Restart the edge with metrics and tracing on (1) or off (0), and wait until
# nginx's answers show it (the reload is asynchronous).
observe_switch() {
    local on=$1 i hdr
    if [ "$on" = 1 ]; then
        "$REPO/scripts/stack.sh" restart-edge >>"$WORK/observe-restart.log" 2>&1
    else
        CB_TRACE=off CB_METRICS_DIR= "$REPO/scripts/stack.sh" restart-edge >>"$WORK/observe-restart.log" 2>&1
    fi || die "stack.sh restart-edge failed (see $WORK/observe-restart.log)"
    for i in $(seq 1 150); do
        hdr=$(curl -s --max-time 2 -o /dev/null -D - -H "Authorization: Bearer $TOKEN" \
            "$CB_HTTP_URL/api/v1/forms/$FORM" | tr -d '\r' || true)
        if grep -q '^HTTP/[0-9.]* 200' <<<"$hdr"; then
            if [ "$on" = 1 ] && grep -qi '^x-trace-id: [0-9a-f]\{32\}$' <<<"$hdr"; then return 0; fi
            if [ "$on" = 0 ] && ! grep -qi '^x-trace-id:' <<<"$hdr"; then return 0; fi
        fi
        sleep 0.1
    done
    die "the edge did not come back with tracing $([ "$on" = 1 ] && echo on || echo off)"
}

observe_section() {
    local r on=0 off=0
    say "observe: form load with metrics and tracing on, then off, twice"
    for r in 1 2; do
        observe_switch 1
        wrk_run "obs_on$r" "form load, metrics+tracing on #$r" -H "Authorization: Bearer $TOKEN" \
            "$CB_HTTP_URL/api/v1/forms/$FORM"
        observe_switch 0
        wrk_run "obs_off$r" "form load, both off #$r" -H "Authorization: Bearer $TOKEN" \
            "$CB_HTTP_URL/api/v1/forms/$FORM"
    done
    observe_switch 1
    for r in 1 2; do
        on=$(( on + ${M[obs_on$r.total]:-0} ))
        off=$(( off + ${M[obs_off$r.total]:-0} ))
    done
    M[obs_on.rps]=$(awk -v n="$on" -v d="$(dur_s "$DURATION")" 'BEGIN { printf "%.0f", n / (2 * d) }')
    M[obs_off.rps]=$(awk -v n="$off" -v d="$(dur_s "$DURATION")" 'BEGIN { printf "%.0f", n / (2 * d) }')
    M[obs.overhead]=$(awk -v a="$on" -v b="$off" 'BEGIN { if (b > 0) printf "%.1f", 100 * (1 - a / b); else print "?" }')
    M[obs.note]=""
    for r in obs_on1 obs_off1 obs_on2 obs_off2; do
        [ -n "$(wrk_note "$r")" ] && M[obs.note]="${M[obs.note]:+${M[obs.note]}, }$r: $(wrk_note "$r")"
    done
    say "observe: on ${M[obs_on.rps]} req/s, off ${M[obs_off.rps]} req/s: overhead ${M[obs.overhead]} %"
}

observe_report() {
    cat <<REPORT
$(printf '%-34s %9s %12s %12s %10s %8s %7s' run 'req/s' p50 p99 requests non-2xx errors)
$(for k in obs_on1 obs_off1 obs_on2 obs_off2; do wrk_line "$k"; done)
metrics and tracing: the form load with both on (CB_METRICS_DIR, CB_TRACE=on: nginx's trace maps and
headers, the responder's trace and its log field) against both off, alternated; on ${M[obs_on.rps]} req/s,
off ${M[obs_off.rps]} req/s: overhead ${M[obs.overhead]} % (target < 3 %).
CPU per request, ms, by component: on #1 ${M[obs_on1.cpu]:-not measured}
                                   off #1 ${M[obs_off1.cpu]:-not measured}

REPORT
}

observe_rows() {
    at_least "form load, metrics+tracing on" "${M[obs_on.rps]:-}" "the same, both off" "${M[obs_off.rps]:-}" \
        0.97 "${M[obs.note]:-}"
}
