# Hostile and odd traffic, from containers and from outside: each is blocked or handled
# correctly, counted with its reason where it is dropped, and nothing crosses a network
# boundary. (Spoofed source IP and MAC: isolation.sh.)
agent_start || { fail "agent starts"; return; }
TOOLS=$(cd "$(dirname "${BASH_SOURCE[0]}")/../tools" && pwd)
drops() { bpftool map dump pinned "$STATE/bpf/maps/bp_drops" 2>/dev/null | awk -v r="\"reason\": $1," 'index($0, r) { n++ } END { print n + 0 }'; }
ip_of() { bp inspect -f '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}' "$1"; }
craft() { in_ext python3 "$TOOLS/craft.py" "$@"; }

check "networks" bash -c "'$BIN' network create --subnet 10.64.0.0/24 ha >/dev/null && '$BIN' network create --subnet 10.65.0.0/24 hb >/dev/null"
check "containers" bash -c "'$BIN' run -d --name h1 --net ha >/dev/null && '$BIN' run -d --name h2 --net ha >/dev/null &&
    '$BIN' run -d --name h3 --net ha >/dev/null && '$BIN' run -d --name hb1 --net hb >/dev/null"
check "a published UDP server" bp run -d --name hsrv --net ha -p 5353:53/udp -- python3 "$TOOLS/echo.py" --udp 53
for _ in $(seq 1 50); do bp logs hsrv | grep -q ready && break; sleep 0.1; done

# ARP: h1 claims h2's address; h3 must keep h2's real MAC.
h2=$(ip_of h2)
h2mac=$(bp exec h2 ip -o link show eth0 | sed -n 's/.*ether \([0-9a-f:]*\).*/\1/p')
check "h3 learns h2's MAC" bp exec h3 ping -c 1 -W 1 "$h2"
spoofs=$(drops 3)
check "h1 sends ARP replies claiming h2's address" bp exec h1 python3 "$TOOLS/craft.py" arp-claim eth0 "$h2"
check_output "h3 still has h2's own MAC for it" "lladdr $h2mac" bp exec h3 ip neigh show "$h2"
[ "$(drops 3)" -gt "$spoofs" ] && pass "the claims are dropped as spoofed_source" || fail "no spoofed_source drop for the ARP claims"

# IPv6 is not routed between networks (bridges carry no IPv6 and the host routes none).
hb1_ll=$(bp exec hb1 ip -6 -o addr show dev eth0 scope link 2>/dev/null | awk '{ sub(/\/.*/, "", $4); print $4 }')
if [ -n "$hb1_ll" ]; then
    check_fails "IPv6 from h1 to hb1's link-local address does not arrive" 1 '100% packet loss|unreachable' \
        bp exec h1 ping -6 -c 1 -W 1 "$hb1_ll%eth0"
else
    pass "containers have no IPv6 address at all (nothing to send toward another network)"
fi
check_fails "IPv6 toward any other address has no route out" 2 'unreachable|Network is unreachable' \
    bp exec h1 ping -6 -c 1 -W 1 2001:db8::1

# From outside, toward the published UDP port.
check_output "a plain datagram is answered" '^53 198\.51\.100\.2 crafted$' craft udp 198.51.100.1 5353
check_output "a datagram with IP options is translated and answered" '^53 198\.51\.100\.2 with-options$' \
    craft udp 198.51.100.1 5353 --options --payload with-options
check_output "an empty datagram is translated and answered" '^53 198\.51\.100\.2 $' craft udp 198.51.100.1 5353 --payload ''
check_output "TTL 2 arrives (one hop, as routed)" '^53 198\.51\.100\.2 ttl2$' craft udp 198.51.100.1 5353 --ttl 2 --payload ttl2
check_fails "TTL 1 does not reach the container" 1 'no answer' craft udp 198.51.100.1 5353 --ttl 1 --payload ttl1
long=$(printf 'f%.0s' $(seq 1 64))
check_output "a datagram in 3 fragments is translated and answered" "^53 198\.51\.100\.2 $long\$" \
    craft udp 198.51.100.1 5353 --fragments 3 --payload "$long"
check_fails "overlapping fragments are never answered (the receiver's reassembly drops them)" 1 'no answer' \
    craft udp 198.51.100.1 5353 --fragments 3 --overlap --payload "$(printf 'o%.0s' $(seq 1 64))"
check_output "still answering after all that" '^53 198\.51\.100\.2 after$' craft udp 198.51.100.1 5353 --payload after
