#!/usr/bin/env bash
# The demo page in headless Chromium, end to end (tests/browser/demo.test.mjs):
# a tab opens the link `make run` prints, an agent drives it over the
# channel, the tab submits, the worker delivers to the fake Salesforce.
#
# Run by scripts/test.sh with the stack's environment exported; by hand:
#   CB_STATE=/path/to/state tests/scripts/browser.sh   (sources $CB_STATE/stack.env)
# `tests/scripts/browser.sh NAME` runs tests/browser/NAME.test.mjs instead
# (tests/scripts/console.sh: the operator console's).
# CB_BROWSER_SCHEME=http loads the page over plain HTTP (default https).
#
# Installs what it needs when missing (tests/browser/install.sh: Debian's
# chromium, pinned playwright-core into the git-ignored
# tests/browser/node_modules).  Exit 0 = pass; the last line is the result.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)
name=${1:-demo}

die() { printf 'browser: FAIL: %s\n' "$*"; exit 1; }
[[ $name =~ ^[a-z]+$ && -r $repo/tests/browser/$name.test.mjs ]] || die "no browser test named '$name'"

if [ -n "${CB_STATE:-}" ] && [ -r "$CB_STATE/stack.env" ] && [ -z "${CB_PG_DSN:-}" ]; then
    # shellcheck disable=SC1091
    . "$CB_STATE/stack.env"
fi
for v in CB_STATE CB_BUILD CB_HTTP_URL CB_HTTPS_URL CB_PG_DSN; do
    [ -n "${!v:-}" ] || die "$v is not set: run under scripts/test.sh, or set CB_STATE to a running stack's state directory"
done
[ -n "${CB_FAKESF_URL:-}" ] || die "CB_FAKESF_URL is not set: the stack runs without the fake Salesforce (CB_SF_CLIENT_ID set?)"
[ -x "$CB_BUILD/bin/cb-admin" ] || die "$CB_BUILD/bin/cb-admin is not built"
export CB_REPO=${CB_REPO:-$repo}

modules=$("$repo/tests/browser/install.sh" --chromium) || die "could not install the test's tools (see above)"
mkdir -p "$CB_STATE/log" 2>/dev/null || true
export CB_BROWSER_NODE_MODULES=$modules CB_CHROMIUM=${CB_CHROMIUM:-/usr/bin/chromium}
exec timeout 300 node "$repo/tests/browser/$name.test.mjs"
