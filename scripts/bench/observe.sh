# The observe section of scripts/bench.sh (sourced): what metrics and
# tracing cost the form load (issue 11: under 3 %).
#
# The machine's throughput drifts by 10 to 25 % between runs seconds
# apart, far more than the cost measured, so the two sides run side by
# side and take turns often: the bench stack's edge (nginx, the responders:
# the product's defaults, CB_METRICS_DIR set, CB_TRACE=on, nginx's trace
# maps and headers) and a second node on the same Postgres and Redis
# (scripts/stack.sh's CB_STACK_ROLE=node, its state under the bench's) with
# both off (CB_METRICS_DIR empty, CB_TRACE=off, nginx/trace-off.conf).
# BENCH_OBS_ROUNDS rounds [20] of BENCH_OBS_SECONDS [1] on each side, in
# on, off then off, on order; then the sides swap (the bench edge
# restarted with both off, the node with both on: `restart-edge`) and as
# many rounds again, so whatever differs between the two edges themselves
# falls on both sides.  BENCH_OBS_WARM seconds [2] of the same load, not
# counted, warm each edge after each start.  The figure is the geometric
# mean of the two halves' on/off ratios of requests (the edges' own
# difference multiplies one and divides the other): at least 0.97x
# (overhead under 3 %).  The report adds the stack's CPU per request on and off (lib.sh's
# cpu_ticks), which a busy machine skews less than the throughput.  The
# requests carry no traceparent: nginx starts a trace for each.
#
# Needs from the caller: REPO CB_HTTP_URL CB_STATE FORM TOKEN THREADS CONNS
# WORK, wrk_run, wrk_note, free_port, say, die.

OBS_ROUNDS=${BENCH_OBS_ROUNDS:-20}
[[ $OBS_ROUNDS =~ ^[1-9][0-9]?$ ]] || die "BENCH_OBS_ROUNDS must be 1 to 99"
OBS_SECONDS=${BENCH_OBS_SECONDS:-1}
[[ $OBS_SECONDS =~ ^[1-9][0-9]{0,2}$ ]] || die "BENCH_OBS_SECONDS must be 1 to 999"
OBS_WARM=${BENCH_OBS_WARM:-2}
[[ $OBS_WARM =~ ^[0-9]{1,3}$ ]] || die "BENCH_OBS_WARM must be 0 to 999 (seconds)"
declare -A OBS_GROUP=()   # the runs of each side and half: on1 off1 on2 off2
OBS_NODE=          # the second node's state directory, once started
OBS_NODE_URL=

# scripts/stack.sh for the second node, with its settings; "both off" when
# the first argument is 0.
obs_node() {
    local off=()
    [ "$1" = 0 ] && off=(CB_TRACE=off CB_METRICS_DIR=)
    shift
    env CB_STATE="$OBS_NODE" CB_STACK_ROLE=node CB_SHARED_STATE="$CB_STATE" CB_SHARED_ADDR=127.0.0.1 \
        CB_PORT_HTTP="$OBS_P_HTTP" CB_PORT_HTTPS="$OBS_P_HTTPS" CB_PORT_WS="$OBS_P_WS" CB_PORT_OPS="$OBS_P_OPS" \
        "${off[@]}" "$REPO/scripts/stack.sh" "$@" >>"$WORK/observe-node.log" 2>&1
}

# Stop the second node (bench.sh's cleanup calls this too).
observe_stop() {
    [ -n "$OBS_NODE" ] || return 0
    obs_node 1 stop || say "warning: the observe node did not stop (see $WORK/observe-node.log)"
    OBS_NODE=
}

# Wait until URL's answers show tracing on (1) or off (0), then warm it.
obs_ready() {
    local url=$1 on=$2 i hdr
    for i in $(seq 1 150); do
        hdr=$(curl -s --max-time 2 -o /dev/null -D - -H "Authorization: Bearer $TOKEN" \
            "$url/api/v1/forms/$FORM" | tr -d '\r' || true)
        if grep -q '^HTTP/[0-9.]* 200' <<<"$hdr"; then
            if [ "$on" = 1 ] && grep -qi '^x-trace-id: [0-9a-f]\{32\}$' <<<"$hdr"; then break; fi
            if [ "$on" = 0 ] && ! grep -qi '^x-trace-id:' <<<"$hdr"; then break; fi
        fi
        sleep 0.1
    done
    [ "$i" -lt 150 ] || die "$url did not answer with tracing $([ "$on" = 1 ] && echo on || echo off)"
    [ "$OBS_WARM" = 0 ] || wrk -t"$THREADS" -c"$CONNS" -d"${OBS_WARM}s" -H "Authorization: Bearer $TOKEN" \
        "$url/api/v1/forms/$FORM" >/dev/null 2>&1 || die "the warm-up run failed"
}

