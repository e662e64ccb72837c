/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * What a container may send (cf. Cilium's bpf/lib/policy.h): only with its own
 * addresses, not into other networks, not to its own network's containers when
 * inter-container communication is off, and nowhere outside its subnet when
 * the network is internal. Each refusal is a drop reason. Published ports are
 * the exception: the socket hooks send a container that asks for a host
 * address and published port straight to the target container, which may be
 * in another network or behind ICC off, as Docker's published ports are.
 */
#ifndef BP_LIB_POLICY_H
#define BP_LIB_POLICY_H

#include "common.h"
#include "conntrack.h"
#include "maps.h"
#include "parse.h"
#include "ports.h"

/* ARP over Ethernet for IPv4, as the wire carries it (28 bytes). */
struct bp_arp_ipv4 {
	__be16 hardware;
	__be16 protocol;
	__u8 hardware_len;
	__u8 protocol_len;
	__be16 operation;
	__u8 sender_mac[ETH_ALEN];
	__u32 sender_ip;
	__u8 target_mac[ETH_ALEN];
	__u32 target_ip;
} __attribute__((packed));

static __always_inline int bp_same_mac(const __u8 *a, const __u8 *b)
{
	return a[0] == b[0] && a[1] == b[1] && a[2] == b[2] && a[3] == b[3] && a[4] == b[4] && a[5] == b[5];
}

static __always_inline struct bp_subnet *bp_subnet_of(__u32 ip)
{
	struct bp_subnet_key key = { .prefixlen = 32, .ip = ip };

	return bpf_map_lookup_elem(&bp_subnets, &key);
}

/* The destination's subnet when it is the endpoint's own network's, without the trie (see
 * bp_endpoint.subnet_mask): what a container sends to its neighbours skips the lookup. NULL:
 * another, or the endpoint's subnet is not known; the trie decides. */
static __always_inline const struct bp_subnet *bp_own_subnet(const struct bp_endpoint *ep, __u32 daddr)
{
	return ep->subnet_mask && !((daddr ^ ep->ip) & ep->subnet_mask) ? &ep->subnet : NULL;
}

/* Broadcast and multicast stay on the bridge: they reach the network's containers. */
static __always_inline int bp_broadcast_or_multicast(__u32 daddr)
{
	return daddr == 0xffffffff || (daddr & bpf_htonl(0xf0000000)) == bpf_htonl(0xe0000000);
}

/* VXLAN to the host: only the cluster's hosts may send it, since a VXLAN frame lands on an
 * overlay's bridge behind every check of the uplink. Outside a cluster the port is not ours. */
static __always_inline int bp_vxlan_refused(const struct bp_packet *p)
{
	__u32 any = 0;

	return p->proto == BP_PROTO_UDP && p->dport == bpf_htons(BP_VXLAN_PORT) &&
	       !bpf_map_lookup_elem(&bp_vxlan_peers, &p->saddr) && bpf_map_lookup_elem(&bp_vxlan_peers, &any);
}

/* The subnet `to` as the endpoint sees it: a LAN's prefix (a macvlan network's, the host's
 * own address on it too) is beyond the host for another network's container, which reaches
 * it masqueraded, not isolated (only internal networks keep out); NULL for such. */
static __always_inline const struct bp_subnet *bp_seen_subnet(const struct bp_endpoint *ep, const struct bp_subnet *to)
{
	return to && (to->flags & BP_SUBNET_F_LAN) && to->network_id != ep->network_id ? NULL : to;
}

/*
 * Isolation, ICC and internal networks, of both IP versions: 0 when the destination `daddr`,
 * in subnet `to` as the endpoint sees it (bp_seen_subnet; NULL: in none), may be reached.
 * `host_addrs` is the host's addresses of
 * its version (bp_host_addrs or bp_host_addrs6).
 */
static __always_inline enum bp_drop_reason bp_network_verdict(const struct bp_endpoint *ep, const struct bp_subnet *to,
							      void *host_addrs, const void *daddr)
{
	if (to && to->network_id != ep->network_id && (ep->flags & BP_EP_F_ISOLATED))
		return BP_DROP_ISOLATION;
	if (to && to->network_id == ep->network_id) {
		/* With ICC off only the gateway (the host) may be reached in the network. */
		if ((ep->flags & BP_EP_F_ICC_DISABLED) && !bpf_map_lookup_elem(host_addrs, daddr))
			return BP_DROP_ICC;
		return 0;
	}
	if (ep->flags & BP_EP_F_INTERNAL)
		return BP_DROP_INTERNAL;
	return 0;
}


/*
 * The exception for published ports, asked only for packets about to be dropped: a flow
 * to a published target passes (a restricted one's: from an allowed source only), and is
 * tracked (kind hairpin) so that exactly its replies pass too, not flows the target opens
 * itself from its published port. Returns 1 when the packet passes, 0 when it is no such
 * flow, -1 when the flow table is full.
 */
static __always_inline int bp_hairpin(struct __sk_buff *skb, const struct bp_packet *p, const struct bp_flow_key *key,
				      const struct bp_flow *flow, __u32 now)
{
	if (flow)
		return flow->kind == BP_FLOW_HAIRPIN;
	if (!bp_target_open_to(p->daddr, p->dport, p->proto, p->saddr))
		return 0;
	long err = bp_flow_create_untranslated(p, key, BP_FLOW_HAIRPIN, skb->ifindex, now, skb->len - p->l3_off);
	if (err == -BP_EEXIST)
		return 0;  /* the reply tuple belongs to another flow */
	return err ? -1 : 1;
}

#define BP_ETH_P_8021Q  0x8100
#define BP_ETH_P_8021AD 0x88A8
#define BP_ETH_P_QINQ   0x9100  /* the pre-standard QinQ tag */
#define BP_ETH_P_IPV6   0x86DD

/*
 * What a container's frame is, before its IP header: 0 when it may go on (ARP that claims
 * only the container's addresses; IPv4, judged by bp_ipv4_verdict, and IPv6, by
 * bp_ipv6_verdict: *l3 is set to the ethertype), else the drop reason. It fails closed: a
 * tag (also one the veth carries out of band, and VID 0), IPv6 on a network without it,
 * IPv4 and ARP on one without IPv4, and every other ethertype are dropped.
 */
static __always_inline enum bp_drop_reason bp_link_verdict(struct __sk_buff *skb, const struct bp_endpoint *ep, int *l3)
{
	void *data = (void *)(long)skb->data;
	void *data_end = (void *)(long)skb->data_end;
	struct ethhdr *eth = data;

	*l3 = 0;
	if ((void *)(eth + 1) > data_end)
		return BP_DROP_MALFORMED;
	if ((ep->flags & BP_EP_F_ENFORCE_SOURCE) && !bp_same_mac(eth->h_source, ep->mac))
		return BP_DROP_SPOOFED_SOURCE;
	if (skb->vlan_present)
		return BP_DROP_VLAN;

	switch (bpf_ntohs(eth->h_proto)) {
	case ETH_P_IP:
		if (ep->flags & BP_EP_F_IPV6_ONLY)
			return BP_DROP_IPV4_DISABLED;
		*l3 = ETH_P_IP;
		return 0;
	case ETH_P_ARP: {
		struct bp_arp_ipv4 *body = (void *)(eth + 1);

		if (ep->flags & BP_EP_F_IPV6_ONLY)
			return BP_DROP_IPV4_DISABLED;

		if ((void *)(body + 1) > data_end)
			return BP_DROP_MALFORMED;
		if (body->protocol != bpf_htons(ETH_P_IP))
			return BP_DROP_UNKNOWN_L3;
		/* An ARP message claiming another address (or MAC) than the container's. */
		if ((ep->flags & BP_EP_F_ENFORCE_SOURCE) &&
		    (body->sender_ip != ep->ip || !bp_same_mac(body->sender_mac, ep->mac)))
			return BP_DROP_SPOOFED_SOURCE;
		return 0;
	}
	case BP_ETH_P_IPV6:
		if (ep->flags & BP_EP_F_IPV4_ONLY)
			return BP_DROP_IPV6_DISABLED;
		*l3 = BP_ETH_P_IPV6;
		return 0;
	case BP_ETH_P_8021Q:
	case BP_ETH_P_8021AD:
	case BP_ETH_P_QINQ:
		return BP_DROP_VLAN;
	default:
		return BP_DROP_UNKNOWN_L3;
	}
}

/* 0 when the IPv4 packet may leave the container, else the drop reason. ICC off drops
 * broadcast and multicast as it drops unicast to a neighbour (Docker's ICC rule drops every
 * bridged IPv4 frame). *to is the destination's subnet as the endpoint sees it
 * (bp_seen_subnet), for the caller's later questions (one trie lookup per packet, none for
 * the endpoint's own network: bp_own_subnet); NULL for none, and for a packet judged before
 * its destination (spoofed, broadcast, multicast). */
static __always_inline enum bp_drop_reason bp_ipv4_verdict(const struct bp_endpoint *ep, const struct bp_packet *p,
							   const struct bp_subnet **to)
{
	*to = NULL;
	if ((ep->flags & BP_EP_F_ENFORCE_SOURCE) && p->saddr != ep->ip)
		return BP_DROP_SPOOFED_SOURCE;
	if (bp_broadcast_or_multicast(p->daddr))
		return (ep->flags & BP_EP_F_ICC_DISABLED) ? BP_DROP_ICC : 0;
	*to = bp_own_subnet(ep, p->daddr);
	if (!*to)
		*to = bp_seen_subnet(ep, bp_subnet_of(p->daddr));
	return bp_network_verdict(ep, *to, &bp_host_addrs, &p->daddr);
}

#endif /* BP_LIB_POLICY_H */
