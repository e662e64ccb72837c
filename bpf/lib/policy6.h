/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * What a container may send over IPv6: the rules of lib/policy.h with bp_subnets6 and
 * bp_host_addrs6, and NDP held to what ARP is held to. Its sources are its own addresses
 * (the endpoint's, and the link-local one its kernel derives from its MAC); neighbour
 * discovery claims only those (and its MAC); router advertisements and redirects are no
 * container's business. Link-local destinations and multicast stay on the bridge and obey
 * ICC as broadcast does, except neighbour discovery, which passes as ARP does (it reaches
 * no one ICC would protect: whom it resolves stays unreachable). A destination beyond the
 * host is ipv6_unsupported here: the endpoint program translates it when it belongs to a
 * known flow (a published flow's reply), masquerades it (NAT66, lib/nat6.h) where the
 * network masquerades, and drops it otherwise (no routed IPv6 yet). Published targets
 * (bp_targets6) are the policy's exception, as IPv4's (bp_hairpin6).
 */
#ifndef BP_LIB_POLICY6_H
#define BP_LIB_POLICY6_H

#include "common.h"
#include "maps.h"
#include "parse6.h"
#include "policy.h"

/* Options an NDP message from a container may carry (Linux sends one, a nonce besides
 * for duplicate address detection); more are dropped as malformed, unread. */
#define BP_NDP_MAX_OPTIONS 4
#define BP_NDP_OPT_SOURCE_LLADDR 1
#define BP_NDP_OPT_TARGET_LLADDR 2

static __always_inline int bp_ip6_is_zero(const __u32 *a)
{
	return !(a[0] | a[1] | a[2] | a[3]);
}

/* fe80::/64 with the EUI-64 interface identifier of `mac` (RFC 4291 appendix A), the
 * link-local address the kernel gives an interface (IPv6Address.linkLocal). */
static __always_inline int bp_ip6_is_link_local_of(const __u32 *a, const __u8 *mac)
{
	return a[0] == bpf_htonl(0xfe800000) && a[1] == 0 &&
	       a[2] == bpf_htonl((__u32)(mac[0] ^ 0x02) << 24 | (__u32)mac[1] << 16 | (__u32)mac[2] << 8 | 0xff) &&
	       a[3] == bpf_htonl(0xfe000000 | (__u32)mac[3] << 16 | (__u32)mac[4] << 8 | mac[5]);
}

/* One of the endpoint's own addresses: its IPv6 address or its link-local one. */
static __always_inline int bp_own_ip6(const struct bp_endpoint *ep, const __u32 *a)
{
	__u32 own[4];

	__builtin_memcpy(own, ep->ip6, sizeof(own));
	return bp_ip6_same(a, own) || bp_ip6_is_link_local_of(a, ep->mac);
}

/* Whether the endpoint's IPv6 is judged: it has an address (a dual-stack network's
 * endpoint); another runtime's interface has none (see BP_EP_F_IPV4_ONLY). */
static __always_inline int bp_endpoint_has_ip6(const struct bp_endpoint *ep)
{
	__u32 own[4];

	__builtin_memcpy(own, ep->ip6, sizeof(own));
	return !bp_ip6_is_zero(own);
}

/* Multicast (ff00::/8) and link-local unicast (fe80::/10): never routed off the bridge. */
static __always_inline int bp_ip6_on_link(const __u32 *a)
{
	return (a[0] & bpf_htonl(0xff000000)) == bpf_htonl(0xff000000) ||
	       (a[0] & bpf_htonl(0xffc00000)) == bpf_htonl(0xfe800000);
}

static __always_inline struct bp_subnet *bp_subnet6_of(const __u32 *ip)
{
	struct bp_subnet6_key key = { .prefixlen = 128 };

	__builtin_memcpy(key.ip6, ip, sizeof(key.ip6));
	return bpf_map_lookup_elem(&bp_subnets6, &key);
}

/*
 * Router solicitations, neighbour solicitations and advertisements claim nothing but the
 * container's own: an advertisement's target, a duplicate address detection's target (a
 * solicitation from ::) and every link-layer address option are its own. 0, or the reason.
 */
static __always_inline enum bp_drop_reason bp_ndp_verdict(struct __sk_buff *skb, const struct bp_endpoint *ep,
							  const struct bp_packet6 *p, int unspecified)
{
	__u32 opt = p->l4_off + 8;  /* a solicitation's options follow its 4 reserved bytes */

	if (p->icmp_type != BP_ICMP6_ROUTER_SOLICIT) {
		__u32 target[4];

		if (p->l4_off + 24 > p->end || bpf_skb_load_bytes(skb, p->l4_off + 8, target, sizeof(target)))
			return BP_DROP_MALFORMED;
		if ((p->icmp_type == BP_ICMP6_NEIGH_ADVERT || unspecified) && !bp_own_ip6(ep, target))
			return BP_DROP_SPOOFED_SOURCE;
		opt += sizeof(target);
	}
#pragma unroll
	for (int i = 0; i < BP_NDP_MAX_OPTIONS; i++) {
		__u8 o[8];  /* type, length (in 8 bytes), and a link-layer address's 6 bytes */

		if (opt == p->end)
			return 0;
		if (opt + sizeof(o) > p->end || bpf_skb_load_bytes(skb, opt, o, sizeof(o)) || !o[1])
			return BP_DROP_MALFORMED;  /* RFC 4861 §4.6: a length of 0 is invalid */
		if ((o[0] == BP_NDP_OPT_SOURCE_LLADDR || o[0] == BP_NDP_OPT_TARGET_LLADDR) && !bp_same_mac(o + 2, ep->mac))
			return BP_DROP_SPOOFED_SOURCE;
		opt += (__u32)o[1] * 8;
	}
	return opt == p->end ? 0 : BP_DROP_MALFORMED;  /* one ran past the end, or more remain */
}

/*
 * The source is the container's own (BP_EP_F_ENFORCE_SOURCE): its address, its link-local
 * one, or :: while it has none of its own yet, which only duplicate address detection and
 * the MLD reports sent meanwhile use (RFC 4862 §5.4.2, RFC 3590). NDP claims its own alone.
 */
static __always_inline enum bp_drop_reason bp_ipv6_source_verdict(struct __sk_buff *skb, const struct bp_endpoint *ep,
								   const struct bp_packet6 *p)
{
	__u8 type = p->proto == BP_IPPROTO_ICMPV6 && p->has_ports ? p->icmp_type : 0;
	int unspecified = bp_ip6_is_zero(p->saddr);

	if (unspecified ? type != BP_ICMP6_NEIGH_SOLICIT && type != BP_ICMP6_MLD_REPORT && type != BP_ICMP6_MLD2_REPORT
			: !bp_own_ip6(ep, p->saddr))
		return BP_DROP_SPOOFED_SOURCE;
	if (type == BP_ICMP6_ROUTER_SOLICIT || type == BP_ICMP6_NEIGH_SOLICIT || type == BP_ICMP6_NEIGH_ADVERT)
		return bp_ndp_verdict(skb, ep, p, unspecified);
	return 0;
}

/* 0 when the IPv6 packet may leave the container, else the drop reason. */
static __always_inline enum bp_drop_reason bp_ipv6_verdict(struct __sk_buff *skb, const struct bp_endpoint *ep,
							   const struct bp_packet6 *p)
{
	__u8 type = p->proto == BP_IPPROTO_ICMPV6 && p->has_ports ? p->icmp_type : 0;
	/* Neighbour discovery (unfragmented, as RFC 6980 wants it) reaches the network as ARP does. */
	int ndp = !p->fragment && (type == BP_ICMP6_ROUTER_SOLICIT || type == BP_ICMP6_NEIGH_SOLICIT ||
				   type == BP_ICMP6_NEIGH_ADVERT);

	if (ep->flags & BP_EP_F_ENFORCE_SOURCE) {
		enum bp_drop_reason reason = bp_ipv6_source_verdict(skb, ep, p);

		if (reason)
			return reason;
	}
	if (type == BP_ICMP6_ROUTER_ADVERT || type == BP_ICMP6_REDIRECT)
		return BP_DROP_ROGUE_ROUTER;
	if (bp_ip6_on_link(p->daddr)) {
		/* On the bridge: to the network's containers, or to the host's link-local address. */
		if (ndp || !(ep->flags & BP_EP_F_ICC_DISABLED) || bpf_map_lookup_elem(&bp_host_addrs6, p->daddr))
			return 0;
		return BP_DROP_ICC;
	}
	const struct bp_subnet *to = bp_seen_subnet(ep, bp_subnet6_of(p->daddr));
	enum bp_drop_reason reason = bp_network_verdict(ep, to, &bp_host_addrs6, p->daddr);
	if (reason == BP_DROP_ICC && ndp)
		return 0;
	if (reason || to || bpf_map_lookup_elem(&bp_host_addrs6, p->daddr))
		return reason;
	return BP_DROP_IPV6_UNSUPPORTED;  /* beyond the host */
}

/* bp_hairpin for IPv6: a flow to a published target of bp_targets6 passes the policy, tracked
 * in bp_flows6 (kind hairpin) so that exactly its replies pass too. 1, 0, or -1 (table full). */
static __always_inline int bp_hairpin6(struct __sk_buff *skb, const struct bp_packet6 *p,
				       const struct bp_flow6_key *key, const struct bp_flow6 *flow, __u32 now)
{
	if (flow)
		return flow->kind == BP_FLOW_HAIRPIN;
	if (!bp_target_open_to6(p->daddr, p->dport, p->proto, p->saddr))
		return 0;
	/* (a container's packet: after its Ethernet header) */
	long err = bp_flow_create_untranslated6(p, key, BP_FLOW_HAIRPIN, skb->ifindex, now,
						skb->len - sizeof(struct ethhdr));
	if (err == -BP_EEXIST)
		return 0;  /* the reply tuple belongs to another flow */
	return err ? -1 : 1;
}

#endif /* BP_LIB_POLICY6_H */
