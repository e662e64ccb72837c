# Isolation in BPF: networks, ICC off, internal networks, spoofing, direct access from the uplink.
agent_start || { fail "agent starts"; return; }
ping1() { bp exec "$1" ping -c 1 -W 1 "${@:2}"; }

check "networks" bash -c "'$BIN' network create --subnet 10.50.0.0/24 a >/dev/null && '$BIN' network create --subnet 10.51.0.0/24 b >/dev/null &&
    '$BIN' network create --internal --subnet 10.52.0.0/24 c >/dev/null &&
    '$BIN' network create --subnet 10.53.0.0/24 -o com.docker.network.bridge.enable_icc=false d >/dev/null &&
    '$BIN' network create --subnet 10.54.0.0/24 -o com.docker.network.bridge.gateway_mode_ipv4=routed r >/dev/null"
# a1, a3 and c1 change their addresses, MAC and routes below: Docker's default capabilities
# leave that out, so they ask for NET_ADMIN.
for spec in a1:a a2:a a3:a b1:b c1:c d1:d d2:d r1:r; do
    caps=(); case ${spec%%:*} in a1 | a3 | c1) caps=(--cap-add NET_ADMIN) ;; esac
    bp run -d --name "${spec%%:*}" --net "${spec##*:}" "${caps[@]}" >/dev/null || fail "run $spec"
done

# Each endpoint's entry carries its network's subnet (/24: 255.255.255.0 as the wire has it,
# read as a little-endian u32) and that subnet's network number: the programs judge
# neighbours without the subnet trie (bp_own_subnet).
own_subnets() {
    bpftool -j map dump pinned "$STATE/bpf/maps/bp_endpoints" |
        jq -e 'length == 8 and all(.[].formatted.value; .subnet_mask == 16777215 and .subnet.network_id == .network_id)'
}
check "every endpoint carries its own subnet" own_subnets
check "same network: a1 reaches a2" ping1 a1 a2
check_fails "a1 cannot reach b1" 1 '100% packet loss' ping1 a1 "$(ip_of b1)"
check_fails "b1 cannot reach a1" 1 '100% packet loss' ping1 b1 "$(ip_of a1)"
check_fails "nor b's gateway address" 1 '100% packet loss' ping1 a1 10.51.0.1
check "a1 reaches its own gateway" ping1 a1 10.50.0.1
[ "$(drops isolation)" -ge 1 ] && pass "isolation drops are counted" || fail "no isolation drop counted"

check_fails "ICC off: d1 cannot reach d2" 1 '100% packet loss' ping1 d1 "$(ip_of d2)"
check "ICC off: d1 still reaches the gateway" ping1 d1 10.53.0.1
[ "$(drops icc)" -ge 1 ] && pass "icc drops are counted" || fail "no icc drop counted"

check "internal: c1 reaches its gateway" ping1 c1 10.52.0.1
check_fails "internal: c1 has no way out" 2 'unreachable|100% packet loss' ping1 c1 198.51.100.2
check_fails "internal: not even to the host's uplink address" 1 '100% packet loss' bp exec c1 sh -c "ip route add default via 10.52.0.1 && ping -c 1 -W 1 198.51.100.1"
[ "$(drops internal)" -ge 1 ] && pass "internal drops are counted" || fail "no internal drop counted"

check_fails "without NET_ADMIN, a2 cannot add an address" 2 'Operation not permitted' bp exec a2 ip addr add 10.50.0.98/24 dev eth0
check_fails "... nor change its MAC" 2 'Operation not permitted' bp exec a2 ip link set eth0 address 02:00:00:00:00:98
check "a second address inside a1" bp exec a1 ip addr add 10.50.0.99/24 dev eth0
check_fails "a spoofed source IP is dropped" 1 '100% packet loss' ping1 a1 -I 10.50.0.99 "$(ip_of a2)"
check "a3 changes its MAC" bp exec a3 ip link set eth0 address 02:00:00:00:00:99
check_fails "a spoofed source MAC is dropped" 1 '100% packet loss' ping1 a3 "$(ip_of a2)"
[ "$(drops spoofed_source)" -ge 1 ] && pass "spoofing drops are counted" || fail "no spoofed_source drop counted"

in_ext ip route add 10.50.0.0/24 via 198.51.100.1
in_ext ip route add 10.54.0.0/24 via 198.51.100.1
check_fails "from the uplink, a container address is not reachable directly" 1 '100% packet loss' in_ext ping -c 1 -W 1 "$(ip_of a2)"
[ "$(drops direct_access)" -ge 1 ] && pass "direct access drops are counted" || fail "no direct_access drop counted"
check "routed mode: reachable directly" in_ext ping -c 1 -W 2 "$(ip_of r1)"

# Direct routing by gateway mode (Docker 28): nat reaches published container ports only,
# routed those and ICMP (and maps no host port), nat-unprotected everything, isolated
# (internal) nothing, not even from the host.
check "gateway modes nat-unprotected and isolated" bash -c "
    '$BIN' network create --subnet 10.55.0.0/24 -o com.docker.network.bridge.gateway_mode_ipv4=nat-unprotected u >/dev/null &&
    '$BIN' network create --internal --subnet 10.56.0.0/24 -o com.docker.network.bridge.gateway_mode_ipv4=isolated i >/dev/null"
