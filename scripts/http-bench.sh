#!/usr/bin/env bash
# Kring measured as a partner's integrator measures it (issue 25): `kring serve` as its own
# process on the demo network, `wrk` over HTTP for reads by id and searches, and Synthea
# transaction Bundles posted through the API by one client and by four. Every request is
# decided and written to the access log before it answers, as always.
#
#   scripts/http-bench.sh [--seconds S] [--connections C] [--grow N] [--data DIR] [--port P]
#                         [--database URL] [--servers N] [--crud]
#
#   --seconds S      length of each wrk run (default 30)
#   --connections C  connections for reads and searches (default 32; wrk -t2 -cC)
#   --grow N         first post Synthea transactions until about N resources were added
#                    through the API (default 0: the demo as it is; 1000000 grows it to a
#                    million, which takes a while — the import figures come from this phase)
#   --data DIR       the demo's folder (default target/http-bench); reused when it exists,
#                    so a grown database can be measured again; --fresh builds it anew
#   --port P         where kring serves (default 18080; with --servers N, P … P+N-1)
#   --only-reads     skip the imports (a before/after comparison of reads on one database)
#   --database URL   build the demo in this database instead of SQLite in DIR (an empty
#                    PostgreSQL database or Citus coordinator: postgres://USER@HOST/DB)
#   --servers N      N `kring serve` processes in front of the one database, sharing one
#                    access log through `kring log-serve` (needs --database); every workload
#                    then runs one wrk per server at once, with the connections shared out,
#                    and reports their sum and the slowest server's percentiles
#   --crud           also a create/read/update/delete mix of Observations (one connection
#                    per wrk thread, each going create → read → update → delete)
#   KRING_BIN=PATH   measure that kring binary instead of building target/release/kring
#
# Prints one line per workload: requests/s (resources/s for imports), p50, p90, p99 and max
# latency in ms, and the count of failed requests; a workload with failures fails the script.
# Needs wrk (Debian package; installed when missing), curl and python3.
set -euo pipefail
cd "$(dirname "$0")/.."

SECS=30
CONNS=32
GROW=0
DATA=target/http-bench
PORT=18080
FRESH=0
ONLY_READS=0
DATABASE=
SERVERS=1
CRUD=0
while [ $# -gt 0 ]; do
  case "$1" in
    --seconds) SECS="$2"; shift 2 ;;
    --connections) CONNS="$2"; shift 2 ;;
    --grow) GROW="$2"; shift 2 ;;
    --data) DATA="$2"; shift 2 ;;
    --port) PORT="$2"; shift 2 ;;
    --fresh) FRESH=1; shift ;;
    --only-reads) ONLY_READS=1; shift ;;
    --database) DATABASE="$2"; shift 2 ;;
    --servers) SERVERS="$2"; shift 2 ;;
    --crud) CRUD=1; shift ;;
    -h|--help) sed -n '2,31p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "unknown option: $1 (see --help)" >&2; exit 2 ;;
  esac
done

if [ "$SERVERS" -gt 1 ] && [ -z "$DATABASE" ]; then
  echo "--servers $SERVERS needs --database: several servers share one PostgreSQL or Citus database, not one SQLite file" >&2
  exit 2
fi
if [ $((CONNS % SERVERS)) != 0 ] || [ $((4 % SERVERS)) != 0 ]; then
  echo "--servers $SERVERS must divide --connections ($CONNS) and the four import clients" >&2
  exit 2
fi

SYNTHEA=../shared/data/synthea
[ -d "$SYNTHEA" ] || { echo "the Synthea bundles are not at $SYNTHEA" >&2; exit 1; }
if ! command -v wrk >/dev/null; then
  echo "installing wrk (Debian package)…" >&2
  if [ "$(id -u)" = 0 ]; then apt-get install -y -qq wrk >/dev/null; else sudo apt-get install -y -qq wrk >/dev/null; fi
fi

if [ -n "${KRING_BIN:-}" ]; then
  KRING=$KRING_BIN
