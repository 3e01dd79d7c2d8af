#!/usr/bin/env bash
# Interoperability tests: starts a throwaway `gatehouse serve --dev` (fresh SQLite database,
# free loopback ports, known admin token) and runs the node:test suites in e2e/ against it
# with openid-client (oauth4webapi), jose, Chromium (playwright-core) and Authlib (PyPI); the
# courier suite starts servers of its own against aiosmtpd (PyPI), the BFF demo suite its own
# app-api and `gatehouse bff`. The Python packages are installed into a venv kept between runs.
#
# Usage, from anywhere:   bash e2e/run.sh [e2e/SUITE.test.mjs ...]   (default: every suite)
# Needs: cargo, node >= 20.19 and npm; python3 (with venv) for the courier and Authlib suites
# and openssl for the courier suite, which are skipped without them. Exits with the test run's status.
set -euo pipefail

E2E_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$E2E_DIR/.." && pwd)"

log() { printf '[e2e] %s\n' "$*" >&2; }

command -v node >/dev/null || { log "node is required (>= 20.19)"; exit 1; }
command -v npm >/dev/null || { log "npm is required"; exit 1; }
command -v cargo >/dev/null || { log "cargo is required"; exit 1; }
node -e 'const [a, b] = process.versions.node.split(".").map(Number); process.exit(a > 20 || (a === 20 && b >= 19) ? 0 : 1)' ||
  { log "node >= 20.19 is required (found $(node --version))"; exit 1; }

# The server below is configured only by this script (GATEHOUSE_LOG may still be set).
for var in $(compgen -e | grep '^GATEHOUSE_' || true); do
  [[ "$var" == GATEHOUSE_LOG ]] || unset "$var"
done

