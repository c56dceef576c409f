-- PATCH /v1/profiles/{id}: one profile at a time, spread over the
-- SEGD_PROFILES profiles of a `segd gen` file (default 1M).
local profiles = tonumber(os.getenv("SEGD_PROFILES") or "1000000")
local i = 0
wrk.method = "PATCH"
wrk.headers["Content-Type"] = "application/json"
request = function()
  i = i + 7919
  return wrk.format(nil, string.format("/v1/profiles/c-%08d", i % profiles + 1),
                    nil, string.format('{"lead_score": %d}', i % 100))
end
