// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * endpoint: tc programs on a container's host-side veth.
 *
 *   bp_ep_ingress  tc ingress of the host-side veth = what the container sends
 *   bp_ep_egress   tc egress  of the host-side veth = what the container receives
 *   bp_tunnel_ingress  tc ingress of an overlay network's VXLAN device = what other
 *                  hosts' containers send this host's (lib/overlay.h)
 *
 * Both count packets and bytes per endpoint (in the slot of bp_ep_stats its
 * entry names). Ingress applies the endpoint's policy (lib/policy.h:
 * anti-spoofing, isolation between networks, ICC, internal networks) from
 * bp_endpoints, counting each drop, for IPv6 as well (lib/policy6.h); then it
 * translates the packets of known flows of both families
 * (lib/conntrack.h: replies of published flows get the address the client used,
 * masqueraded flows the host's) and masquerades new flows to beyond the host
 * (lib/nat.h; IPv6's in lib/nat6.h, in the tail-called bp_ep_nat66), sending both
 * straight out of the uplink.
 *
 * SEC("tc") gives BPF_PROG_TYPE_SCHED_CLS without an expected attach type, which
 * the kernel accepts both for tcx links (bpf_link_create with
 * BPF_TCX_INGRESS/EGRESS) and for clsact + cls_bpf; libbpf 1.1 does not know
 * SEC("tcx/ingress").
 */
#include "lib/common.h"
#include "lib/conntrack.h"
#include "lib/icmp.h"
#include "lib/icmp6.h"
#include "lib/maps.h"
#include "lib/metrics.h"
#include "lib/parse.h"
#include "lib/parse6.h"
#include "lib/nat.h"
#include "lib/nat6.h"
#include "lib/overlay.h"
#include "lib/policy.h"
#include "lib/policy6.h"

/* BP_MAP_EP_TAIL */
struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, __u32);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} bp_ep_tail SEC(".maps");

/* bp_exception_verdict's answer that the packet goes on to its flow's translation: no
 * verdict of tc's. */
#define BP_GO_ON 1000

/*
 * The published-port exception's answer (`passes`, of bp_hairpin or bp_hairpin6) for a
 * packet the policy drops for `reason`, as a verdict: the drop (ct_full when the flow table
 * is full), a new hairpin flow's packet going on untranslated, or BP_GO_ON for a `known` flow's.
 */
static __always_inline int bp_exception_verdict(struct __sk_buff *skb, int passes, int known, enum bp_drop_reason reason)
{
	if (passes < 0)
		return bp_drop(skb, BP_DROP_CT_FULL, BP_DIR_EGRESS);
	if (!passes)
		return bp_drop(skb, reason, BP_DIR_EGRESS);
	return known ? BP_GO_ON : BP_CONTINUE;  /* a new hairpin flow: nothing to translate */
}

/* A destination beyond this host: not broadcast, multicast, a network's subnet (`to`, as
 * bp_ipv4_verdict saw it: a LAN's aside) or the host. */
static __always_inline int bp_beyond_host(__u32 daddr, const struct bp_subnet *to)
{
	return !bp_broadcast_or_multicast(daddr) && !to && !bpf_map_lookup_elem(&bp_host_addrs, &daddr);
}

/*
 * A packet without a tuple of its own. A later fragment follows the translation of its
 * datagram's first fragment; an ICMP error the translation of the flow it quotes
 * (lib/icmp.h). Without one (the first fragment came later, the flow is unknown, an ICMP
 * message other than echo), one bound beyond the host from a masquerading network would
 * leave with the container's own address, so it is dropped (and counted) instead. `to`:
 * the destination's subnet (bp_ipv4_verdict's).
 */
static __always_inline int bp_untracked(struct __sk_buff *skb, const struct bp_endpoint *ep, const struct bp_packet *p,
					const struct bp_subnet *to)
{
	int verdict = BP_CONTINUE;

	if (p->fragment && bp_follow_fragment(skb, p, 0, &verdict))
		return verdict;
	if (p->icmp_error && bp_icmp_error(skb, p, 0, &verdict))
		return verdict;
	if ((ep->flags & BP_EP_F_MASQUERADE) && bp_beyond_host(p->daddr, to))
		return bp_drop(skb, p->fragment ? BP_DROP_FRAGMENT : BP_DROP_UNTRANSLATABLE, BP_DIR_EGRESS);
	return bp_overlay_out(ep, p->daddr, to);
}

