#!/usr/bin/env bash
# Bring up / tear down the private Context Broker stack: Postgres 15, Redis 7,
# the FastCGI responders, the worker and nginx, all as the unprivileged user
# `cbroker`, all bound to 127.0.0.1, all state under one directory.
#
# usage: scripts/stack.sh COMMAND   (start, stop, status, restart-worker, ...: see usage())
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

# ---------------------------------------------------------------- helpers

require_root() {
    [ "$(id -u)" -eq 0 ] || die "run as root (components are started as $CB_USER via setpriv)"
}

require_user() {
    getent passwd "$CB_USER" >/dev/null \
        || die "user $CB_USER does not exist: run scripts/install-deps.sh first"
    CB_UID=$(id -u "$CB_USER")
}

# Run a command as cbroker, in its own session, with a clean environment
# (CHILD_ENV), default signal dispositions (a non-interactive shell makes
# background jobs ignore SIGINT/SIGQUIT) and $CB_STATE as working directory.
as_cb() {
    setsid setpriv --reuid="$CB_USER" --regid="$CB_USER" --init-groups --no-new-privs -- \
        env -i --default-signal -C "$CB_STATE" "${CHILD_ENV[@]}" "$@"
}

# The same for long-running processes: call it as `spawn_cb CMD... &`. The
# background subshell execs setsid, and every later step execs too, so $! is
# the pid of CMD itself (and, being a session leader, its process group id).
spawn_cb() {
    exec setsid setpriv --reuid="$CB_USER" --regid="$CB_USER" --init-groups --no-new-privs -- \
        env -i --default-signal -C "$CB_STATE" "${CHILD_ENV[@]}" "$@"
}

# Plain check as cbroker (no session/env changes): used for access tests.
cb_test() {
    setpriv --reuid="$CB_USER" --regid="$CB_USER" --init-groups -- "$@"
}

# Alive and not a zombie.
is_alive() {
    local pid=$1 stat rest
    [[ $pid =~ ^[0-9]+$ ]] || return 1
    stat=$(cat "/proc/$pid/stat" 2>/dev/null) || return 1
    rest=${stat##*) }
    [ "${rest%% *}" != Z ]
}

# Is PID a live process of cbroker running EXE?
is_ours() {
    local pid=$1 exe=$2 real
    is_alive "$pid" || return 1
    [ "$(stat -c %u "/proc/$pid" 2>/dev/null)" = "$CB_UID" ] || return 1
    real=$(readlink "/proc/$pid/exe" 2>/dev/null) || return 1
    real=${real% (deleted)}
    [ "$real" = "$(readlink -f -- "$exe")" ]
}

# Is PID a live process of cbroker whose executable is named NAME? (Looser
# than is_ours: the build directory may have moved since it started.)
is_ours_named() {
    local pid=$1 name=$2 real
    is_alive "$pid" || return 1
    [ "$(stat -c %u "/proc/$pid" 2>/dev/null)" = "$CB_UID" ] || return 1
    real=$(readlink "/proc/$pid/exe" 2>/dev/null) || return 1
    real=${real% (deleted)}
    [ "${real##*/}" = "$name" ]
}

# Write PID to FILE, owned by cbroker (the process may rewrite or remove it).
write_pidfile() {
    local f=$1 pid=$2
    echo "$pid" >"$f.tmp"
    chown "$CB_USER:$CB_USER" "$f.tmp"
    chmod 0644 "$f.tmp"
    mv -f "$f.tmp" "$f"
}

read_pidfile() {
    local f=$1 pid
    [ -f "$f" ] || return 1
    read -r pid <"$f" 2>/dev/null || return 1
    [[ $pid =~ ^[0-9]+$ ]] || return 1
    printf '%s\n' "$pid"
}

# PID from PIDFILE if it names a live cbroker process running EXE.
running_pid() {
    local pid
    pid=$(read_pidfile "$1") || return 1
    is_ours "$pid" "$2" || return 1
    printf '%s\n' "$pid"
}

# Wait until PID is gone; 0 if gone within SECONDS.
wait_gone() {
    local pid=$1 secs=$2 i
    for ((i = 0; i < secs * 10; i++)); do
        is_alive "$pid" || return 0
        sleep 0.1
    done
    ! is_alive "$pid"
}

# After PID has exited: collect it now if it is our own child (rollback),
# else remember it for final_reap.
reap() {
    wait "$1" 2>/dev/null || true
    [ -e "/proc/$1" ] && STOPPED_PIDS+=("$1")
    return 0
}

# Give init (which reaps orphans lazily in some containers) up to 3 s to
# collect the zombies of what we stopped, so `ps` right after shows nothing.
final_reap() {
    local i p pending
    for ((i = 0; i < 30; i++)); do
        pending=0
        for p in "${STOPPED_PIDS[@]}"; do
            [ -e "/proc/$p" ] && pending=1
        done
        [ "$pending" = 0 ] && break
        sleep 0.1
    done
    STOPPED_PIDS=()
}

# Live members of process group PGID that belong to cbroker.
group_members() {
    local pgid=$1 p
    for p in $(pgrep -g "$pgid" 2>/dev/null || true); do
        is_alive "$p" || continue
        [ "$(stat -c %u "/proc/$p" 2>/dev/null)" = "$CB_UID" ] && printf '%s\n' "$p"
    done
    return 0
}

# Stop the process PID (a session/group leader started by as_cb): send SIG,
# wait GRACE seconds, then SIGTERM, then SIGKILL; finally sweep what is left
# of its process group (preforked children of a killed master).
stop_pid() {
    local name=$1 pid=$2 sig=$3 grace=$4 left
    kill "-$sig" "$pid" 2>/dev/null || true
    if ! wait_gone "$pid" "$grace"; then
        if [ "$sig" != TERM ]; then
            warn "$name (pid $pid) still running after ${grace}s: SIGTERM"
            kill -TERM "$pid" 2>/dev/null || true
            wait_gone "$pid" 5 || true
        fi
        if is_alive "$pid"; then
            warn "$name (pid $pid) still running: SIGKILL"
            kill -KILL "$pid" 2>/dev/null || true
            wait_gone "$pid" 5 || warn "$name (pid $pid) survived SIGKILL"
        fi
    fi
    reap "$pid"
    left=$(group_members "$pid")
    if [ -n "$left" ]; then
        # shellcheck disable=SC2086 # one pid per word
        kill -TERM $left 2>/dev/null || true
        sleep 0.5
        left=$(group_members "$pid")
        if [ -n "$left" ]; then
            warn "$name: leftover processes ${left//$'\n'/ }: SIGKILL"
            # shellcheck disable=SC2086
            kill -KILL $left 2>/dev/null || true
            sleep 0.2
        fi
    fi
}

# Something listening on ADDR:PORT (ADDR: 127.0.0.1)?
port_busy() {
    (exec 3<>"/dev/tcp/${2:-127.0.0.1}/$1") 2>/dev/null
}

# ensure_free_port NAME PORT [ADDR]
ensure_free_port() {
    port_busy "$2" "${3:-}" && die "$1: port ${3:-127.0.0.1}:$2 is already in use (set CB_PORT_* to free ports)"
    return 0
}

# Create a log file owned by cbroker (shell redirections open it as root).
ensure_log() {
    [ -e "$1" ] || install -o "$CB_USER" -g "$CB_USER" -m 0640 /dev/null "$1"
}

secret() {
    local f=$SECRETS_DIR/$1
    [ -s "$f" ] || die "secret $f is missing (run start)"
    tr -d '\n' <"$f"
}

ensure_secret() {
    local f=$SECRETS_DIR/$1 bytes=${2:-24}
    if [ ! -s "$f" ]; then
        (umask 077; openssl rand -hex "$bytes" >"$f.tmp")
        chown "$CB_USER:$CB_USER" "$f.tmp"
        mv -f "$f.tmp" "$f"
    fi
    chmod 0600 "$f"
}

# The variables exported to every child and written to stack.env.
stack_vars() {
    local pg_pw redis_pw pepper
    pg_pw=$(secret pg-cb_app.pw)
    redis_pw=$(secret redis.pw)
    pepper=$(secret api-key-pepper.hex)
    cat <<EOF
CB_REPO=$REPO
CB_STATE=$CB_STATE
CB_BUILD=$CB_BUILD
CB_RUN_DIR=$RUN_DIR
CB_LOG_DIR=$LOG_DIR
CB_SECRETS_DIR=$SECRETS_DIR
CB_PORT_HTTP=$CB_PORT_HTTP
CB_PORT_HTTPS=$CB_PORT_HTTPS
CB_PORT_PG=$CB_PORT_PG
CB_PORT_REDIS=$CB_PORT_REDIS
CB_PORT_WS=$CB_PORT_WS
CB_PORT_FAKESF=$CB_PORT_FAKESF
CB_HTTP_URL=http://$CB_BIND_ADDR:$CB_PORT_HTTP
CB_HTTPS_URL=https://$CB_BIND_ADDR:$CB_PORT_HTTPS
CB_PG_DSN=host=$SVC_ADDR port=$CB_PORT_PG dbname=cbroker user=cb_app password=$pg_pw connect_timeout=3
CB_PG_SUPER_DSN=host=$(shared_run_dir) port=$CB_PORT_PG dbname=postgres user=$CB_USER
CB_REDIS_HOST=$(redis_host)
CB_REDIS_PORT=$CB_PORT_REDIS
CB_REDIS_PASSWORD=$redis_pw
CB_API_KEY_PEPPER=$pepper
CB_PUBLIC_URL=https://$CB_BIND_ADDR:$CB_PORT_HTTPS
CB_SEAL_ROOT_KEY_FILE=$SECRETS_DIR/seal-root.key
CB_BLIND_INDEX_KEY_FILE=$SECRETS_DIR/blind-index.key
CB_SLACK_SIGNING_SECRET=$(secret slack-signing.hex)
CB_METRICS_DIR=${CB_METRICS_DIR-$METRICS_DIR}
CB_METRICS_TOKEN=$(secret metrics-token.hex)
CB_PORT_OPS=$CB_PORT_OPS
CB_METRICS_URL=http://127.0.0.1:$CB_PORT_OPS/metrics
CB_PORT_PROM=$CB_PORT_PROM
CB_PROM_URL=http://127.0.0.1:$CB_PORT_PROM
CB_PROM_SCRAPE_INTERVAL=$CB_PROM_SCRAPE_INTERVAL
CB_BACKUP_CONF=$BACKUP_CONF
CB_BACKUP_STANZA=$BACKUP_STANZA
EOF
    # The CA nginx trusts for agents' client certificates; its key only when
    # it is the development CA (the tests sign their certificates with it).
    echo "CB_CLIENT_CA_IN_USE=$NGINX_DIR/client-ca.pem"
    if [ -z "${CB_CLIENT_CA:-}" ]; then
        echo "CB_CLIENT_CA_DEV_CERT=$SECRETS_DIR/client-ca-dev.pem"
        echo "CB_CLIENT_CA_DEV_KEY=$SECRETS_DIR/client-ca-dev.key"
    fi
    if fakesf_enabled; then
        cat <<EOF
CB_SF_LOGIN_URL=http://$FAKE_ADDR:$CB_PORT_FAKESF
CB_SF_AUDIENCE=$FAKESF_AUDIENCE
CB_SF_CLIENT_ID=$FAKESF_CLIENT_ID
CB_SF_USERNAME=$FAKESF_USERNAME
CB_SF_PRIVATE_KEY_FILE=$SECRETS_DIR/sf-jwt-key.pem
CB_FAKESF_URL=http://$FAKE_ADDR:$CB_PORT_FAKESF
EOF
    fi
    echo "CB_PORT_FAKEHOOKS=$CB_PORT_FAKEHOOKS"
    echo "CB_FAKEHOOKS_URL=http://$FAKE_ADDR:$CB_PORT_FAKEHOOKS"
    if [ -s "$SECRETS_DIR/fakeslack-bot.pw" ] && [ -s "$SECRETS_DIR/fakeslack-webhook.hex" ]; then
        echo "CB_FAKEHOOKS_SLACK_TOKEN=$(secret fakeslack-bot.pw)"
        echo "CB_FAKEHOOKS_SLACK_WEBHOOK_URL=$(fakeslack_webhook_url)"
        if fakeslack_enabled; then
            echo "CB_SLACK_WEBHOOK_URL=$(fakeslack_webhook_url)"
            echo "CB_SLACK_API_URL=http://$FAKE_ADDR:$CB_PORT_FAKEHOOKS/api"
            echo "CB_SLACK_RESPONSE_URL_PREFIX=http://$FAKE_ADDR:$CB_PORT_FAKEHOOKS/actions/"
        fi
    fi
    echo "CB_EGRESS_PRIVATE_ALLOW=$(egress_allow)"
}

# A node reaches the shared Postgres' socket directory (the tests' superuser
# DSN) and Redis over the shared address; a whole stack over its own socket.
shared_run_dir() {
    if [ "$CB_STACK_ROLE" = node ]; then printf '%s/run\n' "$CB_SHARED_STATE"; else printf '%s\n' "$RUN_DIR"; fi
}
redis_host() {
    if [ "$CB_STACK_ROLE" = node ]; then printf '%s\n' "$CB_SHARED_ADDR"; else printf '%s/redis.sock\n' "$RUN_DIR"; fi
}

# The fakes may be reached over plain http at a private address: add them
# to the caller's CB_EGRESS_PRIVATE_ALLOW (each once).
egress_allow() {
    local list=${CB_EGRESS_PRIVATE_ALLOW:-} hp
    local -a fakes=("$FAKE_ADDR:$CB_PORT_FAKEHOOKS")
    fakesf_enabled && fakes=("$FAKE_ADDR:$CB_PORT_FAKESF" "${fakes[@]}")
    for hp in "${fakes[@]}"; do
        case ",$list," in
            *",$hp,"*) ;;
            *) list=${list:+$list,}$hp ;;
        esac
    done
    printf '%s\n' "$list"
}

