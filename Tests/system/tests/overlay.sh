# overlay: one network across three hosts over VXLAN, the cluster's state in etcd.
# Three host namespaces, each with its own agent, share an underlay bridge in a fourth
# namespace, where etcd runs.
#
#   underlay: bridge ul 198.19.2.254 (etcd :2379) -- u1, u2, u3
#   host N:   eth0 198.19.2.N -- agent --cluster-store etcd://198.19.2.254:2379 --advertise-address 198.19.2.N
cluster_up 3
check "etcd answers on the underlay" in_under curl -sf http://198.19.2.254:2379/health
# IPv6 on the underlay too (fd00:19::N, the underlay's fd00:19::254), for the overlay's own
# IPv6 to leave through its host; the VXLAN itself stays on IPv4.
ipv6_on() { "$@" sysctl -qw net.ipv6.conf.all.disable_ipv6=0 net.ipv6.conf.default.disable_ipv6=0; }
ipv6_on in_under && in_under sysctl -qw net.ipv6.conf.ul.disable_ipv6=0 && in_under ip -6 addr add fd00:19::254/64 dev ul nodad
for n in 1 2 3; do
    ipv6_on in_h $n && in_h $n sysctl -qw net.ipv6.conf.eth0.disable_ipv6=0 && in_h $n ip -6 addr add fd00:19::$n/64 dev eth0 nodad
done
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

