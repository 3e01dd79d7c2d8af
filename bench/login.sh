#!/usr/bin/env bash
# Login throughput beside the argon2 ceiling: self-service password logins per second on one
# server core, next to the argon2id hashes per second that core computes with the same
# parameters (a login is one argon2id verification, so the hash rate is the ceiling), and the
# "no enumeration by timing" check: a wrong password for an unknown address costs what a wrong
# password for a known one does.
#
#   bash bench/login.sh
#
# 1. `cargo run --release --example argon2_rate -p gatehouse-domain` (built first, then run
#    pinned to the server core): argon2id with `HashParams::default()` on one thread.
# 2. `gatehouse serve --dev` on a fresh SQLite database, pinned to the server core,
#    GATEHOUSE_LOG=warn, with a configuration file that raises the `[throttling]` budgets (the
#    per-IP self-service POST budget, 60/min by default, would refuse the run after a second;
#    the failure budgets, for the wrong-password runs). BENCH_IDENTITIES identities with a
#    password are created through `POST /admin/identities`.
# 3. wrk (core 1) with login.lua: each connection alternates `GET /self-service/login/api` and
#    `POST /self-service/login?flow=` (JSON identifier + password), spread over the identities.
#    Runs: right passwords (must all answer 200 with a session token), then wrong passwords for
#    known addresses and for unknown ones (must all answer 400 "invalid credentials"). Each at
#    -c$BENCH_CONNECTIONS (closed loop: the throughput limit; latency includes queueing behind
#    the other connections' hashes) and at -c1 (the latency of one login). One wrk thread per
#    connection, so the script knows which request an answer belongs to and times the POSTs
#    itself.
#
# Knobs as in run.sh and gateway.sh: BENCH_DURATION (20s), BENCH_WARMUP (3s),
# BENCH_CONNECTIONS (8), BENCH_SERVER_CPU (0), BENCH_LOAD_CPU (1), BENCH_PORT_BASE (18600),
# BENCH_SKIP_BUILD, CARGO_TARGET_DIR, BENCH_WAIT_QUIET; and BENCH_IDENTITIES (100),
# BENCH_ARGON2_SECONDS (5).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(dirname "$HERE")"

DURATION="${BENCH_DURATION:-20s}"
WARMUP="${BENCH_WARMUP:-3s}"
CONNS="${BENCH_CONNECTIONS:-8}"
SERVER_CPU="${BENCH_SERVER_CPU:-0}"
LOAD_CPU="${BENCH_LOAD_CPU:-1}"
PORT_BASE="${BENCH_PORT_BASE:-18600}"
IDENTITIES="${BENCH_IDENTITIES:-100}"
ARGON2_SECONDS="${BENCH_ARGON2_SECONDS:-5}"

GH_PORT=$((PORT_BASE + 1)); GH_ADMIN_PORT=$((PORT_BASE + 2))
GH="http://127.0.0.1:$GH_PORT"; GH_ADMIN="http://127.0.0.1:$GH_ADMIN_PORT"

# shellcheck source=bench/lib.sh
. "$HERE/lib.sh"

need wrk wrk
need curl curl
need taskset util-linux
need node nodejs
build_gatehouse
TARGET_DIR="$(dirname "$(dirname "$BIN")")"
ARGON2_BIN="$TARGET_DIR/release/examples/argon2_rate"
if [ "${BENCH_SKIP_BUILD:-0}" != "1" ]; then
  log "cargo build --release --example argon2_rate -p gatehouse-domain"
  (cd "$ROOT" && CARGO_TARGET_DIR="$TARGET_DIR" cargo build --release --example argon2_rate -p gatehouse-domain)
fi
[ -x "$ARGON2_BIN" ] || die "no binary at $ARGON2_BIN"

WORK="$(mktemp -d "${TMPDIR:-/tmp}/gatehouse-login-bench.XXXXXX")"
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

# The ceiling, first, while nothing else of ours runs: argon2id hashes/s on the server core.
# Contention: the core's busy time that was not the example's own CPU time.
wait_quiet
log "argon2_rate ${ARGON2_SECONDS}s on core $SERVER_CPU"
c0="$(core_ticks "$SERVER_CPU")"
TIMEFORMAT='%R %U %S'
{ time taskset -c "$SERVER_CPU" "$ARGON2_BIN" "$ARGON2_SECONDS" >"$WORK/argon2.txt"; } 2>"$WORK/argon2-time.txt"
c1="$(core_ticks "$SERVER_CPU")"
ARGON2_LINE="$(grep '^BENCH_RESULT' "$WORK/argon2.txt")" || die "no result from argon2_rate"
HASHES_PER_S="$(sed -n 's/.*hashes_per_s=\([0-9.]*\).*/\1/p' <<<"$ARGON2_LINE")"
read -r real user sys <"$WORK/argon2-time.txt"
ARGON2_OTHER="$(awk -v c=$((c1 - c0)) -v hz="$HZ" -v r="$real" -v u="$user" -v s="$sys" \
  'BEGIN { o = (c / hz - u - s) / r * 100; if (o < 0) o = 0; printf "%.0f", o }')"
