#!/usr/bin/env bash
# The ways a client outside the host reaches a container's server, over IPv4 and IPv6,
# measured side by side in one run. Usage: paths.sh BRIDGEPORT LOADGEN OUT_DIR
#
#   ext (client) --uplink A-- host A: Bridgeport's agent, dual-stack network benchnet, container srv
#                --uplink B-- host B: Docker's layout by hand: bridge docker0, container ctr,
#                                     iptables-nft and ip6tables-nft rules as dockerd writes them, socat
#
#   direct       client -> 172.17.0.2 (routed through host B, no NAT, no rules): the IPv4 limit
#   iptables     client -> 203.0.113.1:8080, DNAT by the nat DOCKER chain (host B)
#   proxy        client -> 203.0.113.1:9080, socat in host B connects to the container
#   bridgeport   client -> 198.51.100.1:8080, DNAT by Bridgeport's programs (host A)
#   direct6      client -> [fd00:17::2] (routed through host B, no NAT, no rules): the IPv6 limit
#   ip6tables    client -> [fd00:203::1]:8080, DNAT by ip6tables' nat DOCKER chain (host B)
#   bridgeport6  client -> [fd00:5100::1]:8080, DNAT66 by Bridgeport's programs (host A)
#
# BENCH_PATHS picks some of them (all by default). Host B never has Bridgeport's programs;
# host A never has iptables rules. Each path is measured at 1, 1,000 and 10,000 published
# ports per family, the measured ports published last. The IPv6 rows' ratios are to
# direct6, the IPv4 rows' to direct.
# Metrics: 1-byte transactions/s on one connection, connections/s (connect, 1-byte
# exchange, close) and iperf3 TCP throughput; the median of REPS runs, interleaved so
# that a slow moment of the machine hits every path alike.
#
# Small packets (IPv4: direct, iptables and bridgeport, those of BENCH_PATHS): one-way UDP
# datagrams of an 18-byte payload (the smallest Ethernet frame) over SMALL_FLOWS flows (64
# and 10,000 source ports, rotating per datagram: loadgen udp writes them on a raw socket)
# to the container's port 82 (published as 8082/udp), SMALL_PORTS published ports (1: only
# the measured ones), SMALL_SECONDS per run; the datagrams/s the container's receiver got,
# median of REPS interleaved runs. loadgen's sender first sends every flow a datagram
# (twice) and waits 200 ms, so that each flow's Bridgeport flow-table entry or iptables
# conntrack entry exists before the measured datagrams start: the rate is the steady
# state's, not the rate of new flows. (A one-way UDP flow stays NEW to conntrack, so
# iptables walks the filter chain for every datagram, its nat chain only for a flow's
# first.) Pinning: the sender on CPU 0, the receiver on the last CPU, for every path.
# Through veth every hop's receive runs in softirq on the sending CPU, so a path's cost per
# packet is paid on the sender's CPU, which sets the rate; the receiver only drains its
# socket on the other CPU (received ≈ sent shows that it keeps up).
# SMALL_ONLY=1 runs the small packets only (no TCP metrics, no publish times).
# SMALL_BPF_STATS=1 runs them with the agent's --bpf-stats, for the programs' time per
# workload in bpf-live.md (by default they run without, as the agent does).
#
# Writes OUT_DIR/paths.md (the table), paths.tsv (every median), publish.md (time to
# publish 10,000 ports), bpf-live.md (the programs' own run time during the runs, in all and per
# Bridgeport path and workload), and
# small-packets.md, small-packets.tsv (medians) and small-packets-raw.tsv (every run).
set -u
export BIN=$(readlink -f "$1")
LOADGEN=$(readlink -f "$2")
OUT=$(readlink -f "$3")
cd "$(dirname "$0")"
TAG=bppaths
METRICS_PORT=19479
source ../Tests/system/lib.sh

SECONDS_PER_RUN=${SECONDS_PER_RUN:-3}
TPUT_SECONDS=${TPUT_SECONDS:-5}   # iperf3 needs a little longer to settle
REPS=${REPS:-5}
PORT_COUNTS=${PORT_COUNTS:-"1 1000 10000"}
CRR_THREADS=${CRR_THREADS:-2}
DOCKER_NS=$TAG-docker       # host B
CTR_NS=$TAG-ctr             # host B's container
CTR_IP=172.17.0.2
CTR_IP6=fd00:17::2
PATHS=(${BENCH_PATHS:-direct iptables proxy bridgeport direct6 ip6tables bridgeport6})
SMALL_FLOWS=${SMALL_FLOWS:-"64 10000"}
SMALL_SECONDS=${SMALL_SECONDS:-$SECONDS_PER_RUN}
SMALL_PORTS=${SMALL_PORTS:-1}
SMALL_ONLY=${SMALL_ONLY:-}
SMALL_BPF_STATS=${SMALL_BPF_STATS:-}
SMALL_PATHS=()
for p in direct iptables bridgeport; do [[ " ${PATHS[*]} " == *" $p "* ]] && SMALL_PATHS+=("$p"); done

