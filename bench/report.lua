-- Shared by the bench/*.lua scripts: at the end of a wrk run, print one parseable line.
--   BENCH_RESULT rps=<requests/s> p50_us=<µs> p99_us=<µs> requests=<n> non2xx=<n> socket_errors=<n>
-- wrk counts any status >= 400 in summary.errors.status; run.sh refuses results with errors.
local M = {}

function M.done(summary, latency, _requests)
  local seconds = summary.duration / 1e6
  local e = summary.errors
  io.write(string.format(
    "BENCH_RESULT rps=%.1f p50_us=%d p99_us=%d requests=%d non2xx=%d socket_errors=%d\n",
    summary.requests / seconds,
    latency:percentile(50),
    latency:percentile(99),
    summary.requests,
    e.status,
    e.connect + e.read + e.write + e.timeout))
end

return M
