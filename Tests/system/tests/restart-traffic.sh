# While the agent stops and starts again (gracefully and with SIGKILL), an established
# connection through a published port and container-to-container traffic go on with
# zero errors, and no counter goes backwards.
agent_start || { fail "agent starts"; return; }

check "a network" bp network create --subnet 10.66.0.0/24 rt
check "a published stream server" bp run -d --name rsrv --net rt -p 6200:80 -- python3 "$TOOLS/echo.py" --stream 80
check "a peer" bp run -d --name rpeer --net rt
wait_ready rsrv

in_ext python3 "$TOOLS/stream.py" 198.51.100.1 6200 12 >"$STATE/stream.out" 2>&1 & stream=$!
bp exec rpeer ping -q -i 0.05 -w 12 rsrv >"$STATE/ping.out" 2>&1 & pinger=$!
samples=""
sample() { local v; v=$(metric bridgeport_container_network_receive_packets_total container=rsrv); samples+=" ${v:-?}"; }
sleep 1; sample
for way in TERM KILL TERM; do
    if [ "$way" = TERM ]; then agent_stop; else { kill -KILL "$AGENT_PID"; wait "$AGENT_PID"; } 2>/dev/null; AGENT_PID=; fi
    sleep 1   # the dataplane alone, no agent
    agent_start >/dev/null || { fail "agent restarts after SIG$way"; break; }
    sample; sleep 1; sample
done
wait "$stream"; stream_rc=$?
wait "$pinger"
echo "        rsrv's received packets, sampled across the restarts:$samples"
[ "$stream_rc" = 0 ] && pass "the published-port stream kept every byte across 3 restarts ($(cat "$STATE/stream.out"))" ||
    fail "stream: $(cat "$STATE/stream.out")"
check_output "container-to-container pings: 0% loss across the restarts" ' 0% packet loss' cat "$STATE/ping.out"
sorted=$(tr ' ' '\n' <<<"$samples" | sed '/^$/d' | sort -n | tr '\n' ' ')
[ "$(tr ' ' '\n' <<<"$samples" | sed '/^$/d' | tr '\n' ' ')" = "$sorted" ] && ! grep -q '?' <<<"$samples" &&
    pass "the counter never went backwards" || fail "counter went backwards or was missing:$samples"

# An upgrade over the pins of the versions before the counters' slots: bp_ep_stats was a hash
# keyed by ifindex, bp_port_stats one keyed by port, and bp_ports' entries had no slot. The
# agent replaces those pins (the counters restart from 0, which Prometheus reads as a reset)
# instead of refusing to start, publishes the ports again, and counts their traffic again.
agent_stop
maps="$STATE/bpf/maps"
old_pins() {  # old_pins "MAP TYPE KEY VALUE ENTRIES"...: each MAP's pin made anew in that layout
    local spec
    for spec in "$@"; do
        set -- $spec
        rm -f "$maps/$1" && bpftool map create "$maps/$1" type "$2" key "$3" value "$4" entries "$5" name "$1" || return 1
    done
}
says_replaced() {  # says_replaced MAP...: the agent's log names each as replaced
    local map
    for map in "$@"; do
        check_output "... and says it replaced $map" "$map had the layout of an earlier version" cat "$AGENT_LOG"
    done
}
check "a pin of bp_ep_stats in the earlier layout (a per-CPU hash by ifindex)" \
    old_pins "bp_ep_stats percpu_hash 4 32 16384"
check "pins of bp_port_stats{,6} (per-CPU hashes by port) and bp_ports{,6} (no slots) in the earlier layouts" \
    old_pins "bp_port_stats percpu_hash 8 24 65536" "bp_ports hash 8 12 65536" \
    "bp_port_stats6 percpu_hash 20 24 65536" "bp_ports6 hash 20 24 65536"
