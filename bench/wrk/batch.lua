-- POST /v1/profiles: the NDJSON file named by SEGD_BATCH_FILE, every time.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/x-ndjson"
local f = assert(io.open(os.getenv("SEGD_BATCH_FILE"), "rb"))
wrk.body = f:read("*a")
f:close()
