# Path-MTU discovery through published ports and masquerade: the ICMP errors a router on
# the way sends about a container's packets reach the container translated back
# (bpf/lib/icmp.h), so that its TCP lowers its segment size and a large transfer completes.
#
#   container -- host --(1500)-- ext (a router) --(1280)-- far (198.18.5.2)
#
# far advertises an MSS of 1460 (advmss on its route), as a host behind a tunnel or a PPPoE
# link does: the containers send 1500-byte packets, which ext refuses with "fragmentation
# needed" (type 3 code 4, MTU 1280) sent to the host's uplink address. Without the
# translation the host's stack ignores the error, the container retransmits the same
# segments, and the transfer never finishes.
agent_start || { fail "agent starts"; return; }
FAR_NS=$TAG-far
netns_add "$FAR_NS"
in_far() { nsenter --net=/run/netns/"$FAR_NS" "$@"; }
ip link add "$TAG-rt" netns "$EXT_NS" mtu 1280 type veth peer name eth0 netns "$FAR_NS" mtu 1280
in_ext ip addr add 198.18.5.1/24 dev "$TAG-rt"
in_ext ip link set "$TAG-rt" up
in_ext sysctl -qw net.ipv4.ip_forward=1
in_far ip addr add 198.18.5.2/24 dev eth0
in_far ip link set eth0 up
in_far ip route add default via 198.18.5.1 advmss 1460
in_host ip route add 198.18.5.0/24 via 198.51.100.2

in_far python3 "$TOOLS/echo.py" --stream 9100 >"$STATE/far-echo.log" 2>&1 &
wait_ready "$STATE/far-echo.log"

check "network create" bp network create --subnet 10.62.0.0/24 pmtu
check "run a server with a published echo port, and a client" \
    bp run -d --name srv --net pmtu -p 5080:8080 -- python3 "$TOOLS/echo.py" --stream 8080
check "run a client" bp run -d --name cli --net pmtu
wait_ready srv

check_output "the router refuses 1500-byte packets toward far" 'frag needed and DF set \(mtu = 1280\)|mtu = 1280' \
    in_host ping -c 1 -W 2 -M do -s 1472 198.18.5.2
check_output "a large transfer through a published port completes (the server's large answers)" '^ok 400000 bytes$' \
    in_far python3 "$TOOLS/bulk.py" 198.51.100.1 5080 400000 15
check_output "the server learnt the path's MTU from the translated error" 'mtu 1280' bp exec srv ip route get 198.18.5.2
check_output "a large transfer from a masqueraded container completes (its large requests)" '^ok 400000 bytes$' \
    bp exec cli python3 "$TOOLS/bulk.py" 198.18.5.2 9100 400000 15
check_output "the client learnt the path's MTU from the translated error" 'mtu 1280' bp exec cli ip route get 198.18.5.2
check "rm -f" bp rm -f srv cli
