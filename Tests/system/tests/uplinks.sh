# Uplinks that appear after the agent started get the uplink program at once: a veth moved
# in from a LAN, and a tun device, whose packets carry no Ethernet header (as WireGuard's
# and ipip's, which this kernel lacks). On both, published ports answer and packets
# straight to a container are filtered by gateway mode (direct_access), also after a
# restart. (A spoofed frame on a new uplink: hostile.sh.)
agent_start || { fail "agent starts"; return; }
NEW=$TAG-new
TUN=$TAG-tun
tunnel() { in_host python3 "$TOOLS/tun.py" udp "$TUN" 198.18.8.2 "$@"; }

check "a NAT network with a server publishing 5360/udp (and 54 unpublished)" bash -c "
    '$BIN' network create --subnet 10.70.0.0/24 un >/dev/null &&
    '$BIN' run -d --name un1 --net un -p 5360:53/udp -- python3 '$TOOLS/echo.py' --udp 53 --udp 54 >/dev/null"
wait_ready un1
un1=$(ip_of un1)

netns_add "$LAN_NS"
check "a veth moved in from a LAN after the start" lan_uplink "$NEW" 10.70.0.0/24
check_output "its published port answers" '^53 198\.18\.7\.2 crafted$' eventually 3 in_lan python3 "$TOOLS/craft.py" udp 198.18.7.1 5360
check_fails "a datagram straight to the container gets no answer" 1 'no answer' in_lan python3 "$TOOLS/craft.py" udp "$un1" 54
[ "$(drops direct_access interface="$NEW")" -ge 1 ] && pass "it is counted as direct_access on the new uplink" ||
    fail "direct_access drops on $NEW: $(drops direct_access interface="$NEW")"

check "a tun device after the start (packets without an Ethernet header)" bash -c "
    ip -n $HOST_NS tuntap add dev $TUN mode tun && ip -n $HOST_NS addr add 198.18.8.1/24 dev $TUN &&
    ip -n $HOST_NS link set $TUN up"
check_output "its published port answers through the tunnel" '^53 198\.18\.8\.2 tunnelled$' eventually 3 tunnel 198.18.8.1 5360
check_fails "a datagram from the tunnel straight to the container gets no answer" 1 'no answer' tunnel "$un1" 54
[ "$(drops direct_access interface="$TUN")" -ge 1 ] && pass "it is counted as direct_access on the tun device" ||
    fail "direct_access drops on $TUN: $(drops direct_access interface="$TUN")"

# After a restart the start-up path attaches them, each with the program its headers need.
agent_stop
agent_start || fail "agent restarts"
check_output "after a restart: the published port answers through the tunnel" '^53 198\.18\.8\.2 again$' tunnel 198.18.8.1 5360 --payload again
check_fails "after a restart: straight to the container from the tunnel, no answer" 1 'no answer' tunnel "$un1" 54
check_fails "after a restart: straight to the container from the LAN, no answer" 1 'no answer' in_lan python3 "$TOOLS/craft.py" udp "$un1" 54

# An uplink that goes takes its link pins; one made again under the same name gets the program anew.
check "the tun device is deleted" in_host ip link del "$TUN"
check "no link pin is left for it" bash -c "for _ in \$(seq 1 30); do ! ls '$STATE/bpf/links' | grep -q '^$TUN' && exit 0; sleep 0.1; done; exit 1"
check "the tun device is made again" bash -c "
    ip -n $HOST_NS tuntap add dev $TUN mode tun && ip -n $HOST_NS addr add 198.18.8.1/24 dev $TUN && ip -n $HOST_NS link set $TUN up"
check_output "the new one's published port answers" '^53 198\.18\.8\.2 anew$' eventually 3 tunnel 198.18.8.1 5360 --payload anew
check_fails "and it filters direct access" 1 'no answer' tunnel "$un1" 54
