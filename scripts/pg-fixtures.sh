#!/usr/bin/env bash
# Real management backup repositories for the tests, written by the real tools on the test servers:
#   PostgreSQL 15 (Debian postgresql-15) archiving every WAL segment to
#     pgBackRest (stanza `apic`): repo1 a local path, repo2 S3 on the test SeaweedFS (https, test CA), and
#     barman-cloud (an EDB-era server name) in another bucket of the test SeaweedFS;
#   a history of writes, WAL switches, pgBackRest full + 2 incremental backups (each repo) and 2 barman-cloud backups;
#   marker rows around a point-in-time target T for a restore test;
#   the tools' own view (`pgbackrest info --output=json`, `barman-cloud-backup-list/-show --format json`).
# Files: .test-servers/pg/ (cluster, configs, logs, JSON views) and .test-servers/pgbackrest-repo/ (repo1); buckets
# drtest-pgbackrest (repo2) and drtest-barman. PostgreSQL is stopped at the end; .test-servers/env.pg tells the tests
# where everything is. Port 55432, or DRTEST_PG_PORT.
# Usage: scripts/pg-fixtures.sh start|stop
# Called by scripts/test-servers.sh after SeaweedFS is up; runs alone against running servers too (reads
# .test-servers/env.s3). Runs PostgreSQL as `postgres` when root, else as the calling user. Idempotent: `start`
# rebuilds everything from nothing. Any failing tool stops it with one line on stderr and exit 1, nothing left running.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p .test-servers
DIR="$(cd .test-servers && pwd -P)"
PG_BIN="${DRTEST_PG_BIN:-/usr/lib/postgresql/15/bin}"
PG_PORT="${DRTEST_PG_PORT:-55432}"
STANZA=apic
REPO2_BUCKET=drtest-pgbackrest
REPO2_PREFIX=apic/pgbackrest
BARMAN_BUCKET=drtest-barman
BARMAN_PREFIX=apic/edb
BARMAN_SERVER="management-0e88ecfa-db-2026-11-01T09:37:36Z"

if [ "$(id -u)" -eq 0 ]; then
    OS_USER="${DRTEST_PG_OS_USER:-postgres}"
    as_pg() { runuser -u "$OS_USER" -- "$@"; }
else
    OS_USER="$(id -un)"
    as_pg() { "$@"; }
fi

fail() {
    echo "pg-fixtures: $*" >&2
    exit 1
}

# The server's user must reach its data folder: in a checkout it cannot enter (e.g. under /root), everything goes to
# a folder of this checkout's own under /tmp instead.
ROOT="$DIR"
if ! as_pg test -x "$DIR"; then
    ROOT="/tmp/dr-audit-pg-fixtures-$(printf '%s' "$DIR" | md5sum | cut -c1-12)"
fi
PG="$ROOT/pg"
REPO1="$ROOT/pgbackrest-repo"
LOG="$PG/fixtures.log"

# run "what" command…: the command's output goes to the log; a failure names the step and its last message.
run() {
    local what="$1"
    shift
    echo "== $what" >> "$LOG"
    if ! "$@" >> "$LOG" 2>&1; then
        local last
        last=$(grep -v '^\s*$' "$LOG" | tail -n 1 | cut -c1-300)
        fail "$what failed: $last (log: $LOG)"
    fi
}

s3_value() { # key: a value from .test-servers/env.s3
    local v
    v=$(grep "^$1=" "$DIR/env.s3" 2>/dev/null | head -n 1 | cut -d= -f2-) || true
    [ -n "$v" ] || fail "$1 missing from $DIR/env.s3: start the test servers first (scripts/test-servers.sh start)"
    printf '%s' "$v"
}

psql_pg() { # sql: one value, unaligned
    as_pg "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -At -h "$PG/run" -p "$PG_PORT" -U postgres -d postgres -c "$1"
}

sql() { # what sql
    echo "== $1" >> "$LOG"
    local out
    if ! out=$(psql_pg "$2" 2>> "$LOG"); then
        fail "$1 failed: $(tail -n 1 "$LOG" | cut -c1-300) (log: $LOG)"
    fi
    printf '%s' "$out"
}

pg_running() { [ -f "$PG/data/postmaster.pid" ] && as_pg "$PG_BIN/pg_ctl" -D "$PG/data" status > /dev/null 2>&1; }