/*
 * What bp_from_container6 passed on (bp_ep_nat66, tail-called): IPv6 the policy would drop
 * (`reason`), as IPv4's known flows and exceptions are judged. Beyond the host
 * (ipv6_unsupported): a known flow's packet is translated as its entry says (a published
 * flow's reply gets the published address back, on any network) or goes on untranslated (a
 * flow let in by direct routing); a new flow is masqueraded where the network masquerades
 * IPv6 (only an echo request opens an ICMPv6 one), or tracked untranslated where it routes
 * it (gateway_mode_ipv6=routed, or masquerade off), or passed as it is (macvlan: the
 * LAN); with none of these, dropped (ipv6_unsupported). Other ICMPv6 is dropped there
 * (untranslatable), other protocols too (ipv6_unsupported): none may leave with the
 * container's address (later fragments and ICMPv6 errors: bp_ep_nat66_rel). Across the
 * policy (isolation, ICC, internal):
 * the published-port exception (bp_hairpin6), else the drop.
 */
static __always_inline int bp_from_container6_flows(struct __sk_buff *skb, const struct bp_endpoint *ep,
						    const struct bp_packet6 *p, enum bp_drop_reason reason)
{
	int beyond = reason == BP_DROP_IPV6_UNSUPPORTED;
	int masquerades = beyond && (ep->flags & BP_EP_F_MASQUERADE6);
	int routed = beyond && (ep->flags & BP_EP_F_TRACK_OUT6);
	int passes = beyond && (ep->flags & (BP_EP_F_TRACK_OUT6 | BP_EP_F_PASS_OUT6));

	if (!bp_nat66_tracks(p)) {
		/* Routed: other protocols (ESP, GRE, SCTP...) are tracked by their addresses alone
		 * (ports 0), as IPv4's are, so that their replies are let in. */
		if (routed && p->proto != BP_IPPROTO_ICMPV6) {
			__u32 at = 0;
			struct bp_flow6_key plain = bp_tuple6(p);

			if (bp_flow_track6(p, &plain, skb->ifindex, bp_now_once(&at), skb->len - sizeof(struct ethhdr)))
				return bp_drop(skb, BP_DROP_CT_FULL, BP_DIR_EGRESS);
		}
		if (passes)
			return BP_CONTINUE;  /* leaves as it is, as IPv4's protocols without ports do */
		return bp_drop(skb, masquerades && p->proto == BP_IPPROTO_ICMPV6 ? BP_DROP_UNTRANSLATABLE : reason,
			       BP_DIR_EGRESS);
	}

	__u32 now = 0;
	struct bp_flow6_key key = bp_tuple6(p);
	struct bp_flow6 *flow = bp_flow_lookup6(&key, p, &now);
	/* Flows toward containers (DNAT) are the uplink's: here only their tuples could match. */
	if (flow && (flow->flags & BP_FLOW_F_DNAT))
		flow = NULL;
	if (!beyond) {
		int verdict = bp_exception_verdict(skb, bp_hairpin6(skb, p, &key, flow, bp_now_once(&now)), flow != NULL, reason);

		if (verdict != BP_GO_ON)
			return verdict;
	}
	if (flow) {
		struct bpf_fib_lookup fib;

		bp_flow_seen6(&key, flow, p, now, skb->len - sizeof(struct ethhdr));
		return bp_apply6(skb, p, sizeof(struct ethhdr), flow, now, &fib);
	}
	if (routed) {
		/* Leaves as it is; its replies pass the uplink's direct-access filter as this flow's. */
		if (bp_flow_track6(p, &key, skb->ifindex, bp_now_once(&now), skb->len - sizeof(struct ethhdr)))
			return bp_drop(skb, BP_DROP_CT_FULL, BP_DIR_EGRESS);
		return BP_CONTINUE;
	}
	if (passes)
		return BP_CONTINUE;  /* macvlan: on the LAN, as it is */
	if (!masquerades)
		return bp_drop(skb, reason, BP_DIR_EGRESS);
	if (p->proto == BP_IPPROTO_ICMPV6 && p->icmp_type != BP_ICMP6_ECHO_REQUEST)
		return bp_drop(skb, BP_DROP_UNTRANSLATABLE, BP_DIR_EGRESS);
	return bp_masquerade6(skb, p, sizeof(struct ethhdr), &key, bp_now_once(&now));
}

/* The policy's reasons bp_from_container6_flows judges again: beyond the host, and the ones
 * the published-port exception lifts. */
static __always_inline int bp_flows_may_lift(enum bp_drop_reason reason)
{
	return reason == BP_DROP_IPV6_UNSUPPORTED || reason == BP_DROP_ISOLATION || reason == BP_DROP_ICC ||
	       reason == BP_DROP_INTERNAL;
}

