# scripts/stack/services.sh: part of scripts/stack.sh (sourced by it, never
# run alone): the processes the stores serve, the FastCGI responders, the
# worker and the fakes (Salesforce, webhook receivers and Slack), nginx and
# Prometheus: each started, checked and stopped.
# shellcheck shell=bash

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
    await_pidfile "$pidf" "$pid"
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

# Should NAME's EXE start?  Not when it is not built (a warning) nor when it
# already runs under its pid file PIDF (said); a stale PIDF is removed.
need_start() {
    local name=$1 exe=$2 pidf=$3 pid
    if [ ! -x "$exe" ]; then
        warn "$name: $exe not built: not started"
        return 1
    fi
    if pid=$(running_pid "$pidf" "$exe"); then
        say "$name: already running (pid $pid)"
        return 1
    fi
    rm -f "$pidf"
}

start_worker() {
    local exe=$BIN_DIR/cb-worker pidf=$RUN_DIR/cb-worker.pid pid
    need_start worker "$exe" "$pidf" || return 0
    ensure_free_port worker "$CB_PORT_WS"
    ensure_log "$LOG_DIR/cb-worker.log"
    spawn_cb "$exe" --pidfile "$pidf" >>"$LOG_DIR/cb-worker.log" 2>&1 </dev/null &
    pid=$!
    STARTED+=("worker:$pid")
    sleep 0.3
    is_alive "$pid" || died_starting worker "$LOG_DIR/cb-worker.log"
    await_pidfile "$pidf" "$pid"
    say "worker: running (pid $pid)"
}

# Start a fake: NAME for messages (LABEL once it runs), KEY for its port
# check and the started list, EXE and PORT, then its own options; its pid
# file and log are named after EXE.  It binds FAKE_ADDR (a shared stack's
# CB_SHARED_ADDR, else 127.0.0.1) and is waited for until it listens there.
start_fake() {
    local name=$1 label=$2 key=$3 exe=$4 port=$5 pidf log pid i
    shift 5
    pidf=$RUN_DIR/${exe##*/}.pid
    log=$LOG_DIR/${exe##*/}.log
    need_start "$name" "$exe" "$pidf" || return 0
    ensure_free_port "$key" "$port" "$FAKE_ADDR"
    ensure_log "$log"
    spawn_cb "$exe" --port "$port" --bind "$FAKE_ADDR" --pidfile "$pidf" "$@" >>"$log" 2>&1 </dev/null &
    pid=$!
    STARTED+=("$key:$pid")
    for ((i = 0; i < 30; i++)); do
        port_busy "$port" "$FAKE_ADDR" && break
        is_alive "$pid" || break
        sleep 0.1
    done
    is_alive "$pid" || died_starting "$name" "$log"
    [ -s "$pidf" ] || write_pidfile "$pidf" "$pid"
    say "$label: running on $FAKE_ADDR:$port (pid $pid)"
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
    fakesf_enabled || return 0
    start_fake "fake salesforce" "fake salesforce" fakesf "$BIN_DIR/cb-fake-sf" "$CB_PORT_FAKESF" \
        --cert "$SECRETS_DIR/sf-jwt-cert.pem" \
        --client-id "$FAKESF_CLIENT_ID" --username "$FAKESF_USERNAME" \
        --audience "$FAKESF_AUDIENCE" \
        --max-records "${CB_FAKESF_MAX_RECORDS:-10000}"
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
    start_fake "fake webhooks" "fake webhooks and slack" fakehooks "$BIN_DIR/cb-fake-hooks" \
        "$CB_PORT_FAKEHOOKS" \
        --slack-token-file "$SECRETS_DIR/fakeslack-bot.pw" \
        --slack-webhook-secret-file "$SECRETS_DIR/fakeslack-webhook.hex"
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
    is_alive "$pid" || died_starting prometheus "$LOG_DIR/prometheus.log"
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
