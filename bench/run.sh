#!/usr/bin/env bash
# Gatehouse vs node-oidc-provider: client-credentials issuance, introspection, JWKS, discovery.
#
#   bash bench/run.sh              # build, start both servers, run wrk, print the table
#   BENCH_PROFILE=1 bash bench/run.sh   # also perf-profile Gatehouse's token endpoint
#
# The server under test runs on one core (taskset -c $BENCH_SERVER_CPU, default 0) and wrk on
# the other (taskset -c $BENCH_LOAD_CPU, default 1): `wrk -t1 -c32 -d10s --latency`.
# Knobs (environment): BENCH_DURATION (10s), BENCH_WARMUP (3s), BENCH_CONNECTIONS (32),
# BENCH_SERVER_CPU (0), BENCH_LOAD_CPU (1), BENCH_PORT_BASE (18400), BENCH_PROFILE (0),
# BENCH_CEILING (1: also time nginx serving the JWKS as a static file, in the Gatehouse column),
# BENCH_PROFILER (perf; falls back to callgrind when perf cannot record),
# BENCH_SKIP_BUILD (0), CARGO_TARGET_DIR (honoured), BENCH_ONLY (gatehouse|baseline|both),
# BENCH_WAIT_QUIET (300: seconds to wait before each run for the machine to be idle),
# BENCH_QUIET_BELOW (10: % busy counted as idle), BENCH_MAX_OTHER_LOAD (10: % of the server's
# core taken by other processes during a run above which the run is flagged).
# Exit status: non-zero if a run saw non-2xx responses or socket errors.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(dirname "$HERE")"

DURATION="${BENCH_DURATION:-10s}"
WARMUP="${BENCH_WARMUP:-3s}"
CONNS="${BENCH_CONNECTIONS:-32}"
SERVER_CPU="${BENCH_SERVER_CPU:-0}"
LOAD_CPU="${BENCH_LOAD_CPU:-1}"
PORT_BASE="${BENCH_PORT_BASE:-18400}"
PROFILE="${BENCH_PROFILE:-0}"
ONLY="${BENCH_ONLY:-both}"

GH_PORT=$((PORT_BASE + 1))
GH_ADMIN_PORT=$((PORT_BASE + 2))
BL_PORT=$((PORT_BASE + 3))
GH="http://127.0.0.1:${GH_PORT}"
GH_ADMIN="http://127.0.0.1:${GH_ADMIN_PORT}"
BL="http://127.0.0.1:${BL_PORT}"

# shellcheck source=bench/lib.sh
. "$HERE/lib.sh"

# ---------------------------------------------------------------------------------------------
# Tools
# ---------------------------------------------------------------------------------------------
need wrk wrk
need curl curl
need taskset util-linux
need node nodejs
need npm npm
if [ "$PROFILE" = "1" ] && [ "${BENCH_PROFILER:-perf}" = "perf" ]; then need perf linux-perf; fi
CEILING="${BENCH_CEILING:-1}"
if [ "$CEILING" = "1" ]; then need_nginx; fi
[ "$(nproc)" -ge 2 ] || log "warning: $(nproc) core(s): server and load generator will share a core"

# ---------------------------------------------------------------------------------------------
# Build Gatehouse (release) and install the baseline's npm dependencies
# ---------------------------------------------------------------------------------------------
if [ "$ONLY" != "baseline" ]; then build_gatehouse; fi

PINNED="$(node -p "require('$HERE/baseline/package.json').dependencies['oidc-provider']")"
INSTALLED="$(node -p "try { require('$HERE/baseline/node_modules/oidc-provider/package.json').version } catch { '' }")"
if [ "$INSTALLED" != "$PINNED" ]; then
  log "npm ci (oidc-provider $PINNED)"
  if [ -f "$HERE/baseline/package-lock.json" ]; then
    (cd "$HERE/baseline" && npm ci --no-audit --no-fund --loglevel=error)
  else
    (cd "$HERE/baseline" && npm install --no-audit --no-fund --loglevel=error)
  fi
fi

# ---------------------------------------------------------------------------------------------
# Servers (stopped by the trap, whatever happens)
# ---------------------------------------------------------------------------------------------
WORK="$(mktemp -d "${TMPDIR:-/tmp}/gatehouse-bench.XXXXXX")"
GH_PID=""
BL_PID=""
NG_PID=""
stop_servers() {
  local status=$?
  for pid in $GH_PID $BL_PID $NG_PID; do
    if kill -0 "$pid" 2>/dev/null; then
      kill -TERM "$pid" 2>/dev/null || true
    fi
  done
  for pid in $GH_PID $BL_PID $NG_PID; do
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
  done
  rm -f "$WORK"/bench.db "$WORK"/bench.db-shm "$WORK"/bench.db-wal
  [ "$status" -eq 0 ] || log "failed; server logs and wrk output in $WORK"
  exit "$status"
}
trap stop_servers EXIT
trap 'exit 130' INT TERM

