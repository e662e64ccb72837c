# bridgeport-cni as the main plugin: Bridgeport makes the bridge, the veth (in the
# runtime's namespace), the address from its IPAM and the route, and applies its policy.
agent_start || { fail "agent starts"; return; }
cni_conflists "$STATE/cni"
cni_use "$STATE/cni/20-main.conflist"
in_c() { local c=$1; shift; nsenter --net=/run/netns/"$TAG-$c" "$@"; }
# ... as the runtime's container processes are: in the cgroup the socket hooks watch.
in_c_cgroup() { local c=$1; shift; sh -c 'echo $$ >"$0/cgroup.procs" && exec "$@"' "$CGROUP" nsenter --net=/run/netns/"$TAG-$c" "$@"; }

netns_add "$TAG-a"
netns_add "$TAG-b"
check_output "ADD a: an address of Bridgeport's IPAM" '"address": "10.225.0.2/24", "gateway": "10.225.0.1"' cni ADD a '[{"hostPort": 8090, "containerPort": 80}]'
check_output "ADD b: the next one" '"address": "10.225.0.3/24"' cni ADD b
check_output "the network is Bridgeport's" ' main +bridge' bp network ls
check_output "a's eth0 has its address and Bridgeport's MAC" '02:42:0a:e1:00:02' in_c a ip link show eth0
check_output "a's default route is the network's gateway" 'default via 10.225.0.1 dev eth0' in_c a ip route
check "a reaches b" in_c a ping -c 1 -W 2 10.225.0.3
check "a reaches the gateway" in_c a ping -c 1 -W 2 10.225.0.1
in_c a python3 "$TOOLS/echo.py" --tcp 80 >/dev/null 2>&1 &
sleep 0.5
check_output "a's published port answers from the external client" '^80 198.51.100.2' ext_probe tcp 198.51.100.1 8090
check_output "b reaches a's published port on the host's address (hairpin)" '^80 ' in_c_cgroup b python3 "$TOOLS/probe.py" tcp 198.51.100.1 8090
check "CHECK passes" cni CHECK a '[{"hostPort": 8090, "containerPort": 80}]'
check "a Bridgeport container on another network" bp run -d --name other --net bridge
check_fails "... does not reach a: networks are isolated" 1 '100% packet loss' bp exec other ping -c 2 -W 1 10.225.0.2
check "ADD a again answers the same" cni ADD a '[{"hostPort": 8090, "containerPort": 80}]'
# GC (CNI 1.1): b is no longer the runtime's; a is.
in_host sh -c "CNI_COMMAND=GC CNI_PATH=$CNI_PATH '$(dirname "$BIN")/bridgeport-cni'" <<GC
{ "cniVersion": "1.1.0", "name": "main", "type": "bridgeport-cni", "agentSocket": "$BRIDGEPORT_SOCKET",
  "cni.dev/valid-attachments": [{ "containerID": "a", "ifname": "eth0" }] }
GC
check_output "GC released b's interface" '^lo' in_c b ip -br link
check_output "GC kept a" "eth0@" in_c a ip -br link
check "a still reaches the gateway" in_c a ping -c 1 -W 2 10.225.0.1
check "DEL a" cni DEL a
check_output "a's interface is gone" '^lo' in_c a ip -br link
check "DEL a again" cni DEL a
check "DEL b" cni DEL b
ip netns del "$TAG-b"
check "DEL b after its namespace is gone" cni DEL b
check_fails "a's port is gone" 1 'refused|timed out|failed' ext_probe tcp 198.51.100.1 8090

# IPv6 (issue 19): the main plugin makes a dual-stack network ("ipv6": true, "subnet6"):
# the result lists both addresses and default routes, and ports publish on both families.
ipv6_uplink
cat >"$STATE/cni/30-main6.conflist" <<CONF
{ "cniVersion": "1.0.0", "name": "main6", "plugins": [
  { "type": "bridgeport-cni", "subnet": "10.226.0.0/24", "ipv6": true, "subnet6": "fd00:226::/64",
    "capabilities": { "portMappings": true }, "agentSocket": "$BRIDGEPORT_SOCKET" } ] }
CONF
cni_use "$STATE/cni/30-main6.conflist"
netns_add "$TAG-c"
check_output "ADD c on a dual-stack network: its IPv6 address in the result" \
    '"address": "fd00:226::2/64", "gateway": "fd00:226::1"' cni ADD c '[{"hostPort": 8091, "containerPort": 80}]'
check_output "... with an IPv6 default route" '"dst": "::/0", "gw": "fd00:226::1"' \
    cni ADD c '[{"hostPort": 8091, "containerPort": 80}]'
check_output "the network has IPv6" '"EnableIPv6": true' bp network inspect main6
check_output "c's eth0 has its IPv6 address" 'fd00:226::2/64' in_c c ip -6 -br addr show dev eth0
check_output "c's IPv6 default route is the network's gateway" 'default via fd00:226::1 dev eth0' in_c c ip -6 route
check "c reaches its IPv6 gateway" in_c c ping -6 -c 1 -W 2 fd00:226::1
in_c c python3 "$TOOLS/echo.py" --ipv6 --tcp 80 >/dev/null 2>&1 &
sleep 0.5
check_output "c's published port answers over IPv6 from outside" '^80 fd00:5100::2' \
    in_ext python3 "$TOOLS/probe.py" tcp fd00:5100::1 8091
check_output "... and over IPv4" '^80 \S*198\.51\.100\.2' ext_probe tcp 198.51.100.1 8091
check "DEL c" cni DEL c
check_output "c's interface is gone" '^lo' in_c c ip -br link
