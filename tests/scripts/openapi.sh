#!/usr/bin/env bash
# The API description (docs/openapi.yaml) against the broker:
#   1. an established validator passes it (@seriousme/openapi-schema-validator
#      against the OpenAPI 3.1 JSON Schema, every $ref resolved; pinned by
#      tests/openapi/install.sh), and fails a doctored copy;
#   2. it and routes.tab name the same routes, its `deprecated`, required
#      Idempotency-Key and security match each route's descriptor
#      (`<binary> --routes`), every problem type has an example
#      (tests/openapi/check.py, which first proves it catches each kind of
#      disagreement);
#   3. GET /api/openapi.json over the running stack is the same document,
#      application/json, publicly cacheable.
#
# Run by scripts/test.sh with the stack's environment exported; by hand:
#   CB_STATE=/path/to/state tests/scripts/openapi.sh   (sources $CB_STATE/stack.env)
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)

die() { printf 'openapi: FAIL: %s\n' "$*"; exit 1; }

if [ -n "${CB_STATE:-}" ] && [ -r "$CB_STATE/stack.env" ] && [ -z "${CB_HTTP_URL:-}" ]; then
    # shellcheck disable=SC1091
    . "$CB_STATE/stack.env"
fi
for v in CB_BUILD CB_HTTP_URL; do
    [ -n "${!v:-}" ] || die "$v is not set: run under scripts/test.sh, or set CB_STATE to a running stack's state directory"
done
/usr/bin/python3 -c 'import yaml' 2>/dev/null || die "python3-yaml is not installed (scripts/install-deps.sh)"
json=$CB_BUILD/share/openapi.json
[ -r "$json" ] || die "$json is not built (make openapi)"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# 1. The validator, and that it can say no.
modules=$("$repo/tests/openapi/install.sh") || die "could not install the validator (see above)"
validate() { node "$modules/@seriousme/openapi-schema-validator/bin/validate-api-cli.js" "$1"; }
out=$(validate "$json" 2>&1) || die "the validator refuses docs/openapi.yaml: $out"
grep -q '"valid": true' <<<"$out" || die "the validator did not say valid: $out"
/usr/bin/python3 - "$json" "$tmp/bad.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
del d["paths"]["/api/health"]["get"]["responses"]["200"]["description"]
json.dump(d, open(sys.argv[2], "w"))
PY
if out=$(validate "$tmp/bad.json" 2>&1) && grep -q '"valid": true' <<<"$out"; then
    die "the validator passed a response without its description"
fi

# 3 (fetched first, compared in 2). The served copy and its headers.
code=$(curl -sS -o "$tmp/served.json" -D "$tmp/headers" -w '%{http_code}' \
    "$CB_HTTP_URL/api/openapi.json") || die "GET /api/openapi.json failed"
[ "$code" = 200 ] || die "GET /api/openapi.json answered $code"
grep -qi '^content-type: application/json' "$tmp/headers" ||
    die "GET /api/openapi.json is not application/json: $(grep -i '^content-type' "$tmp/headers")"
grep -qi '^cache-control: public' "$tmp/headers" ||
    die "GET /api/openapi.json is not publicly cacheable: $(grep -i '^cache-control' "$tmp/headers")"
code=$(curl -sS -o /dev/null -w '%{http_code}' -X POST "$CB_HTTP_URL/api/openapi.json") || true
[ "$code" = 405 ] || die "POST /api/openapi.json answered $code, not 405"

# 2. The agreement, the build's JSON and the served one.
/usr/bin/python3 "$repo/tests/openapi/check.py" "$repo" "$CB_BUILD" "$tmp/served.json"
