-- wrk script for the middleware benchmark: every request carries the next of N distinct tokens
-- (one per line in the file named by KSTOKEN_WRK_TOKENS), cycling; at the end one JSON line with
-- the counts and latency percentiles (microseconds) for benches/middleware/run.py.
local tokens = {}
for line in io.lines(os.getenv("KSTOKEN_WRK_TOKENS")) do
  if #line > 0 then tokens[#tokens + 1] = line end
end
local path = os.getenv("KSTOKEN_WRK_PATH") or "/bench"
local i = 0

request = function()
  i = i % #tokens + 1
  return wrk.format("GET", path, { ["X-Auth-Token"] = tokens[i] })
end

done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'KSTOKEN_WRK {"requests": %d, "duration_us": %d, "non2xx": %d, "socket_errors": %d, ' ..
    '"p50_us": %d, "p90_us": %d, "p99_us": %d, "mean_us": %.1f, "tokens": %d}\n',
    summary.requests, summary.duration, e.status, e.connect + e.read + e.write + e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.mean, #tokens))
end
