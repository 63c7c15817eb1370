#!/usr/bin/env bash
# `make install` works and what it installs runs: the tree is installed into
# a scratch DESTDIR (from the build the suite runs: build-san/ or build/),
# and a stack is started FROM that tree with its own scripts/stack.sh (its
# cb-migrate migrates, its responders answer behind nginx, its worker serves
# the channel), on free ports, with its own state.  Checked: the processes
# run the installed binaries; health answers 200; the demo page is served;
# a form loads through a tab token; the worker refuses a bad /ws/ path with
# problem+json; the units point at the installed prefix.  The stack is then
# stopped by its pid files, and no process of it may remain.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)
build=${CB_BUILD:-$repo/build-san}
san=0
[ "${build##*/}" = build-san ] && san=1
prefix=/opt/context-broker

fail() { printf 'install: FAIL: %s\n' "$*"; exit 1; }
# shellcheck source=../../scripts/ports.sh
. "$repo/scripts/ports.sh"

dest=$(mktemp -d /tmp/cb-install.XXXXXX)
chmod 0755 "$dest"	# the service user reaches the installed tree in place
tree=$dest$prefix
state=$dest/state
started=0
cleanup() {
    local rc=$?
    if [ "$started" = 1 ]; then
        stack stop >/dev/null 2>&1 || true
    fi
    if [ "$rc" -eq 0 ]; then
        rm -rf -- "$dest"
    else
        echo "install: kept $dest for a look"
    fi
}
trap cleanup EXIT

out=$(make -C "$repo" --no-print-directory SAN=$san install DESTDIR="$dest" 2>&1) ||
    { printf '%s\n' "$out" | tail -n 20; fail "make install failed"; }
for f in bin/cb-worker bin/cb-admin bin/cb-migrate bin/health bin/forms bin/contexts \
    sql/0001_core.up.sql web/index.html nginx/nginx.conf.in nginx/routes.conf \
    scripts/stack.sh scripts/stack/common.sh scripts/stack/stores.sh scripts/stack/services.sh \
    scripts/gen-nginx-routes.sh scripts/cb scripts/db-roles.sql routes.tab \
    scripts/backup.sh scripts/restore.sh README.md; do
    [ -e "$tree/$f" ] || fail "$prefix/$f not installed"
done
# cb-admin backup runs the tree's own scripts/backup.sh (its refusal of a
# bad --type shows it was found and ran).
out=$("$tree/bin/cb-admin" backup --type weekly 2>&1) && fail "cb-admin backup --type weekly succeeded"
[[ $out == *"backup.sh: error: --type must be full, incr or diff"* ]] ||
    fail "cb-admin backup did not run $prefix/scripts/backup.sh: $out"
grep -q "ExecStart=$prefix/bin/cb-worker" "$dest/etc/systemd/system/cb-worker.service" ||
    fail "cb-worker.service does not run $prefix/bin/cb-worker"
grep -q "unix:/run/context-broker/health.sock" "$tree/nginx/routes.conf" ||
    fail "nginx/routes.conf does not point at /run/context-broker"

# A clean environment: only what the installed stack needs (the suite's own
# stack variables must not leak into it).  The installed route table, cut
# to the three responders this test calls (fewer processes to start and
# stop: the suite's time), and one process each.
mkdir -p "$state/log"
awk '$1 !~ /^#/ && ($3 == "health" || $3 == "contexts" || $3 == "forms") { $4 = 1; print }' \
    "$tree/routes.tab" >"$dest/routes.tab"
