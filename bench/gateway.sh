#!/usr/bin/env bash
# The gateway's cost: `gatehouse gateway` (jwt authenticator + header mutator) in front of an
# upstream, beside nginx proxying the same upstream with no authentication, and the upstream
# alone, in one run.
#
#   bash bench/gateway.sh
#
# Each target runs twice: at the throughput limit (wrk -c$BENCH_CONNECTIONS, closed loop) and
# with one connection (-c1), whose p50 is the per-request latency; "added" is a proxy's p50 minus
# the upstream's. The proxies and the upstream share the server core (taskset -c 0); wrk runs on
# core 1. Both proxies keep upstream connections alive. Knobs as in run.sh (BENCH_DURATION,
# BENCH_WARMUP, BENCH_CONNECTIONS, BENCH_SERVER_CPU, BENCH_LOAD_CPU, BENCH_PORT_BASE (18500),
# BENCH_SKIP_BUILD, CARGO_TARGET_DIR, BENCH_WAIT_QUIET). BENCH_GATEWAY_BASELINE=PATH also measures
# that gatehouse binary (e.g. a copy of an earlier build) as "gateway-baseline" in the same run,
# just before the gateway, so a change is compared under the same conditions. BENCH_PROFILE=1
# then records the gateway with perf for 5 s under the -c$BENCH_CONNECTIONS load and prints its
# hottest symbols (linux-perf from Debian's packages).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(dirname "$HERE")"

DURATION="${BENCH_DURATION:-10s}"
WARMUP="${BENCH_WARMUP:-3s}"
CONNS="${BENCH_CONNECTIONS:-32}"
SERVER_CPU="${BENCH_SERVER_CPU:-0}"
LOAD_CPU="${BENCH_LOAD_CPU:-1}"
PORT_BASE="${BENCH_PORT_BASE:-18500}"

GH_PORT=$((PORT_BASE + 1)); GH_ADMIN_PORT=$((PORT_BASE + 2))
UP_PORT=$((PORT_BASE + 3)); NG_PORT=$((PORT_BASE + 4))
GW_PORT=$((PORT_BASE + 5)); GW_API_PORT=$((PORT_BASE + 6))
GH="http://127.0.0.1:$GH_PORT"; GH_ADMIN="http://127.0.0.1:$GH_ADMIN_PORT"
UP="http://127.0.0.1:$UP_PORT"; NG="http://127.0.0.1:$NG_PORT"; GW="http://127.0.0.1:$GW_PORT"

# shellcheck source=bench/lib.sh
. "$HERE/lib.sh"

need wrk wrk
need curl curl
need taskset util-linux
need node nodejs
need_nginx
if [ "${BENCH_PROFILE:-0}" = "1" ]; then need perf linux-perf; fi
build_gatehouse

WORK="$(mktemp -d "${TMPDIR:-/tmp}/gatehouse-gateway-bench.XXXXXX")"
PIDS=""
stop_all() {
  local status=$?
  for pid in $PIDS; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in $PIDS; do
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
  done
  [ "$status" -eq 0 ] || log "failed; logs and wrk output in $WORK"
  exit "$status"
}
trap stop_all EXIT
trap 'exit 130' INT TERM

# Gatehouse issues the token and serves the JWKS the gateway reads once; it is idle during runs.
ADMIN_TOKEN="bench-admin-$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')"
GATEHOUSE_DATABASE_URL="sqlite://$WORK/bench.db" GATEHOUSE_PUBLIC_ADDR="127.0.0.1:$GH_PORT" \
GATEHOUSE_ADMIN_ADDR="127.0.0.1:$GH_ADMIN_PORT" GATEHOUSE_ADMIN_TOKEN="$ADMIN_TOKEN" GATEHOUSE_LOG=warn \
  taskset -c "$LOAD_CPU" "$BIN" serve --dev >"$WORK/gatehouse.log" 2>&1 &
GH_PID=$!; PIDS="$PIDS $GH_PID"
wait_ready "$GH/health/ready" "$GH_PID" gatehouse
client="$(curl -sf -X POST "$GH_ADMIN/admin/clients" -H "Authorization: Bearer $ADMIN_TOKEN" \
  -H 'Content-Type: application/json' \
  -d '{"client_name":"bench","grant_types":["client_credentials"],"scope":"api:read","audience":["https://api.example"]}')" \
  || die "cannot create the client"
