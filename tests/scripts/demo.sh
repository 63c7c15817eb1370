#!/usr/bin/env bash
# The walk-through `make run` prints (scripts/demo.sh) works as printed:
# against the suite's stack, scripts/demo.sh is run and its own lines are
# run as a newcomer pastes them: the highlight curl (202, queued: no person
# needed), the set_field curl (202, pending_approval: the demo policy holds
# it), the one-line approve (scripts/slack-click.sh latest approve: a click
# signed as Slack signs it, once the approval message reached the fake
# Slack), after which the command is approved and queued for the tab; and
# the call-event line (202); the console's address serves the console and
# the demo operator's printed login signs in and reads the outbox.  A change to any of them that breaks the
# walk-through fails here, not in front of a newcomer.
set -uo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)
cd "$repo" || exit 1
fail() { printf 'demo: FAIL: %s\n' "$*"; exit 1; }
[ -r "${CB_STATE:-}/stack.env" ] || fail "no stack (CB_STATE): run through scripts/test.sh"
# shellcheck disable=SC1091
. "$CB_STATE/stack.env"

out=$(scripts/demo.sh 2>&1) || fail "scripts/demo.sh failed: $out"
mapfile -t curls < <(sed -n 's/^  \(curl -sk -X POST .*\)$/\1/p' <<<"$out")
click=$(sed -n 's/^  \(.*slack-click\.sh latest approve\)$/\1/p' <<<"$out")
event=$(sed -n 's/^  \(scripts\/call-event\.sh .*\)$/\1/p' <<<"$out")
[ "${#curls[@]}" = 2 ] && [ -n "$click" ] && [ -n "$event" ] ||
    fail "the walk-through does not print two curl lines, the approve and the call event: $out"

hl=$(bash -c "${curls[0]}") || fail "the highlight line failed: $hl"
[[ $hl == *'"state":"queued"'* ]] || fail "the highlight was not queued: $hl"
held=$(bash -c "${curls[1]}") || fail "the set_field line failed: $held"
[[ $held == *'"state":"pending_approval"'* ]] || fail "the set_field was not held for approval: $held"
cmd=$(sed -n 's/.*"id":"\([0-9a-f-]\{36\}\)".*/\1/p' <<<"$held")

# The approval message reaches the fake Slack through the outbox.
for _ in $(seq 1 100); do
    curl -s --max-time 5 "$CB_FAKEHOOKS_URL/__fake/messages" | grep -q "command $cmd" && break
    sleep 0.1
done
clicked=$(bash -c "$click" 2>&1) || fail "the approve line failed: $clicked"
[[ $clicked == *approved* ]] || fail "the click did not approve: $clicked"

key=$(sed -n "s/.*Bearer \(cbk_[A-Za-z0-9_-]*\)'.*/\1/p" <<<"${curls[1]}")
state=$(curl -sk --max-time 5 -H "Authorization: Bearer $key" "$CB_HTTPS_URL/api/v1/commands/$cmd")
[[ $state == *'"state":"queued"'* || $state == *'"state":"delivered"'* ]] ||
    fail "the approved command is not on its way to the tab: $state"

ev=$(bash -c "$event" 2>&1) || fail "the call-event line failed: $ev"
[ "$(tail -n 1 <<<"$ev")" = 202 ] || fail "the call event was not accepted: $ev"
# The console's address and the demo operator's login, as printed.
console_url=$(sed -n 's/^  \(https:.*\/console\/\)$/\1/p' <<<"$out")
op_org=$(sed -n 's/^  org: *\([a-z0-9-]*\).*$/\1/p' <<<"$out")
op_email=$(sed -n 's/^  email: *\(.*\)$/\1/p' <<<"$out")
op_pw=$(sed -n 's/^  password: *\([^ ]*\) .*$/\1/p' <<<"$out")
[ -n "$console_url" ] && [ -n "$op_org" ] && [ -n "$op_email" ] && [ -n "$op_pw" ] ||
    fail "no console login printed: $out"
[ -n "${CB_STATE:-}" ] && printf '%s\n' "$op_pw" >>"$CB_STATE/test-secrets.txt"
page=$(curl -sk --max-time 5 "$console_url") || fail "GET $console_url failed"
[[ $page == *'/console/console.js'* ]] || fail "$console_url is not the console page"
login=$(printf '{"org":"%s","email":"%s","password":"%s"}' "$op_org" "$op_email" "$op_pw" |
    curl -sk --max-time 10 -X POST -H 'Content-Type: application/json' --data @- \
        "$CB_HTTPS_URL/api/v1/auth/login")
access=$(sed -n 's/.*"access_token":"\([^"]*\)".*/\1/p' <<<"$login")
[ -n "$access" ] || fail "the printed operator login does not sign in: $login"
code=$(curl -sk --max-time 5 -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $access" \
    "$CB_HTTPS_URL/api/v1/admin/outbox")
[ "$code" = 200 ] || fail "the demo operator cannot read the console's outbox: $code"
grep -q "metrics" <<<"$out" && grep -q "$CB_METRICS_URL" <<<"$out" || fail "no metrics URL printed"
# Run again: the same operator login.
again=$(scripts/demo.sh 2>&1) || fail "scripts/demo.sh failed the second time: $again"
[ "$(sed -n 's/^  email: *\(.*\)$/\1/p' <<<"$again")" = "$op_email" ] &&
    grep -q "^  password: $op_pw " <<<"$again" || fail "a second run printed another operator login"
echo "demo: ok (highlight queued, set_field held then approved by the signed click, call event posted, console login works)"
