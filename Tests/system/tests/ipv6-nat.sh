# NAT66 (issue 19, second part): IPv6 from a container of a masquerading dual-stack network
# leaves with the host's IPv6 address of the uplink (as Docker's ip6tables MASQUERADE),
# its replies come back; the flows are listed, expire, go with their container and are
# counted. A network without masquerade, or with gateway_mode_ipv6=routed, routes IPv6
# untranslated, its replies let in as its flows'.
# The sandbox's uplink and external namespace get ULA addresses (in their namespaces only).
ipv6_uplink
agent_start --flow-timeout udp=2s || { fail "agent starts"; return; }
scrape_has() { metrics | grep -qE "$1"; }
flows6() { bp flows | grep -F '[fd00:'; }

in_ext python3 "$TOOLS/echo.py" --ipv6 --tcp 8080 --udp 8081 >"$STATE/echo6.log" 2>&1 &
wait_ready "$STATE/echo6.log" || fail "the external IPv6 server starts"
check "a dual-stack network" bp network create --ipv6 --subnet 10.237.1.0/24 --subnet fd00:237:1::/64 nat6
check "a container on it" bp run -d --name a --network nat6 sleep infinity

check_output "TCP beyond the host: the server sees the uplink's address" '^8080 fd00:5100::1 hello$' \
    bp exec a python3 "$TOOLS/probe.py" tcp fd00:5100::2 8080 hello
check_output "UDP likewise" '^8081 fd00:5100::1 hi$' bp exec a python3 "$TOOLS/probe.py" udp fd00:5100::2 8081 hi
check_output "ping (ICMPv6 echo)" '1 (packets )?received' bp exec a ping -6 -c1 -W2 fd00:5100::2
check_output "bridgeport flows: the TCP flow and its translated reply tuple" \
    '^tcp +[A-Z_]+ +\[fd00:237:1::2\]:[0-9]+ -> \[fd00:5100::2\]:8080 +\[fd00:5100::2\]:8080 -> \[fd00:5100::1\]:[0-9]+ +a ' \
    bash -c "'$BIN' flows --container a | grep '^tcp'"
check_output "... the echo as icmpv6" '^icmpv6 +REPLIED +\[fd00:237:1::2\]' bash -c "'$BIN' flows --container a | grep '^icmpv6'"
check_output "... and in JSON with plain addresses" '^fd00:237:1::2 fd00:5100::1$' bash -c \
    "'$BIN' flows --container a --format json | python3 -c 'import json, sys; r = [json.loads(l) for l in sys.stdin if \"8080\" in l][0]; print(r[\"Original\"][\"Source\"], r[\"Reply\"][\"Destination\"])'"
check "the UDP flow expires (udp=2s)" eventually 5 bash -c "! '$BIN' flows --container a | grep -q '^udp'"
check "flows are counted by protocol" eventually 10 scrape_has '^bridgeport_flows_created_total\{protocol="tcp"\} [1-9]'
check "... ICMPv6 with ICMP" scrape_has '^bridgeport_flows_created_total\{protocol="icmp"\} [1-9]'
check "... expiries too" eventually 10 scrape_has '^bridgeport_flows_expired_total\{protocol="udp"\} [1-9]'
check "... and the collector counts the live ones" eventually 15 scrape_has '^bridgeport_flows\{protocol="icmp",state="replied"\} [1-9]'
[ "$(drops ipv6_unsupported)" = 0 ] && pass "no IPv6 drops meanwhile" || fail "ipv6_unsupported drops: $(drops ipv6_unsupported)"

check "rm the container" bp rm -f a
check_output "its flows went with it" '^$' flows6
check "... counted as flushed" eventually 5 scrape_has '^bridgeport_flows_flushed_total\{protocol="tcp"\} [1-9]'

check "a dual-stack network without masquerade" bp network create --ipv6 --subnet 10.237.2.0/24 \
    --subnet fd00:237:2::/64 -o com.docker.network.bridge.enable_ip_masquerade=false plain6
check "a container on it" bp run -d --name b --network plain6 sleep infinity
in_ext ip -6 route add fd00:237:2::/64 via fd00:5100::1
in_ext ip -6 route add fd00:237:3::/64 via fd00:5100::1
check_output "its IPv6 leaves untranslated, with its own address (Docker without masquerade)" \
    '^8080 fd00:237:2::2 x$' bp exec b python3 "$TOOLS/probe.py" tcp fd00:5100::2 8080 x

check "a network with gateway_mode_ipv6=routed" bp network create --ipv6 --subnet 10.237.3.0/24 \
    --subnet fd00:237:3::/64 -o com.docker.network.bridge.gateway_mode_ipv6=routed routed6
check_output "... shown in inspect" 'gateway_mode_ipv6.*routed' bp network inspect routed6
check "a container on it" bp run -d --name r --network routed6 sleep infinity
check_output "its IPv6 leaves with its own address" '^8080 fd00:237:3::2 y$' \
    bp exec r python3 "$TOOLS/probe.py" tcp fd00:5100::2 8080 y
check_output "its IPv4 is still masqueraded (gateway_mode_ipv4 is nat)" '^8080 \S*198\.51\.100\.1 v4$' \
    bp exec r python3 "$TOOLS/probe.py" tcp 198.51.100.2 8080 v4
check_output "ICMPv6 from outside reaches the routed container" '1 (packets )?received' \
    in_ext ping -6 -c1 -W2 fd00:237:3::2
before=$(drops direct_access)
check_fails "an unpublished port is not reached by direct routing" 1 '' \
    in_ext python3 "$TOOLS/probe.py" tcp fd00:237:3::2 8080 z
[ "$(drops direct_access)" -gt "$before" ] && pass "... dropped as direct_access" || fail "no direct_access drop counted"
check "a published server on it" bp run -d --name rp --network routed6 -p 8090:8080 \
    -- python3 "$TOOLS/echo.py" --ipv6 --tcp 8080
wait_ready rp
check_output "its published container port is reached by direct routing over IPv6" '^8080 fd00:5100::2 d6$' \
    in_ext python3 "$TOOLS/probe.py" tcp fd00:237:3::3 8080 d6
check_fails "... but no IPv6 host port is mapped (routed)" 1 '' in_ext python3 "$TOOLS/probe.py" tcp fd00:5100::1 8090 h6
check_output "the IPv4 host port is (gateway_mode_ipv4 is nat)" '^8080 \S*198\.51\.100\.2 h4$' \
    in_ext python3 "$TOOLS/probe.py" tcp 198.51.100.1 8090 h4
check_fails "a bad IPv6 gateway mode is refused" 1 'gateway_mode_ipv6=bogus.*must be nat, nat-unprotected, routed or isolated' \
    bp network create --ipv6 -o com.docker.network.bridge.gateway_mode_ipv6=bogus bad6
check "rm" bp rm -f b r rp
check "network rm" bp network rm nat6 plain6 routed6
