-- GET benchmarks (JWKS, discovery, the gateway): plain GET of the URL given to wrk, with
-- `Authorization: $BENCH_AUTHORIZATION` when set; reports via report.lua.
package.path = (os.getenv("BENCH_DIR") or ".") .. "/?.lua;" .. package.path
local report = require("report")

wrk.method = "GET"
local authorization = os.getenv("BENCH_AUTHORIZATION")
if authorization and authorization ~= "" then
  wrk.headers["Authorization"] = authorization
end

done = report.done
