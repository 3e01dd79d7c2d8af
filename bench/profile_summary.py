#!/usr/bin/env python3
"""Summarise `perf script` output (recorded with --call-graph dwarf) of Gatehouse under load.

Each sample is charged to the innermost frame that belongs to a known component (kernel samples
by system call), so nested tower layers are not counted for the whole request they wrap.
Frames of generic helpers (malloc, memcpy, hashbrown, alloc, core, uuid) are passed through to
the component that called them; allocator and memcpy self time are also shown on their own.

    perf script -i perf.data | python3 bench/profile_summary.py
"""
import collections
import re
import signal
import sys

signal.signal(signal.SIGPIPE, signal.SIG_DFL)  # `| head` is fine

REQUEST_ID = "request id layer (x-request-id: uuid v4 from getrandom(2))"
COMPONENTS = [
    ("ES256 sign/verify (aws-lc ECDSA P-256, nonce RNG)",
     r"(aws_lc_0_\d+_0_)?(ecdsa|ECDSA|ecp_nistz256|__ecp_nistz256|Lbignum|bignum|ec_|EC_|BN_|bn_|p256|"
     r"CRYPTO_rdrand|RAND_|rand_|CTR_DRBG|aes_hw|aes_nohw|vpaes)|aws_lc_rs::(ec|signature|rand)|"
     r"gatehouse_domain::keys::jws::SigningKey::sign"),
    ("SHA-256/512 (aws-lc digests)", r"(aws_lc_0_\d+_0_)?(sha256|sha512|SHA256|SHA512)|aws_lc_rs::digest"),
    ("JSON (serde_json)", r"serde_json|serde::|serde_core::"),
    ("base64", r"base64::"),
    ("metrics middleware + Prometheus recorder", r"gatehouse_web::metrics|metrics_util|metrics_exporter_prometheus|metrics::"),
    ("tracing (TraceLayer, spans)", r"tracing|tracing_core|tracing_subscriber|tower_http::trace"),
    (REQUEST_ID, r"tower_http::request_id"),
    ("other tower-http layers (sensitive headers, catch-panic, body limit)",
     r"tower_http::(sensitive_headers|catch_panic|limit)"),
    ("form parsing (OAuthForm)", r"gatehouse_web::extract::form|form_urlencoded|percent_encoding"),
    ("client authentication (Basic, cache, secret hash)",
     r"gatehouse_web::extract::client_auth|gatehouse_domain::secret|moka|gatehouse_web::state::ClientCache"),
    ("discovery document (built with json! per request)", r"gatehouse_web::oauth::discovery"),
    ("OAuth handlers (token claims, introspection, time, jti)", r"gatehouse_web::oauth|gatehouse_domain::oauth|time::"),
    ("AppState clone/drop (Arc refcounts)", r"gatehouse_web::state::AppState"),
    ("SQLite / sqlx", r"sqlx|sqlite3|libsqlite"),
    ("axum routing / handler glue", r"axum|tower::|matchit"),
    ("hyper HTTP/1 (parse, encode, connection)", r"hyper|httparse|http::|bytes::"),
    ("tokio runtime / mio", r"tokio|mio::"),
]
COMPILED = [(name, re.compile(pat)) for name, pat in COMPONENTS]
ALLOC = re.compile(r"^(malloc|free|cfree|_int_malloc|_int_free|__libc_calloc|__libc_malloc|__libc_free|"
                   r"realloc|_int_realloc|malloc_consolidate|tcache_get|tcache_put|__rust_alloc|__rust_dealloc)")
MEMCPY = re.compile(r"^__mem(move|set|cpy|cmp)")
SYSCALLS = [
    ("kernel: send (writev: loopback TCP, waking the client)", r"writev|sendmsg|sendto|__x64_sys_write$|ksys_write"),
    ("kernel: receive (recvfrom/read)", r"recvfrom|recvmsg|ksys_read|__x64_sys_read$|sock_read_iter"),
    ("kernel: epoll", r"epoll"),
    ("kernel: getrandom", r"getrandom"),
    ("kernel: futex / context switches (e.g. hand-offs to sqlx's SQLite threads)", r"futex|schedule"),
]


def head(sym):
    """The path a frame belongs to: generics, `<... as Trait>` and drop_in_place<...> peeled."""
    sym = re.sub(r"\+0x[0-9a-f]+$", "", sym)
    for prefix in ("core::ptr::drop_in_place<", "drop_in_place<", "<"):
        while sym.startswith(prefix):
            sym = sym[len(prefix):]
    return re.split(r"[ <>]", sym, maxsplit=1)[0]


def read_stacks(lines):
    stacks, cur = [], []
    for line in lines:
        line = line.rstrip("\n")
        if not line.strip():
            if cur:
                stacks.append(cur)
            cur = []
            continue
        if line[0] in " \t":
            parts = line.strip().split(" ", 1)
            if len(parts) == 2:
                sym, _, dso = parts[1].rpartition(" (")
                cur.append((sym, dso.rstrip(")")))
        elif cur:
            stacks.append(cur)
            cur = []
    if cur:
        stacks.append(cur)
    return stacks


# Frames on the way from a leaf to `AppState`'s Clone or Drop: the per-request state clones.
STATE = re.compile(r"gatehouse_web::state::AppState")
STATE_PARTS = re.compile(r"clone|drop|T$|moka|alloc::sync|core::|gatehouse_web::oauth::clients::ClientCache|"
                         r"_int_free|free|cfree|__GI___libc_free|malloc|_int_malloc|tcache")


def classify(stack):
    sym, dso = stack[0]
    user = [(s, d) for s, d in stack if not d.startswith("[kernel")]
    if dso.startswith("[kernel"):
        names = " ".join(s for s, _ in stack)
        if "getrandom" in names and any(head(s).startswith("uuid::") or "new_v4" in s for s, _ in user):
            return REQUEST_ID
        for name, pat in SYSCALLS:
            if re.search(pat, names):
                return name
        return "kernel: other (interrupts, timers)"
    for sym, _ in stack:
        h = head(sym)
        if STATE.match(h):
            return "AppState clone/drop (Arc refcounts)"
        if not STATE_PARTS.match(h):
            break
    for sym, _ in stack:
        h = head(sym)
        if h.startswith("uuid::") or "new_v4" in sym:
            return REQUEST_ID  # the token's jti is random_token(), not a uuid
        for name, pat in COMPILED:
            if pat.match(h):
                return name
    return "other / unresolved"


def main():
    stacks = read_stacks(sys.stdin)
    n = len(stacks)
    if not n:
        sys.exit("no samples")
    by = collections.Counter(classify(s) for s in stacks)
    print(f"{n} samples; each charged to the innermost known component\n")
    for name, c in by.most_common():
        print(f"{100 * c / n:6.1f}%  {name}")
    alloc = sum(1 for s in stacks if ALLOC.match(head(s[0][0])))
    memcpy = sum(1 for s in stacks if MEMCPY.match(head(s[0][0])))
    print(f"\ncross-cutting, self time: allocator {100 * alloc / n:.1f}%, memcpy/memset {100 * memcpy / n:.1f}%")
    selfs = collections.Counter(head(s[0][0]) for s in stacks)
    print("\ntop self symbols:")
    for sym, c in selfs.most_common(20):
        print(f"{100 * c / n:6.1f}%  {sym[:100]}")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
