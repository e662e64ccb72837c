# The one library of the system tests, the runtime tests, the demo and the benchmarks.
# Sandbox: a "host" network namespace where the agent runs, an "ext" namespace for an
# external client joined by a veth that plays the host's uplink, and a state directory of
# our own. Nothing touches the machine's own network; `sandbox_down` removes everything
# and runs on every exit. Then assertions (check...), probes and waits (ip_of, ext_probe,
# wait_ready), an upstream DNS server (dns_stub), the agent's metrics (metric, drops by
# reason label), CNI as a runtime runs it, and from stats.sh median, percentile and ratio.
#
#   ext (uplink peer 198.51.100.2/24) <--veth--> host (uplink 198.51.100.1/24) -- bridges -- containers

: "${BIN:?set BIN to the bridgeport binary}"
BIN=$(readlink -f "$BIN")
TAG=${TAG:-bp$$}
HOST_NS=$TAG-host
EXT_NS=$TAG-ext
STATE=${STATE:-$(mktemp -d /tmp/bridgeport-$TAG.XXXX)}
export BRIDGEPORT_SOCKET=$STATE/agent.sock
METRICS_PORT=${METRICS_PORT:-19477}
AGENT_PID=
AGENT_LOG=$STATE/agent.log
# The agents' configuration file (daemon.json), "{}" from sandbox_up: a test writes its
# settings there before it starts an agent; the machine's /etc/bridgeport/daemon.json is never read.
DAEMON_JSON=$STATE/daemon.json
# A cgroup v2 directory of our own: the agent's socket hooks attach there, never to the
# machine's root cgroup. The agent, its containers and host-side clients run inside it.
CGROUP=$(awk '$3 == "cgroup2" { print $2; exit }' /proc/mounts)/$TAG
# Benchmarks run servers on the last CPU and clients on the first, so that a run does not
# depend on where the scheduler puts them: on this 2-CPU VM a TCP stream runs 40 Gbit/s
# across the two CPUs and 55 on one, and request/response rates vary twofold.
SERVER_CPU=$(( $(nproc) - 1 ))
CLIENT_CPU=0
# The test tools (echo.py, probe.py, craft.py, ...), and median, percentile and ratio.
TOOLS=$(cd "$(dirname "${BASH_SOURCE[0]}")/tools" && pwd)
source "$(dirname "${BASH_SOURCE[0]}")/stats.sh"

sandbox_up() {
    mkdir -p "$CGROUP"
    echo '{}' >"$DAEMON_JSON"
    ip netns add "$HOST_NS"
    ip netns add "$EXT_NS"
    ip link add "$TAG-up" netns "$HOST_NS" type veth peer name "$TAG-ext" netns "$EXT_NS"
    in_host ip link set lo up
    in_host ip addr add 198.51.100.1/24 dev "$TAG-up"
    in_host ip link set "$TAG-up" up
    in_ext ip link set lo up
    in_ext ip addr add 198.51.100.2/24 dev "$TAG-ext"
    in_ext ip link set "$TAG-ext" up
}

# netns_add NAME: one more namespace of the sandbox (a LAN, another host), lo up;
# sandbox_down removes it.
EXTRA_NAMESPACES=()
netns_add() { ip netns add "$1" && EXTRA_NAMESPACES+=("$1") && ip -n "$1" link set lo up; }

# ipv6_uplink: IPv6 on the sandbox's uplink, in its namespaces only: the host's end
# fd00:5100::1/64, the external client's fd00:5100::2/64 (ULA, no DAD).
ipv6_uplink() {
    local dev
    for dev in all default "$TAG-up"; do in_host sysctl -qw "net.ipv6.conf.$dev.disable_ipv6=0"; done
    for dev in all default "$TAG-ext"; do in_ext sysctl -qw "net.ipv6.conf.$dev.disable_ipv6=0"; done
    in_host ip -6 addr add fd00:5100::1/64 dev "$TAG-up" nodad && in_ext ip -6 addr add fd00:5100::2/64 dev "$TAG-ext" nodad
}

