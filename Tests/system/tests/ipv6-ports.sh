# Published ports over IPv6 (issue 19, third part), as Docker 27 publishes them: `-p 8080:80`
# of a container with an IPv6 address binds 0.0.0.0:8080 and [::]:8080 (one host port in
# both families), a bracketed host address binds IPv6 alone; reached from outside through
# the uplink (BPF DNAT66), from the host at [::1] and from containers at the host's IPv6
# address (socket hooks), restricted by allow lists of IPv6 sources, counted per port.
ipv6_uplink
agent_start || { fail "agent starts"; return; }
# lines COMMAND...: its output on one line ("a b "), for outputs of several lines.
lines() { "$@" | tr '\n' ' '; }
# series_of HOST_IP HOST_PORT: the published-port packet series of that binding.
series_of() { samples 'bridgeport_published_port_packets(_total)?' host_ip="$1" host_port="$2"; }

check "a dual-stack network" bp network create --ipv6 --subnet 10.238.1.0/24 --subnet fd00:238:1::/64 six
check "a server publishing 8080, UDP 5353 and a random port" \
    bp run -d --name srv --net six -p 8080:80 -p 5353:53/udp -p 81 -- python3 "$TOOLS/echo.py" --ipv6 --tcp 80 --tcp 81 --udp 53
wait_ready srv

# Listed in both families, IPv4 first, as Docker 27 lists them.
check_output "port: both families" '^80/tcp -> 0\.0\.0\.0:8080 80/tcp -> \[::\]:8080 $' \
    lines bash -c "'$BIN' port srv | grep '^80/tcp'"
check_output "port PRIVATE_PORT: both addresses" '^0\.0\.0\.0:5353 \[::\]:5353 $' lines bp port srv 53/udp
check_output "ps: both families" '0\.0\.0\.0:8080->80/tcp, .*\[::\]:8080->80/tcp' bp ps --filter name=srv --format '{{.Ports}}'
check_output "inspect: NetworkSettings.Ports with HostIp ::" \
    '"80/tcp":\[\{"HostIp":"0\.0\.0\.0","HostPort":"8080"\},\{"HostIp":"::","HostPort":"8080"\}\]' \
    bp inspect -f '{{json .NetworkSettings.Ports}}' srv
check_output "inspect: HostConfig.PortBindings too" '"HostIp":"::","HostPort":"5353"' \
    bp inspect -f '{{json .HostConfig.PortBindings}}' srv
eph4=$(bp port srv 81/tcp | sed -n 's/^0\.0\.0\.0://p')
eph6=$(bp port srv 81/tcp | sed -n 's/^\[::\]://p')
[ -n "$eph6" ] && [ "$eph4" = "$eph6" ] && pass "the random port is the same in both families ($eph6)" \
    || fail "random ports differ: IPv4 $eph4, IPv6 $eph6"

# The host ports are held per family, by IPV6_V6ONLY sockets for IPv6.
check_fails "a host process cannot bind [::]:8080" 1 'Address already in use' bind_in_host tcp 8080 ::
check_fails "nor [::]:5353/udp" 1 'Address already in use' bind_in_host udp 5353 ::

# Traffic (the uplink programs: DNAT66 to the container's IPv6 address, replies back).
check_output "TCP over IPv6 from outside to the host's IPv6 address; the container sees the client" \
    '^80 fd00:5100::2 hello$' ext_probe tcp fd00:5100::1 8080 hello
check_output "... and over IPv4 to the same host port" '^80 (::ffff:)?198\.51\.100\.2 hi$' ext_probe tcp 198.51.100.1 8080 hi
check_output "UDP over IPv6, the answer from the published address" '^53 fd00:5100::2 u$' ext_probe udp fd00:5100::1 5353 u
check_output "the random port over IPv6" '^81 fd00:5100::2 r$' ext_probe tcp fd00:5100::1 "${eph6:-1}" r
check_output "many IPv6 connections in a row" '^10$' answered 10 '^80 fd00:5100::2 x$' ext_probe tcp fd00:5100::1 8080 x
check_output "metrics: the IPv6 binding's series" 'host_ip="::",host_port="8080"' series_of :: 8080
n=$(metric 'bridgeport_published_port_packets(_total)?' host_ip=:: host_port=8080 container=srv)
[ "${n:-0}" -ge 10 ] && pass "... counts its packets ($n)" || fail "the IPv6 port counted ${n:-nothing} packets"