# One row for the runs of group G (on1: on, first half; ...): requests
# summed, req/s over their time, the median of their p50s, the largest of
# their p99s, and the CPU per request of each process over them all.
obs_group() {
    local g=$1 k key=obs_$1 side where
    side=${g%[12]}
    if [ "$g" = on1 ] || [ "$g" = off2 ]; then where="bench edge"; else where=node; fi
    M[$key.label]="form load $side, $where"
    M[$key.total]=0 M[$key.non2xx]=0 M[$key.errors]=0
    for k in ${OBS_GROUP[$g]:-}; do
        M[$key.total]=$(( M[$key.total] + ${M[$k.total]:-0} ))
        M[$key.non2xx]=$(( M[$key.non2xx] + ${M[$k.non2xx]:-0} ))
        M[$key.errors]=$(( M[$key.errors] + ${M[$k.errors]:-0} ))
    done
    M[$key.rps]=$(awk -v t="${M[$key.total]}" -v d="$OBS_SECONDS" -v r="$OBS_ROUNDS" 'BEGIN { printf "%.0f", t / (r * d) }')
    M[$key.p50]=$(for k in ${OBS_GROUP[$g]:-}; do echo "${M[$k.p50]:-}"; done | grep -E '^[0-9.]+$' | sort -g |
        awk '{ v[NR] = $1 } END { if (NR) print v[int((NR + 1) / 2)]; else print "?" }')
    M[$key.p99]=$(for k in ${OBS_GROUP[$g]:-}; do echo "${M[$k.p99]:-}"; done | grep -E '^[0-9.]+$' | sort -g |
        tail -n 1)
    # "forms 0.027 nginx 0.042 ... total 0.070" of each run, weighted by its requests.
    M[$key.cpu]=$(for k in ${OBS_GROUP[$g]:-}; do echo "${M[$k.total]:-0} ${M[$k.cpu]:-}"; done | awk '
        { for (i = 2; i + 1 <= NF; i += 2) if ($(i + 1) ~ /^[0-9.]+$/) {
              if (!($i in s)) order[++n] = $i
              s[$i] += $(i + 1) * $1
          }
          t += $1 }
        END { if (t == 0) exit
              for (i = 1; i <= n; i++) if (order[i] != "total") printf "%s %.3f ", order[i], s[order[i]] / t
              printf "total %.3f", s["total"] / t }')
    # The stack's CPU per request over them all, ms ("?" when a run has none).
    M[$key.cpu_total]=$(for k in ${OBS_GROUP[$g]:-}; do echo "${M[$k.total]:-0} ${M[$k.cpu_total]:-?}"; done | awk '
        $2 !~ /^[0-9.]+$/ { bad = 1 } { c += $1 * $2; t += $1 }
        END { if (bad || t == 0) print "?"; else printf "%.5f", c / t }')
}

observe_section() {
    local r k v side half order url n=0 on_url off_url DURATION=${OBS_SECONDS}s
    say "observe: form load with metrics and tracing on and off, side by side, 2 x $OBS_ROUNDS rounds of ${OBS_SECONDS}s"
    OBS_NODE=$CB_STATE/observe-node
    for v in OBS_P_HTTP OBS_P_HTTPS OBS_P_WS OBS_P_OPS; do free_port "$v" 10000 10000 || die "no free port"; done
    obs_node 0 start || { tail -n 20 "$WORK/observe-node.log" >&2; die "the observe node did not start"; }
    OBS_NODE_URL=http://127.0.0.1:$OBS_P_HTTP
    for half in 1 2; do
        if [ "$half" = 1 ]; then
            on_url=$CB_HTTP_URL off_url=$OBS_NODE_URL
        else
            # The sides swap: the bench edge off, the node on.
            CB_TRACE=off CB_METRICS_DIR= "$REPO/scripts/stack.sh" restart-edge >>"$WORK/observe-restart.log" 2>&1 \
                || die "stack.sh restart-edge failed (see $WORK/observe-restart.log)"
            obs_node 1 restart-edge || die "the observe node's restart-edge failed (see $WORK/observe-node.log)"
            on_url=$OBS_NODE_URL off_url=$CB_HTTP_URL
        fi
        obs_ready "$on_url" 1
        obs_ready "$off_url" 0
        for r in $(seq 1 "$OBS_ROUNDS"); do
            n=$((n + 1))
            # on, off, off, on, ...: a drift of the machine's load falls on both sides.
            if [ $((n % 2)) = 1 ]; then order="on off"; else order="off on"; fi
            for side in $order; do
                k=obs_${side}$n
                if [ "$side" = on ]; then url=$on_url; else url=$off_url; fi
                wrk_run "$k" "form load, $([ "$side" = on ] && echo 'metrics+tracing on' || echo 'both off') #$n" \
                    -H "Authorization: Bearer $TOKEN" "$url/api/v1/forms/$FORM"
                OBS_GROUP[$side$half]="${OBS_GROUP[$side$half]:-} $k"
                [ -n "$(wrk_note "$k")" ] && M[obs.note]="${M[obs.note]:+${M[obs.note]}, }$k: $(wrk_note "$k")"
            done
        done
    done
    observe_stop
    for v in on1 off1 on2 off2; do obs_group "$v"; done
    "$REPO/scripts/stack.sh" restart-edge >>"$WORK/observe-restart.log" 2>&1 || die "stack.sh restart-edge failed"
    obs_ready "$CB_HTTP_URL" 1
    local t_on1=${M[obs_on1.total]} t_off1=${M[obs_off1.total]} t_on2=${M[obs_on2.total]} t_off2=${M[obs_off2.total]}
    # The two edges differ by themselves (3 to 10 % on this load; for one,
    # the node reaches Redis over TCP, the bench stack over its socket), a factor
    # that multiplies one half's on/off ratio and divides the other's: the
    # figure is their geometric mean, in which it cancels.
    M[obs.ratio1]=$(awk -v a="$t_on1" -v b="$t_off1" 'BEGIN { if (b > 0) printf "%.3f", a / b; else print 0 }')
    M[obs.ratio2]=$(awk -v a="$t_on2" -v b="$t_off2" 'BEGIN { if (b > 0) printf "%.3f", a / b; else print 0 }')
    M[obs.ratio]=$(awk -v a="${M[obs.ratio1]}" -v b="${M[obs.ratio2]}" 'BEGIN { printf "%.4f", sqrt(a * b) }')
    M[obs_off.rps]=$(awk -v t="$((t_off1 + t_off2))" -v d="$OBS_SECONDS" -v r="$n" 'BEGIN { printf "%.0f", t / (r * d) }')
    M[obs_on.rps]=$(awk -v o="${M[obs_off.rps]}" -v q="${M[obs.ratio]}" 'BEGIN { printf "%.0f", o * q }')
    M[obs.overhead]=$(awk -v q="${M[obs.ratio]}" 'BEGIN { if (q > 0) printf "%.1f", 100 * (1 - q); else print "?" }')
    # The cross-check a loaded machine skews less: CPU per request, each
    # side's over both halves, and on's over off's as the same geometric mean.
    read -r "M[obs_on.cpu]" "M[obs_off.cpu]" "M[obs.cpu_overhead]" < <(awk \
        -v c1="${M[obs_on1.cpu_total]}" -v d1="${M[obs_off1.cpu_total]}" -v t1="$t_on1" -v u1="$t_off1" \
        -v c2="${M[obs_on2.cpu_total]}" -v d2="${M[obs_off2.cpu_total]}" -v t2="$t_on2" -v u2="$t_off2" 'BEGIN {
            if (c1 !~ /^[0-9.]+$/ || c2 !~ /^[0-9.]+$/ || d1 !~ /^[0-9.]+$/ || d2 !~ /^[0-9.]+$/ ||
                d1 == 0 || d2 == 0 || t1 + t2 == 0 || u1 + u2 == 0) { print "? ? ?"; exit }
            printf "%.4f %.4f %.1f\n", (c1 * t1 + c2 * t2) / (t1 + t2), (d1 * u1 + d2 * u2) / (u1 + u2),
                100 * (sqrt(c1 / d1 * c2 / d2) - 1) }')
    say "observe: on ${M[obs_on.rps]} req/s, off ${M[obs_off.rps]} req/s: overhead ${M[obs.overhead]} %;" \
        "CPU per request on ${M[obs_on.cpu]} ms, off ${M[obs_off.cpu]} ms: ${M[obs.cpu_overhead]} %"
}

observe_report() {
    cat <<REPORT
$(printf '%-34s %9s %12s %12s %10s %8s %7s' run 'req/s' p50 p99 requests non-2xx errors)
$(for k in on1 off1 off2 on2; do wrk_line "obs_$k"; done)
metrics and tracing: the form load with both on ("on": CB_METRICS_DIR, CB_TRACE=on: nginx's trace maps and
headers, the responder's trace and its log field, the metrics counters) against both off ("off"), on two edges
side by side (the bench stack's and a second node's), 2 x $OBS_ROUNDS rounds of ${OBS_SECONDS}s each in
alternating order, the edges' roles swapped between the halves (a row: its runs together; p50 the
median of theirs, p99 the largest):
  on/off requests: ${M[obs.ratio1]} with the bench edge on, ${M[obs.ratio2]} with the node on; their geometric
  mean ${M[obs.ratio]} (the edges' own difference cancels): overhead ${M[obs.overhead]} % (target < 3 %)
  throughput  off ${M[obs_off.rps]} req/s (both edges), on ${M[obs_on.rps]} req/s (off times that mean)
  CPU of the stack per request  on ${M[obs_on.cpu]} ms, off ${M[obs_off.cpu]} ms; on over off, the two
  halves' geometric mean: ${M[obs.cpu_overhead]} %
(the throughput of one run moves with whatever else the machine runs; the CPU per request much less)
CPU per request by process, ms (each row's runs together):
$(for k in on1 off1 off2 on2; do printf '  %-28s %s\n' "${M[obs_$k.label]}" "${M[obs_$k.cpu]:-?}"; done)

REPORT
}

observe_rows() {
    at_least "form load, metrics+tracing on" "${M[obs_on.rps]:-}" "the same, both off" "${M[obs_off.rps]:-}" \
        0.97 "${M[obs.note]:-}"
}
