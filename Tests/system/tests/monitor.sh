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