# The owner role's DSN: for the migrations and stack.env (tests, scripts/cb
# migrate), never in the environment of the running services.
owner_dsn() {
    printf 'host=%s port=%s dbname=cbroker user=cb_owner password=%s connect_timeout=3\n' \
        "$SVC_ADDR" "$CB_PORT_PG" "$(secret pg-cb_owner.pw)"
}

# CHILD_ENV: clean environment for cbroker processes. With WITH_STACK=1 the
# stack variables (which need the secrets) are included.
build_child_env() {
    local with_stack=${1:-1} line name
    local -A have=()
    CHILD_ENV=("PATH=$CHILD_PATH" "HOME=/nonexistent" "LANG=C.UTF-8" "TZ=UTC")
    if [ "$with_stack" = 1 ]; then
        while IFS= read -r line; do
            CHILD_ENV+=("$line")
            have[${line%%=*}]=1
        done < <(stack_vars)
    fi
    # Pass through the caller's other CB_* settings and sanitizer options.
    while IFS= read -r name; do
        [ -n "${have[$name]:-}" ] && continue
        case $name in
            CB_PG_OWNER_DSN) ;;     # the migrations' only (run_migrations)
            CB_*|ASAN_OPTIONS|UBSAN_OPTIONS|LSAN_OPTIONS|MSAN_OPTIONS|TSAN_OPTIONS)
                CHILD_ENV+=("$name=${!name}") ;;
        esac
    done < <(compgen -e)
    # The development stack does not meter its own clients (the demo, the
    # tests, the benchmark): the tenants' and keys' quotas default to a
    # ceiling no run reaches, unless the caller sets them (production takes
    # lib/settings.c's defaults).
    for name in CB_QUOTA_FREE_SUBMITS_PER_MIN CB_QUOTA_FREE_COMMANDS_PER_MIN \
        CB_QUOTA_TEAM_SUBMITS_PER_MIN CB_QUOTA_TEAM_COMMANDS_PER_MIN \
        CB_QUOTA_ENTERPRISE_SUBMITS_PER_MIN CB_QUOTA_ENTERPRISE_COMMANDS_PER_MIN \
        CB_QUOTA_KEY_COMMANDS_PER_MIN CB_QUOTA_FREE_CALL_EVENTS_PER_MIN \
        CB_QUOTA_TEAM_CALL_EVENTS_PER_MIN CB_QUOTA_ENTERPRISE_CALL_EVENTS_PER_MIN; do
        [ -n "${!name+x}" ] || CHILD_ENV+=("$name=100000000")
    done
}

# Binaries the route table names, "binary procs" per line.
responder_list() {
    [ -r "$ROUTES_TAB" ] || return 0
    "$GEN_ROUTES" --binaries "$ROUTES_TAB"
}

