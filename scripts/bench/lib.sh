# Helpers of scripts/bench.sh (sourced): wrk and pgbench runs and the
# summary table.  Every measurement lands in the associative array M as
# M[<key>.<what>]; the summary rows are built from M at the end.
#
# Needs from the caller: THREADS CONNS DURATION WORK REPO CB_PG_DSN, say, die.

declare -gA M=()
SUMMARY=()
MISSES=0
UNMEASURED=()     # what could not be measured: the run ends with exit 3
PGBENCH=/usr/lib/postgresql/15/bin/pgbench
[ -x "$PGBENCH" ] || PGBENCH=pgbench

# Seconds of a wrk-style duration (10s, 2m, 1h, 10).
dur_s() {
    local d=$1
    case $d in
        *h) echo $(( ${d%h} * 3600 )) ;;
        *m) echo $(( ${d%m} * 60 )) ;;
        *s) echo "${d%s}" ;;
        *)  echo "$d" ;;
    esac
}

# Milliseconds of a wrk latency (850.00us, 3.21ms, 1.02s, 1.5m).
to_ms() {
    awk -v v="$1" 'BEGIN {
        n = v + 0
        if (v ~ /us$/) n /= 1000; else if (v ~ /ms$/) n += 0;
        else if (v ~ /m$/) n *= 60000; else if (v ~ /s$/) n *= 1000;
        printf "%.2f", n }'
}