family_of() { case $1 in *6 | ip6tables) echo 6 ;; *) echo 4 ;; esac; }
# The path a path's ratios are to: the direct path of its family.
base_of() { [ "$(family_of "$1")" = 6 ] && echo direct6 || echo direct; }
# Whether an IPv6 path runs: only then is Bridgeport's network dual-stack and are its ports
# published on the IPv6 address too (an IPv4-only run stays as it was).
want_ipv6() { local p; for p in "${PATHS[@]}"; do [ "$(family_of "$p")" = 6 ] && return 0; done; return 1; }
# ipv6_on RUNNER DEV...: IPv6 on in a namespace of the sandbox and on its devices.
ipv6_on() { local run=$1 dev; shift; for dev in all default "$@"; do $run sysctl -qw "net.ipv6.conf.$dev.disable_ipv6=0"; done; }

# ---------------------------------------------------------------------------- sandbox

docker_host_up() {
    ip netns add "$DOCKER_NS"
    ip netns add "$CTR_NS"
    in_docker ip link set lo up
    in_docker sysctl -qw net.ipv4.ip_forward=1
    ip link add "$TAG-upb" netns "$DOCKER_NS" type veth peer name "$TAG-extb" netns "$EXT_NS"
    in_docker ip link add docker0 type bridge
    ip link add "$TAG-vb" netns "$DOCKER_NS" type veth peer name eth0 netns "$CTR_NS"
    ipv6_on in_docker "$TAG-upb" docker0 "$TAG-vb"
    ipv6_on in_ctr lo eth0
    ipv6_on in_ext "$TAG-extb"
    in_docker sysctl -qw net.ipv6.conf.all.forwarding=1
    in_docker ip addr add 203.0.113.1/24 dev "$TAG-upb"
    in_docker ip -6 addr add fd00:203::1/64 dev "$TAG-upb" nodad
    in_docker ip link set "$TAG-upb" up
    in_ext ip addr add 203.0.113.2/24 dev "$TAG-extb"
    in_ext ip -6 addr add fd00:203::2/64 dev "$TAG-extb" nodad
    in_ext ip link set "$TAG-extb" up
    in_ext ip route add 172.17.0.0/16 via 203.0.113.1
    in_ext ip -6 route add fd00:17::/64 via fd00:203::1
    in_docker ip addr add 172.17.0.1/16 dev docker0
    in_docker ip -6 addr add fd00:17::1/64 dev docker0 nodad
    in_docker ip link set docker0 up
    in_docker ip link set "$TAG-vb" master docker0 up
    in_ctr ip link set lo up
    in_ctr ip addr add "$CTR_IP/16" dev eth0
    in_ctr ip -6 addr add "$CTR_IP6/64" dev eth0 nodad
    in_ctr ip link set eth0 up
    in_ctr ip route add default via 172.17.0.1
    in_ctr ip -6 route add default via fd00:17::1
}

in_docker() { nsenter --net=/run/netns/"$DOCKER_NS" "$@"; }
in_ctr() { nsenter --net=/run/netns/"$CTR_NS" "$@"; }

CHILD=   # the measuring child (main, in the background)
bench_down() {
    set +e
    [ -n "$CHILD" ] && kill "$CHILD" 2>/dev/null && wait "$CHILD"
    for pid in $(pids_in_namespaces /run/netns/"$DOCKER_NS" /run/netns/"$CTR_NS"); do kill -KILL "$pid" 2>/dev/null; done
    ip netns del "$CTR_NS" 2>/dev/null
    ip netns del "$DOCKER_NS" 2>/dev/null
    AGENT_PID=$(cat "$STATE/agent.pid" 2>/dev/null)   # started by the child: stopped gently here
    sandbox_down
}
trap bench_down EXIT
trap 'exit 130' INT TERM

# The client opens tens of thousands of connections a second: a wide port range, in the
# client's namespace only (loadgen's server closes first, so the client holds no TIME_WAIT).
client_tuning() {
    in_ext sysctl -qw net.ipv4.ip_local_port_range="1024 65535"
}

start_in() {  # start_in NS_RUNNER command...: a server in the background, stopped with its namespace
    "$@" >/dev/null 2>&1 &
}

# ---------------------------------------------------------------------------- rules

