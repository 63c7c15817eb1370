#!/usr/bin/env bash
# Bring up / tear down the private Context Broker stack: Postgres 15, Redis 7,
# the FastCGI responders, the worker and nginx, all as the unprivileged user
# `cbroker`, all bound to 127.0.0.1, all state under one directory.
#
# usage: scripts/stack.sh COMMAND   (start, stop, status, restart-worker, ...: see usage())
#
# This file holds the settings and the commands; the functions they use are
# in three parts it sources, scripts/stack/common.sh (helpers, the state
# directory's layout), stores.sh (Postgres, Redis, migrations) and
# services.sh (responders, worker, fakes, nginx, Prometheus).
#
# Run as root (it switches to cbroker with setpriv). Configuration, by
# environment variable (defaults in brackets):
#   CB_STATE          state directory                       [$repo/var/dev]
#   CB_BUILD          build directory holding bin/          [$repo/build; in
#                     an installed tree (make install), the tree itself]
#   CB_STAGE          1: always run copies of the binaries, sql/ and web/
#                     kept in $CB_STATE/app; 0: never; auto (the default):
#                     when cbroker cannot reach them where they are
#   CB_PORT_HTTP      nginx, plain HTTP                     [8080]
#   CB_PORT_HTTPS     nginx, HTTPS + HTTP/2                 [8443]
#   CB_PORT_PG        Postgres                              [55432]
#   CB_PORT_REDIS     Redis                                 [56379]
#   CB_PORT_WS        the worker's WebSocket listener       [8090]
#   CB_PORT_FAKESF    fake Salesforce (reserved)            [8095]
#   CB_PORT_FAKEHOOKS fake webhook receivers and Slack      [8096]
#   CB_PORT_OPS       nginx, the operator listener (/metrics) [8091]
#   CB_PORT_PROM      Prometheus (scrapes /metrics)           [9090]
#   CB_PROM_SCRAPE_INTERVAL  Prometheus's scrape and rule interval [15s]
#   CB_ROUTES         route table                           [$repo/routes.tab]
#   CB_CLIENT_CA      PEM file of the CA(s) whose client certificates nginx
#                     verifies for agents over mutual TLS (docs/edge.md);
#                     unset: a development CA the stack makes once, its key in
#                     $CB_STATE/secrets/client-ca-dev.key (never committed)
#   CB_ALLOW_MISSING  1: start without the responder binaries that are not
#                     built (a warning each) instead of failing
#   CB_EDGE_*         nginx's edge limits per rate class and address (see
#                     scripts/gen-nginx-routes.sh); CB_EDGE_EXEMPT defaults to
#                     127.0.0.1 here (the stack's own clients), empty = none
#   CB_QUOTA_*        tenants' and keys' quotas (lib/settings.c); unset ones
#                     default to 100000000 a minute here: no run reaches them
#   CB_PG_RECOVERY_WAIT_S  how long start-postgres waits for a restored
#                     cluster to finish its recovery                 [300]
#   CB_BIND_ADDR      the IPv4 address nginx's public listeners bind [127.0.0.1]
#
# Several nodes (docs/scale-out.md; scripts/twonode.sh runs two, each
# in its own network namespace):
#   CB_STACK_ROLE     all: everything, one node (the default); shared: only
#                     what every node shares (Postgres, Redis, the
#                     migrations, the fakes); node: only one node's own
#                     processes (responders, worker, nginx), using the
#                     shared ones of CB_SHARED_STATE at CB_SHARED_ADDR
#   CB_SHARED_ADDR    shared: one more IPv4 address Postgres and Redis listen
#                     on, and the one the fakes bind; node: where they are
#   CB_SHARED_NET     shared: the network (CIDR) Postgres admits passwords
#                     from over that address (pg_hba.conf, written at initdb)
#   CB_SHARED_STATE   node: the shared stack's state directory; its secrets
#                     (passwords, pepper, keys) are copied into the node's
#   CB_PORT_PG, CB_PORT_REDIS, CB_PORT_FAKESF, CB_PORT_FAKEHOOKS: a node is
#                     given the shared stack's
#
# Backups: Postgres archives its WAL to a pgBackRest repository in
# $CB_STATE/backup/repo (configuration: $CB_STATE/backup/pgbackrest.conf,
# stanza cbroker, both named in stack.env as CB_BACKUP_CONF and
# CB_BACKUP_STANZA); `cb-admin backup` backs up, scripts/restore.sh restores.
#
# Clone anywhere: the stack runs as cbroker, which may not be able to reach
# a clone under a private directory such as /root (0700).  Nothing of that
# directory is loosened.  When cbroker cannot reach CB_STATE, the state
# lives in /var/lib/context-broker-dev/<hash of the CB_STATE path> and
# CB_STATE becomes a symbolic link to it (root follows it, cbroker is given
# the real path); when it cannot reach the build, sql/ or web/, `start`
# copies them into $CB_STATE/app and runs the copies (CB_STAGE).  nginx's
# configuration is copied into the state directory in any case.
#
# After `start`, $CB_STATE/stack.env holds `export NAME=value` lines for the
# stack (URLs, ports, DSNs, Redis password); every process the script starts
# gets the same variables (plus any other CB_* and *SAN_OPTIONS variables of
# the caller's environment).
set -euo pipefail
umask 022

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
PROG=stack.sh

