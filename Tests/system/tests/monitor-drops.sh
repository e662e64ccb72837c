# bridgeport monitor, drop by drop: each reason a container or the outside can provoke
# reaches a running monitor with its container, reason, direction and exact tuple
# (addresses; ports for TCP, UDP and SCTP when the packet shows them). The ways to provoke
# them are those of isolation.sh, hostile.sh, ports.sh, ipv6.sh, ipv6-only.sh, pmtu.sh and flows.sh.
# Not here:
#   vxlan_source: needs a cluster (etcd, an agent per host); overlay.sh checks its counter.
agent_start || { fail "agent starts"; return; }

# udp_send RUN... -- SOURCE SOURCE_PORT DESTINATION PORT: one datagram from that address and
# port (an IPv6 DESTINATION may have a %scope), sent where RUN runs it ("bp exec a1", in_ext).
udp_send() {
    local run=()
    while [ "$1" != -- ]; do run+=("$1"); shift; done; shift
    "${run[@]}" python3 -c 'import socket, sys
source, sport, destination, dport = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
s = socket.socket(socket.AF_INET6 if ":" in destination else socket.AF_INET, socket.SOCK_DGRAM)
address = lambda host, port: socket.getaddrinfo(host, port, type=socket.SOCK_DGRAM)[0][4]
s.bind(address(source, sport))
s.sendto(b"drop me", address(destination, dport))' "$@"
}
# drop_seen REASON CONTAINER DIRECTION PROTO SOURCE SPORT DESTINATION DPORT: the monitor
# "all" shows exactly that drop (CONTAINER "" for the host's own, SPORT and DPORT "" when
# the protocol has none), within 5 s.
drop_seen() {
    local container=\"$2\" sport=$6 dport=$8
    [ -z "$2" ] && container=null
    eventually 5 has_event all ".type == \"drop\" and .reason == \"$1\" and .container == $container and
        .direction == \"$3\" and .proto == \"$4\" and .source == \"$5\" and .sourcePort == ${sport:-null} and
        .destination == \"$7\" and .destinationPort == ${dport:-null}"
}
id_of() { bp inspect -f '{{.Id}}' "$1"; }

check "networks" bash -c "'$BIN' network create --subnet 10.70.0.0/24 a >/dev/null &&
    '$BIN' network create --subnet 10.71.0.0/24 b >/dev/null &&
    '$BIN' network create --internal --subnet 10.72.0.0/24 c >/dev/null &&
    '$BIN' network create --subnet 10.73.0.0/24 -o com.docker.network.bridge.enable_icc=false d >/dev/null &&
    '$BIN' network create --subnet 10.74.0.0/24 web >/dev/null &&
    '$BIN' network create --subnet 10.75.0.0/24 other >/dev/null &&
    '$BIN' network create --ipv6 --subnet 10.76.0.0/24 --subnet fd00:276:1::/64 six >/dev/null &&
    '$BIN' network create --ipv4=false --ipv6 --subnet fd00:277:1::/64 only6 >/dev/null"
# a1, c1 and liar change their addresses or routes (NET_ADMIN); p1 and r1 send raw frames
# and turn IPv6 on (privileged).
for spec in a1:a:NET_ADMIN a2:a b1:b c1:c:NET_ADMIN d1:d d2:d gcli:other p1:a:privileged r1:six:privileged \
    liar:only6:NET_ADMIN; do
    IFS=: read -r name net power <<<"$spec"
    flags=()
    case $power in NET_ADMIN) flags=(--cap-add NET_ADMIN) ;; privileged) flags=(--privileged) ;; esac
    bp run -d --name "$name" --net "$net" "${flags[@]}" >/dev/null || fail "run $name"
done
check "a restricted published port" bash -c "'$BIN' run -d --name guarded --net web -p 7100:80 -- python3 '$TOOLS/echo.py' --tcp 80 >/dev/null &&
    '$BIN' port allow guarded 7100/tcp 203.0.113.0/24 >/dev/null"
wait_ready guarded
A1=$(ip_of a1); A2=$(ip_of a2); B1=$(ip_of b1); D1=$(ip_of d1); D2=$(ip_of d2); C1=$(ip_of c1); P1=$(ip_of p1)

monitor_start all

udp_send bp exec a1 -- "$A1" 40001 "$B1" 9001
check "isolation: a1 to b1's network" drop_seen isolation a1 egress udp "$A1" 40001 "$B1" 9001
check "... and the container's ID with it" eventually 5 has_event all \
    ".reason == \"isolation\" and .containerID == \"$(id_of a1)\" and .network == \"a\" and .length > 0"