# Responders that have a pid file (whatever routes.tab says now).
responder_pidfiles() {
    local f b
    for f in "$RUN_DIR"/*.pid; do
        [ -e "$f" ] || continue
        b=$(basename "$f" .pid)
        case $b in nginx|cb-worker|cb-fake-sf|cb-fake-hooks|redis|prometheus) continue ;; esac
        printf '%s\n' "$b"
    done
}

# ---------------------------------------------------------------- layout

prepare_tree() {
    install -d -m 0750 "$CB_STATE"
    chown "$CB_USER:$CB_USER" "$CB_STATE"
    install -d -o "$CB_USER" -g "$CB_USER" -m 0750 "$RUN_DIR" "$LOG_DIR" "$REDIS_DIR" "$TLS_DIR"
    install -d -o "$CB_USER" -g "$CB_USER" -m 0700 "$SECRETS_DIR" "$PG_DIR"
    install -d -o "$CB_USER" -g "$CB_USER" -m 0750 "$NGINX_DIR" "$NGINX_DIR/tmp"
    install -d -o "$CB_USER" -g "$CB_USER" -m 0700 "$METRICS_DIR" "$PROM_DIR"
    # Everything below belongs to cbroker (the tree may come from an older
    # run by another uid); keep the modes set above.  The staged copy of
    # what it runs stays root's: the service user cannot change it.
    chown -R "$CB_USER:$CB_USER" "$CB_STATE"
    [ -d "$APP_DIR" ] && chown -R root:root "$APP_DIR"
    chmod 0750 "$CB_STATE" "$RUN_DIR"
    chmod 0700 "$SECRETS_DIR"
    cb_test test -x "$CB_STATE" -a -w "$RUN_DIR" \
        || die "$CB_USER cannot reach $CB_STATE: a parent directory is not traversable; use a CB_STATE under /srv, /opt, /var or /tmp"
}

# Clone anywhere: keep the state where cbroker can reach it.  When it cannot
# reach the state directory asked for (or, before it exists, its nearest
# existing parent), the state goes to $DEV_ROOT/<hash of that path> and the
# path asked for becomes a link to it.  Sets CB_STATE to the real path.
place_state() {
    local asked=$CB_STATE_ASKED anc real
    if [ -L "$asked" ]; then
        real=$(abspath "$asked")
    else
        anc=$asked
        while [ ! -e "$anc" ]; do anc=$(dirname -- "$anc"); done
        if cb_test test -x "$anc"; then
            CB_STATE=$(abspath "$asked")
            set_paths
            return 0
        fi
        [ ! -e "$asked" ] \
            || die "$CB_USER cannot reach the state directory $asked (a parent directory is private): remove it (a new one is made in $DEV_ROOT) or set CB_STATE"
        real=$DEV_ROOT/$(printf '%s' "$asked" | sha256sum | cut -c1-16)
        install -d -m 0755 "$DEV_ROOT"
        install -d -m 0750 "$real"
        mkdir -p -- "$(dirname -- "$asked")"
        ln -sfn -- "$real" "$asked"
        say "state: $CB_USER cannot reach $asked: the state is kept in $real ($asked links to it)" >&2
    fi
    install -d -m 0750 "$real"
    CB_STATE=$real
    set_paths
    validate_settings
}

# Stage what the service user runs (CB_STAGE): auto copies it when cbroker
# cannot reach the build, sql/ or web/ where they are.
stage_wanted() {
    case ${CB_STAGE:-auto} in
        1) return 0 ;;
        0) return 1 ;;
        auto) ! cb_test test -x "$CB_BUILD/bin" -a -r "$REPO/sql" -a -x "$REPO/sql" -a -x "$REPO/web" ;;
        *) die "CB_STAGE must be 1, 0 or auto, got '$CB_STAGE'" ;;
    esac
}

# One file into the staged copy, replaced whole (a running binary keeps its
# old inode) and only when it changed.
stage_file() {
    local src=$1 dst=$2 mode=$3
    cmp -s -- "$src" "$dst" && return 0
    install -o root -g root -m "$mode" -- "$src" "$dst.tmp"
    mv -f -- "$dst.tmp" "$dst"
}

# A directory tree into the staged copy: a fresh copy, swapped in.
stage_tree() {
    local src=$1 dst=$2
    rm -rf -- "$dst.new"
    cp -R -- "$src" "$dst.new"
    chown -R root:root "$dst.new"
    chmod -R u=rwX,go=rX "$dst.new"
    rm -rf -- "$dst"
    mv -- "$dst.new" "$dst"
}

stage_app() {
    local b
    if ! stage_wanted; then
        rm -rf -- "$APP_DIR"
        set_paths
        return 0
    fi
    say "stage: $CB_USER runs copies of $CB_BUILD/bin, sql/ and web/ in $APP_DIR"
    install -d -o root -g root -m 0755 "$APP_DIR" "$APP_DIR/bin"
    for b in "$APP_DIR"/bin/*; do
        [ -e "$b" ] || continue
        [ -x "$CB_BUILD/bin/${b##*/}" ] || rm -f -- "$b"
    done
    for b in "$CB_BUILD"/bin/*; do
        [ -f "$b" ] && [ -x "$b" ] || continue
        stage_file "$b" "$APP_DIR/bin/${b##*/}" 0755
    done
    stage_tree "$REPO/sql" "$APP_DIR/sql"
    stage_tree "$REPO/web" "$APP_DIR/web"
    set_paths
}

ensure_secrets() {
    ensure_secret pg-superuser.pw
    ensure_secret pg-cb_app.pw
    ensure_secret pg-cb_owner.pw
    ensure_secret redis.pw
    ensure_secret api-key-pepper.hex 32
    ensure_secret seal-root.key 32
    # The blind indexes' key (users' emails, phones in the contact cache):
    # apart from the pepper, so rotating one never breaks the other.
    ensure_secret blind-index.key 32
    # The Slack app's signing secret: clicks on approval buttons are signed
    # with it (scripts/slack-click.sh signs as Slack would).
    ensure_secret slack-signing.hex 16
    # The bearer token of GET /metrics (CB_METRICS_TOKEN); Prometheus reads it from the file.
    ensure_secret metrics-token.hex 24
    # The fake Slack's incoming-webhook secret and bot token: secrets like
    # the real ones, so scripts/test.sh fails if any log shows them.
    ensure_secret fakeslack-webhook.hex 16
    if [ ! -s "$SECRETS_DIR/fakeslack-bot.pw" ]; then
        (umask 077; printf 'xoxb-%s\n' "$(openssl rand -hex 24)" >"$SECRETS_DIR/fakeslack-bot.pw.tmp")
        chown "$CB_USER:$CB_USER" "$SECRETS_DIR/fakeslack-bot.pw.tmp"
        mv -f "$SECRETS_DIR/fakeslack-bot.pw.tmp" "$SECRETS_DIR/fakeslack-bot.pw"
    fi
    chmod 0600 "$SECRETS_DIR/fakeslack-bot.pw"
}

