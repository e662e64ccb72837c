# The published-port tests again, with the programs attached through clsact + cls_bpf
# (--attach tc, for kernels without tcx).
AGENT_ARGS="--attach tc"
source "$(dirname "${BASH_SOURCE[0]}")/ports.sh"
check_output "tc mode: cls_bpf filters on the uplink" 'direct-action' in_host tc filter show dev "$TAG-up" ingress
