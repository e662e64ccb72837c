# Flows with a lifecycle: many flows to one destination, timeouts and expiry that free
# ports, flushes when a container or host address goes, a SYN flood at a published port,
# two published ports of one container port, and `bridgeport flows`.
agent_start || { fail "agent starts"; return; }
flowtool() { python3 "$TOOLS/flowtool.py" "$@"; }
scrape_has() { metrics | grep -qE "$1"; }
# ask CONTAINER SPORT MESSAGE: a UDP exchange with the external answerer from source port
# SPORT; prints how the answerer saw the container ("address:port message").
ask() { bp exec "$1" python3 "$TOOLS/flowtool.py" ask-udp "$2" 198.51.100.2 9001 "$3"; }
flows_of() { bp flows --container "$1" | tail -n +2; }

in_ext python3 "$TOOLS/flowtool.py" serve-udp 9001 >"$STATE/answerer.log" 2>&1 &
in_ext python3 "$TOOLS/echo.py" --tcp 9000 >"$STATE/echo.log" 2>&1 &
wait_ready "$STATE/answerer.log" "$STATE/echo.log" || fail "the external servers start"
check "network" bp network create --subnet 10.70.0.0/24 flows
check "run c1" bp run -d --name c1 --net flows sleep infinity

# ---- many flows to one destination
in_ext python3 "$TOOLS/flowtool.py" count-udp 9100 3 >"$STATE/count.log" 2>&1 &
counter=$!
wait_ready "$STATE/count.log" || fail "the counter starts"
check "20,000 UDP flows from one container to one outside address and port" \
    bp exec c1 python3 "$TOOLS/flowtool.py" send-udp 198.51.100.2 9100 20000
wait "$counter"
check_output "all 20,000 arrive" '^20000 20000 [0-9]+$' cat "$STATE/count.log"
check_output "no drop counted" '"Drops":0,' bp stats --no-stream --format json c1

# ---- a removed container's address, given to the next one
check "run c2" bp run -d --name c2 --net flows sleep infinity
old_ip=$(ip_of c2)
check_output "an NTP-like flow from port 123 keeps its port" '^198\.51\.100\.1:123 one$' ask c2 123 one
check "rm -f c2" bp rm -f c2
check "run c3" bp run -d --name c3 --net flows sleep infinity
check "c3 has c2's address" test "$(ip_of c3)" = "$old_ip"
check_output "the same 5-tuple from c3 gets its own answers" '^198\.51\.100\.1:123 two$' ask c3 123 two

# ---- two published ports of one container port, one client socket
check "run a UDP server published on two ports" \
    bp run -d --name twice --net flows -p 8080:80/udp -p 8081:80/udp -- python3 "$TOOLS/flowtool.py" serve-udp 80
wait_ready twice
in_ext python3 "$TOOLS/flowtool.py" ask-pair 40000 198.51.100.1 8080 8081 >"$STATE/pair.log" 2>&1
check_output "the answer through 8080 is the one to 8080 (the client's own port)" '^8080 198\.51\.100\.2:40000 a$' cat "$STATE/pair.log"
check_output "the answer through 8081 is the one to 8081 (its client port remapped)" '^8081 198\.51\.100\.2:[0-9]+ b$' cat "$STATE/pair.log"

# ---- bridgeport flows
check_output "flows: protocol, state, both tuples, container, expiry" \
    '^udp +REPLIED +198\.51\.100\.2:40000 -> 198\.51\.100\.1:8080 +10\.70\.0\.[0-9]+:80 -> 198\.51\.100\.2:40000 +twice +(29|30)s$' bp flows --container twice
check_output "flows --format json: one object per line" '^2 published$' bash -c \
    "'$BIN' flows --container twice --format json | python3 -c 'import json, sys; rows = [json.loads(l) for l in sys.stdin]; print(len(rows), *{r[\"Kind\"] for r in rows})'"
check_output "flows --help" 'conntrack' bp flows --help
check_fails "flows of an unknown container" 1 'No such container: nosuch' bp flows --container nosuch
check_output "flows --flush --container" '^2 flow entries have been deleted\.$' bp flows --flush --container twice
check "the container's flows are gone, the others stay" bash -c "[ -z \"\$('$BIN' flows --container twice | tail -n +2)\" ] && '$BIN' flows | grep -q c3"

# ---- metrics (the gauges come from the collector's passes)
check "bridgeport_flows by protocol and state (after a collector pass)" eventually 15 scrape_has '^bridgeport_flows\{protocol="udp",state="(unreplied|replied)"\} [1-9]' 
check_output "flows created" '^bridgeport_flows_created_total\{protocol="udp"\} [1-9][0-9]{3,}$' metrics
check_output "flows flushed" '^bridgeport_flows_flushed_total\{protocol="udp"\} [1-9]' metrics
check_output "collector passes" '^bridgeport_flow_gc_runs_total [1-9]' metrics
check "masquerade's use of a host address" scrape_has '^bridgeport_masquerade_flows\{host_ip="198\.51\.100\.1",protocol="udp"\} [1-9]' 
check_output "the table's size" '^bridgeport_flows_max 262144$' metrics
if command -v promtool >/dev/null; then
    check_output "promtool check metrics finds nothing" '^$' bash -c "nsenter --net=/run/netns/$HOST_NS curl -s http://127.0.0.1:$METRICS_PORT/metrics | promtool check metrics 2>&1"
