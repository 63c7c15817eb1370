#!/usr/bin/env bash
# Install the Debian packages the Context Broker needs to build, run and test,
# and make sure the unprivileged `cbroker` system user exists.
#
# Idempotent: when every package is already installed, apt is not touched.
# Must run as root. Output is one line per step; apt's own output goes to a log
# file (CB_APT_LOG, default /tmp/cbroker-install-deps.log).
set -euo pipefail

PACKAGES=(
    build-essential pkg-config
    libfcgi-dev libpq-dev libhiredis-dev libcjson-dev libsodium-dev
    libcurl4-openssl-dev check libwebsockets-dev libssl-dev
    nginx-light postgresql-15 postgresql-client-15 redis-server
    openssl wrk clang libclang-rt-14-dev curl iproute2 procps util-linux
    chromium fonts-dejavu-core
    prometheus
    # The test fakes' HTTP server (tests/fakes/common/fakehttpd.c).
    libmicrohttpd-dev
    # Static analysis in the suite (tests/scripts/static.sh).
    cppcheck
    # The unit suites under memcheck (tests/scripts/valgrind.sh).
    valgrind
    # The build turns docs/openapi.yaml into the JSON served at
    # /api/openapi.json with Debian's python3 and its YAML parser
    # (scripts/openapi-json.py).
    python3 python3-yaml
    # Backups: pgBackRest archives the cluster's WAL and takes full and
    # incremental backups (scripts/backup.sh, scripts/restore.sh).
    pgbackrest
    # tests/scripts/schema-agree.sh checks docs/schemas/ against the C
    # validators with an established JSON Schema (2020-12) implementation.
    python3-jsonschema
)
# Node.js runs the browser test (playwright-core driving Debian's chromium).
# A machine that already has node and npm keeps its own.
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    PACKAGES+=(nodejs npm)
fi
# The system services these packages ship. We never use them: the private
# stack (scripts/stack.sh) runs its own instances as `cbroker` (Prometheus
# included: it scrapes the stack's /metrics, ops/prometheus/).
SYSTEM_SERVICES=(nginx redis-server postgresql prometheus)

APT_LOG=${CB_APT_LOG:-/tmp/cbroker-install-deps.log}

die() { printf 'install-deps: %s\n' "$*" >&2; exit 1; }

[ "$(id -u)" -eq 0 ] || die "must run as root"

is_installed() {
    local status
    status=$(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null) || return 1
    [ "$status" = installed ]
}

missing=()
for pkg in "${PACKAGES[@]}"; do
    is_installed "$pkg" || missing+=("$pkg")
done

if [ "${#missing[@]}" -eq 0 ]; then
    echo "install-deps: all ${#PACKAGES[@]} packages already installed"
else
    echo "install-deps: installing ${#missing[@]} missing package(s): ${missing[*]} (log: $APT_LOG)"
    # Keep postinst scripts from starting the system nginx/redis/postgres
    # (nginx's default site would listen on 0.0.0.0:80). Only when no
    # policy-rc.d is in place already; ours is removed again on exit.
    policy_created=0
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        printf '#!/bin/sh\n# temporary, created by cbroker install-deps.sh\nexit 101\n' >/usr/sbin/policy-rc.d
        chmod 0755 /usr/sbin/policy-rc.d
        policy_created=1
    fi
    cleanup_policy() {
        if [ "$policy_created" -eq 1 ]; then rm -f /usr/sbin/policy-rc.d; fi
    }
    trap cleanup_policy EXIT

    : >"$APT_LOG"
    if ! apt-get update >>"$APT_LOG" 2>&1; then
        tail -n 20 "$APT_LOG" >&2
        die "apt-get update failed (see $APT_LOG)"
    fi
    if ! DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
            "${PACKAGES[@]}" >>"$APT_LOG" 2>&1; then
        tail -n 20 "$APT_LOG" >&2
        die "apt-get install failed (see $APT_LOG)"
    fi
    for pkg in "${PACKAGES[@]}"; do
        is_installed "$pkg" || die "package $pkg still not installed after apt-get (see $APT_LOG)"
    done
    echo "install-deps: packages installed"

    # Postinst may have enabled/started the system services. With systemd
    # running we switch them off; without it (the usual container case) we
    # leave the system services alone.
    if [ -d /run/systemd/system ]; then
        for svc in "${SYSTEM_SERVICES[@]}"; do
            systemctl disable --now "$svc" >>"$APT_LOG" 2>&1 || true
        done
        echo "install-deps: system services disabled: ${SYSTEM_SERVICES[*]}"
    fi
fi

# The unprivileged user every component of the stack runs as.
if ! getent group cbroker >/dev/null; then
    groupadd --system cbroker
fi
if ! getent passwd cbroker >/dev/null; then
    useradd --system --gid cbroker --no-create-home --home-dir /nonexistent \
        --shell /usr/sbin/nologin --comment "Context Broker" cbroker
    echo "install-deps: created system user cbroker"
else
    echo "install-deps: user cbroker exists"
fi
