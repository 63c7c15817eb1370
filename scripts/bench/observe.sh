# The observe section of scripts/bench.sh (sourced): what metrics and
# tracing cost the form load (issue 11: under 3 %).  The same wrk run of
# GET /api/v1/forms/{id} as the http section, alternately with both on
# (the product's defaults: CB_METRICS_DIR set, CB_TRACE=on, nginx's trace
# maps and headers) and both off (CB_METRICS_DIR empty, CB_TRACE=off,
# nginx/trace-off.conf), BENCH_OBS_ROUNDS rounds [4] of on, off then off,
# on, so a drift of the machine's load falls on both sides;
# `scripts/stack.sh restart-edge` restarts the responders and reloads nginx
# before each run, and BENCH_OBS_WARM seconds [2] of the same load, not
# counted, warm them.  The figure is the sum of the
# "on" runs' requests over the "off" runs': at least 0.97x (overhead < 3 %).
# The report adds the stack's CPU per request on and off (lib.sh's
# cpu_ticks), which a busy machine skews much less than the throughput.
# The requests carry no traceparent: nginx starts a trace for each.
#
# Needs from the caller: REPO CB_HTTP_URL FORM TOKEN DURATION WORK, wrk_run,
# wrk_note, dur_s, say, die.

OBS_ROUNDS=${BENCH_OBS_ROUNDS:-4}
[[ $OBS_ROUNDS =~ ^[1-9][0-9]?$ ]] || die "BENCH_OBS_ROUNDS must be 1 to 99"
OBS_WARM=${BENCH_OBS_WARM:-2}
[[ $OBS_WARM =~ ^[0-9]{1,3}$ ]] || die "BENCH_OBS_WARM must be 0 to 999 (seconds)"
OBS_RUNS=()

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
            if [ "$on" = 1 ] && grep -qi '^x-trace-id: [0-9a-f]\{32\}$' <<<"$hdr"; then break; fi
            if [ "$on" = 0 ] && ! grep -qi '^x-trace-id:' <<<"$hdr"; then break; fi
        fi
        sleep 0.1
    done
    [ "$i" -lt 150 ] || die "the edge did not come back with tracing $([ "$on" = 1 ] && echo on || echo off)"
    # Fresh responders and nginx workers: warm them (their caches, the
    # form's read-through cache) for OBS_WARM seconds before the run that
    # counts, so neither side pays a cold start the other does not.
    [ "$OBS_WARM" = 0 ] || wrk -t"$THREADS" -c"$CONNS" -d"${OBS_WARM}s" -H "Authorization: Bearer $TOKEN" \
        "$CB_HTTP_URL/api/v1/forms/$FORM" >/dev/null 2>&1 || die "the warm-up run failed"
}

observe_section() {
    local r k side on=0 off=0 order
    local -A reqs=() cpu=()
    say "observe: form load with metrics and tracing on and off, $OBS_ROUNDS rounds"
    for r in $(seq 1 "$OBS_ROUNDS"); do
        # on, off, off, on, ...: a drift of the machine's load falls on both sides.
        if [ $((r % 2)) = 1 ]; then order="on off"; else order="off on"; fi
        for side in $order; do
            k=obs_${side}$r
            observe_switch "$([ "$side" = on ] && echo 1 || echo 0)"
            wrk_run "$k" "form load, $([ "$side" = on ] && echo 'metrics+tracing on' || echo 'both off') #$r" \
                -H "Authorization: Bearer $TOKEN" "$CB_HTTP_URL/api/v1/forms/$FORM"
            OBS_RUNS+=("$k")
            reqs[$side]=$(( ${reqs[$side]:-0} + ${M[$k.total]:-0} ))
            # CPU of the stack, ms, over the run: per request times requests.
            cpu[$side]=$(awk -v a="${cpu[$side]:-0}" -v c="${M[$k.cpu_total]:-}" -v n="${M[$k.total]:-0}" \
                'BEGIN { if (c ~ /^[0-9.]+$/) a += c * n; else a = -1e18; printf "%.3f", a }')
            [ -n "$(wrk_note "$k")" ] && M[obs.note]="${M[obs.note]:+${M[obs.note]}, }$k: $(wrk_note "$k")"
        done
    done
    observe_switch 1
    on=${reqs[on]}; off=${reqs[off]}
    M[obs_on.rps]=$(awk -v n="$on" -v d="$(dur_s "$DURATION")" -v r="$OBS_ROUNDS" 'BEGIN { printf "%.0f", n / (r * d) }')
    M[obs_off.rps]=$(awk -v n="$off" -v d="$(dur_s "$DURATION")" -v r="$OBS_ROUNDS" 'BEGIN { printf "%.0f", n / (r * d) }')
    M[obs.overhead]=$(awk -v a="$on" -v b="$off" 'BEGIN { if (b > 0) printf "%.1f", 100 * (1 - a / b); else print "?" }')
    # The cross-check a loaded machine cannot skew as much: CPU per request.
    M[obs_on.cpu]=$(awk -v c="${cpu[on]}" -v n="$on" 'BEGIN { if (c >= 0 && n > 0) printf "%.4f", c / n; else print "?" }')
    M[obs_off.cpu]=$(awk -v c="${cpu[off]}" -v n="$off" 'BEGIN { if (c >= 0 && n > 0) printf "%.4f", c / n; else print "?" }')
    M[obs.cpu_overhead]=$(awk -v a="${M[obs_on.cpu]}" -v b="${M[obs_off.cpu]}" \
        'BEGIN { if (a ~ /^[0-9.]+$/ && b + 0 > 0) printf "%.1f", 100 * (a / b - 1); else print "?" }')
    say "observe: on ${M[obs_on.rps]} req/s, off ${M[obs_off.rps]} req/s: overhead ${M[obs.overhead]} %;" \
        "CPU per request on ${M[obs_on.cpu]} ms, off ${M[obs_off.cpu]} ms: ${M[obs.cpu_overhead]} %"
}

observe_report() {
    cat <<REPORT
$(printf '%-34s %9s %12s %12s %10s %8s %7s' run 'req/s' p50 p99 requests non-2xx errors)
$(for k in "${OBS_RUNS[@]}"; do wrk_line "$k"; done)
metrics and tracing: the form load with both on (CB_METRICS_DIR, CB_TRACE=on: nginx's trace maps and
headers, the responder's trace and its log field, the metrics counters and Prometheus's scrape) against
both off, $OBS_ROUNDS rounds in alternating order, the edge restarted before each run:
  throughput  on ${M[obs_on.rps]} req/s, off ${M[obs_off.rps]} req/s: overhead ${M[obs.overhead]} % (target < 3 %)
  CPU of the stack per request  on ${M[obs_on.cpu]} ms, off ${M[obs_off.cpu]} ms: ${M[obs.cpu_overhead]} %
(the throughput of one run moves with whatever else the machine runs; the CPU per request much less)
CPU per request by process, ms:
$(for k in "${OBS_RUNS[@]}"; do printf '  %-10s %s\n' "$k" "${M[$k.cpu]:-?}"; done)

REPORT
}

observe_rows() {
    at_least "form load, metrics+tracing on" "${M[obs_on.rps]:-}" "the same, both off" "${M[obs_off.rps]:-}" \
        0.97 "${M[obs.note]:-}"
}
