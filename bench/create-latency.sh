#!/usr/bin/env bash
# Container create+attach latency, in a sandbox of its own: COUNT `run -d` requests on a
# user-defined network, timed at the API (curl on the unix socket) and through the CLI;
# p50 and p90. Usage: ATTACH=auto|tcx|tc create-latency.sh BINARY
set -u
export BIN=$(readlink -f "$1")
cd "$(dirname "$0")"
TAG=bpbench
METRICS_PORT=19478
source ../Tests/system/lib.sh
bench_sandbox ${ATTACH:+--attach $ATTACH} || exit 1
COUNT=${COUNT:-100}

"$BIN" network create --subnet 10.99.0.0/16 bench >/dev/null
api=$STATE/api.ms
cli=$STATE/cli.ms
for i in $(seq 1 "$COUNT"); do
    curl -s -o /dev/null --unix-socket "$BRIDGEPORT_SOCKET" -H 'Content-Type: application/json' \
        -d "{\"name\":\"api$i\",\"network\":\"bench\",\"ports\":[],\"command\":[]}" \
        -w '%{time_total}\n' http://bridgeport/v1/containers | awk '{ printf "%.3f\n", $1 * 1000 }' >>"$api"
done
for i in $(seq 1 "$COUNT"); do
    start=$(date +%s%N)
    "$BIN" run -d --name "cli$i" --net bench >/dev/null
    echo "$(( ($(date +%s%N) - start) / 1000 ))" | awk '{ printf "%.3f\n", $1 / 1000 }' >>"$cli"
done

mode=${ATTACH:-auto}
latency_row "Bridgeport, attach $mode, at the API (POST /v1/containers)" "$api"
latency_row "Bridgeport, attach $mode, through the CLI (bridgeport run -d)" "$cli"
printf 'create_p50_%s %.1f\n' "$mode" "$(percentile 50 <"$api")" >>"${FIGURES:-/dev/null}"
