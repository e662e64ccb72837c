# IPv6 (issue 19, first part): dual-stack bridge networks, their addresses, routes and
# names; what the programs do not handle yet is dropped and counted.
agent_start || { fail "agent starts"; return; }

check_output "network create --ipv6 --subnet (both families)" '^[0-9a-f]{64}$' \
    bp network create --ipv6 --subnet 10.236.1.0/24 --subnet fd00:236:1::/64 six
check_output "network create --ipv6 without a v6 subnet gets a ULA /64" '"Subnet": "fd[0-9a-f]{2}:' \
    bash -c "'$BIN' network create --ipv6 auto >/dev/null && '$BIN' network inspect auto"
check_output "inspect: EnableIPv6" '^true$' bp network inspect -f '{{.EnableIPv6}}' six
check_output "inspect: the v6 subnet and gateway" 'fd00:236:1::/64 fd00:236:1::1' \
    bp network inspect -f '{{range .IPAM.Config}}{{.Subnet}} {{.Gateway}} {{end}}' six
check_output "network ls --format: IPv6 true" '^six true$' \
    bash -c "'$BIN' network ls --format '{{.Name}} {{.IPv6}}' | grep '^six '"
check_output "the bridge has the v6 gateway" 'inet6 fd00:236:1::1/64 scope global' in_host ip -6 -o addr

check "run on it" bp run -d --name a --network six
check "run with --ip6" bp run -d --name b --network six --ip6 fd00:236:1::99
check_output "a got the first free v6 address" '^fd00:236:1::2$' \
    bp inspect -f '{{range .NetworkSettings.Networks}}{{.GlobalIPv6Address}}{{end}}' a
check_output "... prefix and gateway in inspect" '^64 fd00:236:1::1$' \
    bp inspect -f '{{range .NetworkSettings.Networks}}{{.GlobalIPv6PrefixLen}} {{.IPv6Gateway}}{{end}}' a
check_output "eth0 has it (no DAD: usable at once)" 'inet6 fd00:236:1::99/64 scope global nodad' \
    bp exec b ip -6 -o addr show dev eth0
check_output "the v6 default route is the network's gateway" '^default via fd00:236:1::1 dev eth0' bp exec b ip -6 route
check_output "/etc/hosts has its v6 address" '^fd00:236:1::99\s' bp exec b cat /etc/hosts
check_output "the embedded DNS answers AAAA" 'fd00:236:1::99' bp exec a nslookup -type=AAAA b 127.0.0.11
check_output "... and PTR for its v6 address" 'name = b\.six\.' bp exec a nslookup fd00:236:1::99 127.0.0.11
check_output "network inspect lists the v6 address" '"IPv6Address": "fd00:236:1::2/64"' bp network inspect six
check_output "a v4-only network's container has no IPv6" '^$' \
    bash -c "'$BIN' run -d --name plain >/dev/null && '$BIN' exec plain ip -6 -o addr show dev eth0"

# Traffic: the same rules as for IPv4 (isolation, ICC, internal, anti-spoofing).
check_output "a pings b over IPv6 on their network" '1 (packets )?received' bp exec a ping -6 -c1 -W2 fd00:236:1::99
check_output "... and its gateway" '1 (packets )?received' bp exec a ping -6 -c1 -W2 fd00:236:1::1
check_output "... and b by name (AAAA)" '1 (packets )?received' bp exec a ping -6 -c1 -W2 b
check "a second IPv6 network" bp network create --ipv6 --subnet 10.236.2.0/24 --subnet fd00:236:2::/64 other
check "... and a container on it" bp run -d --name c --network other
before=$(drops isolation)
check_fails "isolation: c cannot reach a" 1 '' bp exec c ping -6 -c1 -W1 fd00:236:1::2
[ "$(drops isolation)" -gt "$before" ] && pass "... counted as isolation" || fail "no isolation drop counted"
# Beyond the host: NAT66 (tests/ipv6-nat.sh); without a route there, nothing is translated
# and the kernel answers as it does to any unroutable packet.
check_fails "beyond the host without a route" 1 '' bp exec a ping -6 -c1 -W1 2001:db8::1
check "a container that may change its addresses" bp run -d --name liar --network six --cap-add NET_ADMIN
check "... takes another's address too" bp exec liar ip -6 addr add fd00:236:1::77/64 dev eth0 nodad
before=$(drops spoofed_source)
check_fails "... and cannot send from it" 1 '' bp exec liar ping -6 -c1 -W1 -I fd00:236:1::77 fd00:236:1::99
[ "$(drops spoofed_source)" -gt "$before" ] && pass "... counted as spoofed_source" || fail "no spoofed_source drop counted"
check "an IPv6 network without ICC" bp network create --ipv6 --subnet 10.236.3.0/24 --subnet fd00:236:3::/64 \
    -o com.docker.network.bridge.enable_icc=false noicc
check "... two containers" bash -c "'$BIN' run -d --name n1 --network noicc >/dev/null && '$BIN' run -d --name n2 --network noicc >/dev/null"
check_fails "... do not reach each other" 1 '' bp exec n1 ping -6 -c1 -W1 fd00:236:3::3
check_output "... but reach their gateway" '1 (packets )?received' bp exec n1 ping -6 -c1 -W2 fd00:236:3::1
check_output "v6 traffic is counted per container" '^[1-9][0-9]*$' \
    metric bridgeport_container_network_transmit_packets_total container=a
check "rm them" bp rm -f c liar n1 n2
check "network rm" bp network rm other noicc

# Bad input: Docker's messages and codes, nothing made.
check_fails "a v6 subnet without --ipv6" 1 'an IPv6 subnet needs --ipv6' \
    bp network create --subnet 10.236.9.0/24 --subnet fd00:236:9::/64 nov6
check_fails "an overlapping v6 subnet" 1 'overlaps with network six' \
    bp network create --ipv6 --subnet fd00:236::/32 over
check_fails "a v6 subnet with host bits" 1 'host bits are set, it should be fd00:236:2::/64' \
    bp network create --ipv6 --subnet fd00:236:2::1/64 bits
check_fails "--ip6 outside the subnet" 125 'not in the network.s subnet fd00:236:1::/64' \
    bp run -d --network six --ip6 fd00:999::5
check_fails "--ip6 in use" 125 'Address already in use: fd00:236:1::99' bp run -d --network six --ip6 fd00:236:1::99
check "a v4-only network" bp network create v4only
check_fails "--ip6 on a v4-only network" 125 'network v4only has no IPv6' bp run -d --network v4only --ip6 fd00::5
check_fails "--ip6 on the default bridge" 125 'supported on user defined networks only' bp run -d --ip6 fd00::5
check_output "nothing half-made" '^auto bridge host none six v4only $' \
    bash -c "'$BIN' network ls --format '{{.Name}}' | sort | tr '\n' ' '"

check "rm" bp rm -f a b plain
check "network rm" bp network rm six auto v4only