stop_pg() {
    if [ -d "$PG/data" ] && pg_running; then
        as_pg "$PG_BIN/pg_ctl" -D "$PG/data" -m fast -w -t 60 stop > /dev/null 2>&1 ||
            as_pg "$PG_BIN/pg_ctl" -D "$PG/data" -m immediate -w stop > /dev/null 2>&1 || true
    fi
}

# Creates the buckets, or empties them. SeaweedFS keeps the folders of deleted objects, which delimiter listings
# show as empty objects (pgBackRest then finds the stanza "not empty"): they are deleted too, deepest first. The
# buckets themselves stay: a bucket is a volume to SeaweedFS, and a re-created one may find no free volume left.
reset_buckets() {
    AWS_ACCESS_KEY_ID="$S3_KEY" AWS_SECRET_ACCESS_KEY="$S3_SECRET" /usr/bin/python3 - "$S3_HTTP" "$@" <<'PY'
import sys
import boto3
from botocore.exceptions import ClientError

s3 = boto3.client("s3", endpoint_url=sys.argv[1], region_name="us-east-1")


def clear(bucket, prefix):
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix, Delimiter="/"):
        for folder in page.get("CommonPrefixes", []):
            clear(bucket, folder["Prefix"])
            s3.delete_object(Bucket=bucket, Key=folder["Prefix"])
        keys = [{"Key": o["Key"]} for o in page.get("Contents", [])]
        if keys:
            s3.delete_objects(Bucket=bucket, Delete={"Objects": keys, "Quiet": True})


for bucket in sys.argv[2:]:
    try:
        s3.head_bucket(Bucket=bucket)
    except ClientError:
        s3.create_bucket(Bucket=bucket)
        continue
    clear(bucket, "")
    left = s3.list_objects_v2(Bucket=bucket, Delimiter="/")
    if left.get("Contents") or left.get("CommonPrefixes"):
        sys.exit(f"bucket {bucket} could not be emptied")
PY
}

# Waits until PostgreSQL reports `segment` (or a later one) archived; fails when archiving keeps failing.
wait_archived() { # segment
    local end=$((SECONDS + 90)) row
    while :; do
        row=$(sql "reading pg_stat_archiver" "select coalesce(last_archived_wal, ''), failed_count from pg_stat_archiver")
        if [[ "${row%%|*}" > "$1" || "${row%%|*}" == "$1" ]]; then return 0; fi
        if [ $SECONDS -ge $end ]; then
            fail "WAL archiving did not reach $1 within 90 s (last archived '${row%%|*}', ${row##*|} failures; see $PG/postgresql.log)"
        fi
        sleep 0.2
    done
}

# Writes rows, then closes the current WAL segment so it is archived; prints the closed segment's name.
write_and_switch() { # batch
    sql "writing rows" "insert into apic_events(batch, payload) select $1, md5(g::text) from generate_series(1, 2000) g" > /dev/null
    sql "switching WAL" "select pg_walfile_name(pg_switch_wal())"
}

pgbackrest_backup() { # repo type
    run "pgbackrest backup --repo=$1 --type=$2" as_pg pgbackrest --config="$PG/pgbackrest.conf" --stanza="$STANZA" \
        --repo="$1" --type="$2" backup
}

barman() { # command args…: a barman-cloud command with the test credentials
    local cmd="$1"
    shift
    as_pg env AWS_SHARED_CREDENTIALS_FILE="$PG/aws/credentials" AWS_CONFIG_FILE="$PG/aws/config" \
        "$cmd" --endpoint-url "$S3_HTTP" "$@"
}

on_failure() {
    if [ -d "$PG/data" ] && pg_running; then
        as_pg "$PG_BIN/pg_ctl" -D "$PG/data" -m immediate -w -t 30 stop > /dev/null 2>&1 || true
    fi
    rm -f "$DIR/env.pg"
    if [ -f "$DIR/env.s3" ]; then cat "$DIR"/env.* > "$DIR/env"; fi
}

