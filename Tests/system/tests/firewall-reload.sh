# A firewall reload in the host namespace (what firewalld or `iptables -F` does) flushes
# Docker's published ports; Bridgeport's live in BPF maps and tc hooks, so published
# ports, isolation and counters must come through untouched.
agent_start || { fail "agent starts"; return; }
TOOLS=$(cd "$(dirname "${BASH_SOURCE[0]}")/../tools" && pwd)
ext_probe() { in_ext python3 "$TOOLS/probe.py" "$@"; }
drops() { bpftool map dump pinned "$STATE/bpf/maps/bp_drops" 2>/dev/null | grep -c "\"reason\": $1,"; }
rx_packets() {
    in_host curl -s "http://127.0.0.1:$METRICS_PORT/metrics" |
        awk -v c="container=\"$1\"" '$1 ~ /^bridgeport_container_network_receive_packets_total/ && index($1, c) { print $2 }'
}

check "networks" bash -c "'$BIN' network create --subnet 10.60.0.0/24 fa >/dev/null && '$BIN' network create --subnet 10.61.0.0/24 fb >/dev/null"
check "a published server" bp run -d --name web --net fa -p 5000:80 -- python3 "$TOOLS/echo.py" --tcp 80
check "a container on another network" bp run -d --name other --net fb
for _ in $(seq 1 50); do bp logs web | grep -q ready && break; sleep 0.1; done
check_output "the port answers before the reload" '^80 198\.51\.100\.2 before$' ext_probe tcp 198.51.100.1 5000 before
before=$(rx_packets web)

# What firewall reloads do, with both front ends; then rules of a firewall that drops
# forwarded traffic by default, as firewalld's zones and Docker's FORWARD policy do.
check "iptables -F, -X and -t nat -F" in_host sh -c 'iptables -F && iptables -X && iptables -t nat -F && iptables -t nat -X'
check "nft flush ruleset" in_host nft flush ruleset
check "a new ruleset: forward policy drop" in_host nft -f - <<'NFT'
table inet reload {
    chain forward { type filter hook forward priority 0; policy drop; }
}
NFT

check_output "the published port still answers" '^80 198\.51\.100\.2 after$' ext_probe tcp 198.51.100.1 5000 after
check_output "and answers many connections in a row" '^10$' bash -c \
    "for i in \$(seq 1 10); do nsenter --net=/run/netns/$EXT_NS python3 $TOOLS/probe.py tcp 198.51.100.1 5000 x; done | grep -c '^80 198.51.100.2 x$'"
isolation_before=$(drops 1)
check_fails "isolation still holds: other cannot reach web" 1 '100% packet loss' \
    bp exec other ping -c 1 -W 1 "$(bp inspect -f '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}' web)"
[ "$(drops 1)" -gt "$isolation_before" ] && pass "and the isolation drop is counted" || fail "no isolation drop counted after the reload"
after=$(rx_packets web)
[ -n "$before" ] && [ -n "$after" ] && [ "$after" -gt "$before" ] && pass "counters went on ($before -> $after packets)" ||
    fail "counters did not go on ($before -> $after)"
check "remove the reload ruleset" in_host nft flush ruleset
