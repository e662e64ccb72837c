#!/usr/bin/env bash
# Overlay against routing: container-to-container transactions/s (1-byte request/response)
# and iperf3 throughput between two hosts, on an overlay network (VXLAN) and on the same
# hosts routed without VXLAN (a routed bridge network per host, a route across the
# underlay); then how long a new container's address takes to answer from every other
# host. Three simulated hosts and etcd, as in Tests/system/tests/overlay.sh. Clients and
# servers are pinned as in paths.sh (lib.sh's CLIENT_CPU, SERVER_CPU).
# Usage: overlay.sh BRIDGEPORT LOADGEN  (prints a markdown section)
set -u
export BIN=$(readlink -f "$1")
LOADGEN=$(readlink -f "$2")
cd "$(dirname "$0")"
TAG=bpov
METRICS_PORT=19479
source ../Tests/system/lib.sh
trap sandbox_down EXIT
REPS=${REPS:-7}
SECONDS_PER_RUN=${SECONDS_PER_RUN:-4}
PROBES=${PROBES:-10}
mkdir -p "$CGROUP"
cluster_up 3 || exit 1
for n in 1 2 3; do start_host $n || exit 1; done

routed=com.docker.network.bridge.gateway_mode_ipv4=routed
on 1 network create -d overlay --subnet 10.88.0.0/24 ov >/dev/null || exit 1
on 1 network create --subnet 172.30.1.0/24 -o $routed r1 >/dev/null || exit 1
on 2 network create --subnet 172.30.2.0/24 -o $routed r2 >/dev/null || exit 1
in_h 1 ip route add 172.30.2.0/24 via 198.19.2.2
in_h 2 ip route add 172.30.1.0/24 via 198.19.2.1
for n in 2 3; do eventually 5 sh -c "BRIDGEPORT_SOCKET=$STATE/h$n/agent.sock '$BIN' network ls | grep -q ' ov '" >/dev/null || exit 1; done

servers="taskset -c $SERVER_CPU $LOADGEN serve 80 & exec taskset -c $SERVER_CPU iperf3 -s -p 5201"
on 2 run -d --name srv-ov --net ov --ip 10.88.0.10 sh -c "$servers" >/dev/null || exit 1
# Published: in gateway mode routed only published container ports are reached directly.
on 2 run -d --name srv-r --net r2 --ip 172.30.2.10 -p 80 -p 5201 sh -c "$servers" >/dev/null || exit 1
on 1 run -d --name cli-ov --net ov >/dev/null || exit 1
on 1 run -d --name cli-r --net r1 >/dev/null || exit 1
on 3 run -d --name cli-3 --net ov >/dev/null || exit 1
for pair in "cli-ov 10.88.0.10" "cli-r 172.30.2.10"; do
    set -- $pair
    eventually 5 on 1 exec "$1" "$LOADGEN" rr "$2" 80 1 >/dev/null || { echo "no path $1 -> $2" >&2; exit 1; }
done

measure() {  # measure rr|tput CLIENT SERVER_IP: one number
    case $1 in
        rr) on 1 exec "$2" taskset -c "$CLIENT_CPU" "$LOADGEN" rr "$3" 80 "$SECONDS_PER_RUN" | awk '$1 == "transactions_per_second" { print $2 }' ;;
        tput) on 1 exec "$2" taskset -c "$CLIENT_CPU" iperf3 -c "$3" -p 5201 -t "$SECONDS_PER_RUN" -J |
                  python3 -c 'import json,sys; print(json.load(sys.stdin)["end"]["sum_received"]["bits_per_second"] / 1e9)' ;;
    esac
}

# Interleaved, and each round's ratio taken: this VM's speed can halve and come back
# between rounds, which a ratio of medians over rounds would mix up.
for metric in rr tput; do
    for _ in $(seq 1 "$REPS"); do
        routed=$(measure $metric cli-r 172.30.2.10) overlay=$(measure $metric cli-ov 10.88.0.10)
        echo "$routed" >>"$STATE/$metric-routed"
        echo "$overlay" >>"$STATE/$metric-overlay"
        ratio "$overlay" "$routed" >>"$STATE/$metric-ratio"
    done
done

# Reachability: from `run -d` on host 2 until containers on hosts 1 and 3 get an answer.
for i in $(seq 1 "$PROBES"); do
    ip=10.88.0.$((100 + i))
    start=$(date +%s%N)
    on 2 run -d --name probe$i --net ov --ip $ip >/dev/null || exit 1
    on 1 exec cli-ov sh -c "until ping -c 1 -W 0.05 $ip >/dev/null 2>&1; do :; done" &
    first=$!
    on 3 exec cli-3 sh -c "until ping -c 1 -W 0.05 $ip >/dev/null 2>&1; do :; done"
    wait $first
    echo "$(( ($(date +%s%N) - start) / 1000000 ))" >>"$STATE/reach-ms"
done

rr_routed=$(median <"$STATE/rr-routed"); rr_overlay=$(median <"$STATE/rr-overlay")
tput_routed=$(median <"$STATE/tput-routed"); tput_overlay=$(median <"$STATE/tput-overlay")
rr_ratio=$(median <"$STATE/rr-ratio"); tput_ratio=$(median <"$STATE/tput-ratio")
echo "| path, container to container across two hosts | transactions/s | throughput |"
echo "| --- | --- | --- |"
printf '| routed (no VXLAN) | %.0f (1.00) | %.2f Gbit/s (1.00) |\n' "$rr_routed" "$tput_routed"
printf '| overlay (VXLAN, MTU 1450) | %.0f (%.2f) | %.2f Gbit/s (%.2f) |\n' "$rr_overlay" "$rr_ratio" "$tput_overlay" "$tput_ratio"
echo
echo "Medians of $REPS rounds; a ratio is the median of the rounds' ratios (each round measures both paths in turn)."
echo
printf 'A new container answered pings from both other hosts %.0f ms (median of %d, max %d ms) after `run -d` was called on its host;\n' \
    "$(median <"$STATE/reach-ms")" "$(wc -l <"$STATE/reach-ms")" "$(sort -n "$STATE/reach-ms" | tail -1)"
echo "that includes the CLI calls (about 20 ms each) and a 50 ms ping timeout per miss."
echo "overlay_rr_ratio $rr_ratio" >>"${FIGURES:-/dev/null}"
echo "overlay_tput_ratio $tput_ratio" >>"${FIGURES:-/dev/null}"
