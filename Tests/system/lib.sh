# Sandbox for system tests, the demo and benchmarks: a "host" network namespace where the
# agent runs, an "ext" namespace for an external client joined by a veth that plays the
# host's uplink, and a state directory of our own. Nothing touches the machine's own
# network; `sandbox_down` removes everything and runs on every exit.
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
# A cgroup v2 directory of our own: the agent's socket hooks attach there, never to the
# machine's root cgroup. The agent, its containers and host-side clients run inside it.
CGROUP=$(awk '$3 == "cgroup2" { print $2; exit }' /proc/mounts)/$TAG

sandbox_up() {
    mkdir -p "$CGROUP"
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

# Run a command in the sandbox's host or external namespace (nsenter keeps /sys and bpffs).
in_host() { nsenter --net=/run/netns/"$HOST_NS" "$@"; }
# ... in the sandbox's cgroup too: what the host's own processes see (socket hooks apply).
in_host_cgroup() { sh -c 'echo $$ >"$0/cgroup.procs" && exec "$@"' "$CGROUP" nsenter --net=/run/netns/"$HOST_NS" "$@"; }
in_ext() { nsenter --net=/run/netns/"$EXT_NS" "$@"; }

agent_start() {
    sh -c 'echo $$ >"$0/cgroup.procs" && exec "$@"' "$CGROUP" \
        "$BIN" daemon --netns "$HOST_NS" --state-dir "$STATE/state" --bpf-root "$STATE/bpf" --cgroup "$CGROUP" \
        --socket "$BRIDGEPORT_SOCKET" --metrics-address "127.0.0.1:$METRICS_PORT" ${AGENT_ARGS:-} "$@" >>"$AGENT_LOG" 2>&1 &
    AGENT_PID=$!
    echo "$AGENT_PID" >"$STATE/agent.pid"
    for _ in $(seq 1 200); do
        [ -S "$BRIDGEPORT_SOCKET" ] && "$BIN" network ls >/dev/null 2>&1 && return 0
        kill -0 "$AGENT_PID" 2>/dev/null || { echo "agent exited:"; cat "$AGENT_LOG"; return 1; }
        sleep 0.05
    done
    echo "agent did not come up:"; cat "$AGENT_LOG"; return 1
}

agent_stop() {
    [ -n "$AGENT_PID" ] || return 0
    kill -TERM "$AGENT_PID" 2>/dev/null
    for _ in $(seq 1 100); do kill -0 "$AGENT_PID" 2>/dev/null || break; sleep 0.05; done
    kill -KILL "$AGENT_PID" 2>/dev/null
    wait "$AGENT_PID" 2>/dev/null
    AGENT_PID=
}

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

sandbox_down() {
    set +e
    agent_stop
    # Containers and their supervisors live in the sandbox's namespaces: stop them by PID.
    local files=(/run/netns/"$HOST_NS" /run/netns/"$EXT_NS" "$STATE"/state/netns/* "$STATE"/*/state/netns/*)
    for ns in "${EXTRA_NAMESPACES[@]}"; do files+=(/run/netns/"$ns"); done
    for pid in $(pids_in_namespaces "${files[@]}") $(cat "$CGROUP/cgroup.procs" "$CGROUP"/*/cgroup.procs 2>/dev/null); do kill -KILL "$pid" 2>/dev/null; done
    for f in "$STATE"/state/netns/* "$STATE"/*/state/netns/*; do [ -e "$f" ] && { umount -l "$f" 2>/dev/null; rm -f "$f"; }; done
    ip netns del "$HOST_NS" 2>/dev/null
    ip netns del "$EXT_NS" 2>/dev/null
    for ns in "${EXTRA_NAMESPACES[@]}"; do ip netns del "$ns" 2>/dev/null; done
    for d in "$STATE/bpf" "$STATE"/*/bpf; do mountpoint -q "$d" && umount -l "$d"; done
    for _ in $(seq 1 50); do [ -d "$CGROUP" ] || break; rmdir "$CGROUP"/*/ "$CGROUP" 2>/dev/null || sleep 0.05; done
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
