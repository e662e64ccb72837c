# Docker's remote network driver protocol: the JSON dockerd sends for `docker network
# create -d bridgeport`, `docker run -p`, `docker network connect`, `docker stop` and
# `docker network rm`, replayed in its order on the plugin socket; after each step the
# links, maps and published ports are checked. The test does dockerd's own part in between
# (moving the veth into the sandbox, addresses, routes).
PLUGIN=$STATE/plugins/bridgeport.sock
agent_start --docker-plugin-socket "$PLUGIN" || { fail "agent starts"; return; }
dp() { curl -s --unix-socket "$PLUGIN" -H 'Accept: application/vnd.docker.plugins.v1.2+json' -d "$2" "http://plugin/$1"; }
N1=1111111111111111111111111111111111111111111111111111111111111111
N2=2222222222222222222222222222222222222222222222222222222222222222
E1=e1e1e1e1e1e1e1e1e1e1e1e1e1e1e1e1e1e1e1e1e1e1e1e1e1e1e1e1e1e1e1e1
E2=e2e2e2e2e2e2e2e2e2e2e2e2e2e2e2e2e2e2e2e2e2e2e2e2e2e2e2e2e2e2e2e2
SANDBOX=$TAG-sbx
netns_add "$SANDBOX"
in_sbx() { nsenter --net=/run/netns/"$SANDBOX" "$@"; }
PORTMAP='"com.docker.network.portmap": [{"Proto": 6, "IP": "", "Port": 80, "HostIP": "", "HostPort": 8080, "HostPortEnd": 8080}]'

# docker network create -d bridgeport dn (and dn2)
check_output "Plugin.Activate" '"Implements":\["NetworkDriver"\]' dp Plugin.Activate ''
check_output "GetCapabilities: local scope" '"Scope":"local"' dp NetworkDriver.GetCapabilities ''
check_output "CreateNetwork" '^\{\}$' dp NetworkDriver.CreateNetwork "{\"NetworkID\": \"$N1\", \"Options\": {\"com.docker.network.enable_ipv6\": false, \"com.docker.network.generic\": {}}, \"IPv4Data\": [{\"AddressSpace\": \"LocalDefault\", \"Gateway\": \"172.28.0.1/16\", \"Pool\": \"172.28.0.0/16\"}], \"IPv6Data\": [], \"SomethingNew\": 1}"
check_output "... its bridge has Docker's gateway" '172.28.0.1/16' in_host ip -br addr show br-111111111111
check_output "... and Bridgeport lists it" 'docker-111111111111 +bridge' bp network ls
check "CreateNetwork dn2" dp NetworkDriver.CreateNetwork "{\"NetworkID\": \"$N2\", \"IPv4Data\": [{\"Gateway\": \"172.29.0.1/16\", \"Pool\": \"172.29.0.0/16\"}]}"

# docker run -p 8080:80 --net dn
check_output "CreateEndpoint answers a MAC" '"MacAddress":"02:42:ac:1c:00:02"' dp NetworkDriver.CreateEndpoint "{\"NetworkID\": \"$N1\", \"EndpointID\": \"$E1\", \"Interface\": {\"Address\": \"172.28.0.2/16\", \"AddressIPv6\": \"\", \"MacAddress\": \"\"}, \"Options\": {$PORTMAP}}"
join=$(dp NetworkDriver.Join "{\"NetworkID\": \"$N1\", \"EndpointID\": \"$E1\", \"SandboxKey\": \"/run/netns/$SANDBOX\", \"Options\": {}}")
src=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["InterfaceName"]["SrcName"])' "$join" 2>/dev/null)
grep -q '"Gateway":"172.28.0.1"' <<<"$join" && [ -n "$src" ] && pass "Join gives the veth $src and the gateway" || fail "Join: $join"
check_output "the host side hangs on the bridge" 'master br-111111111111' in_host ip link show veth$(cut -c1-7 <<<"$E1")
# dockerd's part: the veth into the sandbox as eth0, its address and route.
in_host ip link set "$src" netns /run/netns/"$SANDBOX"
in_sbx ip link set "$src" name eth0
in_sbx ip addr add 172.28.0.2/16 dev eth0
in_sbx ip link set eth0 up
in_sbx ip route add default via 172.28.0.1
check_output "EndpointOperInfo" '"Value"' dp NetworkDriver.EndpointOperInfo "{\"NetworkID\": \"$N1\", \"EndpointID\": \"$E1\"}"
check_output "ProgramExternalConnectivity" '^\{\}$' dp NetworkDriver.ProgramExternalConnectivity "{\"NetworkID\": \"$N1\", \"EndpointID\": \"$E1\", \"Options\": {\"com.docker.network.endpoint.exposedports\": [{\"Proto\": 6, \"Port\": 80}], $PORTMAP}}"
in_sbx python3 "$TOOLS/echo.py" --tcp 80 >/dev/null 2>&1 &
sleep 0.5
check_output "the published port answers from the external client" '^80 198.51.100.2' ext_probe tcp 198.51.100.1 8080
# Hairpin: the sandbox's own process reaches the published port through the host's address
# (the socket hooks act in the sandbox's namespace, registered at Join).
check_output "hairpin: the sandbox reaches its published port at the host's address" '^80 ' \
    sh -c 'echo $$ >"$0/cgroup.procs" && exec nsenter --net=/run/netns/"$1" python3 "$2/probe.py" tcp 198.51.100.1 8080 h' "$CGROUP" "$SANDBOX" "$TOOLS"