echo "argon2 other_load_on_server_core=${ARGON2_OTHER}%" >>"$WORK/contention.txt"
log "argon2id: $HASHES_PER_S hashes/s ($ARGON2_LINE), ${ARGON2_OTHER}% of the core to others"

# Throttling stays on (every failure is written and every attempt reads the history), with
# budgets no run reaches: a 1 s window keeps the failure history each check reads short, so
# the later runs do not pay for the earlier runs' failures.
cat >"$WORK/gatehouse.toml" <<'TOML'
[throttling]
self_service_per_ip_per_minute = 10000000
login_failures_per_identifier = 100000
login_failures_per_ip = 100000
login_failure_window = "1s"
login_max_backoff = "1s"
TOML
ADMIN_TOKEN="bench-admin-$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')"
PASSWORD="Bench-login-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')-staple"
GATEHOUSE_CONFIG="$WORK/gatehouse.toml" GATEHOUSE_DATABASE_URL="sqlite://$WORK/bench.db" \
GATEHOUSE_PUBLIC_ADDR="127.0.0.1:$GH_PORT" GATEHOUSE_ADMIN_ADDR="127.0.0.1:$GH_ADMIN_PORT" \
GATEHOUSE_ADMIN_TOKEN="$ADMIN_TOKEN" GATEHOUSE_LOG=warn \
  taskset -c "$SERVER_CPU" "$BIN" serve --dev >"$WORK/gatehouse.log" 2>&1 &
GH_PID=$!; PIDS="$PIDS $GH_PID"
wait_ready "$GH/health/ready" "$GH_PID" gatehouse

log "creating $IDENTITIES identities"
for i in $(seq 0 $((IDENTITIES - 1))); do
  code="$(curl -s -o "$WORK/identity.json" -w '%{http_code}' -X POST "$GH_ADMIN/admin/identities" \
    -H "Authorization: Bearer $ADMIN_TOKEN" -H 'Content-Type: application/json' \
    -d "{\"schema_id\":\"default\",\"traits\":{\"email\":\"bench-$i@login.example\"},\"credentials\":{\"password\":{\"config\":{\"password\":\"$PASSWORD\"}}}}")"
  [ "$code" = "201" ] || [ "$code" = "200" ] || die "cannot create identity $i ($code): $(cat "$WORK/identity.json")"
done

# The flows work as login.lua expects before anything is measured.
login_once() { # IDENTIFIER PASSWORD -> status, body in $WORK/login.json
  local flow
  flow="$(curl -sf -H 'Accept: application/json' "$GH/self-service/login/api" | json_field id)" || die "no login flow"
  curl -s -o "$WORK/login.json" -w '%{http_code}' -X POST "$GH/self-service/login?flow=$flow" \
    -H 'Accept: application/json' -H 'Content-Type: application/json' \
    -d "{\"identifier\":\"$1\",\"password\":\"$2\"}"
}
[ "$(login_once bench-0@login.example "$PASSWORD")" = "200" ] && grep -q session_token "$WORK/login.json" \
  || die "the right password did not sign in: $(cat "$WORK/login.json")"
[ "$(login_once bench-0@login.example "$PASSWORD-wrong")" = "400" ] \
  || die "a wrong password did not answer 400: $(cat "$WORK/login.json")"
[ "$(login_once nobody@login.example "$PASSWORD-wrong")" = "400" ] \
  || die "an unknown address did not answer 400: $(cat "$WORK/login.json")"

export BENCH_DIR="$HERE" BENCH_PASSWORD="$PASSWORD" BENCH_IDENTITIES="$IDENTITIES"

