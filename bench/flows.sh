#!/usr/bin/env bash
# Connections/s through a published port while the flow table holds FLOWS (1,000,000)
# other flows, against the same port with a nearly empty table, in one run. The client in
# the external namespace connects, exchanges a byte and closes (loadgen crr), as the path
# benchmark does; the agent's collector passes over the full table meanwhile, as it would.
# Usage: flows.sh BRIDGEPORT LOADGEN FLOW_BENCH (prints a markdown table)
set -u
export BIN=$(readlink -f "$1")
LOADGEN=$(readlink -f "$2")
FLOW_BENCH=$(readlink -f "$3")
cd "$(dirname "$0")"
TAG=bpflows
METRICS_PORT=19480
source ../Tests/system/lib.sh

FLOWS=${FLOWS:-1000000}
SECONDS_PER_RUN=${SECONDS_PER_RUN:-3}
REPS=${REPS:-5}
# Room for the filled flows and for the benchmark's own connections (each is a flow for
# tcp-closing's 2 minutes after it ends).
bench_sandbox --max-flows $(( FLOWS * 2 )) || exit 1
in_ext sysctl -qw net.ipv4.ip_local_port_range="1024 65535"
bp network create --subnet 10.80.0.0/24 benchnet >/dev/null || exit 1
bp run -d --name srv --net benchnet -p 198.51.100.1:8080:80 -- taskset -c "$SERVER_CPU" "$LOADGEN" serve 80 >/dev/null || exit 1
for _ in $(seq 1 100); do in_ext bash -c "exec 3<>/dev/tcp/198.51.100.1/8080" 2>/dev/null && break; sleep 0.05; done

crr() { in_ext taskset -c 0 "$LOADGEN" crr 198.51.100.1 8080 "$SECONDS_PER_RUN" --threads 2 | awk '$1 == "connections_per_second" { print $2 }'; }
memlock() { bpftool map show pinned "$STATE/bpf/maps/bp_flows" | awk '{ for (i = 1; i < NF; i++) if ($i == "memlock") print $(i + 1) }' | tr -d B; }
flows() { local n; n=$(metric bridgeport_flows); echo "${n:-0}"; }

# Interleaved: each repetition measures the nearly empty table (flushed), then the full one.
: >"$STATE/empty"; : >"$STATE/full"
for _ in $(seq 1 "$REPS"); do
    bp flows --flush >/dev/null || exit 1
    crr >>"$STATE/empty"
    bp flows --flush >/dev/null || exit 1  # the measured connections' own flows
    empty_memory=$(memlock)
    "$FLOW_BENCH" fill "$STATE/bpf/maps" "$FLOWS" >&2 || exit 1
    crr >>"$STATE/full"
done
empty=$(median <"$STATE/empty") || empty=err
full=$(median <"$STATE/full") || full=err
full_memory=$(memlock)
# The collector's pass over the full table, as the agent's metrics report it.
for _ in $(seq 1 600); do [ "$(flows)" -ge "$FLOWS" ] && break; sleep 0.1; done
pass=$(metric bridgeport_flow_gc_duration_seconds)

mib() { awk -v b="$1" 'BEGIN { printf "%.0f", b / 1048576 }'; }
thousands() { python3 -c 'import sys; print(f"{int(float(sys.argv[1])):,}")' "$1"; }
echo "| flow table | connections/s (median of $REPS × ${SECONDS_PER_RUN} s) | ratio | bp_flows memory MiB |"
echo "| --- | --- | --- | --- |"
echo "| nearly empty | $(thousands "$empty") | 1.00 | $(mib "$empty_memory") |"
echo "| $(thousands "$FLOWS") other flows | $(thousands "$full") | $(ratio "$full" "$empty") | $(mib "$full_memory") |"
echo
echo "The agent's collector pass over the full table took $(awk -v s="$pass" 'BEGIN { printf "%.0f", s * 1000 }') ms (bridgeport_flow_gc_duration_seconds)."
echo "Each repetition flushed the table (bridgeport flows --flush), measured, then wrote $(thousands "$FLOWS") flows into the agent's pinned bp_flows with flow-bench fill (masqueraded, both entries, live for a day) and measured again. The table is preallocated for --max-flows $(thousands $((FLOWS * 2))), hence the same memory both ways."