# A node shares every secret of the shared stack (docs/scale-out.md): the
# database and Redis passwords, the pepper, the seal and blind-index keys,
# the tokens and the development CAs.  Copied at every start: a rotation on
# the shared stack reaches the node with its next start.
take_shared_secrets() {
    local f
    [ -s "$CB_SHARED_STATE/secrets/redis.pw" ] \
        || die "no shared stack in $CB_SHARED_STATE: start it first (CB_STACK_ROLE=shared)"
    for f in "$CB_SHARED_STATE"/secrets/*; do
        [ -f "$f" ] && install -m 0600 -o "$CB_USER" -g "$CB_USER" "$f" "$SECRETS_DIR/"
    done
    return 0
}

ensure_tls() {
    local san="DNS:localhost,IP:127.0.0.1"
    [ "$CB_BIND_ADDR" = 127.0.0.1 ] || san="$san,IP:$CB_BIND_ADDR"
    if [ -s "$TLS_DIR/cert.pem" ] && [ -s "$TLS_DIR/key.pem" ]; then
        return 0
    fi
    say "tls: generating a self-signed certificate for localhost"
    rm -f "$TLS_DIR/cert.pem" "$TLS_DIR/key.pem"
    if ! (umask 077; as_cb openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
            -nodes -days 825 -subj /CN=localhost \
            -addext "subjectAltName=$san" \
            -addext "basicConstraints=critical,CA:FALSE" \
            -addext "keyUsage=critical,digitalSignature" \
            -addext "extendedKeyUsage=serverAuth" \
            -keyout "$TLS_DIR/key.pem" -out "$TLS_DIR/cert.pem") >>"$LOG_DIR/stack.log" 2>&1; then
        die "tls: openssl failed (see $LOG_DIR/stack.log)"
    fi
    chmod 0600 "$TLS_DIR/key.pem"
    chmod 0644 "$TLS_DIR/cert.pem"
}

# The CA nginx verifies agents' client certificates against (mutual TLS,
# lib/mtls.h): CB_CLIENT_CA when set (the operator's own CA), else a
# development CA made once in secrets/ (key and certificate; the key never
# leaves the state directory).  Either way it is copied to
# $NGINX_DIR/client-ca.pem, which nginx.conf names.
ensure_client_ca() {
    local src=$SECRETS_DIR/client-ca-dev.pem key=$SECRETS_DIR/client-ca-dev.key
    if [ -n "${CB_CLIENT_CA:-}" ]; then
        src=$CB_CLIENT_CA
        [ -r "$src" ] || die "CB_CLIENT_CA: cannot read $src"
        openssl x509 -noout -in "$src" 2>/dev/null || die "CB_CLIENT_CA: $src is not a PEM certificate"
    elif [ ! -s "$src" ] || [ ! -s "$key" ]; then
        say "tls: generating a development CA for agents' client certificates"
        rm -f "$src" "$key"
        if ! (umask 077; as_cb openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
                -nodes -days 825 -subj "/CN=Context Broker development client CA" \
                -addext "basicConstraints=critical,CA:TRUE,pathlen:0" \
                -addext "keyUsage=critical,keyCertSign,cRLSign" \
                -keyout "$key" -out "$src") >>"$LOG_DIR/stack.log" 2>&1; then
            die "tls: openssl failed (see $LOG_DIR/stack.log)"
        fi
        chmod 0600 "$key"
    fi
    install -m 0640 -o "$CB_USER" -g "$CB_USER" "$src" "$NGINX_DIR/client-ca.pem"
}

# ---------------------------------------------------------------- postgres

pg_running_pid() {
    local pid
    [ -f "$PG_DIR/postmaster.pid" ] || return 1
    pid=$(head -n1 "$PG_DIR/postmaster.pid" 2>/dev/null) || return 1
    is_ours "$pid" "$PGBIN/postgres" || return 1
    printf '%s\n' "$pid"
}

pg_initdb() {
    [ -f "$PG_DIR/PG_VERSION" ] && return 0
    say "postgres: initdb $PG_DIR"
    ensure_log "$LOG_DIR/postgres.log"
    if ! as_cb "$PGBIN/initdb" -D "$PG_DIR" --auth-local=peer --auth-host=scram-sha-256 \
            -U "$CB_USER" --encoding=UTF8 --locale=C.UTF-8 \
            --pwfile="$SECRETS_DIR/pg-superuser.pw" >>"$LOG_DIR/postgres.log" 2>&1; then
        tail -n 20 "$LOG_DIR/postgres.log" >&2
        die "postgres: initdb failed (see $LOG_DIR/postgres.log)"
    fi
    # Local connections: peer auth, and root may connect as the cbroker
    # superuser too (tests run as root with CB_PG_SUPER_DSN). TCP: passwords.
    cat >"$PG_DIR/pg_hba.conf" <<'EOF'
# written by scripts/stack.sh
# TYPE  DATABASE     USER  ADDRESS        METHOD
local   all          all                  peer map=cbroker
local   replication  all                  peer map=cbroker
host    all          all   127.0.0.1/32   scram-sha-256
host    replication  all   127.0.0.1/32   scram-sha-256
EOF
    # The nodes of a shared stack (CB_STACK_ROLE=shared) connect from there.
    if [ -n "$CB_SHARED_NET" ]; then
        printf 'host    cbroker      all   %-14s scram-sha-256\n' "$CB_SHARED_NET" >>"$PG_DIR/pg_hba.conf"
    fi
    cat >"$PG_DIR/pg_ident.conf" <<EOF
# written by scripts/stack.sh
# MAPNAME  SYSTEM-USERNAME  PG-USERNAME
cbroker    root             $CB_USER
cbroker    /^(.*)\$          \\1
EOF
    printf "\n# stack settings, rewritten by scripts/stack.sh at every start\ninclude_if_exists = 'cbroker.conf'\n" \
        >>"$PG_DIR/postgresql.conf"
    chown "$CB_USER:$CB_USER" "$PG_DIR/pg_hba.conf" "$PG_DIR/pg_ident.conf"
    chmod 0600 "$PG_DIR/pg_hba.conf" "$PG_DIR/pg_ident.conf"
}

pg_write_conf() {
    cat >"$PG_DIR/cbroker.conf" <<'EOF'
# written by scripts/stack.sh at every start; port, listen_addresses and the
# socket directory come from the pg_ctl command line.
shared_buffers = 128MB
max_connections = 200
fsync = on
password_encryption = scram-sha-256
unix_socket_permissions = 0770
timezone = 'UTC'
log_timezone = 'UTC'
logging_collector = off
log_line_prefix = '%m [%p] %q%u@%d '
log_min_messages = warning
log_connections = off
# WAL archiving to the pgBackRest repository (scripts/backup.sh,
# scripts/restore.sh).  Until the first backup has made the stanza there is
# nothing to recover onto, so a segment is not kept: the command succeeds
# without pgBackRest and costs a stack that is never backed up nothing.  A
# partly filled segment is archived after archive_timeout: with the disk
# lost, at most that much committed work is lost (the RPO's bound).
archive_mode = on
archive_timeout = 60
EOF
    printf "archive_command = 'test ! -e %s || exec %s --config=%s --stanza=%s archive-push %%p'\n" \
        "$BACKUP_REPO/archive/$BACKUP_STANZA/archive.info" "$PGBACKREST_BIN" "$BACKUP_CONF" \
        "$BACKUP_STANZA" >>"$PG_DIR/cbroker.conf"
    chown "$CB_USER:$CB_USER" "$PG_DIR/cbroker.conf"
    chmod 0600 "$PG_DIR/cbroker.conf"
    write_backup_conf
}

# pgBackRest's configuration for this stack's cluster: the repository, its
# log and lock directories under $BACKUP_DIR; rewritten at every start (the
# port may change).  Two full backups are kept, with the WAL they need.
write_backup_conf() {
    install -d -o "$CB_USER" -g "$CB_USER" -m 0750 "$BACKUP_DIR" "$BACKUP_REPO" \
        "$BACKUP_DIR/log" "$BACKUP_DIR/lock" "$BACKUP_DIR/spool"
    cat >"$BACKUP_CONF.tmp" <<EOF
# written by scripts/stack.sh at every start
[global]
repo1-path=$BACKUP_REPO
repo1-retention-full=2
compress-type=lz4
start-fast=y
log-path=$BACKUP_DIR/log
log-level-console=warn
log-level-file=info
lock-path=$BACKUP_DIR/lock
spool-path=$BACKUP_DIR/spool

[$BACKUP_STANZA]
pg1-path=$PG_DIR
pg1-port=$CB_PORT_PG
pg1-socket-path=$RUN_DIR
pg1-user=$CB_USER
EOF
    chown "$CB_USER:$CB_USER" "$BACKUP_CONF.tmp"
    chmod 0640 "$BACKUP_CONF.tmp"
    mv -f "$BACKUP_CONF.tmp" "$BACKUP_CONF"
}

# psql as the cbroker superuser over the unix socket; SQL on stdin.
pg_psql() {
    as_cb "$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$RUN_DIR" -p "$CB_PORT_PG" -U "$CB_USER" -d postgres
}

# The same in database DB, with more psql arguments.
pg_psql_db() {
    local db=$1
    shift
    as_cb "$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$RUN_DIR" -p "$CB_PORT_PG" -U "$CB_USER" -d "$db" "$@"
}

start_postgres() {
    local pid app_pw
    pg_initdb
    pg_write_conf
    if pid=$(pg_running_pid); then
        say "postgres: already running (pid $pid)"
    else
        ensure_free_port postgres "$CB_PORT_PG"
        ensure_log "$LOG_DIR/postgres.log"
        say "postgres: starting on 127.0.0.1${CB_SHARED_ADDR:+ and $CB_SHARED_ADDR}:$CB_PORT_PG"
        STARTED+=(postgres)
        if ! as_cb "$PGBIN/pg_ctl" -D "$PG_DIR" -l "$LOG_DIR/postgres.log" -w -t 60 \
                -o "-p $CB_PORT_PG -c listen_addresses=127.0.0.1${CB_SHARED_ADDR:+,$CB_SHARED_ADDR} -k $RUN_DIR -c fsync=on" \
                start >>"$LOG_DIR/stack.log" 2>&1; then
            tail -n 20 "$LOG_DIR/postgres.log" >&2
            die "postgres: pg_ctl start failed (see $LOG_DIR/postgres.log)"
        fi
    fi
    pg_wait_recovered
    app_pw=$(secret pg-cb_app.pw)
    owner_pw=$(secret pg-cb_owner.pw)
    # The two roles and the database (passwords are hex: safe inside a
    # literal; set at every start so they always match secrets/). cb_owner
    # owns the database and runs the migrations; cb_app, which every
    # process uses, owns nothing (scripts/db-roles.sql, docs/operations.md).
    if ! pg_psql >>"$LOG_DIR/stack.log" 2>&1 <<EOF
SELECT 'CREATE ROLE cb_owner' WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'cb_owner') \gexec
ALTER ROLE cb_owner LOGIN PASSWORD '$owner_pw';
SELECT 'CREATE ROLE cb_app' WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'cb_app') \gexec
ALTER ROLE cb_app LOGIN PASSWORD '$app_pw';
SELECT 'CREATE DATABASE cbroker OWNER cb_owner ENCODING ''UTF8'' TEMPLATE template0'
 WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = 'cbroker') \gexec
EOF
    then
        die "postgres: creating roles cb_owner, cb_app / database cbroker failed (see $LOG_DIR/stack.log)"
    fi
    # Ownership and grants: the upgrade of a database cb_app owned, in place.
    if ! pg_psql_db cbroker -1 -v owner=cb_owner -v app=cb_app -f - \
            <"$DB_ROLES_SQL" >>"$LOG_DIR/stack.log" 2>&1; then
        die "postgres: $DB_ROLES_SQL failed (see $LOG_DIR/stack.log)"
    fi
}

# A cluster restored to a point in time (scripts/restore.sh) answers
# read-only queries while it replays the archived WAL, then promotes itself
# at the target and stays read-only until its end-of-recovery checkpoint
# is done (recovery.signal is gone by then): wait for that (up to
# CB_PG_RECOVERY_WAIT_S, 300 s) before anything writes.  Any other start
# passes at the first query.
pg_wait_recovered() {
    local i secs=${CB_PG_RECOVERY_WAIT_S:-300} r
    for ((i = 0; i < secs * 10; i++)); do
        r=$(pg_psql_db postgres -At -c 'SELECT pg_is_in_recovery()' 2>/dev/null) || r=
        [ "$r" = f ] && return 0
        pg_running_pid >/dev/null || break
        sleep 0.1
    done
    tail -n 20 "$LOG_DIR/postgres.log" >&2
    die "postgres: recovery did not finish within ${secs}s (see $LOG_DIR/postgres.log)"
}

stop_postgres() {
    local pid
    pid=$(pg_running_pid) || { rm -f "$RUN_DIR/postgres.pid"; return 0; }
    say "postgres: stopping (pid $pid)"
    if ! as_cb "$PGBIN/pg_ctl" -D "$PG_DIR" -m fast -w -t 60 stop >>"$LOG_DIR/stack.log" 2>&1; then
        warn "postgres: fast shutdown failed; immediate shutdown"
        as_cb "$PGBIN/pg_ctl" -D "$PG_DIR" -m immediate -w -t 30 stop >>"$LOG_DIR/stack.log" 2>&1 || true
    fi
    if wait_gone "$pid" 10; then
        reap "$pid"
    else
        stop_pid postgres "$pid" TERM 5
    fi
}

# ---------------------------------------------------------------- redis

write_redis_conf() {
    local pw
    pw=$(secret redis.pw)
    # The password lives in this 0600 file rather than on the command line,
    # where every local user could read it in ps.
    (umask 077; cat >"$REDIS_DIR/redis.conf" <<EOF
# written by scripts/stack.sh at every start
bind 127.0.0.1${CB_SHARED_ADDR:+ $CB_SHARED_ADDR}
protected-mode yes
port $CB_PORT_REDIS
dir $REDIS_DIR
pidfile $RUN_DIR/redis.pid
daemonize no
supervised no
logfile ""
requirepass $pw
appendonly yes
save ""
# The broker's processes talk to Redis over this socket (cheaper than
# loopback TCP); the TCP port stays for tools.
unixsocket $RUN_DIR/redis.sock
unixsocketperm 700
EOF
    )
    chown "$CB_USER:$CB_USER" "$REDIS_DIR/redis.conf"
}

redis_ping() {
    REDISCLI_AUTH=$(secret redis.pw) timeout 2 redis-cli -h 127.0.0.1 -p "$CB_PORT_REDIS" ping 2>/dev/null
}

start_redis() {
    local pid i
    if pid=$(running_pid "$RUN_DIR/redis.pid" "$REDIS_BIN"); then
        say "redis: already running (pid $pid)"
        return 0
    fi
    rm -f "$RUN_DIR/redis.pid"
    ensure_free_port redis "$CB_PORT_REDIS"
    write_redis_conf
    ensure_log "$LOG_DIR/redis.log"
    say "redis: starting on 127.0.0.1${CB_SHARED_ADDR:+ and $CB_SHARED_ADDR}:$CB_PORT_REDIS"
    spawn_cb "$REDIS_BIN" "$REDIS_DIR/redis.conf" >>"$LOG_DIR/redis.log" 2>&1 </dev/null &
    pid=$!
    STARTED+=("redis:$pid")
    write_pidfile "$RUN_DIR/redis.pid" "$pid"
    for ((i = 0; i < 300; i++)); do
        [ "$(redis_ping)" = PONG ] && return 0
        is_alive "$pid" || break
        sleep 0.1
    done
    tail -n 20 "$LOG_DIR/redis.log" >&2
    die "redis: did not answer PING (see $LOG_DIR/redis.log)"
}

stop_redis() {
    local pid
    pid=$(running_pid "$RUN_DIR/redis.pid" "$REDIS_BIN") || { rm -f "$RUN_DIR/redis.pid"; return 0; }
    say "redis: stopping (pid $pid)"
    kill -CONT "$pid" 2>/dev/null || true	# a frozen Redis (pause-redis) takes no TERM
    stop_pid redis "$pid" TERM 30
    rm -f "$RUN_DIR/redis.pid"
}

# ---------------------------------------------------------------- migrations

run_migrations() {
    local bin=$BIN_DIR/cb-migrate
    if [ ! -x "$bin" ]; then
        warn "migrations: $bin not built: skipped"
        return 0
    fi
    say "migrations: cb-migrate --dir $SQL_DIR up"
    ensure_log "$LOG_DIR/cb-migrate.log"
    # As the owner role: its DSN is given to this process only.
    local -a saved=("${CHILD_ENV[@]}")
    CHILD_ENV+=("CB_PG_OWNER_DSN=$(owner_dsn)")
    if ! as_cb "$bin" --dir "$SQL_DIR" up >>"$LOG_DIR/cb-migrate.log" 2>&1 </dev/null; then
        CHILD_ENV=("${saved[@]}")
        tail -n 20 "$LOG_DIR/cb-migrate.log" >&2
        die "migrations failed (see $LOG_DIR/cb-migrate.log)"
    fi
    CHILD_ENV=("${saved[@]}")
}

# ---------------------------------------------------------------- responders

# Missing responder binaries: a warning each; fatal unless CB_ALLOW_MISSING=1.
check_responder_binaries() {
    local bin procs missing=0
    while read -r bin procs; do
        [ -n "$bin" ] || continue
        if [ ! -x "$BIN_DIR/$bin" ]; then
            warn "responder $bin: $BIN_DIR/$bin not built"
            missing=$((missing + 1))
        fi
    done < <(responder_list)
    if [ "$missing" -gt 0 ] && [ "${CB_ALLOW_MISSING:-0}" != 1 ]; then
        die "$missing responder binary(ies) missing: build them, or set CB_ALLOW_MISSING=1 to start without them"
    fi
    return 0
}

start_responder() {
    local bin=$1 procs=$2 exe=$BIN_DIR/$1 sock=$RUN_DIR/$1.sock pidf=$RUN_DIR/$1.pid pid i
    if [ ! -x "$exe" ]; then
        return 0    # warned about in check_responder_binaries
    fi
    if pid=$(running_pid "$pidf" "$exe"); then
        say "responder $bin: already running (pid $pid)"
        return 0
    fi
    rm -f "$pidf" "$sock"
    ensure_log "$LOG_DIR/$bin.log"
    spawn_cb "$exe" --socket "$sock" --procs "$procs" --pidfile "$pidf" \
        >>"$LOG_DIR/$bin.log" 2>&1 </dev/null &
    pid=$!
    STARTED+=("resp:$bin:$pid")
    for ((i = 0; i < 50; i++)); do
        [ -S "$sock" ] && break
        is_alive "$pid" || break
        sleep 0.1
    done
    if [ ! -S "$sock" ]; then
        tail -n 20 "$LOG_DIR/$bin.log" >&2
        if is_alive "$pid"; then
            die "responder $bin: socket $sock did not appear within 5 s (see $LOG_DIR/$bin.log)"
        fi
        die "responder $bin exited during startup (see $LOG_DIR/$bin.log)"
    fi
    # The responder writes its pid file; give it a moment, then write it
    # ourselves (the same pid: everything up to the binary exec'd).
    for ((i = 0; i < 10; i++)); do
        [ -s "$pidf" ] && break
        sleep 0.1
    done
    [ -s "$pidf" ] || write_pidfile "$pidf" "$pid"
    say "responder $bin: running (pid $pid, $procs procs)"
}

start_responders() {
    local bin procs
    while read -r bin procs; do
        [ -n "$bin" ] || continue
        start_responder "$bin" "$procs"
    done < <(responder_list)
}

stop_responder() {
    local bin=$1 pid
    if pid=$(read_pidfile "$RUN_DIR/$bin.pid") && is_ours_named "$pid" "$bin"; then
        stop_pid "responder $bin" "$pid" TERM 15
    fi
    rm -f "$RUN_DIR/$bin.pid" "$RUN_DIR/$bin.sock"
}

stop_responders() {
    local bin procs pid
    local -A done_=()
    # SIGTERM to every one first: they wind down together, and the waits
    # below overlap instead of adding up.
    while read -r bin; do
        if pid=$(read_pidfile "$RUN_DIR/$bin.pid") && is_ours_named "$pid" "$bin"; then
            say "responder $bin: stopping (pid $pid)"
            kill -TERM "$pid" 2>/dev/null || true
        fi
    done < <(responder_pidfiles)
    # Those the pid files name, then any socket routes.tab still names.
    while read -r bin; do
        stop_responder "$bin"
        done_[$bin]=1
    done < <(responder_pidfiles)
    while read -r bin procs; do
        [ -n "$bin" ] && [ -z "${done_[$bin]:-}" ] && rm -f "$RUN_DIR/$bin.sock"
    done < <(responder_list 2>/dev/null || true)
    return 0
}

# ---------------------------------------------------------------- worker

start_worker() {
    local exe=$BIN_DIR/cb-worker pidf=$RUN_DIR/cb-worker.pid pid i
    if [ ! -x "$exe" ]; then
        warn "worker: $exe not built: not started"
        return 0
    fi
    if pid=$(running_pid "$pidf" "$exe"); then
        say "worker: already running (pid $pid)"
        return 0
    fi
    rm -f "$pidf"
    ensure_free_port worker "$CB_PORT_WS"
    ensure_log "$LOG_DIR/cb-worker.log"
    spawn_cb "$exe" --pidfile "$pidf" >>"$LOG_DIR/cb-worker.log" 2>&1 </dev/null &
    pid=$!
    STARTED+=("worker:$pid")
    sleep 0.3
    if ! is_alive "$pid"; then
        tail -n 20 "$LOG_DIR/cb-worker.log" >&2
        die "worker exited during startup (see $LOG_DIR/cb-worker.log)"
    fi
    for ((i = 0; i < 10; i++)); do
        [ -s "$pidf" ] && break
        sleep 0.1
    done
    [ -s "$pidf" ] || write_pidfile "$pidf" "$pid"
    say "worker: running (pid $pid)"
}

# The bundled fake Salesforce is the sandbox org whenever no real org is
# configured (CB_SF_CLIENT_ID unset in the caller's environment).
FAKESF_CLIENT_ID=cb-dev-connected-app
FAKESF_USERNAME=integration@context-broker.dev
FAKESF_AUDIENCE=https://login.salesforce.com
fakesf_enabled() { [ -z "${CB_SF_CLIENT_ID:-}" ] || [ "${CB_SF_CLIENT_ID}" = "$FAKESF_CLIENT_ID" ]; }

ensure_sf_keys() {
    fakesf_enabled || return 0
    [ -s "$SECRETS_DIR/sf-jwt-key.pem" ] && [ -s "$SECRETS_DIR/sf-jwt-cert.pem" ] && return 0
    say "salesforce: generating the sandbox connected app's JWT key and certificate"
    if ! (umask 077; as_cb openssl req -x509 -newkey rsa:2048 -nodes -days 825 \
            -subj /CN=cb-dev-connected-app \
            -keyout "$SECRETS_DIR/sf-jwt-key.pem" -out "$SECRETS_DIR/sf-jwt-cert.pem") \
            >>"$LOG_DIR/stack.log" 2>&1; then
        die "salesforce: openssl failed (see $LOG_DIR/stack.log)"
    fi
    chmod 0600 "$SECRETS_DIR/sf-jwt-key.pem"
}

start_fakesf() {
    local exe=$BIN_DIR/cb-fake-sf pidf=$RUN_DIR/cb-fake-sf.pid pid i
    fakesf_enabled || return 0
    if [ ! -x "$exe" ]; then
        warn "fake salesforce: $exe not built: not started"
        return 0
    fi
    if pid=$(running_pid "$pidf" "$exe"); then
        say "fake salesforce: already running (pid $pid)"
        return 0
    fi
    rm -f "$pidf"
    ensure_free_port fakesf "$CB_PORT_FAKESF" "$FAKE_ADDR"
    ensure_log "$LOG_DIR/cb-fake-sf.log"
    spawn_cb "$exe" --port "$CB_PORT_FAKESF" --bind "$FAKE_ADDR" --cert "$SECRETS_DIR/sf-jwt-cert.pem" \
        --client-id "$FAKESF_CLIENT_ID" --username "$FAKESF_USERNAME" \
        --audience "$FAKESF_AUDIENCE" --pidfile "$pidf" \
        --max-records "${CB_FAKESF_MAX_RECORDS:-10000}" \
        >>"$LOG_DIR/cb-fake-sf.log" 2>&1 </dev/null &
    pid=$!
    STARTED+=("fakesf:$pid")
    for ((i = 0; i < 30; i++)); do
        port_busy "$CB_PORT_FAKESF" "$FAKE_ADDR" && break
        is_alive "$pid" || break
        sleep 0.1
    done
    if ! is_alive "$pid"; then
        tail -n 20 "$LOG_DIR/cb-fake-sf.log" >&2
        die "fake salesforce exited during startup (see $LOG_DIR/cb-fake-sf.log)"
    fi
    [ -s "$pidf" ] || write_pidfile "$pidf" "$pid"
    say "fake salesforce: running on $FAKE_ADDR:$CB_PORT_FAKESF (pid $pid)"
}

stop_fakesf() {
    local pid
    if pid=$(read_pidfile "$RUN_DIR/cb-fake-sf.pid") && is_ours_named "$pid" cb-fake-sf; then
        say "fake salesforce: stopping (pid $pid)"
        stop_pid "fake salesforce" "$pid" TERM 10
    fi
    rm -f "$RUN_DIR/cb-fake-sf.pid"
}

# The bundled fake webhook receivers and fake Slack always run; the stack's
# Slack alerts go to the fake unless the caller configured a real Slack
# (CB_SLACK_WEBHOOK_URL or CB_SLACK_BOT_TOKEN of its own).
fakeslack_webhook_url() {
    printf 'http://%s:%s/services/T000/B000/%s\n' "$FAKE_ADDR" "$CB_PORT_FAKEHOOKS" "$(secret fakeslack-webhook.hex)"
}
fakeslack_enabled() {
    { [ -z "${CB_SLACK_WEBHOOK_URL:-}" ] || [[ $CB_SLACK_WEBHOOK_URL == "http://$FAKE_ADDR:$CB_PORT_FAKEHOOKS/"* ]]; } &&
        { [ -z "${CB_SLACK_BOT_TOKEN:-}" ] || [ "$CB_SLACK_BOT_TOKEN" = "$(secret fakeslack-bot.pw)" ]; }
}

start_fakehooks() {
    local exe=$BIN_DIR/cb-fake-hooks pidf=$RUN_DIR/cb-fake-hooks.pid pid i
    if [ ! -x "$exe" ]; then
        warn "fake webhooks: $exe not built: not started"
        return 0
    fi
    if pid=$(running_pid "$pidf" "$exe"); then
        say "fake webhooks: already running (pid $pid)"
        return 0
    fi
    rm -f "$pidf"
    ensure_free_port fakehooks "$CB_PORT_FAKEHOOKS" "$FAKE_ADDR"
    ensure_log "$LOG_DIR/cb-fake-hooks.log"
    spawn_cb "$exe" --port "$CB_PORT_FAKEHOOKS" --bind "$FAKE_ADDR" --pidfile "$pidf" \
        --slack-token-file "$SECRETS_DIR/fakeslack-bot.pw" \
        --slack-webhook-secret-file "$SECRETS_DIR/fakeslack-webhook.hex" \
        >>"$LOG_DIR/cb-fake-hooks.log" 2>&1 </dev/null &
    pid=$!
    STARTED+=("fakehooks:$pid")
    for ((i = 0; i < 30; i++)); do
        port_busy "$CB_PORT_FAKEHOOKS" "$FAKE_ADDR" && break
        is_alive "$pid" || break
        sleep 0.1
    done
    if ! is_alive "$pid"; then
        tail -n 20 "$LOG_DIR/cb-fake-hooks.log" >&2
        die "fake webhooks exited during startup (see $LOG_DIR/cb-fake-hooks.log)"
    fi
    [ -s "$pidf" ] || write_pidfile "$pidf" "$pid"
    say "fake webhooks and slack: running on $FAKE_ADDR:$CB_PORT_FAKEHOOKS (pid $pid)"
}

stop_fakehooks() {
    local pid
    if pid=$(read_pidfile "$RUN_DIR/cb-fake-hooks.pid") && is_ours_named "$pid" cb-fake-hooks; then
        say "fake webhooks: stopping (pid $pid)"
        stop_pid "fake webhooks" "$pid" TERM 10
    fi
    rm -f "$RUN_DIR/cb-fake-hooks.pid"
}

stop_worker() {
    local pid
    if pid=$(read_pidfile "$RUN_DIR/cb-worker.pid") && is_ours_named "$pid" cb-worker; then
        say "worker: stopping (pid $pid)"
        stop_pid worker "$pid" TERM 10
    fi
    rm -f "$RUN_DIR/cb-worker.pid"
}

# ---------------------------------------------------------------- nginx

nginx_cmd() {
    as_cb "$NGINX_BIN" -p "$NGINX_DIR/" -c "$NGINX_DIR/nginx.conf" -e "$LOG_DIR/nginx-error.log" "$@"
}

# The origin of CB_PUBLIC_URL (scheme://host[:port], no path) and its
# WebSocket form, for the CSP's connect-src.
public_origin() {
    local url=${1%%\?*} rest
    rest=${url#*://}
    printf '%s://%s\n' "${url%%://*}" "${rest%%/*}"
}

# nginx's part of W3C trace context (docs/tracing.md): its maps, or the
# empty ones when the caller runs with CB_TRACE off (lib/conf.c's spellings).
trace_conf() {
    case ${CB_TRACE:-on} in
        [Oo][Ff][Ff]|[Ff][Aa][Ll][Ss][Ee]|0|[Nn][Oo]) echo trace-off.conf ;;
        *) echo trace.conf ;;
    esac
}

generate_nginx_conf() {
    local routes=$NGINX_DIR/routes.conf tmp=$NGINX_DIR/nginx.conf.tmp
    local zones=$NGINX_DIR/edge-zones.conf server=$NGINX_DIR/edge-server.conf ws=$NGINX_DIR/edge-ws.conf
    local ops=$NGINX_DIR/ops-routes.conf
    local origin ws_origin part
    if [ -r "$ROUTES_TAB" ]; then
        "$GEN_ROUTES" "$ROUTES_TAB" "$RUN_DIR" >"$routes" \
            || die "nginx: cannot generate routes from $ROUTES_TAB"
        "$GEN_ROUTES" --operator "$ROUTES_TAB" "$RUN_DIR" >"$ops" \
            || die "nginx: cannot generate the operator routes from $ROUTES_TAB"
    else
        warn "nginx: $ROUTES_TAB not found: no responder routes"
        echo "# no routes.tab" >"$routes"
        echo "# no routes.tab" >"$ops"
    fi
    # The edge limits (CB_EDGE_*; see gen-nginx-routes.sh). The development
    # stack exempts its own loopback clients (the demo, the tests, the
    # benchmark) unless CB_EDGE_EXEMPT says otherwise (empty: none).
    for part in zones server ws; do
        CB_EDGE_EXEMPT=${CB_EDGE_EXEMPT-127.0.0.1} "$GEN_ROUTES" --edge "$part" >"$NGINX_DIR/edge-$part.conf" \
            || die "nginx: invalid CB_EDGE_* setting"
    done
    origin=$(public_origin "https://$CB_BIND_ADDR:$CB_PORT_HTTPS")
    case $origin in
        https://*) ws_origin=wss://${origin#https://} ;;
        *)         ws_origin=ws://${origin#http://} ;;
    esac
    local origin_re='^https?://[][A-Za-z0-9.:-]+$'
    [[ $origin =~ $origin_re ]] || die "nginx: CB_PUBLIC_URL has an unusable origin: $origin"
    install -m 0640 -o "$CB_USER" -g "$CB_USER" "$REPO/nginx/fastcgi.conf" "$NGINX_DIR/fastcgi.conf"
    install -m 0640 -o "$CB_USER" -g "$CB_USER" "$REPO/nginx/problem-pages.conf" "$NGINX_DIR/problem-pages.conf"
    # The API description, made JSON by the build (Makefile: share/openapi.json).
    [ -r "$CB_BUILD/share/openapi.json" ] ||
        die "nginx: $CB_BUILD/share/openapi.json is missing: build it (make all, or make openapi)"
    install -m 0640 -o "$CB_USER" -g "$CB_USER" "$CB_BUILD/share/openapi.json" "$NGINX_DIR/openapi.json"
    sed -e "s|@PUBLIC_ORIGIN@|$origin|g" -e "s|@PUBLIC_WS_ORIGIN@|$ws_origin|g" \
        "$REPO/nginx/security-headers.conf" >"$NGINX_DIR/security-headers.conf"
    chown "$CB_USER:$CB_USER" "$NGINX_DIR/security-headers.conf"
    chmod 0640 "$NGINX_DIR/security-headers.conf"
    local d
    for d in client_body proxy fastcgi uwsgi scgi; do
        install -d -o "$CB_USER" -g "$CB_USER" -m 0700 "$NGINX_DIR/tmp/$d"
    done
    ROUTES_FILE=$routes OPS_FILE=$ops P_OPS=$CB_PORT_OPS TRACE_FILE=$REPO/nginx/$(trace_conf) ZONES_FILE=$zones SERVER_FILE=$server WS_FILE=$ws \
    STATE=$CB_STATE RUN=$RUN_DIR LOGD=$LOG_DIR NGX=$NGINX_DIR BIND=$CB_BIND_ADDR \
    TLS=$TLS_DIR WEB=$WEB_DIR P_HTTP=$CB_PORT_HTTP P_HTTPS=$CB_PORT_HTTPS P_WS=$CB_PORT_WS \
    REPO_DIR=$REPO awk '
        BEGIN {
            map["@STATE@"] = ENVIRON["STATE"];   map["@RUN_DIR@"] = ENVIRON["RUN"]
            map["@LOG_DIR@"] = ENVIRON["LOGD"];  map["@NGINX_DIR@"] = ENVIRON["NGX"]
            map["@TLS_DIR@"] = ENVIRON["TLS"];   map["@WEB_ROOT@"] = ENVIRON["WEB"]
            map["@REPO@"] = ENVIRON["REPO_DIR"]; map["@PORT_HTTP@"] = ENVIRON["P_HTTP"]
            map["@PORT_HTTPS@"] = ENVIRON["P_HTTPS"]; map["@PORT_WS@"] = ENVIRON["P_WS"]
            map["@PORT_OPS@"] = ENVIRON["P_OPS"];  map["@BIND_ADDR@"] = ENVIRON["BIND"]
            # Whole-line placeholders: the file is inserted, indented.
            ins["@ROUTES@"] = ENVIRON["ROUTES_FILE"] SUBSEP "        "
            ins["@OPS_ROUTES@"] = ENVIRON["OPS_FILE"] SUBSEP "        "
            ins["@EDGE_ZONES@"] = ENVIRON["ZONES_FILE"] SUBSEP "    "
            ins["@EDGE_SERVER@"] = ENVIRON["SERVER_FILE"] SUBSEP "        "
            ins["@EDGE_WS@"] = ENVIRON["WS_FILE"] SUBSEP "            "
            ins["@TRACE_MAPS@"] = ENVIRON["TRACE_FILE"] SUBSEP "    "
        }
        {
            t = $0
            gsub(/^[ \t]+|[ \t]+$/, "", t)
            if (t in ins) {
                split(ins[t], fp, SUBSEP)
                while ((getline l < fp[1]) > 0) print fp[2] l
                close(fp[1])
                next
            }
            for (k in map) {
                while ((i = index($0, k)) > 0)
                    $0 = substr($0, 1, i - 1) map[k] substr($0, i + length(k))
            }
            if ($0 !~ /^[ \t]*#/ && $0 ~ /@[A-Z_]+@/) { print "unknown placeholder: " $0 > "/dev/stderr"; exit 1 }
            print
        }' "$REPO/nginx/nginx.conf.in" >"$tmp" || die "nginx: template substitution failed"
    chown "$CB_USER:$CB_USER" "$tmp" "$routes" "$ops" "$zones" "$server" "$ws"
    chmod 0640 "$tmp" "$routes" "$ops" "$zones" "$server" "$ws"
    mv -f "$tmp" "$NGINX_DIR/nginx.conf"
}

start_nginx() {
    local pid i
    ensure_log "$LOG_DIR/nginx-error.log"
    ensure_log "$LOG_DIR/nginx-access.log"
    ensure_log "$LOG_DIR/nginx.log"
    generate_nginx_conf
    if ! nginx_cmd -t -q >>"$LOG_DIR/nginx.log" 2>&1; then
        tail -n 20 "$LOG_DIR/nginx.log" >&2
        die "nginx: configuration test failed ($NGINX_DIR/nginx.conf; see $LOG_DIR/nginx.log)"
    fi
    if pid=$(running_pid "$RUN_DIR/nginx.pid" "$NGINX_BIN"); then
        say "nginx: already running (pid $pid): reloading the configuration"
        kill -HUP "$pid"
        return 0
    fi
    rm -f "$RUN_DIR/nginx.pid"
    ensure_free_port nginx "$CB_PORT_HTTP" "$CB_BIND_ADDR"
    ensure_free_port nginx "$CB_PORT_HTTPS" "$CB_BIND_ADDR"
    ensure_free_port nginx "$CB_PORT_OPS"
    say "nginx: starting on $CB_BIND_ADDR:$CB_PORT_HTTP and $CB_BIND_ADDR:$CB_PORT_HTTPS (operator: 127.0.0.1:$CB_PORT_OPS)"
    spawn_cb "$NGINX_BIN" -p "$NGINX_DIR/" -c "$NGINX_DIR/nginx.conf" -e "$LOG_DIR/nginx-error.log" \
        >>"$LOG_DIR/nginx.log" 2>&1 </dev/null &
    pid=$!
    STARTED+=("nginx:$pid")
    for ((i = 0; i < 100; i++)); do
        if [ -s "$RUN_DIR/nginx.pid" ] && port_busy "$CB_PORT_HTTP" "$CB_BIND_ADDR" &&
            port_busy "$CB_PORT_HTTPS" "$CB_BIND_ADDR" &&
            port_busy "$CB_PORT_OPS"; then
            return 0
        fi
        is_alive "$pid" || break
        sleep 0.1
    done
    tail -n 20 "$LOG_DIR/nginx-error.log" "$LOG_DIR/nginx.log" >&2
    die "nginx did not come up (see $LOG_DIR/nginx-error.log)"
}

stop_nginx() {
    local pid
    pid=$(running_pid "$RUN_DIR/nginx.pid" "$NGINX_BIN") || { rm -f "$RUN_DIR/nginx.pid"; return 0; }
    say "nginx: stopping (pid $pid)"
    stop_pid nginx "$pid" QUIT 10
    rm -f "$RUN_DIR/nginx.pid"
}

# ---------------------------------------------------------------- prometheus

# The rules and the scrape of this stack: the rules are copied into the state
# (the service user may not reach the clone), the token is read from its file.
write_prometheus_conf() {
    local f rules=$PROM_DIR/rules
    install -d -o "$CB_USER" -g "$CB_USER" -m 0700 "$rules" "$PROM_DIR/data"
    find "$rules" -maxdepth 1 -name '*.yml' -type f -delete
    for f in "$REPO"/ops/prometheus/*.rules.yml; do
        [ -f "$f" ] && install -m 0640 -o "$CB_USER" -g "$CB_USER" "$f" "$rules/"
    done
    cat >"$PROM_DIR/prometheus.yml.tmp" <<EOF
# written by scripts/stack.sh start: do not edit
global:
  scrape_interval: $CB_PROM_SCRAPE_INTERVAL
  evaluation_interval: $CB_PROM_SCRAPE_INTERVAL
rule_files:
  - $rules/*.rules.yml
scrape_configs:
  - job_name: context-broker
    metrics_path: /metrics
    scrape_timeout: $CB_PROM_SCRAPE_INTERVAL
    authorization:
      credentials_file: $SECRETS_DIR/metrics-token.hex
    static_configs:
      - targets: ['127.0.0.1:$CB_PORT_OPS']
EOF
    chown "$CB_USER:$CB_USER" "$PROM_DIR/prometheus.yml.tmp"
    chmod 0640 "$PROM_DIR/prometheus.yml.tmp"
    mv -f "$PROM_DIR/prometheus.yml.tmp" "$PROM_DIR/prometheus.yml"
}

start_prometheus() {
    local pidf=$RUN_DIR/prometheus.pid pid i
    if [ ! -x "$PROM_BIN" ]; then
        warn "prometheus: $PROM_BIN not installed (scripts/install-deps.sh): not started"
        return 0
    fi
    if pid=$(running_pid "$pidf" "$PROM_BIN"); then
        say "prometheus: already running (pid $pid): reloading the configuration"
        write_prometheus_conf
        kill -HUP "$pid"
        return 0
    fi
    rm -f "$pidf"
    ensure_free_port prometheus "$CB_PORT_PROM"
    ensure_log "$LOG_DIR/prometheus.log"
    # A new stack's counters start from zero: a previous run's series, still
    # the latest for 5 minutes after a restart, would read as current.
    rm -rf "$PROM_DIR/data"
    write_prometheus_conf
    spawn_cb "$PROM_BIN" --config.file="$PROM_DIR/prometheus.yml" \
        --storage.tsdb.path="$PROM_DIR/data" --storage.tsdb.retention.time=2d \
        --web.listen-address="127.0.0.1:$CB_PORT_PROM" \
        >>"$LOG_DIR/prometheus.log" 2>&1 </dev/null &
    pid=$!
    STARTED+=("prometheus:$pid")
    write_pidfile "$RUN_DIR/prometheus.pid" "$pid"
    for ((i = 0; i < 100; i++)); do
        curl -fsS -o /dev/null "http://127.0.0.1:$CB_PORT_PROM/-/ready" 2>/dev/null && break
        is_alive "$pid" || break
        sleep 0.1
    done
    if ! is_alive "$pid"; then
        tail -n 20 "$LOG_DIR/prometheus.log" >&2
        die "prometheus exited during startup (see $LOG_DIR/prometheus.log)"
    fi
    say "prometheus: running on 127.0.0.1:$CB_PORT_PROM, scraping every $CB_PROM_SCRAPE_INTERVAL (pid $pid)"
}

stop_prometheus() {
    local pid
    if pid=$(read_pidfile "$RUN_DIR/prometheus.pid") && is_ours_named "$pid" prometheus; then
        say "prometheus: stopping (pid $pid)"
        stop_pid prometheus "$pid" TERM 15
    fi
    rm -f "$RUN_DIR/prometheus.pid"
}

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
