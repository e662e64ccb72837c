# macvlan: containers on a LAN with their own addresses and MACs, through a parent
# interface of the host (a veth whose peer is the LAN namespace, never the machine's
# own interface), on 802.1Q VLANs that Bridgeport makes and removes.
#
#   LAN namespace: eth0 (untagged), eth0.10 10.99.10.200, eth0.20 10.99.20.200
#      | veth
#   host namespace: lan0 (parent) -> lan0.10 (mv10), lan0.20 (mv20) -> macvlan eth0 in containers
netns_add "$LAN_NS"
ip link add lan0 netns "$HOST_NS" type veth peer name eth0 netns "$LAN_NS"
in_host ip link set lan0 up
in_lan ip link set eth0 up
# This kernel may lack 802.1Q: then the two "VLANs" are two LAN segments, each on a
# parent of its own (lan0, lan1), and the VLAN error message is checked instead.
if in_lan ip link add link eth0 name eth0.10 type vlan id 10 2>/dev/null; then
    in_lan ip link add link eth0 name eth0.20 type vlan id 20
    P10=lan0.10 P20=lan0.20 L10=eth0.10 L20=eth0.20
else
    ip link add lan1 netns "$HOST_NS" type veth peer name eth1 netns "$LAN_NS"
    in_host ip link set lan1 up
    P10=lan0 P20=lan1 L10=eth0 L20=eth1
    echo "  (no 802.1Q in this kernel: the VLANs are two parents)"
fi
for v in 10 20; do
    l=L$v
    in_lan ip addr add 10.99.$v.200/24 dev ${!l}
    in_lan ip link set ${!l} up
done
agent_start || { fail "agent starts"; return; }

if [ "$P10" = lan0.10 ]; then
    check "create mv10 on VLAN 10" bp network create -d macvlan --subnet 10.99.10.0/24 -o parent=lan0.10 mv10
    check_output "the VLAN sub-interface was made: 802.1Q id 10 on lan0" 'vlan protocol 802.1Q id 10' in_host ip -d link show lan0.10
else
    check_fails "a VLAN parent says the kernel lacks 802.1Q" 1 'no 802.1Q support' \
        bp network create -d macvlan --subnet 10.99.10.0/24 -o parent=lan0.10 mv10
    check_output "... and leaves no network behind" '^$' sh -c "'$BIN' network ls | grep mv10"
    check "create mv10 on lan0" bp network create -d macvlan --subnet 10.99.10.0/24 -o parent=lan0 mv10
fi
check "create mv20 on $P20 (explicit bridge mode)" bp network create -d macvlan --subnet 10.99.20.0/24 -o parent=$P20 -o macvlan_mode=bridge mv20
check_output "ls shows the driver and scope" 'mv10 +macvlan +local' bp network ls
check_output "inspect shows the parent" "\"parent\": \"$P10\"" bp network inspect mv10

check_fails "a parent in use is refused" 1 "network mv10 is already using parent interface $P10" \
    bp network create -d macvlan --subnet 10.99.30.0/24 -o parent=$P10 again
check_fails "a missing parent is refused" 1 'parent interface was not found on the host: nope0' \
    bp network create -d macvlan --subnet 10.99.40.0/24 -o parent=nope0 missing
check_fails "a VLAN of a missing interface is refused" 1 'parent interface was not found on the host: nope0' \
    bp network create -d macvlan --subnet 10.99.41.0/24 -o parent=nope0.7 missing2
check_output "... and leaves no network behind" '^$' sh -c "'$BIN' network ls | grep missing"
check_fails "an unknown mode is refused" 1 "requested macvlan mode 'loud' is not valid" \
    bp network create -d macvlan -o parent=lan0 -o macvlan_mode=loud loud
check_fails "a VLAN id out of range is refused" 1 'vlan id must be between 1-4094, received: 5000' \
    bp network create -d macvlan -o parent=lan0.5000 big