CB_USER=cbroker
PGBIN=/usr/lib/postgresql/15/bin
NGINX_BIN=/usr/sbin/nginx
REDIS_BIN=/usr/bin/redis-server
CHILD_PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

say()  { printf '%s: %s\n' "$PROG" "$*"; }
warn() { printf '%s: warning: %s\n' "$PROG" "$*" >&2; }
die()  { printf '%s: error: %s\n' "$PROG" "$*" >&2; exit 1; }

usage() {
    cat >&2 <<'EOF'
usage: scripts/stack.sh start|stop|status|start-redis|stop-redis|restart-worker|
                       restart-edge|start-outbox2|stop-outbox2|restart-postgres|stop-postgres|
                       start-postgres|stop-worker|start-worker|pause-redis|resume-redis|env|state

  start           start everything that is not running (Postgres, Redis,
                  migrations, responders, worker, nginx); writes stack.env
  stop            stop everything the pid files name, in reverse order
  status          one line per component; exit 0 if all run, 3 otherwise
  start-redis     start Redis only (after stop-redis)
  stop-redis      SIGTERM Redis and wait for it to exit
  restart-worker  stop the worker (TERM, KILL after 10 s) and start it again
  restart-edge    stop the responders, start them again and reload nginx's
                  configuration, with the caller's settings (CB_TRACE=off,
                  CB_METRICS_DIR= : the benchmark's and the tests' switches)
  start-outbox2   start a second delivery process (cb-worker --only outbox)
  stop-outbox2    stop it
  restart-postgres  crash Postgres (immediate shutdown) and start it again
  stop-postgres   stop Postgres only (fast shutdown)
  start-postgres  start Postgres only; a restored cluster: wait for its
                  recovery to end (scripts/restore.sh)
  stop-worker     stop the worker only (nothing is delivered)
  start-worker    start it again
  pause-redis     freeze Redis (SIGSTOP): it accepts connections, answers nothing
  resume-redis    thaw it (SIGCONT)
  env             print the path of stack.env
  state           make the state directory (placed where cbroker can reach
                  it, see "Clone anywhere") and print its real path

environment: CB_STATE CB_BUILD CB_STAGE CB_ROUTES CB_PORT_HTTP CB_PORT_HTTPS CB_PORT_PG
             CB_PORT_REDIS CB_PORT_WS CB_PORT_FAKESF CB_PORT_FAKEHOOKS CB_PORT_OPS CB_PORT_PROM
             CB_PROM_SCRAPE_INTERVAL
             CB_CLIENT_CA CB_ALLOW_MISSING CB_FAKESF_MAX_RECORDS CB_BIND_ADDR
             CB_STACK_ROLE CB_SHARED_ADDR CB_SHARED_NET CB_SHARED_STATE (docs/scale-out.md)