udp_send bp exec d1 -- "$D1" 40002 "$D2" 9002
check "icc: d1 to its neighbour d2 with ICC off" drop_seen icc d1 egress udp "$D1" 40002 "$D2" 9002

# A neighbour entry for a2: a1's ARP request from the second address would be dropped
# first (also spoofed_source, but without a tuple).
a2_mac=$(bp exec a2 cat /sys/class/net/eth0/address)
bp exec a1 sh -c "ip addr add 10.70.0.99/24 dev eth0 && ip neigh replace $A2 lladdr $a2_mac dev eth0 nud permanent" ||
    fail "a1's second address"
udp_send bp exec a1 -- 10.70.0.99 40003 "$A2" 9003
check "spoofed_source: a1 from an address not its own" drop_seen spoofed_source a1 egress udp 10.70.0.99 40003 "$A2" 9003

bp exec c1 ip route add default via 10.72.0.1 || fail "c1's default route"
udp_send bp exec c1 -- "$C1" 40004 198.51.100.2 9004
check "internal: c1 out of its internal network" drop_seen internal c1 egress udp "$C1" 40004 198.51.100.2 9004

in_ext ip route add 10.70.0.0/24 via 198.51.100.1
udp_send in_ext -- 198.51.100.2 40005 "$A2" 9005
check "direct_access: from the uplink straight to a2 (the host's drop)" \
    drop_seen direct_access "" ingress udp 198.51.100.2 40005 "$A2" 9005
check "... on the uplink's interface" eventually 5 has_event all ".reason == \"direct_access\" and .interface == \"$TAG-up\""

in_ext python3 -c 'import socket
s = socket.socket()
s.bind(("198.51.100.2", 40006))
s.settimeout(1)
try:
    s.connect(("198.51.100.1", 7100))
except OSError:
    pass' || fail "the connection to the restricted port"
check "not_allowed: from outside to the restricted port (counted on its container, before the translation)" \
    drop_seen not_allowed guarded ingress tcp 198.51.100.2 40006 198.51.100.1 7100
check_fails "not_allowed: gcli's connect() to the restricted port is refused" 1 'not permitted' \
    bp exec gcli python3 "$TOOLS/probe.py" tcp 198.51.100.1 7100 x
check "... and the refused call reaches the monitor (no source: the socket had none yet)" eventually 5 has_event all \
    ".reason == \"not_allowed\" and .container == \"gcli\" and .direction == \"egress\" and .refusedCall == true and
     .proto == \"tcp\" and .source == null and .sourcePort == null and .destination == \"198.51.100.1\" and
     .destinationPort == 7100 and .length == null"

# Raw frames from p1 (frames.py: IPv4/UDP from its own address, port 40000).
bp exec p1 python3 "$TOOLS/frames.py" send eth0 "$A2" 9007 tagged --tag 0x8100:7 || fail "p1's tagged frame"
check "vlan: an 802.1Q-tagged frame from p1" drop_seen vlan p1 egress udp "$P1" 40000 "$A2" 9007
bp exec p1 python3 "$TOOLS/frames.py" send eth0 "$A2" 9008 odd --ethertype 0x88b5 || fail "p1's odd frame"
check "unknown_l3: an ethertype no network carries (no tuple)" eventually 5 has_event all \
    ".reason == \"unknown_l3\" and .container == \"p1\" and .direction == \"egress\" and .proto == \"0x88b5\" and
     .source == null and .destination == null"
bp exec p1 python3 "$TOOLS/frames.py" send eth0 "$A2" 9009 cut --cut 12 || fail "p1's cut frame"
check "malformed: a cut IPv4 header (no tuple)" eventually 5 has_event all \
    ".reason == \"malformed\" and .container == \"p1\" and .direction == \"egress\" and .proto == \"ipv4\" and
     .source == null and .destination == null and .length == 26"

# IPv6 from a container of an IPv4-only network (p1 turns it on, without DAD so that its
# link-local address is usable at once).
bp exec p1 sh -c 'sysctl -qw net.ipv6.conf.eth0.accept_dad=0 && sysctl -qw net.ipv6.conf.eth0.disable_ipv6=0' ||
    fail "p1 turns IPv6 on"