# Run a command in the sandbox's host or external namespace (nsenter keeps /sys and bpffs).
in_host() { nsenter --net=/run/netns/"$HOST_NS" "$@"; }
# ... in the sandbox's cgroup too: what the host's own processes see (socket hooks apply).
in_host_cgroup() { sh -c 'echo $$ >"$0/cgroup.procs" && exec "$@"' "$CGROUP" nsenter --net=/run/netns/"$HOST_NS" "$@"; }
in_ext() { nsenter --net=/run/netns/"$EXT_NS" "$@"; }
# A LAN namespace beside the host, for the tests that need one (netns_add "$LAN_NS" makes it).
LAN_NS=$TAG-lan
in_lan() { nsenter --net=/run/netns/"$LAN_NS" "$@"; }
# lan_uplink NAME SUBNET...: a veth from the LAN namespace moved into the host as uplink NAME
# (as after the agent started): lan0 198.18.7.2/24 in the LAN, NAME 198.18.7.1/24 in the
# host, which is the LAN's way to each SUBNET.
lan_uplink() {
    local name=$1 subnet; shift
    ip -n "$LAN_NS" link add lan0 type veth peer name "$name" && ip -n "$LAN_NS" link set "$name" netns "$HOST_NS" &&
        ip -n "$LAN_NS" addr add 198.18.7.2/24 dev lan0 && ip -n "$LAN_NS" link set lan0 up || return
    for subnet in "$@"; do ip -n "$LAN_NS" route add "$subnet" via 198.18.7.1 || return; done
    ip -n "$HOST_NS" addr add 198.18.7.1/24 dev "$name" && ip -n "$HOST_NS" link set "$name" up
}

# ---- a cluster: hosts 1..N, each a namespace with its own agent, on an underlay bridge in
# one more namespace where etcd runs.
#   underlay: bridge ul 198.19.2.254 (etcd :2379) -- u1 .. uN
#   host N:   eth0 198.19.2.N -- agent --cluster-store etcd://198.19.2.254:2379 --advertise-address 198.19.2.N
UNDER_NS=$TAG-under
in_under() { nsenter --net=/run/netns/"$UNDER_NS" "$@"; }
# in_h N command...: in host N's namespace.
in_h() { local n=$1; shift; nsenter --net=/run/netns/"$TAG-h$n" "$@"; }
# on N bridgeport-args...: the CLI against host N's agent.
on() { local n=$1; shift; BRIDGEPORT_SOCKET=$STATE/h$n/agent.sock "$BIN" "$@"; }
# metrics_on N: host N's agent's metrics.
metrics_on() { in_h "$1" curl -s "http://127.0.0.1:$METRICS_PORT/metrics"; }

cluster_up() {  # cluster_up HOSTS: the namespaces and etcd (agents: start_host N)
    # The agents' daemon.json: a benchmark has no sandbox_up to write it.
    [ -e "$DAEMON_JSON" ] || echo '{}' >"$DAEMON_JSON"
    netns_add "$UNDER_NS"
    in_under ip link add ul type bridge
    in_under ip addr add 198.19.2.254/24 dev ul
    in_under ip link set ul up
    for n in $(seq 1 "$1"); do
        netns_add "$TAG-h$n"
        ip link add u$n netns "$UNDER_NS" type veth peer name eth0 netns "$TAG-h$n"
        in_under ip link set u$n master ul up
        ip -n "$TAG-h$n" addr add 198.19.2.$n/24 dev eth0
        ip -n "$TAG-h$n" link set eth0 up
    done
    in_under etcd --name sandbox --data-dir "$STATE/etcd" --listen-client-urls http://198.19.2.254:2379 \
        --advertise-client-urls http://198.19.2.254:2379 --listen-peer-urls http://127.0.0.1:2380 \
        --initial-advertise-peer-urls http://127.0.0.1:2380 --initial-cluster sandbox=http://127.0.0.1:2380 >"$STATE/etcd.log" 2>&1 &
    for _ in $(seq 1 100); do in_under curl -sf http://198.19.2.254:2379/health >/dev/null && return 0; sleep 0.1; done
    cat "$STATE/etcd.log"; return 1
}

