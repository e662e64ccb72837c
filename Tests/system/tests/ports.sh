# Published ports reached from an external client through the uplink (BPF DNAT, no iptables).
agent_start || { fail "agent starts"; return; }

check "network create" bp network create --subnet 10.40.0.0/24 web
check "run a server with published TCP and UDP ports" \
    bp run -d --name srv --net web -p 5000:80 -p 5353:53/udp -p 127.0.0.1:5001:80 -p 80 -p 5080:8080 -- python3 "$TOOLS/echo.py" --tcp 80 --udp 53 --stream 8080
wait_ready srv

check_output "port lists the bindings" '^80/tcp -> 0.0.0.0:5000$' bp port srv
check_output "port PRIVATE_PORT" '^0.0.0.0:5000$' bp port srv 80/tcp
check_output "empty HOSTPORT got an ephemeral port" '^80/tcp -> 0.0.0.0:(3[2-9][0-9]{3}|[45][0-9]{4}|60[0-9]{3})$' bp port srv
check_output "ps shows the ports" '0.0.0.0:5000->80/tcp' bp ps
check_output "inspect shows the bindings" '"HostPort": "5000"' bp inspect srv

check_output "TCP from outside reaches the container, which sees the real client" '^80 198\.51\.100\.2 hello$' ext_probe tcp 198.51.100.1 5000 hello
check_output "UDP from outside, the reply comes from the published address" '^53 198\.51\.100\.2 hi$' ext_probe udp 198.51.100.1 5353 hi
check_output "many TCP connections in a row" '^20$' answered 20 '^80 198.51.100.2 x$' ext_probe tcp 198.51.100.1 5000 x
eph=$(bp port srv 80/tcp | sed -n 's/^0.0.0.0://p' | grep -v '^5000$' | head -1)
check_output "the ephemeral port works too" '^80 ' ext_probe tcp 198.51.100.1 "$eph" e
check_fails "a port published on 127.0.0.1 is not reachable from outside" 1 'timed out|refused' ext_probe tcp 198.51.100.1 5001 x
check_fails "an unpublished port is not reachable" 1 'timed out|refused' ext_probe tcp 198.51.100.1 5002 x

check_fails "a host port already published is refused" 125 'port is already allocated' bp run -d --name other --net web -p 5000:80
in_host python3 -c 'import socket,time; s=socket.socket(); s.bind(("0.0.0.0", 7000)); s.listen(); time.sleep(30)' & holder=$!
sleep 0.3
check_fails "a host port bound by a host socket is refused" 125 'port is already allocated' bp run -d --name other --net web -p 7000:80
kill "$holder" 2>/dev/null; wait "$holder" 2>/dev/null

# Published host ports are held by the agent, as Docker holds them: no host process binds
# them, and the kernel never picks one as the source port of the host's own connections,
# whose replies would otherwise be taken for the published port's traffic.
check_fails "a host process cannot bind a published TCP port" 1 'Address already in use' bind_in_host tcp 5000
check_fails "nor a published UDP port" 1 'Address already in use' bind_in_host udp 5353
in_ext python3 "$TOOLS/echo.py" $(for i in $(seq 0 9); do echo --tcp 900$i; done) --udp 9053 >/dev/null 2>&1 & ext_server=$!
saved_range=$(in_host sysctl -n net.ipv4.ip_local_port_range)
in_host sysctl -qw net.ipv4.ip_local_port_range="5353 5354"
sleep 0.3
check_output "the host's UDP queries never leave from the published port 5353 (10 tries, range 5353-5354)" '^10$' \
    answered 10 '^9053 198\.51\.100\.1 q$' in_host python3 "$TOOLS/probe.py" udp 198.51.100.2 9053 q
in_host sysctl -qw net.ipv4.ip_local_port_range="5080 5081"
check_output "nor its TCP connections from the published port 5080 (10 connections, range 5080-5081)" '^10$' \
    bash -c "for i in \$(seq 0 9); do nsenter --net=/run/netns/$HOST_NS python3 $TOOLS/probe.py tcp 198.51.100.2 900\$i q; done | grep -c '^900[0-9] 198\.51\.100\.1 q$'"
in_host sysctl -qw net.ipv4.ip_local_port_range="$saved_range"
kill "$ext_server" 2>/dev/null; wait "$ext_server" 2>/dev/null

# Restart keeps the bindings, and an established connection keeps every byte across it;
# removing the container removes them.
in_ext python3 "$TOOLS/stream.py" 198.51.100.1 5080 4 >"$STATE/stream.out" 2>&1 & streamer=$!
sleep 1
agent_stop
agent_start || { fail "agent restarts"; return; }
wait "$streamer" && pass "an established connection survives the agent restart ($(cat "$STATE/stream.out"))" \
    || fail "the connection broke across the restart: $(cat "$STATE/stream.out")"
check_output "published port works after an agent restart" '^80 198\.51\.100\.2 again$' ext_probe tcp 198.51.100.1 5000 again
check_output "nft lists the host namespace's ruleset" '^ok$' bash -c "nsenter --net=/run/netns/$HOST_NS nft list ruleset >/dev/null && echo ok"
check_output "no iptables or nftables rule in the host namespace (empty ruleset)" '^0$' bash -c "nsenter --net=/run/netns/$HOST_NS nft list ruleset | wc -c"
check "rm -f srv" bp rm -f srv
check_fails "the port is gone with the container" 1 'timed out|refused' ext_probe tcp 198.51.100.1 5000 x
check "and the agent no longer holds it: a host process binds it" bind_in_host tcp 5000

