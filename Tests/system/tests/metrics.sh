# The metrics endpoint: exact counters, published-port counters, formats.
agent_start || { fail "agent starts"; return; }
# value SERIES_REGEX: the sample's value, 0 when absent.
value() { metrics | grep -E "^$1 " | awk '{ print $2 }' | head -1 | grep . || echo 0; }

check "network" bp network create --subnet 10.70.0.0/24 m
check "server" bp run -d --name srv --net m -p 5353:53/udp -p 5000:80 -- python3 "$TOOLS/echo.py" --udp 53 --tcp 80
wait_ready srv
veth=$(in_host ip -br link | awk '/^veth/ {sub(/@.*/, "", $1); print $1; exit}')
pid=$(bp inspect -f '{{.State.Pid}}' srv)

# Quiet the link so the counters can be checked exactly: static neighbours, no IPv6.
nsenter -t "$pid" -n sysctl -qw net.ipv6.conf.all.disable_ipv6=1
# The agent turns it off on the host side of an IPv4-only network's veth (the host's default
# would give it a link-local address, and its solicitations would go into the container).
check_output "no IPv6 on the veth's host side (the host's default: on)" '^0 1$' \
    in_host sh -c "cat /proc/sys/net/ipv6/conf/default/disable_ipv6 /proc/sys/net/ipv6/conf/$veth/disable_ipv6 | paste -sd' '"
bridge=$(in_host ip -br link | awk '/^br-/ {print $1; exit}')
gwmac=$(in_host ip -br link show "$bridge" | awk '{print $3}')
nsenter -t "$pid" -n ip neigh replace 10.70.0.1 lladdr "$gwmac" dev eth0 nud permanent
in_host ip neigh replace 10.70.0.2 lladdr 02:42:0a:46:00:02 dev "$bridge" nud permanent
in_ext ping -c 1 -W 1 198.51.100.1 >/dev/null  # the external client's ARP for the host, before counting
sleep 3  # the bridge's own start-up reports (IGMP) are over after its first seconds

labels="container=\"srv\",network=\"m\",interface=\"$veth\""
check_output "receive counter present with container, network and interface labels" "bridgeport_container_network_receive_packets_total\{$labels\}" metrics
# counters: the server's receive packets, receive bytes, transmit packets and transmit bytes.
counters() { for c in receive_packets receive_bytes transmit_packets transmit_bytes; do value "bridgeport_container_network_${c}_total\{$labels\}"; done; }
read -r rx0 rxb0 tx0 txb0 <<<"$(counters | tr '\n' ' ')"
result=$(in_ext python3 "$TOOLS/udpcount.py" 198.51.100.1 5353 100 200)
check_output "100 datagrams answered" '^100 ' echo "$result"
read -r rx1 rxb1 tx1 txb1 <<<"$(counters | tr '\n' ' ')"
# Each request is 14 (Ethernet) + 20 (IPv4) + 8 (UDP) + 200 bytes; each answer carries "53 198.51.100.2 " more.
[ $((rx1 - rx0)) = 100 ] && pass "receive packets moved by exactly 100" || fail "receive packets moved by $((rx1 - rx0))"
[ $((rxb1 - rxb0)) = $((100 * 242)) ] && pass "receive bytes moved by exactly 24200" || fail "receive bytes moved by $((rxb1 - rxb0))"
[ $((tx1 - tx0)) = 100 ] && pass "transmit packets moved by exactly 100" || fail "transmit packets moved by $((tx1 - tx0))"
[ $((txb1 - txb0)) = $((100 * 258)) ] && pass "transmit bytes moved by exactly 25800" || fail "transmit bytes moved by $((txb1 - txb0))"
port="protocol=\"udp\",host_ip=\"0.0.0.0\",host_port=\"5353\",container=\"srv\",container_port=\"53\""
[ "$(value "bridgeport_published_port_packets_total\{$port\}")" = 100 ] && pass "published port: 100 packets" || fail "published port packets: $(value "bridgeport_published_port_packets_total\{$port\}")"
[ "$(value "bridgeport_published_port_bytes_total\{$port\}")" = 24200 ] && pass "published port: 24200 bytes" || fail "published port bytes"
[ "$(value "bridgeport_published_port_flows_total\{$port\}")" = 1 ] && pass "published port: one flow" || fail "published port flows: $(value "bridgeport_published_port_flows_total\{$port\}")"
for i in 1 2 3 4 5; do ext_probe tcp 198.51.100.1 5000 x >/dev/null; done
tport="protocol=\"tcp\",host_ip=\"0.0.0.0\",host_port=\"5000\",container=\"srv\",container_port=\"80\""
[ "$(value "bridgeport_published_port_flows_total\{$tport\}")" = 5 ] && pass "five TCP connections, five flows" || fail "tcp flows: $(value "bridgeport_published_port_flows_total\{$tport\}")"

