#!/usr/bin/env bash
# `make bench`: every benchmark in one run, written to bench/results/latest.md (with the
# date, kernel and machine) and a chart of connection rate against published ports.
# Usage: run.sh BRIDGEPORT LOADGEN. Each part builds and removes its own sandbox.
set -u
BRIDGEPORT=$(readlink -f "$1")
LOADGEN=$(readlink -f "$2")
cd "$(dirname "$0")"
RESULTS=results
WORK=$(mktemp -d /tmp/bridgeport-bench.XXXX)
trap 'rm -rf "$WORK"' EXIT
export FIGURES=$WORK/figures   # "name value" lines the targets are checked against
: >"$FIGURES"
mkdir -p "$RESULTS"

step() { echo "== $*" >&2; }

step "the paths over IPv4 and IPv6 at 1, 1,000 and 10,000 published ports, and small UDP packets"
./paths.sh "$BRIDGEPORT" "$LOADGEN" "$WORK" || exit 1

step "XDP against tc on the uplink, for the small packets"
./xdp-uplink.sh "$BRIDGEPORT" "$LOADGEN" >"$WORK/xdp.md" 2>"$WORK/xdp.log" || { cat "$WORK/xdp.log"; exit 1; }

step "container create+attach latency"
{
    echo "| how | p50 ms | p90 ms |"
    echo "| --- | --- | --- |"
    ATTACH=auto ./create-latency.sh "$BRIDGEPORT" || exit 1
    ATTACH=tcx ./create-latency.sh "$BRIDGEPORT" || exit 1
    ATTACH=tc ./create-latency.sh "$BRIDGEPORT" || exit 1
    ./cni-latency.sh | grep '^| reference CNI.*ADD' || exit 1
} >"$WORK/create.md"

step "CLI latency: ps, run -d and --version of the shipped build (make release)"
./cli-latency.sh ../build/release/bridgeport >"$WORK/cli.md" || exit 1

step "per-packet cost of each BPF program (BPF_PROG_TEST_RUN)"
(cd .. && BRIDGEPORT_BENCH_OUT="$WORK/bpf.md" swift test --filter ProgramCostBenchmarks >"$WORK/bpf.log" 2>&1) ||
    { cat "$WORK/bpf.log"; exit 1; }

step "helper calls per packet of the same scenarios (the objects of make bpf-counted)"
# The counts per packet do not depend on the number of runs: fewer of them do.
(cd .. && make -s bpf-counted && BRIDGEPORT_BENCH_HELPER_CALLS=1 BRIDGEPORT_BENCH_OUT="$WORK/bpf-calls.md" \
    BRIDGEPORT_BENCH_RUNS=100000 swift test --skip-build --filter ProgramCostBenchmarks >"$WORK/bpf-calls.log" 2>&1) ||
    { cat "$WORK/bpf-calls.log"; exit 1; }

step "the flow table at 10,000, 100,000 and 1,000,000 flows (BPF_PROG_TEST_RUN and the release collector)"
(cd .. && BRIDGEPORT_BENCH_FLOWS_OUT="$WORK/flowtable.md" BRIDGEPORT_FLOW_BENCH="$PWD/.build/release/flow-bench" \
    swift test --filter FlowTableBenchmarks >"$WORK/flowtable.log" 2>&1) || { cat "$WORK/flowtable.log"; exit 1; }

step "connections/s through a published port with 1,000,000 flows in the table"
./flows.sh "$BRIDGEPORT" "$LOADGEN" ../.build/release/flow-bench >"$WORK/flows.md" 2>"$WORK/flows.log" || { cat "$WORK/flows.log"; exit 1; }

step "overlay across hosts against routing"
./overlay.sh "$BRIDGEPORT" "$LOADGEN" >"$WORK/overlay.md" 2>"$WORK/overlay.log" || { cat "$WORK/overlay.log"; exit 1; }

step "embedded DNS: queries/s, answered and forwarded"
./dns.sh "$BRIDGEPORT" >"$WORK/dns.md" 2>"$WORK/dns.log" || { cat "$WORK/dns.log"; exit 1; }

step "CNI plugins: portmap against bridgeport-cni"
./cni-plugin-latency.sh "$BRIDGEPORT" >"$WORK/cni.md" 2>"$WORK/cni.log" || { cat "$WORK/cni.log"; exit 1; }

step "bridgeport monitor under a drop flood"
./monitor.sh "$BRIDGEPORT" "$LOADGEN" >"$WORK/monitor.md" 2>"$WORK/monitor.log" || { cat "$WORK/monitor.log"; exit 1; }

step "scrape cost"
../.build/release/exporter-bench >"$WORK/scrape.md" || exit 1

cp "$WORK/paths-raw.tsv" "$RESULTS/paths-raw.tsv"
cp "$WORK/small-packets-raw.tsv" "$RESULTS/small-packets-raw.tsv"
python3 chart.py "$WORK/connection-rate.tsv" "$RESULTS/connection-rate.svg" \
    --title "Connections/s (connect, 1-byte exchange, close) against published ports" --ylabel "connections/s" || exit 1

