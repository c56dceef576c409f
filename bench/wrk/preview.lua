-- POST /v1/query: a preview of 20, no count, of the 3-predicate rule.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"rule": {"all": [{"field": "customer_type", "op": "eq", "value": "lead"}, {"field": "city", "op": "in", "value": ["Pune", "Mumbai", "Nagpur"]}, {"field": "signed_up", "op": "within_last", "value": "7d"}]}, "limit": 20, "count": false, "now": "2026-11-20T12:00:00Z"}'
