#!/usr/bin/env bash
# Print how to try the running stack: a link that opens the demo form in a
# tab, the curl lines an operator pastes to drive that tab as the demo agent
# (a highlight, which goes straight to the tab, and a set_field, which the
# demo policy holds for a person's approval), the one line that approves
# the latter as the demo approver's Slack click (scripts/slack-click.sh):
# the field then fills in (tests/scripts/demo.sh runs these very lines);
# a one-line signed call event whose caller is a demo contact seeded in
# the fake Salesforce, with how to see the activity linked to it; the
# operator console's address and the demo operator's login; and the
# metrics URL of the operator listener.
#
# usage: scripts/demo.sh        (`make run` calls it once the stack is up)
#
# Environment: CB_STATE (state directory of the running stack, default
# <repo>/var/dev, as for scripts/stack.sh); everything else comes from
# $CB_STATE/stack.env.  Safe to run again and again: `cb-admin demo-seed`
# reuses the demo tenant, form, policy and agent (it issues a fresh API key
# each time), and every run opens one new tab context.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
CB_STATE=$(realpath -m -- "${CB_STATE:-$REPO/var/dev}")

die() { printf 'demo.sh: error: %s\n' "$*" >&2; exit 1; }

[ -r "$CB_STATE/stack.env" ] || die "$CB_STATE/stack.env not found or not readable: start the stack first (make run, or scripts/stack.sh start)"
# shellcheck disable=SC1091
. "$CB_STATE/stack.env"
for v in CB_BUILD CB_HTTPS_URL; do
    [ -n "${!v:-}" ] || die "$v missing from $CB_STATE/stack.env"
done
ADMIN=$CB_BUILD/bin/cb-admin
[ -x "$ADMIN" ] || die "$ADMIN is not built (make)"

# The value of a string member of a one-line JSON object (the values read
# here are UUIDs and tokens: no quotes or escapes inside).
json_str() {
    sed -n 's/.*"'"$2"'"[[:space:]]*:[[:space:]]*"\([^"\\]*\)".*/\1/p' <<<"$1" | head -n 1
}

seed=$("$ADMIN" demo-seed) || die "cb-admin demo-seed failed"
form_id=$(json_str "$seed" form_id)
api_key=$(json_str "$seed" api_key)
[[ $form_id =~ ^[0-9a-f-]{36}$ ]] || die "cb-admin demo-seed printed no form_id: $seed"
[[ $api_key =~ ^cbk_[A-Za-z0-9_-]+$ ]] || die "cb-admin demo-seed printed no usable api_key"

# The stack has just come up: give nginx and the responder a moment.
ctx_json=
for _ in $(seq 1 20); do
    if ctx_json=$(curl -sk --max-time 5 -X POST -H 'Content-Type: application/json' \
            --data "{\"form_id\":\"$form_id\"}" -w '\n%{http_code}' "$CB_HTTPS_URL/api/v1/contexts" 2>/dev/null) \
            && [ "${ctx_json##*$'\n'}" = 201 ]; then
        break
    fi
    ctx_json=
    sleep 0.5
done
[ -n "$ctx_json" ] || die "could not open a context: POST $CB_HTTPS_URL/api/v1/contexts did not answer 201"
ctx_json=${ctx_json%$'\n'*}
ctx_ref=$(json_str "$ctx_json" ctx_ref)
tab_token=$(json_str "$ctx_json" tab_token)
[[ $ctx_ref =~ ^[0-9a-f-]{36}$ && $tab_token =~ ^tab_[A-Za-z0-9_-]+$ ]] \
    || die "unexpected answer from POST /api/v1/contexts: $ctx_json"

# The demo tenant's voice platform: one call source, its secret new on
# every run (a rotation prints it once; the old one lapses after the overlap).
call_list=$("$ADMIN" call-source-list demo) || die "cb-admin call-source-list failed"
call_src=$(sed -n 's/.*"id":"\([0-9a-f-]\{36\}\)","name":"voice-demo".*/\1/p' <<<"$call_list")
if [ -n "$call_src" ]; then
    call_json=$("$ADMIN" call-source-rotate "$call_src") || die "cb-admin call-source-rotate failed"
