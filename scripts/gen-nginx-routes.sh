#!/usr/bin/env bash
# Generate nginx location blocks from the route table.
#
#   gen-nginx-routes.sh ROUTES_TAB RUN_DIR     location blocks on stdout
#   gen-nginx-routes.sh --binaries ROUTES_TAB  "binary procs" lines (max procs
#                                              over the binary's routes)
#   gen-nginx-routes.sh --check ROUTES_TAB     validate only
#
# Route table: one route per line, whitespace separated; '#' starts a comment.
#   method  path                            binary  procs  body_max
#   GET     /api/health                     health  2      0
#   POST    /api/v1/forms/{form_id}/submit  submit  4      65536
#
# Paths without {name} become exact locations (location = /path); paths with
# {name} segments become anchored regex locations, each {name} -> [^/]+.
# Exact locations come first, then regex locations, longest path first.
# All lines of one path share one location: the first binary listed for the
# path is the default fastcgi_pass, other binaries get an
# `if ($request_method = M)` override. client_max_body_size is the largest
# body_max of the path's lines (0 -> 1 byte, since nginx reads 0 as no limit);
# a responder that serves a smaller limit for one method enforces it itself.
# The generated blocks include `fastcgi.conf` relative to nginx.conf's
# directory (scripts/stack.sh copies nginx/fastcgi.conf there).
set -euo pipefail

usage() {
    cat >&2 <<'EOF'
usage: gen-nginx-routes.sh ROUTES_TAB RUN_DIR
       gen-nginx-routes.sh --binaries ROUTES_TAB
       gen-nginx-routes.sh --check ROUTES_TAB
EOF
    exit 2
}