# Docker's iptables layout for one bridge (docker0) and N published TCP ports: the nat
# DOCKER chain with a DNAT rule per port and the filter DOCKER chain with an ACCEPT per
# port, plus the fixed jumps dockerd installs. The measured ports come last (two TCP, then
# the small packets' UDP port 8082). With 6, the layout dockerd 27 writes with ip6tables
# for the bridge's IPv6 subnet (the same chains and rules, IPv6 addresses, ::1 for
# loopback, the DNAT target in brackets).
docker_ruleset() {  # docker_ruleset N [4|6]
    local n=$1 fillers=$(( $1 > 2 ? $1 - 2 : 0 ))
    python3 - "$fillers" "${2:-4}" "$CTR_IP" "$CTR_IP6" <<'EOF'
import sys
fillers, family, ctr4, ctr6 = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
if family == "6":
    ctr, filler_ip, subnet, loopback, host_len = ctr6, "fd00:17::3", "fd00:17::/64", "::1/128", 128
    dest = lambda ip, port: f"[{ip}]:{port}"
else:
    ctr, filler_ip, subnet, loopback, host_len = ctr4, "172.17.0.3", "172.17.0.0/16", "127.0.0.0/8", 32
    dest = lambda ip, port: f"{ip}:{port}"
# filler_ip: another container's address; the rules are only walked past
ports = [(20000 + i, filler_ip, 20000 + i, "tcp") for i in range(fillers)]
ports += [(8080, ctr, 81, "tcp"), (8081, ctr, 5202, "tcp"), (8082, ctr, 82, "udp")]
print("*nat\n:PREROUTING ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n:POSTROUTING ACCEPT [0:0]\n:DOCKER - [0:0]")
print("-A PREROUTING -m addrtype --dst-type LOCAL -j DOCKER")
print(f"-A OUTPUT ! -d {loopback} -m addrtype --dst-type LOCAL -j DOCKER")
print(f"-A POSTROUTING -s {subnet} ! -o docker0 -j MASQUERADE")
print("-A DOCKER -i docker0 -j RETURN")
for host, ip, port, proto in ports:
    print(f"-A DOCKER ! -i docker0 -p {proto} -m {proto} --dport {host} -j DNAT --to-destination {dest(ip, port)}")
print("COMMIT")
print("*filter\n:INPUT ACCEPT [0:0]\n:FORWARD DROP [0:0]\n:OUTPUT ACCEPT [0:0]\n:DOCKER - [0:0]")
print(":DOCKER-ISOLATION-STAGE-1 - [0:0]\n:DOCKER-ISOLATION-STAGE-2 - [0:0]\n:DOCKER-USER - [0:0]")
print("-A FORWARD -j DOCKER-USER\n-A FORWARD -j DOCKER-ISOLATION-STAGE-1")
print("-A FORWARD -o docker0 -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT")
print("-A FORWARD -o docker0 -j DOCKER")
print("-A FORWARD -i docker0 ! -o docker0 -j ACCEPT\n-A FORWARD -i docker0 -o docker0 -j ACCEPT")
for host, ip, port, proto in ports:
    print(f"-A DOCKER -d {ip}/{host_len} ! -i docker0 -o docker0 -p {proto} -m {proto} --dport {port} -j ACCEPT")
print("-A DOCKER-ISOLATION-STAGE-1 -i docker0 ! -o docker0 -j DOCKER-ISOLATION-STAGE-2")
print("-A DOCKER-ISOLATION-STAGE-1 -j RETURN")
print("-A DOCKER-ISOLATION-STAGE-2 -o docker0 -j DROP\n-A DOCKER-ISOLATION-STAGE-2 -j RETURN")
print("-A DOCKER-USER -j RETURN\nCOMMIT")
EOF
}

iptables_load() { docker_ruleset "$1" 4 | in_docker iptables-restore; }
ip6tables_load() { docker_ruleset "$1" 6 | in_docker ip6tables-restore; }
# The direct paths and the proxy run without rules: an empty ruleset (both families'
# tables) also unhooks conntrack.
iptables_flush() { in_docker nft flush ruleset; }

# Bridgeport: N-2 filler ports on a container of their own, then the measured container;
# on the uplink's IPv4 address, and on its IPv6 address too when an IPv6 path runs (N ports
# per family).
HOST_ADDRESSES=(198.51.100.1)
publish_args() {  # publish_args ARRAY HOST_PORTS CONTAINER_PORTS [FAMILY]: adds a -p per host address
    local -n args_=$1; local a
    for a in "${HOST_ADDRESSES[@]}"; do
        case ${4:-}/$a in 4/\[* | 6/[0-9]*) continue ;; esac
        args_+=(-p "$a:$2:$3")
    done
}
bridgeport_publish() {  # bridgeport_publish N [FAMILY]: the fillers in FAMILY only, if given
    local fillers=$(( $1 > 2 ? $1 - 2 : 0 )) fill=() srv=()
    bp rm -f srv fill >/dev/null 2>&1
    if [ "$fillers" -gt 0 ]; then
        local range="20000-$((20000 + fillers - 1))"
        publish_args fill "$range" "$range" "${2:-}"
        bp run -d --name fill --net benchnet "${fill[@]}" >/dev/null || return 1
    fi
    publish_args srv 8080 80
    publish_args srv 8081 5201
    publish_args srv 8082 82/udp   # the small packets' receiver, started per run (small_measure)
    bp run -d --name srv --net benchnet "${srv[@]}" \
        -- sh -c "taskset -c $SERVER_CPU \"$LOADGEN\" serve 80 & exec taskset -c $SERVER_CPU iperf3 -s -p 5201" >/dev/null || return 1
    local addr; addr=$(ip_of srv)
    wait_listening "$addr" 80 && wait_listening "$addr" 5201
}

