#!/usr/bin/env bash
# "No enumeration by timing" for recovery: how long `POST /self-service/recovery` takes to answer
# for an address an identity has and for one nobody has (the bodies are identical; the time must
# be too). Requests alternate known / unknown, one at a time, so both see the same machine.
#
#   bash bench/recovery_timing.sh
#
# `gatehouse serve --dev` on a fresh SQLite database (release build, or BENCH_BIN=path to use a
# built binary), pinned to BENCH_SERVER_CPU (0), with the self-service budgets raised so the run
# is not throttled; BENCH_IDENTITIES (20) identities; BENCH_ROUNDS (200) pairs of requests. The
# per-address code budget (10 an hour) is raised too. Prints p50 / mean / p90 for each side.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(dirname "$HERE")"
SERVER_CPU="${BENCH_SERVER_CPU:-0}"
PORT_BASE="${BENCH_PORT_BASE:-18700}"
IDENTITIES="${BENCH_IDENTITIES:-20}"
ROUNDS="${BENCH_ROUNDS:-200}"
GH="http://127.0.0.1:$((PORT_BASE + 1))"
GH_ADMIN="http://127.0.0.1:$((PORT_BASE + 2))"
ADMIN_TOKEN="bench-admin-token-0123456789abcdef"

# shellcheck source=bench/lib.sh
. "$HERE/lib.sh"
need curl curl
need taskset util-linux
need python3 python3
if [ -n "${BENCH_BIN:-}" ]; then BIN="$BENCH_BIN"; else build_gatehouse; fi

WORK="$(mktemp -d "${TMPDIR:-/tmp}/gatehouse-bench.XXXXXX")"
SERVER_PID=""
cleanup() {
  [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

cat >"$WORK/gatehouse.toml" <<EOF
[throttling]
self_service_per_ip_per_minute = 1000000

[selfservice.recovery]
codes_per_address_per_hour = 1000000
EOF

log "starting gatehouse on core $SERVER_CPU"
GATEHOUSE_CONFIG="$WORK/gatehouse.toml" \
GATEHOUSE_DATABASE_URL="sqlite://$WORK/db.sqlite" \
GATEHOUSE_PUBLIC_ADDR="127.0.0.1:$((PORT_BASE + 1))" \
GATEHOUSE_ADMIN_ADDR="127.0.0.1:$((PORT_BASE + 2))" \
GATEHOUSE_ISSUER="$GH" \
GATEHOUSE_ADMIN_TOKEN="$ADMIN_TOKEN" \
GATEHOUSE_LOG=warn \
  taskset -c "$SERVER_CPU" "$BIN" serve --dev >"$WORK/gatehouse.log" 2>&1 &
SERVER_PID=$!
wait_ready "$GH/health/ready" "$SERVER_PID" gatehouse

log "creating $IDENTITIES identities"
for i in $(seq 0 $((IDENTITIES - 1))); do
  curl -sf -o /dev/null -X POST "$GH_ADMIN/admin/identities" \
    -H "Authorization: Bearer $ADMIN_TOKEN" -H 'content-type: application/json' \
    -d "{\"schema_id\":\"default\",\"traits\":{\"email\":\"known$i@example.com\"}}"
done

log "$ROUNDS rounds of one known and one unknown address"
python3 - "$GH" "$IDENTITIES" "$ROUNDS" <<'EOF'
import json, statistics, sys, time, urllib.request
base, identities, rounds = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
opener = urllib.request.build_opener()
def call(method, path, body=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(base + path, method=method, data=data,
                                 headers={"content-type": "application/json"})
    with opener.open(req) as answer:
        return answer.status, json.loads(answer.read())
times = {"known": [], "unknown": []}
for i in range(rounds):
    order = ("known", "unknown") if i % 2 else ("unknown", "known")
    for side in order:
        _, flow = call("GET", "/self-service/recovery/api")
        address = f"known{i % identities}@example.com" if side == "known" else f"nobody{i}@example.com"
        start = time.perf_counter()
        status, _ = call("POST", f"/self-service/recovery?flow={flow['id']}",
                         {"method": "code", "email": address})
        elapsed = (time.perf_counter() - start) * 1000
        assert status == 200, status
        times[side].append(elapsed)
for side, values in times.items():
    values.sort()
    p90 = values[int(len(values) * 0.9) - 1]
    print(f"{side:8} n={len(values)}  p50 {statistics.median(values):.2f} ms  "
          f"mean {statistics.mean(values):.2f} ms  p90 {p90:.2f} ms")
EOF
