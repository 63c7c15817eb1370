# scripts/stack/stores.sh: part of scripts/stack.sh (sourced by it, never run
# alone): the stores, Postgres (cluster, configuration, backups' archiving,
# start and stop) and Redis, and the migrations.
# shellcheck shell=bash

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
