-- POST /v1/query: the count of the 5-predicate rule.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"rule": {"all": [{"field": "city", "op": "in", "value": ["Pune", "Mumbai", "Delhi"]}, {"field": "tags", "op": "eq", "value": "vip"}, {"field": "signed_up", "op": "within_last", "value": "365d"}, {"field": "orders", "op": "gte", "value": 5}, {"not": {"field": "lifecycle", "op": "eq", "value": "churned"}}]}, "limit": 0, "now": "2026-11-20T12:00:00Z"}'