mode=locations
case "${1:-}" in
    --binaries) mode=binaries; [ $# -eq 2 ] || usage; tab=$2; run_dir=/nonexistent ;;
    --check)    mode=check;    [ $# -eq 2 ] || usage; tab=$2; run_dir=/nonexistent ;;
    -h|--help|"") usage ;;
    -*) usage ;;
    *) [ $# -eq 2 ] || usage; tab=$1; run_dir=$2 ;;
esac

[ -r "$tab" ] || { echo "gen-nginx-routes: cannot read route table $tab" >&2; exit 1; }
case "$run_dir" in
    /*) ;;
    *) echo "gen-nginx-routes: RUN_DIR must be an absolute path: $run_dir" >&2; exit 1 ;;
esac
case "$run_dir" in
    *[!A-Za-z0-9._/+-]*)
        echo "gen-nginx-routes: RUN_DIR has characters unsafe in nginx config: $run_dir" >&2
        exit 1 ;;
esac
run_dir=${run_dir%/}

# POSIX awk (Debian's default is mawk): no gensub/asort.
exec awk -v mode="$mode" -v run_dir="$run_dir" -v tab="$tab" '
function fail(msg) {
    printf "gen-nginx-routes: %s:%d: %s\n", tab, NR, msg > "/dev/stderr"
    errors++
}
# Validate the path; return its nginx regex, or "" when it has no parameters.
function path_regex(path,    n, segs, i, out, seg, has_param) {
    rx_bad = 0
    n = split(path, segs, "/")
    out = "^"
    has_param = 0
    for (i = 2; i <= n; i++) {
        seg = segs[i]
        if (seg ~ /^\{[A-Za-z_][A-Za-z0-9_]*\}$/) {
            out = out "/[^/]+"
            has_param = 1
        } else if (seg ~ /[{}]/) {
            fail("path segment \"" seg "\" must be a whole {name} parameter or contain no braces")
            rx_bad = 1
            return ""
        } else {
            gsub(/\./, "\\.", seg)
            out = out "/" seg
        }
    }
    return has_param ? out "$" : ""
}
BEGIN {
    valid_methods = " GET HEAD POST PUT PATCH DELETE OPTIONS "
    errors = 0; npaths = 0; nbins = 0
}
{
    line = $0
    sub(/#.*/, "", line)
    nf = split(line, f, /[ \t]+/)
    # split() on a leading separator yields an empty first field
    if (nf > 0 && f[1] == "") {
        for (i = 1; i < nf; i++) f[i] = f[i + 1]
        delete f[nf]; nf--
    }
    if (nf > 0 && f[nf] == "") { delete f[nf]; nf-- }
    if (nf == 0) next
    if (nf != 5) { fail("expected 5 columns (method path binary procs body_max), found " nf); next }
    method = f[1]; path = f[2]; bin = f[3]; procs = f[4]; body = f[5]
    bad = 0
    if (index(valid_methods, " " method " ") == 0) { fail("unknown method \"" method "\""); bad = 1 }
    if (substr(path, 1, 1) != "/") { fail("path \"" path "\" does not start with /"); bad = 1 }
    else if (path !~ /^[A-Za-z0-9._~\/{}-]+$/) { fail("path \"" path "\" has characters outside [A-Za-z0-9._~/{}-]"); bad = 1 }
    else if (path ~ /\/\// || (path ~ /\/$/ && path != "/")) { fail("path \"" path "\" has an empty segment or a trailing /"); bad = 1 }
    if (bin !~ /^[A-Za-z0-9_][A-Za-z0-9_.-]*$/) { fail("binary \"" bin "\" is not a plain file name"); bad = 1 }
    if (procs !~ /^[0-9]+$/) { fail("procs \"" procs "\" is not a number"); bad = 1 }
    else if (procs + 0 < 1) { fail("procs must be at least 1"); bad = 1 }
    if (body !~ /^[0-9]+$/) { fail("body_max \"" body "\" is not a number"); bad = 1 }
    if (bad) next
    rx = path_regex(path)
    if (rx_bad) next

    if (!(path in pidx)) {
        npaths++
        pidx[path] = npaths
        plist[npaths] = path
        pregex[npaths] = rx
        pbody[npaths] = body + 0
        pbin1[npaths] = bin
        pmeth[npaths] = ""
        pnm[npaths] = 0
        if (rx != "") {
            if (rx in rx_owner) {
                fail("path \"" path "\" matches the same URLs as \"" rx_owner[rx] "\" (line " rx_line[rx] ")")
                next
            }
            rx_owner[rx] = path; rx_line[rx] = NR
        }
    }
    p = pidx[path]
    if ((p, method) in seen) { fail("duplicate route " method " " path " (first on line " seen[p, method] ")"); next }
    seen[p, method] = NR
    pnm[p]++
    pm[p, pnm[p]] = method
    pmb[p, pnm[p]] = bin
    if (body + 0 > pbody[p]) pbody[p] = body + 0

    if (!(bin in bprocs)) { nbins++; blist[nbins] = bin; bprocs[bin] = procs + 0 }
    else if (procs + 0 > bprocs[bin]) bprocs[bin] = procs + 0
}
function allow_list(p,    i, s, has_get, has_head) {
    s = ""; has_get = 0; has_head = 0
    for (i = 1; i <= pnm[p]; i++) {
        if (pm[p, i] == "GET") has_get = 1
        if (pm[p, i] == "HEAD") has_head = 1
    }
    for (i = 1; i <= pnm[p]; i++) {
        if (pm[p, i] == "HEAD" && has_get) continue    # placed right after GET
        s = s (s == "" ? "" : ", ") pm[p, i]
        if (pm[p, i] == "GET") s = s ", HEAD"
    }
    return s
}
function emit(p,    i, body, m) {
    if (pregex[p] == "") printf "location = %s {\n", plist[p]
    else                 printf "location ~ %s {\n", pregex[p]
    body = pbody[p] == 0 ? 1 : pbody[p]
    printf "    include fastcgi.conf;\n"
    printf "    fastcgi_param CB_ROUTE \"%s\";\n", plist[p]
    printf "    fastcgi_param CB_ALLOW \"%s\";\n", allow_list(p)
    printf "    client_max_body_size %d;\n", body
    printf "    fastcgi_request_buffering on;\n"
    printf "    fastcgi_read_timeout 30s;\n"
    printf "    fastcgi_keep_conn off;\n"
    printf "    fastcgi_pass unix:%s/%s.sock;\n", run_dir, pbin1[p]
    for (i = 1; i <= pnm[p]; i++) {
        if (pmb[p, i] == pbin1[p]) continue
        m = pm[p, i]
        printf "    if ($request_method = %s) { fastcgi_pass unix:%s/%s.sock; }\n", m, run_dir, pmb[p, i]
        # HEAD follows GET to the same binary
        if (m == "GET" && !((p, "HEAD") in seen))
            printf "    if ($request_method = HEAD) { fastcgi_pass unix:%s/%s.sock; }\n", run_dir, pmb[p, i]
    }
    printf "}\n"
}
END {
    if (errors) {
        printf "gen-nginx-routes: %s: %d error(s)\n", tab, errors > "/dev/stderr"
        exit 1
    }
    if (npaths == 0) {
        printf "gen-nginx-routes: %s: no routes\n", tab > "/dev/stderr"
        exit 1
    }
    if (mode == "check") exit 0
    if (mode == "binaries") {
        for (i = 1; i <= nbins; i++) printf "%s %d\n", blist[i], bprocs[blist[i]]
        exit 0
    }
    printf "# generated by scripts/gen-nginx-routes.sh from %s: do not edit\n", tab
    printf "# exact locations\n"
    for (p = 1; p <= npaths; p++) if (pregex[p] == "") emit(p)
    # regex locations, longest path first (stable insertion sort)
    n = 0
    for (p = 1; p <= npaths; p++) if (pregex[p] != "") order[++n] = p
    for (i = 2; i <= n; i++) {
        v = order[i]; j = i - 1
        while (j >= 1 && length(plist[order[j]]) < length(plist[v])) { order[j + 1] = order[j]; j-- }
        order[j + 1] = v
    }
    printf "# regex locations, longest path first\n"
    for (i = 1; i <= n; i++) emit(order[i])
}
' "$tab"
