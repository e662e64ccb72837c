# Path-MTU discovery and fragments over IPv6 (issue 19): pmtu.sh's paths with NAT66. A
# router on the way answers a container's too-big packets with ICMPv6 "packet too big"
# (IPv6 routers never fragment) sent to the host's address; the error reaches the container
# translated back (bpf/lib/icmp6.h), its TCP lowers its segment size and a large transfer
# completes. A datagram the container fragments itself leaves fragment by fragment with
# the host's address, and the answer's fragments come back (bpf/lib/frag6.h).
#
#   container -- host --(1500)-- ext (a router) --(1280)-- far (fd00:5105::2)
for dev in all default "$TAG-up"; do in_host sysctl -qw "net.ipv6.conf.$dev.disable_ipv6=0"; done
for dev in all default "$TAG-ext"; do in_ext sysctl -qw "net.ipv6.conf.$dev.disable_ipv6=0"; done
in_host ip -6 addr add fd00:5100::1/64 dev "$TAG-up" nodad
in_ext ip -6 addr add fd00:5100::2/64 dev "$TAG-ext" nodad
agent_start || { fail "agent starts"; return; }
FAR_NS=$TAG-far
netns_add "$FAR_NS"
in_far() { nsenter --net=/run/netns/"$FAR_NS" "$@"; }
ip link add "$TAG-rt" netns "$EXT_NS" mtu 1280 type veth peer name eth0 netns "$FAR_NS" mtu 1280
in_ext sysctl -qw net.ipv6.conf.all.forwarding=1
in_ext sysctl -qw "net.ipv6.conf.$TAG-rt.disable_ipv6=0"
in_ext ip -6 addr add fd00:5105::1/64 dev "$TAG-rt" nodad
in_ext ip link set "$TAG-rt" up
in_far sysctl -qw net.ipv6.conf.all.disable_ipv6=0 net.ipv6.conf.eth0.disable_ipv6=0
in_far ip -6 addr add fd00:5105::2/64 dev eth0 nodad
in_far ip link set eth0 up
# far advertises the MSS of a 1500-byte path (advmss), as a host behind a tunnel does.
in_far ip -6 route add default via fd00:5105::1 advmss 1440
in_host ip -6 route add fd00:5105::/64 via fd00:5100::2

in_far python3 "$TOOLS/echo.py" --ipv6 --stream 9100 >"$STATE/far-echo.log" 2>&1 &
wait_ready "$STATE/far-echo.log"
in_ext python3 "$TOOLS/echo.py" --ipv6 --udp 8081 >"$STATE/ext-echo.log" 2>&1 &
wait_ready "$STATE/ext-echo.log"

check "a dual-stack network" bp network create --ipv6 --subnet 10.63.0.0/24 --subnet fd00:263::/64 pmtu6
check "a client" bp run -d --name cli --net pmtu6 sleep infinity

check_output "the router refuses 1500-byte packets toward far" 'mtu = 1280|Packet too big' \
    in_host ping -6 -c 1 -W 2 -M do -s 1452 fd00:5105::2
check_output "a large transfer from a masqueraded container completes (its large requests)" '^ok 400000 bytes$' \
    bp exec cli python3 "$TOOLS/bulk.py" fd00:5105::2 9100 400000 15
check_output "the client learnt the path's MTU from the translated error" 'mtu 1280' \
    bp exec cli ip -6 route get fd00:5105::2
big=$(head -c 3000 /dev/zero | tr '\0' x)
check_output "a 3000-byte UDP datagram leaves in fragments and its answer's fragments come back" \
    "^8081 fd00:5100::1 x{3000}\$" bp exec cli python3 "$TOOLS/probe.py" udp fd00:5100::2 8081 "$big"
[ "$(drops fragment)" = 0 ] && pass "no fragment dropped" || fail "fragment drops: $(drops fragment)"
check "rm -f" bp rm -f cli
check "network rm" bp network rm pmtu6
