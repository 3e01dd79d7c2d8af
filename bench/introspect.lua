-- POST /oauth2/introspect (Gatehouse) or /token/introspection (baseline): RFC 7662 with
-- client_secret_basic, always the same live token (BENCH_TOKEN).
package.path = (os.getenv("BENCH_DIR") or ".") .. "/?.lua;" .. package.path
local report = require("report")

wrk.method = "POST"
wrk.body = "token=" .. assert(os.getenv("BENCH_TOKEN"), "BENCH_TOKEN not set")
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.headers["Authorization"] = "Basic " .. assert(os.getenv("BENCH_BASIC"), "BENCH_BASIC not set")

done = report.done