EOF
    exit 2
}

# ---------------------------------------------------------------- settings

abspath() { realpath -m -- "$1"; }

# The state directory as asked (its parent resolved, itself not: it may be
# the link this script made), and the one used (links followed).
CB_STATE_ASKED=${CB_STATE:-$REPO/var/dev}
CB_STATE_ASKED=$(abspath "$(dirname -- "$CB_STATE_ASKED")")/$(basename -- "$CB_STATE_ASKED")
CB_STATE=$(abspath "$CB_STATE_ASKED")
DEV_ROOT=/var/lib/context-broker-dev
# An installed tree (make install) holds bin/ itself; a repository builds
# into build/.
if [ -z "${CB_BUILD:-}" ] && [ ! -d "$REPO/build" ] && [ -x "$REPO/bin/cb-worker" ]; then
    CB_BUILD=$REPO
fi
CB_BUILD=$(abspath "${CB_BUILD:-$REPO/build}")
CB_PORT_HTTP=${CB_PORT_HTTP:-8080}
CB_PORT_HTTPS=${CB_PORT_HTTPS:-8443}
CB_PORT_PG=${CB_PORT_PG:-55432}
CB_PORT_REDIS=${CB_PORT_REDIS:-56379}
CB_PORT_WS=${CB_PORT_WS:-8090}
CB_PORT_FAKESF=${CB_PORT_FAKESF:-8095}
CB_PORT_FAKEHOOKS=${CB_PORT_FAKEHOOKS:-8096}
CB_PORT_OPS=${CB_PORT_OPS:-8091}
CB_PORT_PROM=${CB_PORT_PROM:-9090}
CB_PROM_SCRAPE_INTERVAL=${CB_PROM_SCRAPE_INTERVAL:-15s}
CB_STACK_ROLE=${CB_STACK_ROLE:-all}
CB_BIND_ADDR=${CB_BIND_ADDR:-127.0.0.1}
CB_SHARED_ADDR=${CB_SHARED_ADDR:-}
CB_SHARED_NET=${CB_SHARED_NET:-}
CB_SHARED_STATE=${CB_SHARED_STATE:-}
# Where this stack's processes reach Postgres and Redis (a node: the shared
# address), and the address the fakes bind and are reached at.
if [ "$CB_STACK_ROLE" = node ]; then SVC_ADDR=$CB_SHARED_ADDR; else SVC_ADDR=127.0.0.1; fi
FAKE_ADDR=${CB_SHARED_ADDR:-127.0.0.1}
PROM_BIN=/usr/bin/prometheus
PGBACKREST_BIN=/usr/bin/pgbackrest
BACKUP_STANZA=cbroker

# Every path under the state directory, and what the service user runs:
# the build, sql/ and web/ where they are, or their copies in $APP_DIR
# when `start` staged them (stage_app).
set_paths() {
    RUN_DIR=$CB_STATE/run
    LOG_DIR=$CB_STATE/log
    PG_DIR=$CB_STATE/pg
    NGINX_DIR=$CB_STATE/nginx
    TLS_DIR=$CB_STATE/tls
    REDIS_DIR=$CB_STATE/redis
    SECRETS_DIR=$CB_STATE/secrets
    METRICS_DIR=$RUN_DIR/metrics
    PROM_DIR=$CB_STATE/prometheus
    STACK_ENV=$CB_STATE/stack.env
    BACKUP_DIR=$CB_STATE/backup
    BACKUP_REPO=$BACKUP_DIR/repo
    BACKUP_CONF=$BACKUP_DIR/pgbackrest.conf
    APP_DIR=$CB_STATE/app
    if [ -d "$APP_DIR/bin" ]; then
        BIN_DIR=$APP_DIR/bin SQL_DIR=$APP_DIR/sql WEB_DIR=$APP_DIR/web
    else
        BIN_DIR=$CB_BUILD/bin SQL_DIR=$REPO/sql WEB_DIR=$REPO/web
    fi
}
set_paths
ROUTES_TAB=$(abspath "${CB_ROUTES:-$REPO/routes.tab}")
GEN_ROUTES=$REPO/scripts/gen-nginx-routes.sh
DB_ROLES_SQL=$REPO/scripts/db-roles.sql
STARTED=()      # what this invocation started, for rollback
STOPPED_PIDS=() # stopped processes init may not have reaped yet
CHILD_ENV=()
CB_UID=