# From the host itself and from containers (socket hooks on the sandbox's cgroup).
check "run a server again" bp run -d --name srv2 --net web -p 6000:80 -p 6053:53/udp -p 127.0.0.1:6001:80 -- python3 "$TOOLS/echo.py" --tcp 80 --udp 53
wait_ready srv2
check_output "host: localhost:6000" '^80 ' in_host_cgroup python3 "$TOOLS/probe.py" tcp 127.0.0.1 6000 h
check_output "host: its uplink address" '^80 ' in_host_cgroup python3 "$TOOLS/probe.py" tcp 198.51.100.1 6000 h
check_output "host: 127.0.0.1-bound port at localhost" '^80 ' in_host_cgroup python3 "$TOOLS/probe.py" tcp 127.0.0.1 6001 h
check_output "host: UDP at localhost, the answer comes from the published address" '^53 ' in_host_cgroup python3 "$TOOLS/probe.py" udp 127.0.0.1 6053 u
check "another network" bp network create --subnet 10.41.0.0/24 other
check "a client container there" bp run -d --name cli --net other
check_output "hairpin from another network through the host's address" '^80 ' bp exec cli python3 "$TOOLS/probe.py" tcp 198.51.100.1 6000 c
check_output "hairpin through the client's own gateway address" '^80 ' bp exec cli python3 "$TOOLS/probe.py" tcp 10.41.0.1 6000 c
check_fails "a 127.0.0.1-bound port is not the container's to reach" 1 'refused|timed out' bp exec cli python3 "$TOOLS/probe.py" tcp 127.0.0.1 6001 c
# A port published on 127.0.0.1 only is the host's alone: its container port is reached
# neither by direct routing nor by a container of another network (as in Docker 28).
check "a server published on 127.0.0.1 only" bp run -d --name lo-only --net web -p 127.0.0.1:6101:80 -- python3 "$TOOLS/echo.py" --tcp 80
wait_ready lo-only
lo_only=$(ip_of lo-only)
check_output "... answers on the host's loopback" '^80 ' in_host_cgroup python3 "$TOOLS/probe.py" tcp 127.0.0.1 6101 h
check_fails "... not by its address from a container of another network" 1 'timed out' bp exec cli python3 "$TOOLS/probe.py" tcp "$lo_only" 80 c
in_ext ip route add 10.40.0.0/24 via 198.51.100.1
check_fails "... nor by direct routing from outside" 1 'timed out' ext_probe tcp "$lo_only" 80 x
in_ext ip route del 10.40.0.0/24 via 198.51.100.1
check "rm -f lo-only" bp rm -f lo-only
check_output "the server's own published port, from itself" '^80 ' bp exec srv2 python3 "$TOOLS/probe.py" tcp 198.51.100.1 6000 self
check "rm -f" bp rm -f srv2 cli

# Who may use a published port (DOCKER-USER's job in Docker), kept across restarts.
check "run a restricted server" bp run -d --name guarded --net web -p 7100:80 -- python3 "$TOOLS/echo.py" --tcp 80
wait_ready guarded
check_output "port allow" 'allowed from 203\.0\.113\.0/24' bp port allow guarded 7100/tcp 203.0.113.0/24
check_fails "a source outside the allowed CIDRs is dropped" 1 'timed out' ext_probe tcp 198.51.100.1 7100 x
[ "$(drops not_allowed)" -ge 1 ] && pass "counted as not_allowed" || fail "no not_allowed drop counted"
guarded=$(ip_of guarded)
check "a client container on another network" bp run -d --name gcli --net other
check_fails "a container not on the list: its connect() to the port is refused" 1 'not permitted' \
    bp exec gcli python3 "$TOOLS/probe.py" tcp 198.51.100.1 7100 x
check_fails "nor does it reach the port's container by its own address" 1 'timed out' bp exec gcli python3 "$TOOLS/probe.py" tcp "$guarded" 80 x
check_output "the refusal is counted as not_allowed on the client" 'container="gcli".*reason="not_allowed",direction="egress"\} [1-9]' metrics
check "allow the client container's network" bp port allow guarded 7100 10.41.0.0/24
check_output "then it gets through the host's address" '^80 ' bp exec gcli python3 "$TOOLS/probe.py" tcp 198.51.100.1 7100 y
check_output "and by the container's address" '^80 ' bp exec gcli python3 "$TOOLS/probe.py" tcp "$guarded" 80 y
check "rm -f gcli" bp rm -f gcli
check "allow the client's network too" bp port allow guarded 7100 198.51.100.0/24
check_output "port shows the allowed sources" '80/tcp -> 0.0.0.0:7100 \(allowed from 10\.41\.0\.0/24, 198\.51\.100\.0/24, 203\.0\.113\.0/24\)' bp port guarded
check_output "inspect shows them" '"7100/tcp": \[' bp inspect guarded
agent_stop; agent_start || { fail "agent restarts"; return; }
check_output "an allowed source gets through, also after a restart" '^80 198\.51\.100\.2 ok$' ext_probe tcp 198.51.100.1 7100 ok
check_fails "allow on a port it does not publish" 1 'does not publish host port 7999/tcp' bp port allow guarded 7999 10.0.0.0/8
check_fails "allow with a bad CIDR" 1 'invalid subnet "10.0.0.1/8"' bp port allow guarded 7100 10.0.0.1/8
check_output "--clear opens it again" 'open to all' bp port allow --clear guarded 7100/tcp
check "rm -f guarded" bp rm -f guarded
