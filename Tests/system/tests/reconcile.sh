# The agent repairs what was changed behind its back, and tidies what it no longer owns.
agent_start || { fail "agent starts"; return; }
check "network create" bp network create --subnet 10.30.0.0/24 r
check "run a" bp run -d --name a --net r
check "run b" bp run -d --name b --net r
veth=$(in_host ip -br link | awk '/^veth/ {sub(/@.*/, "", $1); print $1; exit}')
agent_stop
in_host ip link del "$veth"
in_host ip link add orphan0 type bridge
in_host ip link set orphan0 alias bridgeport:0000
agent_start || { fail "agent restarts"; return; }
check_output "the deleted veth was recreated" "^$veth" in_host ip -br link
check "a and b talk again" bp exec a ping -c 1 -W 2 b
check_output "the repair was logged" 'reconcile: recreated interface' cat "$AGENT_LOG"
check_output "an orphaned link we own is removed" 'removed orphaned link orphan0' cat "$AGENT_LOG"
check_output "links we don't own stay" "$TAG-up" in_host ip -br link
check "rm -f" bp rm -f a b
