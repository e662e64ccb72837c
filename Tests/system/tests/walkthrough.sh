# The seed walkthrough: user-defined and default bridges, addresses, names, restart.
# The agent's resolvers (for what its DNS server forwards) are a stub of ours on the
# external client, never the machine's.
echo "nameserver 198.51.100.2" >"$STATE/resolv.conf"
AGENT_ARGS="--resolv-conf $STATE/resolv.conf"
dns_stub in_ext 198.51.100.2 ext || fail "the external client's DNS stub listens"
agent_start || { fail "agent starts"; return; }
pass "agent starts in the sandbox host namespace"

check_output "network ls lists the predefined networks" '^NETWORK ID +NAME +DRIVER +SCOPE' bp network ls
for n in bridge:bridge host:host none:null; do
    check_output "predefined network ${n%%:*} (driver ${n##*:}, as Docker shows it)" " ${n%%:*} +${n##*:} +local" bp network ls
done
check_output "network create prints the ID" '^[0-9a-f]{64}$' bp network create -d bridge --subnet 10.0.0.0/24 my_bridge
check_output "network ls shows my_bridge" '^[0-9a-f]{12} +my_bridge +bridge +local$' bp network ls
check_output "run -d prints the container ID" '^[0-9a-f]{64}$' bp run -d --name c2 --net my_bridge
check "run with a manual address" bp run -d --name c3 --net my_bridge --ip 10.0.0.254
check_output "c2 got the first free address" '"IPAddress": "10.0.0.2"' bp inspect c2
check_output "inspect -f reads one field" '^10.0.0.254$' bp inspect -f '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}' c3
check "c2 pings c3 by address" bp exec c2 ping -c 1 -W 2 10.0.0.254
check "c2 pings c3 by name" bp exec c2 ping -c 1 -W 2 c3
check "c3 pings c2 by name" bp exec c3 ping -c 1 -W 2 c2
# A running container learns a newcomer's name by itself (no exec or inspect to hurry it).
check "a container waiting for a peer's name" bp run -d --name waiter --net my_bridge \
    sh -c 'for i in $(seq 1 100); do getent hosts latecomer >/dev/null && { echo seen; exec sleep infinity; }; sleep 0.02; done; echo never'
check "the peer comes" bp run -d --name latecomer --net my_bridge
check_output "its name resolves in the waiting container (DNS)" '^seen$' \
    bash -c "for i in \$(seq 1 60); do out=\$('$BIN' logs waiter); [ -n \"\$out\" ] && { echo \"\$out\"; exit; }; sleep 0.05; done"
check "rm the waiter and the peer" bp rm -f waiter latecomer

check "run on the default bridge" bp run -d --name c1
gateway=$(bp inspect -f '{{.NetworkSettings.Gateway}}' c1)
check_output "the default bridge is bp0 with 172.17.0.0/16" '"Subnet": "172.17.0.0/16"' bp network inspect bridge
check "c1 reaches its gateway" bp exec c1 ping -c 1 -W 2 "$gateway"
check_fails "no name resolution on the default bridge" 2 'unknown host|Name or service|bad address|Temporary failure' bp exec c1 ping -c 1 -W 1 c2
out=$(bp exec c1 sh -c "hostname && ip a && cat /etc/resolv.conf" 2>&1)
c1id=$(bp inspect -f '{{.Id}}' c1)
grep -qx "${c1id:0:12}" <<<"$out" && pass "hostname is the short ID, as Docker's" || fail "hostname is the short ID: $out"
grep -q "inet 172.17.0.2/16" <<<"$out" && pass "ip a shows the address on eth0" || fail "ip a: $out"
grep -q "^nameserver" <<<"$out" && pass "own resolv.conf" || fail "resolv.conf: $out"
check_output "exec passes the exit code back" '^7$' sh -c "'$BIN' exec c1 sh -c 'exit 7'; echo \$?"

check_output "ps shows running containers" ' c3$' bp ps
check_output "ps columns" '^CONTAINER ID +IMAGE +COMMAND +CREATED +STATUS +PORTS +NAMES$' bp ps
check_output "network inspect lists the containers" '"IPv4Address": "10.0.0.254/24"' bp network inspect my_bridge

# Bad input: one clear line, non-zero exit, no change.
check_fails "duplicate network" 1 'network with name my_bridge already exists' bp network create my_bridge
check_fails "overlapping subnet" 1 'overlaps with network my_bridge' bp network create --subnet 10.0.0.128/25 other
check_fails "invalid CIDR" 1 'invalid subnet "10.0.0.0/33"' bp network create --subnet 10.0.0.0/33 other
check_fails "address taken" 125 'Address already in use: 10.0.0.254' bp run -d --name c4 --net my_bridge --ip 10.0.0.254
check_fails "address outside subnet" 125 '"10.1.0.5".*not in the network' bp run -d --name c4 --net my_bridge --ip 10.1.0.5
check_fails "--ip on the default network" 125 'user defined networks only' bp run -d --name c4 --ip 172.17.0.50
check_fails "bad -p spec" 125 'invalid port specification "80/sctp"' bp run -d --name c4 -p 80/sctp
check_fails "duplicate container name" 125 'name "/c2" is already in use' bp run -d --name c2
check_fails "unknown network" 125 'network nope not found' bp run -d --name c4 --net nope
check_fails "missing command" 127 'executable file not found' bp run -d --name c4 no-such-command-here
check_fails "network with containers" 1 'has active endpoints' bp network rm my_bridge
check_fails "predefined network" 1 'pre-defined network' bp network rm bridge
check_fails "rm a running container" 1 'container is running' bp rm c1
check_fails "unknown container" 1 'No such container: ghost' bp rm ghost
check_output "nothing half-made: no c4" '^$' sh -c "'$BIN' ps -a | grep -w c4"
check_fails "agent not running (other socket)" 1 'Is the agent running' env BRIDGEPORT_SOCKET=$STATE/none.sock "$BIN" ps

# Restart: everything is still there and still works.
ids_before=$(bp ps -q | sort)
agent_stop
agent_start || { fail "agent restarts"; return; }
check_output "containers survive an agent restart" "^$(echo $ids_before | tr ' ' '|')" bp ps -q
[ "$(bp ps -q | sort)" = "$ids_before" ] && pass "same running containers after restart" || fail "running containers changed across restart"
check "c2 still pings c3 by name after restart" bp exec c2 ping -c 1 -W 2 c3

# Remove: links and namespaces go.
check_output "stop prints the name" '^c3$' bp stop -t 1 c3
check_output "stopped container shows Exited" 'Exited \([0-9]+\).* c3$' bp ps -a
check "rm c3" bp rm c3
check "rm -f c2" bp rm -f c2
check_output "network rm prints the name" '^my_bridge$' bp network rm my_bridge
check_output "my_bridge is gone" '^$' sh -c "'$BIN' network ls | grep my_bridge"
check_output "its bridge is gone" '^$' sh -c "nsenter --net=/run/netns/$HOST_NS ip -br link | grep br-"
check "rm -f c1" bp rm -f c1
check_output "no veth left" '^$' sh -c "nsenter --net=/run/netns/$HOST_NS ip -br link | grep veth"
check_output "no namespace left" '^$' ls "$STATE/state/netns"
