#!/usr/bin/env bash
# CLI latency, in a sandbox of its own: COUNT runs each of `bridgeport ps` (with 10
# containers up, then with COUNT), `bridgeport run -d` and `bridgeport --version`, timed from
# the shell (process start to exit, against the running agent); the agent's own part of
# `ps` at the API (curl) beside; p50 and p90.
# Usage: cli-latency.sh BINARY (prints a markdown table)
set -u
export BIN=$(readlink -f "$1")
cd "$(dirname "$0")"
TAG=bpcli
METRICS_PORT=19482
source ../Tests/system/lib.sh
bench_sandbox || exit 1
COUNT=${COUNT:-100}

# timed FILE COMMAND...: runs COMMAND (its output dropped) and adds its wall time in ms to
# FILE. $EPOCHREALTIME, not date: no process of its own around the one measured.
timed() {
    local file=$1 start end
    shift
    start=$EPOCHREALTIME
    "$@" >/dev/null || { echo "failed: $*" >&2; exit 1; }
    end=$EPOCHREALTIME
    awk -v s="$start" -v e="$end" 'BEGIN { printf "%.3f\n", (e - s) * 1000 }' >>"$file"
}

# listings N: COUNT runs of `ps` and of GET /v1/containers with N containers up.
listings() {
    local _
    for _ in $(seq 1 "$COUNT"); do timed "$STATE/ps$1.ms" "$BIN" ps; done
    for _ in $(seq 1 "$COUNT"); do
        curl -s -o /dev/null --unix-socket "$BRIDGEPORT_SOCKET" -w '%{time_total}\n' http://bridgeport/v1/containers |
            awk '{ printf "%.3f\n", $1 * 1000 }' >>"$STATE/api$1.ms"
    done
}

"$BIN" network create --subnet 10.97.0.0/16 clibench >/dev/null || exit 1
for i in $(seq 1 "$COUNT"); do
    timed "$STATE/run.ms" "$BIN" run -d --name "cli$i" --net clibench
    [ "$i" = 10 ] && listings 10
done
listings "$COUNT"
for _ in $(seq 1 "$COUNT"); do timed "$STATE/version.ms" "$BIN" --version; done
# The containers go before the sandbox does, untimed.
"$BIN" rm -f $("$BIN" ps -aq) >/dev/null || exit 1

echo "| command | p50 ms | p90 ms |"
echo "| --- | --- | --- |"
latency_row "bridgeport ps (10 containers)" "$STATE/ps10.ms"
latency_row "... GET /v1/containers at the API (curl, 10 containers)" "$STATE/api10.ms"
latency_row "bridgeport ps ($COUNT containers)" "$STATE/ps$COUNT.ms"
latency_row "... GET /v1/containers at the API (curl, $COUNT containers)" "$STATE/api$COUNT.ms"
latency_row "bridgeport run -d (user-defined network, up to $COUNT containers)" "$STATE/run.ms"
latency_row "bridgeport --version" "$STATE/version.ms"
printf 'cli_ps_p50 %.1f\ncli_run_p50 %.1f\n' "$(percentile 50 <"$STATE/ps10.ms")" "$(percentile 50 <"$STATE/run.ms")" \
    >>"${FIGURES:-/dev/null}"