# ---------------------------------------------------------------------------- targets

tsv() { awk -F'\t' -v p="$1" -v m="$2" -v n="$3" '$1 == p && $2 == m && $3 == n { print $'"$4"' }' "$WORK/paths.tsv"; }
min_ratio() { for n in 1 1000 10000; do tsv "$1" "$2" "$n" 5; done | sort -g | head -1; }  # min_ratio PATH METRIC
verdict() { awk -v v="$1" -v op="$2" -v t="$3" 'BEGIN { if (v == "" || v == "n/a" || v == "err") print "not measured";
    else if ((op == ">=" && v + 0 >= t) || (op == "<=" && v + 0 <= t)) print "met"; else print "**missed**" }'; }
publish_s=$(awk -F'|' '/Bridgeport API/ { gsub(/ /, "", $3); print $3 }' "$WORK/publish.md")
# bpf_targets: a target row for each program-cost scenario that has one ("≤ N ns" in bpf.md).
bpf_targets() {
    awk -F'|' '$6 ~ /≤ [0-9]+ ns/ { scenario = $3; gsub(/^ +| +$| ¹/, "", scenario); ns = $4; gsub(/ /, "", ns);
        target = $6; sub(/^ *≤ /, "", target); sub(/ ns.*/, "", target); print scenario "\t" ns "\t" target }' "$WORK/bpf.md" |
        while IFS=$'\t' read -r scenario ns target; do
            target_row "BPF_PROG_TEST_RUN ≤ $target ns: $scenario (ns)" "$ns" "<=" "$target"
        done | grep . || target_row "BPF_PROG_TEST_RUN per path (ns)" "" "<=" 0
}
# The slowest program's live ns/run during the path runs (bpf-live.md).
bpf_live_worst=$(awk -F'|' 'NR > 2 && $4 ~ /[0-9]/ && $3 + 0 >= 1000 { gsub(/ /, "", $4); print $4 }' "$WORK/bpf-live.md" |
    sort -g | tail -1)
# small_min COLUMN: the lowest ratio of Bridgeport's small-packet rows over the flow counts
# (small-packets.tsv: path flows received_pps x_direct x_iptables sent_pps).
small_min() { awk -F'\t' -v c="$1" '$1 == "bridgeport" { print $c }' "$WORK/small-packets.tsv" | sort -g | head -1; }
scrape() { awk -F'|' -v n="$1" '$2 ~ "^ *" n " *$" { gsub(/ /, "", $8); print $8 }' "$WORK/scrape.md"; }  # with gzip
create_p50() { awk -v m="create_p50_$1" '$1 == m { print $2 }' "$FIGURES"; }
figure() { awk -v m="$1" '$1 == m { print $2 }' "$FIGURES"; }
target_row() { echo "| $1 | $2 | $(verdict "$2" "$3" "$4") |"; }

