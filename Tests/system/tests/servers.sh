# The API and metrics servers against malformed, oversized and slow clients: each gets a
# clear refusal or is cut off, and nobody else waits for it. And who may use the API.
agent_start || { fail "agent starts"; return; }
hostile() { in_host python3 "$TOOLS/hostile_http.py" "$@"; }
scrape_ok() { in_host curl -sf -o /dev/null -w '%{http_code}' "http://127.0.0.1:$METRICS_PORT/metrics"; }
api() { curl -s --unix-socket "$BRIDGEPORT_SOCKET" -o "$STATE/api.out" -w '%{http_code}' "$@"; }

check_output "metrics: a request that is not HTTP is refused" '^(400|closed)$' hostile garbage 127.0.0.1 "$METRICS_PORT"
check_output "metrics: a 64 KiB header is refused" '^(431|400|closed)$' hostile big-header 127.0.0.1 "$METRICS_PORT" 64
check_output "metrics: still answering" '^200$' scrape_ok
check_output "metrics: 50 slow clients don't hold up scrapes" '^([0-9]+)/\1 scrapes answered 200' hostile slow 127.0.0.1 "$METRICS_PORT" 50 4
check_output "API: malformed JSON gets 400 and a message" '^400$' api -H 'Content-Type: application/json' -d '{"name": "x", "network": ' http://bridgeport/v1/containers
check_output "  ... naming the problem" '.' cat "$STATE/api.out"
head -c 3000000 /dev/zero | tr '\0' 'a' >"$STATE/big.json"
check_output "API: a 3 MB body gets 413" '^413$' api -H 'Content-Type: application/json' --data-binary @"$STATE/big.json" http://bridgeport/v1/containers
check_output "API: a 64 KiB header is refused" '^(431|400|000)$' api -H "X-Big: $(head -c 65536 /dev/zero | tr '\0' 'a')" http://bridgeport/v1/info
check_output "API: still answering, and nothing was created" '^0$' bash -c "'$BIN' ps -a -q | wc -l"

# Trust model: the API socket is root's alone; the metrics endpoint is read-only, on loopback.
check_output "API socket is 0600 root" '^600 root$' stat -c '%a %U' "$BRIDGEPORT_SOCKET"
chmod 755 "$STATE"  # let the unprivileged user reach the socket itself: its own mode must refuse
check_fails "an unprivileged user cannot use the API" 1 'permission denied while trying to connect to the Bridgeport agent socket' \
    setpriv --reuid=65534 --regid=65534 --clear-groups "$BIN" ps
check_output "metrics refuse writes (POST gets 405 or 404)" '^(404|405)$' in_host curl -s -o /dev/null -w '%{http_code}' -X POST "http://127.0.0.1:$METRICS_PORT/metrics"
check_output "metrics listen on loopback only by default" "127\.0\.0\.1:$METRICS_PORT" in_host ss -Htln "sport = :$METRICS_PORT"