check "run c10 on mv10 with an address" bp run -d --name c10 --net mv10 --ip 10.99.10.10 --cap-add NET_ADMIN
check "run d10 on mv10" bp run -d --name d10 --net mv10
check "run c20 on mv20" bp run -d --name c20 --net mv20 --ip 10.99.20.10
check_output "c10's eth0 is a macvlan device" 'macvlan mode bridge' bp exec c10 ip -d link show eth0
check_output "c10 has its address" 'eth0@.* +UP +10.99.10.10/24' bp exec c10 ip -br addr
check_output "c10's default route is the LAN's gateway" 'default via 10.99.10.1 dev eth0' bp exec c10 ip route
# As Docker's, IPAM knows nothing of the LAN's own hosts (hence .200 there, or --ip-range).
check_output "d10 got the first free address" '10.99.10.2/24' bp exec d10 ip -br addr

check "the LAN reaches c10 directly by its address" in_lan ping -c 2 -W 2 10.99.10.10
check "c10 reaches the LAN" bp exec c10 ping -c 1 -W 2 10.99.10.200
check "c10 reaches d10 on the same parent (bridge mode)" bp exec c10 ping -c 1 -W 2 d10
check "the LAN reaches c20 on VLAN 20" in_lan ping -c 1 -W 2 10.99.20.10
# A LAN address of c20's subnet on VLAN 10: VLAN 10 does not carry c20's frames.
in_lan ip addr add 10.99.20.3/24 dev $L10
in_lan ip addr del 10.99.20.200/24 dev $L20
check_fails "VLAN 10 does not see c20 (VLAN 20)" 1 '100% packet loss' in_lan ping -c 2 -W 1 -I $L10 10.99.20.10
check_fails "c10 does not reach c20 (other VLAN, isolated)" 1 '100% packet loss' bp exec c10 ping -c 2 -W 1 10.99.20.10

# Docker's documented limit: the host cannot reach its macvlan containers through the parent.
in_host ip addr add 10.99.10.250/24 dev $P10
check_fails "the host does not reach c10 through the parent" 1 '100% packet loss' in_host ping -c 2 -W 1 10.99.10.10
in_host ip addr del 10.99.10.250/24 dev $P10

# Counters on the macvlan device, in stats and metrics.
in_lan ping -q -c 20 -i 0.01 -W 2 10.99.10.10 >/dev/null
rx=$(metric bridgeport_container_network_receive_packets_total container=c10 network=mv10 interface=eth0)
[ -n "$rx" ] && [ "$rx" -ge 20 ] && pass "c10's receive packets count the LAN's pings ($rx)" || fail "c10's receive packets: '$rx'"
tx=$(metric bridgeport_container_network_transmit_packets_total container=c10 network=mv10 interface=eth0)
[ -n "$tx" ] && [ "$tx" -ge 20 ] && pass "c10's transmit packets count the replies ($tx)" || fail "c10's transmit packets: '$tx'"
check_output "stats shows c10's packets" '"ReceivePackets": *[1-9]' bp stats --no-stream --format json c10

# A container that takes another source address is dropped and counted.
bp exec c10 ip addr add 10.99.10.99/24 dev eth0
check_fails "a spoofed source leaves nothing" 1 '100% packet loss' bp exec c10 ping -c 2 -W 1 -I 10.99.10.99 10.99.10.200
check_output "the drop is counted as spoofed_source" 'bridgeport_container_network_drops_total\{container="c10",network="mv10",interface="eth0",reason="spoofed_source",direction="egress"\} [1-9]' metrics
bp exec c10 ip addr del 10.99.10.99/24 dev eth0

# Across a restart the programs and counters stay.
agent_stop
check "c10 still answers while no agent runs" in_lan ping -c 1 -W 2 10.99.10.10
agent_start || fail "agent restarts"
rx2=$(metric bridgeport_container_network_receive_packets_total container=c10)
[ -n "$rx2" ] && [ "$rx2" -ge "$rx" ] && pass "counters survive the restart ($rx -> $rx2)" || fail "counters after restart: '$rx2' (before $rx)"
check "c10 answers after the restart" in_lan ping -c 1 -W 2 10.99.10.10

# Without a parent: a dummy device of its own, no way out.
check "create a macvlan network without parent" bp network create -d macvlan --subnet 10.99.50.0/24 solo
dummy=$(in_host ip -o link show | awk -F': ' '{print $2}' | grep '^dm-')
[ -n "$dummy" ] && pass "a dummy parent ${dummy%@*} was made" || fail "no dummy parent"
check "run s1 on it" bp run -d --name s1 --net solo
check "run s2 on it" bp run -d --name s2 --net solo
check "s1 reaches s2 through the dummy parent" bp exec s1 ping -c 1 -W 2 s2