else
  cargo build --release -q -p kring-cli
  KRING=target/release/kring
fi
if [ "$FRESH" = 1 ] || [ ! -e "$DATA/kring.toml" ]; then
  "$KRING" demo --no-serve --data "$DATA" ${DATABASE:+--database "$DATABASE"} >/dev/null
fi
DATA=$(cd "$DATA" && pwd)
WORK=$(mktemp -d)
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null; done
  rm -rf "$WORK"
}
trap cleanup EXIT

# Several servers write one access log through `kring log-serve` (docs/access-log.md).
if [ "$SERVERS" -gt 1 ]; then
  KRING_LOG=warn "$KRING" --config "$DATA/kring.toml" log-serve --socket "$WORK/log.sock" \
    >"$WORK/log-serve.log" 2>&1 &
  PIDS+=($!)
  for _ in $(seq 1 100); do [ -S "$WORK/log.sock" ] && break; sleep 0.1; done
  [ -S "$WORK/log.sock" ] || { cat "$WORK/log-serve.log" >&2; exit 1; }
  export KRING_AUDIT_SERVICE="$WORK/log.sock"
fi
BASES=()
for i in $(seq 0 $((SERVERS - 1))); do
  KRING_LOG=warn "$KRING" --config "$DATA/kring.toml" serve --addr "127.0.0.1:$((PORT + i))" \
    >"$WORK/serve$i.log" 2>&1 &
  PIDS+=($!)
  BASES+=("http://127.0.0.1:$((PORT + i))")
done
for i in "${!BASES[@]}"; do
  for _ in $(seq 1 100); do
    curl -sf "${BASES[$i]}/fhir/metadata" >/dev/null && break
    sleep 0.2
  done
  curl -sf "${BASES[$i]}/fhir/metadata" >/dev/null || { cat "$WORK/serve$i.log" >&2; exit 1; }
done
BASE=${BASES[0]}

# token [BASE]: a partner token from that server (default the first).
token() {
  python3 - "$DATA/demo-credentials.json" "${1:-$BASE}" <<'EOF'
import json, sys, urllib.parse, urllib.request
c = json.load(open(sys.argv[1]))["integration"]
body = urllib.parse.urlencode({"grant_type": "client_credentials", "client_id": c["client_id"],
                               "client_secret": c["client_secret"]}).encode()
print(json.load(urllib.request.urlopen(sys.argv[2] + "/oauth/token", body))["access_token"])
EOF
}

# The wrk scripts: requests from a list, and a parseable result line.
cat >"$WORK/common.lua" <<'EOF'
local auth = "Bearer " .. os.getenv("KRING_TOKEN")
function result(summary, latency)
  local e = summary.errors
  local failed = e.connect + e.read + e.write + e.timeout + e.status
  io.write(string.format("RESULT %d %d %.1f %.2f %.2f %.2f %.2f\n", summary.requests, failed,
    summary.requests / (summary.duration / 1e6), latency:percentile(50) / 1000,
    latency:percentile(90) / 1000, latency:percentile(99) / 1000, latency.max / 1000))
end
function headers(extra)
  local h = { Authorization = auth, Accept = "application/fhir+json" }
  for k, v in pairs(extra or {}) do h[k] = v end
  return h