ADMIN_TOKEN="bench-admin-$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')"

gh_client() { # STRATEGY -> "client_id client_secret"
  local body resp
  body="{\"client_name\":\"bench-$1\",\"grant_types\":[\"client_credentials\"],\"scope\":\"api:read\",\"audience\":[\"https://api.example\"],\"access_token_strategy\":\"$1\"}"
  resp="$(curl -sf -X POST "$GH_ADMIN/admin/clients" -H "Authorization: Bearer $ADMIN_TOKEN" \
    -H 'Content-Type: application/json' -d "$body")" || die "cannot create the Gatehouse client"
  printf '%s %s\n' "$(json_field client_id <<<"$resp")" "$(json_field client_secret <<<"$resp")"
}

token() { # URL BASIC [EXTRA_FORM]
  local resp
  resp="$(curl -sf -X POST "$1" -H "Authorization: Basic $2" \
    -d "grant_type=client_credentials&scope=api%3Aread${3:-}")" || die "token request to $1 failed"
  json_field access_token <<<"$resp"
}

GH_BASIC=""; GH_TOKEN=""; GH_BASIC_OPAQUE=""; GH_TOKEN_OPAQUE=""
if [ "$ONLY" != "baseline" ]; then
  log "starting Gatehouse on core $SERVER_CPU ($GH, SQLite in $WORK)"
  GATEHOUSE_DATABASE_URL="sqlite://$WORK/bench.db" \
  GATEHOUSE_PUBLIC_ADDR="127.0.0.1:$GH_PORT" \
  GATEHOUSE_ADMIN_ADDR="127.0.0.1:$GH_ADMIN_PORT" \
  GATEHOUSE_ADMIN_TOKEN="$ADMIN_TOKEN" \
  GATEHOUSE_LOG=warn \
    taskset -c "$SERVER_CPU" "$BIN" serve --dev >"$WORK/gatehouse.log" 2>&1 &
  GH_PID=$!
  wait_ready "$GH/health/ready" "$GH_PID" gatehouse
  creds="$(gh_client jwt)"
  GH_BASIC="$(b64 "${creds/ /:}")"
  GH_TOKEN="$(token "$GH/oauth2/token" "$GH_BASIC")"
  creds="$(gh_client opaque)"
  GH_BASIC_OPAQUE="$(b64 "${creds/ /:}")"
  GH_TOKEN_OPAQUE="$(token "$GH/oauth2/token" "$GH_BASIC_OPAQUE")"
fi

BL_ID="bench"
BL_SECRET="bench-secret-$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')"
BL_BASIC="$(b64 "$BL_ID:$BL_SECRET")"
BL_TOKEN=""; BL_TOKEN_OPAQUE=""
if [ "$ONLY" != "gatehouse" ]; then
  log "starting oidc-provider $PINNED on core $SERVER_CPU ($BL, node $(node --version))"
  (cd "$HERE/baseline" && BASELINE_PORT="$BL_PORT" BASELINE_CLIENT_ID="$BL_ID" \
    BASELINE_CLIENT_SECRET="$BL_SECRET" NODE_ENV=production \
    exec taskset -c "$SERVER_CPU" node server.mjs) >"$WORK/baseline.log" 2>&1 &
  BL_PID=$!
  wait_ready "$BL/.well-known/openid-configuration" "$BL_PID" baseline
  BL_TOKEN="$(token "$BL/token" "$BL_BASIC")"
  # oidc-provider refuses to introspect JWT access tokens: introspect an opaque one.
  BL_TOKEN_OPAQUE="$(token "$BL/token" "$BL_BASIC" "&resource=https%3A%2F%2Fopaque.api.example")"
fi
# The machine's ceiling for a small static GET: nginx (one worker, on the server's core) serving
# a copy of Gatehouse's JWKS from a file. No application server does much better than this here.
NG_PORT=$((PORT_BASE + 4))
NG="http://127.0.0.1:${NG_PORT}"
if [ "$CEILING" = "1" ] && [ "$ONLY" != "baseline" ]; then
  mkdir -p "$WORK/nginx/www/.well-known"
  curl -sf "$GH/.well-known/jwks.json" >"$WORK/nginx/www/.well-known/jwks.json"
  nginx_conf "$WORK/nginx" "server { listen 127.0.0.1:$NG_PORT; root $WORK/nginx/www; default_type application/json; }"
  log "starting nginx (ceiling reference) on core $SERVER_CPU ($NG)"
  taskset -c "$SERVER_CPU" "$NGINX" -c "$WORK/nginx/nginx.conf" -p "$WORK/nginx" >"$WORK/nginx.log" 2>&1 &
  NG_PID=$!
  wait_ready "$NG/.well-known/jwks.json" "$NG_PID" nginx
