#!/usr/bin/env bash
# The operator console in headless Chromium, end to end
# (tests/browser/console.test.mjs): an operator signs in at /console/, sees
# two real dead letters (the fake Salesforce refused them for good),
# replays one and watches it delivered, discards the other.
#
# Run by scripts/test.sh with the stack's environment exported; by hand:
#   CB_STATE=/path/to/state tests/scripts/console.sh   (sources $CB_STATE/stack.env)
#
# Installs what it needs when missing (tests/browser/install.sh, as
# tests/scripts/browser.sh does).  Exit 0 = pass; the last line is the result.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)

die() { printf 'console: FAIL: %s\n' "$*"; exit 1; }

if [ -n "${CB_STATE:-}" ] && [ -r "$CB_STATE/stack.env" ] && [ -z "${CB_PG_DSN:-}" ]; then
    # shellcheck disable=SC1091
    . "$CB_STATE/stack.env"
fi
for v in CB_STATE CB_BUILD CB_HTTP_URL CB_HTTPS_URL; do
    [ -n "${!v:-}" ] || die "$v is not set: run under scripts/test.sh, or set CB_STATE to a running stack's state directory"
done
[ -n "${CB_FAKESF_URL:-}" ] || die "CB_FAKESF_URL is not set: the stack runs without the fake Salesforce (CB_SF_CLIENT_ID set?)"
[ -x "$CB_BUILD/bin/cb-admin" ] || die "$CB_BUILD/bin/cb-admin is not built"
export CB_REPO=${CB_REPO:-$repo}

modules=$("$repo/tests/browser/install.sh" --chromium) || die "could not install the test's tools (see above)"
mkdir -p "$CB_STATE/log" 2>/dev/null || true
export CB_BROWSER_NODE_MODULES=$modules CB_CHROMIUM=${CB_CHROMIUM:-/usr/bin/chromium}
exec timeout 120 node "$repo/tests/browser/console.test.mjs"