BASIC="$(b64 "$(json_field client_id <<<"$client"):$(json_field client_secret <<<"$client")")"
TOKEN="$(curl -sf -X POST "$GH/oauth2/token" -H "Authorization: Basic $BASIC" -d grant_type=client_credentials \
  | json_field access_token)" || die "no token"

# The upstream: nginx answering a small JSON body that names the identity it was given.
nginx_conf "$WORK/upstream" "server { listen 127.0.0.1:$UP_PORT; default_type application/json;
    location / { return 200 '{\"user\":\"\$http_x_user_id\",\"tenant\":\"\$http_x_tenant_id\"}'; } }"
taskset -c "$SERVER_CPU" "$NGINX" -c "$WORK/upstream/nginx.conf" -p "$WORK/upstream" >"$WORK/upstream.log" 2>&1 &
UP_PID=$!; PIDS="$PIDS $UP_PID"
wait_ready "$UP/" "$UP_PID" upstream

# nginx as a plain reverse proxy (no authentication), keep-alive to the upstream.
nginx_conf "$WORK/proxy" "upstream app { server 127.0.0.1:$UP_PORT; keepalive 64; }
  server { listen 127.0.0.1:$NG_PORT;
    location / { proxy_pass http://app; proxy_http_version 1.1; proxy_set_header Connection \"\"; } }"
taskset -c "$SERVER_CPU" "$NGINX" -c "$WORK/proxy/nginx.conf" -p "$WORK/proxy" >"$WORK/proxy.log" 2>&1 &
NG_PID=$!; PIDS="$PIDS $NG_PID"
wait_ready "$NG/" "$NG_PID" proxy

# The gateway: jwt authenticator against Gatehouse's JWKS, identity headers to the upstream.
cat >"$WORK/rules.json" <<JSON
[
  {
    "id": "bench",
    "match": {"url": "http://<**>", "methods": ["GET"]},
    "upstream": {"url": "$UP"},
    "authenticators": [{"handler": "jwt", "config": {
      "jwks_urls": ["$GH/.well-known/jwks.json"], "trusted_issuers": ["$GH"]}}],
    "authorizer": {"handler": "allow"},
    "mutators": [{"handler": "header", "config": {"headers": {
      "X-User-ID": "{{ subject }}", "X-Tenant-ID": "{{ claims.tenant_id }}"}}}]
  }
]
JSON
GATEHOUSE_LOG=warn taskset -c "$SERVER_CPU" "$BIN" gateway --rules "$WORK/rules.json" \
  --proxy-addr "127.0.0.1:$GW_PORT" --api-addr "127.0.0.1:$GW_API_PORT" >"$WORK/gateway.log" 2>&1 &
GW_PID=$!; PIDS="$PIDS $GW_PID"
wait_ready "http://127.0.0.1:$GW_API_PORT/health/ready" "$GW_PID" gateway
TARGETS="upstream nginx gateway"
if [ -n "${BENCH_GATEWAY_BASELINE:-}" ]; then
  GB_PORT=$((PORT_BASE + 7)); GB_API_PORT=$((PORT_BASE + 8)); GB="http://127.0.0.1:$GB_PORT"
  GATEHOUSE_LOG=warn taskset -c "$SERVER_CPU" "$BENCH_GATEWAY_BASELINE" gateway --rules "$WORK/rules.json" \
    --proxy-addr "127.0.0.1:$GB_PORT" --api-addr "127.0.0.1:$GB_API_PORT" >"$WORK/gateway-baseline.log" 2>&1 &
  GB_PID=$!; PIDS="$PIDS $GB_PID"
  wait_ready "http://127.0.0.1:$GB_API_PORT/health/ready" "$GB_PID" gateway-baseline
  TARGETS="upstream nginx gateway-baseline gateway"
fi

# The gateway really authenticates: no token is refused, the token's subject reaches the upstream.
[ "$(curl -s -o /dev/null -w '%{http_code}' "$GW/")" = "401" ] || die "the gateway let an anonymous request through"
seen="$(curl -sf -H "Authorization: Bearer $TOKEN" "$GW/")" || die "the gateway refused the token"
grep -q "\"user\":\"$(json_field client_id <<<"$client")\"" <<<"$seen" || die "no X-User-ID upstream: $seen"

export BENCH_DIR="$HERE"
declare -A R
measure() { # KEY PID URL [VAR=VALUE...]
  local key="$1" pid="$2" url="$3"; shift 3
  R[$key]="$(run_wrk_pid "$pid" "$key" "$url" get.lua "$@")"
  R[$key,1]="$(CONNS=1 run_wrk_pid "$pid" "$key-c1" "$url" get.lua "$@")"
}
measure upstream "$UP_PID" "$UP/"
measure nginx "$NG_PID" "$NG/"
if [ -n "${GB_PID:-}" ]; then measure gateway-baseline "$GB_PID" "$GB/" "BENCH_AUTHORIZATION=Bearer $TOKEN"; fi
measure gateway "$GW_PID" "$GW/" "BENCH_AUTHORIZATION=Bearer $TOKEN"

ms() { awk -v us="$1" 'BEGIN { printf "%.3f", us / 1000 }'; }
{
  echo
  echo "wrk -t1 -d$DURATION (after a $WARMUP warm-up); servers on core $SERVER_CPU, wrk on core $LOAD_CPU; latencies in ms"
  echo
  echo "| target | req/s (c$CONNS) | p50 | p99 | p50 (c1) | p99 (c1) | added p50 (c1) |"
  echo "|---|---:|---:|---:|---:|---:|---:|"
  read -r _ up50 _ <<<"${R[upstream,1]}"
  for key in $TARGETS; do
    read -r rps p50 p99 <<<"${R[$key]}"
    read -r _ l50 l99 <<<"${R[$key,1]}"
    echo "| $key | $(printf '%.0f' "$rps") | $(ms "$p50") | $(ms "$p99") | $(ms "$l50") | $(ms "$l99") | $(ms $((l50 - up50))) |"
  done
  echo
  read -r gw _ <<<"${R[gateway]}"; read -r ng _ <<<"${R[nginx]}"
  read -r _ gw50 _ <<<"${R[gateway,1]}"
  awk -v g="$gw" -v n="$ng" 'BEGIN { r = g / n * 100;
    printf "target throughput >= 80%% of nginx: %.0f%%  %s\n", r, (r >= 80) ? "MET" : "MISSED" }'
  if [ -n "${GB_PID:-}" ]; then
    read -r gb _ <<<"${R[gateway-baseline]}"
    awk -v g="$gw" -v b="$gb" -v n="$ng" 'BEGIN {
      printf "gateway-baseline: %.0f%% of nginx; gateway / gateway-baseline: %.2f\n", b / n * 100, g / b }'
  fi
  awk -v a="$((gw50 - up50))" 'BEGIN {
    printf "target added p50 < 0.2 ms: %.3f ms  %s\n", a / 1000, (a < 200) ? "MET" : "MISSED" }'
} | tee "$WORK/table.md"

if [ "${BENCH_PROFILE:-0}" = "1" ]; then
  log "profiling the gateway (perf record, 5 s under wrk -c$CONNS)"
  BENCH_AUTHORIZATION="Bearer $TOKEN" taskset -c "$LOAD_CPU" wrk -t1 -c"$CONNS" -d10s \
    -s "$HERE/get.lua" "$GW/" >"$WORK/wrk-profile.txt" &
  WRK_PID=$!
  sleep 3
  taskset -c "$LOAD_CPU" perf record -F 999 -g -o "$WORK/perf.data" -p "$GW_PID" -- sleep 5 \
    >"$WORK/perf-record.log" 2>&1 || log "perf record failed (see $WORK/perf-record.log)"
  wait "$WRK_PID" || true
  if [ -s "$WORK/perf.data" ]; then
    perf report -i "$WORK/perf.data" --no-children --stdio -g none --percent-limit 0.4 2>/dev/null \
      | grep -v -e '^#' -e '^$' | tee "$WORK/perf-report.txt"
  fi
fi

log "raw wrk output, logs and table: $WORK"
[ ! -s "$WORK/failed" ] || die "runs with errors, whose figures are not valid: $(tr '\n' ' ' <"$WORK/failed")"
