-- GET benchmarks (JWKS, discovery): plain GET of the URL given to wrk; reports via report.lua.
package.path = (os.getenv("BENCH_DIR") or ".") .. "/?.lua;" .. package.path
local report = require("report")

wrk.method = "GET"

done = report.done