# -p [::]:PORT binds IPv6 alone; -p 0.0.0.0:PORT IPv4 alone; each family conflicts on its own.
check "a server published on [::]:8090 only" \
    bp run -d --name only6 --net six -p '[::]:8090:80' -- python3 "$TOOLS/echo.py" --ipv6 --tcp 80
wait_ready only6
check_output "port: [::] only" '^80/tcp -> \[::\]:8090 $' lines bp port only6
check_output "ps: [::] only" '^\[::\]:8090->80/tcp$' bp ps --filter name=only6 --format '{{.Ports}}'
check_output "reached over IPv6" '^80 fd00:5100::2 six$' ext_probe tcp fd00:5100::1 8090 six
check_fails "not over IPv4" 1 'timed out|refused' ext_probe tcp 198.51.100.1 8090 four
check "0.0.0.0:8090 is another family's: free" \
    bp run -d --name only4 --net six -p 0.0.0.0:8090:80 -- python3 "$TOOLS/echo.py" --tcp 80
check_output "... and IPv4 only" '^80/tcp -> 0\.0\.0\.0:8090 $' lines bp port only4
check_fails "[::]:8090 again is refused" 125 'Bind for \[::\]:8090 failed: port is already allocated' \
    bp run -d --name again --net six -p '[::]:8090:80'
check_fails "so is -p 8080 (taken in both)" 125 'port is already allocated' bp run -d --name again --net six -p 8080:80
in_host python3 -c 'import socket,time; s=socket.socket(socket.AF_INET6); s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1); s.bind(("::", 7000)); s.listen(); time.sleep(30)' & holder=$!
sleep 0.3
check_fails "a host socket on [::]:7000 makes -p 7000:80 refused" 125 'Bind for \[::\]:7000 failed: port is already allocated' \
    bp run -d --name again --net six -p 7000:80
check "... but not -p 0.0.0.0:7000:80" bp run -d --name v4at7000 --net six -p 0.0.0.0:7000:80
kill "$holder" 2>/dev/null; wait "$holder" 2>/dev/null
check "rm them" bp rm -f only4 v4at7000

# A specific IPv6 host address.
in_host ip -6 addr add fd00:5100::10/64 dev "$TAG-up" nodad
check "a server published on [fd00:5100::10]:8091" \
    bp run -d --name one6 --net six -p '[fd00:5100::10]:8091:80' -- python3 "$TOOLS/echo.py" --ipv6 --tcp 80
wait_ready one6
check_output "port: that address" '^80/tcp -> \[fd00:5100::10\]:8091 $' lines bp port one6
check_output "reached at that address" '^80 fd00:5100::2 a$' ext_probe tcp fd00:5100::10 8091 a
check_fails "not at the host's other IPv6 address" 1 'timed out|refused' ext_probe tcp fd00:5100::1 8091 b

# From the host at [::1] and from containers at the host's IPv6 address (socket hooks).
check "a server published on [::1]:8093" \
    bp run -d --name lo6 --net six -p '[::1]:8093:80' -- python3 "$TOOLS/echo.py" --ipv6 --tcp 80
wait_ready lo6
check_output "host: [::1]:8093" '^80 ' in_host_cgroup python3 "$TOOLS/probe.py" tcp ::1 8093 h
check_output "host: [::1]:8080 (published on [::])" '^80 ' in_host_cgroup python3 "$TOOLS/probe.py" tcp ::1 8080 h
check_output "host: its IPv6 uplink address" '^80 ' in_host_cgroup python3 "$TOOLS/probe.py" tcp fd00:5100::1 8080 h
check_fails "[::1]:8093 is not reachable from outside" 1 'timed out|refused' ext_probe tcp fd00:5100::1 8093 x
check "a client container on another dual-stack network" \
    bash -c "'$BIN' network create --ipv6 --subnet 10.238.2.0/24 --subnet fd00:238:2::/64 other >/dev/null && '$BIN' run -d --name cli --net other"
