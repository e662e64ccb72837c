# A firewall reload in the host namespace (what firewalld or `iptables -F` does) flushes
# Docker's published ports; Bridgeport's live in BPF maps and tc hooks, so published
# ports, isolation and counters must come through untouched.
agent_start || { fail "agent starts"; return; }

check "networks" bash -c "'$BIN' network create --subnet 10.60.0.0/24 fa >/dev/null && '$BIN' network create --subnet 10.61.0.0/24 fb >/dev/null"
check "a published server" bp run -d --name web --net fa -p 5000:80 -- python3 "$TOOLS/echo.py" --tcp 80
check "a container on another network" bp run -d --name other --net fb
wait_ready web
check_output "the port answers before the reload" '^80 198\.51\.100\.2 before$' ext_probe tcp 198.51.100.1 5000 before
before=$(metric bridgeport_container_network_receive_packets_total container=web)

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
check_output "and answers many connections in a row" '^10$' answered 10 '^80 198.51.100.2 x$' ext_probe tcp 198.51.100.1 5000 x
isolation_before=$(drops isolation)
check_fails "isolation still holds: other cannot reach web" 1 '100% packet loss' \
    bp exec other ping -c 1 -W 1 "$(ip_of web)"
[ "$(drops isolation)" -gt "$isolation_before" ] && pass "and the isolation drop is counted" || fail "no isolation drop counted after the reload"
after=$(metric bridgeport_container_network_receive_packets_total container=web)
[ -n "$before" ] && [ -n "$after" ] && [ "$after" -gt "$before" ] && pass "counters went on ($before -> $after packets)" ||
    fail "counters did not go on ($before -> $after)"
check "remove the reload ruleset" in_host nft flush ruleset