start_host() {  # start_host N [AGENT_ARGS...]: the agent of host N (own state, socket, BPF root and cgroup)
    local n=$1 dir=$STATE/h$1
    mkdir -p "$dir" "$CGROUP/h$n"
    sh -c 'echo $$ >"$0/cgroup.procs" && exec "$@"' "$CGROUP/h$n" \
        "$BIN" daemon --netns "$TAG-h$n" --state-dir "$dir/state" --bpf-root "$dir/bpf" --cgroup "$CGROUP/h$n" \
        --socket "$dir/agent.sock" --metrics-address 127.0.0.1:$METRICS_PORT --config-file "$DAEMON_JSON" \
        --cluster-store etcd://198.19.2.254:2379 --advertise-address 198.19.2.$n "${@:2}" >>"$dir/agent.log" 2>&1 &
    echo $! >"$dir/agent.pid"
    for _ in $(seq 1 200); do
        [ -S "$dir/agent.sock" ] && on "$n" network ls >/dev/null 2>&1 && return 0
        kill -0 "$(cat "$dir/agent.pid")" 2>/dev/null || { cat "$dir/agent.log"; return 1; }
        sleep 0.05
    done
    cat "$dir/agent.log"; return 1
}

stop_host() {  # stop_host N [SIGNAL]: stops host N's agent (TERM by default) and waits for it
    local pid; pid=$(cat "$STATE/h$1/agent.pid")
    kill -"${2:-TERM}" "$pid" 2>/dev/null
    while kill -0 "$pid" 2>/dev/null; do sleep 0.05; done
    rm -f "$STATE/h$1/agent.pid"  # gone: sandbox_down must not signal its PID, which may be reused
}

agent_start() {
    sh -c 'echo $$ >"$0/cgroup.procs" && exec "$@"' "$CGROUP" \
        ${AGENT_ENTER:-} "$BIN" daemon --netns "$HOST_NS" --state-dir "$STATE/state" --bpf-root "$STATE/bpf" --cgroup "$CGROUP" \
        --socket "$BRIDGEPORT_SOCKET" --metrics-address "127.0.0.1:$METRICS_PORT" --config-file "$DAEMON_JSON" \
        ${AGENT_ARGS:-} "$@" >>"$AGENT_LOG" 2>&1 &
    AGENT_PID=$!
    echo "$AGENT_PID" >"$STATE/agent.pid"
    for _ in $(seq 1 200); do
        [ -S "$BRIDGEPORT_SOCKET" ] && "$BIN" network ls >/dev/null 2>&1 && return 0
        kill -0 "$AGENT_PID" 2>/dev/null || { echo "agent exited:"; cat "$AGENT_LOG"; return 1; }
        sleep 0.05
    done
    echo "agent did not come up:"; cat "$AGENT_LOG"; return 1
}

# terminate PID SECONDS: SIGTERM to a process we started, SECONDS for it to end, then SIGKILL.
terminate() {
    kill -TERM "$1" 2>/dev/null
    for _ in $(seq 1 $(($2 * 20))); do kill -0 "$1" 2>/dev/null || break; sleep 0.05; done
    kill -KILL "$1" 2>/dev/null
}

agent_stop() {
    [ -n "$AGENT_PID" ] || return 0
    terminate "$AGENT_PID" 5
    wait "$AGENT_PID" 2>/dev/null
    AGENT_PID=
}

# bench_sandbox [AGENT_ARGS...]: for a script run on its own (a benchmark): the sandbox,
# removed when the script exits, and the agent in it.
bench_sandbox() { trap sandbox_down EXIT; sandbox_up && agent_start "$@"; }

