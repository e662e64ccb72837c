// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * endpoint: tc programs on a container's host-side veth.
 *
 *   bp_ep_ingress  tc ingress of the host-side veth = what the container sends
 *   bp_ep_egress   tc egress  of the host-side veth = what the container receives
 *
 * For now they count packets and bytes per endpoint (keyed by the host-side
 * veth's ifindex) and let every packet continue. Anti-spoofing, isolation and
 * reverse NAT come later and read bp_endpoints.
 *
 * SEC("tc") gives BPF_PROG_TYPE_SCHED_CLS without an expected attach type, which
 * the kernel accepts both for tcx links (bpf_link_create with
 * BPF_TCX_INGRESS/EGRESS) and for clsact + cls_bpf; libbpf 1.1 does not know
 * SEC("tcx/ingress").
 */
#include "lib/common.h"
#include "lib/maps.h"
#include "lib/metrics.h"

SEC("tc")
int bp_ep_ingress(struct __sk_buff *skb)
{
	bp_count_traffic(skb->ifindex, skb->len, BP_TRAFFIC_TX);
	return BP_CONTINUE;
}

SEC("tc")
int bp_ep_egress(struct __sk_buff *skb)
{
	bp_count_traffic(skb->ifindex, skb->len, BP_TRAFFIC_RX);
	return BP_CONTINUE;
}

char _license[] SEC("license") = "Dual BSD/GPL";