validate_settings() {
    local name val
    for name in CB_PORT_HTTP CB_PORT_HTTPS CB_PORT_PG CB_PORT_REDIS CB_PORT_WS CB_PORT_FAKESF CB_PORT_FAKEHOOKS CB_PORT_OPS CB_PORT_PROM; do
        val=${!name}
        if ! [[ $val =~ ^[0-9]+$ ]] || [ "$val" -lt 1 ] || [ "$val" -gt 65535 ]; then
            die "$name must be a port number (1-65535), got '$val'"
        fi
    done
    [[ $CB_PROM_SCRAPE_INTERVAL =~ ^[1-9][0-9]{0,3}(ms|s|m)$ ]] \
        || die "CB_PROM_SCRAPE_INTERVAL must be a duration such as 1s or 15s, got '$CB_PROM_SCRAPE_INTERVAL'"
    validate_roles
    # These paths end up in nginx.conf, libpq DSNs and stack.env unquoted.
    for name in CB_STATE CB_BUILD REPO; do
        val=${!name}
        [[ $val =~ ^/[A-Za-z0-9._/+-]*$ ]] \
            || die "$name has characters this script cannot put in a config file: '$val' (use [A-Za-z0-9._/+-])"
    done
    # sun_path is 108 bytes; leave room for the longest socket name.
    [ $((${#RUN_DIR} + 24)) -lt 108 ] \
        || die "CB_STATE is too long for unix socket paths ($RUN_DIR): pick a shorter CB_STATE"
}

# The several-nodes settings: a role, and the addresses and paths it needs.
validate_roles() {
    local ip='^([0-9]{1,3}\.){3}[0-9]{1,3}$' name
    case $CB_STACK_ROLE in
        all|shared|node) ;;
        *) die "CB_STACK_ROLE must be all, shared or node, got '$CB_STACK_ROLE'" ;;
    esac
    for name in CB_BIND_ADDR CB_SHARED_ADDR; do
        [ -z "${!name}" ] || [[ ${!name} =~ $ip ]] || die "$name must be an IPv4 address, got '${!name}'"
    done
    [ -z "$CB_SHARED_NET" ] || [[ $CB_SHARED_NET =~ ^([0-9]{1,3}\.){3}[0-9]{1,3}/[0-9]{1,2}$ ]] \
        || die "CB_SHARED_NET must be an IPv4 network such as 10.0.0.0/24, got '$CB_SHARED_NET'"
    if [ "$CB_STACK_ROLE" = node ]; then
        [ -n "$CB_SHARED_ADDR" ] || die "CB_STACK_ROLE=node needs CB_SHARED_ADDR (where Postgres and Redis are)"
        [[ $CB_SHARED_STATE =~ ^/[A-Za-z0-9._/+-]*$ ]] \
            || die "CB_STACK_ROLE=node needs CB_SHARED_STATE, the shared stack's state directory"
    fi
    return 0
}

# ---------------------------------------------------------------- parts

# The rest of the functions, by part; one program, sourced in this order.
# shellcheck source=stack/common.sh
. "$REPO/scripts/stack/common.sh"
# shellcheck source=stack/stores.sh
. "$REPO/scripts/stack/stores.sh"
# shellcheck source=stack/services.sh
. "$REPO/scripts/stack/services.sh"

# ---------------------------------------------------------------- commands

write_stack_env() {
    local tmp=$STACK_ENV.tmp line
    (
        umask 077
        echo "# written by scripts/stack.sh start; source it: . $STACK_ENV"
        while IFS= read -r line; do
            printf "export %s='%s'\n" "${line%%=*}" "${line#*=}"
        done < <(stack_vars; echo "CB_PG_OWNER_DSN=$(owner_dsn)")
    ) >"$tmp"
    chown "$CB_USER:$CB_USER" "$tmp"
    chmod 0600 "$tmp"
    mv -f "$tmp" "$STACK_ENV"
}

# Undo the components this invocation started, newest first.
rollback() {
    local i item name pid bin
    [ "${#STARTED[@]}" -gt 0 ] || return 0
    warn "start failed: stopping what this run started"
    for ((i = ${#STARTED[@]} - 1; i >= 0; i--)); do
        item=${STARTED[i]}
        name=${item%%:*}
        pid=${item##*:}
        bin=${item#resp:}
        bin=${bin%:*}
        case $name in
            postgres) ;;
            resp) say "rollback: stopping responder $bin (pid $pid)" ;;
            *) say "rollback: stopping $name (pid $pid)" ;;
        esac
        case $name in
            postgres) stop_postgres ;;
            redis)    stop_pid redis "$pid" TERM 15; rm -f "$RUN_DIR/redis.pid" ;;
            nginx)    stop_pid nginx "$pid" QUIT 10; rm -f "$RUN_DIR/nginx.pid" ;;
            worker)   stop_pid worker "$pid" TERM 10; rm -f "$RUN_DIR/cb-worker.pid" ;;
            fakesf)   stop_pid "fake salesforce" "$pid" TERM 10; rm -f "$RUN_DIR/cb-fake-sf.pid" ;;
            fakehooks) stop_pid "fake webhooks" "$pid" TERM 10; rm -f "$RUN_DIR/cb-fake-hooks.pid" ;;
            prometheus) stop_pid prometheus "$pid" TERM 15; rm -f "$RUN_DIR/prometheus.pid" ;;
            resp)
                stop_pid "responder $bin" "$pid" TERM 15
                rm -f "$RUN_DIR/$bin.pid" "$RUN_DIR/$bin.sock" ;;
        esac
    done
    STARTED=()
}