P1_LL=$(bp exec p1 ip -6 -o addr show dev eth0 scope link | awk '{ sub(/\/.*/, "", $4); print $4 }')
udp_send bp exec p1 -- "$P1_LL%eth0" 40010 ff02::1%eth0 9010
check "ipv6_disabled: IPv6 from p1 on an IPv4-only network" \
    drop_seen ipv6_disabled p1 egress udp "$P1_LL" 40010 ff02::1 9010

# IPv4 from a container of an IPv6-only network: an address of its own and a neighbour
# entry, so that the datagram itself (not an ARP request) leaves.
bp exec liar sh -c 'ip addr add 10.77.0.5/24 dev eth0 && ip neigh add 10.77.0.1 lladdr 02:00:00:00:00:01 dev eth0 nud permanent' ||
    fail "liar's IPv4 address"
udp_send bp exec liar -- 10.77.0.5 40011 10.77.0.1 9011
check "ipv4_disabled: IPv4 from liar on an IPv6-only network" drop_seen ipv4_disabled liar egress udp 10.77.0.5 40011 10.77.0.1 9011

# A router advertisement from a container (ICMPv6 type 134, from its own global address).
R1_6=$(bp inspect -f '{{range .NetworkSettings.Networks}}{{.GlobalIPv6Address}}{{end}}' r1)
bp exec r1 python3 -c 'import socket, sys
s = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6)
s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_HOPS, 255)
s.bind((sys.argv[1], 0))
# type, code, checksum (the kernel fills it), hop limit, flags, router lifetime, reachable, retrans
s.sendto(bytes([134, 0, 0, 0, 64, 0, 0x07, 0x08]) + bytes(8), ("ff02::1", 0, 0, socket.if_nametoindex("eth0")))' "$R1_6" ||
    fail "r1's router advertisement"
check "rogue_router: a router advertisement from r1 (ICMPv6: no ports)" \
    drop_seen rogue_router r1 egress icmpv6 "$R1_6" "" ff02::1 ""

# ip_send RUN... -- SOURCE DESTINATION PROTO HEX: one IPv4 or IPv6 packet of protocol PROTO
# whose payload is HEX, its IP header the kernel's (a raw socket; ICMPv6 gets its checksum).
ip_send() {
    local run=()
    while [ "$1" != -- ]; do run+=("$1"); shift; done; shift
    "${run[@]}" python3 -c 'import socket, sys
source, destination, proto, payload = sys.argv[1], sys.argv[2], int(sys.argv[3]), bytes.fromhex(sys.argv[4])
s = socket.socket(socket.AF_INET6 if ":" in destination else socket.AF_INET, socket.SOCK_RAW, proto)
s.bind((source, 0))
s.sendto(payload, (destination, 0))' "$@"
}

# An ICMP timestamp request (type 13) from p1: masquerade translates echo and errors only.
ip_send bp exec p1 -- "$P1" 198.51.100.2 1 0d000000000000010000000000000000000000000000 || fail "p1's timestamp request"
check "untranslatable: ICMP other than echo from a masquerading network (no ports)" \
    drop_seen untranslatable p1 egress icmp "$P1" "" 198.51.100.2 ""

# A protocol without ports (253, experimental) is masqueraded by its addresses alone: a
# second container's packet to the same destination would have the first one's reply tuple.
R1=$(ip_of r1)
ip_send bp exec p1 -- "$P1" 198.51.100.2 253 00 || fail "p1's protocol 253"
ip_send bp exec r1 -- "$R1" 198.51.100.2 253 00 || fail "r1's protocol 253"
check "nat_exhausted: a second container's protocol-253 packet to the same destination" \
    drop_seen nat_exhausted r1 egress 253 "$R1" "" 198.51.100.2 ""

# A later fragment (offset 64 bytes) of a datagram whose first fragment never passed.
bp exec p1 python3 -c 'import socket, sys
sys.path.insert(0, sys.argv[1])
from inet import ip_header
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
s.sendto(ip_header(sys.argv[2], "198.51.100.2", 16, frag_field=8) + bytes(16), ("198.51.100.2", 0))' "$TOOLS" "$P1" ||
    fail "p1's later fragment"
check "fragment: a later fragment from a masquerading network (its ports are in the first)" \
    drop_seen fragment p1 egress udp "$P1" "" 198.51.100.2 ""

# A datagram larger than the uplink's MTU, DF off: the kernel would fragment it untranslated.
in_host ip link set "$TAG-up" mtu 1400
bp exec a1 python3 -c 'import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.IPPROTO_IP, 10, 0)  # IP_MTU_DISCOVER: IP_PMTUDISC_DONT, DF off
s.bind((sys.argv[1], 40014))
s.sendto(bytes(1450), ("198.51.100.2", 9014))' "$A1" || fail "a1's large datagram"
check "frag_needed: 1478 bytes without DF for a 1400-byte uplink (before the translation)" \
    drop_seen frag_needed a1 egress udp "$A1" 40014 198.51.100.2 9014
