# The published-port tests again, with every program on a tcx link (--attach tcx; the
# default, auto, puts container veths on clsact + cls_bpf). Then a restart in the default
# mode must move the container veth to cls_bpf and drop its tcx links, so that no
# program runs twice.
AGENT_ARGS="--attach tcx"
source "$(dirname "${BASH_SOURCE[0]}")/ports.sh"
check "run a server" bp run -d --name moved --net web -p 7200:80 -- python3 "$TOOLS/echo.py" --tcp 80
veth=$(in_host ip -o link show type veth | awk -F': ' -v up="$TAG-up" '{ sub(/@.*/, "", $2) } $2 != up { print $2; exit }')
# bpftool 7.1 does not list tcx links per device: the agent pins them as <device>_<direction>.
check "tcx mode: pinned links on the container's veth" test -e "$STATE/bpf/links/${veth}_ingress" -a -e "$STATE/bpf/links/${veth}_egress"
check_output "... and no cls_bpf filter" '^$' in_host tc filter show dev "$veth" ingress
agent_stop
AGENT_ARGS=
agent_start || { fail "agent restarts in auto mode"; return; }
check_output "after a restart in auto mode: cls_bpf on the container's veth" 'direct-action' in_host tc filter show dev "$veth" ingress
check_fails "... and its tcx links are gone" 1 '' test -e "$STATE/bpf/links/${veth}_ingress" -o -e "$STATE/bpf/links/${veth}_egress"
check "the uplink keeps its tcx link" test -e "$STATE/bpf/links/$TAG-up_ingress"
wait_ready moved
check_output "the published port still answers" '^80 198\.51\.100\.2 ok$' ext_probe tcp 198.51.100.1 7200 ok
check "rm -f moved" bp rm -f moved
