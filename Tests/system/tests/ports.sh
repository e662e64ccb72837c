# Published ports reached from an external client through the uplink (BPF DNAT, no iptables).
agent_start || { fail "agent starts"; return; }
TOOLS=$(cd "$(dirname "${BASH_SOURCE[0]}")/../tools" && pwd)
ext_probe() { in_ext python3 "$TOOLS/probe.py" "$@"; }

check "network create" bp network create --subnet 10.40.0.0/24 web
check "run a server with published TCP and UDP ports" \
    bp run -d --name srv --net web -p 5000:80 -p 5353:53/udp -p 127.0.0.1:5001:80 -p 80 -- python3 "$TOOLS/echo.py" --tcp 80 --udp 53
for _ in $(seq 1 50); do bp logs srv | grep -q ready && break; sleep 0.1; done

check_output "port lists the bindings" '^80/tcp -> 0.0.0.0:5000$' bp port srv
check_output "port PRIVATE_PORT" '^0.0.0.0:5000$' bp port srv 80/tcp
check_output "empty HOSTPORT got an ephemeral port" '^80/tcp -> 0.0.0.0:(3[2-9][0-9]{3}|[45][0-9]{4}|60[0-9]{3})$' bp port srv
check_output "ps shows the ports" '0.0.0.0:5000->80/tcp' bp ps
check_output "inspect shows the bindings" '"HostPort": "5000"' bp inspect srv

check_output "TCP from outside reaches the container, which sees the real client" '^80 198\.51\.100\.2 hello$' ext_probe tcp 198.51.100.1 5000 hello
check_output "UDP from outside, the reply comes from the published address" '^53 198\.51\.100\.2 hi$' ext_probe udp 198.51.100.1 5353 hi
check_output "many TCP connections in a row" '^20$' bash -c "for i in \$(seq 1 20); do nsenter --net=/run/netns/$EXT_NS python3 $TOOLS/probe.py tcp 198.51.100.1 5000 x; done | grep -c '^80 198.51.100.2 x$'"
eph=$(bp port srv 80/tcp | sed -n 's/^0.0.0.0://p' | grep -v '^5000$' | head -1)
check_output "the ephemeral port works too" '^80 ' ext_probe tcp 198.51.100.1 "$eph" e
check_fails "a port published on 127.0.0.1 is not reachable from outside" 1 'timed out|refused' ext_probe tcp 198.51.100.1 5001 x
check_fails "an unpublished port is not reachable" 1 'timed out|refused' ext_probe tcp 198.51.100.1 5002 x

check_fails "a host port already published is refused" 125 'port is already allocated' bp run -d --name other --net web -p 5000:80
in_host python3 -c 'import socket,time; s=socket.socket(); s.bind(("0.0.0.0", 7000)); s.listen(); time.sleep(30)' & holder=$!
sleep 0.3
check_fails "a host port bound by a host socket is refused" 125 'port is already allocated' bp run -d --name other --net web -p 7000:80
kill "$holder" 2>/dev/null; wait "$holder" 2>/dev/null

# Restart keeps the bindings; removing the container removes them.
agent_stop
agent_start || { fail "agent restarts"; return; }
check_output "published port works after an agent restart" '^80 198\.51\.100\.2 again$' ext_probe tcp 198.51.100.1 5000 again
check_output "no iptables or nftables rule in the host namespace" '^0$' bash -c "nsenter --net=/run/netns/$HOST_NS nft list ruleset 2>/dev/null | grep -cE '^\s+(ip|tcp|udp|meta|counter|dnat|snat|masquerade)'"
check "rm -f srv" bp rm -f srv
check_fails "the port is gone with the container" 1 'timed out|refused' ext_probe tcp 198.51.100.1 5000 x
