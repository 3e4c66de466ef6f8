#!/usr/bin/env bash
# A Citus cluster on this machine for the tests and benchmarks: a coordinator and two workers,
# each a PostgreSQL 15 of its own (separate data directories, local ports), Citus preloaded.
#
#   scripts/citus.sh start    build Citus when missing (../shared/data/citus/build.sh), create the
#                             cluster when missing, start it; prints the coordinator's URL
#   scripts/citus.sh stop     stop the three servers (the data stays for the next start)
#   scripts/citus.sh destroy  stop and remove the data directories
#   scripts/citus.sh add-worker
#                             start a third worker (for the rebalancing test) without adding it
#   scripts/citus.sh url      the coordinator's URL
#
# Settings (environment):
#   KRING_CITUS_DIR    where the data directories live     [default: /tmp/kring-citus]
#   KRING_CITUS_PORT   the coordinator's port; workers take the next ones  [default: 9700]
#   KRING_CITUS_SHARDS shards of each distributed table     [default: 8, four per worker]
#   KRING_CITUS_DURABLE=1  fsync and synchronous commit on (benchmarks); off by default, as
#                      the test cluster is thrown away and its speed is the suite's
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
dir="${KRING_CITUS_DIR:-/tmp/kring-citus}"
port="${KRING_CITUS_PORT:-9700}"
shards="${KRING_CITUS_SHARDS:-8}"
bin="$(pg_config --bindir 2>/dev/null || echo /usr/lib/postgresql/15/bin)"
# PostgreSQL 15 is the version Citus is built for; Debian's binaries live in a versioned folder.
[ -x "$bin/initdb" ] || bin=/usr/lib/postgresql/15/bin
nodes=("coordinator:$port" "worker1:$((port + 1))" "worker2:$((port + 2))")
url="postgres://postgres@127.0.0.1:$port/postgres"

# PostgreSQL refuses to run as root: as root, the servers run as the postgres user.
as_pg() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}
sql() { psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -U postgres -p "$1" -d postgres -tA -c "$2"; }

init_node() {
  local name=$1 p=$2 data="$dir/$1"
  [ -f "$data/PG_VERSION" ] && return 0
  mkdir -p "$data"
  [ "$(id -u)" = 0 ] && chown -R postgres: "$dir"
  as_pg "$bin/initdb" -D "$data" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null
  local durable=off
  [ "${KRING_CITUS_DURABLE:-0}" = 1 ] && durable=on
  cat >>"$data/postgresql.conf" <<EOF
# Kring's test cluster ($name)
port = $p
listen_addresses = '127.0.0.1'
unix_socket_directories = '$dir'
shared_preload_libraries = 'citus'
max_connections = 300
shared_buffers = 128MB
fsync = $durable
synchronous_commit = $durable
full_page_writes = $durable
citus.shard_count = $shards
wal_level = logical
max_replication_slots = 10
max_wal_senders = 10
EOF
}

start_node() {
  local name=$1 p=$2
  if pg_isready -h 127.0.0.1 -p "$p" -q; then return 0; fi
  as_pg "$bin/pg_ctl" -D "$dir/$name" -l "$dir/$name.log" -w -t 60 start >/dev/null
}

case "${1:-start}" in
  start)
    bash "$here/../../shared/data/citus/build.sh" >/dev/null
    fresh=0
    [ -f "$dir/coordinator/PG_VERSION" ] || fresh=1
    for n in "${nodes[@]}"; do init_node "${n%%:*}" "${n##*:}"; done
    for n in "${nodes[@]}"; do start_node "${n%%:*}" "${n##*:}"; done
    if [ "$fresh" = 1 ]; then
      for n in "${nodes[@]}"; do sql "${n##*:}" "CREATE EXTENSION IF NOT EXISTS citus"; done
      sql "$port" "SELECT citus_set_coordinator_host('127.0.0.1', $port)" >/dev/null
      sql "$port" "SELECT citus_add_node('127.0.0.1', $((port + 1)))" >/dev/null
      sql "$port" "SELECT citus_add_node('127.0.0.1', $((port + 2)))" >/dev/null
    fi
    echo "$url"
    ;;
  add-worker)
    init_node worker3 $((port + 3))
    start_node worker3 $((port + 3))
    sql $((port + 3)) "CREATE EXTENSION IF NOT EXISTS citus"
    echo "postgres://postgres@127.0.0.1:$((port + 3))/postgres"
    ;;
  stop)
    for name in worker3 worker2 worker1 coordinator; do
      if [ -f "$dir/$name/postmaster.pid" ]; then
        as_pg "$bin/pg_ctl" -D "$dir/$name" -m fast -w stop >/dev/null || true
      fi
    done
    ;;
  destroy)
    "$0" stop
    rm -rf "$dir"
    ;;
  url) echo "$url" ;;
  *) echo "usage: $0 start|stop|destroy|add-worker|url" >&2; exit 2 ;;
esac
