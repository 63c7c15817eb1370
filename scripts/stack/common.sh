# scripts/stack/common.sh: part of scripts/stack.sh (sourced by it, never run
# alone): the helpers every part uses (users, processes and pid files, ports,
# secrets, the stack's variables and the children's environment) and the
# layout of the state directory (placing it where cbroker can reach it,
# staging the binaries, sql/ and web/, secrets, TLS, the client CA).
# shellcheck shell=bash

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

# The executable of PID, if it is a live process of cbroker.
ours_exe() {
    local pid=$1 real
    is_alive "$pid" || return 1
    [ "$(stat -c %u "/proc/$pid" 2>/dev/null)" = "$CB_UID" ] || return 1
    real=$(readlink "/proc/$pid/exe" 2>/dev/null) || return 1
    printf '%s\n' "${real% (deleted)}"
}

# Is PID a live process of cbroker running EXE?
is_ours() {
    local real
    real=$(ours_exe "$1") && [ "$real" = "$(readlink -f -- "$2")" ]
}

# Is PID a live process of cbroker whose executable is named NAME? (Looser
# than is_ours: the build directory may have moved since it started.)
is_ours_named() {
    local real
    real=$(ours_exe "$1") && [ "${real##*/}" = "$2" ]
}

# Write PID to FILE, owned by cbroker (the process may rewrite or remove it).
write_pidfile() {
    local f=$1 pid=$2
    echo "$pid" >"$f.tmp"
    chown "$CB_USER:$CB_USER" "$f.tmp"
    chmod 0644 "$f.tmp"
    mv -f "$f.tmp" "$f"
}

# The program PID writes its own pid FILE; give it a second, then write it
# ourselves (the same pid: everything up to the binary exec'd).
await_pidfile() {
    local f=$1 pid=$2 i
    for ((i = 0; i < 10; i++)); do
        [ -s "$f" ] && break
        sleep 0.1
    done
    [ -s "$f" ] || write_pidfile "$f" "$pid"
}

# NAME died while starting: the end of its LOG, then stop.
died_starting() {
    tail -n 20 "$2" >&2
    die "$1 exited during startup (see $2)"
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
            # The fake's bot token named by the caller: its Web API, not the hook.
            [ -n "${CB_SLACK_BOT_TOKEN:-}" ] || echo "CB_SLACK_WEBHOOK_URL=$(fakeslack_webhook_url)"
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