else
    call_json=$("$ADMIN" call-source-add demo voice-demo --country-code 1) \
        || die "cb-admin call-source-add failed"
    call_src=$(json_str "$call_json" source_id)
fi
call_secret=$(json_str "$call_json" secret)
[[ $call_src =~ ^[0-9a-f-]{36}$ && $call_secret =~ ^whsec_ ]] \
    || die "no usable call source for the demo tenant"

# The demo caller: a contact in the fake Salesforce whose phone is the one
# scripts/call-event.sh posts by default, so the sample call's activity is
# linked to it (docs/calls.md).  Seeded once per fake (it keeps contacts in
# memory): two contacts with one number would link neither.
demo_phone=+14155552671
contact_id=
if [ -n "${CB_FAKESF_URL:-}" ]; then
    contacts=$(curl -sf --max-time 5 "$CB_FAKESF_URL/__fake/contacts") \
        || die "the fake Salesforce did not list its contacts ($CB_FAKESF_URL/__fake/contacts)"
    contact_id=$({ grep -o '{[^{}]*"Phone":"'"$demo_phone"'"[^{}]*}' <<<"$contacts" || true; } \
        | head -n 1 | sed -n 's/.*"Id":"\([A-Za-z0-9]*\)".*/\1/p')
    if [ -z "$contact_id" ]; then
        contact=$(curl -sf --max-time 5 -X POST -H 'Content-Type: application/json' \
            --data '{"Phone":"'"$demo_phone"'","Name":"Ada Demo Caller"}' "$CB_FAKESF_URL/__fake/contacts") \
            || die "could not seed the demo contact in the fake Salesforce"
        contact_id=$(json_str "$contact" id)
    fi
    [[ $contact_id =~ ^[A-Za-z0-9]{15,18}$ ]] || die "the fake Salesforce gave the demo contact no Id"
fi

# The demo operator for the console (web/console/, docs/console.md): its
# password is made once and kept beside the stack's data in
# $CB_STATE/demo-operator.pw (mode 0600), so every run prints the same
# login.  Should that file and the user have parted (the file removed, the
# database kept: the login answers 401), a new operator is made under a
# fresh address.
op_pw_file=$CB_STATE/demo-operator.pw
op_email_file=$CB_STATE/demo-operator.email
new_operator_secret() {
    (umask 077 && head -c 18 /dev/urandom | base64 | tr '+/' '-_' >"$op_pw_file") \
        || die "cannot write $op_pw_file"
}
[ -s "$op_pw_file" ] || new_operator_secret
op_email=$(cat "$op_email_file" 2>/dev/null || true)
[[ $op_email =~ ^operator(-[a-z0-9]+)?@demo\.example$ ]] || op_email=operator@demo.example
# The body goes through stdin (printf is a builtin): no password in argv.
op_login() {
    printf '{"org":"demo","email":"%s","password":"%s"}' "$op_email" "$(<"$op_pw_file")" |
        curl -sk --max-time 10 -o /dev/null -w '%{http_code}' -X POST \
            -H 'Content-Type: application/json' --data @- "$CB_HTTPS_URL/api/v1/auth/login" \
            2>/dev/null || true
}
"$ADMIN" user-create demo "$op_email" operator <"$op_pw_file" >/dev/null 2>&1 || true
op_code=$(op_login)
if [ "$op_code" = 401 ]; then
    op_email=operator-$(head -c 4 /dev/urandom | od -An -tx1 | tr -d ' \n')@demo.example
    new_operator_secret
    "$ADMIN" user-create demo "$op_email" operator <"$op_pw_file" >/dev/null \
        || die "cannot create the demo operator $op_email"
