#!/usr/bin/env bash
# XDP against tc on the uplink, for the small-packet load: 18-byte UDP datagrams over 64 and
# 10,000 flows into a published port (paths.sh's small packets), through Bridgeport's tc
# programs, then with bench/tools/xdp_dnat.bpf.c on the uplink in native XDP mode (its
# DNAT and redirect only, ahead of Bridgeport's programs, which it bypasses for that
# port), in pairs whose order alternates. A veth accepts redirected XDP frames only when
# its receive side runs NAPI, so the container's eth0 gets GRO on while XDP runs (off
# again, as Bridgeport leaves it, for tc). A failed run fails the script.
# Usage: xdp-uplink.sh BRIDGEPORT LOADGEN  (prints a markdown section)
set -u
export BIN=$(readlink -f "$1")
LOADGEN=$(readlink -f "$2")
cd "$(dirname "$0")"
TAG=bpxdp
METRICS_PORT=19482
source ../Tests/system/lib.sh
trap 'exit 130' INT TERM
REPS=${REPS:-4}
SECONDS_PER_RUN=${SECONDS_PER_RUN:-3}
FLOW_COUNTS=${FLOW_COUNTS:-"64 10000"}
CLANG=${CLANG:-clang}

# `hexbytes aa:bb:...`: 0xaa, 0xbb, ... (a C initializer). `le32 A.B.C.D`: the address as
# the program compares it (network byte order, loaded as a little-endian word: x86_64).
hexbytes() { sed 's/^/0x/; s/:/, 0x/g' <<<"$1"; }
le32() { local IFS=.; set -- $1; printf '0x%02x%02x%02x%02x' "$4" "$3" "$2" "$1"; }
mac_of() { "$@" | grep -o 'link/ether [0-9a-f:]*' | cut -d' ' -f2; }
in_srv() { nsenter --net=/proc/"$SRV_PID"/ns/net "$@"; }

# measure FLOWS: the datagrams/s the container's receiver got in one run; status 1 (and
# why, on stderr) when the run failed.
measure() {
    local out=$STATE/recv.out pid sent received
    : >"$out"
    bp exec srv "$LOADGEN" udp-recv 82 --cpu "$(( $(nproc) - 1 ))" >"$out" 2>&1 </dev/null &
    pid=$!
    if wait_ready "$out" && sent=$(in_ext "$LOADGEN" udp 198.51.100.1 8082 "$SECONDS_PER_RUN" --flows "$1" --cpu 0) &&
        wait "$pid"; then
        received=$(awk '$1 == "received_per_second" { print $2 }' "$out")
        [ -n "$received" ] && echo "$received" && return 0
    else
        kill "$pid" 2>/dev/null
        wait "$pid" 2>/dev/null
    fi
    echo "xdp-uplink: a run with $1 flows failed: $(cat "$out") ${sent:-}" >&2
    return 1
}

xdp_on() { in_host ip link set dev "$TAG-up" xdpdrv obj "$STATE/xdp_dnat.o" sec xdp && in_srv ethtool -K eth0 gro on >/dev/null; }
xdp_off() { in_host ip link set dev "$TAG-up" xdpdrv off && in_srv ethtool -K eth0 gro off >/dev/null; }
# run_as tc|xdp FLOWS: one run that way, its figure appended to STATE/WAY-FLOWS.
run_as() {
    local figure
    [ "$1" = tc ] || xdp_on || exit 1
    figure=$(measure "$2") || exit 1
    [ "$1" = tc ] || xdp_off || exit 1
    echo "$figure" >>"$STATE/$1-$2"
}

bench_sandbox || exit 1
bp network create --subnet 10.78.0.0/16 xdpnet >/dev/null &&
    bp run -d --name srv --net xdpnet -p 198.51.100.1:8082:82/udp -- sleep infinity >/dev/null || exit 1
SRV_PID=$(bp inspect -f '{{.State.Pid}}' srv)
address=$(ip_of srv)
mac=$(mac_of in_srv ip -o link show eth0)
veth_index=$(in_srv ip -o link show eth0 | sed -n 's/.*eth0@if\([0-9]*\):.*/\1/p')
veth=$(in_host ip -o link | awk -F': ' -v i="$veth_index" '$1 == i { sub(/@.*/, "", $2); print $2 }')
veth_mac=$(mac_of in_host ip -o link show "$veth")
"$CLANG" -target bpf -O2 -Wall -Werror -I"/usr/include/$(uname -m)-linux-gnu" \
    -DHOST_IP="$(le32 198.51.100.1)" -DHOST_PORT=8082 -DCTR_IP="$(le32 "$address")" -DCTR_PORT=82 \
    -DCTR_MAC="$(hexbytes "$mac")" -DVETH_MAC="$(hexbytes "$veth_mac")" -DVETH_IFINDEX="$veth_index" \
    -c tools/xdp_dnat.bpf.c -o "$STATE/xdp_dnat.o" || exit 1
xdp_on && xdp_off || { echo "xdp-uplink: native XDP on the uplink failed" >&2; exit 1; }

for flows in $FLOW_COUNTS; do
    : >"$STATE/tc-$flows"; : >"$STATE/xdp-$flows"; : >"$STATE/ratio-$flows"
    for rep in $(seq 1 "$REPS"); do
        # Pairs in turn tc first and XDP first, so that neither always runs on the heels of
        # the other.
        if [ $((rep % 2)) = 1 ]; then run_as tc "$flows"; run_as xdp "$flows"; else run_as xdp "$flows"; run_as tc "$flows"; fi
        tc=$(tail -1 "$STATE/tc-$flows") xdp=$(tail -1 "$STATE/xdp-$flows")
        ratio "$xdp" "$tc" >>"$STATE/ratio-$flows"
        echo "  flows=$flows rep $rep/$REPS: tc $tc, xdp $xdp" >&2
    done
done
echo "| flows | Bridgeport's tc path, datagrams/s | minimal XDP DNAT, datagrams/s | XDP ÷ tc |"
echo "| --- | --- | --- | --- |"
for flows in $FLOW_COUNTS; do
    printf '| %s | %.0f | %.0f | %.2f |\n' "$flows" "$(median <"$STATE/tc-$flows")" "$(median <"$STATE/xdp-$flows")" \
        "$(median <"$STATE/ratio-$flows")"
done
echo
echo "Medians of $REPS pairs of $SECONDS_PER_RUN s runs (alternating which goes first); the ratio is the median of the pairs' ratios."