wait_listening() {  # wait_listening IP PORT: from the container's side of things
    for _ in $(seq 1 100); do
        in_host bash -c "exec 3<>/dev/tcp/$1/$2" 2>/dev/null && return 0
        sleep 0.05
    done
    echo "nothing listens on $1:$2" >&2; return 1
}

# ---------------------------------------------------------------------------- measures

measure() {  # measure METRIC HOST PORT [IPERF_PORT]: one number on stdout, or "err"
    local metric=$1 host=$2 port=$3 out
    case $metric in
        rr)  out=$(in_ext taskset -c "$CLIENT_CPU" "$LOADGEN" rr "$host" "$port" "$SECONDS_PER_RUN") &&
                 awk '$1 == "transactions_per_second" { print $2 }' <<<"$out" ;;
        crr) out=$(in_ext taskset -c "$CLIENT_CPU" "$LOADGEN" crr "$host" "$port" "$SECONDS_PER_RUN" --threads "$CRR_THREADS") &&
                 awk '$1 == "connections_per_second" { print $2 }' <<<"$out" ;;
        tput) out=$(in_ext taskset -c "$CLIENT_CPU" iperf3 -c "$host" -p "$port" -t "$TPUT_SECONDS" -J) &&
                 python3 -c 'import json,sys; print(json.load(sys.stdin)["end"]["sum_received"]["bits_per_second"] / 1e9)' <<<"$out" ;;
    esac || { echo "measure $metric $host:$port failed: $out" >&2; echo err; }
}

# Where each path's client connects: "HOST RR_CRR_PORT IPERF_PORT [UDP_PORT]".
target_of() {
    case $1 in
        direct)     echo "$CTR_IP 80 5201 82" ;;
        iptables)   echo "203.0.113.1 8080 8081 8082" ;;
        proxy)      echo "203.0.113.1 9080 9081" ;;
        bridgeport) echo "198.51.100.1 8080 8081 8082" ;;
        direct6)     echo "$CTR_IP6 80 5201" ;;
        ip6tables)   echo "fd00:203::1 8080 8081" ;;
        bridgeport6) echo "fd00:5100::1 8080 8081" ;;
    esac
}

# Sets host B up for a path: the rules exist only while the iptables or ip6tables path runs.
prepare() {  # prepare PATH N
    case $1 in
        iptables)  iptables_load "$2" ;;
        ip6tables) ip6tables_load "$2" ;;
        *)         iptables_flush ;;
    esac
}

declare -A RESULT

# The agent holds a socket per published port and family (as Docker does), within its
# descriptor limit, which it can raise to the hard one only: when N ports in both families
# do not fit, the IPv4 paths run with the fillers on IPv4 and then the IPv6 paths with them
# on IPv6 (N ports per family in either case; each family's paths interleaved).
run_port_count() {  # run_port_count N
    local n=$1 family
    local raw=$STATE/raw-$n; : >"$raw"
    if want_ipv6 && [ $(( 2 * n + 1024 )) -gt "$(ulimit -Hn)" ]; then
        echo "  ports=$n: 2 × $n sockets exceed the descriptor limit $(ulimit -Hn): one family at a time" >&2
        for family in 4 6; do run_paths "$n" "$raw" "$family"; done
    else
        run_paths "$n" "$raw"
    fi
    iptables_flush
    local path metric
    for path in "${PATHS[@]}"; do
        for metric in rr crr tput; do
            RESULT[$path,$metric,$n]=$(awk -v p="$path" -v m="$metric" '$1 == p && $2 == m && $3 != "err" { print $3 }' "$raw" | median) ||
                RESULT[$path,$metric,$n]=err
        done
    done
}

run_paths() {  # run_paths N RAW [FAMILY]: REPS rounds over the paths (of FAMILY only, if given)
    local n=$1 raw=$2 family=${3:-} rep path metric paths=()
    for path in "${PATHS[@]}"; do [ -z "$family" ] || [ "$(family_of "$path")" = "$family" ] && paths+=("$path"); done
    [ "${#paths[@]}" -gt 0 ] || return 0
    bridgeport_publish "$n" "$family" || { echo "publishing $n ports on Bridgeport failed" >&2; exit 1; }
    for rep in $(seq 1 "$REPS"); do
        for path in "${paths[@]}"; do
            prepare "$path" "$n"
            read -r host port iperf <<<"$(target_of "$path")"
            for metric in rr crr tput; do
                local p=$port; [ "$metric" = tput ] && p=$iperf
                live_mark "$path" "$metric"
                echo "$path $metric $(measure "$metric" "$host" "$p")" >>"$raw"
                live_mark "$path" after
                printf '%s\t%s\t%s\t%s\t%s\n' "$n" "$rep" "$path" "$metric" "$(tail -1 "$raw" | cut -d' ' -f3)" >>"$OUT/paths-raw.tsv"
            done
        done
        echo "  ports=$n${family:+ IPv$family} rep $rep/$REPS done" >&2
    done
}

