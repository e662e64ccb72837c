# Link events the kernel dropped: the agent catches up as if it had read them. Stopped
# (SIGSTOP) while a burst of link events fills its netlink socket's buffer, it misses what
# comes next: a container's veth deleted, an uplink moved in, an address added to the
# uplink. Continued, its read fails with ENOBUFS, and it finds all three out.
agent_start || { fail "agent starts"; return; }
NEW=$TAG-new
entries() { bpftool map dump pinned "$STATE/bpf/maps/bp_endpoints" | grep -c "\"key\": $1,"; }
wait_for() {  # wait_for EXPECTED command...: the command's output becomes EXPECTED within 3 s
    local want=$1; shift
    for _ in $(seq 1 60); do [ "$("$@")" = "$want" ] && return 0; sleep 0.05; done
    echo "still $("$@"), not $want"; return 1
}
# host_index CONTAINER: the ifindex of its veth's host side (eth0@ifN in the container).
host_index() { bp exec "$1" ip -o link show eth0 | sed -n 's/.*eth0@if\([0-9]*\).*/\1/p'; }

check "a network, a victim and a server publishing 5360/udp" bash -c "
    '$BIN' network create --subnet 10.64.0.0/24 lost >/dev/null && '$BIN' run -d --name victim --net lost >/dev/null &&
    '$BIN' run -d --name server --net lost -p 5360:53/udp -- python3 '$TOOLS/echo.py' --udp 53 >/dev/null"
wait_ready server
victim_index=$(host_index victim)
server_index=$(host_index server)
victim_veth=$(in_host ip -o link show | awk -F': ' -v i="$victim_index" '$1 == i { sub(/@.*/, "", $2); print $2 }')
check "the victim's veth is found" test -n "$victim_veth"
check_output "the victim's veth has its bp_endpoints entry" '^1$' entries "$victim_index"
check_fails "198.51.100.9 is not the host's yet: no answer there" 1 'timed out|refused' ext_probe udp 198.51.100.9 5360 hi

check "the agent is stopped" kill -STOP "$AGENT_PID"
check "a burst of link events overflows its socket's buffer" in_host ip -batch <(
    for i in $(seq 1 2000); do echo "link set dev $TAG-up alias burst$i"; done)
check "meanwhile the victim's veth is deleted" in_host ip link del "$victim_veth"
netns_add "$LAN_NS"
# Without IPv6 on it: its link-local address, once through DAD, would be announced after the
# agent continued, and have it read the host's addresses all the same.
in_host sysctl -qw net.ipv6.conf.default.disable_ipv6=1
check "an uplink moved in from a LAN" lan_uplink "$NEW" 10.64.0.0/24
check "198.51.100.9 added to the uplink" in_host ip addr add 198.51.100.9/24 dev "$TAG-up"
check "the agent continues" kill -CONT "$AGENT_PID"

check_output "it says events were lost, and what it repaired" \
    "interface $victim_veth of container victim is gone.*new uplink $NEW equipped.*netlink events were lost" \
    eventually 5 grep 'netlink events were lost' "$AGENT_LOG"
check "the victim's bp_endpoints entry goes, and its counters' slot with it" wait_for 0 entries "$victim_index"
check_output "the server's stays" '^1$' entries "$server_index"
check_output "the published port answers on the new uplink" '^53 198\.18\.7\.2 crafted$' \
    eventually 3 in_lan python3 "$TOOLS/craft.py" udp 198.18.7.1 5360
check_output "and at the uplink's new address" '^53 198\.51\.100\.2 hi$' ext_probe udp 198.51.100.9 5360 hi
check_output "the victim runs on without its interface" ' victim$' bp ps
