# Containers reaching out: masquerade in BPF (TCP, UDP, ICMP echo) to the external
# client's namespace, which has no route back to container subnets.
agent_start || { fail "agent starts"; return; }
in_ext python3 "$TOOLS/echo.py" --tcp 9000 --udp 9001 >"$STATE/ext-echo.log" 2>&1 &
wait_ready "$STATE/ext-echo.log"

check "networks" bash -c "'$BIN' network create --subnet 10.60.0.0/24 out >/dev/null &&
    '$BIN' network create --subnet 10.61.0.0/24 -o com.docker.network.bridge.enable_ip_masquerade=false nomasq >/dev/null"
check "run" bash -c "'$BIN' run -d --name o1 --net out >/dev/null && '$BIN' run -d --name o2 --net nomasq >/dev/null && '$BIN' run -d --name o3 >/dev/null"
check_output "TCP out, seen from outside as the host's uplink address" '^9000 198\.51\.100\.1 t$' bp exec o1 python3 "$TOOLS/probe.py" tcp 198.51.100.2 9000 t
check_output "UDP out, the answer comes back" '^9001 198\.51\.100\.1 u$' bp exec o1 python3 "$TOOLS/probe.py" udp 198.51.100.2 9001 u
check "ping out" bp exec o1 ping -c 2 -W 2 198.51.100.2
check_output "the default bridge masquerades too" '^9000 198\.51\.100\.1 d$' bp exec o3 python3 "$TOOLS/probe.py" tcp 198.51.100.2 9000 d
check_output "many flows in a row" '^30$' answered 30 '^9000 198.51.100.1 m$' bp exec o1 python3 "$TOOLS/probe.py" tcp 198.51.100.2 9000 m
check_fails "enable_ip_masquerade=false: no translation, and no way back" 1 'timed out' bp exec o2 python3 "$TOOLS/probe.py" tcp 198.51.100.2 9000 n
check "the flows are tracked (TCP, UDP, ICMP echo)" bash -c "'$BIN' flows --container o1 | grep -q '^tcp.* 198.51.100.2:9000 -> 198.51.100.1:' &&
    '$BIN' flows --container o1 | grep -q '^udp .* 198.51.100.2:9001 -> 198.51.100.1:' && '$BIN' flows --container o1 | grep -q '^icmp '"
check "rm -f" bp rm -f o1 o2 o3