# 1. The server binary, and the example API the BFF demo suite puts behind `gatehouse bff`
#    (debug; a no-op when already up to date).
log "building gatehouse and app-api (debug)"
(cd "$ROOT" && cargo build --quiet -p gatehouse -p gatehouse-example-app-api)
TARGET="${CARGO_TARGET_DIR:-$ROOT/target}"
[[ "$TARGET" = /* ]] || TARGET="$ROOT/$TARGET"
BIN="$TARGET/debug/gatehouse"
APP_API_BIN="$TARGET/debug/app-api"
[[ -x "$BIN" ]] || { log "no binary at $BIN"; exit 1; }
[[ -x "$APP_API_BIN" ]] || { log "no binary at $APP_API_BIN"; exit 1; }

# 2. npm dependencies, exactly as locked.
log "installing npm dependencies"
if [[ -f "$E2E_DIR/package-lock.json" ]]; then
  (cd "$E2E_DIR" && npm ci --no-audit --no-fund --loglevel=error)
else
  (cd "$E2E_DIR" && npm install --no-audit --no-fund --loglevel=error)
fi

# 3. Python packages in a venv kept between runs (outside the work tree), pinned: aiosmtpd, a
#    real SMTP server for the courier suite; Authlib (with joserfc, its JOSE library) and
#    requests, the relying party of the Authlib suite. Without python3 both suites are skipped.
PY_PINS=(aiosmtpd==1.4.6 authlib==1.9.6 joserfc==1.8.0 requests==2.34.2)
VENV="${E2E_VENV:-$HOME/.cache/gatehouse/e2e-venv}"
E2E_PYTHON=""
if command -v python3 >/dev/null; then
  if ! "$VENV/bin/python" -c '
import importlib.metadata as m, sys
sys.exit(any(m.version(n) != v for n, v in (p.split("==") for p in sys.argv[1:])))
' "${PY_PINS[@]}" 2>/dev/null; then
    log "installing ${PY_PINS[*]} into $VENV"
    rm -rf "$VENV"
    python3 -m venv "$VENV"
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "${PY_PINS[@]}"
  fi
  E2E_PYTHON="$VENV/bin/python"
else
  log "python3 not found: the courier SMTP and Authlib suites will be skipped"
fi

# 4. A throwaway server.
WORK="$(mktemp -d "${TMPDIR:-/tmp}/gatehouse-e2e.XXXXXX")"
SERVER_PID=""
cleanup() {
  local status=$?
  if [[ -n "$SERVER_PID" ]] && kill -0 "$SERVER_PID" 2>/dev/null; then
    kill -TERM "$SERVER_PID" 2>/dev/null || true
    for _ in $(seq 1 50); do
      kill -0 "$SERVER_PID" 2>/dev/null || break
      sleep 0.1
    done
    kill -KILL "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
  fi
  if [[ $status -ne 0 && -s "$WORK/server.log" ]]; then
    log "server log (last 60 lines):"
    tail -n 60 "$WORK/server.log" >&2 || true
  fi
  rm -rf "$WORK"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Two distinct free loopback ports, chosen by the OS.
PUBLIC_PORT="" ADMIN_PORT=""
read -r PUBLIC_PORT ADMIN_PORT < <(node -e '
  const net = require("node:net");
  const grab = () => new Promise((ok, ko) => {
    const s = net.createServer().once("error", ko);
    s.listen(0, "127.0.0.1", () => ok(s));
  });
  (async () => {
    const a = await grab(), b = await grab();
    const ports = [a.address().port, b.address().port];
    a.close(); b.close();
    console.log(ports.join(" "));
  })();
') || true

[[ "${PUBLIC_PORT:-}" =~ ^[0-9]+$ && "${ADMIN_PORT:-}" =~ ^[0-9]+$ ]] || { log "could not pick free ports"; exit 1; }

ISSUER="http://127.0.0.1:${PUBLIC_PORT}"
ADMIN_URL="http://127.0.0.1:${ADMIN_PORT}"
ADMIN_TOKEN="e2e-admin-$(node -e 'console.log(require("node:crypto").randomBytes(24).toString("hex"))')"

# Defaults everywhere except how far ahead a rotated key is published: 2 s instead of 30 s, so
# the rotation test can watch the new key take over signing without a long wait.
KEY_PUBLISH_AHEAD_SECONDS=2
printf '[oauth2]\nkey_publish_ahead = "%ss"\n' "$KEY_PUBLISH_AHEAD_SECONDS" >"$WORK/gatehouse.toml"

log "starting gatehouse: issuer $ISSUER, admin $ADMIN_URL"
NO_COLOR=1 \
GATEHOUSE_CONFIG="$WORK/gatehouse.toml" \
GATEHOUSE_DATABASE_URL="sqlite://$WORK/e2e.db" \
GATEHOUSE_PUBLIC_ADDR="127.0.0.1:${PUBLIC_PORT}" \
GATEHOUSE_ADMIN_ADDR="127.0.0.1:${ADMIN_PORT}" \
GATEHOUSE_ISSUER="$ISSUER" \
GATEHOUSE_ADMIN_TOKEN="$ADMIN_TOKEN" \
GATEHOUSE_LOG="${GATEHOUSE_LOG:-info}" \
  "$BIN" serve --dev >"$WORK/server.log" 2>&1 </dev/null &
SERVER_PID=$!

ready=""
deadline=$((SECONDS + 30))
while ((SECONDS < deadline)); do
  if ! kill -0 "$SERVER_PID" 2>/dev/null; then
    log "gatehouse exited before it was ready"
    exit 1
  fi
  if node -e '
    fetch(process.argv[1], { signal: AbortSignal.timeout(1000) })
      .then((r) => process.exit(r.status === 200 ? 0 : 1), () => process.exit(1));
  ' "$ISSUER/health/ready" 2>/dev/null; then
    ready=1
    break
  fi
  sleep 0.1
done
[[ -n "$ready" ]] || { log "gatehouse was not ready within 30 s"; exit 1; }
log "gatehouse is ready"

# 5. The tests. The exit status of this script is theirs.
shopt -s nullglob
if [[ $# -gt 0 ]]; then
  TESTS=()
  for file in "$@"; do TESTS+=("$(cd "$(dirname "$file")" && pwd)/$(basename "$file")"); done
else
  TESTS=("$E2E_DIR"/*.test.mjs)
fi
[[ ${#TESTS[@]} -gt 0 ]] || { log "no test files in $E2E_DIR"; exit 1; }

set +e
(
  cd "$E2E_DIR" &&
  E2E_ISSUER="$ISSUER" \
  E2E_ADMIN_URL="$ADMIN_URL" \
  E2E_ADMIN_TOKEN="$ADMIN_TOKEN" \
  E2E_KEY_PUBLISH_AHEAD_SECONDS="$KEY_PUBLISH_AHEAD_SECONDS" \
  E2E_CHROMIUM="${E2E_CHROMIUM:-/usr/bin/chromium}" \
  E2E_GATEHOUSE_BIN="$BIN" \
  E2E_APP_API_BIN="$APP_API_BIN" \
  E2E_PYTHON="$E2E_PYTHON" \
    node --test --test-reporter=spec --test-timeout=60000 "${TESTS[@]}"
)
status=$?
set -e
exit "$status"
