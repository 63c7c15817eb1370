#!/usr/bin/env bash
# One way to fail (lib/fail.h): a hook or act() ends a request with an
# error only by returning route_fail(...) and friends; the pipeline renders
# the one problem+json answer.  This fails the suite when the old ways come
# back: a responder or module rendering a problem itself (resp_problem is
# the pipeline's renderer: lib/route.c, defined in lib/req.c), a 429 whose
# Retry-After is written anywhere but route_too_many, the idempotency
# `replayed` flag that meant "answered", or an authentication hook coded
# on a route instead of declared (.auth, .roles, .scope).
set -uo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)
cd "$repo" || exit 1
fail=0
bad() { echo "one-way-to-fail: $1"; printf '%s\n' "$2" | sed 's/^/    /'; fail=1; }

# C sources a responder or module is made of (the tests may drive the renderer).
mapfile -t srcs < <(ls cgi/*.c lib/*.c lib/*.h worker/*.c tools/*.c 2>/dev/null)

hits=$(grep -nE '\bresp_problem(_ext)?\b' "${srcs[@]}" |
    grep -vE '^lib/(req\.[ch]|route\.c):' || true)
[ -z "$hits" ] || bad "resp_problem outside the pipeline (return route_fail instead):" "$hits"

hits=$(grep -nE 'resp_header\([^,]*, *"Retry-After"' "${srcs[@]}" |
    grep -vE '^lib/(route|req|fail)\.c:' || true)
[ -z "$hits" ] || bad "Retry-After written outside route_too_many:" "$hits"

# (The audit action dead_letter.replayed is a name, not the flag.)
hits=$(grep -nE '(\.|->)replayed\b' "${srcs[@]}" | grep -vE 'dead_letter\.replayed\b' || true)
[ -z "$hits" ] || bad "the idempotency flag is from_store (the stored answer), not replayed:" "$hits"

hits=$(grep -nE '\.authenticate *=' cgi/*.c || true)
[ -z "$hits" ] || bad "authentication declared with .auth (lib/route.h), not a hook:" "$hits"

hits=$(grep -nE 'userauth_require_role|apikey_has_scope' cgi/*.c || true)
[ -z "$hits" ] || bad "roles and scopes declared with .roles and .scope, not coded:" "$hits"

(( fail == 0 )) && echo "one-way-to-fail: ok"
exit "$fail"
