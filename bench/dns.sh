#!/usr/bin/env bash
# The embedded DNS server: queries/s answered (dnsperf at 127.0.0.11 in containers) for a
# container's name, which the agent answers itself, and for an external name, which it
# forwards to the upstream its resolv.conf names (Tests/system/tools/dns_stub.py on the
# host's lo), from one container and from 50 at once; the upstream alone for reference.
# First `run -d` at the API for the network's 200 containers (create-latency.sh stops at
# 100): no peer's file is rewritten any more, so the last ones should cost what the first do.
# Usage: dns.sh BRIDGEPORT (prints a markdown section)
set -u
export BIN=$(readlink -f "$1")
cd "$(dirname "$0")"
TAG=bpdns
METRICS_PORT=19481
source ../Tests/system/lib.sh
SECONDS_PER_RUN=${SECONDS_PER_RUN:-5}
COUNT=${COUNT:-200}
LOADERS=${LOADERS:-50}
# Clients on CPU 0, the agent on the last CPU, the upstream on CPU 1 when there is one free.
STUB_CPU=$(( $(nproc) > 2 ? 1 : 0 ))

echo "nameserver 127.0.0.53" >"$STATE/resolv.conf"
AGENT_ENTER="taskset -c $SERVER_CPU" bench_sandbox --resolv-conf "$STATE/resolv.conf" || exit 1
dns_stub "in_host taskset -c $STUB_CPU" 127.0.0.53 upstream || exit 1
bp network create --subnet 10.98.0.0/16 dnsbench >/dev/null || exit 1

for i in $(seq 1 "$COUNT"); do
    curl -s -o /dev/null --unix-socket "$BRIDGEPORT_SOCKET" -H 'Content-Type: application/json' \
        -d "{\"name\":\"d$i\",\"network\":\"dnsbench\",\"ports\":[],\"command\":[]}" \
        -w '%{time_total}\n' http://bridgeport/v1/containers | awk '{ printf "%.3f\n", $1 * 1000 }' >>"$STATE/api.ms"
done
[ "$(bp ps -q | wc -l)" = "$COUNT" ] || { echo "not all $COUNT containers run" >&2; exit 1; }

echo "d1 A" >"$STATE/local.dnsperf"
echo "upstream.test A" >"$STATE/external.dnsperf"
# Each sanity-checked: the agent answers what the measurement asks.
[ "$(bp exec d2 dig +short +tries=1 +time=2 d1)" = "$(ip_of d1)" ] || { echo "d2 does not resolve d1" >&2; exit 1; }
[ "$(bp exec d2 dig +short +tries=1 +time=2 upstream.test)" = 203.0.113.7 ] || { echo "d2 does not resolve upstream.test" >&2; exit 1; }

# agent_ticks: the CPU time the agent (all its threads) has used so far, in clock ticks.
agent_ticks() { awk '{ print $14 + $15 }' "/proc/$AGENT_PID/stat"; }
# dnsperf_in CONTAINERS QUERIES OUTSTANDING: dnsperf from each container at once (started
# together), at its 127.0.0.11; prints "queries/s lost% latency_ms agent_cpu%": the
# queries/s summed over them, the loss and latency their means.
dnsperf_in() {
    local containers=$1 queries=$2 outstanding=$3 c pids=()
    rm -f "$STATE/go" "$STATE"/perf-*.out
    for c in $containers; do
        bp exec "$c" sh -c "while [ ! -e '$STATE/go' ]; do sleep 0.01; done; exec taskset -c 0 dnsperf -s 127.0.0.11 \
            -d '$STATE/$queries.dnsperf' -l $SECONDS_PER_RUN -q $outstanding -c 1 -T 1" >"$STATE/perf-$c.out" 2>&1 &
        pids+=($!)
    done
    sleep 1
    local ticks start; ticks=$(agent_ticks); start=$(date +%s%N)
    touch "$STATE/go"
    wait "${pids[@]}"
    # The agent's share of one CPU meanwhile: whether the server was the bottleneck.
    local cpu; cpu=$(awk -v t=$(($(agent_ticks) - ticks)) -v ns=$(($(date +%s%N) - start)) -v hz="$(getconf CLK_TCK)" \
        'BEGIN { printf "%.0f", t / hz / (ns / 1e9) * 100 }')
    echo "$(summarize "$STATE"/perf-*.out) $cpu"
}
# summarize DNSPERF_OUTPUT...: "queries/s lost% latency_ms" of dnsperf runs (the sum, the means).
summarize() {
    awk '/Queries per second:/ { qps += $4; n++ } /Queries lost:/ { gsub(/[(%)]/, "", $4); lost += $4 }
        /Average Latency/ { latency += $4 } END { if (n) printf "%.0f %.2f %.3f\n", qps, lost / n, latency / n * 1000 }' "$@"
}
row() { read -r qps lost latency cpu <<<"$3"; echo "| $1 | $2 | $qps | $lost% | $latency | ${cpu:--} |"; }

loaders=$(seq -f 'd%g' 2 $((LOADERS + 1)) | paste -sd' ' -)
local_one=$(dnsperf_in d2 local 100)
local_many=$(dnsperf_in "$loaders" local 20)
: >"$STATE/upstream.queries"
external_one=$(dnsperf_in d2 external 100)
external_many=$(dnsperf_in "$loaders" external 20)
upstream_saw=$(wc -l <"$STATE/upstream.queries")
overloaded=$(metric bridgeport_dns_dropped_total reason=overload)
in_host taskset -c 0 dnsperf -s 127.0.0.53 -d "$STATE/external.dnsperf" -l "$SECONDS_PER_RUN" -q 100 -c 1 -T 1 >"$STATE/stub.out" 2>&1
upstream_alone=$(summarize "$STATE/stub.out")

echo "| queries | from | answered queries/s | lost | mean latency ms | agent's CPU % |"
echo "| --- | --- | --- | --- | --- | --- |"
row "a container's name (the agent answers)" "1 container, 100 in flight" "$local_one"
row "a container's name (the agent answers)" "$LOADERS containers at once, 20 in flight each" "$local_many"
row "an external name (the agent forwards)" "1 container, 100 in flight" "$external_one"
row "an external name (the agent forwards)" "$LOADERS containers at once, 20 in flight each" "$external_many"
row "the upstream alone (dns_stub.py, asked directly)" "the host, 100 in flight" "$upstream_alone"
echo
echo "dnsperf over UDP for ${SECONDS_PER_RUN} s each, one query name over and over; dnsperf on CPU 0, the agent on CPU $SERVER_CPU,"
echo "the upstream (Python) on CPU $STUB_CPU; the agent's CPU is the share of one CPU its threads used during the run."
echo "The upstream got $upstream_saw forwarded queries in the two forwarding runs; the agent dropped ${overloaded:-0} queries as overload"
echo "(too many forwards in flight)."
echo
printf '`run -d` at the API (POST /v1/containers), %d containers on one network: p50 %.1f ms, p90 %.1f ms; the last 50 alone: p50 %.1f ms.\n' \
    "$COUNT" "$(percentile 50 <"$STATE/api.ms")" "$(percentile 90 <"$STATE/api.ms")" "$(tail -50 "$STATE/api.ms" | percentile 50)"