check_fails "isolated needs --internal" 1 'can only be used with an --internal network' \
    bp network create --subnet 10.57.0.0/24 -o com.docker.network.bridge.gateway_mode_ipv4=isolated j
check_fails "an unknown gateway mode" 1 'must be nat, nat-unprotected, routed or isolated' \
    bp network create --subnet 10.57.0.0/24 -o com.docker.network.bridge.gateway_mode_ipv4=open j
for spec in ns:a:8081 rs:r:8082 us:u:8083; do
    IFS=: read -r name net port <<<"$spec"
    bp run -d --name "$name" --net "$net" -p "$port:80" -- python3 "$TOOLS/echo.py" --tcp 80 --tcp 81 >/dev/null || fail "run $name"
done
bp run -d --name i1 --net i >/dev/null || fail "run i1"
wait_ready ns rs us
in_ext ip route add 10.55.0.0/24 via 198.51.100.1
in_ext ip route add 10.56.0.0/24 via 198.51.100.1
check_output "nat: a published container port, directly; the answer is not masqueraded" '^80 198\.51\.100\.2 n$' ext_probe tcp "$(ip_of ns)" 80 n
check_fails "nat: an unpublished port, directly" 1 'timed out' ext_probe tcp "$(ip_of ns)" 81 n
check_output "nat: the published host port" '^80 198\.51\.100\.2 n$' ext_probe tcp 198.51.100.1 8081 n
check_output "routed: a published container port, directly" '^80 198\.51\.100\.2 r$' ext_probe tcp "$(ip_of rs)" 80 r
check_fails "routed: an unpublished port, directly" 1 'timed out' ext_probe tcp "$(ip_of rs)" 81 r
check_fails "routed: no host port is mapped" 1 'refused|timed out' ext_probe tcp 198.51.100.1 8082 r
check "routed: ICMP" in_ext ping -c 1 -W 2 "$(ip_of rs)"
# A container's own connections out: their answers come back in every mode, masqueraded
# (nat) or as they are (routed, and nat with masquerade off, tracked as flows), while the
# same port from outside unasked stays closed.
bp network create --subnet 10.58.0.0/24 -o com.docker.network.bridge.enable_ip_masquerade=false m >/dev/null || fail "network m"
bp run -d --name ms --net m -- sleep 600 >/dev/null || fail "run ms"
in_ext ip route add 10.58.0.0/24 via 198.51.100.1
in_ext python3 "$TOOLS/echo.py" --tcp 9100 --udp 9153 >/dev/null 2>&1 & ext_echo=$!
sleep 0.3
check_output "nat: a container's connection out is answered (masqueraded)" '^9100 198\.51\.100\.1 o$' bp exec ns python3 "$TOOLS/probe.py" tcp 198.51.100.2 9100 o
check_output "routed: a container's connection out is answered (its own address)" "^9100 $(ip_of rs | sed 's/\./\\./g') o\$" \
    bp exec rs python3 "$TOOLS/probe.py" tcp 198.51.100.2 9100 o
check_output "routed: a container's UDP query is answered" "^9153 $(ip_of rs | sed 's/\./\\./g') q\$" bp exec rs python3 "$TOOLS/probe.py" udp 198.51.100.2 9153 q
check_output "masquerade off: a container's connection out is answered (its own address)" "^9100 $(ip_of ms | sed 's/\./\\./g') o\$" \
    bp exec ms python3 "$TOOLS/probe.py" tcp 198.51.100.2 9100 o
check "masquerade off: its ping is answered" bp exec ms ping -c 1 -W 2 198.51.100.2
kill "$ext_echo" 2>/dev/null; wait "$ext_echo" 2>/dev/null
check_output "nat-unprotected: any port, directly" '^81 198\.51\.100\.2 u$' ext_probe tcp "$(ip_of us)" 81 u
check "nat-unprotected: ICMP" in_ext ping -c 1 -W 2 "$(ip_of us)"
check_fails "isolated: not from outside" 1 '100% packet loss' in_ext ping -c 1 -W 1 "$(ip_of i1)"
bridge_i=br-$(bp network inspect i | python3 -c 'import json, sys; print(json.load(sys.stdin)[0]["Id"][:12])')
check "isolated: its bridge is up" bash -c "nsenter --net=/run/netns/$HOST_NS ip -o link show dev $bridge_i | grep -q UP"
check_output "isolated: no address on the bridge" '^$' in_host ip -4 -o addr show dev "$bridge_i"
check_fails "isolated: the host is not reachable from it" 1 '100% packet loss' ping1 i1 10.56.0.1
check "rm -f" bash -c "'$BIN' rm -f a1 a2 a3 b1 c1 d1 d2 r1 ns rs us i1 ms >/dev/null"
