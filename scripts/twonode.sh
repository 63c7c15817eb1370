#!/usr/bin/env bash
# scripts/twonode.sh: two broker nodes, each in its own Linux network
# namespace, sharing one Postgres, one Redis and the fakes; run a command
# against them, then take everything down (docs/scale-out.md).
#
#   scripts/twonode.sh COMMAND [ARG...]
#
# Layout (N picked free at random from 10.231.1-254): a bridge in the root
# namespace holds 10.231.N.1, where the shared stack (scripts/stack.sh,
# CB_STACK_ROLE=shared: Postgres, Redis, the migrations, the fakes) listens
# besides 127.0.0.1; namespace A holds 10.231.N.2 and namespace B
# 10.231.N.3 on veth pairs into the bridge, each running one node
# (CB_STACK_ROLE=node: its responders, worker and nginx, its own state
# directory, the shared secrets), nginx listening on that address.  Postgres
# admits 10.231.N.0/24 by password; the default stack stays loopback-only.
#
# COMMAND runs in the root namespace with the shared stack's stack.env and:
#   CB_TWONODE_A_URL, CB_TWONODE_B_URL    http://10.231.N.2:PORT, ...3:PORT
#   CB_TWONODE_A_STATE, CB_TWONODE_B_STATE  the nodes' state directories
#   CB_TWONODE_SHARED_STATE               the shared stack's
#   CB_TWONODE=1                          (a suite re-run by this script)
# CB_STATE stays the caller's (a suite's recorded secrets go where
# scripts/test.sh scans), or the shared state when the caller has none.
# The exit status is COMMAND's, or 1 if the nodes' logs show a secret the
# command recorded or the stacks' own.  The namespaces, veths, bridge and
# every process are removed on any exit (trap); the state is removed after
# a success and kept (path printed) after a failure.
#
# Run as root.  Ports: 20000-21999 (scripts/ports.sh), the shared stack's
# only; inside a namespace nothing else listens.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
stack=$repo/scripts/stack.sh
# shellcheck source=ports.sh
. "$repo/scripts/ports.sh"