check_output "stats --no-stream lists the container" 'srv +[0-9.]+[kMG]?B / ' bp stats --no-stream
check_output "stats --format json" '"Name":"srv".*"ReceivePackets":[1-9]' bp stats --no-stream --format json srv

# A real Prometheus server scrapes the agent; PromQL sees the traffic.
if command -v prometheus >/dev/null; then
    cat >"$STATE/prometheus.yml" <<YML
global: { scrape_interval: 1s }
scrape_configs:
  - job_name: bridgeport
    static_configs: [ { targets: ["127.0.0.1:$METRICS_PORT"] } ]
YML
    in_host prometheus --config.file="$STATE/prometheus.yml" --storage.tsdb.path="$STATE/prometheus" \
        --web.listen-address=127.0.0.1:$((METRICS_PORT + 1)) >"$STATE/prometheus.log" 2>&1 &
    for i in $(seq 1 8); do in_ext python3 "$TOOLS/udpcount.py" 198.51.100.1 5353 20 500 >/dev/null; sleep 1; done
    query='rate(bridgeport_container_network_receive_bytes_total{container="srv"}[5s])'
    check_output "PromQL rate of the container's receive bytes is above zero" '"value":\[[0-9.]+,"[1-9][0-9.e+]*"\]' \
        in_host curl -s "http://127.0.0.1:$((METRICS_PORT + 1))/api/v1/query" --data-urlencode "query=$query"
fi

check_output "HELP and TYPE on every family" '^# TYPE bridgeport_container_network_drops_total counter$' metrics
# The kernel's run-time statistics cost every BPF program on the host: off unless asked for.
program_lines() { metrics | grep -c '^# HELP bridgeport_bpf_program_\|^bridgeport_bpf_program_'; }
check_output "no program statistics without --bpf-stats (not even HELP and TYPE)" '^0$' program_lines
check_output "OpenMetrics when asked" '^# EOF$' metrics /metrics 'application/openmetrics-text; version=1.0.0'
check_output "OpenMetrics counter family names drop _total" '^# TYPE bridgeport_container_network_receive_bytes counter$' metrics /metrics 'application/openmetrics-text'
in_host curl -s -D "$STATE/gzip.headers" -o "$STATE/metrics.gz" -H 'Accept-Encoding: gzip' http://127.0.0.1:$METRICS_PORT/metrics
check_output "gzip when asked (Content-Encoding)" '^content-encoding: gzip$' bash -c "tr -d '\r' <'$STATE/gzip.headers' | tr A-Z a-z"
check "... one whole gzip member, nothing after it (gzip -t)" gzip -t "$STATE/metrics.gz"
check_output "... holding the text" '^# HELP bridgeport_' bash -c "gunzip -c '$STATE/metrics.gz' | head -1"
check_output "/healthz" '^ok$' metrics /healthz
check_output "/ links to /metrics" 'href="/metrics"' metrics /
if command -v promtool >/dev/null; then
    check_output "promtool check metrics finds nothing" '^$' bash -c "nsenter --net=/run/netns/$HOST_NS curl -s http://127.0.0.1:$METRICS_PORT/metrics | promtool check metrics 2>&1"
fi
# Counters survive a restart (pinned maps); a removed container's series disappear.
agent_stop; agent_start --bpf-stats || { fail "agent restarts (with --bpf-stats)"; return; }
[ "$(value "bridgeport_container_network_receive_packets_total\{$labels\}")" -ge "$rx1" ] && pass "counters do not go back across a restart" || fail "counter went back after restart"
in_ext python3 "$TOOLS/udpcount.py" 198.51.100.1 5353 3 10 >/dev/null  # through both programs
# --attach auto: cls_bpf on container veths, tcx links on uplinks.
check_output "--bpf-stats: program statistics (container veth: tc)" 'bridgeport_bpf_program_runs_total\{program="bp_ep_ingress",attach_mode="tc"\} [1-9]' metrics
check_output "... (uplink: tcx)" 'bridgeport_bpf_program_run_seconds_total\{program="bp_up_ingress",attach_mode="tcx"\} [0-9.e-]*[1-9]' metrics
check "rm -f srv" bp rm -f srv
check_output "its series are gone" '^$' samples '.*' container=srv