stack() {
    env -i PATH="$PATH" HOME=/root LANG=C.UTF-8 \
        CB_STATE="$state" CB_ROUTES="$dest/routes.tab" CB_PORT_HTTP="$ph" CB_PORT_HTTPS="$phs" CB_PORT_PG="$ppg" \
        CB_PORT_REDIS="$prd" CB_PORT_WS="$pws" CB_PORT_FAKESF="$pfs" CB_PORT_FAKEHOOKS="$pfh" \
        CB_PORT_OPS="$pops" CB_PORT_PROM="$pprom" \
        ASAN_OPTIONS="detect_leaks=0:log_path=$state/log/asan" \
        UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:log_path=$state/log/ubsan" \
        "$tree/scripts/stack.sh" "$@"
}
for v in ph phs ppg prd pws pfs pfh pops pprom; do
    free_port "$v" 30000 2700 || fail "no free port"
done
started=1
out=$(stack start 2>&1) || { printf '%s\n' "$out" | tail -n 30; fail "the installed stack did not start"; }
grep -q "cb-migrate --dir $tree/sql up" <<<"$out" || fail "migrations did not come from $tree/sql"

pid=$(cat "$state/run/cb-worker.pid")
[ "$(readlink "/proc/$pid/exe")" = "$tree/bin/cb-worker" ] || fail "the worker is not $tree/bin/cb-worker"
pid=$(cat "$state/run/forms.pid")
[ "$(readlink "/proc/$pid/exe")" = "$tree/bin/forms" ] || fail "the forms responder is not $tree/bin/forms"

base=http://127.0.0.1:$ph
code=$(curl -s -o /dev/null -w '%{http_code}' "$base/api/health") || true
[ "$code" = 200 ] || fail "GET /api/health answered $code"
curl -sf "$base/" | grep -qi '<html' || fail "GET / did not serve the installed web/"

# A form load: the demo tenant (the installed cb-admin), a tab, its form.
# shellcheck disable=SC1091
seed=$(set -a; . "$state/stack.env"; "$tree/bin/cb-admin" demo-seed 2>/dev/null) ||
    fail "cb-admin demo-seed failed"
form=$(sed -n 's/.*"form_id" *: *"\([0-9a-f-]*\)".*/\1/p' <<<"$seed")
[ -n "$form" ] || fail "demo-seed printed no form_id"
ctx=$(curl -sk -X POST -H 'Content-Type: application/json' --data "{\"form_id\":\"$form\"}" \
    "https://127.0.0.1:$phs/api/v1/contexts") || fail "POST /api/v1/contexts failed"
tok=$(sed -n 's/.*"tab_token" *: *"\([^"]*\)".*/\1/p' <<<"$ctx")
[ -n "$tok" ] || fail "no tab token in the context's answer"
code=$(curl -s -o "$dest/form.json" -w '%{http_code}' -H "Authorization: Bearer $tok" \
    "$base/api/v1/forms/$form") || true
[ "$code" = 200 ] || fail "GET /api/v1/forms/{id} answered $code"
grep -q '"fields"' "$dest/form.json" || fail "the form load has no fields"
hdr=$(curl -s -D - -o /dev/null -H 'Upgrade: websocket' -H 'Connection: Upgrade' \
    -H 'Sec-WebSocket-Version: 13' -H 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==' \
    "$base/ws/nope")
grep -q '^HTTP/1.1 404' <<<"$hdr" && grep -qi '^content-type: application/problem+json' <<<"$hdr" ||
    fail "the worker did not refuse /ws/nope with a 404 problem: $hdr"

out=$(stack stop 2>&1) || { printf '%s\n' "$out"; fail "the installed stack did not stop"; }
started=0
for p in $(ps -u cbroker -o pid= 2>/dev/null); do
    if { tr '\0' '\n' <"/proc/$p/environ"; } 2>/dev/null | grep -qx "CB_STATE=$state"; then
        fail "process $p of the installed stack is still running"
    fi
done
if compgen -G "$state/log/asan*" >/dev/null || compgen -G "$state/log/ubsan*" >/dev/null; then
    head -n 40 "$state"/log/asan* "$state"/log/ubsan* 2>/dev/null
    fail "sanitizer reports from the installed stack"
fi
echo "install: ok (make install, stack started from $prefix in a DESTDIR, health, page, form load, worker)"