check_output "hairpin from it through the host's IPv6 address" '^80 ' \
    bp exec cli python3 "$TOOLS/probe.py" tcp fd00:5100::1 8080 c
check_output "... and through its own IPv6 gateway" '^80 ' bp exec cli python3 "$TOOLS/probe.py" tcp fd00:238:2::1 8080 c
check_fails "[::1]:8093 is not the container's to reach" 1 'refused|timed out' bp exec cli python3 "$TOOLS/probe.py" tcp ::1 8093 c

# Who may use an IPv6 binding: allow lists of IPv6 sources (bp_allow6).
check "a restricted server" bp run -d --name guarded --net six -p 7100:80 -- python3 "$TOOLS/echo.py" --ipv6 --tcp 80
wait_ready guarded
check_output "port allow with an IPv6 CIDR" 'allowed from 2001:db8:1::/64' bp port allow guarded 7100 2001:db8:1::/64
check_output "port shows each family's sources" \
    '^80/tcp -> 0\.0\.0\.0:7100 \(allowed from no source\) 80/tcp -> \[::\]:7100 \(allowed from 2001:db8:1::/64\) $' \
    lines bp port guarded
before=$(drops not_allowed)
check_fails "an IPv6 source outside it is dropped" 1 'timed out' ext_probe tcp fd00:5100::1 7100 x
[ "$(drops not_allowed)" -gt "$before" ] && pass "... counted as not_allowed" || fail "no not_allowed drop counted"
check_fails "an IPv4 source too: the list names none of its family" 1 'timed out' ext_probe tcp 198.51.100.1 7100 x
check "allow the external client's IPv6 address" bp port allow guarded 7100 fd00:5100::2
check_output "then it gets through" '^80 fd00:5100::2 ok$' ext_probe tcp fd00:5100::1 7100 ok
agent_stop; agent_start || { fail "agent restarts"; return; }
check_output "... also after an agent restart" '^80 fd00:5100::2 again$' ext_probe tcp fd00:5100::1 7100 again
check "stop the restricted server" bp stop -t 1 guarded
check "start it again" bp start guarded
sleep 1
check_fails "... its port is still closed to IPv4 sources at once" 1 'timed out' ext_probe tcp 198.51.100.1 7100 x
check_output "... and open to its allowed one" '^80 fd00:5100::2 back$' ext_probe tcp fd00:5100::1 7100 back
check_output "--clear opens it again" 'open to all' bp port allow --clear guarded 7100
check "a server on an IPv4-only network" bp run -d --name plain -p 7200:80 -- python3 "$TOOLS/echo.py" --tcp 80
check_output "... published on IPv4 only" '^80/tcp -> 0\.0\.0\.0:7200 $' lines bp port plain
check_fails "an IPv6 CIDR for its IPv4-only port is refused" 1 'published on IPv4 only, not on IPv6' \
    bp port allow plain 7200 2001:db8:1::/64

# Bad input: Docker's messages and codes, nothing made, no port held.
check "an IPv4-only network" bp network create --subnet 10.238.9.0/24 v4only
check_fails "an IPv6 host address on an IPv4-only network" 125 'cannot publish 80/tcp on ::1: the container has no IPv6 address' \
    bp run -d --name bad --net v4only -p '[::1]:8094:80'
check_fails "a bad address in brackets" 125 'invalid IP address: 2001:db8::zz' \
    bp run -d --name bad --net six -p '[2001:db8::zz]:8094:80'
check_fails "an unclosed bracket" 125 "invalid IP address \[::1: address \[::1:: missing '\]' in address" \
    bp run -d --name bad --net six -p '[::1:8094:80'
check_output "nothing half-made: no container bad" '^$' bash -c "'$BIN' ps -a | grep -w bad"
check "... and no port held: a host process binds [::1]:8094" bind_in_host tcp 8094 ::1

check "rm" bp rm -f srv only6 one6 lo6 cli guarded plain
check "the ports go with them: a host process binds [::]:8080" bind_in_host tcp 8080 ::
check_output "... and their series" '^$' series_of :: 8080
check "network rm" bp network rm six other v4only
