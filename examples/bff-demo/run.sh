#!/usr/bin/env bash
# The BFF demo on this machine: builds `gatehouse` and `app-api` (debug), then starts
#   * Gatehouse (`gatehouse serve --dev`) on http://127.0.0.1:4433, admin API on 127.0.0.1:4434,
#     with a fresh SQLite database in examples/bff-demo/.run/;
#   * registers the `bff-client` OAuth2 client (client.json) and a person to sign in as, through
#     the admin API;
#   * app-api (examples/app-api) on http://127.0.0.1:5000, trusting Gatehouse's tokens;
#   * `gatehouse bff --config bff.toml` on http://localhost:4460, serving spa/;
# prints the URL to open and stops everything on Ctrl-C. Logs and databases are in .run/.
#
# Usage: bash examples/bff-demo/run.sh      Needs: cargo, curl. Ports 4433, 4434, 4460, 5000.
set -euo pipefail

DEMO_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$DEMO_DIR/../.." && pwd)"
WORK="$DEMO_DIR/.run"

ISSUER="http://127.0.0.1:4433"
ADMIN_URL="http://127.0.0.1:4434"
API_ADDR="127.0.0.1:5000"
BFF_URL="http://localhost:4460"
PERSON_EMAIL="ada@example.com"
PERSON_PASSWORD="correct horse battery staple 93"

log() { printf '[bff-demo] %s\n' "$*" >&2; }

for tool in cargo curl; do
  command -v "$tool" >/dev/null || { log "$tool is required"; exit 1; }
done
for port in 4433 4434 4460 5000; do
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    log "port $port is in use: stop what listens there first"
    exit 1
  fi
done

log "building gatehouse and app-api (debug)"
(cd "$ROOT" && cargo build --quiet -p gatehouse -p gatehouse-example-app-api)
TARGET="${CARGO_TARGET_DIR:-$ROOT/target}"
[[ "$TARGET" = /* ]] || TARGET="$ROOT/$TARGET"
GATEHOUSE="$TARGET/debug/gatehouse"
APP_API="$TARGET/debug/app-api"

# The servers below are configured only by this script and its files (GATEHOUSE_LOG may stay).
for var in $(compgen -e | grep '^GATEHOUSE_' || true); do
  [[ "$var" == GATEHOUSE_LOG ]] || unset "$var"
done

rm -rf "$WORK"
mkdir -p "$WORK"

# Each server in a process group of its own, so Ctrl-C reaches only this script, which then
# stops them in order (below) instead of racing them.
set -m

PIDS=()
stop_all() {
  local status=$?
  trap - EXIT INT TERM
  for pid in "${PIDS[@]}"; do
    kill -TERM "$pid" 2>/dev/null || true
  done
  for pid in "${PIDS[@]}"; do
    wait "$pid" 2>/dev/null || true
  done
  ((${#PIDS[@]})) && log "stopped; logs and databases stay in $WORK until the next start"
  exit "$status"
}
trap stop_all EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Waits until `curl URL` answers HTTP status $2 (the process $3 must stay alive meanwhile).
wait_for() {
  local url=$1 want=$2 pid=$3 name=$4 got
  for _ in $(seq 1 150); do
    kill -0 "$pid" 2>/dev/null || { log "$name exited; its log:"; tail -n 30 "$WORK/$name.log" >&2; exit 1; }
    got=$(curl -s -o /dev/null -w '%{http_code}' "$url" || true)
    [[ "$got" == "$want" ]] && return 0
    sleep 0.2
  done
  log "$name did not answer $url within 30 s; its log:"
  tail -n 30 "$WORK/$name.log" >&2
  exit 1
}

# 1. Gatehouse, the identity provider.
ADMIN_TOKEN="demo-admin-$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')"
log "starting gatehouse: $ISSUER (admin $ADMIN_URL)"
NO_COLOR=1 \
GATEHOUSE_CONFIG="$DEMO_DIR/gatehouse.toml" \
GATEHOUSE_DATABASE_URL="sqlite://$WORK/gatehouse.db" \
GATEHOUSE_PUBLIC_ADDR="127.0.0.1:4433" \
GATEHOUSE_ADMIN_ADDR="127.0.0.1:4434" \
GATEHOUSE_ISSUER="$ISSUER" \
GATEHOUSE_ADMIN_TOKEN="$ADMIN_TOKEN" \
  "$GATEHOUSE" serve --dev >"$WORK/gatehouse.log" 2>&1 </dev/null &
PIDS+=($!)
wait_for "$ISSUER/health/ready" 200 "${PIDS[-1]}" gatehouse

admin() {
  curl -sS --fail-with-body -X POST -H "Authorization: Bearer $ADMIN_TOKEN" \
    -H 'Content-Type: application/json' --data "$2" "$ADMIN_URL$1" >"$WORK/admin-answer.json" ||
    { log "POST $1 failed: $(cat "$WORK/admin-answer.json")"; exit 1; }
}

# 2. The BFF's client: confidential, code + refresh token, no consent screen (first party).
admin /admin/clients "@$DEMO_DIR/client.json"
log "registered the OAuth2 client bff-client"

# 3. Someone to sign in as (or register at the login page: codes are in .run/gatehouse.log).
admin /admin/identities "$(printf '{"schema_id":"default","state":"active",
  "traits":{"email":"%s","first_name":"Ada","last_name":"Lovelace"},
  "credentials":{"password":{"config":{"password":"%s"}}}}' "$PERSON_EMAIL" "$PERSON_PASSWORD")"
log "created $PERSON_EMAIL"

# 4. The API behind the BFF.
log "starting app-api on http://$API_ADDR"
APP_API_ISSUER="$ISSUER" APP_API_ADDR="$API_ADDR" \
  "$APP_API" >"$WORK/app-api.log" 2>&1 </dev/null &
PIDS+=($!)
wait_for "http://$API_ADDR/health" 200 "${PIDS[-1]}" app-api

# 5. The BFF, started here so bff.toml's relative paths (spa/, .run/bff.db) resolve.
#    GATEHOUSE_SECRETS_CIPHER seals the tokens in its database; a new one each start, as the
#    database is new too.
log "starting gatehouse bff on $BFF_URL"
(cd "$DEMO_DIR" && NO_COLOR=1 GATEHOUSE_SECRETS_CIPHER="$(od -An -N32 -tx1 /dev/urandom | tr -d ' \n')" \
  exec "$GATEHOUSE" bff --config bff.toml) >"$WORK/bff.log" 2>&1 </dev/null &
PIDS+=($!)
wait_for "http://127.0.0.1:4460/bff/user" 401 "${PIDS[-1]}" bff

cat >&2 <<BANNER

  Open $BFF_URL and sign in as
      email:    $PERSON_EMAIL
      password: $PERSON_PASSWORD

  Gatehouse  $ISSUER   (admin $ADMIN_URL, token $ADMIN_TOKEN)
  app-api    http://$API_ADDR
  BFF        $BFF_URL
  Logs       $WORK/{gatehouse,app-api,bff}.log
  Sessions   sqlite3 $WORK/bff.db "select subject, version, datetime(access_expires_at / 1000000, 'unixepoch') from bff_sessions"

  Ctrl-C stops everything.

BANNER

# Until Ctrl-C, or until one of them stops by itself.
set +e
wait -n "${PIDS[@]}"
status=$?
((status > 128)) && exit "$status"
log "a process stopped by itself (status $status); see the logs in $WORK"
exit 1
