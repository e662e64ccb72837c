# Load: LOAD_CONTAINERS containers (500) on 5 networks, 10,000 published ports, traffic
# flowing, the metrics endpoint scraped every 100 ms by 50 concurrent clients (wrk) for
# LOAD_SECONDS while API calls go on: no failed scrape or API call, and the agent's
# memory stays flat. Prints the figures.
COUNT=${LOAD_CONTAINERS:-500}
SECONDS_UNDER_LOAD=${LOAD_SECONDS:-20}
agent_start || { fail "agent starts"; return; }
rss_kb() { awk '/^VmRSS/ { print $2 }' "/proc/$AGENT_PID/status"; }
api_run() {
    curl -s -o /dev/null -w '%{http_code}' --unix-socket "$BRIDGEPORT_SOCKET" -H 'Content-Type: application/json' \
        -d "{\"name\":\"$1\",\"network\":\"$2\",\"ports\":[${3:-}],\"command\":[]}" http://bridgeport/v1/containers
}

for n in 1 2 3 4 5; do bp network create --subnet "10.9$n.0.0/24" "load$n" >/dev/null || fail "network load$n"; done
start=$(date +%s%N)
failed=0
for i in $(seq 1 "$COUNT"); do
    [ "$(api_run "l$i" "load$(( i % 5 + 1 ))")" = 201 ] || failed=$((failed + 1))
done
elapsed_ms=$(( ($(date +%s%N) - start) / 1000000 ))
[ "$failed" = 0 ] && pass "$COUNT containers on 5 networks in $elapsed_ms ms" || fail "$failed of $COUNT containers failed"
check "10,000 published ports" bp run -d --name ports --net load1 -p 198.51.100.1:20000-29999:20000-29999
check "a published server" bp run -d --name srv --net load2 -p 5000:80 -- python3 "$TOOLS/echo.py" --stream 80
wait_ready srv

# Traffic: a TCP stream through the published port and pings between containers.
in_ext python3 "$TOOLS/stream.py" 198.51.100.1 5000 "$SECONDS_UNDER_LOAD" >"$STATE/stream.out" 2>&1 & stream=$!
bp exec l1 ping -q -i 0.05 -w "$SECONDS_UNDER_LOAD" "$(ip_of l6)" >"$STATE/ping.out" 2>&1 & pinger=$!

in_host curl -s -o /dev/null "http://127.0.0.1:$METRICS_PORT/metrics"   # warm up
rss_before=$(rss_kb)
# Prometheus asks for gzip; so do these.
in_host wrk -t 2 -c 50 -d "${SECONDS_UNDER_LOAD}s" -s "$TOOLS/scrape-every-100ms.lua" -H 'Accept-Encoding: gzip' \
    "http://127.0.0.1:$METRICS_PORT/metrics" >"$STATE/wrk.out" 2>&1 & scrapers=$!
api_failed=0 api_calls=0 rss_samples=""
for i in $(seq 1 "$SECONDS_UNDER_LOAD"); do
    api_calls=$((api_calls + 2))
    [ "$(api_run "churn$i" load3)" = 201 ] || api_failed=$((api_failed + 1))
    bp rm -f "churn$i" >/dev/null 2>&1 || api_failed=$((api_failed + 1))
    rss_samples+=" $(rss_kb)"
    sleep 0.8
done
wait "$scrapers"
rss_after=$(rss_kb)
wait "$stream"; stream_rc=$?
wait "$pinger"

requests=$(awk '/requests in/ { print $1 }' "$STATE/wrk.out")
errors=$(awk '/Socket errors|Non-2xx/ { found = 1; print } END { if (!found) print "none" }' "$STATE/wrk.out")
latency=$(awk '$1 == "Latency" { print $2 " avg, " $4 " max" }' "$STATE/wrk.out")
echo "        wrk: $requests scrapes in ${SECONDS_UNDER_LOAD} s by 50 clients (latency $latency); errors: $errors"
echo "        agent RSS: $rss_before kB before, samples$rss_samples kB, $rss_after kB after"
[ -n "$requests" ] && [ "$requests" -gt 0 ] && [ "$errors" = none ] && pass "every scrape answered 200" ||
    fail "failed scrapes: $(cat "$STATE/wrk.out")"
[ "$api_failed" = 0 ] && pass "$api_calls API calls under load, none failed" || fail "$api_failed of $api_calls API calls failed"
[ "$stream_rc" = 0 ] && pass "the stream through the published port kept every byte ($(cat "$STATE/stream.out"))" ||
    fail "stream: $(cat "$STATE/stream.out")"
check_output "pings between containers went on" ' 0% packet loss' cat "$STATE/ping.out"
# Flat: the last samples no higher than 25% above the first one under load.
first=$(awk '{ print $1 }' <<<"$rss_samples")
[ "$rss_after" -le $(( first * 125 / 100 )) ] && pass "memory stays flat ($first kB -> $rss_after kB)" ||
    fail "memory grew: $first kB -> $rss_after kB"
