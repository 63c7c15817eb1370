# The delivery section of scripts/bench.sh (sourced).
#
# Drain NDELIV queued Salesforce rows into the fake, with SF_LAT ms and then
# 0 ms of latency injected per call, and count the token mints.  The rows
# are queued while the sink is paused (sink_pauses), so the run measures the
# drain alone; they carry their field map in the clear (the pre-sealing row
# format the worker still delivers), which skips one decryption per row.
#
# Needs from the caller: NDELIV SF_LAT slug CB_FAKESF_URL, psql_app, say.

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

# The whole section; fills DELIVERY and DELIVERY_TOTALS.
delivery_section() {
    local delivered records all_mints
    DELIVERY=()
    DELIVERY_TOTALS=
    if [ -z "${CB_FAKESF_URL:-}" ] || ! command -v psql >/dev/null; then
        DELIVERY+=("delivery: not measured (no fake Salesforce or no psql)")
        return
    fi
    say "delivery: draining $NDELIV rows with ${SF_LAT} ms per call, then 0 ms"
    delivery_run "delivery, ${SF_LAT} ms upstream" "$SF_LAT"
    delivery_run "delivery, 0 ms upstream" 0
    delivered=$(psql_app -c "SELECT count(*) FROM outbox WHERE kind = 'salesforce.upsert' AND state = 'done'")
    records=$(fake_stat records)
    all_mints=$(fake_stat token_requests)
    DELIVERY_TOTALS="salesforce rows done: $delivered; records in the fake: $records; token mints in the whole run: $all_mints"
}