# PIDs of every process whose network namespace is one of the given files.
pids_in_namespaces() {
    local inodes="" f p
    for f in "$@"; do [ -e "$f" ] && inodes+=" $(stat -L -c %i "$f" 2>/dev/null)"; done
    [ -n "$inodes" ] || return 0
    for p in /proc/[0-9]*; do
        local ino; ino=$(stat -L -c %i "$p/ns/net" 2>/dev/null) || continue
        case " $inodes " in *" $ino "*) echo "${p#/proc/}";; esac
    done
}

# sandbox_mount_namespace: a mount namespace of the sandbox's own, at $STATE/mnt/ns, for a
# runtime daemon and the agent to share (AGENT_ENTER="nsenter --mount=$STATE/mnt/ns"): what
# they mount (namespaces, /etc/docker) never shows in the machine's.
sandbox_mount_namespace() {
    mkdir -p "$STATE/mnt" && mount --bind "$STATE/mnt" "$STATE/mnt" && mount --make-private "$STATE/mnt" &&
        touch "$STATE/mnt/ns" && unshare --mount="$STATE/mnt/ns" --propagation private true
}

# on_down COMMAND...: sandbox_down runs it first (a runtime's own cleanup), the last given first.
DOWN_HOOKS=()
on_down() { DOWN_HOOKS=("$*" "${DOWN_HOOKS[@]}"); }

