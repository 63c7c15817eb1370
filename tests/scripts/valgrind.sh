#!/usr/bin/env bash
# The unit suites under valgrind's memcheck: the plain build (build/, no
# ASan: the two do not mix), each suite in one process (CK_FORK=no) so
# memcheck sees every case, with --leak-check=full.  Any memcheck error,
# any definite or possible leak, or a failed case fails the run; the
# suite's memcheck log is printed.  Suppressions live in
# tests/valgrind.supp, each with the reason it is not a fault of ours.
#
# `make test` runs it over every suite but the slow ones below (about a
# minute on 2 busy cores); `make valgrind` (CB_VALGRIND_ALL=1) runs them
# all, on a stack of its own.  The suites that need Postgres or Redis run
# when the stack's environment is there (scripts/test.sh provides it).
set -uo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)
cd "$repo" || exit 1
fail() { printf 'valgrind: FAIL: %s\n' "$*"; exit 1; }
command -v valgrind >/dev/null || fail "valgrind is not installed (scripts/install-deps.sh)"

# Slow under valgrind, run by `make valgrind` only: the cryptography runs
# some fifty times slower than native, and these suites do much of it.
#   test_jwt     RSA and EC signing and verifying, hundreds of tokens: ~6 min
#   test_pwhash  Argon2id at its production cost: minutes
#   test_sf      RS256 JWT-bearer grants against the fake Salesforce: ~3 min
#   test_httpc   TLS handshakes with its own servers: ~50 s, and its TLS
#                timeouts are set for native speed
slow=" test_jwt test_pwhash test_sf test_httpc "
# Postgres or Redis: only with the stack's environment.
needs_stack=" test_db test_keyring test_kv test_ratelimit test_routespec test_signkeys "

# `make test` builds them; built here when this runs on its own.
make -s --no-print-directory SAN=0 unit >/dev/null 2>&1 || fail "make SAN=0 unit failed"
logs=$(mktemp -d)
trap 'rm -rf "$logs"' EXIT
n=0 t0=$SECONDS
for bin in build/tests/unit/test_*; do
	name=$(basename "$bin")
	[ -x "$bin" ] || continue
	if [[ $slow == *" $name "* && -z ${CB_VALGRIND_ALL:-} ]]; then
		continue
	fi
	if [[ $needs_stack == *" $name "* && -z ${CB_PG_DSN:-} ]]; then
		[ -n "${CB_VALGRIND_ALL:-}" ] && fail "$name needs the stack: run make valgrind"
		continue
	fi
	t1=$SECONDS
	# Slower cases must not hit Check's time limits; a forked child
	# (test_allocfail, test_pwhash) is checked by memcheck too.
	out=$(CK_FORK=no CK_TIMEOUT_MULTIPLIER=10 valgrind -q --error-exitcode=99 --leak-check=full \
		--suppressions=tests/valgrind.supp --log-file="$logs/$name.%p" "$bin" 2>&1)
	rc=$?
	if [ "$rc" -ne 0 ] || grep -q . "$logs/$name".* 2>/dev/null; then
		printf '%s\n' "$out" | tail -n 15
		cat "$logs/$name".* 2>/dev/null | head -n 60
		fail "$name (exit $rc)"
	fi
	echo "valgrind: $name clean, $((SECONDS - t1)) s"
	n=$((n + 1))
done
[ "$n" -gt 0 ] || fail "no unit suites under build/tests/unit"
echo "valgrind: ok ($n unit suites clean in $((SECONDS - t0)) s)"
