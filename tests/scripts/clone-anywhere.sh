#!/usr/bin/env bash
# Clone anywhere: the suite passes from a clone under a directory the
# service user cannot traverse (0700, as /root is), and that directory's
# mode is left as it was.  The repository (its committed HEAD) is cloned
# under a fresh 0700 directory; the clone gets a copy of this run's build
# (rebuilding would take minutes) and runs its own scripts/test.sh on one
# integration suite: a real stack starts (its state placed where cbroker can
# reach it, what cbroker runs staged beside it), the suite's requests go
# through nginx, the stack stops, and test.sh's own checks (sanitizers,
# leftover processes, secrets in logs) hold.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)
build=${CB_BUILD:-$repo/build-san}
suite=test_edges

fail() { printf 'clone-anywhere: FAIL: %s\n' "$*"; exit 1; }

top=$(mktemp -d /tmp/cb-clone.XXXXXX)
cleanup() {
    local rc=$?
    if [ "$rc" -eq 0 ]; then rm -rf -- "$top"; else echo "clone-anywhere: kept $top for a look"; fi
}
trap cleanup EXIT
chmod 0700 "$top"
setpriv --reuid=cbroker --regid=cbroker --init-groups -- test -x "$top" &&
    fail "cbroker can traverse $top: the test proves nothing"

git clone -q "$repo" "$top/clone" || fail "git clone failed"
clone=$top/clone
b=$clone/${build##*/}
mkdir -p "$b/tests/integration"
cp -a "$build/bin" "$b/bin"
# What the build makes besides binaries (the API description nginx serves).
[ -d "$build/share" ] && cp -a "$build/share" "$b/share"
cp -a "$build/tests/integration/$suite" "$b/tests/integration/"

out=$(env -i PATH="$PATH" HOME=/root LANG=C.UTF-8 CB_BUILD="$b" \
    timeout 300 "$clone/scripts/test.sh" "$suite" 2>&1) || {
    printf '%s\n' "$out" | tail -n 40
    fail "scripts/test.sh $suite failed in the clone"
}
last=$(tail -n 1 <<<"$out")
[[ $last =~ ^([0-9]+)\ passed,\ 0\ failed$ ]] && [ "${BASH_REMATCH[1]}" -gt 1 ] ||
    { printf '%s\n' "$out" | tail -n 20; fail "unexpected result: $last"; }
grep -q "state is kept in /var/lib/context-broker-dev/" <<<"$out" ||
    fail "the state was not placed where cbroker can reach it"
grep -q "stage: cbroker runs copies" <<<"$out" || fail "what cbroker runs was not staged"
[ "$(stat -c %a "$top")" = 700 ] || fail "$top is no longer 0700"
echo "clone-anywhere: ok ($last, from a clone under a 0700 directory)"