say() { printf 'twonode: %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }

[ $# -ge 1 ] || { echo "usage: scripts/twonode.sh COMMAND [ARG...]" >&2; exit 2; }
[ "$(id -u)" -eq 0 ] || die "run as root (network namespaces)"
command -v ip >/dev/null || die "ip (iproute2) is not installed"

tag=cbtn$$
ns_a=${tag}a ns_b=${tag}b br=${tag}br
caller_state=${CB_STATE:-}
base=$(mktemp -d /tmp/cb-twonode.XXXXXX)
chmod 0755 "$base"
net= up_shared=0 up_a=0 up_b=0 shared_state= state_a= state_b= cmd_pid=

# Everything this run made, in reverse; safe to call twice and at any point.
teardown() {
    local rc=$?
    trap - EXIT INT TERM
    set +e
    [ "$up_b" = 1 ] && CB_STATE=$base/b CB_STACK_ROLE=node CB_SHARED_ADDR=$net.1 \
        CB_SHARED_STATE=$shared_state "$stack" stop >>"$base/stop.log" 2>&1
    [ "$up_a" = 1 ] && CB_STATE=$base/a CB_STACK_ROLE=node CB_SHARED_ADDR=$net.1 \
        CB_SHARED_STATE=$shared_state "$stack" stop >>"$base/stop.log" 2>&1
    [ "$up_shared" = 1 ] && CB_STATE=$base/shared "$stack" stop >>"$base/stop.log" 2>&1
    ip netns del "$ns_a" 2>/dev/null
    ip netns del "$ns_b" 2>/dev/null
    ip link del "${tag}a0" 2>/dev/null
    ip link del "${tag}b0" 2>/dev/null
    ip link del "$br" 2>/dev/null
    if [ "$rc" -eq 0 ]; then
        rm -rf "$base"
    else
        say "state and logs kept in $base"
    fi
    exit "$rc"
}
trap teardown EXIT
# A signal ends the command too (it runs in the background so that the
# signal is taken at once, not after the command ends), then tears down.
on_signal() {
    [ -n "$cmd_pid" ] && kill -TERM "$cmd_pid" 2>/dev/null
    exit 130
}
trap on_signal INT TERM

# A /24 no interface of the root namespace uses yet; the bridge takes .1
# (adding it fails if another run took the same one meanwhile: try again).
ip link add "$br" type bridge || die "cannot make a bridge (no network namespaces here?)"
for _ in $(seq 1 50); do
    n=$(( (RANDOM % 254) + 1 ))
    [ -z "$(ip -4 -o addr show to "10.231.$n.0/24")" ] || continue
    if ip addr add "10.231.$n.1/24" dev "$br" 2>/dev/null; then
        net=10.231.$n
        break
    fi
done
[ -n "$net" ] || die "no free 10.231.N.0/24"
ip link set "$br" up

# One namespace with its end of a veth pair in the bridge: NAME SIDE ADDRESS.
make_ns() {
    local ns=$1 side=$2 addr=$3
    ip netns add "$ns"
    ip link add "${tag}${side}0" type veth peer name "${tag}${side}1"
    ip link set "${tag}${side}0" master "$br" up
    ip link set "${tag}${side}1" netns "$ns"
    ip -n "$ns" addr add "$addr/24" dev "${tag}${side}1"
    ip -n "$ns" link set "${tag}${side}1" up
    ip -n "$ns" link set lo up
}
make_ns "$ns_a" a "$net.2"
make_ns "$ns_b" b "$net.3"

for v in PG REDIS FAKESF FAKEHOOKS HTTP HTTPS WS OPS; do
    free_port "P_$v" 20000 2000 || die "no free port for $v"
done

# The shared stack, in the root namespace.
shared_state=$(CB_STATE=$base/shared "$stack" state)
say "shared stack (Postgres, Redis, fakes) on $net.1"
up_shared=1
CB_STATE=$base/shared CB_STACK_ROLE=shared CB_SHARED_ADDR=$net.1 CB_SHARED_NET=$net.0/24 \
    CB_PORT_PG=$P_PG CB_PORT_REDIS=$P_REDIS CB_PORT_FAKESF=$P_FAKESF CB_PORT_FAKEHOOKS=$P_FAKEHOOKS \
    "$stack" start >"$base/shared-start.log" 2>&1 ||
    { tail -n 30 "$base/shared-start.log" >&2; die "the shared stack did not start"; }

# A node in its namespace: SIDE ADDRESS.  The test's clients reach it from
# the bridge's address, which its edge limits exempt as they do loopback.
start_node() {
    local side=$1 addr=$2 ns=${tag}$1
    say "node $side in namespace $ns on $addr"
    ip netns exec "$ns" env CB_STATE="$base/$side" CB_STACK_ROLE=node \
        CB_SHARED_STATE="$shared_state" CB_SHARED_ADDR="$net.1" CB_BIND_ADDR="$addr" \
        CB_PORT_PG="$P_PG" CB_PORT_REDIS="$P_REDIS" CB_PORT_FAKESF="$P_FAKESF" \
        CB_PORT_FAKEHOOKS="$P_FAKEHOOKS" CB_PORT_HTTP="$P_HTTP" CB_PORT_HTTPS="$P_HTTPS" \
        CB_PORT_WS="$P_WS" CB_PORT_OPS="$P_OPS" CB_EDGE_EXEMPT="127.0.0.1,$net.1" \
        "$stack" start >"$base/$side-start.log" 2>&1 ||
        { tail -n 30 "$base/$side-start.log" >&2; die "node $side did not start"; }
}
# Both at once (each waits mostly on its own processes' start-up).
start_node a "$net.2" & pid_a=$!
start_node b "$net.3" & pid_b=$!
up_a=1 up_b=1
wait "$pid_a" || die "node a did not start"
wait "$pid_b" || die "node b did not start"
state_a=$(readlink -f "$base/a") state_b=$(readlink -f "$base/b")

set +e
(
    set -a
    # shellcheck disable=SC1091
    . "$shared_state/stack.env"
    set +a
    export CB_STATE=${caller_state:-$shared_state}
    export CB_TWONODE=1 CB_TWONODE_A_URL="http://$net.2:$P_HTTP" CB_TWONODE_B_URL="http://$net.3:$P_HTTP"
    export CB_TWONODE_A_STATE=$state_a CB_TWONODE_B_STATE=$state_b CB_TWONODE_SHARED_STATE=$shared_state
    export CB_HTTP_URL=$CB_TWONODE_A_URL CB_HTTPS_URL="https://$net.2:$P_HTTPS"
    exec "$@"
) &
cmd_pid=$!
wait "$cmd_pid"
rc=$?
cmd_pid=
set -e

# No secret in the nodes' or the shared stack's logs: theirs and the ones
# the command recorded.
pat=$base/secrets.txt
for f in "$shared_state"/secrets/*.pw "$shared_state"/secrets/*.hex "$shared_state"/secrets/*.key; do
    [ -f "$f" ] && { tr -d '\n' <"$f"; echo; } >>"$pat"
done
[ -f "${caller_state:-$shared_state}/test-secrets.txt" ] && cat "${caller_state:-$shared_state}/test-secrets.txt" >>"$pat"
if leaks=$(grep -rlF -f "$pat" "$state_a/log" "$state_b/log" "$shared_state/log" 2>/dev/null) && [ -n "$leaks" ]; then
    say "secrets found in logs: $leaks"
    [ "$rc" -ne 0 ] || rc=1
fi
rm -f "$pat"
exit "$rc"