{
    echo "# Bridgeport benchmarks"
    echo
    echo "$(date -u '+%Y-%m-%d %H:%M UTC'), Linux $(uname -r), $(nproc) × $(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo),"
    echo "$(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo) RAM. \`make bench\` wrote this file; every ratio is to the direct path measured in the same run."
    echo
    echo "## Targets"
    echo
    echo "| target | measured | verdict |"
    echo "| --- | --- | --- |"
    target_row "connection rate ≥ 0.95× direct at 10,000 ports" "$(tsv bridgeport crr 10000 5)" ">=" 0.95
    target_row "transactions/s ≥ 1.0× direct (lowest of 1, 1,000, 10,000 ports)" "$(min_ratio bridgeport rr)" ">=" 1.0
    target_row "throughput ≥ 1.0× direct (lowest of 1, 1,000, 10,000 ports)" "$(min_ratio bridgeport tput)" ">=" 1.0
    target_row "IPv6: connection rate ≥ 0.95× direct6 at 10,000 ports" "$(tsv bridgeport6 crr 10000 5)" ">=" 0.95
    target_row "IPv6: transactions/s ≥ 1.0× direct6 (lowest of 1, 1,000, 10,000 ports)" "$(min_ratio bridgeport6 rr)" ">=" 1.0
    target_row "IPv6: throughput ≥ 1.0× direct6 (lowest of 1, 1,000, 10,000 ports)" "$(min_ratio bridgeport6 tput)" ">=" 1.0
    target_row "small UDP ≥ 1.2× iptables (lowest of 64 and 10,000 flows)" "$(small_min 5)" ">=" 1.2
    target_row "small UDP ≥ 1.1× direct (lowest of 64 and 10,000 flows)" "$(small_min 4)" ">=" 1.1
    target_row "10,000 ports published in ≤ 0.5 s" "$publish_s" "<=" 0.5
    bpf_targets
    target_row "live ns/run ≤ 300 under the path runs (slowest program with ≥ 1,000 runs, ns)" "$bpf_live_worst" "<=" 300
    target_row "container attach p50 ≤ 10 ms (default --attach auto, ms)" "$(create_p50 auto)" "<=" 10
    target_row "container attach p50 ≤ 10 ms (--attach tcx everywhere, ms)" "$(create_p50 tcx)" "<=" 10
    target_row "container attach p50 ≤ 10 ms (--attach tc everywhere, ms)" "$(create_p50 tc)" "<=" 10
    target_row "scrape ≤ 20 ms at 1,000 endpoints (ms, gzipped)" "$(scrape 1000)" "<=" 20
    target_row "scrape ≤ 20 ms at 10,000 endpoints (ms, gzipped)" "$(scrape 10000)" "<=" 20
    target_row "CLI ps p50 ≤ 12 ms (10 containers, ms)" "$(awk '$1 == "cli_ps_p50" { print $2 }' "$FIGURES")" "<=" 12
    target_row "CLI run -d p50 ≤ 12 ms (ms)" "$(awk '$1 == "cli_run_p50" { print $2 }' "$FIGURES")" "<=" 12
    target_row "release agent binary ≤ 40 MB (build/release/bridgeport, MB)" \
        "$(stat -c %s ../build/release/bridgeport | awk '{ printf "%.1f", $1 / 1e6 }')" "<=" 40
    target_row "one monitor ≥ 10,000 drop events/s (--monitor-rate 0, events/s)" "$(figure monitor_0_events_per_second)" ">=" 10000
    target_row "API ps p99 ≤ 50 ms during a drop flood with a monitor (default rate, ms)" "$(figure monitor_default_api_p99)" "<=" 50
    echo
    echo "## The paths from an external client to a container, over IPv4 and IPv6"
    echo
    echo "direct = routed to the container's address, no NAT, no rules; iptables = Docker's nat and"
    echo "filter DOCKER chains (iptables-nft), the measured ports last; proxy = socat per port, as"
    echo "docker-proxy (the other ports' proxies would be separate processes, so they are not"
    echo "started); bridgeport = the same published port through Bridgeport's programs. direct6,"
    echo "ip6tables and bridgeport6 are the same over IPv6: routed to the container's IPv6 address,"
    echo "Docker's ip6tables layout (ip6tables-nft), and Bridgeport's DNAT66 on a dual-stack network"
    echo "whose ports are published on the host's IPv6 address too (as many per family)."
    echo
    cat "$WORK/paths.md"
    echo
    echo "![connections/s against published ports](connection-rate.svg)"
    echo
    echo "## Small packets: 18-byte UDP datagrams over 64 and 10,000 flows"
    echo
    cat "$WORK/small-packets.md"
    echo
    echo "### XDP on the uplink instead of tc (bench/xdp-uplink.sh)"
    echo
    echo "The same 18-byte datagrams into a published port of another sandbox, through Bridgeport's tc programs"
    echo "and through a minimal native XDP program on the veth uplink (bench/tools/xdp_dnat.bpf.c: DNAT and"
    echo "redirect only, no flow table, policy or counters), interleaved."
    echo
    cat "$WORK/xdp.md"
    echo
    echo "## Publishing 10,000 ports"
    echo
    cat "$WORK/publish.md"
    echo
    echo "## Per-packet cost of each BPF program"
    echo
    cat "$WORK/bpf.md"
    echo
    echo "The same programs under the path runs' real traffic (the kernel's BPF_ENABLE_STATS):"
    echo
    cat "$WORK/bpf-live.md"
    echo
    echo "The BPF helper and kfunc calls each scenario's packet makes, counted by the same programs built with a count before every call (\`make bpf-counted\`, bpf/lib/helper_count.h) over 100,000 runs of each scenario:"
    echo
    cat "$WORK/bpf-calls.md"
    echo
    echo "## Container create+attach latency (100 containers each)"
    echo
    cat "$WORK/create.md"
    echo
    echo "## CLI latency (the release build, process start to exit, against a running agent)"
    echo
    cat "$WORK/cli.md"
    echo
    echo "## The flow table"
    echo
    cat "$WORK/flowtable.md"
    echo
    cat "$WORK/flows.md"
    echo
    echo "## Overlay across two hosts against the same hosts routed"
    echo
    cat "$WORK/overlay.md"
    echo
    echo "## Embedded DNS (127.0.0.11 in containers)"
    echo
    cat "$WORK/dns.md"
    echo
    echo "## CNI: what a runtime pays per container for published ports"
    echo
    cat "$WORK/cni.md"
    echo
    echo "## bridgeport monitor under a drop flood"
    echo
    cat "$WORK/monitor.md"
    echo
    echo "## Scrape cost (release build, medians of 15; resident memory over 1,000 scrapes)"
    echo
    cat "$WORK/scrape.md"
} >"$RESULTS/latest.md"
cat "$RESULTS/latest.md"
