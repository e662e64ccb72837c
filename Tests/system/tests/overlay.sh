# overlay: one network across three hosts over VXLAN, the cluster's state in etcd.
# Three host namespaces, each with its own agent, share an underlay bridge in a fourth
# namespace, where etcd runs.
#
#   underlay: bridge ul 198.19.2.254 (etcd :2379) -- u1, u2, u3
#   host N:   eth0 198.19.2.N -- agent --cluster-store etcd://198.19.2.254:2379 --advertise-address 198.19.2.N
cluster_up 3
check "etcd answers on the underlay" in_under curl -sf http://198.19.2.254:2379/health
for n in 1 2 3; do check "agent of host $n joins the cluster" start_host $n; done
check_fails "a cluster store needs an advertise address" 125 'needs --advertise-address' \
    "$BIN" daemon --cluster-store etcd://198.19.2.254:2379

check "create overlay ov1 on host 1" on 1 network create -d overlay --attachable ov1
check_output "ov1 is global, from Docker's overlay pool" 'ov1 +overlay +global' on 1 network ls
check_output "its VNI is Docker's first" '"com.docker.network.driver.overlay.vxlanid_list": "4097"' on 1 network inspect ov1
check "host 2 sees ov1" eventually 5 sh -c "BRIDGEPORT_SOCKET=$STATE/h2/agent.sock '$BIN' network ls | grep -q 'ov1 .*overlay'"
check "host 3 sees ov1" eventually 5 sh -c "BRIDGEPORT_SOCKET=$STATE/h3/agent.sock '$BIN' network ls | grep -q 'ov1 .*overlay'"
check_fails "the name is the cluster's: host 2 cannot take it" 1 'network with name ov1 already exists' on 2 network create -d overlay ov1
check "create overlay ov2 on host 2" on 2 network create -d overlay --subnet 10.77.0.0/24 ov2
check_output "ov2 got the next VNI" '"com.docker.network.driver.overlay.vxlanid_list": "4098"' on 2 network inspect ov2
check "host 1 sees ov2" eventually 5 sh -c "BRIDGEPORT_SOCKET=$STATE/h1/agent.sock '$BIN' network ls | grep -q 'ov2 '"
check_output "the VXLAN device of ov1 on host 3: VNI 4097, port 4789, no learning" 'vxlan id 4097 local 198.19.2.3 .*dstport 4789 .*nolearning' \
    sh -c "ip -n $TAG-h3 -d link show | grep -A2 '^[0-9]*: vx-' | grep 'id 4097'"

check "run a1 on host 1" on 1 run -d --name a1 --net ov1
check "run b2 on host 2" on 2 run -d --name b2 --net ov1
check "run c3 on host 3" on 3 run -d --name c3 --net ov1
check "run x2 on host 2 in ov2" on 2 run -d --name x2 --net ov2
a1=$(on 1 inspect -f '{{.NetworkSettings.Networks.ov1.IPAddress}}' a1)
b2=$(on 2 inspect -f '{{.NetworkSettings.Networks.ov1.IPAddress}}' b2)
c3=$(on 3 inspect -f '{{.NetworkSettings.Networks.ov1.IPAddress}}' c3)
[ -n "$a1" ] && [ "$a1" != "$b2" ] && [ "$b2" != "$c3" ] && [ "$a1" != "$c3" ] && pass "three hosts, three addresses ($a1 $b2 $c3)" || fail "addresses: $a1 $b2 $c3"
check "a1 (host 1) reaches b2 (host 2)" on 1 exec a1 ping -c 2 -W 2 "$b2"
check "c3 (host 3) reaches a1 (host 1)" on 3 exec c3 ping -c 2 -W 2 "$a1"
check "a1 reaches c3 by name" eventually 3 on 1 exec a1 ping -c 1 -W 2 c3
check_output "the overlay's MTU is 1450" 'mtu 1450' on 1 exec a1 ip link show eth0
check "a full 1450-byte packet crosses (no fragmentation)" on 1 exec a1 ping -c 1 -W 2 -M do -s 1422 "$b2"
check_fails "ov1 does not reach ov2 on another host" 1 '100% packet loss' on 1 exec a1 ping -c 2 -W 1 10.77.0.2
check_output "... dropped as isolation on host 1" 'bridgeport_container_network_drops_total\{container="a1",network="ov1",[^}]*reason="isolation"' metrics_on 1
on 1 exec a1 ping -q -c 20 -i 0.01 -W 2 "$b2" >/dev/null
rx=$(metrics_on 2 | grep -E '^bridgeport_container_network_receive_packets_total\{container="b2",network="ov1"' | awk '{print $2}')
[ -n "$rx" ] && [ "$rx" -ge 20 ] && pass "b2's traffic is counted on host 2 ($rx packets received)" || fail "b2's receive packets on host 2: '$rx'"
check_output "host 1 has no series of b2" '^$' grep 'container="b2"' <(metrics_on 1)