# ---------------------------------------------------------------------------- small packets

# small_measure PATH FLOWS: "RECEIVED SENT FLOWS_SEEN" of one run (datagrams/s, and the
# distinct source ports the receiver saw), or "err err err". The receiver is started for
# the run in the path's container: Bridgeport's through `bp exec` (in its cgroup, as a
# container's process is), host B's with nsenter.
small_measure() {
    local path=$1 flows=$2 host port out=$STATE/udp-recv.out pid sent=""
    read -r host _ _ port <<<"$(target_of "$path")"
    : >"$out"
    case $path in
        bridgeport) bp exec srv "$LOADGEN" udp-recv 82 --cpu "$SERVER_CPU" ;;
        *)          in_ctr "$LOADGEN" udp-recv 82 --cpu "$SERVER_CPU" ;;
    esac >"$out" 2>&1 </dev/null &
    pid=$!
    if wait_ready "$out" &&
        sent=$(in_ext "$LOADGEN" udp "$host" "$port" "$SMALL_SECONDS" --flows "$flows" --cpu "$CLIENT_CPU") &&
        wait "$pid"; then
        echo "$(field received_per_second <"$out") $(field sent_per_second <<<"$sent") $(field flows <"$out")"
    else
        kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null
        echo "small packets: $path, $flows flows failed: $(cat "$out") $sent" >&2
        echo "err err err"
    fi
}
field() { awk -v k="$1" '$1 == k { print $2 }'; }  # field NAME < loadgen's output

declare -A SMALL
small_packets() {
    local raw=$OUT/small-packets-raw.tsv flows rep path received sent seen
    printf 'flows\trep\tpath\treceived_pps\tsent_pps\tflows_seen\n' >"$raw"
    bridgeport_publish "$SMALL_PORTS" 4 || { echo "publishing on Bridgeport failed" >&2; exit 1; }
    for flows in $SMALL_FLOWS; do
        for rep in $(seq 1 "$REPS"); do
            for path in "${SMALL_PATHS[@]}"; do
                prepare "$path" "$SMALL_PORTS"
                live_mark "$path" "udp-$flows"
                read -r received sent seen <<<"$(small_measure "$path" "$flows")"
                live_mark "$path" after
                printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$flows" "$rep" "$path" "$received" "$sent" "$seen" >>"$raw"
            done
            echo "  small packets, $flows flows: rep $rep/$REPS done" >&2
        done
        for path in "${SMALL_PATHS[@]}"; do
            for column in 4 5; do
                SMALL[$path,$column,$flows]=$(awk -F'\t' -v f="$flows" -v p="$path" -v c="$column" \
                    '$1 == f && $3 == p && $c != "err" { print $c }' "$raw" | median) || SMALL[$path,$column,$flows]=err
            done
        done
    done
    iptables_flush
    small_report
}