on_start_exit() {
    local rc=$?
    trap - EXIT
    if [ "$rc" -ne 0 ]; then
        rollback || true
        final_reap || true
    fi
    exit "$rc"
}

# Fail before starting anything when a port we are about to listen on is
# taken by something else.
preflight_ports() {
    if [ "$CB_STACK_ROLE" != node ]; then
        pg_running_pid >/dev/null || ensure_free_port postgres "$CB_PORT_PG"
        running_pid "$RUN_DIR/redis.pid" "$REDIS_BIN" >/dev/null || ensure_free_port redis "$CB_PORT_REDIS"
    fi
    [ "$CB_STACK_ROLE" = shared ] && return 0
    if [ -x "$BIN_DIR/cb-worker" ]; then
        running_pid "$RUN_DIR/cb-worker.pid" "$BIN_DIR/cb-worker" >/dev/null \
            || ensure_free_port worker "$CB_PORT_WS"
    fi
    if ! running_pid "$RUN_DIR/nginx.pid" "$NGINX_BIN" >/dev/null; then
        ensure_free_port nginx "$CB_PORT_HTTP" "$CB_BIND_ADDR"
        ensure_free_port nginx "$CB_PORT_HTTPS" "$CB_BIND_ADDR"
        ensure_free_port nginx "$CB_PORT_OPS"
    fi
    if [ -x "$PROM_BIN" ] && [ "$CB_STACK_ROLE" = all ]; then
        running_pid "$RUN_DIR/prometheus.pid" "$PROM_BIN" >/dev/null \
            || ensure_free_port prometheus "$CB_PORT_PROM"
    fi
}