elif [ "$op_code" != 200 ]; then
    # Rate-limited (429) or the stack still settling: the login is kept as it is.
    printf 'demo.sh: could not check the demo operator login now (HTTP %s)\n' "$op_code" >&2
fi
printf '%s\n' "$op_email" >"$op_email_file"
op_pw=$(cat "$op_pw_file")
metrics_token_file=${CB_SECRETS_DIR:-$CB_STATE/secrets}/metrics-token.hex

cmd_url="$CB_HTTPS_URL/api/v1/contexts/$ctx_ref/commands"
cat <<EOF

== Context Broker demo ==========================================================
Open this in a browser (self-signed certificate: accept it once):

  $CB_HTTPS_URL/?form=$form_id#ctx=$ctx_ref&token=$tab_token

Then, as the demo agent, highlight the email field of that tab (paste as is):

EOF
# Printed literally: the nonce is generated when the line is pasted.
cmd_line() {
    printf '  %s\n\n' "curl -sk -X POST '$cmd_url' -H 'Authorization: Bearer $api_key' -H 'Content-Type: application/json' -d '{$1,\"nonce\":\"'\"\$(date +%s%N)\"'\"}'"
}
cmd_line '"type":"highlight","selector":"#email"'
echo "Fill it in: the demo policy holds set_field for a person's approval, so the answer"
echo "says \"pending_approval\" and the tab shows nothing yet (paste as is):"
echo
cmd_line '"type":"set_field","selector":"#email","value":"ada@example.com"'
echo "Approve it as the demo approver does in Slack (the approval message is in the fake"
echo "Slack; the click is signed as Slack signs it), and watch the field fill in:"
echo
click=$REPO/scripts/slack-click.sh
[ "$CB_STATE" = "$(realpath -m -- "$REPO/var/dev")" ] || click="CB_STATE=$CB_STATE $click"
printf '  %s\n\n' "$click latest approve"
if [ -n "${CB_FAKESF_URL:-}" ]; then
    echo "After submitting the form, see what the (fake) Salesforce holds:"
    echo
    printf '  %s\n\n' "curl -s '$CB_FAKESF_URL/__fake/records'"
fi
echo "Post a correctly signed sample call event (docs/calls.md), as the voice platform would:"
echo
printf '  %s\n\n' "scripts/call-event.sh $call_src $call_secret ${CB_HTTP_URL:-$CB_HTTPS_URL}"
if [ -n "$contact_id" ]; then
    echo "Its caller, $demo_phone, is the demo contact Ada Demo Caller (Id $contact_id) in the fake"
    echo "Salesforce. A moment later the worker has looked the number up and upserted the call's"
    echo "activity: a Call_Activity__c record whose Contact__c is $contact_id. List them:"
    echo
    printf '  %s\n' "curl -s '$CB_FAKESF_URL/__fake/contacts'"
    printf '  %s\n\n' "curl -s '$CB_FAKESF_URL/__fake/records' | grep -o '\"object\":\"Call_Activity__c\"[^}]*}'"
fi
echo "The operator console: the demo tenant's outbox, dead letters (replay, discard), recent"
echo "failures, pending approvals and live connections (docs/console.md). Sign in with:"
echo
printf '  %s\n' "$CB_HTTPS_URL/console/"
printf '  org:      demo   (users belong to one tenant: name it at sign-in)\n'
printf '  email:    %s\n' "$op_email"
printf '  password: %s   (kept in %s)\n\n' "$op_pw" "$op_pw_file"
if [ -n "${CB_METRICS_URL:-}" ]; then
    echo "Prometheus metrics, on the operator listener (loopback only; bearer token in a file):"
    echo
    printf '  %s\n\n' "curl -s -H \"Authorization: Bearer \$(cat $metrics_token_file)\" '$CB_METRICS_URL'"
fi
echo "Form $form_id, context $ctx_ref; the API key above is new and valid for 30 days."
echo "================================================================================"
