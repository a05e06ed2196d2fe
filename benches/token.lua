-- wrk script: POST client_credentials token requests with HTTP Basic, spread round-robin over
-- every client in $CREDS (one "Basic ..." value per line, written by tessera-bench-seed).
-- Counts non-200 answers and 200s without an access_token, like ../shared/ceiling/token.lua, so
-- that a fast error path cannot pass for throughput. Prints one RESULT line in the same format.
local creds_file = os.getenv("CREDS")
-- The token endpoint's path: tessera's by default; peers.sh points it at another server's.
local token_path = os.getenv("TOKEN_PATH") or "/oauth2/token"
local requests = {}
local idx = 0

local threads = {}
function setup(thread) table.insert(threads, thread) end

function init(args)
  non200 = 0; notoken = 0; first_bad = ""
  for line in io.lines(creds_file) do
    table.insert(requests, wrk.format("POST", token_path, {
      ["Authorization"] = line,
      ["Content-Type"] = "application/x-www-form-urlencoded",
      ["Accept"] = "application/json",
    }, "grant_type=client_credentials"))
  end
  -- Seeded: LuaJIT's generator starts the same every run, so every run (and a run's warm-up)
  -- would begin at the same client and a spread over a million would reuse the last run's.
  math.randomseed(os.time())
  idx = math.random(#requests) - 1
end

function request()
  idx = (idx % #requests) + 1
  return requests[idx]
end

function response(status, headers, body)
  if status ~= 200 then
    non200 = non200 + 1
    if first_bad == "" then first_bad = status .. " " .. string.sub(body or "", 1, 200) end
  elseif not string.find(body, '"access_token"', 1, true) then
    notoken = notoken + 1
  end
end

function done(summary, latency, requests)
  local n, t, bad = 0, 0, ""
  for _, th in ipairs(threads) do
    n = n + th:get("non200"); t = t + th:get("notoken")
    local b = th:get("first_bad"); if bad == "" and b ~= "" then bad = b end
  end
  local e = summary.errors
  local secs = summary.duration / 1e6
  io.write(string.format(
    "RESULT requests=%d duration_s=%.2f rps=%.1f p50_ms=%.3f p90_ms=%.3f p99_ms=%.3f max_ms=%.2f non200=%d no_token=%d sock_err=%d\n",
    summary.requests, secs, summary.requests / secs,
    latency:percentile(50) / 1000, latency:percentile(90) / 1000, latency:percentile(99) / 1000,
    latency.max / 1000, n, t, e.connect + e.read + e.write + e.timeout))
  if bad ~= "" then io.write("FIRST_NON200 " .. bad .. "\n") end
end
