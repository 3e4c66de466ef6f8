#!/usr/bin/env bash
# Runs every test of Kring, doing its own set-up on a fresh machine:
#   - installs PostgreSQL (when missing) and starts it (when not running),
#   - installs pgBackRest (when missing) for the point-in-time recovery test,
#   - installs OpenSSL's headers (when missing; passkeys use webauthn-rs, which links OpenSSL),
#   - installs Chromium and its driver for the browser tests (when missing),
#   - installs axe-core (npm) for the browser tests' accessibility checks (when missing),
#   - installs cargo-nextest (when missing),
#   - builds Citus into PostgreSQL 15 (when missing, ../shared/data/citus/build.sh) and starts a
#     coordinator and two workers on ports 9700–9702 (scripts/citus.sh), stopped at the end,
# then checks formatting and lints and runs the whole suite against SQLite, PostgreSQL and Citus.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '\n== %s\n' "$*"; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
apt_updated=0
apt_install() {
  if [ "$apt_updated" = 0 ]; then as_root apt-get update -qq; apt_updated=1; fi
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "$@"
}

if [ ! -f ../shared/data/fhir/hl7.fhir.r4.examples-4.0.1.tgz ]; then
  echo "The FHIR R4 package is expected at ../shared/data/fhir/ (beside this checkout)." >&2
  exit 1
fi

say "PostgreSQL"
installed_pg=0
if ! command -v pg_ctlcluster >/dev/null 2>&1; then
  apt_install postgresql
  installed_pg=1
fi
cluster_version=$(ls /etc/postgresql | sort -n | tail -n 1)
if [ "$installed_pg" = 1 ]; then
  # A fresh install asks for passwords on TCP; the tests connect as postgres on loopback.
  echo "host all postgres 127.0.0.1/32 trust" | as_root tee -a "/etc/postgresql/$cluster_version/main/pg_hba.conf" >/dev/null
fi
if ! pg_isready -h 127.0.0.1 -p 5432 -q; then
  as_root pg_ctlcluster --skip-systemctl-redirect "$cluster_version" main start || true
fi
[ "$installed_pg" = 1 ] && as_root pg_ctlcluster --skip-systemctl-redirect "$cluster_version" main reload || true
for _ in $(seq 1 30); do pg_isready -h 127.0.0.1 -p 5432 -q && break; sleep 1; done
pg_isready -h 127.0.0.1 -p 5432

say "pgBackRest (the point-in-time recovery test)"
if ! command -v pgbackrest >/dev/null 2>&1; then
  apt_install pgbackrest
fi
pgbackrest version

say "OpenSSL headers (webauthn-rs, for passkeys)"
if ! pkg-config --exists openssl 2>/dev/null; then
  apt_install libssl-dev pkg-config
fi

say "Chromium for the browser tests"
if ! command -v chromium >/dev/null 2>&1 || ! command -v chromedriver >/dev/null 2>&1; then
  apt_install chromium chromium-driver
fi
chromium --version

say "axe-core for the accessibility checks of the browser tests"
AXE_VERSION=4.14.1
if [ ! -f target/browser-deps/node_modules/axe-core/axe.min.js ] \
   || ! grep -q "\"version\": \"$AXE_VERSION\"" target/browser-deps/node_modules/axe-core/package.json; then
  if ! command -v npm >/dev/null 2>&1; then
    apt_install nodejs npm
  fi
  mkdir -p target/browser-deps
  (cd target/browser-deps && npm install --no-save --no-audit --no-fund --silent "axe-core@$AXE_VERSION")
fi
grep -m1 '"version"' target/browser-deps/node_modules/axe-core/package.json

say "cargo-nextest"
if ! cargo nextest --version >/dev/null 2>&1; then
  cargo install cargo-nextest --locked
fi

say "Citus (a coordinator and two workers, for the API suite on a distributed record)"
bash scripts/citus.sh start
trap 'bash scripts/citus.sh stop' EXIT

say "Formatting and lints"
cargo fmt --all -- --check
cargo clippy --workspace --all-targets -- -D warnings

say "Tests (SQLite, PostgreSQL and Citus)"
cargo nextest run --workspace --profile ci
