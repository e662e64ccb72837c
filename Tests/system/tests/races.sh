# Two CLI calls racing for the same name, address or host port: exactly one wins, the
# other gets Docker's error and leaves nothing behind.
agent_start || { fail "agent starts"; return; }
check "a network" bp network create --subnet 10.62.0.0/24 race

# race TAG -- ARGS...: runs `bridgeport ARGS` twice at once (ARGS may hold {} for 1 or 2);
# prints the two exit codes, sorted, and keeps the outputs in $STATE/race-TAG-{1,2}.
race() {
    local tag=$1; shift 2
    local pids=() i
    for i in 1 2; do
        local args=("${@//\{\}/$i}")
        "$BIN" "${args[@]}" >"$STATE/race-$tag-$i" 2>&1 &
        pids+=($!)
    done
    local codes=()
    for i in 0 1; do wait "${pids[$i]}"; codes+=($?); done
    printf '%s\n' "${codes[@]}" | sort -n | tr '\n' ' '
}

for round in 1 2 3; do
    codes=$(race name$round -- run -d --name same$round --net race)
    [ "$codes" = "0 125 " ] && pass "same name, round $round: one wins, one gets 125" || fail "same name, round $round: exit codes $codes"
    grep -qh 'is already in use' "$STATE"/race-name$round-* && pass "  ... with Docker's conflict message" || fail "  ... no conflict message"

    codes=$(race ip$round -- run -d --name ip$round-{} --net race --ip 10.62.0.$((100 + round)))
    [ "$codes" = "0 125 " ] && pass "same address, round $round: one wins" || fail "same address, round $round: exit codes $codes"
    grep -qh "Address already in use: 10.62.0.$((100 + round))" "$STATE"/race-ip$round-* && pass "  ... with the address in the message" || fail "  ... no address message"

    codes=$(race port$round -- run -d --name port$round-{} --net race -p $((7000 + round)):80)
    [ "$codes" = "0 125 " ] && pass "same host port, round $round: one wins" || fail "same host port, round $round: exit codes $codes"
    grep -qh 'port is already allocated' "$STATE"/race-port$round-* && pass "  ... with Docker's message" || fail "  ... no allocation message"

    codes=$(race net$round -- network create --subnet 10.$((70 + round)).0.0/24 net$round)
    [ "$codes" = "0 1 " ] && pass "same network name, round $round: one wins" || fail "same network name, round $round: exit codes $codes"
done
check_output "exactly the winners exist: 9 containers" '^9$' bash -c "'$BIN' ps -a -q | wc -l"
check_output "one veth per container, nothing half-made" '^9$' bash -c \
    "nsenter --net=/run/netns/$HOST_NS ip -o link show type veth | grep -vc ' $TAG-up@'"
check_output "one network namespace per container" '^9$' bash -c "ls '$STATE/state/netns' | wc -l"