# rep_ratio FLOWS PATH BASE: the median over the repetitions of PATH's received pps over
# BASE's in the same repetition, to two decimals; n/a without a pair. A repetition's paths
# run within seconds of each other, so a slow phase of the machine (this VM switches speed
# about 2x, from one minute to the next) hits both sides of a ratio, where a ratio of
# the medians could compare runs of different phases.
rep_ratio() {
    local m
    m=$(awk -F'\t' -v f="$1" -v p="$2" -v b="$3" '$1 == f && $4 != "err" && ($3 == p || $3 == b) { v[$2, $3] = $4; reps[$2] }
        END { for (r in reps) if ((r, p) in v && (r, b) in v && v[r, b] > 0) print v[r, p] / v[r, b] }' \
        "$OUT/small-packets-raw.tsv" | median) && printf '%.2f\n' "$m" || echo n/a
}

# small_report: small-packets.tsv (the medians and ratios) and small-packets.md (the table).
small_report() {
    local flows path raw=$OUT/small-packets-raw.tsv
    printf 'path\tflows\treceived_pps\tx_direct\tx_iptables\tsent_pps\n' >"$OUT/small-packets.tsv"
    for flows in $SMALL_FLOWS; do for path in "${SMALL_PATHS[@]}"; do
        printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$path" "$flows" "${SMALL[$path,4,$flows]}" "$(rep_ratio "$flows" "$path" direct)" \
            "$(rep_ratio "$flows" "$path" iptables)" "${SMALL[$path,5,$flows]}" >>"$OUT/small-packets.tsv"
    done; done
    {
        echo "One-way UDP datagrams of an 18-byte payload over $(echo $SMALL_FLOWS | sed 's/ / and /g') flows (source ports"
        echo "rotating per datagram), $SMALL_PORTS published port(s), to a receiver in the container: the datagrams/s"
        echo "it got, medians of $REPS runs of $SMALL_SECONDS s, interleaved path by path; a ratio is the median of the"
        echo "repetitions' ratios (each repetition measures every path in turn). Every flow sent"
        echo "a datagram before timing, so its flow-table or conntrack entry existed: the steady state, not"
        echo "the rate of new flows. Sender on CPU $CLIENT_CPU (every hop's softirq runs there too), receiver on CPU $SERVER_CPU."
        if [ -n "$BPF_STATS" ]; then echo "The agent runs with --bpf-stats (the kernel times every program run)."
        else echo "The agent runs as by default, without --bpf-stats."; fi
        echo
        echo "| flows | path | received pps | × direct | × iptables | sent pps |"
        echo "| --- | --- | --- | --- | --- | --- |"
        awk -F'\t' 'NR > 1 { printf "| %s | %s | %s | %s | %s | %s |\n", $2, $1,
            $3 == "err" ? "err" : sprintf("%.0f", $3), $4, $5, $6 == "err" ? "err" : sprintf("%.0f", $6) }' "$OUT/small-packets.tsv"
        echo
        printf 'Run-to-run spread of direct (± half the range over the median, received pps):'
        for flows in $SMALL_FLOWS; do
            local runs; runs=$(awk -F'\t' -v f="$flows" '$1 == f && $3 == "direct" && $4 != "err" { print $4 }' "$raw" | sort -g)
            [ -n "$runs" ] && printf ' %s flows ±%.0f%%;' "$flows" \
                "$(awk -v lo="$(head -1 <<<"$runs")" -v hi="$(tail -1 <<<"$runs")" -v m="$(median <<<"$runs")" 'BEGIN { print 50 * (hi - lo) / m }')"
        done | sed 's/;$/./'
        echo
    } >"$OUT/small-packets.md"
}

# ---------------------------------------------------------------------------- publish time

# Time to publish 10,000 ports: Bridgeport's API (one container, one request), then in
# host B iptables-restore of Docker's layout and one iptables call per rule as dockerd
# makes them (a DNAT and an ACCEPT per port).
publish_times() {
    local n=10000 start ms_bp ms_restore ms_calls
    bp rm -f fill srv >/dev/null 2>&1
    start=$(date +%s%N)
    bp run -d --name fill --net benchnet -p "198.51.100.1:20000-$((20000 + n - 1)):20000-$((20000 + n - 1))" >/dev/null || return 1
    ms_bp=$(( ($(date +%s%N) - start) / 1000000 ))
    bp rm -f fill >/dev/null

    iptables_flush
    start=$(date +%s%N)
    docker_ruleset $((n + 2)) | in_docker iptables-restore
    ms_restore=$(( ($(date +%s%N) - start) / 1000000 ))

    iptables_flush
    docker_ruleset 2 | in_docker iptables-restore   # the fixed chains, as after dockerd starts
    start=$(date +%s%N)
    in_docker bash -c 'for i in $(seq 0 '$((n - 1))'); do
        iptables -t nat -A DOCKER ! -i docker0 -p tcp -m tcp --dport $((20000 + i)) -j DNAT --to-destination 172.17.0.3:$((20000 + i)) &&
        iptables -t filter -A DOCKER -d 172.17.0.3/32 ! -i docker0 -o docker0 -p tcp -m tcp --dport $((20000 + i)) -j ACCEPT || exit 1
    done'
    ms_calls=$(( ($(date +%s%N) - start) / 1000000 ))
    iptables_flush
    {
        echo "| way to publish 10,000 ports | seconds | target ≤ 0.5 s |"
        echo "| --- | --- | --- |"
        echo "| Bridgeport API (one \`run -d -p 20000-29999:20000-29999\`, container included) | $(seconds "$ms_bp") | $([ "$ms_bp" -le 500 ] && echo met || echo missed) |"
        echo "| iptables-restore (Docker's layout: a DNAT and an ACCEPT per port) | $(seconds "$ms_restore") | |"
        echo "| one iptables call per rule (20,000 calls, as dockerd makes them) | $(seconds "$ms_calls") | |"
    } >"$OUT/publish.md"
}

# ---------------------------------------------------------------------------- report