check "... with its length" eventually 5 has_event all ".reason == \"frag_needed\" and .length == 1492"
in_host ip link set "$TAG-up" mtu 1500

# A route whose lookup bpf_fib_lookup cannot answer: one with an encapsulation (LWT).
in_host ip route add 198.18.9.0/24 encap ip id 1 dst 198.51.100.2 dev "$TAG-up" || fail "the encapsulating route"
udp_send bp exec a1 -- "$A1" 40015 198.18.9.2 9015
check "no_route: a masqueraded datagram whose way out is an encapsulating route" \
    drop_seen no_route a1 egress udp "$A1" 40015 198.18.9.2 9015

# IPv6 from r1 (dual-stack, masquerading) to beyond the host that NAT66 does not take:
# SCTP (ports in the tuple), an ICMPv6 message other than echo and errors.
ip_send bp exec r1 -- "$R1_6" fd00:5100::2 132 "$(printf '%04x%04x' 40012 9012)0000000000000000" || fail "r1's SCTP"
check "ipv6_unsupported: SCTP from r1 beyond the host" drop_seen ipv6_unsupported r1 egress sctp "$R1_6" 40012 fd00:5100::2 9012
ip_send bp exec r1 -- "$R1_6" fd00:5100::2 58 8b000000000000000000000000000000 || fail "r1's node information query"
check "untranslatable: an ICMPv6 node information query (type 139) from r1 beyond the host" \
    drop_seen untranslatable r1 egress icmpv6 "$R1_6" "" fd00:5100::2 ""

# Nine destination options headers (8-byte PadN each), then UDP: one more than the programs
# follow. The UDP header starts at byte 126 of the frame, past the event's 128-byte sample.
chain=""
for _ in 1 2 3 4 5 6 7 8; do chain+=3c00010400000000; done
chain+=1100010400000000$(printf '%04x%04x' 40013 9013)000a00007878
ip_send bp exec r1 -- "$R1_6" fd00:5100::2 60 "$chain" || fail "r1's chain of extension headers"
check "ext_headers: nine extension headers from r1 (the ports are past the sample)" \
    drop_seen ext_headers r1 egress udp "$R1_6" "" fd00:5100::2 ""

# The agent writes a veth's endpoint entry before it attaches the programs: one whose entry
# is gone (deleted here behind the agent's back) is not let through unjudged.
a2_veth=$(bp exec a2 ip -o link show eth0 | sed -n 's/^[0-9]*: eth0@if\([0-9]*\):.*/\1/p')  # its host-side peer
bpftool map delete pinned "$STATE/bpf/maps/bp_endpoints" key $(printf '0x%02x 0x%02x 0x%02x 0x%02x' \
    $((a2_veth & 255)) $((a2_veth >> 8 & 255)) $((a2_veth >> 16 & 255)) $((a2_veth >> 24))) ||
    fail "a2's endpoint entry deleted"
udp_send bp exec a2 -- "$A2" 40014 "$A1" 9014
# What goes first is a2's ARP request for a1, unless a1's address is still in its cache.
check "unknown_endpoint: a2, its veth's entry gone" eventually 5 has_event all \
    '.type == "drop" and .reason == "unknown_endpoint" and .container == "a2" and .direction == "egress"'

# A flow table of two flows (four entries: a masqueraded flow has one each way), the third
# finds it full. The agent restarts with it (an empty table of another size); the monitor
# "all" ended with the agent.
agent_stop
MONITOR_PIDS=()
agent_start --max-flows 2 || fail "agent restarts with --max-flows 2"
monitor_start small
for port in 9101 9102 9103; do udp_send bp exec a1 -- "$A1" 40020 198.51.100.2 $port; done
check "ct_full: a1's third new flow" eventually 5 has_event small \
    ".type == \"drop\" and .reason == \"ct_full\" and .container == \"a1\" and .direction == \"egress\" and
     .proto == \"udp\" and .source == \"$A1\" and .sourcePort == 40020 and .destination == \"198.51.100.2\" and
     .destinationPort == 9103"
only_the_third() { ! has_event small '.reason == "ct_full" and .destinationPort != 9103'; }
check "... and only the third: two flows fit" only_the_third
