# The approvals section of scripts/bench.sh (sourced): a person's decision
# from Slack, under load (docs/approvals.md).
#
# A second form of the bench tenant whose policy holds set_field for an
# approval; an approver linked to Slack member U0BENCH01; then
# tools/bench/cb-bench-tabs --approve 1: APPR_TABS tab WebSockets,
# APPR_RATE commands/s offered open-loop for APPR_SECONDS, each answered
# 202 pending_approval, its approval message read from the fake Slack and
# approved at once by a click signed as Slack signs it.  Measured:
#   - decision: the signed click's send (POST /api/v1/slack/interactions)
#     -> the command's frame on the tab's WebSocket, p50/p95/p99;
#   - approval creation: the command's send -> its approval message
#     arriving at the fake Slack (the outbox row written with the approval,
#     posted by the worker's Slack sink), p95; and the command's 202, the
#     moment the approval row exists (it commits with the command).
# Figures land in the associative array A; approvals_rows adds the summary
# rows, approvals_report prints the details.
#
# Needs from the caller: REPO CB_BUILD WORK slug KEY T_APPR_* APPR_* admin,
# json_str, psql_app, say, and from the stack: CB_FAKEHOOKS_URL,
# CB_SLACK_SIGNING_SECRET.

declare -gA A=()
APPR_NOTE=

approvals_section() {
    local form user rc=0
    if [ -z "${CB_FAKEHOOKS_URL:-}" ] || [ -z "${CB_SLACK_SIGNING_SECRET:-}" ]; then
        UNMEASURED+=("approvals: the stack has no fake Slack or no signing secret")
        return 0
    fi
    form=$(json_str "$(admin form-create "$slug" 'Contact us (approvals)' "$REPO/docs/examples/contact-form.json")" form_id)
    [ -n "$form" ] || die "form-create (approvals) failed"
    admin policy-set "$form" set_field,focus,highlight,show_message \
        '#email,#full_name,#topic,#message,#subscribe' 6000 set_field >/dev/null
    user=$(json_str "$(printf 'bench-approver-pass\n' | admin user-create "$slug" "approver-$$@bench.example" approver)" user_id)
    [ -n "$user" ] || die "user-create (approver) failed"
    admin user-slack "$user" U0BENCH01 >/dev/null
    say "approvals: $APPR_TABS tabs, $APPR_RATE approvals/s for $APPR_SECONDS s, each clicked Approve at once"
    CB_HTTP_URL=$CB_HTTP_URL CB_FAKEHOOKS_URL=$CB_FAKEHOOKS_URL CB_SLACK_SIGNING_SECRET=$CB_SLACK_SIGNING_SECRET \
        timeout $((APPR_SECONDS + 120)) "$CB_BUILD/bin/cb-bench-tabs" --approve 1 --form "$form" --key "$KEY" \
        --tabs "$APPR_TABS" --rate "$APPR_RATE" --seconds "$APPR_SECONDS" --senders "$APPR_SENDERS" \
        --slack-user U0BENCH01 >"$WORK/approvals.txt" 2>"$WORK/approvals.err" || rc=$?
    if [ "$rc" -ne 0 ]; then
        UNMEASURED+=("approvals: cb-bench-tabs exited $rc: $(tail -n 1 "$WORK/approvals.err" | cut -c1-160)")
        return 0
    fi
    while IFS='=' read -r k v; do
        [[ $k =~ ^[a-z0-9_.]+$ ]] && A[$k]=$v
    done <"$WORK/approvals.txt"
    [ "${A[approve.accepted]}" = "${A[approve.offered]}" ] ||
        APPR_NOTE="$(( A[approve.offered] - A[approve.accepted] )) not accepted"
    [ "${A[approve.clicks_ok]}" = "${A[approve.accepted]}" ] ||
        APPR_NOTE="${APPR_NOTE:+$APPR_NOTE; }$(( A[approve.accepted] - A[approve.clicks_ok] )) not decided"
    [ "${A[approve.missing]}" = 0 ] || APPR_NOTE="${APPR_NOTE:+$APPR_NOTE; }${A[approve.missing]} frames missing"
    awk -v s="${A[approve.sent_rate]}" -v r="$APPR_RATE" 'BEGIN { exit !(s < 0.95 * r) }' &&
        APPR_NOTE="${APPR_NOTE:+$APPR_NOTE; }offered rate not held: ${A[approve.sent_rate]}/s sent"
    return 0
}

# The summary rows (report.sh).
approvals_rows() {
    at_most "approval decision click->frame p99" "${A[approve.decide_p99]:-}" "$T_APPR_DECIDE_P99" "$APPR_NOTE"
    at_most "approval creation p95 (message)" "${A[approve.created_p95]:-}" "$T_APPR_CREATE_P95" "$APPR_NOTE"
}

# The details (report.sh).
approvals_report() {
    if [ -z "${A[approve.offered]:-}" ]; then
        printf 'Approvals: not measured (see %s)\n\n' "$WORK/approvals.err"
        return
    fi
    cat <<REPORT
Approvals: ${A[tabs]} tabs, ${A[approve.offered]} set_field commands held for approval, offered open-loop at ${A[rate]}/s
for ${A[seconds]} s (${A[approve.sent_rate]}/s sent) over ${A[senders]} connections; each message read from the fake Slack
(polled every 2 ms) and approved at once by a signed click (POST /api/v1/slack/interactions):
  accepted ${A[approve.accepted]}, other ${A[approve.other_status]}, errors ${A[approve.errors]}; messages ${A[approve.messages]}, clicks ${A[approve.clicks]} (200: ${A[approve.clicks_ok]}), frames ${A[approve.frames]}, missing ${A[approve.missing]}
  decision, click sent -> frame on the tab  p50 ${A[approve.decide_p50]} ms  p95 ${A[approve.decide_p95]} ms  p99 ${A[approve.decide_p99]} ms  max ${A[approve.decide_max]} ms
  the click's own answer (200)              p50 ${A[approve.click200_p50]} ms  p95 ${A[approve.click200_p95]} ms  p99 ${A[approve.click200_p99]} ms
  creation, command sent -> Slack message   p50 ${A[approve.created_p50]} ms  p95 ${A[approve.created_p95]} ms  p99 ${A[approve.created_p99]} ms  max ${A[approve.created_max]} ms
  command sent -> 202 (approval row kept)   p50 ${A[approve.accept_p50]} ms  p95 ${A[approve.accept_p95]} ms  p99 ${A[approve.accept_p99]} ms
(targets: decision p99 <= $T_APPR_DECIDE_P99 ms, the seed's 250 ms; creation p95 <= $T_APPR_CREATE_P95 ms, to the message at the fake)

REPORT
}