in_ext python3 "$TOOLS/echo.py" --tcp 7777 >/dev/null 2>&1 &
sleep 0.3
check_output "the sandbox reaches the outside, masqueraded" '^7777 198.51.100.1' in_sbx python3 "$TOOLS/probe.py" tcp 198.51.100.2 7777
check_output "the endpoint is counted" 'bridgeport_container_network_receive_packets_total\{container="e1e1e1e1e1e1[^"]*",network="docker-111111111111",interface="vethe1e1e1e"\} [1-9]' metrics
check_output "unknown endpoints answer the protocol's error" '"Err":"no attachment' dp NetworkDriver.Join "{\"NetworkID\": \"$N1\", \"EndpointID\": \"ffff\", \"SandboxKey\": \"/x\"}"
check_output "a malformed request is an Err too" '"Err":"malformed request' dp NetworkDriver.Join '{"NetworkID": 5}'

# docker network connect dn2 (the same sandbox gets eth1)
check "CreateEndpoint on dn2" dp NetworkDriver.CreateEndpoint "{\"NetworkID\": \"$N2\", \"EndpointID\": \"$E2\", \"Interface\": {\"Address\": \"172.29.0.5/16\", \"MacAddress\": \"02:42:ac:1d:00:05\"}}"
# An agent restart between CreateEndpoint and Join changes nothing for dockerd.
agent_stop
agent_start --docker-plugin-socket "$PLUGIN" || { fail "agent restarts"; return; }
join2=$(dp NetworkDriver.Join "{\"NetworkID\": \"$N2\", \"EndpointID\": \"$E2\", \"SandboxKey\": \"/run/netns/$SANDBOX\"}")
src2=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["InterfaceName"]["SrcName"])' "$join2" 2>/dev/null)
in_host ip link set "$src2" netns /run/netns/"$SANDBOX" && in_sbx ip link set "$src2" name eth1 && in_sbx ip addr add 172.29.0.5/16 dev eth1 && in_sbx ip link set eth1 up
check_output "eth1 has the MAC Docker chose" '02:42:ac:1d:00:05' in_sbx ip link show eth1
check "the sandbox reaches dn2's gateway" in_sbx ping -c 1 -W 2 172.29.0.1

# docker stop, then docker rm and docker network rm
check_output "RevokeExternalConnectivity" '^\{\}$' dp NetworkDriver.RevokeExternalConnectivity "{\"NetworkID\": \"$N1\", \"EndpointID\": \"$E1\"}"
check_fails "the port is unpublished" 1 'refused|timed out|failed' ext_probe tcp 198.51.100.1 8080
check_output "DeleteNetwork refuses while an endpoint is joined" '"Err":".*has active endpoints' dp NetworkDriver.DeleteNetwork "{\"NetworkID\": \"$N1\"}"
for e in $E1 $E2; do
    n=$N1; [ "$e" = "$E2" ] && n=$N2
    check "Leave $(cut -c1-4 <<<"$e")" dp NetworkDriver.Leave "{\"NetworkID\": \"$n\", \"EndpointID\": \"$e\"}"
    check "DeleteEndpoint $(cut -c1-4 <<<"$e")" dp NetworkDriver.DeleteEndpoint "{\"NetworkID\": \"$n\", \"EndpointID\": \"$e\"}"
done
check_output "the sandbox's interfaces are gone with their veths" '^lo' in_sbx ip -br link
check_output "bp_ports is empty" '^\[\]$' bpftool map dump pinned "$STATE/bpf/maps/bp_ports" -j
check_output "DeleteNetwork dn" '^\{\}$' dp NetworkDriver.DeleteNetwork "{\"NetworkID\": \"$N1\"}"
check_output "DeleteNetwork dn2" '^\{\}$' dp NetworkDriver.DeleteNetwork "{\"NetworkID\": \"$N2\"}"
check_fails "the bridges are gone" 1 'does not exist' in_host ip link show br-111111111111
check_output "DiscoverNew is accepted" '^\{\}$' dp NetworkDriver.DiscoverNew '{"DiscoveryType": 1, "DiscoveryData": {}}'