# CPU time of the bench stack's processes by component, in clock ticks:
# lines "component ticks".  The stack runs as cbroker; a process is this
# stack's when its environment names the stack's state directory, its
# command line names that directory (nginx's master) or the stack's Redis
# port (Redis), or its parent is such a process (nginx's workers, whose
# environment nginx clears).  Each counts its own time plus that of the
# children it has reaped (so Postgres backends that ended, reaped by the
# postmaster, still count).  Components: postgres, redis, nginx, worker,
# and each responder by name; the fakes (stand-ins for services outside
# the broker) and scripts are not counted.
cpu_ticks() {
    local p comm rest pids envs=() cmds=()
    declare -A mine=()
    pids=$(pgrep -u cbroker) || return 0
    for p in $pids; do envs+=("/proc/$p/environ"); cmds+=("/proc/$p/cmdline"); done
    # Two greps over every candidate at once (a fork per process would
    # weigh on the very runs measured).
    for p in $( { grep -lzxF "CB_STATE=$CB_STATE" "${envs[@]}"
                  grep -lzF -e "$CB_STATE/" -e "127.0.0.1:$CB_PORT_REDIS" "${cmds[@]}"; } 2>/dev/null |
                cut -d/ -f3); do
        mine[$p]=1
    done
    for p in $pids; do
        # (A process may end meanwhile: the redirection's own error is silenced too.)
        { read -r rest <"/proc/$p/stat"; } 2>/dev/null || continue
        comm=${rest#*(}; comm=${comm%%)*}
        rest=${rest##*) }
        # Fields after "(comm) ": ppid 2nd, utime 12th ... cstime 15th.
        set -- $rest
        echo "$p $2 $comm $(( ${12} + ${13} + ${14} + ${15} )) ${mine[$p]:-0}"
    done | awk '
        { ppid[$1] = $2; comm[$1] = $3; t[$1] = $4; mine[$1] = $5 }
        END {
            for (p in t) {
                if (!mine[p] && !mine[ppid[p]]) continue
                c = comm[p]
                if (c ~ /^cb-fake/ || c ~ /^(bash|sh|awk|sed|grep|psql|sleep|setpriv|timeout|cat|env)$/) continue
                if (c == "postmaster") c = "postgres"
                else if (c == "redis-server") c = "redis"
                else if (c == "cb-worker") c = "worker"
                sum[c] += t[p]
            }
            for (c in sum) print c, sum[c]
        }' | sort
}

# cpu_per_request KEY BEFORE_FILE: M[KEY.cpu]: "component ms ..." per
# request (or transaction) of run KEY, from the ticks before and now.
cpu_per_request() {
    local key=$1 before=$2 n=${M[$1.total]:-${M[$1.tx]:-0}} hz
    hz=$(getconf CLK_TCK)
    [ "$n" -gt 0 ] 2>/dev/null || return 0
    M[$key.cpu]=$(cpu_ticks | awk -v n="$n" -v hz="$hz" '
        NR == FNR { b[$1] = $2; next }
        { d = $2 - b[$1]; if (d > 0) { ms = d * 1000 / hz / n; tot += ms; printf "%s %.3f ", $1, ms } }
        END { printf "total %.3f", tot }' "$before" -)
    M[$key.cpu_total]=${M[$key.cpu]##* }
}

# wrk_run KEY LABEL ARGS...: one wrk run at THREADS/CONNS/DURATION; its
# output stays in $WORK/wrk-KEY.txt.
wrk_run() {
    local key=$1 label=$2 out=$WORK/wrk-$1.txt
    shift 2
    say "wrk: $label (-t$THREADS -c$CONNS -d$DURATION)"
    cpu_ticks >"$WORK/cpu-$key.before"
    wrk -t"$THREADS" -c"$CONNS" -d"$DURATION" --latency "$@" >"$out" 2>&1 || { cat "$out" >&2; die "wrk failed ($label)"; }
    M[$key.label]=$label
    M[$key.rps]=$(awk '/^Requests\/sec:/ { printf "%.0f", $2 }' "$out")
    M[$key.p50]=$(to_ms "$(awk '/Latency Distribution/ { d = 1 } d && $1 == "50%" { print $2; exit }' "$out")")
    M[$key.p99]=$(to_ms "$(awk '/Latency Distribution/ { d = 1 } d && $1 == "99%" { print $2; exit }' "$out")")
    M[$key.total]=$(awk '/requests in/ { print $1; exit }' "$out")
    M[$key.non2xx]=$(awk -F': ' '/Non-2xx or 3xx responses/ { print $2 }' "$out")
    M[$key.non2xx]=${M[$key.non2xx]:-0}
    M[$key.errors]=$(awk '/Socket errors/ { s = 0; for (i = 4; i <= NF; i += 2) { gsub(",", "", $i); s += $i } print s }' "$out")
    M[$key.errors]=${M[$key.errors]:-0}
    cpu_per_request "$key" "$WORK/cpu-$key.before"
}

# pg_run KEY LABEL SQLFILE -D...: pgbench at CONNS clients, THREADS threads,
# DURATION, -M prepared, against the stack's Postgres as cb_app; latency
# percentiles from its per-transaction log.  A script the schema no longer
# accepts is reported (not measured) and the run goes on.
pg_run() {
    local key=$1 label=$2 sql=$3 out=$WORK/pgbench-$1.txt secs
    shift 3
    secs=$(dur_s "$DURATION")
    say "$label (-c$CONNS -j$THREADS -T$secs -M prepared, $(basename "$sql"))"
    rm -f "$WORK/pglog-$key".*
    M[$key.label]=$label
    cpu_ticks >"$WORK/cpu-$key.before"
    if ! "$PGBENCH" -n -M prepared -c "$CONNS" -j "$THREADS" -T "$secs" -f "$sql" -D n=0 "$@" \
        -l --log-prefix="$WORK/pglog-$key" "$CB_PG_DSN" >"$out" 2>&1 ||
        ! grep -q '^tps = ' "$out"; then
        tail -n 5 "$out" >&2
        say "pgbench failed ($label): not measured (does $(basename "$sql") match the schema?)"
        UNMEASURED+=("$label: pgbench failed: $(grep -m1 -i 'error' "$out" | cut -c1-160)")
        rm -f "$WORK/pglog-$key".*
        return 0
    fi
    M[$key.tps]=$(awk '/^tps = .*without initial connection time/ { printf "%.0f", $3 }' "$out")
    M[$key.tx]=$(awk -F': ' '/number of transactions actually processed/ { split($2, a, "/"); print a[1] + 0 }' "$out")
    M[$key.failed]=$(awk -F': ' '/number of failed transactions/ { print $2 + 0 }' "$out")
    M[$key.failed]=${M[$key.failed]:-0}
    cpu_per_request "$key" "$WORK/cpu-$key.before"
    # Field 3 of each log line: the transaction's latency in microseconds.
    read -r "M[$key.p50]" "M[$key.p99]" < <(cat "$WORK/pglog-$key".* | awk '{ print $3 }' | sort -n | awk '
        { v[NR] = $1 }
        END {
            if (NR == 0) { print "? ?"; exit }
            i50 = int(NR * 0.50 + 0.999999); i99 = int(NR * 0.99 + 0.999999)
            printf "%.2f %.2f\n", v[i50] / 1000, v[i99] / 1000 }')
    rm -f "$WORK/pglog-$key".*
}

# A row of the summary: LABEL FIGURE REFERENCE REF_FIGURE RATIO TARGET VERDICT.
summary_row() {
    SUMMARY+=("$(printf '%-34s %12s  %-30s %12s %7s %10s  %s' "$@")")
}

# at_least LABEL FIG REFLABEL REF MIN NOTE: ratio FIG/REF against MIN.
at_least() {
    local label=$1 fig=$2 rlabel=$3 ref=$4 min=$5 note=${6:-} ratio verdict
    if [[ $fig =~ ^[0-9.]+$ && $ref =~ ^[0-9.]+$ ]] && awk -v r="$ref" 'BEGIN { exit !(r > 0) }'; then
        ratio=$(awk -v f="$fig" -v r="$ref" 'BEGIN { printf "%.2f", f / r }')
        if awk -v x="$ratio" -v m="$min" 'BEGIN { exit !(x >= m) }' && [ -z "$note" ]; then
            verdict=PASS
        else
            verdict=MISS
        fi
    else
        ratio=?; verdict=MISS
        note=${note:-not measured}
    fi
    [ "$verdict" = MISS ] && MISSES=$((MISSES + 1))
    summary_row "$label" "$fig" "$rlabel" "$ref" "${ratio}x" ">= ${min}x" "$verdict${note:+ ($note)}"
}

# at_most LABEL VALUE_MS MAX_MS NOTE: a latency against its ceiling.
at_most() {
    local label=$1 v=$2 max=$3 note=${4:-} verdict
    if [[ $v =~ ^[0-9.]+$ ]] && awk -v x="$v" -v m="$max" 'BEGIN { exit !(x <= m) }' && [ -z "$note" ]; then
        verdict=PASS
    else
        verdict=MISS
        [[ $v =~ ^[0-9.]+$ ]] || note=${note:-not measured}
    fi
    [ "$verdict" = MISS ] && MISSES=$((MISSES + 1))
    summary_row "$label" "$v ms" "" "" "" "<= $max ms" "$verdict${note:+ ($note)}"
}

# The note for a wrk run whose figure does not count as is.
wrk_note() {
    local key=$1 n=""
    [ "${M[$key.non2xx]:-0}" != 0 ] && n="${M[$key.non2xx]} non-2xx"
    [ "${M[$key.errors]:-0}" != 0 ] && n="${n:+$n, }${M[$key.errors]} socket errors"
    printf '%s' "$n"
}
