#!/usr/bin/env bash
# Proves a point-in-time restore from a pgBackRest repository on a local path, with the real tools:
# `pgbackrest restore --type=time --target=T` into a scratch data folder, PostgreSQL 15 started on a free loopback
# port (as `postgres` when root, else as the calling user) with archiving off, wait until recovery has finished and
# the server is promoted, run one query, print its rows (psql unaligned, `|` between columns), stop, remove the
# scratch folder.
# Usage: scripts/pg-restore-check.sh --repo PATH --stanza NAME --target 'YYYY-MM-DD HH:MM:SS+00' --sql 'SELECT …'
#        (--target left out: recover to the end of the archive)
# Exit 0 with the rows on stdout; exit 1 with one line on stderr when the restore, the recovery or the query fails.
set -euo pipefail
cd "$(dirname "$0")/.."

PG_BIN="${DRTEST_PG_BIN:-/usr/lib/postgresql/15/bin}"
repo="" stanza="" target="" query=""
while [ $# -gt 0 ]; do
    case "$1" in
        --repo) repo="$2" ;;
        --stanza) stanza="$2" ;;
        --target) target="$2" ;;
        --sql) query="$2" ;;
        *)
            echo "usage: $0 --repo PATH --stanza NAME [--target TIME] --sql SQL" >&2
            exit 2
            ;;
    esac
    shift 2
done
if [ -z "$repo" ] || [ -z "$stanza" ] || [ -z "$query" ]; then
    echo "usage: $0 --repo PATH --stanza NAME [--target TIME] --sql SQL" >&2
    exit 2
fi

if [ "$(id -u)" -eq 0 ]; then
    OS_USER="${DRTEST_PG_OS_USER:-postgres}"
    as_pg() { runuser -u "$OS_USER" -- "$@"; }
else
    OS_USER="$(id -un)"
    as_pg() { "$@"; }
fi

fail() {
    echo "pg-restore-check: $*" >&2
    exit 1
}

[ -x "$PG_BIN/pg_ctl" ] || fail "PostgreSQL 15 is not installed ($PG_BIN/pg_ctl missing)"
[ -d "$repo" ] || fail "repository folder $repo does not exist"
repo="$(cd "$repo" && pwd -P)"
as_pg test -r "$repo/backup/$stanza/backup.info" ||
    fail "$repo/backup/$stanza/backup.info is missing or not readable by user $OS_USER"

scratch="$(mktemp -d "${TMPDIR:-/tmp}/dr-audit-pitr.XXXXXX")"
data="$scratch/data"
cleanup() {
    if [ -f "$data/postmaster.pid" ]; then
        as_pg "$PG_BIN/pg_ctl" -D "$data" -m immediate -w -t 30 stop > /dev/null 2>&1 || true
    fi
    rm -rf "$scratch"
}
trap cleanup EXIT
mkdir -p "$scratch"/{run,log,lock}
[ "$OS_USER" = "$(id -un)" ] || chown -R "$OS_USER:" "$scratch"
chmod 700 "$scratch"

port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
cat > "$scratch/pgbackrest.conf" << CONF
[global]
repo1-path=$repo
log-path=$scratch/log
lock-path=$scratch/lock
log-level-console=warn
log-level-file=info

[$stanza]
pg1-path=$data
pg1-port=$port
pg1-socket-path=$scratch/run
CONF
[ "$OS_USER" = "$(id -un)" ] || chown "$OS_USER:" "$scratch/pgbackrest.conf"

# The restored postgresql.conf archives to the original repositories: archiving stays off in the copy.
restore=(pgbackrest --config="$scratch/pgbackrest.conf" --stanza="$stanza" --archive-mode=off)
if [ -n "$target" ]; then
    restore+=(--type=time --target="$target" --target-action=promote)
fi
if ! as_pg "${restore[@]}" restore > "$scratch/restore.out" 2>&1; then
    fail "pgbackrest restore failed: $(grep -v '^\s*$' "$scratch/restore.out" | tail -n 1 | cut -c1-300)"
fi

# The server log's last FATAL or PANIC message, without its time and process prefix.
log_error() {
    grep -E 'FATAL|PANIC' "$scratch/postgresql.log" | tail -n 1 | sed -E 's/^.*(FATAL|PANIC): +/\1: /' | cut -c1-300
}

options="-c port=$port -c listen_addresses=127.0.0.1 -c unix_socket_directories=$scratch/run -c archive_mode=off"
if ! as_pg "$PG_BIN/pg_ctl" -D "$data" -l "$scratch/postgresql.log" -o "$options" -w -t 120 start > /dev/null 2>&1; then
    fail "PostgreSQL did not start on the restored data: $(log_error)"
fi

psql_q() { as_pg "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -At -h "$scratch/run" -p "$port" -U postgres -d postgres -c "$1"; }

# Recovery is over when the server has been promoted (target reached) or replayed the whole archive.
end=$((SECONDS + 120))
while :; do
    if ! as_pg "$PG_BIN/pg_ctl" -D "$data" status > /dev/null 2>&1; then
        fail "recovery failed: $(log_error)"
    fi
    [ "$(psql_q 'select pg_is_in_recovery()' 2> /dev/null || true)" = "f" ] && break
    [ $SECONDS -lt $end ] || fail "recovery did not finish within 120 s (log: $(tail -n 1 "$scratch/postgresql.log" | cut -c1-300))"
    sleep 0.2
done

if ! psql_q "$query" > "$scratch/query.out" 2> "$scratch/query.err"; then
    fail "query failed on the restored server: $(grep -m 1 -E 'ERROR|FATAL' "$scratch/query.err" | cut -c1-300)"
fi
as_pg "$PG_BIN/pg_ctl" -D "$data" -m fast -w -t 60 stop > /dev/null 2>&1 || true
cat "$scratch/query.out"
