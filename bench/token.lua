-- POST /oauth2/token (Gatehouse) or /token (baseline): client credentials grant with
-- client_secret_basic. BENCH_BASIC is base64(client_id:client_secret).
package.path = (os.getenv("BENCH_DIR") or ".") .. "/?.lua;" .. package.path
local report = require("report")

wrk.method = "POST"
wrk.body = os.getenv("BENCH_TOKEN_BODY") or "grant_type=client_credentials&scope=api%3Aread"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.headers["Authorization"] = "Basic " .. assert(os.getenv("BENCH_BASIC"), "BENCH_BASIC not set")

done = report.done
