// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * endpoint: tc programs on a container's host-side veth.
 *
 *   bp_ep_ingress  tc ingress of the host-side veth = what the container sends
 *   bp_ep_egress   tc egress  of the host-side veth = what the container receives
 *
 * Both count packets and bytes per endpoint (keyed by the host-side veth's
 * ifindex). Ingress applies the endpoint's policy (lib/policy.h:
 * anti-spoofing, isolation between networks, ICC, internal networks) from
 * bp_endpoints, counting each drop; then it translates replies of published
 * flows back to the address the client used (bp_nat, filled by the uplink
 * program) and masquerades flows to beyond the host (lib/nat.h), sending
 * both straight out of the uplink.
 *
 * SEC("tc") gives BPF_PROG_TYPE_SCHED_CLS without an expected attach type, which
 * the kernel accepts both for tcx links (bpf_link_create with
 * BPF_TCX_INGRESS/EGRESS) and for clsact + cls_bpf; libbpf 1.1 does not know
 * SEC("tcx/ingress").
 */
#include "lib/common.h"
#include "lib/maps.h"
#include "lib/metrics.h"
#include "lib/parse.h"
#include "lib/nat.h"
#include "lib/policy.h"

/* A destination beyond this host: not broadcast, multicast, a bridge network or the host. */
static __always_inline int bp_beyond_host(__u32 daddr)
{
	if (daddr == 0xffffffff || (daddr & bpf_htonl(0xf0000000)) == bpf_htonl(0xe0000000))
		return 0;  /* broadcast and multicast stay on the bridge */
	return !bp_subnet_of(daddr) && !bpf_map_lookup_elem(&bp_host_addrs, &daddr);
}

/*
 * After the policy: a reply of a published flow gets its source rewritten to
 * the published address; a flow to beyond the host is masqueraded when the
 * network says so. Both leave by a redirect.
 */
static __always_inline int bp_translate(struct __sk_buff *skb, const struct bp_endpoint *ep)
{
	struct bp_packet p;

	if (bp_parse_ipv4(skb, &p) < 0 || bp_ttl_expires(&p))
		return BP_CONTINUE;
	/*
	 * A later fragment has no ports to find its flow by: it follows the translation
	 * of its datagram's first fragment. Without one (it came first, or its flow is
	 * unknown), one bound beyond the host from a masquerading network would leave
	 * with the container's own address, so it is dropped (and counted) instead.
	 */
	if (!p.has_ports) {
		int verdict = BP_CONTINUE;

		if (!p.fragment)
			return BP_CONTINUE;
		if (bp_follow_fragment(skb, &p, 0, &verdict))
			return verdict;
		if (ep && (ep->flags & BP_EP_F_MASQUERADE) && bp_beyond_host(p.daddr))
			return bp_drop(skb, BP_DROP_FRAGMENT, BP_DIR_EGRESS);
		return BP_CONTINUE;
	}
	struct bp_nat_key flow = {
		.remote_ip = p.daddr, .endpoint_ip = p.saddr,
		.remote_port = p.dport, .endpoint_port = p.sport, .proto = p.proto,
	};
	struct bp_nat_value *found = bpf_map_lookup_elem(&bp_nat, &flow);
	if (found) {
		struct bp_nat_value published = *found;

		if (p.fragment)
			bp_remember_fragment(&p, published.host_ip, 0);
		if (bp_rewrite(skb, &p, 0, published.host_ip, published.host_port) < 0)
			return BP_DROP;
		return bp_redirect_by_route(skb, published.host_ip, p.daddr);
	}

	if (!ep || !(ep->flags & BP_EP_F_MASQUERADE) || !bp_beyond_host(p.daddr))
		return BP_CONTINUE;  /* stays on this host, or its network is not masqueraded */
	return bp_masquerade(skb, &p);
}

SEC("tc")
int bp_ep_ingress(struct __sk_buff *skb)
{
	bp_count_traffic(skb->ifindex, skb->len, BP_TRAFFIC_TX);

	__u32 ifindex = skb->ifindex;
	struct bp_endpoint *found = bpf_map_lookup_elem(&bp_endpoints, &ifindex);
	if (!found)
		return bp_translate(skb, NULL);
	struct bp_endpoint ep = *found;
	enum bp_drop_reason reason = bp_egress_verdict(skb, &ep);

	if (reason)
		return bp_drop(skb, reason, BP_DIR_EGRESS);
	return bp_translate(skb, &ep);
}

SEC("tc")
int bp_ep_egress(struct __sk_buff *skb)
{
	bp_count_traffic(skb->ifindex, skb->len, BP_TRAFFIC_RX);
	return BP_CONTINUE;
}

char _license[] SEC("license") = "Dual BSD/GPL";