/*
 * What the container sends over IPv6, on a dual-stack network: its policy (lib/policy6.h);
 * what it would drop for its destination goes to bp_ep_nat66 (tail-called, with a stack of
 * its own: out of line, this one's would add to the IPv4 path's beyond the verifier's 512
 * bytes), which knows the flows. An interface of another runtime (no ip6) is not judged.
 */
static __always_inline int bp_from_container6(struct __sk_buff *skb, const struct bp_endpoint *ep)
{
	struct bp_packet6 p;

	if (!bp_endpoint_has_ip6(ep))
		return BP_CONTINUE;
	int parsed = bp_parse_ipv6(skb, &p, sizeof(struct ethhdr));
	if (parsed < 0)
		return bp_drop(skb, parsed == BP_PARSE_EXT_LIMIT ? BP_DROP_EXT_HEADERS : BP_DROP_MALFORMED, BP_DIR_EGRESS);
	enum bp_drop_reason reason = bp_ipv6_verdict(skb, ep, &p);
	if (bp_flows_may_lift(reason)) {
		skb->cb[0] = reason;
		/* bp_ep_nat66, or bp_ep_nat66_rel for what has no tuple of its own (later fragments,
		 * ICMPv6 errors); returns only when the slot is empty */
		bpf_tail_call(skb, &bp_ep_tail, p.has_ports && !bp_icmp6_is_error(&p) ? 0 : 1);
	}
	return reason ? bp_drop(skb, reason, BP_DIR_EGRESS) : BP_CONTINUE;
}

/*
 * What the container sends: the policy first, with the published-port exception for
 * packets it would drop; then the flow the packet belongs to is translated (a published
 * flow's reply gets the published address back, a masqueraded one the host's), or a new
 * flow to beyond the host is masqueraded when the network says so. Translated packets
 * leave by a redirect.
 */
static __always_inline int bp_from_container(struct __sk_buff *skb, const struct bp_endpoint *ep)
{
	struct bp_packet p;
	int l3 = ETH_P_IP;
	enum bp_drop_reason reason = bp_link_verdict(skb, ep, &l3);

	if (reason)
		return bp_drop(skb, reason, BP_DIR_EGRESS);
	if (l3 == BP_ETH_P_IPV6)
		return bp_from_container6(skb, ep);
	if (l3 != ETH_P_IP)
		return BP_CONTINUE;
	int parsed = bp_parse_ipv4(skb, &p);
	if (parsed == BP_PARSE_MALFORMED)
		return bp_drop(skb, BP_DROP_MALFORMED, BP_DIR_EGRESS);
	if (parsed < 0)
		return BP_CONTINUE;
	const struct bp_subnet *to = NULL;
	reason = bp_ipv4_verdict(ep, &p, &to);
	if (reason == BP_DROP_SPOOFED_SOURCE)
		return bp_drop(skb, reason, BP_DIR_EGRESS);
	if (!p.has_ports)
		return reason ? bp_drop(skb, reason, BP_DIR_EGRESS) : bp_untracked(skb, ep, &p, to);

	__u32 now = 0;
	struct bp_flow_key key = bp_tuple(&p);
	struct bp_flow *flow = bp_flow_lookup(&key, &p, &now);
	/* Flows toward containers (DNAT) are the uplink's: here only their tuples could match. */
	if (flow && (flow->flags & BP_FLOW_F_DNAT))
		flow = NULL;
	if (reason) {
		int verdict = bp_exception_verdict(skb, bp_hairpin(skb, &p, &key, flow, bp_now_once(&now)), flow != NULL, reason);

		if (verdict != BP_GO_ON)
			return verdict;
	}
	if (flow) {
		bp_flow_seen(&key, flow, &p, now, skb->len - p.l3_off);
		return bp_apply_out(skb, &p, flow, now);
	}
	if (!(ep->flags & (BP_EP_F_MASQUERADE | BP_EP_F_TRACK_OUT)) || !bp_beyond_host(p.daddr, to))
		return bp_overlay_out(ep, p.daddr, to);  /* stays in its network or on this host, or its
							   * network is neither masqueraded nor tracked */
	if (ep->flags & BP_EP_F_TRACK_OUT) {
		/* Leaves as it is; its replies pass the uplink as this flow's. */
		if (bp_flow_track(&p, &key, skb->ifindex, bp_now_once(&now), skb->len - p.l3_off))
			return bp_drop(skb, BP_DROP_CT_FULL, BP_DIR_EGRESS);
		return BP_CONTINUE;
	}
	if (p.proto == BP_PROTO_ICMP && p.icmp_type != BP_ICMP_ECHO)
		return bp_drop(skb, BP_DROP_UNTRANSLATABLE, BP_DIR_EGRESS);  /* only an echo request opens an ICMP flow */
	return bp_masquerade(skb, &p, &key, bp_now_once(&now));
}

