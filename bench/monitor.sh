#!/usr/bin/env bash
# bridgeport monitor under drop floods: a container sends UDP to another network's
# container (each datagram an isolation drop) while one `bridgeport monitor --format json`
# reads every drop event.
#   1. --monitor-rate 0 (no limit): paced floods of 10,000 to 80,000 drops/s, 3 s each:
#      which rate one monitor keeps up with (it is let go once 4096 events wait for it),
#      and the CPU the agent and the monitor spend.
#   2. the default --monitor-rate: loadgen as fast as it sends, SECONDS_PER_RUN seconds:
#      the events lost, and the API's latency (50 × ps) meanwhile.
# Usage: monitor.sh BRIDGEPORT LOADGEN (prints markdown; "monitor_*" figures go to $FIGURES)
set -u
export BIN=$(readlink -f "$1")
LOADGEN=$(readlink -f "$2")
cd "$(dirname "$0")"
TAG=bpmon
METRICS_PORT=19481
source ../Tests/system/lib.sh

SECONDS_PER_RUN=${SECONDS_PER_RUN:-5}
PACED_RATES=${PACED_RATES:-10000 20000 40000 80000}
trap sandbox_down EXIT
sandbox_up || exit 1

figure() { echo "$1 $2" >>"${FIGURES:-/dev/null}"; }
drops_now() { local n; n=$(metric bridgeport_container_network_drops_total reason=isolation); echo "${n:-0}"; }
lost_now() { local n; n=$(metric bridgeport_monitor_events_lost_total type=drop); echo "${n:-0}"; }
thousands() { python3 -c 'import sys; print(f"{int(float(sys.argv[1])):,}")' "$1"; }
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat" 2>/dev/null || echo 0; }  # utime + stime
percent() { awk -v t="$1" -v s="$2" -v hz="$(getconf CLK_TCK)" 'BEGIN { printf "%.0f", 100 * t / hz / s }'; }
# settle FILE: until FILE's line count stops moving.
settle() { local before=-1; while [ "$(wc -l <"$1")" != "$before" ]; do before=$(wc -l <"$1"); sleep 0.5; done; }

# setup [AGENT_ARGS...]: an agent, f1 (network a) and b1 (network b); sets B1.
setup() {
    agent_start "$@" >&2 || exit 1
    bp network create --subnet 10.81.0.0/24 a >/dev/null && bp network create --subnet 10.82.0.0/24 b >/dev/null &&
        bp run -d --name f1 --net a >/dev/null && bp run -d --name b1 --net b >/dev/null || exit 1
    B1=$(ip_of b1)
    bp exec f1 ping -c 1 -W 1 10.81.0.1 >/dev/null || exit 1  # no datagram waits for ARP
}
teardown() { bp rm -f f1 b1 >/dev/null; bp network rm a b >/dev/null; agent_stop; }

# 1. What one monitor keeps up with.
setup --monitor-rate 0
echo "| drops/s offered (--monitor-rate 0) | events the monitor got | of the drops | monitor still connected | agent CPU % | monitor CPU % |"
echo "| --- | --- | --- | --- | --- | --- |"
kept_up=0
for rate in $PACED_RATES; do
    MONITOR_PIDS=()
    monitor_start "paced$rate" --type drop
    monitor=${MONITOR_PIDS[0]}
    drops0=$(drops_now); agent0=$(cpu_ticks "$AGENT_PID"); monitor0=$(cpu_ticks "$monitor")
    start=$(date +%s%N)
    bp exec f1 python3 -c 'import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
destination, rate, seconds = (sys.argv[1], 9999), int(sys.argv[2]), 3
start, sent = time.monotonic(), 0
while (elapsed := time.monotonic() - start) < seconds:
    while sent < elapsed * rate:
        s.sendto(b"paced", destination)
        sent += 1
    time.sleep(0.001)' "$B1" "$rate" || exit 1
    settle "$STATE/paced$rate.events"
    seconds=$(awk -v s="$start" -v e="$(date +%s%N)" 'BEGIN { print (e - s) / 1e9 }')
    drops=$(($(drops_now) - drops0)); got=$(wc -l <"$STATE/paced$rate.events")
    connected=yes
    kill -0 "$monitor" 2>/dev/null || connected=no
    monitor_cpu=$(cpu_ticks "$monitor")
    [ "$connected" = yes ] && monitor_cpu=$(percent $((monitor_cpu - monitor0)) "$seconds") || monitor_cpu=-
    [ "$connected" = yes ] && [ "$got" -eq "$drops" ] && kept_up=$rate
    echo "| $(thousands "$rate") | $(thousands "$got") | $(thousands "$drops") | $connected | $(percent $(($(cpu_ticks "$AGENT_PID") - agent0)) "$seconds") | $monitor_cpu |"
    kill "$monitor" 2>/dev/null
    eventually 5 test "$(metric bridgeport_monitors)" = 0 >/dev/null
done
figure monitor_0_events_per_second "$kept_up"
teardown
echo
echo "Each flood: Python in the container sends the offered rate for 3 s (paced by the millisecond); CPU % is over the flood and its settling, 100 = one core."
echo "One monitor kept up with $(thousands "$kept_up") drop events/s (every drop reached it)."
echo

# 2. Lost events and the API under a full flood, at the default rate.
DEFAULT_RATE=$(bp daemon --help | grep -A6 -- --monitor-rate | grep -o 'default: [0-9]*' | head -1 | cut -d' ' -f2)
setup
MONITOR_PIDS=()
monitor_start flood --type drop
monitor=${MONITOR_PIDS[0]}
drops0=$(drops_now); lost0=$(lost_now)
bp exec f1 "$LOADGEN" udp "$B1" 9999 "$SECONDS_PER_RUN" --flows 64 >"$STATE/loadgen.out" 2>&1 &
flood=$!
sleep 1
: >"$STATE/api.ms"
for _ in $(seq 1 50); do
    start=$(date +%s%N)
    bp ps >/dev/null || exit 1
    echo $((($(date +%s%N) - start) / 1000000)) >>"$STATE/api.ms"
done
wait "$flood" || { cat "$STATE/loadgen.out" >&2; exit 1; }
settle "$STATE/flood.events"
drops=$(($(drops_now) - drops0)); lost=$(($(lost_now) - lost0)); got=$(wc -l <"$STATE/flood.events")
connected=yes
kill -0 "$monitor" 2>/dev/null || connected=no
kill "$monitor" 2>/dev/null
p50=$(percentile 50 <"$STATE/api.ms"); p99=$(percentile 99 <"$STATE/api.ms")
figure monitor_default_lost "$lost"
figure monitor_default_api_p99 "$p99"
echo "| --monitor-rate (default) | drops/s | events the monitor got | events lost | lost % | got + lost = drops | monitor still connected | API p50 ms | API p99 ms |"
echo "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"
echo "| ${DEFAULT_RATE:-?} | $(thousands $((drops / SECONDS_PER_RUN))) | $(thousands "$got") | $(thousands "$lost") | $(awk -v l="$lost" -v d="$drops" 'BEGIN { printf "%.1f", d ? 100 * l / d : 0 }') | $([ $((got + lost)) -eq "$drops" ] && echo yes || echo "**no**") | $connected | $p50 | $p99 |"
teardown
echo
echo "loadgen udp (64 flows, 18-byte payloads) from the container for ${SECONDS_PER_RUN} s, as fast as it sends; the API's latency is 50 × \`bridgeport ps\` during the flood. Lost events are bridgeport_monitor_events_lost_total{type=\"drop\"}: over the rate (per CPU and second), or the ring full."
