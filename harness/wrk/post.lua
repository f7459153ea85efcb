-- wrk: POST the body in $WRK_BODY to the path in $WRK_PATH; print one JSON summary line.
-- Latencies are wrk's own (microseconds); `under` is the share of completed requests at or
-- under $WRK_OBJECTIVE_MS, read off wrk's latency distribution.
wrk.method = "POST"
wrk.path = os.getenv("WRK_PATH") or "/"
wrk.body = os.getenv("WRK_BODY") or "{}"
wrk.headers["Content-Type"] = "application/json"

local non2xx = 0
response = function(status, headers, body)
  if status < 200 or status > 299 then
    non2xx = non2xx + 1
  end
end

done = function(summary, latency, requests)
  local objective_us = tonumber(os.getenv("WRK_OBJECTIVE_MS") or "2000") * 1000
  local lo, hi = 0.0, 100.0
  if latency.max <= objective_us then
    lo = 100.0
  else
    for _ = 1, 30 do -- bisect the percentile whose latency is the objective
      local mid = (lo + hi) / 2
      if latency:percentile(mid) <= objective_us then lo = mid else hi = mid end
    end
  end
  local e = summary.errors
  io.write(string.format(
    '{"requests": %d, "duration_us": %d, "bytes": %d, "connect_errors": %d, "read_errors": %d, ' ..
    '"write_errors": %d, "timeouts": %d, "status_errors": %d, "p50_us": %d, "p90_us": %d, ' ..
    '"p99_us": %d, "max_us": %d, "mean_us": %.1f, "under_objective": %.6f}\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.timeout,
    e.status, latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency.max, latency.mean, lo / 100))
end
