#!/usr/bin/env bash
# bridgeport monitor under a drop flood: a container sends small UDP datagrams to another
# network's container as fast as loadgen can (each one an isolation drop), SECONDS_PER_RUN
# seconds, while one `bridgeport monitor --format json` reads every drop event. Once with
# the agent's --monitor-rate 0 (no limit: what one monitor is handed, and what the ring
# loses), once with the default rate; the API's latency (50 × ps) during each flood.
# Usage: monitor.sh BRIDGEPORT LOADGEN (prints a markdown table; "monitor_*" figures go to $FIGURES)
set -u
export BIN=$(readlink -f "$1")
LOADGEN=$(readlink -f "$2")
cd "$(dirname "$0")"
TAG=bpmon
METRICS_PORT=19481
source ../Tests/system/lib.sh

SECONDS_PER_RUN=${SECONDS_PER_RUN:-5}
trap sandbox_down EXIT
sandbox_up || exit 1

drops_now() { local n; n=$(metric bridgeport_container_network_drops_total reason=isolation); echo "${n:-0}"; }
read_now() { local n; n=$(metric bridgeport_monitor_events_total type=drop); echo "${n:-0}"; }
lost_now() { local n; n=$(metric bridgeport_monitor_events_lost_total type=drop); echo "${n:-0}"; }
thousands() { python3 -c 'import sys; print(f"{int(float(sys.argv[1])):,}")' "$1"; }

# run LABEL RATE: one flood against an agent with --monitor-rate RATE; prints the row.
run() {
    local label=$1 rate=$2
    agent_start --monitor-rate "$rate" >&2 || exit 1
    bp network create --subnet 10.81.0.0/24 a >/dev/null && bp network create --subnet 10.82.0.0/24 b >/dev/null &&
        bp run -d --name f1 --net a >/dev/null && bp run -d --name b1 --net b >/dev/null || exit 1
    local b1; b1=$(ip_of b1)
    bp exec f1 ping -c 1 -W 1 10.81.0.1 >/dev/null || exit 1
    MONITOR_PIDS=()
    monitor_start flood --type drop
    local monitor=${MONITOR_PIDS[0]}
    sleep 0.5
    local drops0 lost0 read0; drops0=$(drops_now); lost0=$(lost_now); read0=$(read_now)
    # The monitor's count every 0.1 s while it runs ("ns lines"): its rate while events came.
    while kill -0 "$monitor" 2>/dev/null; do echo "$(date +%s%N) $(wc -l <"$STATE/flood.events")"; sleep 0.1; done >"$STATE/samples" &
    local sampler=$!
    bp exec f1 "$LOADGEN" udp "$b1" 9999 "$SECONDS_PER_RUN" --flows 64 >"$STATE/loadgen.out" 2>&1 &
    local flood=$!
    sleep 1
    : >"$STATE/api.ms"
    local _ start
    for _ in $(seq 1 50); do
        start=$(date +%s%N)
        bp ps >/dev/null || exit 1
        echo $((($(date +%s%N) - start) / 1000000)) >>"$STATE/api.ms"
    done
    wait "$flood" || { cat "$STATE/loadgen.out" >&2; exit 1; }
    # Settled: the monitor's count no longer moves (or it was let go).
    local before=-1
    while [ "$(wc -l <"$STATE/flood.events")" != "$before" ]; do before=$(wc -l <"$STATE/flood.events"); sleep 1; done
    local drops=$(($(drops_now) - drops0)) lost=$(($(lost_now) - lost0)) read=$(($(read_now) - read0)) seen
    seen=$(wc -l <"$STATE/flood.events")
    local connected=yes
    kill -0 "$monitor" 2>/dev/null || connected="no: $(tr '\n' ' ' <"$STATE/flood.err" | cut -c1-80)"
    kill "$monitor" 2>/dev/null; wait "$sampler"
    # From the first sample with events to the last that had more: events/s while they came.
    local delivered; delivered=$(awk '$2 > 0 && !t0 { t0 = $1; n0 = $2 } $2 > last { last = $2; t1 = $1 }
        END { if (t1 > t0) printf "%d", (last - n0) / ((t1 - t0) / 1e9); else print 0 }' "$STATE/samples")
    echo "monitor_${rate}_events_per_second $delivered" >>"${FIGURES:-/dev/null}"
    echo "monitor_${rate}_lost $lost" >>"${FIGURES:-/dev/null}"
    echo "monitor_${rate}_api_p99 $(percentile 99 <"$STATE/api.ms")" >>"${FIGURES:-/dev/null}"
    echo "| $label | $(thousands $((drops / SECONDS_PER_RUN))) | $(thousands $((read / SECONDS_PER_RUN))) | $(thousands "$delivered") | $(thousands "$seen") | $(thousands "$lost") ($(awk -v l="$lost" -v d="$drops" 'BEGIN { printf "%.1f", d ? 100 * l / d : 0 }') %) | $connected | $(percentile 50 <"$STATE/api.ms") | $(percentile 99 <"$STATE/api.ms") |"
    bp rm -f f1 b1 >/dev/null; bp network rm a b >/dev/null
    agent_stop
}

echo "| --monitor-rate | drops/s | events/s the agent read | events/s to the monitor | events the monitor got | events lost | monitor still connected | API p50 ms | API p99 ms |"
echo "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"
run "0 (no limit)" 0
run "1000 (default)" 1000
echo
echo "Each row: loadgen udp (64 flows, 18-byte payloads) from a container to another network's container for ${SECONDS_PER_RUN} s, every datagram an isolation drop, with one \`bridgeport monitor --format json\` attached; the API's latency is 50 × \`bridgeport ps\` during the flood. Drops/s and the agent's events/s are over the flood's seconds; events/s to the monitor is its rate while events came (its output counted every 0.1 s). Lost events are bridgeport_monitor_events_lost_total{type=\"drop\"}: over the rate, or the ring full. A monitor that reads more slowly than events come is let go once 4096 are queued for it."
