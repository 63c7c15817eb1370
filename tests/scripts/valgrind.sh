#!/usr/bin/env bash
# The unit suites under valgrind's memcheck: the plain build (build/, no
# ASan: the two do not mix), each suite in one process (CK_FORK=no) so
# memcheck sees every case, with --leak-check=full.  Any memcheck error,
# any definite or possible leak, or a failed case fails the run; the
# suite's memcheck log is printed.  Suppressions live in
# tests/valgrind.supp, each with the reason it is not a fault of ours.
#
# `make test` runs it over every suite but the slow ones below, two at a
# time (about a minute on 2 busy cores); `make valgrind` (CB_VALGRIND_ALL=1)
# runs them all, on a stack of its own.  VALGRIND_SUITES="test_x test_y"
# runs only those.  The suites that need Postgres or Redis run
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
# and two that wait on Postgres more than they compute:
#   test_db      statement and lock timeouts, reconnects: ~35 s
#   test_keyring migrates a scratch database for each case: ~30 s
slow=" test_jwt test_pwhash test_sf test_httpc test_db test_keyring "
# Postgres or Redis: only with the stack's environment.
needs_stack=" test_db test_keyring test_kv test_ratelimit test_routespec test_signkeys "

# Under memcheck libpq's SCRAM handshake runs some fifty times slower, and
# on a busy machine it outlasted the stack's 3 s connect timeout (test_db
# failed to connect): the last connect_timeout of a conninfo string wins.
for v in CB_PG_DSN CB_PG_OWNER_DSN CB_PG_SUPER_DSN; do
	[ -n "${!v:-}" ] && export "$v=${!v} connect_timeout=30"
done

# `make test` builds them; built here when this runs on its own.
make -s --no-print-directory SAN=0 unit >/dev/null 2>&1 || fail "make SAN=0 unit failed"
logs=$(mktemp -d)
trap 'rm -rf "$logs"' EXIT

# One suite: its output, exit status and seconds into $logs.
run_one() {
	local bin=$1 name t1=$SECONDS
	name=$(basename "$bin")
	# Slower cases must not hit Check's time limits; a forked child
	# (test_allocfail, test_metrics, test_keyring) is checked by memcheck too.
	CK_FORK=no CK_TIMEOUT_MULTIPLIER=10 valgrind -q --error-exitcode=99 --leak-check=full \
		--suppressions=tests/valgrind.supp --log-file="$logs/$name.vg.%p" "$bin" >"$logs/$name.out" 2>&1
	echo "$? $((SECONDS - t1))" >"$logs/$name.rc"
}

# Two at a time (VALGRIND_JOBS): memcheck runs one thread per process.
jobs_max=${VALGRIND_JOBS:-2}
names=()
t0=$SECONDS
for bin in build/tests/unit/test_*; do
	name=$(basename "$bin")
	[ -x "$bin" ] || continue
	# VALGRIND_SUITES="test_a test_b": only those (the slow ones too).
	if [ -n "${VALGRIND_SUITES:-}" ]; then
		[[ " $VALGRIND_SUITES " == *" $name "* ]] || continue
	elif [[ $slow == *" $name "* && -z ${CB_VALGRIND_ALL:-} ]]; then
		continue
	fi
	if [[ $needs_stack == *" $name "* && -z ${CB_PG_DSN:-} ]]; then
		[ -n "${CB_VALGRIND_ALL:-}" ] && fail "$name needs the stack: run make valgrind"
		continue
	fi
	while (( $(jobs -rp | wc -l) >= jobs_max )); do wait -n; done
	run_one "$bin" &
	names+=("$name")
done
wait
(( ${#names[@]} > 0 )) || fail "no unit suites under build/tests/unit"
for name in "${names[@]}"; do
	read -r rc secs <"$logs/$name.rc"
	if [ "$rc" -ne 0 ] || grep -q . "$logs/$name".vg.* 2>/dev/null; then
		# Whole, where the stack keeps its logs; the start of it here, the
		# failed cases last (scripts/test.sh shows a script's last lines).
		if [ -d "${CB_STATE:-}/log" ]; then
			cat "$logs/$name.out" "$logs/$name".vg.* >"$CB_STATE/log/valgrind-$name.txt" 2>/dev/null
		fi
		cat "$logs/$name".vg.* 2>/dev/null | grep -v '^==[0-9]*== *$' | head -n 40
		grep -E ':[FE]:' "$logs/$name.out" | head -n 10
		fail "$name (exit $rc)"
	fi
	echo "valgrind: $name clean, $secs s"
done
echo "valgrind: ok (${#names[@]} unit suites clean in $((SECONDS - t0)) s, $jobs_max at a time)"