check_agent_starts "the agent starts over them"
says_replaced bp_ep_stats bp_port_stats bp_ports bp_port_stats6 bp_ports6
port_packets() { metric 'bridgeport_published_port_packets(_total)?' host_port=6200; }
check "the published port's counters restarted from 0" test "$(port_packets)" = 0
received() { metric bridgeport_container_network_receive_packets_total container=rsrv; }
before=$(received)
check "rsrv's counters restarted from 0 (thousands before)" test "${before:-0}" -lt 50
check "traffic between the containers" bp exec rpeer ping -q -c 3 -W 1 rsrv
counted() { [ "$(received)" -ge $((${before:-0} + 3)) ] 2>/dev/null; }
check "... is counted again" eventually 5 counted
check "the port is published again" in_ext python3 "$TOOLS/stream.py" 198.51.100.1 6200 1
check "... and its traffic counted" test "$(port_packets)" -gt 0

# An upgrade that changes the socket hooks' maps, a map the agent refills at start or a
# counter: their pins are replaced (a socket redirected before then sees its target's
# address; the drop counters restart from 0) instead of the agent refusing to start.
agent_stop
check "pins of bp_sock_marks, bp_sock_nat6, bp_subnets and bp_drops in other layouts" \
    old_pins "bp_sock_marks hash 8 4 1024" "bp_sock_nat6 hash 8 8 1024" "bp_subnets hash 8 8 1024" \
    "bp_drops hash 8 8 1024"
check_agent_starts "the agent starts over them"
says_replaced bp_sock_marks bp_sock_nat6 bp_subnets bp_drops
check_output "bp_sock_marks is a socket storage again" '^sk_storage$' \
    sh -c "bpftool -j map show pinned '$maps/bp_sock_marks' | jq -r .type"
check "bp_subnets holds the network's subnet again" bpftool map lookup pinned "$maps/bp_subnets" key 24 0 0 0 10 66 0 0
check "the port answers after it" in_ext python3 "$TOOLS/stream.py" 198.51.100.1 6200 1
check "the containers reach each other after it" bp exec rpeer ping -q -c 1 -W 1 rsrv

# An upgrade over the pins of a version before bp_ep_slots (the endpoints' entries by slot,
# which published flows find their container by): the agent makes the map and writes every
# endpoint's entry into its slot at start; and a slot that names a veth no entry holds (an
# agent stopped between the two maps' writes) is cleared.
agent_stop
rm -f "$maps/bp_ep_slots"
check_agent_starts "the agent starts over pins without bp_ep_slots"
# "slot:ifindex" of every entry: bp_endpoints' (by ifindex, naming a slot) or bp_ep_slots'
# (by slot, naming a veth), as bpftool shows them with their BTF.
slots_of() {
    bpftool -j map dump pinned "$maps/$1" | python3 -c '
import json, sys
for entry in json.load(sys.stdin):
    key, value = entry["formatted"]["key"], entry["formatted"]["value"]
    slot, veth = (value["stats_slot"], key) if sys.argv[1] == "bp_endpoints" else (key, value["ifindex"])
    if veth:
        print(f"{slot}:{veth}")' "$1" | sort | tr '\n' ' '
}
check "... and each endpoint's entry is in its slot ($(slots_of bp_endpoints))" \
    test -n "$(slots_of bp_endpoints)" -a "$(slots_of bp_endpoints)" = "$(slots_of bp_ep_slots)"
agent_stop
# Slot 16368 names veth 9999 (0x270f), which no entry of bp_endpoints holds (a value is the
# ifindex and a 52-byte bp_endpoint).
check "a stale slot, written while no agent runs" bpftool map update pinned "$maps/bp_ep_slots" \
    key 0xf0 0x3f 0 0 value 0x0f 0x27 $(printf '0 %.0s' $(seq 1 54))
check_agent_starts "the agent starts again"
check "... and clears the stale slot, keeping the others" \
    test -n "$(slots_of bp_endpoints)" -a "$(slots_of bp_endpoints)" = "$(slots_of bp_ep_slots)"
check "the published port still answers" in_ext python3 "$TOOLS/stream.py" 198.51.100.1 6200 1
