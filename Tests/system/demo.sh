#!/usr/bin/env bash
# The seed walkthrough, narrated, in a sandbox of its own. Usage: demo.sh BINARY [--keep]
set -u
export BIN=$(readlink -f "$1")
cd "$(dirname "$0")"
KEEP=${2:-}
TAG=bpdemo
STATE=/tmp/bridgeport-demo
if [ "$KEEP" = "--down" ] || [ -d "$STATE" ]; then
    # Remove a demo kept by KEEP=1 (or left by an interrupted run).
    source ./lib.sh
    AGENT_PID=$(cat "$STATE/agent.pid" 2>/dev/null)
    sandbox_down
    [ "$KEEP" = "--down" ] && { echo "demo removed"; exit 0; }
fi
mkdir -p "$STATE"
source ./lib.sh

step() { printf '\n\033[1m# %s\033[0m\n' "$1"; }
show() { printf '$ %s\n' "bridgeport ${*}"; "$BIN" "$@"; local rc=$?; [ $rc -eq 0 ] || printf '(exit %d)\n' $rc; }

if [ -n "$KEEP" ]; then
    trap 'echo "demo failed; cleaning up"; sandbox_down' ERR
else
    trap sandbox_down EXIT
fi

step "A sandbox: host namespace $HOST_NS (uplink 198.51.100.1), external client $EXT_NS (198.51.100.2)"
sandbox_up
step "Start the agent inside the host namespace"
echo "$ bridgeport daemon --netns $HOST_NS --state-dir $STATE/state ..."
agent_start || exit 1
show network ls

step "A user-defined bridge network"
show network create -d bridge --subnet 10.0.0.0/24 my_bridge
show run -d --name c2 --net my_bridge
show run -d --name c3 --net my_bridge --ip 10.0.0.254
show ps

step "Containers on a user-defined network reach each other by address and by name"
show exec c2 ping -c 1 10.0.0.254
show exec c2 ping -c 1 c3

step "A container on the default bridge (bp0) reaches its gateway"
show run -d --name c1
gateway=$("$BIN" inspect -f '{{.NetworkSettings.Gateway}}' c1)
show exec c1 ping -c 1 "$gateway"
show exec c1 sh -c "hostname && ip -br a && cat /etc/resolv.conf"

step "Inspect"
show network inspect my_bridge
show inspect -f '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}' c3

step "Bad input is refused with one clear line and changes nothing"
show run -d --name c4 --net my_bridge --ip 10.0.0.254
show network create --subnet 10.0.0.0/25 overlapping
show network rm my_bridge

step "A published port, reached from the external client through the uplink (BPF DNAT, no iptables)"
show run -d --name web --net my_bridge -p 8080:80 -- python3 "$TOOLS/echo.py" --tcp 80
wait_ready web
show port web
echo "$ python3 probe.py tcp 198.51.100.1 8080 hello     (in $EXT_NS)"
in_ext python3 "$TOOLS/probe.py" tcp 198.51.100.1 8080 hello
echo "(the container answers with its port and the client address it saw)"
echo "$ python3 probe.py tcp 127.0.0.1 8080 hi           (on the host itself)"
in_host_cgroup python3 "$TOOLS/probe.py" tcp 127.0.0.1 8080 hi
echo "$ nft list ruleset   (in $HOST_NS: empty)"
in_host nft list ruleset 2>/dev/null | grep -c . || true

step "Containers reach out, masqueraded in BPF"
in_ext python3 "$TOOLS/echo.py" --tcp 9000 >/dev/null 2>&1 &
sleep 0.5
show exec c2 python3 "$TOOLS/probe.py" tcp 198.51.100.2 9000 out

step "The agent restarts; containers and links stay"
agent_stop
agent_start || exit 1
show ps
show exec c2 ping -c 1 c3

step "Per-container traffic for Prometheus"
echo "$ curl http://127.0.0.1:$METRICS_PORT/metrics   (inside $HOST_NS; excerpt)"
in_host curl -s "http://127.0.0.1:$METRICS_PORT/metrics" | grep -E '^bridgeport_(container_network_(receive|transmit)_bytes_total|published_port_flows_total)' | head -8
show stats --no-stream

if [ -n "$KEEP" ]; then
    cat <<MSG

The demo stays up (KEEP=1). Reach it with:
  export BRIDGEPORT_SOCKET=$BRIDGEPORT_SOCKET
  $BIN ps
  nsenter --net=/run/netns/$HOST_NS curl http://127.0.0.1:$METRICS_PORT/metrics
Agent PID $AGENT_PID, state in $STATE. To remove everything: make demo-down
MSG
    exit 0
fi

step "Clean up"
show rm -f c1 c2 c3 web
show network rm my_bridge
