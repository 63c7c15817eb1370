#!/usr/bin/env bash
# scripts/restore.sh: restore the development stack's Postgres cluster from
# its pgBackRest repository, to a point in time or to the end of the
# archive, and measure the recovery time (RTO).
#
#   scripts/restore.sh [--target-time TIME | --latest] [--set LABEL]
#
#   --target-time TIME  recover up to TIME ('2026-12-01 10:42:07.123456+00'):
#                       every transaction committed by then, none after
#   --latest            every transaction in the archive (the default)
#   --set LABEL         start from this backup (default: the newest one
#                       that can reach the target)
#
# Steps: stop Postgres (scripts/stack.sh stop-postgres); restore the data
# directory with `pgbackrest restore --delta` (only the files that differ
# are copied; a deleted directory is made again); start Postgres, which
# replays the archived WAL up to the target and promotes itself
# (stack.sh start-postgres waits for that); wait until GET /api/health
# answers 200.  Prints one JSON object: the target, the seconds of each
# step, and rto_s, from the start of the restore to the first 200.  The
# other services keep running and reconnect on their own.
#
# Run as root, with the stack's environment (CB_STATE, default var/dev:
# its stack.env is read for CB_BACKUP_CONF, CB_BACKUP_STANZA and
# CB_HTTP_URL).  Production: docs/runbook.md, "Restore".
set -euo pipefail
PROG=restore.sh
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
PGBACKREST=${PGBACKREST:-/usr/bin/pgbackrest}
die() { printf '%s: error: %s\n' "$PROG" "$1" >&2; exit "${2:-1}"; }
usage() { sed -n '2,27s/^# \{0,1\}//p' "$0" >&2; exit 2; }
now_ms() { echo $(($(date +%s%N) / 1000000)); }

target='' set=''
while (($#)); do
	case $1 in
	--target-time)
		(($# >= 2)) || usage
		target=$2
		shift 2 ;;
	--latest) target=; shift ;;
	--set)
		(($# >= 2)) || usage
		set=$2
		shift 2 ;;
	-h | --help | help) usage ;;
	*) usage ;;
	esac
done
[ -z "$target" ] || [[ $target =~ ^[0-9]{4}-[0-9]{2}-[0-9]{2}[\ T][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,6})?([+-][0-9]{2}(:?[0-9]{2})?|Z)?$ ]] ||
	die "--target-time must look like '2026-12-01 10:42:07.123456+00', not '$target'" 2
[ -z "$set" ] || [[ $set =~ ^[0-9]{8}-[0-9]{6}F(_[0-9]{8}-[0-9]{6}[DI])?$ ]] ||
	die "--set must be a backup label such as 20261201-104207F, not '$set'" 2
[ "$(id -u)" -eq 0 ] || die "run as root (Postgres is stopped and started through scripts/stack.sh)"

export CB_STATE=${CB_STATE:-$REPO/var/dev}
if [ -z "${CB_BACKUP_CONF:-}" ] || [ -z "${CB_HTTP_URL:-}" ]; then
	[ -r "$CB_STATE/stack.env" ] || die "no stack environment in $CB_STATE/stack.env (set CB_STATE)"
	# shellcheck disable=SC1091
	source "$CB_STATE/stack.env"
fi
CONF=${CB_BACKUP_CONF:?}
STANZA=${CB_BACKUP_STANZA:-cbroker}
[ -r "$CONF" ] || die "cannot read $CONF (CB_BACKUP_CONF)"
conf_get() { awk -F= -v k="$1" '$1 == k { sub(/^[^=]*=/, ""); print; exit }' "$CONF"; }
pgdata=$(conf_get pg1-path)
[ -n "$pgdata" ] || die "$CONF names no pg1-path"
owner=$(stat -c %U "$(dirname "$pgdata")")
[ "$owner" != root ] || die "the parent of $pgdata belongs to root: whose cluster is it?"

opts=(--delta)
if [ -n "$target" ]; then
	opts+=(--type=time "--target=$target" --target-action=promote)
fi
[ -z "$set" ] || opts+=("--set=$set")

t0=$(now_ms)
"$REPO/scripts/stack.sh" stop-postgres >&2 || die "stopping Postgres failed"
t_stopped=$(now_ms)
# A cluster lost with its directory: make the directory again (0700, its owner's).
install -d -o "$owner" -g "$owner" -m 0700 "$pgdata"
setpriv --reuid="$owner" --regid="$owner" --init-groups -- \
	env -C / "$PGBACKREST" --config="$CONF" --stanza="$STANZA" restore "${opts[@]}" >&2 ||
	die "pgbackrest restore failed (log: $(conf_get log-path))"
t_restored=$(now_ms)
"$REPO/scripts/stack.sh" start-postgres >&2 || die "starting the restored cluster failed"
t_promoted=$(now_ms)
for ((i = 0; ; i++)); do
	code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$CB_HTTP_URL/api/health") || code=000
	[ "$code" = 200 ] && break
	((i < 1200)) || die "GET /api/health did not answer 200 within 120 s after the restore (last: $code)"
	sleep 0.1
done
t_healthy=$(now_ms)
timeline=$(setpriv --reuid="$owner" --regid="$owner" --init-groups -- \
	env -C / /usr/lib/postgresql/15/bin/pg_controldata "$pgdata" 2>/dev/null |
	awk -F: '/Latest checkpoint.s TimeLineID/ { gsub(/ /, "", $2); print $2 }') || timeline=
printf '{"target":"%s","set":"%s","stop_s":%s,"restore_s":%s,"recovery_s":%s,"health_s":%s,"rto_s":%s,"timeline":%s}\n' \
	"${target:-latest}" "${set:-newest}" \
	"$(awk -v a="$t0" -v b="$t_stopped" 'BEGIN { printf "%.2f", (b - a) / 1000 }')" \
	"$(awk -v a="$t_stopped" -v b="$t_restored" 'BEGIN { printf "%.2f", (b - a) / 1000 }')" \
	"$(awk -v a="$t_restored" -v b="$t_promoted" 'BEGIN { printf "%.2f", (b - a) / 1000 }')" \
	"$(awk -v a="$t_promoted" -v b="$t_healthy" 'BEGIN { printf "%.2f", (b - a) / 1000 }')" \
	"$(awk -v a="$t0" -v b="$t_healthy" 'BEGIN { printf "%.2f", (b - a) / 1000 }')" \
	"${timeline:-null}"
