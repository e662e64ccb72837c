# Changes made behind the agent's back: a container's veth deleted with `ip link del`
# (seen through netlink: its map entries and metric series go at once), its process
# killed (ps shows it exited), and the next start of the agent repairing the veth.
agent_start || { fail "agent starts"; return; }
entries() { bpftool map dump pinned "$STATE/bpf/maps/$1" 2>/dev/null | grep -c '"key"'; }
series() { samples bridgeport_container_network_receive_packets_total container="$1" | grep -c .; }
wait_for() {  # wait_for EXPECTED command...: the command's output becomes EXPECTED within 3 s
    local want=$1; shift
    for _ in $(seq 1 60); do [ "$("$@")" = "$want" ] && return 0; sleep 0.05; done
    echo "still $("$@"), not $want"; return 1
}

check "a network and two containers" bash -c "'$BIN' network create --subnet 10.63.0.0/24 ext >/dev/null &&
    '$BIN' run -d --name victim --net ext >/dev/null && '$BIN' run -d --name bystander --net ext >/dev/null"
check "traffic, so both have counters" bp exec victim ping -c 2 -W 1 bystander
check_output "the victim has a metric series" '^1$' series victim
# eth0@ifN in the container: N is the host side's ifindex (nsenter keeps the root's /sys).
victim_index=$(bp exec victim ip -o link show eth0 | sed -n 's/.*eth0@if\([0-9]*\).*/\1/p')
victim_veth=$(in_host ip -o link show | awk -F': ' -v i="$victim_index" '$1 == i { sub(/@.*/, "", $2); print $2 }')
check "the victim's veth is found" test -n "$victim_veth"
endpoint_entries() { bpftool map dump pinned "$STATE/bpf/maps/bp_endpoints" | grep -c "\"key\": $victim_index,"; }
check_output "the victim's veth has its bp_endpoints entry" '^1$' endpoint_entries
check "ip link del of the victim's veth, behind the agent's back" in_host ip link del "$victim_veth"
check "its bp_endpoints entry goes at once (netlink), and its counters' slot with it" wait_for 0 endpoint_entries
check_output "its metric series ended" '^0$' series victim
check_output "the bystander's series stays" '^1$' series bystander
check_output "the agent says what happened" "interface was deleted outside Bridgeport.*$victim_veth|$victim_veth.*interface was deleted outside Bridgeport" cat "$AGENT_LOG"

pid=$(bp inspect -f '{{.State.Pid}}' bystander)
check "the bystander's process is killed by PID" kill -KILL "$pid"
check "ps no longer lists it as running" wait_for "" bash -c "'$BIN' ps | awk 'NR > 1 && \$NF == \"bystander\"'"
check_output "ps -a shows it exited" 'Exited \(137\).* bystander$' bp ps -a

agent_stop; agent_start || { fail "agent restarts"; return; }
check_output "the next start recreates the victim's interface" "recreated interface eth0 of container victim" cat "$AGENT_LOG"
check "and the victim is reachable again" bp exec victim ping -c 1 -W 1 10.63.0.1
