# The daemon's configuration file (daemon.json, --config-file): its settings shape the
# default bridge (bip, fixed-cidr, default-gateway, mtu, icc), new networks' subnets
# (default-address-pools), -p's host address (ip) and containers' resolvers (dns). A file
# the daemon refuses stops it before it changes anything. Then network create's MTU option
# and --aux-address, and the overlay MTU that follows the underlay's.

# refused WHAT JSON PATTERN [AGENT_ARGS...]: with that daemon.json the agent does not start:
# it exits 1, says PATTERN, and has made no state directory.
refused() {
    local what=$1 rc; printf '%s\n' "$2" >"$DAEMON_JSON"; local pattern=$3; shift 3
    : >"$AGENT_LOG"
    if agent_start "$@" >/dev/null 2>&1; then fail "$what: the agent started"; agent_stop; return; fi
    wait "$AGENT_PID"; rc=$?; AGENT_PID=
    if [ "$rc" = 1 ] && grep -qE -- "$pattern" "$AGENT_LOG" && [ ! -e "$STATE/state" ]; then pass "$what"
    else fail "$what (exit $rc: $(tail -2 "$AGENT_LOG"))"; fi
}

file="unable to configure the Bridgeport daemon with file $DAEMON_JSON"
refused "an unknown key is refused by name" '{"bip": "10.124.0.1/24", "foo": 1}' \
    "$file: the following directives don't match any configuration option: foo"
refused "invalid JSON is refused, naming the file" '{"bip": ' "$file: invalid JSON"
refused "a key also given as a flag is refused" '{"dns": ["198.51.100.2"]}' \
    "$file: the following directives are specified both as a flag and in the configuration file: dns: \(from flag: \[1.1.1.1\], from file: \[198.51.100.2\]\)" \
    --dns 1.1.1.1
refused "a bip that is no CIDR is refused" '{"bip": "10.124.0.1"}' "$file: bip: \"10.124.0.1\" is not an address with its prefix length"
refused "a fixed-cidr outside bip is refused" '{"bip": "10.124.0.1/24", "fixed-cidr": "10.125.0.0/24"}' \
    "fixed-cidr: container subnet 10.125.0.0/24 must be a subset of bridge network 10.124.0.0/24"
refused "a pool size out of range is refused" '{"default-address-pools": [{"base": "10.123.0.0/16", "size": 8}]}' \
    "the size must be from 16 \(the base's prefix length\) to 30"
refused "a negative mtu is refused" '{"mtu": -1}' "invalid default MTU: -1"
refused "a missing file given explicitly is refused" '{}' "open $STATE/none.json: no such file or directory" --config-file "$STATE/none.json"

cat >"$DAEMON_JSON" <<'JSON'
{
  "default-address-pools": [{"base": "10.123.0.0/16", "size": 24}],
  "bip": "10.124.0.1/24", "fixed-cidr": "10.124.0.128/25", "default-gateway": "10.124.0.254",
  "mtu": 1400, "icc": false, "ip": "127.0.0.1", "dns": ["198.51.100.2"]
}
JSON
agent_start || { fail "the agent starts with the file"; return; }
pass "the agent starts with the file"

check_output "the default bridge's subnet and gateway are bip's, its range fixed-cidr" \
    '"Gateway":"10.124.0.1","IPRange":"10.124.0.128/25","Subnet":"10.124.0.0/24"' \
    bash -c "'$BIN' network inspect bridge | tr -d '\n '"
check_output "... its aux address the default gateway" '"DefaultGatewayIPv4": "10.124.0.254"' bp network inspect bridge
check_output "bp0 has bip's address" 'inet 10.124.0.1/24' in_host ip -4 addr show bp0
check_output "bp0's MTU is the file's" 'mtu 1400 ' in_host ip link show bp0
check "run a1 and a2 on the default bridge" bash -c "'$BIN' run -d --name a1 -p 8080:80 >/dev/null && '$BIN' run -d --name a2 >/dev/null"
check_output "a1's address is fixed-cidr's first" '^10\.124\.0\.128$' ip_of a1
check_output "inside a1, eth0's MTU is 1400" 'mtu 1400 ' bp exec a1 ip link show eth0
check_output "... and its host side's" 'mtu 1400 ' in_host ip link show master bp0
check_output "a1's default route is the default gateway" '^default via 10\.124\.0\.254 dev eth0' bp exec a1 ip route
check_output "-p without an address takes the file's ip" '^80/tcp -> 127\.0\.0\.1:8080$' bp port a1
check_output "-p 0.0.0.0:... keeps every address" '^80/tcp -> 0\.0\.0\.0:8081$' sh -c "'$BIN' run -d --name a3 -p 0.0.0.0:8081:80 >/dev/null && '$BIN' port a3"
check_output "a1's resolver is the file's dns" '^nameserver 198\.51\.100\.2$' bp exec a1 cat /etc/resolv.conf
check "a1 reaches its bridge" bp exec a1 ping -c 1 -W 1 10.124.0.1
check_fails "icc false: a1 cannot reach a2" 1 '100% packet loss' bp exec a1 ping -c 2 -W 1 "$(ip_of a2)"
check "a network without --subnet takes the file's pool" bp network create p1
check_output "... its first subnet" '"Subnet": "10.123.0.0/24"' bp network inspect p1
check "a second one" bp network create p2
check_output "... the next" '"Subnet": "10.123.1.0/24"' bp network inspect p2
check "on a network of the pool, the embedded DNS forwards to the file's dns" \
    sh -c "'$BIN' run -d --name p1c --net p1 >/dev/null && '$BIN' exec p1c cat /etc/resolv.conf | grep -q 'ExtServers: \[dns(198.51.100.2)\]'"