fi

# ---- short timeouts: flows expire and their ports come back
agent_stop
agent_start --flow-timeout udp=2s --flow-timeout tcp-closing=3s --flow-timeout tcp-close=2s || fail "agent starts with short timeouts"
check_output "c1 from port 5000 keeps it" '^198\.51\.100\.1:5000 x$' ask c1 5000 x
out=$(ask c3 5000 y)
[[ $out =~ ^198\.51\.100\.1:([0-9]+)\ y$ ]] && [ "${BASH_REMATCH[1]}" != 5000 ] && pass "c3 from port 5000 meanwhile gets another ($out)" ||
    fail "c3 from port 5000 meanwhile gets another port ($out)"
sleep 2
check "after udp=2s both flows are gone" eventually 2 bash -c "! '$BIN' flows | grep -q ':5000 '"
check_output "and port 5000 is free again: c3 keeps it now" '^198\.51\.100\.1:5000 z$' ask c3 5000 z
check "expiries are counted" eventually 5 scrape_has '^bridgeport_flows_expired_total\{protocol="udp"\} [1-9]' 

check_output "a TCP exchange closed by FIN" '^9000 198\.51\.100\.1 bye$' bp exec c1 python3 "$TOOLS/flowtool.py" tcp-close 45001 198.51.100.2 9000 fin
check_output "its flow is closing" '^tcp +CLOSING +10\.70\.0\.[0-9]+:45001 -> 198\.51\.100\.2:9000 ' flows_of c1
# Times have whole seconds: a flow outlives its last packet by its timeout and at most one more second.
sleep 3
check "and gone after tcp-closing=3s" eventually 2 bash -c "! '$BIN' flows --container c1 | grep -q ':45001 '"
check_output "a TCP exchange closed by RST" '^9000 198\.51\.100\.1 bye$' bp exec c1 python3 "$TOOLS/flowtool.py" tcp-close 45002 198.51.100.2 9000 rst
check_output "its flow is in close" '^tcp +CLOSE +10\.70\.0\.[0-9]+:45002 -> 198\.51\.100\.2:9000 ' flows_of c1
sleep 2
check "and gone after tcp-close=2s" eventually 2 bash -c "! '$BIN' flows --container c1 | grep -q ':45002 '"

# ---- a spoofed SYN flood at a published port, with a small table
agent_stop
agent_start --max-flows 512 || fail "agent starts with --max-flows 512"
check_output "a table of another size starts empty, said in the log" 'another size or layout' cat "$AGENT_LOG"
check "run a stream server" bp run -d --name srv --net flows -p 8090:80 -- python3 "$TOOLS/echo.py" --stream 80
wait_ready srv
in_ext python3 "$TOOLS/stream.py" 198.51.100.1 8090 6 >"$STATE/stream.log" 2>&1 &
streamer=$!
sleep 1
check "5,000 spoofed SYNs at the published port" in_ext python3 "$TOOLS/flowtool.py" syn-flood 198.51.100.1 8090 5000
wait "$streamer"
check_output "the established connection through the port went on, every byte intact" '^ok [0-9]+ lines$' cat "$STATE/stream.log"
check_output "new flows beyond the table were dropped and counted (ct_full)" \
    'bridgeport_container_network_drops_total\{container="srv",network="flows",interface="[^"]+",reason="ct_full",direction="ingress"\} [1-9]' metrics
check_output "the collector evicts the flood's unanswered flows: a new connection gets through" '^hi$' \
    eventually 30 ext_probe tcp 198.51.100.1 8090 hi
check_output "evictions are counted" '^bridgeport_flows_evicted_total\{protocol="tcp"\} [1-9]' metrics

# ---- the uplink's address changes; a container stops
check_output "a masqueraded flow leaves with the uplink's address" '^198\.51\.100\.1:7000 m$' ask c1 7000 m
check "the uplink's address changes" bash -c "nsenter --net=/run/netns/$HOST_NS ip addr del 198.51.100.1/24 dev $TAG-up &&
    nsenter --net=/run/netns/$HOST_NS ip addr add 198.51.100.5/24 dev $TAG-up"
check "the flows naming the old address are flushed" eventually 5 bash -c "! '$BIN' flows | grep -q '198\.51\.100\.1:'"
check_output "the next packet starts a flow with the new address" '^198\.51\.100\.5:7000 n$' ask c1 7000 n
check "stop c1" bp stop -t 0 c1
check "a stopped container's flows are flushed" bash -c "[ -z \"\$('$BIN' flows --container c1 | tail -n +2)\" ]"
check "rm -f" bp rm -f c1 c3 twice srv
