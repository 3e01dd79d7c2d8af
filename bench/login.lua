-- Self-service password login, for bench/login.sh. Each wrk thread drives one connection
-- (login.sh runs wrk -tN -cN) and alternates
--   GET  /self-service/login/api          -> a flow; its id is read from the JSON in response()
--   POST /self-service/login?flow=<id>    {"identifier": ..., "password": ...}
-- BENCH_LOGIN_MODE:
--   ok             the right password of one of BENCH_IDENTITIES identities   -> expects 200
--   wrong-known    a wrong password for one of those identities               -> expects 400
--   wrong-unknown  a wrong password for an address that has no identity       -> expects 400
-- Identities are bench-<i>@login.example, i in 0..BENCH_IDENTITIES-1, each thread walking
-- through them from its own offset, so no identifier is hit twice in a row.
-- POSTs are timed here (wrk's own latency mixes both requests): LuaJIT's ffi reads
-- CLOCK_MONOTONIC when the POST is built and when its answer arrives.
-- done() prints, besides report.lua's line (both requests, as wrk counts them):
--   BENCH_LOGIN posts=<n> expected=<n> unexpected=<n> get_failures=<n> posts_per_s=<r>
--               p50_us=<µs> p99_us=<µs> mean_us=<µs> statuses=<code:n,...>
package.path = (os.getenv("BENCH_DIR") or ".") .. "/?.lua;" .. package.path
local report = require("report")
local ffi = require("ffi")

ffi.cdef [[
typedef struct { long tv_sec; long tv_nsec; } bench_timespec;
int clock_gettime(int clock_id, bench_timespec *tp);
]]
local CLOCK_MONOTONIC = 1
local ts = ffi.new("bench_timespec")
local function now_us()
  ffi.C.clock_gettime(CLOCK_MONOTONIC, ts)
  return tonumber(ts.tv_sec) * 1e6 + tonumber(ts.tv_nsec) / 1e3
end

local mode = os.getenv("BENCH_LOGIN_MODE") or "ok"
local identities = tonumber(os.getenv("BENCH_IDENTITIES") or "1")
local password = assert(os.getenv("BENCH_PASSWORD"), "BENCH_PASSWORD not set")
local expected_status = ({ ok = 200, ["wrong-known"] = 400, ["wrong-unknown"] = 400 })[mode]
assert(expected_status, "BENCH_LOGIN_MODE must be ok, wrong-known or wrong-unknown")

-- Main state: one table per thread, read back in done().
local threads = {}
function setup(thread)
  thread:set("tid", #threads)
  table.insert(threads, thread)
end

-- Thread state (one connection each).
local flow = nil        -- the flow id to submit next, or nil to ask for one
local pending = nil     -- "get" or "post": what the connection is waiting for
local sent_at = 0
local next_identity = 0
local serial = 0
latencies = {}          -- POST latencies, µs (global: done() reads it with thread:get)
statuses = {}           -- POST status -> count
posts, expected, unexpected, get_failures = 0, 0, 0, 0

local get_headers = { ["Accept"] = "application/json" }
local post_headers = { ["Accept"] = "application/json", ["Content-Type"] = "application/json" }

function init(_args)
  next_identity = (tid * 7919) % identities
end

local function credentials()
  serial = serial + 1
  if mode == "wrong-unknown" then
    return string.format("nobody-%d-%d@login.example", tid, serial), password .. "-wrong"
  end
  local i = next_identity
  next_identity = (next_identity + 1) % identities
  local email = string.format("bench-%d@login.example", i)
  if mode == "wrong-known" then
    return email, password .. "-wrong"
  end
  return email, password
end

function request()
  if flow == nil then
    pending = "get"
    return wrk.format("GET", "/self-service/login/api", get_headers)
  end
  local identifier, secret = credentials()
  local body = string.format('{"identifier":"%s","password":"%s"}', identifier, secret)
  local path = "/self-service/login?flow=" .. flow
  flow = nil
  pending = "post"
  sent_at = now_us()
  return wrk.format("POST", path, post_headers, body)
end

function response(status, _headers, body)
  if pending == "get" then
    if status == 200 then
      flow = body:match('"id"%s*:%s*"(%x+%-%x+%-%x+%-%x+%-%x+)"')
    end
    if flow == nil then get_failures = get_failures + 1 end
  elseif pending == "post" then
    local took = now_us() - sent_at
    posts = posts + 1
    latencies[#latencies + 1] = took
    statuses[status] = (statuses[status] or 0) + 1
    local good = status == expected_status
    if good and mode == "ok" then
      good = body:find('"session_token"', 1, true) ~= nil
    elseif good then
      good = body:find("4000006", 1, true) ~= nil -- "The provided credentials are invalid"
    end
    if good then expected = expected + 1 else unexpected = unexpected + 1 end
  end
  pending = nil
end

function done(summary, latency, requests)
  report.done(summary, latency, requests)
  local all, by_status = {}, {}
  local n_posts, n_expected, n_unexpected, n_get_failures = 0, 0, 0, 0
  for _, thread in ipairs(threads) do
    for _, v in ipairs(thread:get("latencies")) do all[#all + 1] = v end
    for code, n in pairs(thread:get("statuses")) do
      by_status[code] = (by_status[code] or 0) + n
    end
    n_posts = n_posts + thread:get("posts")
    n_expected = n_expected + thread:get("expected")
    n_unexpected = n_unexpected + thread:get("unexpected")
    n_get_failures = n_get_failures + thread:get("get_failures")
  end
  table.sort(all)
  local function pct(p)
    if #all == 0 then return 0 end
    local idx = math.max(1, math.ceil(#all * p / 100))
    return all[idx]
  end
  local sum = 0
  for _, v in ipairs(all) do sum = sum + v end
  local codes = {}
  for code, n in pairs(by_status) do codes[#codes + 1] = code .. ":" .. n end
  table.sort(codes)
  io.write(string.format(
    "BENCH_LOGIN posts=%d expected=%d unexpected=%d get_failures=%d posts_per_s=%.2f p50_us=%d p99_us=%d mean_us=%d statuses=%s\n",
    n_posts, n_expected, n_unexpected, n_get_failures,
    n_expected / (summary.duration / 1e6),
    math.floor(pct(50)), math.floor(pct(99)), math.floor((#all > 0) and (sum / #all) or 0),
    (#codes > 0) and table.concat(codes, ",") or "-"))
end