# "transactions/s ±a%, ...": half of (max - min) / median of PATH's runs.
spread() {  # spread RAW_TSV PATH
    python3 - "$1" "$2" <<'EOF'
import csv, statistics, sys
runs = {}
for row in csv.DictReader(open(sys.argv[1]), delimiter="\t"):
    if row["path"] == sys.argv[2] and row["value"] != "err":
        runs.setdefault(row["metric"], []).append(float(row["value"]))
names = {"rr": "transactions/s", "crr": "connections/s", "tput": "throughput"}
print(", ".join(f"{names[m]} ±{50 * (max(v) - min(v)) / statistics.median(v):.0f}%" for m, v in runs.items()), end="")
EOF
}

seconds() { awk -v ms="$1" 'BEGIN { printf "%.3f", ms / 1000 }'; }

report() {
    local n path metric
    {
        echo "Medians of $REPS runs, interleaved path by path so that a slow moment of the machine hits"
        echo "every path alike: transactions/s and connections/s over $SECONDS_PER_RUN s, throughput (one iperf3"
        echo "stream) over $TPUT_SECONDS s; connections/s with $CRR_THREADS client threads. Clients run on CPU $CLIENT_CPU, servers"
        echo "on CPU $SERVER_CPU. Every single run is in paths-raw.tsv. The ports are per family; the ratios of the"
        echo "IPv6 rows (direct6, ip6tables, bridgeport6) are to direct6, those of the IPv4 rows to direct."
        echo
        echo "| ports | path | transactions/s | × direct | connections/s | × direct | throughput Gbit/s | × direct |"
        echo "| --- | --- | --- | --- | --- | --- | --- | --- |"
        for n in $PORT_COUNTS; do
            for path in "${PATHS[@]}"; do
                printf '| %s | %s' "$n" "$path"
                for metric in rr crr tput; do
                    local v=${RESULT[$path,$metric,$n]} d=${RESULT[$(base_of "$path"),$metric,$n]-}
                    local fmt='%.0f'; [ "$metric" = tput ] && fmt='%.2f'
                    [ "$v" = err ] && printf ' | err' || printf " | $fmt" "$v"
                    printf ' | %s' "$(ratio "$v" "$d")"
                done
                echo " |"
            done
        done
        echo
        echo "Run-to-run spread of the direct paths (± half the range over the median, all runs), the noise any"
        printf 'ratio here is read against:'
        for path in "${PATHS[@]}"; do
            [ "$path" = "$(base_of "$path")" ] && printf ' %s %s;' "$path" "$(spread "$OUT/paths-raw.tsv" "$path")"
        done | sed 's/;$/./'
        echo
    } >"$OUT/paths.md"
    {
        printf 'path\tports\tvalue\n'
        for path in "${PATHS[@]}"; do
            for n in $PORT_COUNTS; do printf '%s\t%s\t%s\n' "$path" "$n" "${RESULT[$path,crr,$n]}"; done
        done
    } >"$OUT/connection-rate.tsv"
    {
        printf 'path\tmetric\tports\tvalue\tratio\n'
        for path in "${PATHS[@]}"; do for metric in rr crr tput; do for n in $PORT_COUNTS; do
            printf '%s\t%s\t%s\t%s\t%s\n' "$path" "$metric" "$n" "${RESULT[$path,$metric,$n]}" \
                "$(ratio "${RESULT[$path,$metric,$n]}" "${RESULT[$(base_of "$path"),$metric,$n]-}")"
        done; done; done
    } >"$OUT/paths.tsv"
}

# The programs' BPF_ENABLE_STATS counters, from the agent's metrics: their lines only.
bpf_counters() { metrics | grep '^bridgeport_bpf_program_run'; }

# live_mark PATH WORKLOAD|after: the counters before and after a Bridgeport path's
# measurement, into STATE/bpf-live.log (bpf_live's per-workload table).
live_mark() {
    [[ $1 == bridgeport* ]] && [ -n "$BPF_STATS" ] || return 0
    if [ "$2" = after ]; then echo "# after"; else echo "# $1 $2"; fi >>"$STATE/bpf-live.log"
    bpf_counters >>"$STATE/bpf-live.log"
}