start() {
    [ -x "$PG_BIN/initdb" ] || fail "PostgreSQL 15 is not installed ($PG_BIN/initdb missing): apt-get install postgresql-15"
    command -v pgbackrest > /dev/null || fail "pgbackrest is not installed: apt-get install pgbackrest"
    command -v barman-cloud-backup > /dev/null || fail "barman-cloud is not installed: apt-get install barman-cli-cloud"
    id "$OS_USER" > /dev/null 2>&1 || fail "user $OS_USER does not exist (postgresql-15 creates it)"
    S3_HTTP=$(s3_value DRTEST_S3_ENDPOINT)
    S3_HTTPS=$(s3_value DRTEST_S3_HTTPS_ENDPOINT)
    S3_KEY=$(s3_value DRTEST_S3_ACCESS_KEY)
    S3_SECRET=$(s3_value DRTEST_S3_SECRET_KEY)
    local ca
    ca=$(s3_value DRTEST_S3_CA)
    local https_host="${S3_HTTPS#https://}"
    https_host="${https_host%%/*}"

    # pgBackRest 2.45 checks only DNS names in the certificate (not its IP address entry) and connects to the first
    # address of a name: `localhost` (a DNS name of the test certificate) when it resolves to 127.0.0.1 first,
    # else the address itself without TLS verification.
    local s3_host=localhost verify_tls=y
    if [ "$(getent ahosts localhost | awk 'NR == 1 { print $1 }')" != "${https_host%:*}" ]; then
        s3_host="${https_host%:*}"
        verify_tls=n
    fi

    stop
    trap on_failure EXIT
    if (exec 3<> "/dev/tcp/127.0.0.1/$PG_PORT") 2> /dev/null; then
        fail "port $PG_PORT for PostgreSQL is already in use (another checkout's fixtures?); set DRTEST_PG_PORT"
    fi
    mkdir -p "$ROOT"
    chmod 755 "$ROOT"
    mkdir -p "$PG"/{run,log,lock,aws,barman-show} "$REPO1"
    : > "$LOG"
    cp "$ca" "$PG/s3-ca.crt"
    chmod 755 "$PG"
    chmod 700 "$PG/aws"
    # Credentials only in files the server's user alone can read (pgBackRest redacts them in its logs).
    printf '[default]\naws_access_key_id = %s\naws_secret_access_key = %s\n' "$S3_KEY" "$S3_SECRET" > "$PG/aws/credentials"
    printf '[default]\nregion = us-east-1\n' > "$PG/aws/config"
    cat > "$PG/pgbackrest.conf" << CONF
[global]
repo1-path=$REPO1
repo1-retention-full=4
repo2-type=s3
repo2-path=/$REPO2_PREFIX
repo2-s3-bucket=$REPO2_BUCKET
repo2-s3-endpoint=$s3_host
repo2-storage-port=${https_host##*:}
repo2-storage-verify-tls=$verify_tls
repo2-s3-region=us-east-1
repo2-s3-uri-style=path
repo2-storage-ca-file=$PG/s3-ca.crt
repo2-s3-key=$S3_KEY
repo2-s3-key-secret=$S3_SECRET
repo2-retention-full=4
start-fast=y
io-timeout=20
log-path=$PG/log
lock-path=$PG/lock
log-level-console=warn
log-level-file=info

[$STANZA]
pg1-path=$PG/data
pg1-port=$PG_PORT
pg1-socket-path=$PG/run
CONF
    chmod 600 "$PG/pgbackrest.conf" "$PG/aws/credentials"
    # archive_command: each WAL segment to both pgBackRest repositories, then to barman-cloud (pgbackrest check
    # wants `pgbackrest` in the archive_command itself).
    cat > "$PG/barman-wal-archive.sh" << SH
#!/bin/sh
AWS_SHARED_CREDENTIALS_FILE="$PG/aws/credentials" AWS_CONFIG_FILE="$PG/aws/config" \\
    exec barman-cloud-wal-archive --endpoint-url "$S3_HTTP" --gzip "s3://$BARMAN_BUCKET/$BARMAN_PREFIX" "$BARMAN_SERVER" "\$1"
SH
    chmod 755 "$PG/barman-wal-archive.sh"
    if [ "$OS_USER" != "$(id -un)" ]; then chown -R "$OS_USER:" "$PG" "$REPO1"; fi
    run "creating or emptying the S3 buckets $REPO2_BUCKET and $BARMAN_BUCKET" reset_buckets "$REPO2_BUCKET" "$BARMAN_BUCKET"

    run "initdb" as_pg "$PG_BIN/initdb" -D "$PG/data" -U postgres -A trust -E UTF8 --locale=C -k
    cat >> "$PG/data/postgresql.conf" << CONF

# dr-audit test fixtures
listen_addresses = '127.0.0.1'
port = $PG_PORT
unix_socket_directories = '$PG/run'
timezone = 'UTC'
log_timezone = 'UTC'
shared_buffers = 32MB
fsync = off
wal_level = replica
archive_mode = on
archive_command = 'pgbackrest --config=$PG/pgbackrest.conf --stanza=$STANZA archive-push %p && $PG/barman-wal-archive.sh %p'
CONF
    run "starting PostgreSQL" as_pg "$PG_BIN/pg_ctl" -D "$PG/data" -l "$PG/postgresql.log" -w -t 60 start
    run "pgbackrest stanza-create" as_pg pgbackrest --config="$PG/pgbackrest.conf" --stanza="$STANZA" stanza-create
    run "pgbackrest check (archiving to both repositories and barman-cloud)" \
        as_pg pgbackrest --config="$PG/pgbackrest.conf" --stanza="$STANZA" check

    # A history: writes and WAL switches between pgBackRest full/incr backups (each repository) and barman backups.
    sql "creating tables" "create table apic_events(id bigserial primary key, batch int not null, payload text not null,
        written_at timestamptz not null default clock_timestamp());
        create table dr_markers(name text primary key, written_at timestamptz not null)" > /dev/null
    write_and_switch 1 > /dev/null
    pgbackrest_backup 1 full
    pgbackrest_backup 2 full
    write_and_switch 2 > /dev/null
    write_and_switch 3 > /dev/null
    run "barman-cloud-backup (first)" barman barman-cloud-backup -h "$PG/run" -p "$PG_PORT" -U postgres \
        --immediate-checkpoint "s3://$BARMAN_BUCKET/$BARMAN_PREFIX" "$BARMAN_SERVER"
    write_and_switch 4 > /dev/null
    pgbackrest_backup 1 incr
    pgbackrest_backup 2 incr
    write_and_switch 5 > /dev/null
    write_and_switch 6 > /dev/null
    run "barman-cloud-backup (second)" barman barman-cloud-backup -h "$PG/run" -p "$PG_PORT" -U postgres \
        --immediate-checkpoint "s3://$BARMAN_BUCKET/$BARMAN_PREFIX" "$BARMAN_SERVER"
    write_and_switch 7 > /dev/null
    pgbackrest_backup 1 incr
    pgbackrest_backup 2 incr
    write_and_switch 8 > /dev/null

    # Marker rows around the point-in-time target T: 'before' ≥ 1 s before T, 'after' ≥ 2 s after it.
    local before_at target target_rfc target_epoch after_at last
    before_at=$(sql "writing the marker before T" "insert into dr_markers values ('before', clock_timestamp())
        returning to_char(written_at at time zone 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')")
    sleep 2.1
    target=$(sql "reading T" "select to_char(clock_timestamp() at time zone 'UTC', 'YYYY-MM-DD HH24:MI:SS') || '+00'")
    target_rfc="${target:0:10}T${target:11:8}Z"
    target_epoch=$(date -u -d "${target:0:19}" +%s)
    sleep 2.1
    after_at=$(sql "writing the marker after T" "insert into dr_markers values ('after', clock_timestamp())
        returning to_char(written_at at time zone 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')")
    last=$(write_and_switch 9)
    wait_archived "$last"

    # Stopped first: its shutdown may archive one more segment, which the tools' view must include.
    run "stopping PostgreSQL" as_pg "$PG_BIN/pg_ctl" -D "$PG/data" -m fast -w -t 60 stop

    # The tools' own view.
    local conf=(--config="$PG/pgbackrest.conf" --stanza="$STANZA")
    as_pg pgbackrest "${conf[@]}" --output=json info > "$PG/pgbackrest-info.json" 2>> "$LOG" ||
        fail "pgbackrest info failed (log: $LOG)"
    as_pg pgbackrest "${conf[@]}" --repo=1 --output=json info > "$PG/pgbackrest-info-repo1.json" 2>> "$LOG" ||
        fail "pgbackrest info --repo=1 failed (log: $LOG)"
    as_pg pgbackrest "${conf[@]}" --repo=2 --output=json info > "$PG/pgbackrest-info-repo2.json" 2>> "$LOG" ||
        fail "pgbackrest info --repo=2 failed (log: $LOG)"
    barman barman-cloud-backup-list --format json "s3://$BARMAN_BUCKET/$BARMAN_PREFIX" "$BARMAN_SERVER" \
        > "$PG/barman-backup-list.json" 2>> "$LOG" || fail "barman-cloud-backup-list failed (log: $LOG)"
    local ids id
    ids=$(/usr/bin/python3 -c 'import json,sys; print("\n".join(b["backup_id"] for b in json.load(sys.stdin)["backups_list"]))' \
        < "$PG/barman-backup-list.json") || fail "barman-cloud-backup-list wrote no JSON list ($PG/barman-backup-list.json)"
    for id in $ids; do
        barman barman-cloud-backup-show --format json "s3://$BARMAN_BUCKET/$BARMAN_PREFIX" "$BARMAN_SERVER" "$id" \
            > "$PG/barman-show/$id.json" 2>> "$LOG" || fail "barman-cloud-backup-show $id failed (log: $LOG)"
    done

    # The tests run as root and read everything; others may read the repositories too.
    chmod -R a+rX "$REPO1"
    {
        echo "DRTEST_PG_BIN=$PG_BIN"
        echo "DRTEST_PG_OS_USER=$OS_USER"
        echo "DRTEST_PG_DIR=$PG"
        echo "DRTEST_PG_STANZA=$STANZA"
        echo "DRTEST_PG_REPO1_PATH=$REPO1"
        echo "DRTEST_PG_REPO2_ENDPOINT=$S3_HTTPS"
        echo "DRTEST_PG_REPO2_BUCKET=$REPO2_BUCKET"
        echo "DRTEST_PG_REPO2_PREFIX=$REPO2_PREFIX"
        echo "DRTEST_PG_INFO_JSON=$PG/pgbackrest-info.json"
        echo "DRTEST_PG_INFO_REPO1_JSON=$PG/pgbackrest-info-repo1.json"
        echo "DRTEST_PG_INFO_REPO2_JSON=$PG/pgbackrest-info-repo2.json"
        echo "DRTEST_PG_BARMAN_ENDPOINT=$S3_HTTP"
        echo "DRTEST_PG_BARMAN_BUCKET=$BARMAN_BUCKET"
        echo "DRTEST_PG_BARMAN_PREFIX=$BARMAN_PREFIX"
        echo "DRTEST_PG_BARMAN_SERVER=$BARMAN_SERVER"
        echo "DRTEST_PG_BARMAN_LIST_JSON=$PG/barman-backup-list.json"
        echo "DRTEST_PG_BARMAN_SHOW_DIR=$PG/barman-show"
        echo "DRTEST_PG_PITR_TARGET=$target"
        echo "DRTEST_PG_PITR_TARGET_RFC3339=$target_rfc"
        echo "DRTEST_PG_PITR_TARGET_EPOCH=$target_epoch"
        echo "DRTEST_PG_MARKER_TABLE=dr_markers"
        echo "DRTEST_PG_MARKER_BEFORE=before"
        echo "DRTEST_PG_MARKER_BEFORE_AT=$before_at"
        echo "DRTEST_PG_MARKER_AFTER=after"
        echo "DRTEST_PG_MARKER_AFTER_AT=$after_at"
    } > "$DIR/env.pg"
    trap - EXIT
    echo "PostgreSQL 15 fixtures: pgBackRest stanza $STANZA (repo1 $REPO1, repo2 s3://$REPO2_BUCKET/$REPO2_PREFIX)," \
        "barman-cloud s3://$BARMAN_BUCKET/$BARMAN_PREFIX/$BARMAN_SERVER, PITR target $target" >&2
}

stop() {
    stop_pg
    rm -rf "$PG" "$REPO1"
    if [ "$ROOT" != "$DIR" ]; then rm -rf "$ROOT"; fi
    rm -f "$DIR/env.pg"
}

case "${1:-}" in
    start)
        start
        # Run alone against the running servers: keep the combined env file in step.
        if [ -f "$DIR/env.s3" ]; then cat "$DIR"/env.* > "$DIR/env"; fi
        ;;
    stop) stop ;;
    *)
        echo "usage: $0 start|stop" >&2
        exit 2
        ;;
esac