sandbox_down() {
    set +e
    for hook in "${DOWN_HOOKS[@]}"; do eval "$hook"; done
    agent_stop
    # A cluster's agents that still run (start_host) stop as a user stops them, KILLed after
    # 5 s; only a PID still in its host's cgroup is its agent (one that died may be reused).
    local pidfile host pid
    for pidfile in "$STATE"/h*/agent.pid; do
        [ -e "$pidfile" ] || continue
        host=$(basename "$(dirname "$pidfile")") pid=$(cat "$pidfile")
        grep -qx "$pid" "$CGROUP/$host/cgroup.procs" 2>/dev/null && terminate "$pid" 5
    done
    # Containers and their supervisors live in the sandbox's namespaces: stop them by PID.
    local files=(/run/netns/"$HOST_NS" /run/netns/"$EXT_NS" "$STATE"/state/netns/* "$STATE"/*/state/netns/*)
    for ns in "${EXTRA_NAMESPACES[@]}"; do files+=(/run/netns/"$ns"); done
    for pid in $(pids_in_namespaces "${files[@]}") $(find "$CGROUP" -name cgroup.procs -exec cat {} + 2>/dev/null); do kill -KILL "$pid" 2>/dev/null; done
    for f in "$STATE"/state/netns/* "$STATE"/*/state/netns/*; do [ -e "$f" ] && { umount -l "$f" 2>/dev/null; rm -f "$f"; }; done
    ip netns del "$HOST_NS" 2>/dev/null
    ip netns del "$EXT_NS" 2>/dev/null
    for ns in "${EXTRA_NAMESPACES[@]}"; do ip netns del "$ns" 2>/dev/null; done
    for d in "$STATE/bpf" "$STATE"/*/bpf; do mountpoint -q "$d" && umount -l "$d"; done
    # Whatever else a runtime mounted under the state directory (deepest first).
    awk -v s="$STATE/" 'index($2, s) == 1 { print $2 }' /proc/self/mounts | sort -r | while read -r m; do umount -l "$m"; done
    # The cgroup and what runtimes made under it: in cgroup v2 and, on a hybrid machine, in every v1 hierarchy.
    local tree
    for tree in "$CGROUP" $(awk -v t="$TAG" '$3 == "cgroup" { print $2 "/" t }' /proc/mounts); do
        for _ in $(seq 1 50); do
            [ -d "$tree" ] || break
            find "$tree" -depth -type d -exec rmdir {} + 2>/dev/null || sleep 0.05
        done
    done
    rm -rf "$STATE"
}

# --- assertions: each prints one line and counts ---
PASSED=0
FAILED=0
pass() { PASSED=$((PASSED + 1)); echo "  ok    $*"; }
fail() { FAILED=$((FAILED + 1)); echo "  FAIL  $*"; }

# check "description" command...: passes when the command exits 0.
check() {
    local what=$1; shift
    local out
    if out=$("$@" 2>&1); then pass "$what"; else fail "$what"; echo "$out" | sed 's/^/        /' | head -20; fi
}

# check_agent_starts "description" [AGENT_ARGS...]: agent_start, in this shell: check's
# subshell would lose AGENT_PID, and the next agent_stop would leave that agent running.
check_agent_starts() {
    local what=$1; shift
    if agent_start "$@" >"$STATE/agent-start.out" 2>&1; then pass "$what"
    else fail "$what"; sed 's/^/        /' "$STATE/agent-start.out" | tail -20; fi
}

# check_fails "description" EXPECTED_CODE PATTERN command...: the command must fail with
# that exit code and print PATTERN (a grep -E regex) on stderr (or stdout, for tools
# such as ping that report there).
check_fails() {
    local what=$1 code=$2 pattern=$3; shift 3
    local err rc
    err=$("$@" 2>&1); rc=$?
    if [ "$rc" = "$code" ] && grep -qE -- "$pattern" <<<"$err"; then pass "$what"
    else fail "$what (exit $rc, stderr: $(head -3 <<<"$err"))"; fi
}

# check_output "description" PATTERN command...: stdout must match PATTERN.
check_output() {
    local what=$1 pattern=$2; shift 2
    local out
    out=$("$@" 2>&1)
    if grep -qE -- "$pattern" <<<"$out"; then pass "$what"; else fail "$what"; echo "$out" | sed 's/^/        /' | head -20; fi
}

bp() { "$BIN" "$@"; }

# bind_in_host tcp|udp PORT [ADDRESS]: a host process binds the port (SO_REUSEADDR; an
# IPv6 ADDRESS with IPV6_V6ONLY, its family alone), at 0.0.0.0 by default; fails with
# "Address already in use" when something holds it.
bind_in_host() {
    in_host python3 -c 'import socket,sys
kind, port, address = sys.argv[1], int(sys.argv[2]), sys.argv[3]
s = socket.socket(socket.AF_INET6 if ":" in address else socket.AF_INET, socket.SOCK_DGRAM if kind == "udp" else socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
if ":" in address: s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
s.bind((address, port))' "$1" "$2" "${3:-0.0.0.0}"
}

# ip_of CONTAINER: its address (of its one network).
ip_of() { bp inspect -f '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}' "$1"; }

# ext_probe tcp|udp HOST PORT [MESSAGE]: tools/probe.py from the external client; prints
# what the server answered ("PORT CLIENT MESSAGE": its port and the client it saw).
ext_probe() { in_ext python3 "$TOOLS/probe.py" "$@"; }

# answered N PATTERN command...: runs the command N times; prints how many times its output
# matched PATTERN (grep -E), e.g. of many connections in a row.
answered() {
    local n=$1 pattern=$2 hits=0; shift 2
    for _ in $(seq 1 "$n"); do "$@" | grep -qE -- "$pattern" && hits=$((hits + 1)); done
    echo "$hits"
}

# wait_ready WHO...: waits until each says "ready", as tools/echo.py and the like do when they
# listen: a container (its logs) or a file (a path: a background server's output). At most
# 5 s each; status 1 if one never did.
wait_ready() {
    local who rc=0
    for who in "$@"; do
        for _ in $(seq 1 50); do
            case $who in
                */*) grep -q ready "$who" 2>/dev/null ;;
                *) bp logs "$who" 2>/dev/null | grep -q ready ;;
            esac && continue 2
            sleep 0.1
        done
        rc=1
    done
    return $rc
}

# dns_stub RUN ADDRESS NAME [ARGS...]: tools/dns_stub.py, an upstream DNS server for the
# agent to forward to, on ADDRESS:53 in the namespace RUN enters (in_host, in_ext; or a
# prefix such as "in_host taskset -c 1"): the host's lo, 127.0.0.53, as systemd-resolved
# listens, or the external client's 198.51.100.2. The queries it gets go to
# $STATE/NAME.queries. Returns once it listens; sandbox_down stops it with the namespace.
dns_stub() {
    local run=$1 address=$2 name=$3; shift 3
    : >"$STATE/$name.queries"
    $run python3 "$TOOLS/dns_stub.py" --address "$address" --log "$STATE/$name.queries" "$@" >"$STATE/$name.out" 2>&1 &
    wait_ready "$STATE/$name.out"
}

# ---- the agent's metrics

# metrics [PATH [ACCEPT]]: GET PATH (/metrics) of the agent's metrics server, with that
# Accept header if given.
metrics() { in_host curl -s ${2:+-H "Accept: $2"} "http://127.0.0.1:$METRICS_PORT${1:-/metrics}"; }

# samples FAMILY [LABEL=VALUE...]: the samples ("name{labels} value" lines) whose metric name
# matches FAMILY (an extended regex, whole name; ".*" for any) and whose labels include each
# LABEL="VALUE" (VALUE an extended regex, whole value: container=i[12]).
samples() {
    metrics | FAMILY=$1 WANT="${*:2}" awk '
        BEGIN { n = split(ENVIRON["WANT"], want, " ")
                for (i = 1; i <= n; i++) { eq = index(want[i], "=")
                    re[i] = "[{,]" substr(want[i], 1, eq - 1) "=\"(" substr(want[i], eq + 1) ")\"[,}]" } }
        /^#/ { next }
        { name = $1; sub(/[{].*/, "", name); if (name !~ "^(" ENVIRON["FAMILY"] ")$") next
          for (i = 1; i <= n; i++) if ($1 !~ re[i]) next
          print }'
}

