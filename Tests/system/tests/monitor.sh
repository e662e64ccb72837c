# bridgeport monitor: each drop the programs count reaches a monitor with its container,
# reason and tuple; filters; bad input; inspect's last drops; the lost-event counter.
agent_start || { fail "agent starts"; return; }
ping1() { bp exec "$1" ping -c 1 -W 1 "${@:2}"; }

check "networks and containers" bash -c "'$BIN' network create --subnet 10.60.0.0/24 a >/dev/null &&
    '$BIN' network create --subnet 10.61.0.0/24 b >/dev/null &&
    '$BIN' run -d --name a1 --net a >/dev/null && '$BIN' run -d --name a2 --net a >/dev/null &&
    '$BIN' run -d --name b1 --net b >/dev/null"
A1=$(ip_of a1); B1=$(ip_of b1)

monitor_start all
monitor_start a1only --container a1
monitor_start netb --network b
monitor_start icc --reason icc

ping1 a1 "$B1" >/dev/null
check "isolation: the drop reaches the monitor with its container, reason and tuple" eventually 5 has_event all \
    ".type == \"drop\" and .reason == \"isolation\" and .container == \"a1\" and .network == \"a\" and .direction == \"egress\" and .proto == \"icmp\" and .source == \"$A1\" and .destination == \"$B1\" and .length > 0"
check "--container a1 shows a1's drop" eventually 5 has_event a1only '.reason == "isolation" and .container == "a1"'
check_output "--network b does not show a drop of network a" '^$' events netb '.container == "a1"'
check_output "--reason icc does not show an isolation drop" '^$' events icc '.reason == "isolation"'

check_output "inspect shows a1's last drop" '"isolation"' bp inspect -f '{{json .LastDrops}}' a1
check_output "stats --format json shows it too" 'isolation' bp stats --no-stream --format json a1

check_fails "an unknown reason is refused with the valid ones" 125 "isolation.*icc|Please provide one of" bp monitor --reason bogus
check_fails "an unknown type is refused with the valid ones" 125 "drop.*flow.*all" bp monitor --type bogus
check_fails "an unknown container is refused" 1 "No such container: nope" bp monitor --container nope
check_fails "an unknown network is refused" 1 "network nope not found" bp monitor --network nope
check_output "the API refuses an unknown reason with the valid ones" 'valid reasons are .*isolation' \
    in_host curl -s --unix-socket "$BRIDGEPORT_SOCKET" "http://x/v1/events?reason=bogus"

check_output "events lost are exported per type" '^bridgeport_monitor_events_lost_total\{type="drop"\} [0-9]+' metrics
check_output "monitors connected are exported" '^bridgeport_monitors [1-9]' metrics
for pid in "${MONITOR_PIDS[@]}"; do kill "$pid" 2>/dev/null; done
no_monitors() { [ "$(metric bridgeport_monitors)" = 0 ]; }
check "monitors that go are forgotten" eventually 10 no_monitors

# ---- flow events: a TCP connection through a published port, start to end, with its
# bytes; a UDP flow that expires (udp=2s)
agent_stop
agent_start --flow-timeout udp=2s || { fail "agent starts with udp=2s"; return; }
check "a published echo server" bp run -d --name web --net a -p 8080:80 -p 5353:53/udp -- \
    python3 "$TOOLS/echo.py" --stream 80 --udp 53
wait_ready web || fail "the echo server starts"
WEB=$(ip_of web)
MONITOR_PIDS=()
monitor_start flows --type flow
check_output "a connection from outside sends 5000 bytes and gets them back" '^5000$' \
    in_ext python3 "$TOOLS/flowtool.py" tcp-echo 45100 198.51.100.1 8080 5000
CONN='.original.source == "198.51.100.2" and .original.sourcePort == 45100 and .original.destination == "198.51.100.1" and .original.destinationPort == 8080'
changes() { events "$1" "$2" | jq -r .change | paste -sd ' '; }
closed() { [ "$(changes flows "$CONN")" = "new established closed" ]; }
check "its flow is new, then established, then closed" eventually 5 closed
check_output "each with its reply tuple translated to the container, on web's veth" '^3$' bash -c \
    "jq -c 'select($CONN and .kind == \"published\" and .proto == \"tcp\" and .container == \"web\" and .reply.source == \"$WEB\" and .reply.sourcePort == 80 and .reply.destination == \"198.51.100.2\" and .reply.destinationPort == 45100)' '$STATE/flows.events' | wc -l"
check_output "no counts before the end" '^null null$' bash -c \
    "jq -r 'select($CONN and .change == \"established\") | \"\(.packets) \(.bytes)\"' '$STATE/flows.events'"
# Bytes are IP bytes both ways, as conntrack counts them: the 5000 bytes each way, and the
# headers of every packet up to the second FIN: 20 bytes of IPv4 and 32 of TCP with Linux's
# timestamps option, 8 more in the SYN and the SYN-ACK (MSS, SACK permitted, window scale).
# At least 5 packets: the handshake's 3, and data each way.
check_output "closed: every byte both ways, with the headers of its packets" '^true$' bash -c \
    "jq -r 'select($CONN and .change == \"closed\") | .packets >= 5 and .bytes == 10000 + 52 * .packets + 16' '$STATE/flows.events'"

UDP='.proto == "udp" and .original.destination == "198.51.100.1" and .original.destinationPort == 5353'
check_output "a UDP exchange through a published port" '^53 198\.51\.100\.2 hi$' ext_probe udp 198.51.100.1 5353 hi
expired() { [ "$(changes flows "$UDP")" = "new established expired" ]; }
check "its flow is new, then established, then expired after udp=2s" eventually 10 expired
# Two datagrams: "hi" (28 + 2 bytes) and its answer "53 198.51.100.2 hi" (28 + 18).
check_output "expired: both datagrams, every byte" '^2 76 web published$' bash -c \
    "jq -r 'select($UDP and .change == \"expired\") | \"\(.packets) \(.bytes) \(.container) \(.kind)\"' '$STATE/flows.events'"
# A flow removed before its time (`flows --flush`; a container's removal does the same) ends
# with a "flushed" event and its counts: "again" (28 + 5 bytes) and "53 198.51.100.2 again" (28 + 21).
check_output "another UDP exchange through the published port" '^53 198\.51\.100\.2 again$' \
    ext_probe udp 198.51.100.1 5353 again
answered() { [ "$(changes flows "$UDP")" = "new established expired new established" ]; }
check "its flow is new, then established" eventually 5 answered
check "bridgeport flows --flush" bash -c "'$BIN' flows --flush >/dev/null"
flushed() { [ "$(changes flows "$UDP")" = "new established expired new established flushed" ]; }
check "the flushed flow ends with a flushed event" eventually 5 flushed
check_output "flushed: both datagrams, every byte" '^2 82 web published$' bash -c \
    "jq -r 'select($UDP and .change == \"flushed\") | \"\(.packets) \(.bytes) \(.container) \(.kind)\"' '$STATE/flows.events'"
check_output "no drop event on a flow monitor" '^$' events flows '.type != "flow"'

# The agent stops: a monitor hears why and exits 1, as a stream cut short is no success.
"$BIN" monitor >/dev/null 2>"$STATE/last.err" & last=$!
eventually 5 monitors_at_least 1 >/dev/null
agent_stop
wait "$last"; rc=$?
[ "$rc" = 1 ] && grep -q "shutting down" "$STATE/last.err" && pass "when the agent stops, a monitor exits 1 saying so" ||
    fail "when the agent stops, a monitor exits 1 saying so (exit $rc: $(cat "$STATE/last.err"))"
