#!/usr/bin/env bash
# What a runtime pays per container for published ports: CNI ADD of `portmap` (iptables
# chains) against ADD of `bridgeport-cni` (the agent's maps), each chained after the same
# reference `bridge` ADD, and `bridgeport-cni` as the main plugin (bridge, veth, address
# and ports in one ADD). COUNT containers each, plugins exec'd as a runtime does, timed
# per plugin call; p50/p90 in ms as markdown rows. In a sandbox of its own.
# Usage: cni-plugin-latency.sh BRIDGEPORT [COUNT]
set -u
export BIN=$(readlink -f "$1")
COUNT=${2:-50}
cd "$(dirname "$0")"
TAG=bpcni
METRICS_PORT=19480
source ../Tests/system/lib.sh
bench_sandbox >/dev/null || exit 1
PLUGINS=$(dirname "$BIN")

# plugin NAME ID CONFIG: one timed ADD in the sandbox host; result in $STATE/out, ms appended to $STATE/NAME.ms
plugin() {
    local dir=/usr/lib/cni; [ "$1" = bridgeport-cni ] && dir=$PLUGINS
    local start=$(date +%s%N)
    CNI_COMMAND=ADD CNI_CONTAINERID=$2 CNI_NETNS=/run/netns/$TAG-$2 CNI_IFNAME=eth0 CNI_PATH=$dir \
        in_host "$dir/$1" <<<"$3" >"$STATE/out" || { echo "$1 ADD failed: $(cat "$STATE/out")" >&2; exit 1; }
    echo "$(( ($(date +%s%N) - start) / 1000 ))" | awk '{ printf "%.3f\n", $1 / 1000 }' >>"$STATE/${4:-$1}.ms"
}
bridge='"type":"bridge","bridge":"cni-b","isGateway":true,"ipMasq":false,"ipam":{"type":"host-local","subnet":"10.87.0.0/16","dataDir":"'$STATE/ipam'"}'
ports() { echo '"runtimeConfig":{"portMappings":[{"hostPort":'$1',"containerPort":80,"protocol":"tcp"}]}'; }
for kind in portmap bridgeport-cni; do
    for i in $(seq 1 "$COUNT"); do
        id=$kind$i; netns_add "$TAG-$id"
        plugin bridge "$id" "{\"cniVersion\":\"1.0.0\",\"name\":\"b\",$bridge}" "bridge-$kind"
        extra='"capabilities":{"portMappings":true}'
        [ "$kind" = bridgeport-cni ] && extra+=",\"agentSocket\":\"$BRIDGEPORT_SOCKET\""
        [ "$kind" = portmap ] && port=$((20000 + i)) || port=$((30000 + i))
        plugin "$kind" "$id" "{\"cniVersion\":\"1.0.0\",\"name\":\"b\",\"type\":\"$kind\",$extra,$(ports $port),\"prevResult\":$(cat "$STATE/out")}"
    done
done
for i in $(seq 1 "$COUNT"); do
    id=main$i; netns_add "$TAG-$id"
    plugin bridgeport-cni "$id" "{\"cniVersion\":\"1.0.0\",\"name\":\"m\",\"type\":\"bridgeport-cni\",\"subnet\":\"10.86.0.0/16\",\"agentSocket\":\"$BRIDGEPORT_SOCKET\",$(ports $((40000 + i)))}" main
done
row() { latency_row "$1" "$STATE/$2.ms"; }
echo "| CNI ADD, $COUNT containers each | p50 ms | p90 ms |"
echo "| --- | --- | --- |"
row "reference bridge (before portmap)" bridge-portmap
row "reference portmap, chained (iptables)" portmap
row "reference bridge (before bridgeport-cni)" bridge-bridgeport-cni
row "bridgeport-cni, chained (the agent's maps)" bridgeport-cni
row "bridgeport-cni, main plugin (bridge, veth, address, ports)" main
