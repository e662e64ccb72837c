# A drop flood with a monitor attached: the agent stays responsive (its API latency during
# the flood is reported; only a generous bound is checked: speed is the benchmarks'), and
# no drop goes unaccounted: the agent is always subscribed to drops, so each drop counted
# either reached the monitor or was counted lost. A small --monitor-rate makes losses certain.
agent_start --monitor-rate 200 || { fail "agent starts"; return; }

check "networks and containers" bash -c "'$BIN' network create --subnet 10.78.0.0/24 a >/dev/null &&
    '$BIN' network create --subnet 10.79.0.0/24 b >/dev/null &&
    '$BIN' run -d --name f1 --net a >/dev/null && '$BIN' run -d --name b1 --net b >/dev/null"
B1=$(ip_of b1)
# f1 knows its gateway's MAC before the flood: no datagram waits for ARP.
check "f1 reaches its gateway" bp exec f1 ping -c 1 -W 1 10.78.0.1

all_drops() { counter 'bridgeport_(container|host)_network_drops_total'; }
# counter FAMILY [LABEL=VALUE...]: metric, 0 when it has no sample yet.
counter() { local n; n=$(metric "$1" "${@:2}"); echo "${n:-0}"; }
lost() { counter bridgeport_monitor_events_lost_total type=drop; }
received() { wc -l <"$STATE/$1.events"; }

monitor_start all
monitor_start f1 --container f1 --reason isolation
# A quiet start: nothing in flight when the counters are read.
sleep 1
drops0=$(all_drops); lost0=$(lost); all0=$(received all); f10=$(received f1)
f1_drops0=$(counter bridgeport_container_network_drops_total container=f1 reason=isolation)

# UDP to another network's container, as fast as one Python process sends it, until the
# API's latency is measured (SIGTERM; at most 60 s): it prints its PID, then what it sent.
bp exec f1 python3 -c 'import os, signal, socket, sys, time
stop = []
signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
print(os.getpid(), flush=True)
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
end, sent = time.monotonic() + 60, 0
while not stop and time.monotonic() < end:
    for _ in range(1000):
        s.sendto(b"flood", (sys.argv[1], 9999))
    sent += 1000
print(sent)' "$B1" >"$STATE/flood.out" 2>&1 &
flood=$!
flood_start=$(date +%s)
sleep 1
: >"$STATE/api.ms"
for _ in $(seq 1 50); do
    start=$(date +%s%N)
    bp ps >/dev/null || echo "ps failed" >>"$STATE/api.err"
    echo $((($(date +%s%N) - start) / 1000000)) >>"$STATE/api.ms"
done
kill -0 "$flood" 2>/dev/null && during=yes || during=no
bp exec f1 kill -TERM "$(head -1 "$STATE/flood.out")"
wait "$flood"
flood_seconds=$(($(date +%s) - flood_start + 1))
p50=$(percentile 50 <"$STATE/api.ms"); p99=$(percentile 99 <"$STATE/api.ms")
check "the flood ran throughout the 50 API calls" test "$during" = yes
check "every API call during the flood succeeded" test ! -s "$STATE/api.err"
[ "${p99:-999999}" -le 2000 ] && pass "API latency during the flood: p50 ${p50} ms, p99 ${p99} ms (bound 2000 ms)" ||
    fail "API latency during the flood: p50 ${p50} ms, p99 ${p99} ms (bound 2000 ms)"

# Settled: the monitor's count no longer moves.
settled() {
    local before; before=$(received all); sleep 1; [ "$(received all)" = "$before" ]
}
eventually 10 settled
drops=$(($(all_drops) - drops0)); lost_n=$(($(lost) - lost0)); seen=$(($(received all) - all0))
f1_seen=$(($(received f1) - f10))
f1_drops=$(($(counter bridgeport_container_network_drops_total container=f1 reason=isolation) - f1_drops0))
sent=$(sed -n 2p "$STATE/flood.out")
echo "        sent $sent, dropped $drops (f1 isolation: $f1_drops), reached the monitor $seen (filtered: $f1_seen), lost $lost_n"
check "the monitors are still connected" test "$(metric bridgeport_monitors)" = 2
check "the flood was dropped (isolation, on f1)" test "$f1_drops" -gt 100000
check "events were lost (over --monitor-rate)" test "$lost_n" -gt 0
# The flood spans at most its seconds + 2 of the programs' seconds, on each CPU.
check "no more events than --monitor-rate lets through ($seen in $flood_seconds s)" test "$seen" -le $((200 * $(nproc) * (flood_seconds + 2)))
check "each drop reached the monitor or was counted lost: $seen + $lost_n = $drops" test $((seen + lost_n)) -eq "$drops"
check "the filtered monitor got exactly the unfiltered one's events of f1's isolation drops" \
    test "$f1_seen" -eq "$(tail -n +$((all0 + 1)) "$STATE/all.events" | jq -c 'select(.container == "f1" and .reason == "isolation")' | wc -l)"
check "... and their tuple" eventually 1 has_event f1 \
    ".source == \"$(ip_of f1)\" and .destination == \"$B1\" and .destinationPort == 9999 and .proto == \"udp\""

# A monitor that stops reading is let go once its queue is full (here: no limit on the
# rate, and a monitor of flows too, stopped): it ends with the agent's last word, and the
# programs emit flows no longer, as nobody else wants them.
agent_stop
agent_start --monitor-rate 0 || { fail "agent restarts"; return; }
subscribed() { bpftool -j map lookup pinned "$STATE/bpf/maps/bp_monitor" key 0 0 0 0 | jq -r '.formatted.value.subscribed // (.value[0] | tonumber)'; }
MONITOR_PIDS=()
monitor_start stopped --type all
stopped=${MONITOR_PIDS[0]}
check_output "with a monitor of flows, the programs emit drops and flows" '^3$' subscribed
kill -STOP "$stopped"
bp exec f1 python3 -c 'import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
end = time.monotonic() + 3
while time.monotonic() < end:
    s.sendto(b"flood", (sys.argv[1], 9999))' "$B1"
kill -CONT "$stopped"
gone() { ! kill -0 "$stopped" 2>/dev/null; }
check "the stopped monitor is let go" eventually 10 gone
check_output "... with the agent's last word" 'read events more slowly than they came' cat "$STATE/stopped.err"
check "... and forgotten" eventually 5 test "$(metric bridgeport_monitors)" = 0
check_output "the programs emit drops alone again" '^1$' eventually 5 subscribed