cmd_start() {
    local t0=$SECONDS
    require_root
    require_user
    place_state
    if [ -r "$ROUTES_TAB" ]; then
        "$GEN_ROUTES" --check "$ROUTES_TAB" || die "fix $ROUTES_TAB first"
    else
        warn "$ROUTES_TAB not found: no responders"
    fi
    prepare_tree
    stage_app
    check_responder_binaries
    preflight_ports
    STARTED=()
    trap on_start_exit EXIT
    ensure_log "$LOG_DIR/stack.log"
    if [ "$CB_STACK_ROLE" = node ]; then take_shared_secrets; else ensure_secrets; fi
    build_child_env 1
    ensure_tls
    ensure_client_ca
    ensure_sf_keys
    # The shared part (CB_STACK_ROLE all or shared), then a node's own.
    if runs_part shared; then
        start_postgres
        start_redis
        run_migrations
    fi
    if runs_part node; then start_responders; fi
    if runs_part shared; then
        start_fakesf
        start_fakehooks
    fi
    if runs_part node; then
        start_worker
        start_nginx
    fi
    if [ "$CB_STACK_ROLE" = all ]; then start_prometheus; fi
    write_stack_env
    trap - EXIT
    say "up in $((SECONDS - t0)) s ($CB_STACK_ROLE); environment: $STACK_ENV"
    if [ "$CB_STACK_ROLE" = shared ]; then return 0; fi
    echo "  https:  https://$CB_BIND_ADDR:$CB_PORT_HTTPS/  (self-signed: $TLS_DIR/cert.pem)"
    echo "  http:   http://$CB_BIND_ADDR:$CB_PORT_HTTP/"
    echo "  health: http://$CB_BIND_ADDR:$CB_PORT_HTTP/api/health"
    echo "  metrics: http://127.0.0.1:$CB_PORT_OPS/metrics  (operator listener; bearer token in $SECRETS_DIR/metrics-token.hex)"
    if [ -x "$PROM_BIN" ] && [ "$CB_STACK_ROLE" = all ]; then
        echo "  prometheus: http://127.0.0.1:$CB_PORT_PROM/  (rules: ops/prometheus/)"
    fi
}

