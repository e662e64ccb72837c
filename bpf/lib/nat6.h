/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * NAT66 (Docker's with ip6tables), IPv4's translations for IPv6. Masquerade: a new flow
 * from a container of a masquerading dual-stack network to beyond the host leaves with the
 * host's address the route out prefers (bpf_fib_lookup, AF_INET6) and, as for IPv4, its own
 * source port when free (not a published one); its replies on the uplink get the
 * container's address and port back and go straight to it. Published ports (bp_ports6): a
 * new flow from outside to one of the host's IPv6 addresses gets the container's address
 * and port, and its replies the published ones back, whatever the network's masquerade.
 * The flows are bp_flows6's (lib/flowops.h), with the lifecycle of IPv4's.
 *
 * Differences from IPv4 (lib/nat.h): no header checksum, but TCP's, UDP's and ICMPv6's
 * checksums all cover the addresses (the pseudo-header), updated a 32-bit word at a time;
 * the hop limit takes the TTL's place. Routers never fragment IPv6, so a packet too big for
 * the route goes to the kernel untranslated, which answers "packet too big" to the container.
 * Fragments follow their first fragment's translation (lib/frag6.h); ICMPv6 errors about
 * translated flows are translated with them (lib/icmp6.h). Not translated (and dropped
 * where they would leave with a container's address): protocols other than TCP, UDP and
 * ICMPv6 echo.
 */
#ifndef BP_LIB_NAT6_H
#define BP_LIB_NAT6_H

#include "conntrack.h"
#include "frag6.h"
#include "nat.h"
#include "parse6.h"
#include "policy6.h"

#ifndef AF_INET6
#define AF_INET6 10
#endif

/* Offsets in the IPv6 header */
#define BP_IPV6_HOP_LIMIT_OFF 7
#define BP_IPV6_SADDR_OFF 8
#define BP_IPV6_DADDR_OFF 24

static __always_inline __u32 bp_l4_csum_off6(const struct bp_packet6 *p)
{
	if (p->proto == BP_PROTO_TCP)
		return p->l4_off + offsetof(struct tcphdr, check);
	if (p->proto == BP_PROTO_UDP)
		return p->l4_off + offsetof(struct udphdr, check);
	return p->l4_off + offsetof(struct bp_icmp_echo, checksum);
}

/* The IPv6 header's part of a translation: one address (the destination when `dest` is
 * set, else the source) and one off the hop limit. IPv6 has no header checksum: a later
 * fragment, which carries no upper-layer header, needs only this. */
static __always_inline int bp_rewrite_ip6(struct __sk_buff *skb, __u32 l3_off, int dest, const __u32 *new_ip,
					  __u8 hop_limit)
{
	hop_limit -= 1;
	/* Both are in a device's CHECKSUM_COMPLETE sum (skb->csum), which these stores keep
	 * right. The address is also in the L4 checksum (pseudo-header), whose update with
	 * BPF_F_PSEUDO_HDR takes the address's change off skb->csum as an IPv4 header checksum
	 * would give it back: IPv6 has none, so the store gives it back (the change the packet
	 * sees in all is the L4 checksum's, nothing). */
	return bpf_skb_store_bytes(skb, l3_off + (dest ? BP_IPV6_DADDR_OFF : BP_IPV6_SADDR_OFF), new_ip, 16,
				   BPF_F_RECOMPUTE_CSUM) ||
	       bpf_skb_store_bytes(skb, l3_off + BP_IPV6_HOP_LIMIT_OFF, &hop_limit, sizeof(hop_limit),
				   BPF_F_RECOMPUTE_CSUM) ? -1 : 0;
}

/*
 * What one store rewrites of a TCP or UDP packet right after an IPv6 header without
 * extension headers (nearly every packet), in the packet's layout: from the hop limit
 * through the ports, or through the L4 checksum. The first 3 bytes are not the packet's:
 * they align the addresses.
 */
struct bp_l4_rewrite6 {
	__u8 align[3];
	__u8 hop_limit;
	__u32 saddr[4];
	__u32 daddr[4];
	__u16 ports[2]; /* source, destination */
	BP_L4_THROUGH_CHECK;
};
#define BP_REWRITE6_AT(field) (offsetof(struct bp_l4_rewrite6, field) - offsetof(struct bp_l4_rewrite6, hop_limit))
_Static_assert(BP_REWRITE6_AT(daddr) == BP_IPV6_DADDR_OFF - BP_IPV6_HOP_LIMIT_OFF, "the addresses' place");
_Static_assert(BP_REWRITE6_AT(tcp.check) == sizeof(struct bp_ipv6hdr) - BP_IPV6_HOP_LIMIT_OFF + offsetof(struct tcphdr, check),
	       "TCP's checksum's place");

/* Its room, as bp_rewrite_room's (lib/nat.h) for IPv4. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct bp_l4_rewrite6);
} bp_rewrite_room6 SEC(".maps");

/*
 * bp_rewrite6 of a TCP or UDP header right after the fixed header: hop limit, address and
 * port in one store, and the checksum field with them, computed here: the whole checksum
 * (CHECKSUM_NONE, _UNNECESSARY, and _COMPLETE, whose skb->csum the store then corrects for
 * every byte it changed), or an offloaded one's pseudo-header sum (CHECKSUM_PARTIAL).
 * The translation is the entry `flow`'s (its destination when `dest`, else its source).
 * BP_REWRITE_NOT_PLAIN for another packet (extension headers, ICMPv6): bp_rewrite6's.
 *
 * A global function, which the verifier checks once, on its own: inlined, its test of the
 * packet's layout would make the verifier tell apart every layout the parse can give, on
 * every path after it (NAT66's programs would exceed its limit). Its callers keep no packet
 * pointer across it: kernels before 6.13 do not invalidate them after a global function
 * that changes the packet.
 */
#define BP_REWRITE_NOT_PLAIN 1

__attribute__((noinline)) int bp_rewrite_headers6(struct __sk_buff *skb, const struct bp_packet6 *p,
						  const struct bp_flow6 *flow, int dest)
{
	if (!p || !flow)
		return -1;  /* never: the verifier checks a global function for any pointer */
	int tcp = p->proto == BP_PROTO_TCP;
	int partial = bp_ip_summed(skb) == BP_CHECKSUM_PARTIAL;
	__u32 l3_off = p->l4_off - sizeof(struct bp_ipv6hdr);
	const __u32 *new_ip = flow->nat_ip;
	__u16 new_port = flow->nat_port;
	__u32 zero = 0;
	struct bp_l4_rewrite6 *r = bpf_map_lookup_elem(&bp_rewrite_room6, &zero);

	if (!r)
		return -1;
	if ((l3_off != 0 && l3_off != sizeof(struct ethhdr)) || (!tcp && p->proto != BP_PROTO_UDP))
		return BP_REWRITE_NOT_PLAIN;  /* the fixed header is the 40 bytes before p->l4_off */
	void *data = (void *)(long)skb->data;
	void *data_end = (void *)(long)skb->data_end;
	__u8 *hop = data + l3_off + BP_IPV6_HOP_LIMIT_OFF;
	/* What is read and stored, each copy with the bound the verifier wants next to it. */
	if (tcp) {
		if ((void *)(hop + BP_REWRITE6_AT(tcp.check) + 2) > data_end)
			return BP_REWRITE_NOT_PLAIN;  /* not in the linear data: the helpers read it */
		__builtin_memcpy(&r->hop_limit, hop, BP_REWRITE6_AT(tcp.check) + 2);
	} else {
		if ((void *)(hop + BP_REWRITE6_AT(udp.check) + 2) > data_end)
			return BP_REWRITE_NOT_PLAIN;
		__builtin_memcpy(&r->hop_limit, hop, BP_REWRITE6_AT(udp.check) + 2);
	}
	__u32 *old_ip = dest ? r->daddr : r->saddr;
	__u16 *port = &r->ports[dest ? 1 : 0];
	__u16 *check = tcp ? &r->tcp.check : &r->udp.check;
	__u32 len = tcp ? BP_REWRITE6_AT(tcp.check) + 2 : BP_REWRITE6_AT(udp.check) + 2;

	*check = bp_l4_field_translated(*check, bp_csum_change6(old_ip, new_ip), *port, new_port, !tcp, partial);
	r->hop_limit -= 1;
	__builtin_memcpy(old_ip, new_ip, 16);
	*port = new_port;
	return bpf_skb_store_bytes(skb, l3_off + BP_IPV6_HOP_LIMIT_OFF, &r->hop_limit, len, BPF_F_RECOMPUTE_CSUM) ? -1 : 0;
}

/*
 * Replaces one address and port (the destination when `dest` is set, else the source; the
 * identifier for ICMPv6 echo) and takes one off the hop limit.
 */
static __always_inline int bp_rewrite6(struct __sk_buff *skb, const struct bp_packet6 *p, __u32 l3_off, int dest,
				       const __u32 *new_ip, __u16 new_port)
{
	const __u32 *old_ip = dest ? p->daddr : p->saddr;
	__u16 old_port = dest ? p->dport : p->sport;
	__u32 check = bp_l4_csum_off6(p);
	__u32 port_off = p->proto == BP_PROTO_ICMPV6 ? p->l4_off + offsetof(struct bp_icmp_echo, id)
			 : p->l4_off + (dest ? offsetof(struct tcphdr, dest) : offsetof(struct tcphdr, source));
	__u64 mangled = p->proto == BP_PROTO_UDP ? BPF_F_MARK_MANGLED_0 : 0;
	long store = bp_port_store_flags(skb, p->proto, check);  /* UDP without a checksum (tunnels) */

	if (store < 0)
		return -1;
	/* The address's change as one checksum difference: one update instead of a word's each. */
	__s64 diff = bpf_csum_diff((__be32 *)old_ip, 16, (__be32 *)new_ip, 16, 0);

	if (diff < 0 || bpf_l4_csum_replace(skb, check, 0, diff, BPF_F_PSEUDO_HDR | mangled))
		return -1;
	if (bpf_l4_csum_replace(skb, check, old_port, new_port, mangled | sizeof(new_port)) ||
	    bpf_skb_store_bytes(skb, port_off, &new_port, sizeof(new_port), store) ||
	    bp_rewrite_ip6(skb, l3_off, dest, new_ip, p->hop_limit))
		return -1;
	return 0;
}

/* bp_rewrite_port for IPv6: one TCP or UDP port alone (the destination's when `dest` is set). */
static __always_inline int bp_rewrite_port6(struct __sk_buff *skb, const struct bp_packet6 *p, int dest, __u16 new_port)
{
	return bp_rewrite_port_at(skb, p->proto, p->l4_off, bp_l4_csum_off6(p), dest, dest ? p->dport : p->sport, new_port);
}

/* bp_route for IPv6. */
static __always_inline long bp_route6(struct __sk_buff *skb, const __u32 *saddr, const __u32 *daddr, __u32 flags,
				      struct bpf_fib_lookup *fib)
{
	*fib = (struct bpf_fib_lookup){ .family = AF_INET6, .ifindex = skb->ingress_ifindex };
	__builtin_memcpy(fib->ipv6_src, saddr, sizeof(fib->ipv6_src));
	__builtin_memcpy(fib->ipv6_dst, daddr, sizeof(fib->ipv6_dst));
	return bpf_fib_lookup(skb, fib, sizeof(*fib), flags);
}

/*
 * bp_route_out for IPv6: 1 with the route in *fib when the packet leaves translated; else
 * 0 and *verdict. A packet too big for the route goes to the kernel as it is, which
 * answers "packet too big" to the container and drops it (IPv6 is not fragmented on the way).
 */
static __always_inline int bp_route_out6(struct __sk_buff *skb, const struct bp_packet6 *p, __u32 l3_off,
					 const __u32 *saddr, __u32 flags, struct bpf_fib_lookup *fib, int *verdict)
{
	long rc = bp_route6(skb, saddr, p->daddr, flags | BPF_FIB_LOOKUP_SKIP_NEIGH, fib);

	return bp_route_verdict(skb, rc, fib, bp_wire_length(skb, l3_off, p->l4_off, p->proto), 0, verdict);
}

/*
 * bp_flow_route_out for IPv6: the interface out of a SNAT entry's packet, from the entry's
 * cache while it is of this second and the packet fits its MTU; else looked up (by the
 * packet's own source, as Linux routes a forwarded packet before its source is translated,
 * in the caller's `fib`) and cached. 0 and *verdict when it does not leave translated.
 */
static __always_inline __u32 bp_flow_route_out6(struct __sk_buff *skb, const struct bp_packet6 *p, __u32 l3_off,
						struct bp_flow6 *cache, __u32 now, struct bpf_fib_lookup *fib,
						int *verdict)
{
	/* Read once: another CPU may be refreshing the cache meanwhile. */
	__u32 cached = cache->via, at = cache->out_at, mtu = cache->out_mtu;

	if (cached && at == now && bp_wire_length(skb, l3_off, p->l4_off, p->proto) <= mtu)
		return cached;
	if (!bp_route_out6(skb, p, l3_off, p->saddr, 0, fib, verdict))
		return 0;
	cache->via = fib->ifindex;
	cache->out_mtu = fib->mtu_result;
	cache->out_at = now;
	return fib->ifindex;
}

/* Sends a packet translated toward a container straight to it (its veth's peer). `ep`: its
 * entry, when the caller has it (NULL: looked up here). */
static __always_inline int bp_deliver_to_endpoint6(struct __sk_buff *skb, const __u32 *saddr, __u32 l3_off,
						   const __u32 *daddr, __u32 ifindex, const struct bp_endpoint *ep,
						   struct bpf_fib_lookup *fib)
{
	if (!ep)
		ep = bp_endpoint_of(ifindex);
	int verdict = bp_redirect_to_known_endpoint(skb, l3_off, ep, ifindex);

	if (verdict >= 0)
		return verdict;
	long rc = bp_route6(skb, saddr, daddr, 0, fib);
	return bp_redirect_to_endpoint(skb, l3_off, rc, fib, ep, ifindex, BP_ETH_P_IPV6);
}

/* The rewrite of a packet of `flow` (its DNAT entry when `dest`, else its SNAT one); its
 * fragments remembered. -1 when the packet could not be rewritten. */
static __always_inline int bp_translate6(struct __sk_buff *skb, const struct bp_packet6 *p, __u32 l3_off,
					 const struct bp_flow6 *flow, int dest)
{
	if (p->fragment)
		bp_remember_fragment6(skb, p, flow->nat_ip, dest ? flow->ifindex : 0);
	int done = bp_rewrite_headers6(skb, p, flow, dest);

	if (done == BP_REWRITE_NOT_PLAIN)
		done = bp_rewrite6(skb, p, l3_off, dest, flow->nat_ip, flow->nat_port);
	if (done < 0 || (flow->peer_port && bp_rewrite_port6(skb, p, !dest, flow->peer_port) < 0))
		return -1;
	return 0;
}

/*
 * Translates a packet of a known IPv6 flow as its entry says and sends it on, as
 * bp_apply_routed does: toward the container straight to its eth0 (its entry found by the
 * slot the flow's entry caches), from it out of the route's interface (the one the entry
 * caches for the second `now`, or looked up here in the caller's `fib`: stack is scarce). A
 * flow without a translation (hairpin, routed) goes on as it is.
 */
static __always_inline int bp_apply6(struct __sk_buff *skb, const struct bp_packet6 *p, __u32 l3_off,
				     struct bp_flow6 *flow, __u32 now, struct bpf_fib_lookup *fib)
{
	int dest = flow->flags & BP_FLOW_F_DNAT;
	int verdict = BP_CONTINUE;
	__u32 out = 0;

	if (!(flow->flags & (BP_FLOW_F_SNAT | BP_FLOW_F_DNAT)) || p->hop_limit <= 1)
		return BP_CONTINUE;  /* a hop limit running out: the kernel answers "time exceeded" */
	if (!dest) {
		out = bp_flow_route_out6(skb, p, l3_off, flow, now, fib, &verdict);
		if (!out)
			return verdict;
	}
	if (bp_translate6(skb, p, l3_off, flow, dest))
		return bp_drop(skb, BP_DROP_MALFORMED, dest ? BP_DIR_INGRESS : BP_DIR_EGRESS);
	if (!dest)
		return bpf_redirect_neigh(out, NULL, 0, 0);
	return bp_deliver_to_endpoint6(skb, p->saddr, l3_off, flow->nat_ip, flow->ifindex,
				       bp_endpoint_via(&flow->via, flow->ifindex), fib);
}

/*
 * A later fragment of a datagram whose first fragment was translated: the same address
 * (destination toward a container, source from one), then the same way out. 0 when the
 * datagram is not one of those; else 1 and *verdict.
 */
static __always_inline int bp_follow_fragment6(struct __sk_buff *skb, const struct bp_packet6 *p, __u32 l3_off,
					       int dest, int *verdict)
{
	struct bp_frag6_nat nat;
	struct bpf_fib_lookup fib;

	if (bp_fragment_translation6(skb, p, &nat))
		return 0;
	*verdict = BP_CONTINUE;
	if (p->hop_limit <= 1)
		return 1;  /* the kernel answers "time exceeded" */
	if (!dest && !bp_route_out6(skb, p, l3_off, nat.addr, 0, &fib, verdict))
		return 1;
	if (bp_rewrite_ip6(skb, l3_off, dest, nat.addr, p->hop_limit) < 0)
		*verdict = bp_drop(skb, BP_DROP_MALFORMED, dest ? BP_DIR_INGRESS : BP_DIR_EGRESS);
	else
		*verdict = dest ? bp_deliver_to_endpoint6(skb, p->saddr, l3_off, nat.addr, nat.ifindex, NULL, &fib)
				: bpf_redirect_neigh(fib.ifindex, NULL, 0, 0);
	return 1;
}

/* bp_host_socket_holds for IPv6. */
static __always_inline int bp_host_socket_holds6(struct __sk_buff *skb, const struct bp_flow6_key *reply)
{
	struct bpf_sock_tuple tuple = {};

	__builtin_memcpy(tuple.ipv6.saddr, reply->src_ip, sizeof(tuple.ipv6.saddr));
	__builtin_memcpy(tuple.ipv6.daddr, reply->dst_ip, sizeof(tuple.ipv6.daddr));
	tuple.ipv6.sport = reply->src_port;
	tuple.ipv6.dport = reply->dst_port;
	return bp_socket_holds(skb, &tuple, sizeof(tuple.ipv6), reply->proto);
}

/* Whether host_ip:port is a published IPv6 port of the host. */
static __always_inline int bp_port_published6(const __u32 *host_ip, __u16 port, __u8 proto)
{
	struct bp_port6_key key;

	return bp_port_entry6(host_ip, port, proto, &key) != NULL;
}

/* bp_port_search for IPv6. */
struct bp_port_search6 {
	struct __sk_buff *skb;
	struct bp_flow6_key reply;
	struct bp_flow6 entry;
	__u32 now;
	__u32 min;
	__u32 span;
	__u16 first;
	__u8 check_host;  /* skip published ports and host sockets (masquerade) */
	__u8 pad;
	long err;
};

static long bp_try_port6(__u32 i, struct bp_port_search6 *s)
{
	__u16 port = i == 0 && s->first ? s->first : bpf_htons((__u16)(s->min + bpf_get_prandom_u32() % s->span));

	s->reply.dst_port = port;
	if (s->reply.proto == BP_PROTO_ICMPV6)
		s->reply.src_port = port;
	else if (port == 0 || (s->check_host && (bp_port_published6(s->reply.dst_ip, port, s->reply.proto) ||
						 bp_host_socket_holds6(s->skb, &s->reply))))
		return 0;
	s->err = bp_flow_claim6(&s->reply, &s->entry, s->now);
	return s->err != -BP_EEXIST;
}

/*
 * Masquerade of a new IPv6 flow (bp_masquerade's twin): the route out's preferred source
 * address, the container's own port when free, both entries in bp_flows6. The verdict.
 */
static __always_inline int bp_masquerade6(struct __sk_buff *skb, const struct bp_packet6 *p, __u32 l3_off,
					  const struct bp_flow6_key *key, __u32 now)
{
	int verdict = BP_CONTINUE;
	__u32 source[4], via, mtu;

	if (p->hop_limit <= 1)
		return BP_CONTINUE;
	{
		/* What the route gives is kept, and the lookup's stack is the search's below. */
		struct bpf_fib_lookup fib;

		if (!bp_route_out6(skb, p, l3_off, p->saddr, BPF_FIB_LOOKUP_SRC, &fib, &verdict))
			return verdict;  /* before a flow is made: nothing is translated */
		__builtin_memcpy(source, fib.ipv6_src, sizeof(source));
		via = fib.ifindex;
		mtu = fib.mtu_result;
	}

	struct bp_port_search6 s = { .skb = skb, .now = now, .first = p->sport, .check_host = 1, .err = -BP_EEXIST };
	s.entry = bp_flow_entry6(p, BP_FLOW_MASQUERADE, BP_FLOW_F_REPLY | BP_FLOW_F_DNAT, skb->ifindex, now);
	__builtin_memcpy(s.entry.nat_ip, p->saddr, sizeof(s.entry.nat_ip));
	s.entry.nat_port = p->sport;
	__builtin_memcpy(s.reply.src_ip, p->daddr, sizeof(s.reply.src_ip));
	__builtin_memcpy(s.reply.dst_ip, source, sizeof(s.reply.dst_ip));
	s.reply.src_port = p->dport;
	s.reply.proto = p->proto;
	bp_snat_ports(p->proto == BP_PROTO_ICMPV6, p->sport, &s.min, &s.span);
	bpf_loop(BP_SNAT_PROBES, bp_try_port6, &s, 0);
	if (s.err == -BP_EEXIST)
		return bp_drop(skb, BP_DROP_NAT_EXHAUSTED, BP_DIR_EGRESS);
	if (s.err)
		return bp_drop(skb, BP_DROP_CT_FULL, BP_DIR_EGRESS);

	/* The original entry takes the reply entry's place on the stack. */
	struct bp_flow6 *out = &s.entry;
	*out = bp_flow_entry6(p, BP_FLOW_MASQUERADE, BP_FLOW_F_SNAT, skb->ifindex, now);
	__builtin_memcpy(out->nat_ip, source, sizeof(out->nat_ip));
	out->nat_port = s.reply.dst_port;
	out->via = via;  /* the next packets need no lookup (bp_flow_route_out6) */
	out->out_mtu = mtu;
	out->out_at = now;
	if (bp_flow_commit_translated6(key, out, &s.reply, skb->len - l3_off))
		return bp_drop(skb, BP_DROP_CT_FULL, BP_DIR_EGRESS);
	/* Another CPU's flow may have won: its entry, and the route its own lookup cached (an
	 * entry without a translation goes on as it is, as bp_apply6 lets it). */
	if (!(out->flags & BP_FLOW_F_SNAT))
		return BP_CONTINUE;
	if (out->via)
		via = out->via;
	if (bp_translate6(skb, p, l3_off, out, 0))
		return bp_drop(skb, BP_DROP_MALFORMED, BP_DIR_EGRESS);
	return bpf_redirect_neigh(via, NULL, 0, 0);
}

static __always_inline struct bp_flow6_key bp_tuple6(const struct bp_packet6 *p)
{
	struct bp_flow6_key key = { .src_port = p->sport, .dst_port = p->dport, .proto = p->proto };

	__builtin_memcpy(key.src_ip, p->saddr, sizeof(key.src_ip));
	__builtin_memcpy(key.dst_ip, p->daddr, sizeof(key.dst_ip));
	return key;
}

/* A protocol NAT66 tracks: TCP, UDP, ICMPv6 echo. */
static __always_inline int bp_nat66_tracks(const struct bp_packet6 *p)
{
	if (p->proto == BP_IPPROTO_ICMPV6)
		return p->icmp_type == BP_ICMP6_ECHO_REQUEST || p->icmp_type == BP_ICMP6_ECHO_REPLY;
	return p->proto == BP_PROTO_TCP || p->proto == BP_PROTO_UDP;
}

/*
 * A new flow from outside through a published IPv6 port (bp_publish_flow's twin): both of its
 * entries go into bp_flows6, its destination to become the container's address and port; a
 * client port clashing with another flow of the same container port is remapped. The flow
 * is counted on the port. 0, or why it could not be made (the caller drops the packet and
 * translates it as the flow's otherwise: bp_apply6 needs a stack of its own).
 */
static __always_inline enum bp_drop_reason bp_publish_flow6(struct __sk_buff *skb, const struct bp_packet6 *p,
							    const struct bp_flow6_key *key,
							    const struct bp_port6_key *port,
							    const struct bp_port6_target *target, __u32 now)
{
	struct bp_port_search6 s = { .skb = skb, .now = now, .min = 1024, .span = 65536 - 1024 };
	__u16 remapped = 0;

	s.entry = bp_flow_entry6(p, BP_FLOW_PUBLISHED, BP_FLOW_F_REPLY | BP_FLOW_F_SNAT, target->ifindex, now);
	__builtin_memcpy(s.entry.nat_ip, p->daddr, sizeof(s.entry.nat_ip));
	s.entry.nat_port = p->dport;
	__builtin_memcpy(s.reply.src_ip, target->ip, sizeof(s.reply.src_ip));
	__builtin_memcpy(s.reply.dst_ip, p->saddr, sizeof(s.reply.dst_ip));
	s.reply.src_port = target->port;
	s.reply.dst_port = p->sport;
	s.reply.proto = p->proto;
	s.err = bp_flow_claim6(&s.reply, &s.entry, now);
	if (s.err == -BP_EEXIST) {
		s.entry.peer_port = remapped = p->sport;
		bpf_loop(BP_REMAP_PROBES, bp_try_port6, &s, 0);
	}
	if (s.err)
		return s.err == -BP_EEXIST ? BP_DROP_NAT_EXHAUSTED : BP_DROP_CT_FULL;

	/* The original entry takes the reply entry's place on the stack. */
	struct bp_flow6 *in = &s.entry;
	*in = bp_flow_entry6(p, BP_FLOW_PUBLISHED, BP_FLOW_F_DNAT | (bp_ip6_is_zero(port->host_ip) ? BP_FLOW_F_ANY_HOST : 0),
			     target->ifindex, now);
	__builtin_memcpy(in->nat_ip, target->ip, sizeof(in->nat_ip));
	in->nat_port = target->port;
	in->port_slot = target->stats_slot;
	if (remapped)
		in->peer_port = s.reply.dst_port;
	/* Its first packet is counted as the flow's next ones are (bp_to_host6). */
	if (bp_flow_commit_translated6(key, in, &s.reply, 0))
		return BP_DROP_CT_FULL;
	bp_count_port6(target->stats_slot, 0, 1);
	return 0;
}

#endif /* BP_LIB_NAT6_H */
