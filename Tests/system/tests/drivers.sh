# host and none drivers, connect/disconnect, internal networks, options in inspect.
agent_start || { fail "agent starts"; return; }

check_fails "a second host network is refused" 1 'only one instance of "host"' bp network create -d host h2
check_fails "unknown driver" 1 'driver must be bridge, macvlan, overlay, host or none' bp network create -d ipvlan o1
check_fails "overlay needs a cluster" 1 'start the agent with --cluster-store' bp network create -d overlay o1

# host: the container shares the host namespace (the sandbox's), no veth.
check "run --net host" bp run -d --name h --net host -p 80:80
check_output "host container sees the uplink" "$TAG-up" bp exec h ip -br link
check_output "host container is on the host network, without an address" '"IPAddress":""' bp inspect -f '{{json .NetworkSettings.Networks.host}}' h

# none: only lo.
check "run --net none" bp run -d --name n --net none
check_output "none container has only lo" '^lo +UNKNOWN' bp exec n ip -br link
[ "$(bp exec n ip -br link | wc -l)" = 1 ] && pass "none has exactly one link" || fail "none has more than lo"
check_fails "connect a none container" 1 'cannot be disconnected from host or none' bp network connect bridge n

# connect / disconnect: a second interface, a peer's name, then gone again.
check "network create a" bp network create --subnet 10.10.0.0/24 a
check "network create b (internal)" bp network create --internal --subnet 10.20.0.0/24 b
check_output "inspect shows internal" '"Internal": true' bp network inspect b
check "network create quiet (icc off)" bp network create -o com.docker.network.bridge.enable_icc=false quiet
check_output "inspect shows the icc option" '"com.docker.network.bridge.enable_icc": "false"' bp network inspect quiet
check "run x on a" bp run -d --name x --net a
check_output "a's bridge has a MAC of its own (02:42 + the gateway), kept when ports come and go" '02:42:0a:0a:00:01' in_host ip -br link
check "run y on b" bp run -d --name y --net b --ip 10.20.0.10
check_output "internal network: no default route" '^$' bp exec y ip route show default
check "connect x to b with an address" bp network connect --ip 10.20.0.20 b x
check_output "x has eth1 with its address" 'eth1.*10.20.0.20/24' bp exec x ip -br addr
check_output "x keeps its default route via a" 'default via 10.10.0.1 dev eth0' bp exec x ip route
check "x reaches y by name over b" bp exec x ping -c 1 -W 2 y
check_fails "connect twice" 1 'already exists in network b' bp network connect b x
check "disconnect x from b" bp network disconnect b x
check_output "eth1 is gone" '^$' sh -c "'$BIN' exec x ip -br link | grep eth1"
check_fails "y no longer resolves in x" 2 'unknown host|Name or service|bad address|Temporary failure' bp exec x ping -c 1 -W 1 y
check_fails "disconnect again" 1 'is not connected to network b' bp network disconnect b x

# ls --format json and -q
check_output "network ls --format json" '"Name":"a"' bp network ls --format json
check_output "network ls -q prints IDs" '^[0-9a-f]{12}$' bp network ls -q
check_output "port lists nothing for x" '^$' bp port x
check "rm -f all" bp rm -f h n x y
check "network rm a b quiet" bp network rm a b quiet
