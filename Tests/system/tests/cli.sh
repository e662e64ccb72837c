# The CLI as a user first meets it: every command's --help prints its help and exits 0,
# with no agent running (the commands are found from the help itself, so a new one is
# covered too); the README's commands with their defaults.
BRIDGEPORT_SOCKET=$STATE/no-agent.sock  # nothing listens: --help must not need the agent

# subcommands COMMAND...: the names in the SUBCOMMANDS section of COMMAND's help.
subcommands() { bp "$@" --help | sed -n '/^SUBCOMMANDS:/,/^$/p' | sed -n 's/^  \([a-z][a-z-]*\).*/\1/p'; }

commands=("")
for top in $(subcommands); do
    commands+=("$top")
    for sub in $(subcommands "$top"); do commands+=("$top $sub"); done
done
check "the help lists the commands (${#commands[@]})" test "${#commands[@]}" -ge 20
for command in "${commands[@]}"; do
    # shellcheck disable=SC2086  # the command's words
    check "bridgeport $command --help prints its help and exits 0" \
        bash -c "out=\$('$BIN' $command --help) && grep -q '^USAGE: bridgeport' <<<\"\$out\""
done
check_output "run -- --help runs a command named --help (as Docker runs an image's)" 'Cannot connect to the Bridgeport agent' \
    bash -c "'$BIN' run -- --help 2>&1"

# The default --bpf-root (/sys/fs/bpf/bridgeport) on a host where /sys/fs/bpf is no bpffs
# (containers, hosts without systemd): the agent mounts it, as Cilium does. In a mount
# namespace of the agent's own, so the machine's mounts stay as they are.
export BRIDGEPORT_SOCKET=$STATE/agent.sock
machine_bpffs=$(grep -c ' /sys/fs/bpf bpf ' /proc/self/mounts)
sh -c 'echo $$ >"$0/cgroup.procs" && exec "$@"' "$CGROUP" unshare --mount --propagation private \
    "$BIN" daemon --netns "$HOST_NS" --state-dir "$STATE/state" --cgroup "$CGROUP" --socket "$BRIDGEPORT_SOCKET" \
    --metrics-address "127.0.0.1:$METRICS_PORT" >>"$AGENT_LOG" 2>&1 &
AGENT_PID=$!
check "the agent starts with the default --bpf-root" eventually 10 bp network ls
check "... on a bpffs it mounted at /sys/fs/bpf" grep -q ' /sys/fs/bpf bpf ' /proc/"$AGENT_PID"/mounts
check "... with its pins below it" nsenter --mount=/proc/"$AGENT_PID"/ns/mnt test -d /sys/fs/bpf/bridgeport
check_output "the machine's /sys/fs/bpf is as it was" "^$machine_bpffs$" grep -c ' /sys/fs/bpf bpf ' /proc/self/mounts
