# pgbench references of scripts/bench.sh (sourced): what the submit and
# command-accept transactions need in the database, then the two runs.
#
# Needs from the caller: CONNS WORK REPO ORG_ID FORM FORM_VER AGENT KEY_ID, psql_app,
# pg_run (lib.sh), say, die.

# One context per pgbench client, with ids this script chooses
# (PG_CTXBASE + the client number as 12 hex digits), so a pgbench
# transaction names its context without a lookup; then one submission the
# broker wrote, whose sealed texts the submit script copies (their size is
# what matters: sealing happens in the broker, not in the database).
pg_prepare() {
    local row
    PG_CTXBASE=b0000000-0000-4000-8000-
    PG_RUN="pg$$-$(date +%s)"
    psql_app -c "INSERT INTO contexts (id, org_id, form_id, form_version, tab_token_hash, expires_at)
        SELECT ('$PG_CTXBASE' || lpad(to_hex(i), 12, '0'))::uuid, $ORG_ID, '$FORM', $FORM_VER,
               sha256(convert_to('$PG_RUN-' || i, 'UTF8')), now() + interval '1 day'
        FROM generate_series(0, $((CONNS - 1))) i" >/dev/null || die "cannot make the pgbench contexts"
    row=$(psql_app -F $'\t' -c "SELECT s.data_sealed, o.payload_sealed FROM submissions s
        JOIN outbox o ON o.ref_id = s.id AND o.kind = 'salesforce.upsert'
        WHERE s.org_id = $ORG_ID AND s.data_sealed IS NOT NULL ORDER BY s.created_at LIMIT 1")
    PG_DSEALED=${row%%$'\t'*}
    PG_FSEALED=${row#*$'\t'}
    [ -n "$PG_DSEALED" ] && [ -n "$PG_FSEALED" ] || die "no sealed submission to copy the sizes of"
    # The stored answer: the 201 body the broker stores for a new submission.
    PG_RESP="{\"submission_id\":\"$(cat /proc/sys/kernel/random/uuid)\",\"status\":\"accepted\",\"form_version\":$FORM_VER}"
    PG_FP="\\x$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')"
}

pg_submit() {
    pg_run pgsub "pgbench: submit rows" "$REPO/scripts/bench/pg-submit.sql" \
        -D org="$ORG_ID" -D form="$FORM" -D ver="$FORM_VER" -D ctxbase="$PG_CTXBASE" \
        -D run="$PG_RUN-s" -D dsealed="$PG_DSEALED" -D fsealed="$PG_FSEALED" -D fp="$PG_FP" \
        -D resp="$PG_RESP" -D ttl=86400 -D win=600 -D tsfmt='YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'
}

pg_command() {
    pg_run pgcmd "pgbench: command rows" "$REPO/scripts/bench/pg-command.sql" \
        -D org="$ORG_ID" -D agent="$AGENT" -D key="$KEY_ID" -D ctxbase="$PG_CTXBASE" -D run="$PG_RUN-c" \
        -D fp="$PG_FP"
}

# A reference (KEY: pgsub or pgcmd) with any of the COUNTS below its
# transactions is "not measured" under LABEL: its tps cleared.
pg_shortfall() {
    local key=$1 label=$2 n
    for n in $3; do
        if [ "$n" -lt "${M[$key.tx]}" ]; then
            UNMEASURED+=("pgbench $label: ${M[$key.rows]}")
            M[$key.tps]=
            break
        fi
    done
}

# What the pgbench runs wrote, against the transactions they counted: a
# statement that silently wrote nothing (a version check that no longer
# matches, a renamed column caught by nothing) would make a reference
# without work.  Sets M[pgsub.rows] and M[pgcmd.rows]; a shortfall is
# "not measured".
pg_check() {
    local like="$PG_CTXBASE%" r
    if [ -n "${M[pgsub.tps]:-}" ]; then
        r=$(psql_app -F ' ' -c "SELECT
            (SELECT count(*) FROM submissions WHERE ctx_id::text LIKE '$like'),
            (SELECT count(*) FROM outbox o JOIN submissions s ON s.id = o.ref_id
              WHERE s.ctx_id::text LIKE '$like' AND o.kind = 'salesforce.upsert'),
            (SELECT count(*) FROM idempotency_keys WHERE scope LIKE 'ctx:$like' AND status = 201),
            (SELECT count(*) FROM submission_digests WHERE ctx_id::text LIKE '$like')")
        M[pgsub.rows]="submissions, outbox rows, stored keys, digests: ${r// /, } for ${M[pgsub.tx]} transactions"
        pg_shortfall pgsub submit "$r"
    fi
    if [ -n "${M[pgcmd.tps]:-}" ]; then
        r=$(psql_app -F ' ' -c "SELECT
            (SELECT count(*) FROM commands WHERE ctx_id::text LIKE '$like'),
            (SELECT coalesce(sum(last_seq), 0) FROM contexts WHERE id::text LIKE '$like')")
        M[pgcmd.rows]="commands, last_seq bumps: ${r// /, } for ${M[pgcmd.tx]} transactions"
        pg_shortfall pgcmd "command accept" "$r"
    fi
}
