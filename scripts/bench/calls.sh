# The calls section of scripts/bench.sh (sourced): inbound call events
# through nginx, each one new, signed (Standard Webhooks 1.0), verified,
# counted against the tenant's plan, checked and ingested with its
# three-part idempotency key and its outbox row (cgi/calls.c).
#
# A call source of the bench tenant signs a pool of CALLS_POOL events ahead
# (tools/bench/cb-bench-calls: HMAC stays out of wrk); wrk sends them at
# THREADS/CONNS for DURATION (scripts/bench/calls.lua).  The bench stack
# raises the free plan's call events a minute (CB_QUOTA_FREE_CALL_EVENTS_PER_MIN)
# out of the way: the quota is still counted on every request.  The
# reference is the submit route's throughput in the same run: measured
# here when the http section did not run.  The figure is checked against
# the rows: every 202 must be a call_events row.
#
# Needs from the caller: slug THREADS CONNS DURATION WORK REPO CB_BUILD
# CB_HTTP_URL FORM TOKENS prefix, admin, json_str, psql_app, wrk_run, say.

calls_section() {
    local out src secret pool rows
    pool=${BENCH_CALLS_POOL:-$(( $(dur_s "$DURATION") * 5000 ))}
    out=$(admin call-source-add "$slug" bench-voice --country-code 1) || { UNMEASURED+=("call events: call-source-add failed"); return 0; }
    src=$(json_str "$out" source_id)
    secret=$(json_str "$out" secret)
    say "calls: signing $pool call events"
    printf '%s\n' "$secret" | "$CB_BUILD/bin/cb-bench-calls" "$prefix" "$pool" >"$WORK/calls.txt" ||
        { UNMEASURED+=("call events: cb-bench-calls failed"); return 0; }
    chmod 0644 "$WORK/calls.txt"
    wrk_run calls "call event (POST, signed, 202)" -s "$REPO/scripts/bench/calls.lua" "$CB_HTTP_URL" -- \
        "$src" "$WORK/calls.txt" "$THREADS"
    rows=$(psql_app -c "SELECT count(*) FROM call_events WHERE source_id = '$src'")
    M[calls.rows]=$rows
    # More requests than the pool: the rest were replays (200), not new events.
    [ "${M[calls.total]:-0}" -gt "$pool" ] && M[calls.note]="pool of $pool exhausted: $(( M[calls.total] - pool )) replays"
    [ "$rows" -lt "$(( ${M[calls.total]:-0} < pool ? ${M[calls.total]:-0} : pool ))" ] &&
        M[calls.note]="${M[calls.note]:+${M[calls.note]}; }only $rows rows for ${M[calls.total]} requests"
    if [ -z "${M[submit.rps]:-}" ]; then
        wrk_run submit "submit (POST, unique keys)" -s "$REPO/scripts/bench/submit.lua" "$CB_HTTP_URL" -- \
            "$FORM" "$prefix-c" "$THREADS" "${TOKENS[@]}"
    fi
    say "calls: ${M[calls.rps]} req/s, p99 ${M[calls.p99]} ms; $rows events recorded; submit ${M[submit.rps]} req/s"
}