# metric FAMILY [LABEL=VALUE...]: the sum of those samples' values; nothing when there is none.
metric() { samples "$@" | awk '{ n += $NF } END { if (NR) print n }'; }

# drops REASON [LABEL=VALUE...]: packets the agent dropped for REASON, by the label its
# metrics give it (bp_drop_reason_label() in bpf/: isolation, icc, spoofed_source, internal,
# not_allowed, direct_access, vlan, ipv6_disabled, ct_full, ...; never a number), summed over
# the containers' and the uplinks' series (bridgeport_{container,host}_network_drops_total)
# that have the labels given (container=b1, interface=eth1, direction=egress); 0 when none.
BPF_SOURCES=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../bpf" 2>/dev/null && pwd)
drops() {
    [[ $1 =~ ^[a-z][a-z0-9_]*$ ]] && { [ -z "$BPF_SOURCES" ] || grep -rqs --include='*.h' "return \"$1\";" "$BPF_SOURCES"; } ||
        { echo "drops: \"$1\" is no drop reason label of bp_drop_reason_label()" >&2; return 2; }
    local n; n=$(metric 'bridgeport_(container|host)_network_drops_total' reason="$1" "${@:2}")
    echo "${n:-0}"
}

# eventually SECONDS command...: retries the command until it succeeds, then runs it once more
# for the record (its output and status).
eventually() { local t=$1; shift; for _ in $(seq 1 $((t * 10))); do "$@" >/dev/null 2>&1 && break; sleep 0.1; done; "$@"; }

# ---- bridgeport monitor

# monitor_start NAME ARGS...: `bridgeport monitor --format json ARGS` into $STATE/NAME.events,
# stopped by PID when the test ends (MONITOR_PIDS has the PIDs, in order); returns once the
# agent counts it.
MONITOR_PIDS=()
monitor_start() {
    local name=$1; shift
    "$BIN" monitor --format json "$@" >"$STATE/$name.events" 2>"$STATE/$name.err" &
    local pid=$!
    MONITOR_PIDS+=("$pid")
    on_down "kill $pid 2>/dev/null"
    eventually 5 monitors_at_least "${#MONITOR_PIDS[@]}" >/dev/null
}
monitors_at_least() { [ "$(metric bridgeport_monitors)" -ge "$1" ]; }
# events NAME JQ-FILTER: the monitor's events that match.
events() { jq -c "select($2)" "$STATE/$1.events"; }
has_event() { [ -n "$(events "$@")" ]; }