# The default bridge's settings change while containers are on it: refused, as it was.
agent_stop
sed -i 's#10.124.0#10.129.0#g' "$DAEMON_JSON"
: >"$AGENT_LOG"
agent_start >/dev/null 2>&1 && { fail "the agent started with other settings under containers"; agent_stop; }
wait "$AGENT_PID" 2>/dev/null; AGENT_PID=
check_output "other settings under containers are refused, naming them" \
    "the default bridge's settings changed \(bip 10.124.0.1/24 -> 10.129.0.1/24, .*\) but containers use it: a1, a2, a3" cat "$AGENT_LOG"
check_output "... and bp0 is as it was" 'inet 10.124.0.1/24' in_host ip -4 addr show bp0
sed -i 's#10.129.0#10.124.0#g' "$DAEMON_JSON"
# (agent_start in this shell, not in check's subshell: agent_stop needs its PID.)
agent_start >/dev/null && pass "the agent starts again with the settings it had" || fail "the agent starts again"
check "remove the default bridge's containers" bp rm -f a1 a2 a3
agent_stop
sed -i 's#10.124.0#10.129.0#g' "$DAEMON_JSON"
agent_start >/dev/null && pass "with none on it, the agent starts with the new settings" || fail "the agent starts with new settings"
check_output "... and says what changed" 'the default bridge takes the daemon.s settings: bip 10.124.0.1/24 -> 10.129.0.1/24' cat "$AGENT_LOG"
check_output "... bp0 has the new address only" '^10.129.0.1/24$' sh -c "ip -n $HOST_NS -4 -o addr show bp0 | awk '{print \$4}'"
check_output "... a new container takes the new fixed-cidr" '^10\.129\.0\.128$' sh -c "'$BIN' run -d --name b1 >/dev/null && '$BIN' inspect -f '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}' b1"

# network create -o com.docker.network.driver.mtu and --aux-address.
mtu_opt=com.docker.network.driver.mtu
check "network create with an MTU" bp network create --subnet 10.126.0.0/24 -o $mtu_opt=1280 m1
check_output "inspect shows it" "\"$mtu_opt\": \"1280\"" bp network inspect m1
m1_bridge=br-$(bp network inspect -f '{{.Id}}' m1 | cut -c1-12)
check_output "its bridge has it" 'mtu 1280 ' in_host ip link show "$m1_bridge"
check "run m1c on it" bp run -d --name m1c --net m1
check_output "inside m1c, eth0 has it" 'mtu 1280 ' bp exec m1c ip link show eth0
check_output "... and its host side" 'mtu 1280 ' in_host ip link show master "$m1_bridge"
check_fails "an MTU out of range is refused" 1 'invalid MTU number: 10' bp network create -o $mtu_opt=10 m2
check_fails "an MTU that is no number is refused" 1 "failed to parse $mtu_opt value: abc" bp network create -o $mtu_opt=abc m2
check_fails "... and no network was made" 1 'No such network: m2' bp network inspect m2

check "network create with aux addresses" bp network create --subnet 10.127.0.0/24 --aux-address router=10.127.0.2 --aux-address dns=10.127.0.3 x1
check_output "inspect shows them" '"AuxiliaryAddresses":\{"dns":"10.127.0.3","router":"10.127.0.2"\}' \
    bash -c "'$BIN' network inspect x1 | tr -d '\n '"
check "run x1a on it" bp run -d --name x1a --net x1
check_output "x1a skips the aux addresses" '^10\.127\.0\.4$' ip_of x1a
check_fails "run --ip of an aux address is refused as in use" 125 'Address already in use: 10.127.0.2' \
    bp run -d --name x1b --net x1 --ip 10.127.0.2
check_fails "an aux address outside the subnet is refused" 1 'no matching subnet for aux-address 10.9.9.9' \
    bp network create --subnet 10.128.0.0/24 --aux-address a=10.9.9.9 x2
check_fails "... and without --subnet" 1 'no matching subnet for aux-address 10.128.0.2' \
    bp network create --aux-address a=10.128.0.2 x2
check_fails "... and no network was made" 1 'No such network: x2' bp network inspect x2

# Overlay: the MTU follows the underlay's (here 9000) less VXLAN's 50 bytes; -o sets it.
echo '{}' >"$DAEMON_JSON"
cluster_up 1
ip -n "$TAG-h1" link set eth0 mtu 9000
check "a cluster agent with a 9000-byte underlay" start_host 1
check "an overlay network" on 1 network create -d overlay ov1
check "run o1 on it" on 1 run -d --name o1 --net ov1
check_output "inside o1, eth0's MTU is 8950" 'mtu 8950 ' on 1 exec o1 ip link show eth0
check_output "the VXLAN device's too" 'mtu 8950 ' sh -c "ip -n $TAG-h1 link show | grep ': vx-'"
check "an overlay network with -o $mtu_opt=1300" on 1 network create -d overlay -o $mtu_opt=1300 ov2
check "run o2 on it" on 1 run -d --name o2 --net ov2
check_output "inside o2, eth0's MTU is 1300" 'mtu 1300 ' on 1 exec o2 ip link show eth0
check_fails "a bad overlay MTU is refused" 1 'invalid MTU number: 70000' on 1 network create -d overlay -o $mtu_opt=70000 ov3
stop_host 1