# An agent restart changes nothing for the traffic (its lease is taken up again).
on 1 exec a1 ping -c 40 -i 0.1 -W 1 "$b2" >"$STATE/restart-ping.txt" 2>&1 &
ping_pid=$!
sleep 0.5
stop_host 2
check "host 2's agent restarts" start_host 2
wait $ping_pid
check_output "pings across the restart lost nothing" ' 0% packet loss' cat "$STATE/restart-ping.txt"
check "b2 reaches c3 after the restart" on 2 exec b2 ping -c 1 -W 2 "$c3"

# VXLAN is taken from the cluster's hosts only: a frame on ov1's VNI claiming to be b2's
# reaches a1 when host 2 sends it, not when the underlay's etcd host (not in the cluster) does.
a1mac=$(on 1 inspect -f '{{.NetworkSettings.Networks.ov1.MacAddress}}' a1)
inject_from() {  # inject_from NAMESPACE: what a1 receives on UDP 7777 from a crafted VXLAN frame
    on 1 exec a1 timeout 3 python3 -c 'import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("0.0.0.0", 7777)); print(s.recv(100).decode())' &
    local listener=$!
    sleep 0.5
    nsenter --net=/run/netns/"$1" python3 "$TOOLS/craft.py" vxlan 198.19.2.1 4097 "$b2" "$a1" "$a1mac" 7777
    wait $listener
}
check_output "a VXLAN frame from a cluster host (host 2) reaches a1" '^injected$' inject_from "$TAG-h2"
check_output "the same frame from a host outside the cluster does not" '^$' inject_from "$UNDER_NS"
check_output "... dropped as vxlan_source on host 1's underlay interface" \
    'bridgeport_host_network_drops_total\{interface="eth0",reason="vxlan_source",direction="ingress"\} [1-9]' \
    metrics_on 1

# 50 containers started at once across the three hosts get 50 addresses.
racers=()
for i in $(seq 1 50); do on $((i % 3 + 1)) run -d --name r$i --net ov1 >/dev/null 2>"$STATE/race-$i.err" & racers+=($!); done
wait "${racers[@]}"
started=0; for i in $(seq 1 50); do [ -s "$STATE/race-$i.err" ] || started=$((started + 1)); done
[ "$started" = 50 ] && pass "50 concurrent starts succeeded" || fail "$started of 50 started: $(cat "$STATE"/race-*.err | head -3)"
addresses=$(for i in $(seq 1 50); do on $((i % 3 + 1)) inspect -f '{{.NetworkSettings.Networks.ov1.IPAddress}}' r$i; done; echo "$a1"; echo "$b2"; echo "$c3")
distinct=$(sort -u <<<"$addresses" | grep -c .)
[ "$distinct" = 53 ] && pass "53 containers, 53 distinct addresses" || fail "$distinct distinct addresses of 53"
check "r1 (host 2) reaches r2 (host 3)" on 2 exec r1 ping -c 1 -W 2 "$(on 3 inspect -f '{{.NetworkSettings.Networks.ov1.IPAddress}}' r2)"

# A container that goes while a host's agent is down leaves no entry on that host.
r1=$(on 2 inspect -f '{{.NetworkSettings.Networks.ov1.IPAddress}}' r1)
check_output "host 1 knows r1" "^$r1 .*PERMANENT" in_h 1 ip neigh show nud permanent
stop_host 1
on 2 rm -f r1 >/dev/null
check "host 1's agent restarts" start_host 1
check "host 1 dropped the entry of r1, gone meanwhile" eventually 5 sh -c "! ip -n $TAG-h1 neigh show nud permanent | grep -q '^$r1 '"

check_fails "ov1 cannot be removed while other hosts have containers on it" 1 'has active endpoints' on 1 network rm ov1

# A host that dies: its containers leave the others when its lease expires (10 s).
check_output "host 1 knows c3" "$c3 .*PERMANENT" in_h 1 ip neigh show nud permanent
stop_host 3 KILL
check "after the lease, host 1 forgets c3" eventually 20 sh -c "! nsenter --net=/run/netns/$TAG-h1 ip neigh show nud permanent | grep -q '^$c3 '"
check_fails "a1 no longer reaches c3" 1 '100% packet loss' on 1 exec a1 ping -c 1 -W 1 "$c3"
check_output "a1's /etc/hosts no longer names c3" '^$' sh -c "BRIDGEPORT_SOCKET=$STATE/h1/agent.sock '$BIN' exec a1 grep -w c3 /etc/hosts"
check "host 3 comes back" start_host 3
check "c3 is announced again: a1 reaches it" eventually 5 on 1 exec a1 ping -c 1 -W 1 "$c3"

check "rm every container" sh -c "for n in 1 2 3; do BRIDGEPORT_SOCKET=$STATE/h\$n/agent.sock '$BIN' rm -f \$(BRIDGEPORT_SOCKET=$STATE/h\$n/agent.sock '$BIN' ps -aq) >/dev/null; done"
check "network rm ov1 ov2 on host 1" on 1 network rm ov1 ov2
check "host 2 drops them too" eventually 5 sh -c "! BRIDGEPORT_SOCKET=$STATE/h2/agent.sock '$BIN' network ls | grep -q ov"
check "no VXLAN device is left on host 3" eventually 5 sh -c "! ip -n $TAG-h3 -o link show | grep -q vx-"
