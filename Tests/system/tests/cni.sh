# bridgeport-cni chained after the reference bridge plugin (host-local IPAM), driven as a
# runtime drives it: environment, configuration on stdin, a namespace per container.
# Published ports come from Bridgeport's maps; no iptables or nftables rule is written.
agent_start || { fail "agent starts"; return; }
cni_conflists "$STATE/cni"
cni_use "$STATE/cni/10-chained.conflist" /usr/lib/cni
plugin() {  # plugin COMMAND [CONFIG]: bridgeport-cni alone, as a runtime calls it
    CNI_COMMAND=$1 CNI_CONTAINERID=x CNI_NETNS=/run/netns/none CNI_IFNAME=eth0 in_host "$(dirname "$BIN")/bridgeport-cni" <<<"${2:-}"
}

check_output "VERSION lists the versions" '"supportedVersions":\["0.3.0","0.3.1","0.4.0","1.0.0","1.1.0"\]' plugin VERSION
check_output "STATUS: the agent is there" '^$' plugin STATUS '{"cniVersion":"1.1.0","name":"n","type":"bridgeport-cni"}'

netns_add "$TAG-web"
web_ports='[{"hostPort": 8080, "containerPort": 80, "protocol": "tcp"}, {"hostPort": 5353, "containerPort": 53, "protocol": "udp"}]'
check_output "ADD: bridge makes the veth, bridgeport-cni equips it and passes the result on" '"address": "10.224.0.2/24"' \
    cni ADD web "$web_ports"
nsenter --net=/run/netns/"$TAG-web" python3 "$TOOLS/echo.py" --tcp 80 --udp 53 >/dev/null 2>&1 &
web_server=$!  # stopped before its namespace is deleted, which would hide it from sandbox_down
sleep 0.5
check_output "the published TCP port answers from the external client" '^80 198.51.100.2' ext_probe tcp 198.51.100.1 8080
check_output "the published UDP port answers too" '^53 198.51.100.2' ext_probe udp 198.51.100.1 5353
check_output "no iptables or nftables rule was written" '^$' sh -c "ip netns exec $HOST_NS nft list ruleset | grep -E 'dport|dnat|8080'"
check_output "the veth is counted, under the runtime's container ID and network" \
    'bridgeport_container_network_receive_packets_total\{container="web",network="chained",interface="veth[^"]+"\} [1-9]' \
    metrics
check_output "its published ports have their series, under the runtime's container ID" \
    'bridgeport_published_port_packets_total\{protocol="tcp",host_ip="0\.0\.0\.0",host_port="8080",container="web",container_port="80"\} [1-9]' \
    metrics
check_output "and count in bridgeport_published_ports" '^bridgeport_published_ports 2$' metrics
check "CHECK passes" cni CHECK web "$web_ports"
check_fails "CHECK with other port mappings fails" 1 'published ports differ' cni CHECK web '[{"hostPort": 8081, "containerPort": 80}]'
netns_add "$TAG-web2"
check_fails "a second container cannot take host port 8080 (code 7)" 1 '"code":7.*port is already allocated' \
    cni ADD web2 '[{"hostPort": 8080, "containerPort": 80}]'
check "the runtime's DEL of that container succeeds" cni DEL web2
check "DEL" cni DEL web
check_fails "the port is gone with it" 1 'refused|timed out|failed' ext_probe tcp 198.51.100.1 8080
check "DEL again succeeds" cni DEL web
kill "$web_server"; wait "$web_server" 2>/dev/null
ip netns del "$TAG-web"
check "DEL after the namespace is gone succeeds" cni DEL web

# A chain's DEL runs in reverse: bridgeport-cni lets go of a veth before the bridge plugin
# deletes it, or never does if that DEL fails. Its programs come off with its entry, so that
# what it sends meanwhile is not dropped as unknown_endpoint (the agent's tc filters stay on
# a device until removed).
netns_add "$TAG-keep"
cni ADD keep >/dev/null || fail "ADD keep"
in_keep() { nsenter --net=/run/netns/"$TAG-keep" "$@"; }
keep_index=$(in_keep ip -o link show eth0 | sed -n 's/^[0-9]*: eth0@if\([0-9]*\):.*/\1/p')
keep_veth=$(in_host ip -o link show | sed -n "s/^$keep_index: \([^@:]*\).*/\1/p")
our_filter() { in_host tc filter show dev "$keep_veth" ingress | grep -q 'bp_ep_ingress'; }
check "keep's veth ($keep_veth) has the endpoint program" our_filter
check "bridgeport-cni's part of DEL alone" \
    curl -sf --unix-socket "$BRIDGEPORT_SOCKET" -X DELETE http://bridgeport/v1/attachments/keep/eth0
no_filter() { ! our_filter; }
check "... takes the program off the veth that stays" no_filter
check "... and the container still reaches its gateway" in_keep ping -c 1 -W 2 10.224.0.1
unknown_endpoint_drops() { metrics | grep 'reason="unknown_endpoint"'; }
check_output "... with no unknown_endpoint drop" '^$' unknown_endpoint_drops
cni DEL keep >/dev/null || fail "DEL keep"
ip netns del "$TAG-keep"

check_fails "a malformed configuration is a decode error (code 6)" 1 '"code":6' plugin ADD '{"cniVersion": '
check_fails "an unknown version is code 1" 1 '"code":1,' plugin ADD '{"cniVersion":"9.9.9","name":"n","type":"bridgeport-cni"}'
check_fails "ADD with a namespace that does not exist fails (code 7)" 1 '"code":7.*does not exist' \
    plugin ADD '{"cniVersion":"1.0.0","name":"n","type":"bridgeport-cni"}'
check_output "... and leaves no network behind" '^$' sh -c "'$BIN' network ls | grep ' n '"

# 50 containers added and deleted, each with a published port.
ok=0
for i in $(seq 1 50); do
    netns_add "$TAG-m$i"
    cni ADD m$i "[{\"hostPort\": $((9000 + i)), \"containerPort\": 80}]" >/dev/null && ok=$((ok + 1))
done
[ "$ok" = 50 ] && pass "50 ADDs" || fail "$ok of 50 ADDs"
nsenter --net=/run/netns/"$TAG-m50" python3 "$TOOLS/echo.py" --tcp 80 >/dev/null 2>&1 &
sleep 0.5
check_output "the 50th container's port answers" '^80 198.51.100.2' ext_probe tcp 198.51.100.1 9050
ports=$(bpftool map dump pinned "$STATE/bpf/maps/bp_ports" -j | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')
[ "$ports" = 50 ] && pass "bp_ports holds the 50 ports" || fail "bp_ports holds $ports entries"
ok=0
for i in $(seq 1 50); do cni DEL m$i >/dev/null && ok=$((ok + 1)); done
[ "$ok" = 50 ] && pass "50 DELs" || fail "$ok of 50 DELs"
ports=$(bpftool map dump pinned "$STATE/bpf/maps/bp_ports" -j | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')
[ "$ports" = 0 ] && pass "bp_ports is empty again" || fail "bp_ports holds $ports entries"

agent_stop
netns_add "$TAG-late"
check_fails "ADD without an agent: try again later (code 11), saying why" 1 '"code":11.*Is the agent running' cni ADD late
check "DEL without an agent succeeds" cni DEL late
