#!/usr/bin/env bash
# scripts/backup.sh: one pgBackRest backup of the broker's Postgres cluster,
# full or incremental; `cb-admin backup` runs it.  Prints one JSON object:
# the backup's label, type, database size, size added to the repository,
# duration, and the WAL range it needs.
#
#   scripts/backup.sh [--type full|incr|diff]     (default incr: pgBackRest
#                                                  makes a full one when none
#                                                  exists yet)
#
# Configuration, by environment variable (stack.env sets both for the
# development stack; production names them in broker.env):
#   CB_BACKUP_CONF    pgBackRest's configuration file  [/etc/pgbackrest/pgbackrest.conf]
#   CB_BACKUP_STANZA  the stanza of the cluster         [cbroker]
#
# Run as root it runs pgBackRest as the owner of the cluster's data
# directory (pg1-path), as it must be; run as that user, directly.  The
# stanza is made by the first backup (`stanza-create`), not by the stack's
# start: until then the cluster's archive_command keeps nothing, so a stack
# that is never backed up pays nothing for archiving (scripts/stack.sh).
set -euo pipefail
PROG=backup.sh
PGBACKREST=${PGBACKREST:-/usr/bin/pgbackrest}
CONF=${CB_BACKUP_CONF:-/etc/pgbackrest/pgbackrest.conf}
STANZA=${CB_BACKUP_STANZA:-cbroker}
die() { printf '%s: error: %s\n' "$PROG" "$1" >&2; exit "${2:-1}"; }
usage() { sed -n '2,21s/^# \{0,1\}//p' "$0" >&2; exit 2; }

type=incr
while (($#)); do
	case $1 in
	--type)
		(($# >= 2)) || usage
		type=$2
		shift 2 ;;
	--type=*) type=${1#--type=}; shift ;;
	-h | --help | help) usage ;;
	*) usage ;;
	esac
done
case $type in full | incr | diff) ;; *) die "--type must be full, incr or diff, not '$type'" 2 ;; esac
[[ $STANZA =~ ^[A-Za-z0-9_-]+$ ]] || die "CB_BACKUP_STANZA must be a plain name, not '$STANZA'" 2
[ -x "$PGBACKREST" ] || die "$PGBACKREST not installed (scripts/install-deps.sh)"
[ -r "$CONF" ] || die "cannot read $CONF (CB_BACKUP_CONF)"

# One key of the configuration (the first section that has it).
conf_get() { awk -F= -v k="$1" '$1 == k { sub(/^[^=]*=/, ""); print; exit }' "$CONF"; }
pgdata=$(conf_get pg1-path)
repo=$(conf_get repo1-path)
{ [ -n "$pgdata" ] && [ -d "$pgdata" ]; } || die "pg1-path of $CONF is not a directory: '$pgdata'"
[ -n "$repo" ] || die "$CONF names no repo1-path"

# pgBackRest as the cluster's owner.
owner=$(stat -c %U "$pgdata")
br() {
	if [ "$(id -u)" -eq 0 ] && [ "$owner" != root ]; then
		setpriv --reuid="$owner" --regid="$owner" --init-groups -- \
			env -C / "$PGBACKREST" --config="$CONF" --stanza="$STANZA" "$@"
	else
		"$PGBACKREST" --config="$CONF" --stanza="$STANZA" "$@"
	fi
}

created=false
if [ ! -e "$repo/archive/$STANZA/archive.info" ]; then
	br stanza-create >&2 || die "stanza-create failed (log: $(conf_get log-path))"
	created=true
fi
t0=$(date +%s%N)
br backup --type="$type" >&2 || die "backup failed (log: $(conf_get log-path))"
t1=$(date +%s%N)
info=$(br info --output=json) || die "info failed"
# The newest backup of the stanza, as one JSON line.
INFO=$info CREATED=$created MS=$(((t1 - t0) / 1000000)) python3 - <<'EOF'
import json, os
stanza = json.loads(os.environ["INFO"])[0]
b = stanza["backup"][-1]
print(json.dumps({
    "label": b["label"],
    "type": b["type"],
    "prior": b.get("prior"),
    "database_bytes": b["info"]["size"],
    "backed_up_bytes": b["info"]["delta"],
    "repository_bytes": b["info"]["repository"]["delta"],
    "duration_s": round(int(os.environ["MS"]) / 1000, 2),
    "started": b["timestamp"]["start"],
    "stopped": b["timestamp"]["stop"],
    "wal_start": b["archive"]["start"],
    "wal_stop": b["archive"]["stop"],
    "stanza": stanza["name"],
    "stanza_created": os.environ["CREATED"] == "true",
    "backups": len(stanza["backup"]),
}))
EOF
