-- GET /v1/segments/west-leads/members/{id}, ids spread over the 1M sample.
local i = 0
request = function()
  i = i + 7919
  return wrk.format("GET", string.format(
    "/v1/segments/west-leads/members/c-%08d", i % 1000000 + 1))
end
