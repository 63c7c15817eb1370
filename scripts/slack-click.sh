#!/usr/bin/env bash
# slack-click.sh APPROVAL_ID|latest approve|deny: click Approve or Deny on an
# approval message of the development stack's (fake) Slack, as Slack would:
# a block_actions payload form-encoded, signed with the stack's
# CB_SLACK_SIGNING_SECRET (v0 = HMAC-SHA256 over "v0:{timestamp}:{body}"),
# posted to POST /api/v1/slack/interactions.  The button's value (the
# approval id and its hash) is read from the message the fake Slack holds,
# so the click carries exactly what the person was shown.  `latest` clicks
# on the newest approval message the fake holds (the demo's one-liner).
#
# The clicking Slack user is $SLACK_USER (default U0DEMO01): link it to an
# approver first (cb-admin user-slack USER_ID U0DEMO01).  The stack is
# $CB_STATE (default var/dev, the one `make run` starts).  Prints the
# answer; exits 0 on 200, 1 otherwise.
#
# For local development only: the signing secret is handed to openssl on
# its command line.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
die() { printf 'slack-click.sh: %s\n' "$*" >&2; exit 1; }

[ $# -eq 2 ] || die "usage: scripts/slack-click.sh APPROVAL_ID|latest approve|deny"
id=$1
action=$2
uuid_re='[0-9a-f]\{8\}-[0-9a-f]\{4\}-[0-9a-f]\{4\}-[0-9a-f]\{4\}-[0-9a-f]\{12\}'
[[ $id == latest || $id =~ ^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$ ]] \
    || die "APPROVAL_ID must be an approval's id (a lowercase UUID) or latest"
case $action in approve|deny) ;; *) die "the action is approve or deny" ;; esac
user=${SLACK_USER:-U0DEMO01}
[[ $user =~ ^[UW][A-Z0-9]{2,19}$ ]] || die "SLACK_USER must be a Slack member id"

env_file=${CB_STATE:-$repo/var/dev}/stack.env
[ -r "$env_file" ] || die "cannot read $env_file: is the stack running (make run)?"
# shellcheck disable=SC1090
. "$env_file"
[ -n "${CB_SLACK_SIGNING_SECRET:-}" ] || die "the stack has no CB_SLACK_SIGNING_SECRET"
[ -n "${CB_FAKEHOOKS_URL:-}" ] || die "the stack has no fake Slack (CB_FAKEHOOKS_URL)"

if [ "$id" = latest ]; then
    # The buttons' values, in the order the messages came: the last one's.
    value=$(curl -s --max-time 5 "$CB_FAKEHOOKS_URL/__fake/messages" \
        | grep -o "\"value\":\"$uuid_re:[0-9a-f]\{64\}\"" | tail -n 1 | cut -d'"' -f4) || true
    [ -n "$value" ] || die "no approval message in the fake Slack yet"
    id=${value%%:*}
else
    value=$(curl -s --max-time 5 "$CB_FAKEHOOKS_URL/__fake/messages" \
        | grep -o "\"$id:[0-9a-f]\{64\}\"" | head -n 1 | tr -d '"') || true
    [ -n "$value" ] || die "no approval message for $id in the fake Slack"
fi

# Form encoding: unreserved characters as they are, every other byte %XX.
urlencode() {
    local LC_ALL=C s=$1 out='' c i
    for ((i = 0; i < ${#s}; i++)); do
        c=${s:i:1}
        case $c in
            [A-Za-z0-9._~-]) out+=$c ;;
            *) printf -v c '%%%02X' "'$c"; out+=$c ;;
        esac
    done
    printf '%s' "$out"
}

payload=$(printf '{"type":"block_actions","team":{"id":"T000"},"user":{"id":"%s"},'\
'"api_app_id":"A0DEMO","response_url":"%s/actions/T000/%s",'\
'"actions":[{"action_id":"%s","block_id":"decide","type":"button","value":"%s"}]}' \
    "$user" "$CB_FAKEHOOKS_URL" "$id" "$action" "$value")
body="payload=$(urlencode "$payload")"
ts=$(date +%s)
mac=$(printf 'v0:%s:%s' "$ts" "$body" | openssl dgst -sha256 -hmac "$CB_SLACK_SIGNING_SECRET" -r)
sig="v0=${mac%% *}"
out=$(curl -s --max-time 10 -w '\n%{http_code}' -X POST "$CB_HTTP_URL/api/v1/slack/interactions" \
    -H "X-Slack-Request-Timestamp: $ts" -H "X-Slack-Signature: $sig" \
    -H 'Content-Type: application/x-www-form-urlencoded' --data-binary "$body")
code=${out##*$'\n'}
printf '%s\n' "${out%$'\n'*}"
[ "$code" = 200 ] || { echo "slack-click.sh: HTTP $code" >&2; exit 1; }