cmd_stop() {
    local left
    require_root
    require_user
    [ -d "$CB_STATE" ] || { say "nothing to stop ($CB_STATE does not exist)"; return 0; }
    build_child_env 0
    stop_prometheus
    stop_nginx
    stop_worker
    stop_outbox2
    stop_fakesf
    stop_fakehooks
    stop_responders
    stop_redis
    stop_postgres
    rm -f "$RUN_DIR"/*.sock
    final_reap
    left=$(state_processes)
    if [ -n "$left" ]; then
        warn "processes of $CB_USER still using $CB_STATE: $left"
        return 1
    fi
    say "stopped"
}

# cbroker processes whose cwd is this state directory (as_cb sets it), or
# that hold a pid we know; used as a final check by stop.
state_processes() {
    local p cwd
    for p in $(pgrep -u "$CB_USER" 2>/dev/null || true); do
        cwd=$(readlink "/proc/$p/cwd" 2>/dev/null) || continue
        case $cwd in
            "$CB_STATE"|"$CB_STATE"/*) is_alive "$p" && printf '%s ' "$p" ;;
        esac
    done
    return 0
}

status_line() {
    if [ -n "$2" ]; then
        printf '%-22s running (pid %s)\n' "$1" "$2"
    else
        printf '%-22s stopped\n' "$1"
        ALL_UP=0
    fi
}

# Does this stack's role (CB_STACK_ROLE) run PART (shared or node)?
runs_part() {
    [ "$CB_STACK_ROLE" = all ] || [ "$CB_STACK_ROLE" = "$1" ]
}

cmd_status() {
    local pid bin procs
    local -A seen=()
    require_user
    ALL_UP=1
    if runs_part shared; then
        pid=$(pg_running_pid) || pid=
        status_line postgres "$pid"
        pid=$(running_pid "$RUN_DIR/redis.pid" "$REDIS_BIN") || pid=
        status_line redis "$pid"
    fi
    if runs_part node; then
        while read -r bin procs; do
            [ -n "$bin" ] || continue
            seen[$bin]=1
            pid=$(running_pid "$RUN_DIR/$bin.pid" "$BIN_DIR/$bin") || pid=
            status_line "responder $bin" "$pid"
        done < <(responder_list 2>/dev/null || true)
        while read -r bin; do
            [ -z "${seen[$bin]:-}" ] || continue
            pid=$(running_pid "$RUN_DIR/$bin.pid" "$BIN_DIR/$bin") || pid=
            status_line "responder $bin" "$pid"
        done < <(responder_pidfiles)
        pid=$(running_pid "$RUN_DIR/cb-worker.pid" "$BIN_DIR/cb-worker") || pid=
        status_line cb-worker "$pid"
    fi
    if runs_part shared; then
        if fakesf_enabled; then
            pid=$(running_pid "$RUN_DIR/cb-fake-sf.pid" "$BIN_DIR/cb-fake-sf") || pid=
            status_line cb-fake-sf "$pid"
        fi
        pid=$(running_pid "$RUN_DIR/cb-fake-hooks.pid" "$BIN_DIR/cb-fake-hooks") || pid=
        status_line cb-fake-hooks "$pid"
    fi
    if runs_part node; then
        pid=$(running_pid "$RUN_DIR/nginx.pid" "$NGINX_BIN") || pid=
        status_line nginx "$pid"
    fi
    if [ -x "$PROM_BIN" ] && [ "$CB_STACK_ROLE" = all ]; then
        pid=$(running_pid "$RUN_DIR/prometheus.pid" "$PROM_BIN") || pid=
        status_line prometheus "$pid"
    fi
    [ "$ALL_UP" = 1 ] || return 3
}

cmd_start_redis() {
    require_root
    require_user
    [ -s "$SECRETS_DIR/redis.pw" ] || die "no stack in $CB_STATE: run start first"
    STARTED=()
    build_child_env 1
    start_redis
}

cmd_stop_redis() {
    require_root
    require_user
    stop_redis
}

# A second delivery process (outbox duty only), for tests of several workers.
cmd_start_outbox2() {
    local exe=$BIN_DIR/cb-worker pidf=$RUN_DIR/cb-worker-2.pid pid
    require_root
    require_user
    [ -s "$SECRETS_DIR/redis.pw" ] || die "no stack in $CB_STATE: run start first"
    build_child_env 1
    if pid=$(running_pid "$pidf" "$exe"); then
        say "outbox2: already running (pid $pid)"
        return 0
    fi
    ensure_log "$LOG_DIR/cb-worker-2.log"
    spawn_cb "$exe" --only outbox --pidfile "$pidf" >>"$LOG_DIR/cb-worker-2.log" 2>&1 </dev/null &
    pid=$!
    sleep 0.3
    is_alive "$pid" || die "outbox2 exited during startup (see $LOG_DIR/cb-worker-2.log)"
    [ -s "$pidf" ] || write_pidfile "$pidf" "$pid"
    say "outbox2: running (pid $pid)"
}

stop_outbox2() {
    local pid
    if pid=$(read_pidfile "$RUN_DIR/cb-worker-2.pid") && is_ours_named "$pid" cb-worker; then
        say "outbox2: stopping (pid $pid)"
        stop_pid outbox2 "$pid" TERM 10
    fi
    rm -f "$RUN_DIR/cb-worker-2.pid"
}

cmd_stop_outbox2() {
    require_root
    require_user
    stop_outbox2
}

# Postgres crashes and comes back (immediate shutdown: no checkpoint, like a
# kill), with the options it was started with.
cmd_restart_postgres() {
    require_root
    require_user
    pg_running_pid >/dev/null || die "postgres is not running"
    say "postgres: restarting (immediate)"
    as_cb "$PGBIN/pg_ctl" -D "$PG_DIR" -l "$LOG_DIR/postgres.log" -m immediate -w -t 60 \
        restart >>"$LOG_DIR/stack.log" 2>&1 || die "postgres: restart failed (see $LOG_DIR/stack.log)"
}

# Freeze and thaw Redis (SIGSTOP/SIGCONT): clients see a server that hangs.
cmd_signal_redis() {
    local pid
    require_root
    require_user
    pid=$(running_pid "$RUN_DIR/redis.pid" "$REDIS_BIN") || die "redis is not running"
    kill "-$1" "$pid" || die "redis: kill -$1 failed"
    say "redis: SIG$1 sent (pid $pid)"
}

# Postgres alone, for scripts/restore.sh (and the drill): stop it cleanly,
# or start it (waiting for a restored cluster's recovery to end) with the
# options and roles `start` gives it.
cmd_stop_postgres() {
    require_root
    require_user
    build_child_env 0
    stop_postgres
    final_reap
}

cmd_start_postgres() {
    require_root
    require_user
    [ -s "$SECRETS_DIR/redis.pw" ] || die "no stack in $CB_STATE: run start first"
    # Never an empty cluster in place of a lost one: that is start's (initdb).
    [ -f "$PG_DIR/PG_VERSION" ] || die "no cluster in $PG_DIR: restore it (scripts/restore.sh)"
    build_child_env 1
    STARTED=()
    start_postgres
}

# The worker alone: stopped, nothing is delivered (the drill holds the
# outbox so), started again as `start` starts it.
cmd_stop_worker() {
    require_root
    require_user
    stop_worker
    final_reap
}

cmd_start_worker() {
    require_root
    require_user
    [ -s "$SECRETS_DIR/redis.pw" ] || die "no stack in $CB_STATE: run start first"
    build_child_env 1
    STARTED=()
    start_worker
}

cmd_restart_worker() {
    require_root
    require_user
    [ -s "$SECRETS_DIR/redis.pw" ] || die "no stack in $CB_STATE: run start first"
    build_child_env 1
    stop_worker
    # A staged stack runs the worker binary built now.
    if [ -d "$APP_DIR/bin" ] && [ -x "$CB_BUILD/bin/cb-worker" ]; then
        stage_file "$CB_BUILD/bin/cb-worker" "$APP_DIR/bin/cb-worker" 0755
    fi
    STARTED=()
    start_worker
}

cmd_restart_edge() {
    require_root
    require_user
    [ -s "$SECRETS_DIR/redis.pw" ] || die "no stack in $CB_STATE: run start first"
    build_child_env 1
    stop_responders
    STARTED=()
    start_responders
    # nginx reloads gracefully: until its old workers are gone, a new
    # connection may still meet the old configuration. Wait them out.
    local master old=() p i
    if master=$(running_pid "$RUN_DIR/nginx.pid" "$NGINX_BIN"); then
        mapfile -t old < <(pgrep -P "$master" || true)
    fi
    start_nginx
    for ((i = 0; i < 100; i++)); do
        for p in "${old[@]}"; do
            is_alive "$p" && break
            p=
        done
        [ -z "${p:-}" ] && return 0
        sleep 0.1
    done
    warn "nginx: old workers still serving 10 s after the reload"
}

main() {
    [ $# -eq 1 ] || usage
    validate_settings
    case $1 in
        start)          cmd_start ;;
        stop)           cmd_stop ;;
        status)         cmd_status ;;
        start-redis)    cmd_start_redis ;;
        stop-redis)     cmd_stop_redis ;;
        restart-worker) cmd_restart_worker ;;
        restart-edge)   cmd_restart_edge ;;
        start-outbox2)  cmd_start_outbox2 ;;
        stop-outbox2)   cmd_stop_outbox2 ;;
        restart-postgres) cmd_restart_postgres ;;
        stop-postgres)  cmd_stop_postgres ;;
        start-postgres) cmd_start_postgres ;;
        stop-worker)    cmd_stop_worker ;;
        start-worker)   cmd_start_worker ;;
        pause-redis)    cmd_signal_redis STOP ;;
        resume-redis)   cmd_signal_redis CONT ;;
        env)            echo "$STACK_ENV" ;;
        state)          require_root; require_user; place_state; prepare_tree; echo "$CB_STATE" ;;
        -h|--help|help) usage ;;
        *)              usage ;;
    esac
}

main "$@"
