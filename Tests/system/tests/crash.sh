# Fault injection: a stream of API operations (networks and containers created and
# removed, ports published with them) while the agent is killed with SIGKILL at random
# points, sometimes in the middle of an operation. After each restart: every acknowledged
# operation is there, an interrupted one is whole or absent, and no veth, namespace, BPF
# map entry or link pin is left over. The reconcile report says what was repaired.
OPS=${CRASH_OPS:-200}
SEED=${CRASH_SEED:-$RANDOM}
RANDOM=$SEED
echo "  (seed $SEED picks the operations and kill points; CRASH_SEED=$SEED picks them again, timing aside)"
agent_start || { fail "agent starts"; return; }

declare -A NETS=()        # name -> 1 for networks that must exist
declare -A CTRS=()        # name -> 1 for containers that must exist
UNSURE=""                 # the operation a kill interrupted: either outcome is right
next=0
kills=0
repairs=0
problems=0

problem() { problems=$((problems + 1)); [ "$problems" -le 10 ] && echo "        $*"; }

# One operation, chosen at random from what the model allows; sets OP to its command line.
pick_op() {
    local nets=("${!NETS[@]}") ctrs=("${!CTRS[@]}") r=$((RANDOM % 10))
    next=$((next + 1))
    if [ ${#nets[@]} -lt 2 ] || { [ $r -eq 0 ] && [ ${#nets[@]} -lt 6 ]; }; then
        OP="network create --subnet 10.$((100 + next % 100)).$((next / 100)).0/24 n$next"
    elif [ $r -eq 1 ]; then
        local n=${nets[RANDOM % ${#nets[@]}]}
        OP="network rm $n"
    elif [ $r -le 5 ] || [ ${#ctrs[@]} -eq 0 ]; then
        local n=${nets[RANDOM % ${#nets[@]}]} ports=""
        [ $((RANDOM % 2)) -eq 0 ] && ports="-p $((20000 + next)):80 -p $((40000 + next)):53/udp"
        OP="run -d --name c$next --net $n $ports"
    else
        OP="rm -f ${ctrs[RANDOM % ${#ctrs[@]}]}"
    fi
}

# What an acknowledged operation changes in the model.
apply_op() {
    set -- $1
    case "$1 $2" in
        "network create") NETS[${!#}]=1 ;;
        "network rm") unset "NETS[$3]" ;;
        "run -d") CTRS[$4]=1 ;;
        "rm -f") unset "CTRS[$3]" ;;
    esac
}

# After a restart, the interrupted operation's object is read back from the agent.
resolve_unsure() {
    [ -n "$UNSURE" ] || return
    set -- $UNSURE
    case "$1 $2" in
        "network create"|"network rm")
            local n=${!#}; [ "$1 $2" = "network rm" ] && n=$3
            if bp network inspect "$n" >/dev/null 2>&1; then NETS[$n]=1; else unset "NETS[$n]"; fi ;;
        "run -d"|"rm -f")
            local c=$3; [ "$1" = run ] && c=$4
            if bp inspect "$c" >/dev/null 2>&1; then CTRS[$c]=1; else unset "CTRS[$c]"; fi ;;
    esac
    UNSURE=""
}

# The host matches the model: the same networks and containers, one bridge per bridge
# network, one veth and one namespace per container, BPF entries for exactly those.
check_consistent() {
    local want got
    want=$(printf '%s\n' "${!NETS[@]}" bridge host none | sort)
    got=$(bp network ls | awk 'NR > 1 { print $2 }' | sort)
    [ "$want" = "$got" ] || problem "networks: want $(echo $want) got $(echo $got)"
    want=$(printf '%s\n' "${!CTRS[@]}" | sed '/^$/d' | sort)
    got=$(bp ps -a | awk 'NR > 1 { print $NF }' | sort)
    [ "$want" = "$got" ] || problem "containers: want $(echo $want) got $(echo $got)"
    local count=${#CTRS[@]}
    got=$(in_host ip -o link show type veth | grep -vc " $TAG-up@")
    [ "$got" = "$count" ] || problem "veths: want $count got $got"
    got=$(ls "$STATE/state/netns" | wc -l)
    [ "$got" = "$count" ] || problem "namespaces: want $count got $got"
    got=$(in_host ip -o link show type bridge | wc -l)
    [ "$got" = "$(( ${#NETS[@]} + 1 ))" ] || problem "bridges: want $(( ${#NETS[@]} + 1 )) got $got"
    got=$(bpftool map dump pinned "$STATE/bpf/maps/bp_endpoints" 2>/dev/null | grep -c '"key"')
    [ "$got" = "$count" ] || problem "bp_endpoints entries: want $count got $got"
    local ports=0 c
    for c in "${!CTRS[@]}"; do ports=$((ports + $(bp port "$c" 2>/dev/null | grep -c .))); done
    got=$(bpftool map dump pinned "$STATE/bpf/maps/bp_ports" 2>/dev/null | grep -c '"key"')
    [ "$got" = "$ports" ] || problem "bp_ports entries: want $ports got $got"
    got=$(ls "$STATE/bpf/links" | grep -v -e '^cgroup_' -e "^$TAG-up_" | wc -l)
    [ "$got" = 0 ] || problem "link pins of gone interfaces: $(ls "$STATE/bpf/links" | tr '\n' ' ')"
}

kill_agent() {
    [ -n "$AGENT_PID" ] || return
    { kill -KILL "$AGENT_PID"; wait "$AGENT_PID"; } 2>/dev/null
    AGENT_PID=
    kills=$((kills + 1))
}

restart() {
    kill_agent
    local before; before=$(grep -c 'reconcile:' "$AGENT_LOG")
    agent_start || { problem "agent did not restart after kill $kills"; return 1; }
    repairs=$((repairs + $(grep -c 'reconcile:' "$AGENT_LOG") - before))
}

for i in $(seq 1 "$OPS"); do
    pick_op
    if [ $((RANDOM % 12)) -eq 0 ]; then
        # Kill the agent while this operation is in flight (or just before/after it).
        "$BIN" $OP >/dev/null 2>&1 &
        op_pid=$!
        sleep "$(printf '0.%03d' $((RANDOM % 150)))"
        kill_agent
        wait "$op_pid"; rc=$?
        [ $rc -eq 0 ] && apply_op "$OP" || UNSURE=$OP
        restart || break
        resolve_unsure
        check_consistent
    else
        "$BIN" $OP >/dev/null 2>&1 && apply_op "$OP"
        if [ $((RANDOM % 25)) -eq 0 ]; then
            restart || break
            check_consistent
        fi
    fi
done
check_consistent
[ "$problems" = 0 ] && pass "$OPS operations, $kills SIGKILLs: every acknowledged operation kept, nothing half-made or left over" ||
    fail "$problems inconsistencies after $kills SIGKILLs (seed $SEED)"
echo "        reconcile reported $repairs repairs; $(grep 'reconcile:' "$AGENT_LOG" | sed 's/.*reconcile: //' | sort | uniq -c | sort -rn | head -5 | tr '\n' ';')"
check_output "containers still answer after it all" '^ok$' bash -c "
    c=\$('$BIN' ps -q | head -1); [ -z \"\$c\" ] && echo ok || '$BIN' exec \"\$c\" true && echo ok"