# ---- real container runtimes (Tests/runtimes) and CNI ----

# busybox_rootfs TAR: a root filesystem of Debian's busybox-static, as a tar; its httpd
# serves /www, whose cgi-bin/ip answers the client's address as the container sees it.
busybox_rootfs() {
    local root=$STATE/rootfs applet
    mkdir -p "$root"/{bin,etc,tmp,proc,sys,dev,www/cgi-bin}
    cp /bin/busybox "$root/bin/"
    for applet in $(/bin/busybox --list); do [ "$applet" = busybox ] || ln -sf busybox "$root/bin/$applet"; done
    printf '#!/bin/sh\nprintf "Content-Type: text/plain\\r\\n\\r\\n%%s\\n" "$REMOTE_ADDR"\n' >"$root/www/cgi-bin/ip"
    chmod +x "$root/www/cgi-bin/ip"
    echo hello >"$root/www/index.html"
    echo 'root:x:0:0:root:/:/bin/sh' >"$root/etc/passwd"
    echo 'root:x:0:' >"$root/etc/group"
    tar -C "$root" -cf "$1" .
}

# cni_conflists DIR: the two ways to run bridgeport-cni, as a runtime reads them from DIR:
#   chained.conflist: the reference bridge plugin (host-local IPAM) makes the veth,
#                     bridgeport-cni publishes the ports (in place of portmap);
#   main.conflist:    bridgeport-cni alone: Bridgeport's bridge, IPAM and policy.
cni_conflists() {
    mkdir -p "$1"
    cat >"$1/10-chained.conflist" <<CONF
{ "cniVersion": "1.0.0", "name": "chained", "plugins": [
  { "type": "bridge", "bridge": "cni-chained", "isGateway": true, "ipMasq": false,
    "ipam": { "type": "host-local", "ranges": [[{ "subnet": "10.224.0.0/24", "gateway": "10.224.0.1" }]], "dataDir": "$STATE/cni-ipam",
              "routes": [{ "dst": "0.0.0.0/0" }] } },
  { "type": "bridgeport-cni", "capabilities": { "portMappings": true }, "agentSocket": "$BRIDGEPORT_SOCKET" } ] }
CONF
    cat >"$1/20-main.conflist" <<CONF
{ "cniVersion": "1.0.0", "name": "main", "plugins": [
  { "type": "bridgeport-cni", "subnet": "10.225.0.0/24", "capabilities": { "portMappings": true }, "agentSocket": "$BRIDGEPORT_SOCKET" } ] }
CONF
}

# cni_use CONFLIST [PLUGIN_DIR...]: the configuration `cni` runs, and where it finds the
# plugins (bridgeport-cni's directory, then each PLUGIN_DIR); results are cached under $STATE.
cni_use() {
    CNI_CONFLIST=$1; shift
    local dirs dir; dirs=$(dirname "$BIN")
    for dir in "$@"; do dirs+=:$dir; done
    export CNI_PATH=$dirs CNI_CACHE=$STATE/cni-cache
    mkdir -p "$CNI_CACHE"
}
# cni ADD|CHECK|DEL CONTAINER [PORT_MAPPINGS_JSON]: that configuration, run as a runtime's
# libcni runs it (tools/cni.py), for the namespace $TAG-CONTAINER, interface eth0.
cni() { in_host python3 "$TOOLS/cni.py" "$1" "$CNI_CONFLIST" "$2" /run/netns/"$TAG-$2" eth0 "${@:3}"; }

# no_nft_rules: the host namespace has no nftables rule (Bridgeport publishes without one).
no_nft_rules() { [ -z "$(in_host nft list ruleset)" ]; }
