# Shared by bench/*.sh: logging, installs, readiness, and the measured wrk run.
# Expects HERE (bench/), WORK (a temp dir), CONNS, WARMUP, DURATION, SERVER_CPU, LOAD_CPU.

log() { printf '==> %s\n' "$*" >&2; }
die() { printf 'bench: %s\n' "$*" >&2; exit 1; }

SUDO=""
if [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null 2>&1; then SUDO="sudo"; fi
APT_UPDATED=0
apt_install() {
  command -v apt-get >/dev/null 2>&1 || die "need $*: install it (no apt-get here)"
  if [ "$APT_UPDATED" -eq 0 ]; then
    log "apt-get update"
    $SUDO apt-get update -qq
    APT_UPDATED=1
  fi
  log "apt-get install -y $*"
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "$@" >/dev/null
}
need() { # need COMMAND DEBIAN_PACKAGE
  command -v "$1" >/dev/null 2>&1 || apt_install "$2"
}
need_nginx() { # -> sets NGINX
  if ! command -v nginx >/dev/null 2>&1 && [ ! -x /usr/sbin/nginx ]; then
    apt_install nginx-light || apt_install nginx
  fi
  NGINX="$(command -v nginx || echo /usr/sbin/nginx)"
}

wait_ready() { # URL PID NAME
  for _ in $(seq 600); do
    kill -0 "$2" 2>/dev/null || die "$3 exited during start-up (log: $WORK/$3.log)"
    if [ "$(curl -s -o /dev/null -w '%{http_code}' "$1" || true)" = "200" ]; then return 0; fi
    sleep 0.1
  done
  die "$3 not ready after 60 s (log: $WORK/$3.log)"
}

json_field() { # FIELD  (JSON on stdin)
  node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const v=JSON.parse(s)[process.argv[1]];if(v===undefined){console.error(s);process.exit(1)}console.log(v)})' "$1"
}

b64() { printf '%s' "$1" | base64 -w0; }

HZ="$(getconf CLK_TCK)"
core_ticks() { # CPU -> user+nice+system ticks of that core
  awk -v c="cpu$1" '$1 == c { print $2 + $3 + $4 }' /proc/stat
}
proc_ticks() { # PID -> utime+stime ticks (all threads)
  awk '{ print $14 + $15 }' "/proc/$1/stat"
}

machine_busy() { # -> % of all cores busy over one second
  local a b
  a="$(awk '$1 == "cpu" { print $2 + $3 + $4, $2 + $3 + $4 + $5 + $6 }' /proc/stat)"
  sleep 1
  b="$(awk '$1 == "cpu" { print $2 + $3 + $4, $2 + $3 + $4 + $5 + $6 }' /proc/stat)"
  awk -v a="$a" -v b="$b" 'BEGIN { split(a, x, " "); split(b, y, " ");
    t = y[2] - x[2]; printf "%.0f", (t > 0) ? (y[1] - x[1]) / t * 100 : 0 }'
}
# Waits (up to BENCH_WAIT_QUIET seconds, default 300) until the machine is idle, as the servers
# are between runs; on a shared machine, someone else's build would halve the figures.
wait_quiet() {
  local waited=0 busy
  while busy="$(machine_busy)"; [ "$busy" -gt "${BENCH_QUIET_BELOW:-10}" ]; do
    if [ "$waited" -ge "${BENCH_WAIT_QUIET:-300}" ]; then
      log "machine still ${busy}% busy; running anyway"
      return 0
    fi
    [ "$waited" -gt 0 ] || log "machine ${busy}% busy: waiting for it to be quiet"
    sleep 4; waited=$((waited + 5))
  done
}

