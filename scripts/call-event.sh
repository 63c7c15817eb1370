#!/bin/sh
# call-event.sh SOURCE_ID SECRET [BASE_URL]: sign a sample call event to
# Standard Webhooks 1.0 (HMAC-SHA256 over "{id}.{timestamp}.{body}", keyed
# with the base64 after "whsec_") and POST it to the broker's inbound route,
# as a voice platform would.  The source id and secret come from
# `cb-admin call-source-add ORG NAME` (docs/calls.md).  BASE_URL defaults to
# CB_PUBLIC_URL, else http://127.0.0.1:8080.  Needs openssl and curl.
#
# CALL_CORR and CALL_TYPE override the correlation id and event type; the
# caller's phone is CALL_FROM (default the demo contact's, +14155552671).
set -eu

if [ $# -lt 2 ] || [ $# -gt 3 ]; then
    echo "usage: $0 SOURCE_ID SECRET [BASE_URL]" >&2
    exit 2
fi
source_id=$1
secret=$2
base=${3:-${CB_PUBLIC_URL:-http://127.0.0.1:8080}}
case $secret in
    whsec_*) ;;
    *) echo "$0: SECRET must start with whsec_" >&2; exit 2 ;;
esac

ts=$(date +%s)
id="msg_$(openssl rand -hex 12)"
corr=${CALL_CORR:-run-$(openssl rand -hex 6)}
type=${CALL_TYPE:-call_started}
from=${CALL_FROM:-+14155552671}
started=$(date -u +%Y-%m-%dT%H:%M:%SZ)
body=$(printf '{"correlation_id":"%s","event_type":"%s","from":"%s","to":"+14155550100","started_at":"%s"}' \
    "$corr" "$type" "$from" "$started")

# The key is the secret's base64 part, as hex for openssl's HMAC.
key=$(printf '%s' "${secret#whsec_}" | openssl base64 -d -A | od -An -v -tx1 | tr -d ' \n')
sig=$(printf '%s.%s.%s' "$id" "$ts" "$body" |
    openssl dgst -sha256 -mac HMAC -macopt "hexkey:$key" -binary | openssl base64 -A)

curl -sS -X POST "$base/api/v1/webhooks/calls/$source_id" \
    -H 'Content-Type: application/json' \
    -H "webhook-id: $id" \
    -H "webhook-timestamp: $ts" \
    -H "webhook-signature: v1,$sig" \
    --data-binary "$body" \
    -w '\n%{http_code}\n'