# Past the bridges (bpf/lib/overlay.h): host 1's map names b2 as another host's container
# behind ov1's VXLAN device and a1 as its own behind its veth; what a1 sends b2 goes straight
# to that device, and what host 2's device receives for b2 straight to b2. With every port of
# ov1's bridge on hosts 1 and 2 disabled (STP state), so that no frame crosses a bridge, a1
# still reaches b2. With the bridge closed, ARP cannot cross: a1 and b2 get each other's
# neighbour entry as permanent, so that none goes stale and is probed (an ARP request counted
# as sent) during the checks.
ov1=$(on 1 network inspect -f '{{.Id}}' ov1)
overlay_dest() {  # overlay_dest HOST IP: its bp_overlay_dests entry as "TUNNEL VETH", or nothing
    bpftool -j map lookup pinned "$STATE/h$1/bpf/maps/bp_overlay_dests" key ${2//./ } 2>/dev/null |
        jq -r '.formatted.value // empty | "\(.tunnel_ifindex) \(.ifindex)"'
}
vx1=$(in_h 1 ip -o link show vx-${ov1:0:12} | cut -d: -f1)
check_output "host 1's map: b2 is another host's container behind ov1's VXLAN device" "^$vx1 0\$" overlay_dest 1 "$b2"
check_output "... and a1 its own, behind its veth" "^$vx1 [1-9][0-9]*\$" overlay_dest 1 "$a1"
check_output "bp_tunnel_ingress is on ov1's VXLAN device" 'bp_tunnel_ingre' in_h 1 tc filter show dev vx-${ov1:0:12} ingress
ov1_ports() { in_h "$1" ip -o link show master ov-${ov1:0:12} | awk -F': ' '{ sub(/@.*/, "", $2); print $2 }'; }
ov1_ports_state() { for n in 1 2; do for port in $(ov1_ports $n); do in_h $n bridge link set dev "$port" state "$1"; done; done; }
on 2 exec b2 python3 "$TOOLS/echo.py" --tcp 9090 --udp 9091 >"$STATE/b2-echo.log" 2>&1 &
wait_ready "$STATE/b2-echo.log" || fail "b2's echo server starts"
neighbour() {  # neighbour HOST NAME replace|del IP MAC
    local id; id=$(on "$1" inspect -f '{{.Id}}' "$2")
    nsenter --net="$STATE/h$1/state/netns/$id" ip neigh "$3" "$4" ${5:+lladdr "$5" nud permanent} dev eth0
}
mac_of() { on "$1" inspect -f '{{.NetworkSettings.Networks.ov1.MacAddress}}' "$2"; }
neighbour 1 a1 replace "$b2" "$(mac_of 2 b2)"
neighbour 2 b2 replace "$a1" "$(mac_of 1 a1)"
ov1_ports_state 0  # disabled
packets_of() {  # packets_of HOST CONTAINER receive|transmit: its ov1 packets counted on its host
    metrics_on "$1" | grep -E "^bridgeport_container_network_$3_packets_total\{container=\"$2\",network=\"ov1\"" | awk '{print $2}'
}
link_counts() {  # link_counts HOST CONTAINER: "SENT RECEIVED" packets of its eth0, as its kernel counts them
    local id; id=$(on "$1" inspect -f '{{.Id}}' "$2")
    nsenter --net="$STATE/h$1/state/netns/$id" ip -j -s link show eth0 | jq -r '.[0].stats64 | "\(.tx.packets) \(.rx.packets)"'
}
# Bridgeport's and the kernel's counts of a1's and b2's packets (sent, received; a1's, then b2's).
counts() {
    echo "$(packets_of 1 a1 transmit) $(packets_of 1 a1 receive) $(packets_of 2 b2 transmit) $(packets_of 2 b2 receive)" \
        "$(link_counts 1 a1) $(link_counts 2 b2)"
}
# The counts' moves: Bridgeport's must be the 5 pings exactly; the interfaces' own are there
# to tell, when they are not, whether something else crossed or Bridgeport miscounted.
moves() {  # moves BEFORE AFTER
    local -a b=($1) a=($2); local i moved=()
    [ "${#b[@]}" -eq 8 ] && [ "${#a[@]}" -eq 8 ] || { echo "incomplete counts: '$1', then '$2'"; return; }
    for i in 0 1 2 3 4 5 6 7; do moved+=($((a[i] - b[i]))); done
    echo "Bridgeport ${moved[*]:0:4}; the interfaces ${moved[*]:4:4}"
}
before=$(counts)
on 1 exec a1 ping -q -c 5 -i 0.05 -W 2 "$b2" >/dev/null
check_output "with ov1's bridge ports disabled, 5 pings from a1 to b2 are counted once each way (a1 sent, a1 received, b2 sent, b2 received)" \
    '^Bridgeport 5 5 5 5;' moves "$before" "$(counts)"
check_output "... and a1 reaches b2 over TCP" "^9090 $a1 hello\$" \
    on 1 exec a1 python3 "$TOOLS/probe.py" tcp "$b2" 9090 hello
check_output "... over UDP" "^9091 $a1 hello\$" on 1 exec a1 python3 "$TOOLS/probe.py" udp "$b2" 9091 hello
ov1_ports_state 3  # forwarding
neighbour 1 a1 del "$b2"
neighbour 2 b2 del "$a1"

# IPv6 inside the overlay: the v6 subnet is the cluster's, each container's v6 address is
# unique across hosts (etcd), NDP is answered from the cluster's state as ARP is.
v6_of() { on "$1" inspect -f '{{.NetworkSettings.Networks.six.GlobalIPv6Address}}' "$2"; }
drops_on() {  # drops_on HOST CONTAINER REASON: that container's drops for REASON on its host
    metrics_on "$1" | grep -E "^bridgeport_container_network_drops_total\{container=\"$2\",[^}]*reason=\"$3\"" | awk '{ n += $NF } END { print n + 0 }'
}
check_output "create overlay six with --ipv6 on host 2" '^[0-9a-f]{64}$' \
    on 2 network create -d overlay --ipv6 --subnet 10.78.0.0/24 --subnet fd00:78::/64 six
for n in 1 3; do
    check "host $n sees six with its v6 subnet" eventually 5 sh -c \
        "BRIDGEPORT_SOCKET=$STATE/h$n/agent.sock '$BIN' network inspect -f '{{.EnableIPv6}} {{range .IPAM.Config}}{{.Subnet}} {{end}}' six | grep -qx 'true 10.78.0.0/24 fd00:78::/64 '"
done
check_output "network ls on host 3: six has IPv6" '^six overlay true$' \
    sh -c "BRIDGEPORT_SOCKET=$STATE/h3/agent.sock '$BIN' network ls --format '{{.Name}} {{.Driver}} {{.IPv6}}' | grep '^six '"
check_fails "host 3 cannot give its v6 subnet to another overlay" 1 'overlaps with network six' \
    on 3 network create -d overlay --ipv6 --subnet 10.80.0.0/24 --subnet fd00:78::/64 six-again
check "run s1 on host 1" on 1 run -d --name s1 --net six
check "run s2 on host 2 with --ip6" on 2 run -d --name s2 --net six --ip6 fd00:78::99
check "run s3 on host 3" on 3 run -d --name s3 --net six
s1=$(v6_of 1 s1); s2=$(v6_of 2 s2); s3=$(v6_of 3 s3)
[ "$s2" = fd00:78::99 ] && pass "--ip6 is honoured on an overlay" || fail "s2's address: $s2"
[ -n "$s1" ] && [ -n "$s3" ] && [ "$s1" != "$s3" ] && [ "$s1" != "$s2" ] && [ "$s2" != "$s3" ] &&
    pass "three hosts, three v6 addresses ($s1 $s2 $s3)" || fail "v6 addresses: $s1 $s2 $s3"
check_output "inspect on host 3: s3's v6 address, prefix and gateway" '^fd00:78::[0-9a-f]+ 64 fd00:78::1$' \
    on 3 inspect -f '{{.NetworkSettings.Networks.six.GlobalIPv6Address}} {{.NetworkSettings.Networks.six.GlobalIPv6PrefixLen}} {{.NetworkSettings.Networks.six.IPv6Gateway}}' s3
check_fails "a --ip6 another host holds is refused" 125 'Address already in use: fd00:78::99 on network six' \
    on 3 run -d --name dup --net six --ip6 fd00:78::99
check "... and no container is left of it" sh -c "! BRIDGEPORT_SOCKET=$STATE/h3/agent.sock '$BIN' ps -a --format '{{.Names}}' | grep -qx dup"
check_fails "a run refused after its addresses were reserved (name in use)" 125 'Conflict' \
    on 1 run -d --name s1 --net six --ip6 fd00:78::50
check "... gave them back to the cluster: another host takes its --ip6" on 2 run -d --name s50 --net six --ip6 fd00:78::50
check_fails "network connect --ip6 of a held address on yet another host is refused" 1 'Address already in use: fd00:78::99' \
    on 1 network connect --ip6 fd00:78::99 six a1
check "network connect --ip6 of a free one works" on 1 network connect --ip6 fd00:78::98 six a1
check_output "s1 (host 1) pings s2 (host 2) over IPv6" '1 (packets )?received' on 1 exec s1 ping -6 -c1 -W2 fd00:78::99
check_output "s3 (host 3) pings s1 (host 1)" '1 (packets )?received' on 3 exec s3 ping -6 -c1 -W2 "$s1"
check_output "s2 (host 2) pings a1 (host 1, connected) over IPv6" '1 (packets )?received' on 2 exec s2 ping -6 -c1 -W2 fd00:78::98
check_output "s1 reaches s3 by name (AAAA)" '1 (packets )?received' eventually 3 on 1 exec s1 ping -6 -c1 -W2 s3
check_output "... the embedded DNS answers s3's AAAA on host 1" "$s3" on 1 exec s1 nslookup -type=AAAA s3 127.0.0.11
check_output "host 1 has s2's IPv6 neighbour entry on six's VXLAN device" '^fd00:78::99 dev vx-.* PERMANENT' \
    in_h 1 ip -6 neigh show nud permanent
check_output "a full 1450-byte IPv6 packet crosses" '1 (packets )?received' on 1 exec s1 ping -6 -c1 -W2 -M do -s 1402 fd00:78::99
check "an overlay other6 on host 3, a container on it" sh -c \
    "BRIDGEPORT_SOCKET=$STATE/h3/agent.sock '$BIN' network create -d overlay --ipv6 --subnet 10.79.0.0/24 --subnet fd00:79::/64 other6 >/dev/null &&
     BRIDGEPORT_SOCKET=$STATE/h3/agent.sock '$BIN' run -d --name t3 --net other6 >/dev/null"
check "host 1 sees other6" eventually 5 sh -c "BRIDGEPORT_SOCKET=$STATE/h1/agent.sock '$BIN' network ls | grep -q 'other6 '"
before=$(drops_on 1 s1 isolation)
t3=$(on 3 inspect -f '{{.NetworkSettings.Networks.other6.GlobalIPv6Address}}' t3)
check_fails "six does not reach other6's v6 subnet on another host ($t3)" 1 '' on 1 exec s1 ping -6 -c2 -W1 "$t3"
after=$(drops_on 1 s1 isolation)
[ "$after" -gt "$before" ] && pass "... dropped as isolation on host 1 ($before -> $after)" || fail "s1's isolation drops: $before -> $after"
# Beyond the overlay, as IPv4: through the container's own host, masqueraded (NAT66).
in_under python3 "$TOOLS/echo.py" --ipv6 --tcp 8080 >"$STATE/echo6.log" 2>&1 &
wait_ready "$STATE/echo6.log" || fail "the underlay's IPv6 server starts"
check_output "s3 reaches beyond the overlay over IPv6, masqueraded to host 3's address" '^8080 fd00:19::3 hello$' \
    on 3 exec s3 python3 "$TOOLS/probe.py" tcp fd00:19::254 8080 hello
# 15 containers started at once across the hosts get 15 v6 addresses.
racers=()
for i in $(seq 1 15); do on $((i % 3 + 1)) run -d --name q$i --net six >/dev/null 2>"$STATE/race6-$i.err" & racers+=($!); done
wait "${racers[@]}"
addresses=$(for i in $(seq 1 15); do v6_of $((i % 3 + 1)) q$i; done; printf '%s\n' "$s1" "$s2" "$s3" fd00:78::98 fd00:78::50)
distinct=$(sort -u <<<"$addresses" | grep -c .)
[ "$distinct" = 20 ] && pass "20 containers of six, 20 distinct v6 addresses" || fail "$distinct distinct v6 addresses of 20: $(cat "$STATE"/race6-*.err | head -3)"

# An agent restart changes nothing for the traffic (its lease is taken up again).
on 1 exec a1 ping -c 40 -i 0.1 -W 1 "$b2" >"$STATE/restart-ping.txt" 2>&1 &
ping_pid=$!
sleep 0.5
stop_host 2
# Its etcd client shut down before it went (a debug build traps on one that was not).
check_fails "host 2's agent stopped on SIGTERM without a trap" 1 '^$' grep -E 'Fatal error|Program crashed' "$STATE/h2/agent.log"
check "host 2's agent restarts" start_host 2
wait $ping_pid
check_output "pings across the restart lost nothing" ' 0% packet loss' cat "$STATE/restart-ping.txt"
check "b2 reaches c3 after the restart" on 2 exec b2 ping -c 1 -W 2 "$c3"
check_output "s2 (host 2) reaches s1 over IPv6 after the restart" '1 (packets )?received' on 2 exec s2 ping -6 -c1 -W2 "$s1"
# ov1's VXLAN device deleted while no agent ran is made anew at start, with another ifindex:
# the map's entries follow it.
stop_host 2
in_h 2 ip link del vx-${ov1:0:12}
# Entries of ov1 as a crash could leave them, removed at start: another host's container
# behind a device that is gone (the cluster's state no longer names it either), and this
# host's container behind a veth that is gone (only the start's sweep sees it).
ov1_number=$(bpftool -j map lookup pinned "$STATE/h2/bpf/maps/bp_overlay_dests" key ${b2//./ } | jq '.formatted.value.network_id')
bpftool map update pinned "$STATE/h2/bpf/maps/bp_overlay_dests" key 10 0 0 250 \
    value 0xe7 0x03 0 0 0 0 0 0 "$ov1_number" 0 0 0
bpftool map update pinned "$STATE/h2/bpf/maps/bp_overlay_dests" key 10 0 0 251 \
    value 0xe7 0x03 0 0 0x0f 0x27 0 0 "$ov1_number" 0 0 0
check "host 2's agent restarts, with ov1's VXLAN device made anew" start_host 2
check_output "... and removes the entry naming a gone device" '^$' overlay_dest 2 10.0.0.250
check_output "... and the one naming a gone veth" '^$' overlay_dest 2 10.0.0.251
vx2=$(in_h 2 ip -o link show vx-${ov1:0:12} | cut -d: -f1)
overlay_dest_is() { [ "$(overlay_dest "$1" "$2")" = "$3" ]; }
check "host 2's map: a1 behind the new device ($vx2)" eventually 5 overlay_dest_is 2 "$a1" "$vx2 0"
check_output "... b2 too" "^$vx2 [1-9][0-9]*\$" overlay_dest 2 "$b2"
check "a1 reaches b2 again" eventually 5 on 1 exec a1 ping -c 1 -W 1 "$b2"
# Deleted while the agent runs, it is made again as soon as the agent reads the deletion,
# with its program, its bridge and its entries (until then, what the entries redirect to
# the gone device is dropped by the kernel, uncounted).
in_h 2 ip link del vx-${ov1:0:12}
check "host 2's agent makes ov1's VXLAN device again" eventually 5 sh -c \
    "ip -n $TAG-h2 -o link show vx-${ov1:0:12} | grep -q 'master ov-' && ! ip -n $TAG-h2 -o link show vx-${ov1:0:12} | grep -q '^$vx2:'"
vx2=$(in_h 2 ip -o link show vx-${ov1:0:12} | cut -d: -f1)
tunnel_program_on_vx2() { in_h 2 tc filter show dev vx-${ov1:0:12} ingress | grep -q bp_tunnel_ingre; }
check "... with bp_tunnel_ingress on it" eventually 5 tunnel_program_on_vx2
check "... a1 behind the new device ($vx2)" eventually 5 overlay_dest_is 2 "$a1" "$vx2 0"
check_output "... b2 too" "^$vx2 [1-9][0-9]*\$" overlay_dest 2 "$b2"
check "a1 reaches b2 after it" eventually 5 on 1 exec a1 ping -c 1 -W 1 "$b2"
check_output "the agent says it made the device again" 'it is made again' grep 'VXLAN device of an overlay network' "$STATE/h2/agent.log"

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
on 2 rm -f r1 s2 >/dev/null
check "host 1's agent restarts" start_host 1
check "host 1 dropped the entry of r1, gone meanwhile" eventually 5 sh -c "! ip -n $TAG-h1 neigh show nud permanent | grep -q '^$r1 '"
check "... and the IPv6 entry of s2" eventually 5 sh -c "! ip -n $TAG-h1 -6 neigh show nud permanent | grep -q '^fd00:78::99 '"
check_output "... while s3's stays" "^$s3 .*PERMANENT" in_h 1 ip -6 neigh show nud permanent
check "s2's --ip6 address is free again" on 3 run -d --name s2b --net six --ip6 fd00:78::99

check_fails "ov1 cannot be removed while other hosts have containers on it" 1 'has active endpoints' on 1 network rm ov1

# A host that dies: its containers leave the others when its lease expires (10 s).
check_output "host 1 knows c3" "$c3 .*PERMANENT" in_h 1 ip neigh show nud permanent
stop_host 3 KILL
check "after the lease, host 1 forgets c3" eventually 20 sh -c "! nsenter --net=/run/netns/$TAG-h1 ip neigh show nud permanent | grep -q '^$c3 '"
check_fails "a1 no longer reaches c3" 1 '100% packet loss' on 1 exec a1 ping -c 1 -W 1 "$c3"
check_output "host 1's map no longer holds c3" '^$' overlay_dest 1 "$c3"
check_output "a1's /etc/hosts no longer names c3" '^$' sh -c "BRIDGEPORT_SOCKET=$STATE/h1/agent.sock '$BIN' exec a1 grep -w c3 /etc/hosts"
check "host 3 comes back" start_host 3
check "c3 is announced again: a1 reaches it" eventually 5 on 1 exec a1 ping -c 1 -W 1 "$c3"

# An address another host took while its owner was away stays the taker's: removing the
# owner's container later gives back only keys that still hold its own record.
check "z3 on host 3 at 10.77.0.50" on 3 run -d --name z3 --net ov2 --ip 10.77.0.50
stop_host 3 KILL
took=
for _ in $(seq 1 50); do on 1 run -d --name w1 --net ov2 --ip 10.77.0.50 >/dev/null 2>&1 && { took=1; break; }; sleep 0.5; done
[ -n "$took" ] && pass "after host 3's lease, host 1 takes 10.77.0.50" || fail "host 1 never got 10.77.0.50"
check "host 3 comes back (its z3 now clashes)" start_host 3
check "host 3 removes z3" on 3 rm -f z3
check_fails "10.77.0.50 is still w1's: host 2 cannot take it" 125 'already in use' \
    on 2 run -d --name y2 --net ov2 --ip 10.77.0.50

check "rm every container" sh -c "for n in 1 2 3; do BRIDGEPORT_SOCKET=$STATE/h\$n/agent.sock '$BIN' rm -f \$(BRIDGEPORT_SOCKET=$STATE/h\$n/agent.sock '$BIN' ps -aq) >/dev/null || exit 1; done"
check "network rm ov1 ov2 six other6 on host 1" on 1 network rm ov1 ov2 six other6
check "host 2 drops them too" eventually 5 sh -c "! BRIDGEPORT_SOCKET=$STATE/h2/agent.sock '$BIN' network ls | grep -qE 'ov|six|other6'"
check "no VXLAN device is left on host 3" eventually 5 sh -c "! ip -n $TAG-h3 -o link show | grep -q vx-"
for n in 1 2 3; do
    check "host $n's bp_overlay_dests is empty" eventually 5 sh -c \
        "[ \"\$(bpftool -j map dump pinned '$STATE/h$n/bpf/maps/bp_overlay_dests')\" = '[]' ]"
done