# run_login NAME CONNECTIONS MODE -> prints "per_s p50_us p99_us mean_us other%": as lib.sh's
# run_wrk_pid (quiet machine, warm-up, contention on the server core), one wrk thread per
# connection; any answer other than the mode's expected one marks the run failed.
run_login() {
  local name="$1" conns="$2" mode="$3" out="$WORK/wrk-$1.txt" line other
  wait_quiet
  BENCH_LOGIN_MODE="$mode" taskset -c "$LOAD_CPU" wrk -t"$conns" -c"$conns" -d"$WARMUP" --timeout 10s \
    -s "$HERE/login.lua" "$GH" >"$WORK/wrk-$name-warmup.txt"
  kill -0 "$GH_PID" 2>/dev/null || die "gatehouse exited before $name (log: $WORK/gatehouse.log)"
  local core0 proc0 core1 proc1
  core0="$(core_ticks "$SERVER_CPU")"; proc0="$(proc_ticks "$GH_PID")"
  BENCH_LOGIN_MODE="$mode" taskset -c "$LOAD_CPU" wrk -t"$conns" -c"$conns" -d"$DURATION" --timeout 10s \
    --latency -s "$HERE/login.lua" "$GH" >"$out"
  core1="$(core_ticks "$SERVER_CPU")"
  proc1="$(proc_ticks "$GH_PID")" || die "gatehouse exited during $name (log: $WORK/gatehouse.log)"
  other="$(awk -v c=$((core1 - core0)) -v p=$((proc1 - proc0)) -v d="${DURATION%s}" -v hz="$HZ" \
    'BEGIN { o = (c - p) / (d * hz) * 100; if (o < 0) o = 0; printf "%.0f", o }')"
  echo "$name other_load_on_server_core=${other}%" >>"$WORK/contention.txt"
  if [ "$other" -gt "${BENCH_MAX_OTHER_LOAD:-10}" ]; then
    log "WARNING: $name: ${other}% of the server's core went to other processes during the run"
    echo "$name (contention ${other}%)" >>"$WORK/contended"
  fi
  line="$(grep '^BENCH_LOGIN' "$out")" || die "no result line in $out"
  local sock posts expected unexpected getf rate p50 p99 mean statuses
  sock="$(sed -n 's/^BENCH_RESULT.* socket_errors=\([0-9]*\).*/\1/p' "$out")"
  # shellcheck disable=SC2086
  set -- $line
  posts="${2#posts=}" expected="${3#expected=}" unexpected="${4#unexpected=}" getf="${5#get_failures=}"
  rate="${6#posts_per_s=}" p50="${7#p50_us=}" p99="${8#p99_us=}" mean="${9#mean_us=}" statuses="${10#statuses=}"
  if [ "$unexpected" != "0" ] || [ "$getf" != "0" ] || [ "$sock" != "0" ] || [ "$posts" = "0" ]; then
    log "WARNING: $name: $unexpected unexpected answers (statuses $statuses), $getf failed flow requests, $sock socket errors (see $out)"
    echo "$name" >>"$WORK/failed"
  fi
  log "$name: $rate per s ($expected of $posts POSTs as expected, statuses $statuses), p50 ${p50} µs, p99 ${p99} µs"
  echo "$rate $p50 $p99 $mean $other"
}

declare -A R
for mode in ok wrong-known wrong-unknown; do
  R[$mode]="$(run_login "$mode-c$CONNS" "$CONNS" "$mode")"
  R[$mode,1]="$(run_login "$mode-c1" 1 "$mode")"
done

ms() { awk -v us="$1" 'BEGIN { printf "%.1f", us / 1000 }'; }
pct() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.0f%%", a / b * 100 }'; }
{
  echo
  echo "argon2id m=19456 KiB, t=2, p=1 (HashParams::default()); server and argon2_rate on core $SERVER_CPU,"
  echo "wrk -tN -cN -d$DURATION (after a $WARMUP warm-up) on core $LOAD_CPU; POST latencies in ms"
  echo
  echo "| measure | per s | % of argon2 ceiling | p50 | p99 | mean | other load on server core |"
  echo "|---|---:|---:|---:|---:|---:|---:|"
  echo "| argon2id hashes, 1 thread (ceiling) | $(printf '%.1f' "$HASHES_PER_S") | 100% | $(awk -v r="$HASHES_PER_S" 'BEGIN { printf "%.1f", 1000 / r }') | | | ${ARGON2_OTHER}% |"
  for mode in ok wrong-known wrong-unknown; do
    case "$mode" in
      ok) label="logins (200)" ;;
      wrong-known) label="wrong password, known address (400)" ;;
      wrong-unknown) label="wrong password, unknown address (400)" ;;
    esac
    for c in "$CONNS" 1; do
      key="$mode"; [ "$c" = 1 ] && key="$mode,1"
      read -r rate p50 p99 mean other <<<"${R[$key]}"
      echo "| $label, c$c | $(printf '%.1f' "$rate") | $(pct "$rate" "$HASHES_PER_S") | $(ms "$p50") | $(ms "$p99") | $(ms "$mean") | ${other}% |"
    done
  done
  echo
  read -r _ k50 _ kmean _ <<<"${R[wrong-known,1]}"
  read -r _ u50 _ umean _ <<<"${R[wrong-unknown,1]}"
  awk -v k="$k50" -v u="$u50" -v km="$kmean" -v um="$umean" 'BEGIN { d = (u - k) / k * 100;
    printf "no enumeration by timing (c1): p50 known %.1f ms, unknown %.1f ms (%+.1f%%); mean %.1f vs %.1f ms  %s\n",
      k / 1000, u / 1000, d, km / 1000, um / 1000, (d < 10 && d > -10) ? "SAME (within 10%)" : "DIFFERENT" }'
} | tee "$WORK/table.md"
echo
cat "$WORK/contention.txt"

log "raw wrk output, logs and table: $WORK"
[ ! -s "$WORK/failed" ] || die "runs with errors, whose figures are not valid: $(tr '\n' ' ' <"$WORK/failed")"