fi

for t in "$GH_TOKEN" "$BL_TOKEN"; do
  [ -z "$t" ] || [ "$(tr -cd . <<<"$t" | wc -c)" -eq 2 ] || die "expected a JWT access token, got $t"
done

# ---------------------------------------------------------------------------------------------
# wrk
# ---------------------------------------------------------------------------------------------
export BENCH_DIR="$HERE"

run_wrk() { # NAME URL SCRIPT [VAR=VALUE...]: the server under test is known by NAME's suffix
  local pid="$GH_PID"
  case "$1" in *-baseline) pid="$BL_PID" ;; *-nginx) pid="$NG_PID" ;; esac
  run_wrk_pid "$pid" "$@"
}

declare -A R
bench() { # KEY GH_URL GH_SCRIPT GH_VARS | BL_URL BL_SCRIPT BL_VARS  (vars space-separated)
  local key="$1"
  if [ "$ONLY" != "baseline" ] && [ -n "$2" ]; then
    # shellcheck disable=SC2086
    R[$key,gh]="$(run_wrk "$key-gatehouse" "$2" "$3" $4)"
  fi
  if [ "$ONLY" != "gatehouse" ] && [ -n "$5" ]; then
    # shellcheck disable=SC2086
    R[$key,bl]="$(run_wrk "$key-baseline" "$5" "$6" $7)"
  fi
}

ENDPOINTS=(token introspect introspect_opaque jwks discovery jwks_ceiling)
declare -A LABEL=(
  [token]="token: client_credentials (JWT ES256)"
  [introspect]="introspect (GH: JWT, baseline: opaque)"
  [introspect_opaque]="introspect (opaque, both)"
  [jwks]="JWKS"
  [discovery]="discovery"
  [jwks_ceiling]="ceiling: nginx, same JWKS as a static file"
)
bench token "$GH/oauth2/token" token.lua "BENCH_BASIC=$GH_BASIC" \
  "$BL/token" token.lua "BENCH_BASIC=$BL_BASIC"
bench introspect "$GH/oauth2/introspect" introspect.lua "BENCH_BASIC=$GH_BASIC BENCH_TOKEN=$GH_TOKEN" \
  "$BL/token/introspection" introspect.lua "BENCH_BASIC=$BL_BASIC BENCH_TOKEN=$BL_TOKEN_OPAQUE"
bench introspect_opaque "$GH/oauth2/introspect" introspect.lua "BENCH_BASIC=$GH_BASIC_OPAQUE BENCH_TOKEN=$GH_TOKEN_OPAQUE" \
  "" "" ""
bench jwks "$GH/.well-known/jwks.json" get.lua "" "$BL/jwks" get.lua ""
bench discovery "$GH/.well-known/openid-configuration" get.lua "" \
  "$BL/.well-known/openid-configuration" get.lua ""
if [ -n "$NG_PID" ]; then
  R[jwks_ceiling,gh]="$(run_wrk jwks-nginx "$NG/.well-known/jwks.json" get.lua)"
fi
# The baseline's opaque introspection is the same run as its `introspect` row.
[ -z "${R[introspect,bl]:-}" ] || R[introspect_opaque,bl]="${R[introspect,bl]}"

# ---------------------------------------------------------------------------------------------
# Table
# ---------------------------------------------------------------------------------------------
ms() { awk -v us="$1" 'BEGIN { printf "%.2f", us / 1000 }'; }
cell() { # "rps p50 p99" -> "rps | p50 | p99"
  if [ -z "$1" ]; then printf '%s | %s | %s' - - -; return; fi
  # shellcheck disable=SC2086
  set -- $1
  printf '%.0f | %s | %s' "$1" "$(ms "$2")" "$(ms "$3")"
}
{
  echo
  echo "wrk -t1 -c$CONNS -d$DURATION (after a $WARMUP warm-up); server on core $SERVER_CPU, wrk on core $LOAD_CPU; latencies in ms"
  echo
  echo "| endpoint | Gatehouse req/s | p50 | p99 | oidc-provider $PINNED req/s | p50 | p99 | ratio GH/baseline |"
  echo "|---|---:|---:|---:|---:|---:|---:|---:|"
  for key in "${ENDPOINTS[@]}"; do
    gh="${R[$key,gh]:-}"; bl="${R[$key,bl]:-}"; ratio="-"
    if [ -n "$gh" ] && [ -n "$bl" ]; then
      ratio="$(awk -v a="${gh%% *}" -v b="${bl%% *}" 'BEGIN { printf "%.2fx", a / b }')"
    fi
    echo "| ${LABEL[$key]} | $(cell "$gh") | $(cell "$bl") | $ratio |"
  done
  echo
  target() { # KEY NAME GOAL
    local v="${R[$1,gh]:-}"
    [ -n "$v" ] || return 0
    awk -v r="${v%% *}" -v g="$3" -v n="$2" 'BEGIN {
      printf "target %-32s >= %6d req/s: %8.0f req/s  %s\n", n, g, r,
        (r >= g) ? "MET" : sprintf("MISSED by %.0f%%", (1 - r / g) * 100) }'
  }
  target token "client-credentials tokens" 20000
  target jwks "JWKS" 50000
  echo
} | tee "$WORK/table.md"

