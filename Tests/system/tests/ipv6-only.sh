# IPv6-only networks (issue 19), as Docker 28 makes them with `network create --ipv4=false
# --ipv6`: no IPv4 subnet, gateway or container address; names answer AAAA alone; `-p`
# publishes on IPv6 alone; what IPv4 or ARP a container sends anyway is dropped and counted
# (ipv4_disabled); NAT66 out, as on a dual-stack network.
ipv6_uplink
agent_start || { fail "agent starts"; return; }
lines() { "$@" | tr '\n' ' '; }

check_output "network create --ipv4=false --ipv6" '^[0-9a-f]{64}$' \
    bp network create --ipv4=false --ipv6 --subnet fd00:239:1::/64 -o com.docker.network.bridge.name=bp6only only6
check_output "inspect: EnableIPv4 false, EnableIPv6 true" '^false true$' \
    bp network inspect -f '{{.EnableIPv4}} {{.EnableIPv6}}' only6
check_output "inspect: the IPv6 subnet alone in IPAM" '^fd00:239:1::/64 fd00:239:1::1 $' \
    bp network inspect -f '{{range .IPAM.Config}}{{.Subnet}} {{.Gateway}} {{end}}' only6
check_output "network ls --format: IPv4 false, IPv6 true" '^only6 false true$' \
    bash -c "'$BIN' network ls --format '{{.Name}} {{.IPv4}} {{.IPv6}}' | grep '^only6 '"
check_output "the bridge has the IPv6 gateway" 'inet6 fd00:239:1::1/64' in_host ip -6 -o addr show dev bp6only
check_output "... and no IPv4 address" '^$' in_host ip -4 -o addr show dev bp6only
check_output "without a subnet, a ULA /64 and still no IPv4" '^false fd[0-9a-f:]+/64 $' \
    bash -c "'$BIN' network create --ipv4=false --ipv6 auto6 >/dev/null &&
        '$BIN' network inspect -f '{{.EnableIPv4}} {{range .IPAM.Config}}{{.Subnet}} {{end}}' auto6"

check "run a and b on it" bash -c "'$BIN' run -d --name a --network only6 >/dev/null && '$BIN' run -d --name b --network only6 --ip6 fd00:239:1::99 >/dev/null"
check_output "a has no IPv4 address" '^$' bp exec a ip -4 -o addr show dev eth0
check_output "... nor an IPv4 route" '^$' bp exec a ip -4 route
check_output "... its IPv6 address and route" '^fd00:239:1::2 default via fd00:239:1::1' \
    bash -c "'$BIN' exec a ip -6 -o addr show dev eth0 scope global | awk '{print \$4}' | cut -d/ -f1 | tr '\n' ' ' && '$BIN' exec a ip -6 route | grep ^default"
check_output "inspect: no IPAddress, the IPv6 one" '^ fd00:239:1::2 64$' \
    bp inspect -f '{{range .NetworkSettings.Networks}}{{.IPAddress}} {{.GlobalIPv6Address}} {{.GlobalIPv6PrefixLen}}{{end}}' a
check_output "network inspect: no IPv4Address" '"IPv4Address": "",' bp network inspect only6
check_output "a pings b by name (AAAA)" '1 (packets )?received' bp exec a ping -6 -c1 -W2 b
check_output "the embedded DNS has b's AAAA" 'fd00:239:1::99' bp exec a nslookup -type=AAAA b 127.0.0.11
# An A query for it has no data (NOERROR, no answer): it is not forwarded, which would end
# in SERVFAIL or NXDOMAIN as for an unknown name.
check_output "... and no A record for it (no data, not forwarded)" "Can't find b: No answer" \
    bp exec a nslookup -type=A b 127.0.0.11
check_output "... unlike an unknown name" "can't find nosuch: (SERVFAIL|NXDOMAIN)" \
    bash -c "'$BIN' exec a nslookup -type=A nosuch 127.0.0.11 2>&1"
check_output "out through NAT66 to beyond the host" '1 (packets )?received' bp exec a ping -6 -c1 -W2 fd00:5100::2

# What IPv4 a container sends anyway (it may add an address itself) is dropped and counted.
check "a container that may add addresses" bp run -d --name liar --network only6 --cap-add NET_ADMIN
check "... gives itself an IPv4 address" bp exec liar ip addr add 10.239.0.5/24 dev eth0
before=$(drops ipv4_disabled)
check_fails "... and gets nowhere with it" 1 '' bp exec liar ping -c1 -W1 10.239.0.1
[ "$(drops ipv4_disabled)" -gt "${before:-0}" ] && pass "... counted as ipv4_disabled ($(drops ipv4_disabled))" ||
    fail "no ipv4_disabled drop counted"
check_output "... on its own series" 'reason="ipv4_disabled"' \
    samples bridgeport_container_network_drops_total container=liar

# Published ports: IPv6 alone.
check "a server publishing 8080" \
    bp run -d --name srv --network only6 -p 8080:80 -- python3 "$TOOLS/echo.py" --ipv6 --tcp 80
wait_ready srv
check_output "port: [::] alone" '^80/tcp -> \[::\]:8080 $' lines bp port srv
check_output "reached over IPv6 from outside; the container sees the client" '^80 fd00:5100::2 hello$' \
    ext_probe tcp fd00:5100::1 8080 hello
check_fails "not over IPv4" 1 'timed out|refused' ext_probe tcp 198.51.100.1 8080 four
check_fails "an IPv4 host address is refused" 125 'has no IPv4 address' \
    bp run -d --name srv4 --network only6 -p 0.0.0.0:8081:80
check_output "... and nothing is left of it" '^$' bash -c "'$BIN' ps -a --filter name=srv4 --format '{{.Names}}'"

# An agent restart keeps it all.
agent_stop; agent_start || { fail "agent restarts"; return; }
check_output "after a restart a still reaches b" '1 (packets )?received' bp exec a ping -6 -c1 -W2 fd00:239:1::99
check_output "... and the port answers" '^80 fd00:5100::2 again$' ext_probe tcp fd00:5100::1 8080 again
check_output "... and EnableIPv4 is still false" '^false$' bp network inspect -f '{{.EnableIPv4}}' only6

# Bad input: Docker's messages and codes, nothing made.
check_fails "--ipv4=false without --ipv6" 1 'IPv4 or IPv6 must be enabled' bp network create --ipv4=false none6
check_fails "... with an IPv4 subnet" 1 'IPv4 is disabled' \
    bp network create --ipv4=false --ipv6 --subnet 10.239.9.0/24 bad6
check_fails "--ip on an IPv6-only network" 125 'has no IPv4' bp run -d --name c --network only6 --ip 10.239.0.9
check_output "nothing of them exists" '^$' \
    bash -c "'$BIN' network ls --format '{{.Name}}' | grep -E '^(none6|bad6)$'; '$BIN' ps -a --format '{{.Names}}' | grep -x c"
check "rm the containers" bp rm -f a b liar srv
check "network rm" bp network rm only6 auto6
check_output "the bridge is gone" '^$' bash -c "ip -n $HOST_NS -o link show bp6only 2>/dev/null"