# IPv6 (issue 19): a dual-stack macvlan network; the LAN (eth2) is its gateway and routes
# fd00:5299::/64 behind it.
ip link add lan2 netns "$HOST_NS" type veth peer name eth2 netns "$LAN_NS"
in_host ip link set lan2 up
in_lan sysctl -qw net.ipv6.conf.all.disable_ipv6=0 net.ipv6.conf.eth2.disable_ipv6=0 net.ipv6.conf.lo.disable_ipv6=0
in_lan ip link set eth2 up
in_lan ip link set lo up
in_lan ip -6 addr add fd00:5210::1/64 dev eth2 nodad
in_lan ip -6 addr add fd00:5210::200/64 dev eth2 nodad
in_lan ip -6 addr add fd00:5299::1/128 dev lo
check "a dual-stack macvlan network" bp network create -d macvlan --ipv6 --subnet 10.99.60.0/24 \
    --subnet fd00:5210::/64 -o parent=lan2 mv6
check "run m6 on it with an IPv6 address" bp run -d --name m6 --net mv6 --ip6 fd00:5210::10 --cap-add NET_ADMIN
check_output "m6 has its IPv6 address" 'fd00:5210::10/64' bp exec m6 ip -6 -br addr show dev eth0
check_output "m6's IPv6 default route is the LAN's gateway" 'default via fd00:5210::1 dev eth0' bp exec m6 ip -6 route
check "the LAN reaches m6 over IPv6" in_lan ping -6 -c 2 -W 2 fd00:5210::10
check "m6 reaches the LAN's host" bp exec m6 ping -6 -c 1 -W 2 fd00:5210::200
check "m6 reaches beyond the LAN's router, with its own address" bp exec m6 ping -6 -c 1 -W 2 fd00:5299::1
bp exec m6 ip -6 addr add fd00:5210::99/64 dev eth0 nodad
check_fails "a spoofed IPv6 source leaves nothing" 1 '100% packet loss' \
    bp exec m6 ping -6 -c 2 -W 1 -I fd00:5210::99 fd00:5210::200
check_output "... counted as spoofed_source" \
    'bridgeport_container_network_drops_total\{container="m6",network="mv6",interface="eth0",reason="spoofed_source",direction="egress"\} [1-9]' metrics

# A macvlan network's prefix is the LAN's: outside, for other networks' containers (Docker
# isolates its bridges only). With the host on the LAN too, a bridge container reaches the
# LAN's hosts, masqueraded, in both families.
for dev in all default lan2; do in_host sysctl -qw "net.ipv6.conf.$dev.disable_ipv6=0"; done
in_host ip addr add 10.99.60.1/24 dev lan2
in_host ip -6 addr add fd00:5210::2/64 dev lan2 nodad
in_lan ip addr add 10.99.60.200/24 dev eth2
check "a dual-stack bridge network and a container on it" bash -c \
    "'$BIN' network create --ipv6 --subnet 10.99.70.0/24 --subnet fd00:5270::/64 b6 >/dev/null && '$BIN' run -d --name onbridge --net b6 >/dev/null"
before=$(drops isolation)
check "the bridge container reaches a host on the macvlan network's LAN" bp exec onbridge ping -c 1 -W 2 10.99.60.200
check "... over IPv6 too" bp exec onbridge ping -6 -c 1 -W 2 fd00:5210::200
[ "$(drops isolation)" = "$before" ] && pass "... nothing dropped as isolation" || fail "isolation drops: $before, then $(drops isolation)"
check "rm it" bash -c "'$BIN' rm -f onbridge >/dev/null && '$BIN' network rm b6 >/dev/null"

check "rm the containers" bp rm -f c10 d10 c20 s1 s2 m6
check_output "their counters are gone" '^$' samples '.*' container=c10
check "rm the networks" bp network rm mv10 mv20 solo mv6
[ "$P10" = lan0.10 ] && check_fails "the VLAN sub-interface went with its network" 1 'does not exist' in_host ip link show lan0.10
check_output "no dummy parent is left" '^$' sh -c "ip -n $HOST_NS -o link show | grep -E ': d[mp]-'"
check "the parent lan0 stays" in_host ip link show lan0
