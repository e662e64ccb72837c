/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Address and port rewriting with incremental checksum updates, and the
 * forwarding that must follow it (cf. Cilium's bpf/lib/nat.h).
 */
#ifndef BP_LIB_NAT_H
#define BP_LIB_NAT_H

#include <stddef.h>
#include <linux/in.h>

#include "common.h"
#include "parse.h"
#include "metrics.h"

#ifndef AF_INET
#define AF_INET 2
#endif
#ifndef BPF_FIB_LOOKUP_SRC
#define BPF_FIB_LOOKUP_SRC (1U << 4)  /* Linux 6.8: also give the route's preferred source */
#endif

static __always_inline __u32 bp_l4_csum_off(const struct bp_packet *p)
{
	if (p->proto == BP_PROTO_TCP)
		return p->l4_off + offsetof(struct tcphdr, check);
	if (p->proto == BP_PROTO_UDP)
		return p->l4_off + offsetof(struct udphdr, check);
	return p->l4_off + offsetof(struct bp_icmp_echo, checksum);
}

/*
 * Every translation here forwards the packet past the kernel's routing, a hop the
 * kernel would count: a packet whose TTL would run out is left untranslated to the
 * kernel (which delivers it locally or answers "time exceeded" to its sender, as for
 * any routed packet), and bp_rewrite takes one off the TTL of the others.
 */
static __always_inline int bp_ttl_expires(const struct bp_packet *p)
{
	return p->ttl <= 1;
}

/*
 * The IP header's part of a translation: one address (the destination when `dest` is
 * set, else the source) and the TTL, with the header checksum. A later fragment, which
 * carries no L4 header, needs only this.
 */
static __always_inline int bp_rewrite_ip(struct __sk_buff *skb, const struct bp_packet *p, int dest, __u32 new_ip)
{
	__u32 old_ip = dest ? p->daddr : p->saddr;
	__u32 check_off = p->l3_off + offsetof(struct iphdr, check);
	__u32 ip_off = p->l3_off + (dest ? offsetof(struct iphdr, daddr) : offsetof(struct iphdr, saddr));
	/* TTL and protocol share a 16-bit word of the header checksum. */
	__u32 ttl_off = p->l3_off + offsetof(struct iphdr, ttl);
	__u16 old_word = bpf_htons((__u16)p->ttl << 8 | p->proto);
	__u16 new_word = bpf_htons((__u16)(p->ttl - 1) << 8 | p->proto);
	__u8 ttl = p->ttl - 1;

	if (bpf_l3_csum_replace(skb, check_off, old_ip, new_ip, sizeof(new_ip)) ||
	    bpf_skb_store_bytes(skb, ip_off, &new_ip, sizeof(new_ip), 0) ||
	    bpf_l3_csum_replace(skb, check_off, old_word, new_word, sizeof(new_word)) ||
	    bpf_skb_store_bytes(skb, ttl_off, &ttl, sizeof(ttl), 0))
		return -1;
	return 0;
}

/*
 * Fragments of a published flow: the first one (with the ports) is translated as any
 * packet and its translation remembered under the datagram's identity; the later ones
 * get the same address. A later fragment that arrives before the first is left to the
 * kernel, as is an overlap the receiver's reassembly then discards.
 */
static __always_inline void bp_remember_fragment(const struct bp_packet *p, __u32 addr, __u32 ifindex)
{
	struct bp_frag_key key = { .src = p->saddr, .dst = p->daddr, .id = p->ip_id, .proto = p->proto };
	struct bp_frag_nat nat = { .addr = addr, .ifindex = ifindex };

	bpf_map_update_elem(&bp_frags, &key, &nat, BPF_ANY);
}

/* The translation remembered for a later fragment's datagram, or NULL. */
static __always_inline struct bp_frag_nat *bp_fragment_translation(const struct bp_packet *p)
{
	struct bp_frag_key key = { .src = p->saddr, .dst = p->daddr, .id = p->ip_id, .proto = p->proto };

	return bpf_map_lookup_elem(&bp_frags, &key);
}

/*
 * Replaces one address and one port of the packet: the destination when
 * `dest` is set, else the source. UDP checksums of 0 (none) stay 0. For ICMP
 * echo the "port" is the identifier, and the ICMP checksum has no pseudo-header.
 */
static __always_inline int bp_rewrite(struct __sk_buff *skb, const struct bp_packet *p, int dest,
				      __u32 new_ip, __u16 new_port)
{
	__u32 old_ip = dest ? p->daddr : p->saddr;
	__u16 old_port = dest ? p->dport : p->sport;
	__u32 port_off = p->proto == BP_PROTO_ICMP ? p->l4_off + offsetof(struct bp_icmp_echo, id)
			 : p->l4_off + (dest ? offsetof(struct tcphdr, dest) : offsetof(struct tcphdr, source));
	__u64 mangled = p->proto == BP_PROTO_UDP ? BPF_F_MARK_MANGLED_0 : 0;
	__u32 l4_csum = bp_l4_csum_off(p);

	if (p->proto != BP_PROTO_ICMP &&
	    bpf_l4_csum_replace(skb, l4_csum, old_ip, new_ip, BPF_F_PSEUDO_HDR | mangled | sizeof(new_ip)))
		return -1;
	if (bpf_l4_csum_replace(skb, l4_csum, old_port, new_port, mangled | sizeof(new_port)) ||
	    bpf_skb_store_bytes(skb, port_off, &new_port, sizeof(new_port), 0))
		return -1;
	return bp_rewrite_ip(skb, p, dest, new_ip);
}

/* A forwarding route lookup for saddr -> daddr from the interface the packet came in on. */
static __always_inline long bp_route(struct __sk_buff *skb, __u32 saddr, __u32 daddr, __u32 flags,
				     struct bpf_fib_lookup *fib)
{
	*fib = (struct bpf_fib_lookup){
		.family = AF_INET,
		.ipv4_src = saddr,
		.ipv4_dst = daddr,
		.ifindex = skb->ingress_ifindex,
	};
	return bpf_fib_lookup(skb, fib, sizeof(*fib), flags);
}

/*
 * Sends the rewritten packet straight out of the interface the routing table
 * picks for its destination, resolving the next hop's MAC there. A reply
 * whose source became a host address must not re-enter the host's stack from
 * a bridge: it would be dropped as a martian. The lookup is a forwarding one
 * from the interface the packet came in on (the agent enables IPv4 forwarding,
 * as Docker does).
 */
static __always_inline int bp_redirect_by_route(struct __sk_buff *skb, __u32 saddr, __u32 daddr)
{
	struct bpf_fib_lookup fib;
	long rc = bp_route(skb, saddr, daddr, 0, &fib);

	if (rc != BPF_FIB_LKUP_RET_SUCCESS && rc != BPF_FIB_LKUP_RET_NO_NEIGH)
		return BP_CONTINUE;  /* no route: leave it to the kernel */
	return bpf_redirect_neigh(fib.ifindex, NULL, 0, 0);
}

/*
 * Hands a rewritten packet for a container straight to the container's eth0,
 * the peer of its host-side veth `ifindex` (bpf_redirect_peer, as Cilium does
 * from an uplink): no bridge, no second pass through the backlog queue. The
 * routing table still decides: the route to the container must be known and
 * its neighbour resolved, which gives both MAC addresses; otherwise the
 * packet goes the way bp_redirect_by_route sends it, which resolves the
 * neighbour. The packet skips the veth's own tc egress, so it is counted as
 * the container's receive traffic here.
 */
static __always_inline int bp_deliver_to_endpoint(struct __sk_buff *skb, __u32 saddr, __u32 daddr, __u32 ifindex)
{
	struct bpf_fib_lookup fib;
	long rc = bp_route(skb, saddr, daddr, 0, &fib);

	if (rc == BPF_FIB_LKUP_RET_NO_NEIGH)
		return bpf_redirect_neigh(fib.ifindex, NULL, 0, 0);
	if (rc != BPF_FIB_LKUP_RET_SUCCESS)
		return BP_CONTINUE;  /* no route: leave it to the kernel */
	struct ethhdr eth;

	__builtin_memcpy(eth.h_dest, fib.dmac, ETH_ALEN);
	__builtin_memcpy(eth.h_source, fib.smac, ETH_ALEN);
	if (!ifindex || bpf_skb_store_bytes(skb, 0, &eth, 2 * ETH_ALEN, 0))
		return bpf_redirect_neigh(fib.ifindex, NULL, 0, 0);
	bp_count_traffic(ifindex, skb->len, BP_TRAFFIC_RX);
	return bpf_redirect_peer(ifindex, 0);
}

/*
 * Masquerade (Docker's MASQUERADE rule): a flow from a container to beyond the
 * host leaves with the address the route out prefers and a source port from
 * BP_SNAT_PORT_MIN..MAX chosen so that {host address, port, remote, protocol}
 * is unique. Both directions are kept in LRU maps, so idle flows expire.
 * Returns the verdict.
 */
static __always_inline int bp_masquerade(struct __sk_buff *skb, const struct bp_packet *p)
{
	if (bp_ttl_expires(p))
		return BP_CONTINUE;
	struct bp_flow_key flow = {
		.src_ip = p->saddr, .dst_ip = p->daddr, .src_port = p->sport, .dst_port = p->dport, .proto = p->proto,
	};
	struct bpf_fib_lookup fib;
	long rc = bp_route(skb, p->saddr, p->daddr, BPF_FIB_LOOKUP_SRC, &fib);

	if (rc != BPF_FIB_LKUP_RET_SUCCESS && rc != BPF_FIB_LKUP_RET_NO_NEIGH)
		return BP_CONTINUE;

	struct bp_nat_value *known = bpf_map_lookup_elem(&bp_snat, &flow);
	struct bp_nat_value nat = {};
	if (known) {
		nat = *known;
	} else {
		struct bp_snat_origin origin = { .ip = p->saddr, .port = p->sport, .ifindex = skb->ifindex };
		struct bp_flow_key reply = { .src_ip = p->daddr, .dst_ip = fib.ipv4_src, .src_port = p->dport, .proto = p->proto };
		__u32 span = BP_SNAT_PORT_MAX - BP_SNAT_PORT_MIN + 1;
		__u32 start = bpf_get_prandom_u32() % span;
		int found = 0;

		for (int i = 0; i < 16; i++) {
			__u16 port = BP_SNAT_PORT_MIN + (start + i * 97) % span;

			reply.dst_port = bpf_htons(port);
			if (p->proto == BP_PROTO_ICMP)
				reply.src_port = reply.dst_port;  /* echo replies carry the new id only */
			if (bpf_map_update_elem(&bp_snat_rev, &reply, &origin, BPF_NOEXIST) == 0) {
				found = 1;
				break;
			}
		}
		if (!found)
			return BP_DROP;  /* no free port for this destination */
		nat.host_ip = fib.ipv4_src;
		nat.host_port = reply.dst_port;
		bpf_map_update_elem(&bp_snat, &flow, &nat, BPF_ANY);
	}
	if (p->fragment)
		bp_remember_fragment(p, nat.host_ip, 0);
	if (bp_rewrite(skb, p, 0, nat.host_ip, nat.host_port) < 0)
		return BP_DROP;
	return bpf_redirect_neigh(fib.ifindex, NULL, 0, 0);
}

/*
 * A reply to a masqueraded flow, arriving at the uplink, goes back to its
 * container: returns 1 and sets *verdict, or 0 when the packet is not one.
 */
static __always_inline int bp_unmasquerade(struct __sk_buff *skb, const struct bp_packet *p, int *verdict)
{
	struct bp_flow_key reply = {
		.src_ip = p->saddr, .dst_ip = p->daddr, .src_port = p->sport, .dst_port = p->dport, .proto = p->proto,
	};
	struct bp_snat_origin *found = bpf_map_lookup_elem(&bp_snat_rev, &reply);
	if (!found)
		return 0;
	if (bp_ttl_expires(p)) {
		*verdict = BP_CONTINUE;
		return 1;
	}
	struct bp_snat_origin origin = *found;

	if (p->fragment)
		bp_remember_fragment(p, origin.ip, origin.ifindex);

	if (bp_rewrite(skb, p, 1, origin.ip, origin.port) < 0)
		*verdict = BP_DROP;
	else
		*verdict = bp_deliver_to_endpoint(skb, p->saddr, origin.ip, origin.ifindex);
	return 1;
}

/*
 * A later fragment of a datagram whose first fragment was translated: the same
 * address (destination toward a container, source from one), then the same way out.
 * Returns 0 when the datagram is not one of those.
 */
static __always_inline int bp_follow_fragment(struct __sk_buff *skb, const struct bp_packet *p, int dest, int *verdict)
{
	struct bp_frag_nat *found = bp_fragment_translation(p);

	if (!found)
		return 0;
	struct bp_frag_nat nat = *found;

	if (bp_ttl_expires(p))
		*verdict = BP_CONTINUE;
	else if (bp_rewrite_ip(skb, p, dest, nat.addr) < 0)
		*verdict = BP_DROP;
	else
		*verdict = dest ? bp_deliver_to_endpoint(skb, p->saddr, nat.addr, nat.ifindex)
				: bp_redirect_by_route(skb, nat.addr, p->daddr);
	return 1;
}

#endif /* BP_LIB_NAT_H */