# ---------------------------------------------------------------------------------------------
# Optional: profile the token endpoint under load
# ---------------------------------------------------------------------------------------------
# perf where the kernel lets us (BENCH_PROFILER=perf, the default), else callgrind: a second
# Gatehouse under valgrind on the same database, driven gently for a few seconds.
profile_with_callgrind() {
  need valgrind valgrind
  local port=$((PORT_BASE + 5)) admin=$((PORT_BASE + 6)) vg_pid
  log "profiling with callgrind instead (a second Gatehouse under valgrind on :$port)"
  GATEHOUSE_DATABASE_URL="sqlite://$WORK/bench.db" \
  GATEHOUSE_PUBLIC_ADDR="127.0.0.1:$port" \
  GATEHOUSE_ADMIN_ADDR="127.0.0.1:$admin" \
  GATEHOUSE_ADMIN_TOKEN="$ADMIN_TOKEN" \
  GATEHOUSE_LOG=warn \
    taskset -c "$SERVER_CPU" valgrind --tool=callgrind --callgrind-out-file="$WORK/callgrind.out" \
    "$BIN" serve --dev >"$WORK/callgrind.log" 2>&1 &
  vg_pid=$!
  GH_PID="$GH_PID $vg_pid"  # stopped by the trap too
  wait_ready "http://127.0.0.1:$port/health/ready" "$vg_pid" callgrind
  BENCH_BASIC="$GH_BASIC" taskset -c "$LOAD_CPU" wrk -t1 -c4 -d10s -s "$HERE/token.lua" \
    "http://127.0.0.1:$port/oauth2/token" >"$WORK/wrk-profile.txt" || true
  kill -TERM "$vg_pid"
  for _ in $(seq 300); do kill -0 "$vg_pid" 2>/dev/null || break; sleep 0.1; done
  [ -s "$WORK/callgrind.out" ] || { log "callgrind wrote nothing (see $WORK/callgrind.log)"; return 0; }
  callgrind_annotate "$WORK/callgrind.out" 2>/dev/null | awk 'NR <= 60' | tee "$WORK/callgrind-report.txt"
}

if [ "$PROFILE" = "1" ] && [ -n "$GH_PID" ]; then
  PROFILER="${BENCH_PROFILER:-perf}"
  wait_quiet
  if [ "$PROFILER" = "perf" ]; then
    log "profiling Gatehouse's token endpoint (perf record, 5 s under wrk load)"
    BENCH_BASIC="$GH_BASIC" taskset -c "$LOAD_CPU" wrk -t1 -c"$CONNS" -d10s -s "$HERE/token.lua" \
      "$GH/oauth2/token" >"$WORK/wrk-profile.txt" &
    WRK_PID=$!
    sleep 3
    # DWARF unwinding: the release build keeps line tables but no frame pointers.
    taskset -c "$LOAD_CPU" perf record -F 499 --call-graph dwarf,16384 -o "$WORK/perf.data" \
      -p "$GH_PID" -- sleep 5 >"$WORK/perf-record.log" 2>&1 || PROFILER=callgrind
    wait "$WRK_PID" || true
    if [ "$PROFILER" = "perf" ] && [ -s "$WORK/perf.data" ]; then
      perf report -i "$WORK/perf.data" --no-children --stdio -g none 2>/dev/null \
        | grep -v -e '^#' -e '^$' | awk 'NR <= 60' | tee "$WORK/perf-report.txt"
      if command -v python3 >/dev/null 2>&1; then
        echo
        perf script -i "$WORK/perf.data" 2>/dev/null | python3 "$HERE/profile_summary.py" \
          | tee "$WORK/perf-summary.txt"
      fi
    else
      log "perf record failed (see $WORK/perf-record.log)"
      PROFILER=callgrind
    fi
  fi
  if [ "$PROFILER" = "callgrind" ]; then profile_with_callgrind; fi
fi

log "raw wrk output, logs and table: $WORK"
if [ -s "$WORK/contended" ]; then
  log "WARNING: runs shared the server's core with other work: $(tr '\n' ' ' <"$WORK/contended")"
  log "         their figures are low; rerun on a quiet machine"
fi
[ ! -s "$WORK/failed" ] || die "runs with errors, whose figures are not valid: $(tr '\n' ' ' <"$WORK/failed")"