SEC("tc")
int bp_ep_ingress(struct __sk_buff *skb)
{
	__u32 ifindex = skb->ifindex;
	/* The map's value itself, not a copy: the stack is all but full. */
	const struct bp_endpoint *ep = bpf_map_lookup_elem(&bp_endpoints, &ifindex);
	/* The agent writes a veth's entry before it attaches this program, and deletes the veth
	 * (or, another runtime's, takes the program off it) before the entry: a veth without one
	 * is nobody's the agent knows, and is not let through unjudged. */
	if (!ep)
		return bp_drop(skb, BP_DROP_UNKNOWN_ENDPOINT, BP_DIR_EGRESS);
	bp_count_traffic(ep, skb->len, BP_TRAFFIC_TX);
	bp_pull_headers(skb);
	return bp_from_container(skb, ep);
}

/* IPv6 bp_ep_ingress's policy would drop for its destination (the reason in cb[0]):
 * tail-called, with a stack of its own (bp_from_container6_flows). */
SEC("tc")
int bp_ep_nat66(struct __sk_buff *skb)
{
	enum bp_drop_reason reason = skb->cb[0];
	__u32 ifindex = skb->ifindex;
	struct bp_packet6 p;

	if (!bp_flows_may_lift(reason))
		return bp_drop(skb, BP_DROP_IPV6_UNSUPPORTED, BP_DIR_EGRESS);  /* not from bp_ep_ingress: not reached */
	/* The map's value itself, not a copy: the stack is all but full here. */
	struct bp_endpoint *ep = bpf_map_lookup_elem(&bp_endpoints, &ifindex);
	if (!ep || bp_parse_ipv6(skb, &p, sizeof(struct ethhdr)) < 0)
		return bp_drop(skb, reason, BP_DIR_EGRESS);  /* gone meanwhile, or parsed before: not reached */
	return bp_from_container6_flows(skb, ep, &p, reason);
}

/* bp_ep_nat66's twin for a later fragment (its first fragment's translation) or an ICMPv6
 * error (its flow's, bp_icmp6_error). What has none is dropped as fragment or
 * untranslatable bound beyond the host from a masquerading network, leaves as it is from
 * routed and macvlan ones, and is dropped with the policy's reason otherwise. */
SEC("tc")
int bp_ep_nat66_rel(struct __sk_buff *skb)
{
	enum bp_drop_reason reason = skb->cb[0];
	__u32 ifindex = skb->ifindex;
	struct bp_packet6 p;
	int verdict = BP_CONTINUE;

	if (!bp_flows_may_lift(reason))
		return bp_drop(skb, BP_DROP_IPV6_UNSUPPORTED, BP_DIR_EGRESS);  /* not from bp_ep_ingress: not reached */
	struct bp_endpoint *ep = bpf_map_lookup_elem(&bp_endpoints, &ifindex);
	if (!ep || bp_parse_ipv6(skb, &p, sizeof(struct ethhdr)) < 0)
		return bp_drop(skb, reason, BP_DIR_EGRESS);  /* gone meanwhile, or parsed before: not reached */
	int beyond = reason == BP_DROP_IPV6_UNSUPPORTED;
	int masquerades = beyond && (ep->flags & BP_EP_F_MASQUERADE6);
	if (p.fragment && !p.has_ports) {
		if (bp_follow_fragment6(skb, &p, sizeof(struct ethhdr), 0, &verdict))
			return verdict;
	} else if (bp_icmp6_is_error(&p) && bp_icmp6_error(skb, &p, sizeof(struct ethhdr), 0, &verdict)) {
		return verdict;
	}
	if (masquerades)
		return bp_drop(skb, p.fragment ? BP_DROP_FRAGMENT : BP_DROP_UNTRANSLATABLE, BP_DIR_EGRESS);
	if (beyond && (ep->flags & (BP_EP_F_TRACK_OUT6 | BP_EP_F_PASS_OUT6)))
		return BP_CONTINUE;  /* routed, macvlan: as it is */
	return bp_drop(skb, reason, BP_DIR_EGRESS);
}

SEC("tc")
int bp_ep_egress(struct __sk_buff *skb)
{
	bp_count_traffic_of(skb->ifindex, skb->len, BP_TRAFFIC_RX);
	return BP_CONTINUE;
}

SEC("tc")
int bp_tunnel_ingress(struct __sk_buff *skb)
{
	return bp_overlay_in(skb);
}

char _license[] SEC("license") = "Dual BSD/GPL";
