#!/usr/bin/env bash
# Kring measured as a partner's integrator measures it (issue 25): `kring serve` as its own
# process on the demo network, `wrk` over HTTP for reads by id and searches, and Synthea
# transaction Bundles posted through the API by one client and by four. Every request is
# decided and written to the access log before it answers, as always.
#
#   scripts/http-bench.sh [--seconds S] [--connections C] [--grow N] [--data DIR] [--port P]
#
#   --seconds S      length of each wrk run (default 30)
#   --connections C  connections for reads and searches (default 32; wrk -t2 -cC)
#   --grow N         first post Synthea transactions until about N resources were added
#                    through the API (default 0: the demo as it is; 1000000 grows it to a
#                    million, which takes a while — the import figures come from this phase)
#   --data DIR       the demo's folder (default target/http-bench); reused when it exists,
#                    so a grown database can be measured again; --fresh builds it anew
#   --port P         where kring serves (default 18080)
#   --only-reads     skip the imports (a before/after comparison of reads on one database)
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
while [ $# -gt 0 ]; do
  case "$1" in
    --seconds) SECS="$2"; shift 2 ;;
    --connections) CONNS="$2"; shift 2 ;;
    --grow) GROW="$2"; shift 2 ;;
    --data) DATA="$2"; shift 2 ;;
    --port) PORT="$2"; shift 2 ;;
    --fresh) FRESH=1; shift ;;
    --only-reads) ONLY_READS=1; shift ;;
    -h|--help) sed -n '2,24p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "unknown option: $1 (see --help)" >&2; exit 2 ;;
  esac
done

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
  "$KRING" demo --no-serve --data "$DATA" >/dev/null 2>&1
fi
DATA=$(cd "$DATA" && pwd)
WORK=$(mktemp -d)
SERVER_PID=
cleanup() {
  [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT

KRING_LOG=warn "$KRING" --config "$DATA/kring.toml" serve --addr "127.0.0.1:$PORT" \
  >"$WORK/serve.log" 2>&1 &
SERVER_PID=$!
BASE="http://127.0.0.1:$PORT"
for _ in $(seq 1 100); do
  curl -sf "$BASE/fhir/metadata" >/dev/null && break
  sleep 0.2
done
curl -sf "$BASE/fhir/metadata" >/dev/null || { cat "$WORK/serve.log" >&2; exit 1; }

token() {
  python3 - "$DATA/demo-credentials.json" "$BASE" <<'EOF'
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
export WRK_COMMON="$WORK/common.lua"

ls "$SYNTHEA"/*.json >"$WORK/bodies"
PER_BUNDLE=$(python3 - "$WORK/bodies" <<'EOF'
import json, sys
files = open(sys.argv[1]).read().split()
print(round(sum(len(json.load(open(f))["entry"]) for f in files) / len(files), 1))
EOF
)

# run NAME SCALE wrk-args…: one wrk run; SCALE turns requests/s into the unit shown.
run() {
  local name=$1 scale=$2; shift 2
  KRING_TOKEN=$(token) wrk "$@" >"$WORK/out" 2>&1 || { cat "$WORK/out" >&2; exit 1; }
  read -r _ n failed rps p50 p90 p99 max < <(grep '^RESULT' "$WORK/out")
  printf '| %s | %s | %.0f | %s | %s | %s | %s | %s |\n' "$name" "$n" \
    "$(python3 -c "print($rps * $scale)")" "$p50" "$p90" "$p99" "$max" "$failed"
  if [ "$failed" != 0 ]; then
    echo "$name: $failed requests failed" >&2
    FAILED=1
  fi
}
FAILED=0

echo "# scripts/http-bench.sh — $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
echo
echo "| workload | requests | per second | p50 ms | p90 ms | p99 ms | max ms | failed |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|"

# Import through the API: Synthea transactions, one client, then four.
if [ "$GROW" -gt 0 ]; then
  # Each request adds PER_BUNDLE resources; grow in runs of SECS until GROW is reached.
  added=0
  while python3 -c "import sys; sys.exit(0 if $added < $GROW else 1)"; do
    WRK_BODIES="$WORK/bodies" run "import, 4 clients (Synthea transactions, resources/s)" \
      "$PER_BUNDLE" -t2 -c4 -d"${SECS}s" --latency -s "$WORK/post.lua" "$BASE"
    added=$(python3 -c "print(int($added + $(grep '^RESULT' "$WORK/out" | cut -d' ' -f2) * $PER_BUNDLE))")
  done
fi
if [ "$ONLY_READS" = 0 ]; then
  WRK_BODIES="$WORK/bodies" run "import, 1 client (Synthea transactions, resources/s)" \
    "$PER_BUNDLE" -t1 -c1 -d"${SECS}s" --latency -s "$WORK/post.lua" "$BASE"
  WRK_BODIES="$WORK/bodies" run "import, 4 clients (Synthea transactions, resources/s)" \
    "$PER_BUNDLE" -t2 -c4 -d"${SECS}s" --latency -s "$WORK/post.lua" "$BASE"
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
  -t2 -c"$CONNS" -d"${SECS}s" --latency -s "$WORK/get.lua" "$BASE"
WRK_PATHS="$WORK/reads" run "read Patient by id, 8 connections" 1 \
  -t2 -c8 -d"${SECS}s" --latency -s "$WORK/get.lua" "$BASE"
WRK_PATHS="$WORK/searches" run "search Observation?subject=, $CONNS connections" 1 \
  -t2 -c"$CONNS" -d"${SECS}s" --latency -s "$WORK/get.lua" "$BASE"

echo
echo "Resources in the database: $(KRING_TOKEN=$(token) python3 -c "
import json, os, urllib.request
r = urllib.request.Request('$BASE/fhir/Observation?_summary=count', headers={'Authorization': 'Bearer ' + os.environ['KRING_TOKEN']})
print(json.load(urllib.request.urlopen(r)).get('total', '?'), 'observations this partner may see')
"); a transaction holds $PER_BUNDLE resources on average."
exit "$FAILED"