# run_wrk_pid PID NAME URL SCRIPT [VAR=VALUE...] -> prints "rps p50_us p99_us": a warm-up, then
# a measured wrk run from the load core, with the CPU that other processes took from the server's
# core (PID: the server under test) noted; non-2xx answers or socket errors mark the run failed.
run_wrk_pid() {
  local pid="$1" name="$2" url="$3" script="$4"; shift 4
  local out="$WORK/wrk-$name.txt" line
  wait_quiet
  env "$@" taskset -c "$LOAD_CPU" wrk -t1 -c"$CONNS" -d"$WARMUP" -s "$HERE/$script" "$url" >/dev/null
  local core0 proc0 core1 proc1 other
  core0="$(core_ticks "$SERVER_CPU")"; proc0="$(proc_ticks "$pid")"
  env "$@" taskset -c "$LOAD_CPU" wrk -t1 -c"$CONNS" -d"$DURATION" --latency -s "$HERE/$script" "$url" >"$out"
  core1="$(core_ticks "$SERVER_CPU")"; proc1="$(proc_ticks "$pid")"
  line="$(grep '^BENCH_RESULT' "$out")" || die "no result line in $out"
  # CPU time spent on the server's core by anything but the server: other people's builds on
  # a shared machine. Figures from a run with much of it are not worth keeping.
  other="$(awk -v c=$((core1 - core0)) -v p=$((proc1 - proc0)) -v d="${DURATION%s}" -v hz="$HZ" \
    'BEGIN { o = (c - p) / (d * hz) * 100; if (o < 0) o = 0; printf "%.0f", o }')"
  echo "$name other_load_on_server_core=${other}%" >>"$WORK/contention.txt"
  if [ "$other" -gt "${BENCH_MAX_OTHER_LOAD:-10}" ]; then
    log "WARNING: $name: ${other}% of the server's core went to other processes during the run"
    echo "$name (contention ${other}%)" >>"$WORK/contended"
  fi
  # shellcheck disable=SC2086
  set -- $line
  local rps="${2#rps=}" p50="${3#p50_us=}" p99="${4#p99_us=}" non2xx="${6#non2xx=}" sock="${7#socket_errors=}"
  if [ "$non2xx" != "0" ] || [ "$sock" != "0" ]; then
    log "WARNING: $name: $non2xx non-2xx responses, $sock socket errors (see $out)"
    echo "$name" >>"$WORK/failed"  # run_wrk runs in a subshell: leave a mark on disk
  fi
  log "$name: $rps req/s, p50 ${p50} µs, p99 ${p99} µs"
  echo "$rps $p50 $p99"
}


# build_gatehouse: the release binary (honours CARGO_TARGET_DIR; BENCH_SKIP_BUILD=1 skips the
# build) -> sets BIN.
build_gatehouse() {
  local target_dir="${CARGO_TARGET_DIR:-$ROOT/target}"
  case "$target_dir" in /*) ;; *) target_dir="$ROOT/$target_dir" ;; esac
  BIN="$target_dir/release/gatehouse"
  if [ "${BENCH_SKIP_BUILD:-0}" != "1" ]; then
    log "cargo build --release -p gatehouse (target dir $target_dir)"
    (cd "$ROOT" && CARGO_TARGET_DIR="$target_dir" cargo build --release -p gatehouse)
  fi
  [ -x "$BIN" ] || die "no binary at $BIN"
}

# nginx_conf DIR SERVER_BLOCKS: DIR/nginx.conf for one foreground worker (pinned by the caller)
# with keep-alive clients, no access log, temp files under DIR.
nginx_conf() {
  mkdir -p "$1/tmp"
  cat >"$1/nginx.conf" <<EOF
worker_processes 1;
master_process off;
daemon off;
pid $1/nginx.pid;
error_log $1/error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  keepalive_requests 1000000;
  keepalive_timeout 60s;
  client_body_temp_path $1/tmp;
  proxy_temp_path $1/tmp;
  fastcgi_temp_path $1/tmp;
  uwsgi_temp_path $1/tmp;
  scgi_temp_path $1/tmp;
  $2
}
EOF
}