end
EOF
cat >"$WORK/get.lua" <<'EOF'
dofile(os.getenv("WRK_COMMON"))
local paths = {}
for line in io.lines(os.getenv("WRK_PATHS")) do paths[#paths + 1] = line end
local h = headers()
request = function() return wrk.format("GET", paths[math.random(#paths)], h) end
done = result
EOF
cat >"$WORK/post.lua" <<'EOF'
dofile(os.getenv("WRK_COMMON"))
local bodies, i = {}, 0
for name in io.lines(os.getenv("WRK_BODIES")) do
  local f = assert(io.open(name, "rb")); bodies[#bodies + 1] = f:read("a"); f:close()
end
local h = headers({ ["Content-Type"] = "application/fhir+json" })
request = function()
  i = i % #bodies + 1
  return wrk.format("POST", "/fhir", h, bodies[i])
end
done = result
EOF
# The CRUD mix: each thread has one connection and walks one Observation of a client this
# partner may see through create → read → update → delete, then starts again.
cat >"$WORK/crud.lua" <<'EOF'
dofile(os.getenv("WRK_COMMON"))
local subjects = {}
for line in io.lines(os.getenv("WRK_PATHS")) do subjects[#subjects + 1] = line:match("Patient/(.+)$") end
local hj = headers({ ["Content-Type"] = "application/fhir+json" })
local h = headers()
local step, id, subject = 0, nil, nil
local function observation(kg)
  local own = id and ('"id":"' .. id .. '",') or ""
  return '{"resourceType":"Observation",' .. own .. '"status":"final","code":{"text":"gewicht"},'
    .. '"subject":{"reference":"Patient/' .. subject .. '"},'
    .. '"valueQuantity":{"value":' .. kg .. ',"unit":"kg"}}'
end
request = function()
  if step == 0 then
    id, subject = nil, subjects[math.random(#subjects)]
    return wrk.format("POST", "/fhir/Observation", hj, observation(70))
  elseif step == 1 then return wrk.format("GET", "/fhir/Observation/" .. id, h)
  elseif step == 2 then return wrk.format("PUT", "/fhir/Observation/" .. id, hj, observation(71))
  else return wrk.format("DELETE", "/fhir/Observation/" .. id, h) end
end
response = function(status, hdrs)
  if step == 0 then
    local location = hdrs["Location"] or hdrs["location"] or ""
    id = location:match("Observation/([^/]+)")
    if status ~= 201 or not id then step = 0; return end
  end
  step = (step + 1) % 4
end
done = result
EOF
export WRK_COMMON="$WORK/common.lua"

ls "$SYNTHEA"/*.json >"$WORK/bodies"
PER_BUNDLE=$(python3 - "$WORK/bodies" <<'EOF'
import json, sys
files = open(sys.argv[1]).read().split()
print(round(sum(len(json.load(open(f))["entry"]) for f in files) / len(files), 1))
EOF
)

# run NAME SCALE wrk-args…: one wrk per server in TARGETS (default every server), at once;
# SCALE turns requests/s into the unit shown. Requests and rates are summed; the percentiles
# and the maximum are the slowest server's.
run() {
  local name=$1 scale=$2; shift 2
  local targets=("${BASES[@]}") pids=() i
  [ -n "${TARGETS:-}" ] && targets=("$TARGETS")
  for i in "${!targets[@]}"; do
    KRING_TOKEN=$(token "${targets[$i]}") wrk "$@" "${targets[$i]}" >"$WORK/out$i" 2>&1 &
    pids+=($!)
  done
  for i in "${!pids[@]}"; do
    wait "${pids[$i]}" || { cat "$WORK/out$i" >&2; exit 1; }
  done
  read -r _ n failed rps p50 p90 p99 max < <(cat "$WORK"/out[0-9]* | grep '^RESULT' | awk '
    { n += $2; f += $3; r += $4
      for (k = 5; k <= 8; k++) if ($k > m[k]) m[k] = $k }
    END { printf "RESULT %d %d %.1f %.2f %.2f %.2f %.2f\n", n, f, r, m[5], m[6], m[7], m[8] }')
  rm -f "$WORK"/out[0-9]*
  printf '| %s | %s | %.0f | %s | %s | %s | %s | %s |\n' "$name" "$n" \
    "$(python3 -c "print($rps * $scale)")" "$p50" "$p90" "$p99" "$max" "$failed"
  if [ "$failed" != 0 ]; then
    echo "$name: $failed requests failed" >&2
    FAILED=1
  fi
}
FAILED=0
# The four import clients shared out over the servers (wrk wants no more threads than connections).
IMPORT_C=$((4 / SERVERS))
IMPORT_T=$((IMPORT_C < 2 ? IMPORT_C : 2))

echo "# scripts/http-bench.sh — $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs); $SERVERS server(s) on $([ -n "$DATABASE" ] && echo "${DATABASE%%://*}" || echo sqlite)"
echo
echo "| workload | requests | per second | p50 ms | p90 ms | p99 ms | max ms | failed |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|"

# Import through the API: Synthea transactions, one client, then four.
if [ "$GROW" -gt 0 ]; then
  # Each request adds PER_BUNDLE resources; grow in runs of SECS until GROW is reached.
  added=0
  while python3 -c "import sys; sys.exit(0 if $added < $GROW else 1)"; do
    WRK_BODIES="$WORK/bodies" run "import, 4 clients (Synthea transactions, resources/s)" \
      "$PER_BUNDLE" -t"$IMPORT_T" -c"$IMPORT_C" -d"${SECS}s" --latency -s "$WORK/post.lua"
    added=$(python3 -c "print(int($added + $(grep '^RESULT' "$WORK/out" | cut -d' ' -f2) * $PER_BUNDLE))")
  done
fi
if [ "$ONLY_READS" = 0 ]; then
  WRK_BODIES="$WORK/bodies" TARGETS=$BASE run "import, 1 client (Synthea transactions, resources/s)" \
    "$PER_BUNDLE" -t1 -c1 -d"${SECS}s" --latency -s "$WORK/post.lua"
  WRK_BODIES="$WORK/bodies" run "import, 4 clients (Synthea transactions, resources/s)" \
    "$PER_BUNDLE" -t"$IMPORT_T" -c"$IMPORT_C" -d"${SECS}s" --latency -s "$WORK/post.lua"
fi

# The patients this partner may read, for reads by id and searches by subject.
KRING_TOKEN=$(token) python3 - "$BASE" "$WORK" <<'EOF'
import json, os, sys, urllib.request
base, work = sys.argv[1], sys.argv[2]
ids, url = [], base + "/fhir/Patient?_elements=id&_count=1000"
while url and len(ids) < 20000:
    req = urllib.request.Request(url, headers={"Authorization": "Bearer " + os.environ["KRING_TOKEN"]})
    page = json.load(urllib.request.urlopen(req))
    ids += [e["resource"]["id"] for e in page.get("entry", [])]
    url = next((l["url"] for l in page.get("link", []) if l["relation"] == "next"), None)
if not ids:
    sys.exit("the integration client may read no patients")
with open(work + "/reads", "w") as f:
    f.writelines(f"/fhir/Patient/{i}\n" for i in ids)
with open(work + "/searches", "w") as f:
    f.writelines(f"/fhir/Observation?subject=Patient/{i}\n" for i in ids)
EOF

WRK_PATHS="$WORK/reads" run "read Patient by id, $CONNS connections" 1 \
  -t2 -c"$((CONNS / SERVERS))" -d"${SECS}s" --latency -s "$WORK/get.lua"
WRK_PATHS="$WORK/reads" run "read Patient by id, 8 connections" 1 \
  -t2 -c"$((8 / SERVERS))" -d"${SECS}s" --latency -s "$WORK/get.lua"
WRK_PATHS="$WORK/searches" run "search Observation?subject=, $CONNS connections" 1 \
  -t2 -c"$((CONNS / SERVERS))" -d"${SECS}s" --latency -s "$WORK/get.lua"
if [ "$CRUD" = 1 ]; then
  WRK_PATHS="$WORK/reads" run "create/read/update/delete Observations, $CONNS connections (operations/s)" 1 \
    -t"$((CONNS / SERVERS))" -c"$((CONNS / SERVERS))" -d"${SECS}s" --latency -s "$WORK/crud.lua"
fi

echo
echo "Resources in the database: $(KRING_TOKEN=$(token) python3 -c "
import json, os, urllib.request
r = urllib.request.Request('$BASE/fhir/Observation?_summary=count', headers={'Authorization': 'Bearer ' + os.environ['KRING_TOKEN']})
print(json.load(urllib.request.urlopen(r)).get('total', '?'), 'observations this partner may see')
"); a transaction holds $PER_BUNDLE resources on average."
exit "$FAILED"
