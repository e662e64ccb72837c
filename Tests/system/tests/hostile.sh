# Hostile and odd traffic, from containers and from outside: each is blocked or handled
# correctly, counted with its reason where it is dropped, and nothing crosses a network
# boundary. (Spoofed source IP and MAC: isolation.sh.)
agent_start || { fail "agent starts"; return; }
craft() { in_ext python3 "$TOOLS/craft.py" "$@"; }

check "networks" bash -c "'$BIN' network create --subnet 10.64.0.0/24 ha >/dev/null && '$BIN' network create --subnet 10.65.0.0/24 hb >/dev/null"
check "containers" bash -c "'$BIN' run -d --name h1 --net ha >/dev/null && '$BIN' run -d --name h2 --net ha >/dev/null &&
    '$BIN' run -d --name h3 --net ha >/dev/null && '$BIN' run -d --name hb1 --net hb >/dev/null"
check "a published UDP server" bp run -d --name hsrv --net ha -p 5353:53/udp -- python3 "$TOOLS/echo.py" --udp 53
wait_ready hsrv

# ARP: h1 claims h2's address; h3 must keep h2's real MAC.
h2=$(ip_of h2)
h2mac=$(bp exec h2 ip -o link show eth0 | sed -n 's/.*ether \([0-9a-f:]*\).*/\1/p')
check "h3 learns h2's MAC" bp exec h3 ping -c 1 -W 1 "$h2"
spoofs=$(drops spoofed_source)
check "h1 sends ARP replies claiming h2's address" bp exec h1 python3 "$TOOLS/craft.py" arp-claim eth0 "$h2"
check_output "h3 still has h2's own MAC for it" "lladdr $h2mac" bp exec h3 ip neigh show "$h2"
[ "$(drops spoofed_source)" -gt "$spoofs" ] && pass "the claims are dropped as spoofed_source" || fail "no spoofed_source drop for the ARP claims"

# IPv4-only networks carry no IPv6: the containers' interfaces have it disabled, as Docker
# does, and what IPv6 a container sends anyway is dropped (ipv6_disabled).
check_output "a container's interface has IPv6 disabled" '^1$' bp exec h1 cat /proc/sys/net/ipv6/conf/eth0/disable_ipv6
check_fails "IPv6 toward any address has no way out" 2 'unreachable|Network is unreachable|Cannot assign' \
    bp exec h1 ping -6 -c 1 -W 1 2001:db8::1

# ICC off: nothing reaches a neighbour, whatever the frame (each sent while i2 listens).
dropped() { drops "$1" 'container=i[12]'; }  # dropped REASON: of the ICC-off network's containers
check "an ICC-off network with two containers" bash -c "'$BIN' network create --subnet 10.66.0.0/24 -o com.docker.network.bridge.enable_icc=false hicc >/dev/null &&
    '$BIN' run -d --privileged --name i1 --net hicc >/dev/null && '$BIN' run -d --privileged --name i2 --net hicc >/dev/null"
i2=$(ip_of i2)
bp exec i2 python3 "$TOOLS/frames.py" listen 9999 15 >"$STATE/i2.log" 2>&1 &
listener=$!
wait_ready "$STATE/i2.log"
icc=$(dropped icc); vlan=$(dropped vlan); v6=$(dropped ipv6_disabled)
check "i1 sends UDP to 255.255.255.255 and to the subnet's broadcast address" bp exec i1 python3 -c '
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
s.sendto(b"broadcast", ("255.255.255.255", 9999))
s.sendto(b"subnet-broadcast", ("10.66.0.255", 9999))'
check "i1 sends an IPv4 frame whose headers are outside the skb's linear data (PACKET_TX_RING)" \
    bp exec i1 python3 "$TOOLS/frames.py" txring eth0 "$i2" 9999 non-linear
check "i1 sends IPv4 in an 802.1Q tag of VID 0 (priority tag) and in an 802.1ad tag" bash -c "
    '$BIN' exec i1 python3 '$TOOLS/frames.py' send eth0 $i2 9999 vid0 --tag 0x8100:0 &&
    '$BIN' exec i1 python3 '$TOOLS/frames.py' send eth0 $i2 9999 qinq --tag 0x88a8:5"
check "i1 and i2 turn IPv6 back on" bash -c "'$BIN' exec i1 sysctl -qw net.ipv6.conf.eth0.disable_ipv6=0 &&
    '$BIN' exec i2 sysctl -qw net.ipv6.conf.eth0.disable_ipv6=0"
i2_ll=
for _ in $(seq 1 50); do
    i2_ll=$(bp exec i2 ip -6 -o addr show dev eth0 scope link 2>/dev/null | awk '!/tentative/ { sub(/\/.*/, "", $4); print $4 }')
    [ -n "$i2_ll" ] && break; sleep 0.1
done
check_fails "IPv6 link-local from i1 to i2 does not arrive" 1 '100% packet loss' bp exec i1 ping -6 -c 2 -W 1 "${i2_ll:-fe80::1}%eth0"
wait "$listener"
check "i2 received none of it" test "$(cat "$STATE/i2.log")" = ready
[ "$(dropped icc)" -ge $((icc + 3)) ] && pass "broadcasts and the non-linear frame are counted as icc" ||
    fail "icc drops: $icc before, $(dropped icc) after"
[ "$(dropped vlan)" -ge $((vlan + 2)) ] && pass "the tagged frames are counted as vlan" || fail "vlan drops: $vlan before, $(dropped vlan) after"
[ "$(dropped ipv6_disabled)" -gt "$v6" ] && pass "the IPv6 frames are counted as ipv6_disabled" ||
    fail "ipv6_disabled drops: $v6 before, $(dropped ipv6_disabled) after"

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

# A spoofed frame on a new uplink: a veth moved into the host after the agent started gets
# the uplink program at once, so that from beyond it a NAT network's container (h1) and
# an internal network's are not reached straight by their addresses (direct_access).
NEW=$TAG-new
netns_add "$LAN_NS"
check "an internal network with a UDP server" bash -c "'$BIN' network create --internal --subnet 10.67.0.0/24 hin >/dev/null &&
    '$BIN' run -d --name hisrv --net hin -- python3 '$TOOLS/echo.py' --udp 53 >/dev/null"
wait_ready hisrv
check "a new uplink: a veth moved in from a LAN after the start" lan_uplink "$NEW" 10.64.0.0/24 10.67.0.0/24
sleep 0.5  # the agent hears of it (the tests of uplinks.sh wait for an answer instead)
check_fails "from beyond it, a ping straight to a NAT network's container is lost" 1 '100% packet loss' \
    in_lan ping -c 1 -W 1 "$(ip_of h1)"
check_fails "and a datagram straight to an internal network's server gets no answer" 1 'no answer' \
    in_lan python3 "$TOOLS/craft.py" udp "$(ip_of hisrv)" 53
[ "$(drops direct_access interface="$NEW")" -ge 2 ] && pass "both are counted as direct_access on the new uplink" ||
    fail "direct_access drops on $NEW: $(drops direct_access interface="$NEW")"