# The programs' own run time while real traffic went through them (BPF_ENABLE_STATS,
# read from the agent's metrics): average nanoseconds per run, over all the runs; then per
# Bridgeport path and workload, from the counters read around each of its measurements
# (STATE/bpf-live.log), so that a family's or a workload's share shows. The overall table
# is the TCP runs' (the target's): called again after the small packets, it keeps the
# counters it read first and adds their workloads to the second table.
bpf_live() {
    [ -s "$STATE/metrics" ] || bpf_counters >"$STATE/metrics"; : >>"$STATE/bpf-live.log"
    python3 - "$STATE/metrics" "$STATE/bpf-live.log" >"$OUT/bpf-live.md" <<'EOF'
import re, sys
from collections import defaultdict

def counters(lines):  # {(program, "runs_total" | "run_seconds_total"): value}
    found = defaultdict(float)
    for line in lines:
        m = re.match(r'bridgeport_bpf_program_(runs_total|run_seconds_total)\{([^}]*)\} (\S+)', line)
        if m:
            program = dict(re.findall(r'(\w+)="([^"]*)"', m.group(2))).get("program", "?")
            found[(program, m.group(1))] += float(m.group(3))
    return found

def row(*cells):
    print("| " + " | ".join(cells) + " |")

total = counters(open(sys.argv[1]))
row("program", "runs", "ns/run (live traffic)")
row("---", "---", "---")
for program in sorted({p for p, _ in total}):
    runs = total[(program, "runs_total")]
    if runs > 0:
        row(program, f"{runs:.0f}", f"{total[(program, 'run_seconds_total')] / runs * 1e9:.0f}")

# The log: "# PATH METRIC", the counters, "# after", the counters; per measurement.
by_run = defaultdict(float)
blocks = open(sys.argv[2]).read().split("# ")[1:]
for before, after in zip(blocks[0::2], blocks[1::2]):
    path, metric = before.split("\n", 1)[0].split()
    a, b = counters(before.splitlines()), counters(after.splitlines())
    for key in b:
        by_run[(path, metric) + key] += b[key] - a.get(key, 0)
print()
print("The same per Bridgeport path and workload (the counters read around each measurement):")
print()
row("path", "workload", "program", "runs", "ns/run (live traffic)")
row("---", "---", "---", "---", "---")
for path, metric, program in sorted({k[:3] for k in by_run}):
    runs = by_run[(path, metric, program, "runs_total")]
    if runs >= 1000:
        row(path, metric, program, f"{runs:.0f}", f"{by_run[(path, metric, program, 'run_seconds_total')] / runs * 1e9:.0f}")
EOF
}

# ---------------------------------------------------------------------------- main

main() {
    mkdir -p "$OUT"
    printf 'ports\trep\tpath\tmetric\tvalue\n' >"$OUT/paths-raw.tsv"
    sandbox_up
    docker_host_up
    client_tuning
    if want_ipv6; then ipv6_uplink || exit 1; fi   # fd00:5100::1 on host A's uplink, ::2 in ext
    # The TCP runs count the programs' own run time (bpf-live.md), which needs the agent's
    # --bpf-stats; the small packets run as the agent runs by default, without the kernel's
    # statistics (two clock reads per program run), unless SMALL_BPF_STATS=1.
    BPF_STATS=--bpf-stats; [ -n "$SMALL_ONLY" ] && [ -z "$SMALL_BPF_STATS" ] && BPF_STATS=
    agent_start $BPF_STATS || exit 1
    if want_ipv6; then
        HOST_ADDRESSES+=('[fd00:5100::1]')
        bp network create --ipv6 --subnet 10.77.0.0/16 --subnet fd00:77::/64 benchnet >/dev/null || exit 1
    else
        bp network create --subnet 10.77.0.0/16 benchnet >/dev/null || exit 1
    fi
    # The direct path and the iptables path reach different server ports: otherwise a
    # path's new connections would meet the server's TIME_WAIT sockets of the path before,
    # whose TCP timestamps (offset per destination address as the client sees it) PAWS
    # rejects, and each such SYN would wait a second for its retransmission.
    start_in in_ctr taskset -c "$SERVER_CPU" "$LOADGEN" serve 80 81
    start_in in_ctr taskset -c "$SERVER_CPU" iperf3 -s -p 5201
    start_in in_ctr taskset -c "$SERVER_CPU" iperf3 -s -p 5202
    start_in in_docker socat TCP-LISTEN:9080,bind=203.0.113.1,fork,reuseaddr TCP:$CTR_IP:80
    start_in in_docker socat TCP-LISTEN:9081,bind=203.0.113.1,fork,reuseaddr TCP:$CTR_IP:5201
    in_ext ip neigh >/dev/null
    if [ -z "$SMALL_ONLY" ]; then
        for n in $PORT_COUNTS; do run_port_count "$n"; done
        bpf_live
        report
    fi
    if [ "${#SMALL_PATHS[@]}" -gt 0 ]; then
        if [ -n "$BPF_STATS" ] && [ -z "$SMALL_BPF_STATS" ]; then
            BPF_STATS=; agent_stop; agent_start || exit 1  # its containers and ports stay
        fi
        small_packets
        [ -z "$BPF_STATS" ] || bpf_live
    fi
    if [ -z "$SMALL_ONLY" ]; then
        publish_times || echo "publish timing failed" >&2
        cat "$OUT/paths.md"
    fi
    [ "${#SMALL_PATHS[@]}" -eq 0 ] || cat "$OUT/small-packets.md"
}

# The run is a background child that the shell waits for: unlike a foreground job, wait
# lets the traps run, so Ctrl-C ends the whole run and cleans up even when the program it
# hit catches SIGINT (the agent, the bridgeport CLI) instead of dying of it.
main &
CHILD=$!
wait "$CHILD"
rc=$? CHILD=
exit $rc
