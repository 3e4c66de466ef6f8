#!/usr/bin/env bash
# Point-in-time recovery of PostgreSQL with pgBackRest, tried once: a private cluster with WAL
# archiving, a full backup, a row before and a row after a chosen moment, a restore to that
# moment, and the check that the first row is back and the second is not. What
# docs/continuity.md tells an administrator to run, run here. Needs root (the cluster runs as
# the postgres user) and Debian's postgresql and pgbackrest packages.
set -euo pipefail
bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
port=${PITR_PORT:-54329}
work=$(mktemp -d /tmp/kring-pitr.XXXXXX)
chown postgres:postgres "$work"
as_pg() { runuser -u postgres -- "$@"; }
cleanup() {
  as_pg "$bin/pg_ctl" -D "$work/data" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
conf="$work/pgbackrest.conf"
as_pg tee "$conf" >/dev/null <<CONF
[global]
repo1-path=$work/repo
log-path=$work/log
lock-path=$work/lock
spool-path=$work/spool
log-level-console=warn
log-level-file=off
repo1-retention-full=2
start-fast=y
[kring]
pg1-path=$work/data
pg1-port=$port
pg1-socket-path=$work
CONF
as_pg "$bin/initdb" -D "$work/data" --auth=trust -U postgres >/dev/null
cat >> "$work/data/postgresql.conf" <<PGCONF
port = $port
listen_addresses = ''
unix_socket_directories = '$work'
wal_level = replica
archive_mode = on
archive_command = 'pgbackrest --config=$conf --stanza=kring archive-push %p'
PGCONF
as_pg "$bin/pg_ctl" -D "$work/data" -l "$work/pg.log" -w start >/dev/null
sql() { as_pg psql -h "$work" -p "$port" -U postgres -d postgres -Atqc "$1"; }
as_pg pgbackrest --config="$conf" --stanza=kring stanza-create
as_pg pgbackrest --config="$conf" --stanza=kring backup --type=full
sql "CREATE TABLE kring_pitr (what text)"
sql "INSERT INTO kring_pitr VALUES ('before')"
sleep 1
target=$(sql "SELECT now()")
sleep 1
sql "INSERT INTO kring_pitr VALUES ('after')"
sql "SELECT pg_switch_wal()" >/dev/null
# Wait until the WAL with both rows is archived.
for _ in $(seq 1 30); do
  [ "$(sql "SELECT archived_count > 0 AND (last_failed_wal IS NULL OR last_archived_time > last_failed_time) FROM pg_stat_archiver")" = t ] && break
  sleep 1
done
as_pg "$bin/pg_ctl" -D "$work/data" -m fast -w stop >/dev/null
as_pg pgbackrest --config="$conf" --stanza=kring restore --delta --type=time "--target=$target" --target-action=promote
as_pg "$bin/pg_ctl" -D "$work/data" -l "$work/pg.log" -w start >/dev/null
for _ in $(seq 1 30); do [ "$(sql "SELECT pg_is_in_recovery()")" = f ] && break; sleep 1; done
rows=$(sql "SELECT string_agg(what, ',' ORDER BY what) FROM kring_pitr")
if [ "$rows" != "before" ]; then
  echo "pitr-check: after a restore to $target the table holds '$rows', not 'before'" >&2
  exit 1
fi
echo "pitr-check: restored to $target with pgBackRest: the row before is back, the row after is not."
