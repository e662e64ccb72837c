/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Address and port rewriting with incremental checksum updates, the forwarding that
 * must follow it, and the translations new flows get: a published port's (DNAT) and
 * masquerade's (SNAT, with Linux's choice of source port) (cf. Cilium's bpf/lib/nat.h).
 */
#ifndef BP_LIB_NAT_H
#define BP_LIB_NAT_H

#include <stddef.h>
#include <linux/in.h>

#include "common.h"
#include "conntrack.h"
#include "csum.h"
#include "parse.h"
#include "metrics.h"
#include "ports.h"

#ifndef AF_INET
#define AF_INET 2
#endif
#ifndef BPF_FIB_LOOKUP_SRC
#define BPF_FIB_LOOKUP_SRC (1U << 4)  /* Linux 6.7: also give the route's preferred source */
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

/* Bytes 8-19 of an IPv4 header: what a translation changes, stored in one piece. */
struct bp_ipv4_rewrite {
	__u8 ttl;
	__u8 protocol;
	__u16 check;
	__u32 saddr;
	__u32 daddr;
};

/* A translation's new address (the destination when `dest` is set, else the source) and TTL
 * in bytes 8-19 of an IPv4 header, with its checksum. */
static __always_inline void bp_translate_ip(struct bp_ipv4_rewrite *h, int dest, __u32 new_ip)
{
	__u32 *addr = dest ? &h->daddr : &h->saddr;
	/* TTL and protocol share a 16-bit word of the header checksum. */
	__u16 old_word = *(__u16 *)&h->ttl;

	h->ttl -= 1;
	h->check = bp_csum_replace2(bp_csum_replace4(h->check, *addr, new_ip), old_word, *(__u16 *)&h->ttl);
	*addr = new_ip;
}

/*
 * The IP header's part of a translation: one address (the destination when `dest` is
 * set, else the source) and the TTL, with the header checksum, computed here and stored
 * with one helper call. The header keeps its sum, so a device's CHECKSUM_COMPLETE sum
 * (skb->csum) stays right. (No direct packet writes: they would make the verifier unclone
 * every cloned packet at the programs' start, translated or not.) A later fragment, which
 * carries no L4 header, needs only this.
 */
static __always_inline int bp_rewrite_ip(struct __sk_buff *skb, const struct bp_packet *p, int dest, __u32 new_ip)
{
	/* The parser sets l3_off to 0 or ETH_HLEN alone (bp_parse_l3): a constant offset here. */
	__u32 l3_off = p->l3_off ? sizeof(struct ethhdr) : 0;
	void *data = (void *)(long)skb->data;
	struct iphdr *ip = data + l3_off;
	struct bp_ipv4_rewrite h;

	if ((void *)(ip + 1) > (void *)(long)skb->data_end)
		return -1;
	__builtin_memcpy(&h, &ip->ttl, sizeof(h));
	bp_translate_ip(&h, dest, new_ip);
	return bpf_skb_store_bytes(skb, l3_off + offsetof(struct iphdr, ttl), &h, sizeof(h), 0) ? -1 : 0;
}

/* A rewrite's bytes after the ports, through the checksum: UDP's or TCP's (IPv6's too). */
#define BP_L4_THROUGH_CHECK                                                                        \
	union {                                                                                    \
		struct {                                                                           \
			__u16 len;                                                                 \
			__u16 check;                                                               \
		} udp;                                                                             \
		struct {                                                                           \
			__u8 kept[12]; /* sequence and acknowledgment numbers, offset, flags, window */ \
			__u16 check;                                                               \
		} tcp;                                                                             \
	}

/*
 * What one store rewrites of a TCP or UDP packet whose L4 header follows an IPv4 header
 * without options (nearly every packet), in the frame's layout: from its MACs or from the IP
 * header's TTL, through the ports or through the L4 checksum. The first 2 bytes are not the
 * frame's: they align the IP part as its struct wants.
 */
struct bp_l4_rewrite {
	__u16 align;
	__u8 dest_mac[ETH_ALEN];
	__u8 source_mac[ETH_ALEN];
	__u8 kept[10];  /* the Ethernet type and the IP header's first 8 bytes, as they are */
	struct bp_ipv4_rewrite ip;
	__u16 ports[2]; /* source, destination */
	BP_L4_THROUGH_CHECK;
};
/* Its room, outside the programs' stack, which is all but full: per CPU, private to each
 * object, not pinned. A tc program runs to its end before the next starts on its CPU (with
 * bottom halves off: softirq at ingress, under rcu_read_lock_bh at egress), and no helper is
 * called between the room's lookup and the store that reads it. (On a PREEMPT_RT kernel,
 * where programs run preemptible with only migration off, that would no longer hold.) */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct bp_l4_rewrite);
} bp_rewrite_room SEC(".maps");

/* Where the frame's bytes start in it, and where its headers' lie. */
#define BP_REWRITE_FRAME offsetof(struct bp_l4_rewrite, dest_mac)
#define BP_REWRITE_AT(field) (offsetof(struct bp_l4_rewrite, field) - BP_REWRITE_FRAME)
_Static_assert(BP_REWRITE_AT(ip) == sizeof(struct ethhdr) + offsetof(struct iphdr, ttl), "the IP part's place");
_Static_assert(BP_REWRITE_AT(udp.check) == sizeof(struct ethhdr) + sizeof(struct iphdr) + offsetof(struct udphdr, check),
	       "UDP's checksum's place");
_Static_assert(BP_REWRITE_AT(tcp.check) == sizeof(struct ethhdr) + sizeof(struct iphdr) + offsetof(struct tcphdr, check),
	       "TCP's checksum's place");

/*
 * bp_rewrite_ip and the port's store in one helper call, for a TCP or UDP header right after
 * an IPv4 header without options: the bytes between them are the header's last and the
 * ports, contiguous. The L4 checksum field too, computed here, unless the packet's device
 * gave its whole sum (`summed` CHECKSUM_COMPLETE: the caller's helpers updated the field):
 * its whole checksum, or an offloaded one's pseudo-header sum (bp_l4_field_translated), so
 * that the checksum helpers are not called.
 * With `frame`, an endpoint whose frame header is known (bp_known_frame), its MACs in the
 * same store, unless the store must recompute skb->csum (a UDP datagram without a checksum:
 * see bp_store_port), which leaves out the Ethernet header. 1 when the MACs were stored, 0
 * when not, -1 when the headers are not there.
 */
static __always_inline int bp_rewrite_headers(struct __sk_buff *skb, const struct bp_packet *p, int dest, __u32 new_ip,
					      __u16 new_port, const struct bp_endpoint *frame,
					      enum bp_ip_summed summed)
{
	int csum = summed != BP_CHECKSUM_COMPLETE;
	__u32 l3_off = p->l3_off ? sizeof(struct ethhdr) : 0;
	int tcp = p->proto == BP_PROTO_TCP;
	void *data = (void *)(long)skb->data;
	void *data_end = (void *)(long)skb->data_end;
	struct iphdr *ip = data + l3_off;
	struct udphdr *udp = (void *)(ip + 1);  /* TCP's ports lie where UDP's do */
	__u32 zero = 0;
	struct bp_l4_rewrite *r = bpf_map_lookup_elem(&bp_rewrite_room, &zero);

	if (!r || (void *)(udp + 1) > data_end)
		return -1;
	/* A UDP datagram without a checksum: see bp_store_port. The IP header's part keeps its
	 * sum, so the recomputation accounts for the port alone. */
	__u64 flags = !tcp && !udp->check && !csum ? BPF_F_RECOMPUTE_CSUM : 0;
	int framed = frame && l3_off && !flags;
	/* What is read of the headers (through the checksum) and stored (through the checksum
	 * or the ports), each copy with the bound the verifier wants next to it. */
	__u32 end = !csum ? BP_REWRITE_AT(ports) + sizeof(r->ports)
		    : tcp ? BP_REWRITE_AT(tcp.check) + 2
			  : BP_REWRITE_AT(udp.check) + 2;
	void *ttl = &ip->ttl;

	if (framed && tcp) {
		if (data + BP_REWRITE_AT(tcp.check) + 2 > data_end)
			return -1;
		__builtin_memcpy(r->dest_mac, data, BP_REWRITE_AT(tcp.check) + 2);
	} else if (framed) {
		__builtin_memcpy(r->dest_mac, data, BP_REWRITE_AT(udp.check) + 2);  /* bound by udp + 1 */
	} else if (tcp) {
		if (ttl + BP_REWRITE_AT(tcp.check) + 2 - BP_REWRITE_AT(ip) > data_end)
			return -1;
		__builtin_memcpy(&r->ip, ttl, BP_REWRITE_AT(tcp.check) + 2 - BP_REWRITE_AT(ip));
	} else {
		__builtin_memcpy(&r->ip, ttl, BP_REWRITE_AT(udp.check) + 2 - BP_REWRITE_AT(ip));
	}
	if (framed) {
		__builtin_memcpy(r->dest_mac, frame->mac, ETH_ALEN);
		__builtin_memcpy(r->source_mac, frame->gateway_mac, ETH_ALEN);
	}
	if (csum) {
		__u32 old_ip = dest ? r->ip.daddr : r->ip.saddr;
		__u16 old_port = r->ports[dest ? 1 : 0];
		__u16 *check = tcp ? &r->tcp.check : &r->udp.check;

		*check = bp_l4_field_translated(*check, bp_csum_change(old_ip, new_ip), old_port, new_port, !tcp,
						summed == BP_CHECKSUM_PARTIAL);
	}
	bp_translate_ip(&r->ip, dest, new_ip);
	r->ports[dest ? 1 : 0] = new_port;

	__u32 first = framed ? 0 : BP_REWRITE_AT(ip);
	void *from = framed ? (void *)r->dest_mac : (void *)&r->ip;
	__u32 len = end - first;

	/* The packet's offset of the first byte: l3_off + 8 without an Ethernet header too. */
	if (bpf_skb_store_bytes(skb, framed ? 0 : l3_off + offsetof(struct iphdr, ttl), from, len, flags))
		return -1;
	return framed;
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
	struct bp_frag_nat nat = { .addr = addr, .ifindex = ifindex, .expires = bp_now() + BP_FRAG_TIMEOUT };

	bpf_map_update_elem(&bp_frags, &key, &nat, BPF_ANY);
}

/* The translation remembered for a later fragment's datagram, or NULL (none, or the
 * datagram's reassembly time is over). */
static __always_inline struct bp_frag_nat *bp_fragment_translation(const struct bp_packet *p)
{
	struct bp_frag_key key = { .src = p->saddr, .dst = p->daddr, .id = p->ip_id, .proto = p->proto };
	struct bp_frag_nat *nat = bpf_map_lookup_elem(&bp_frags, &key);

	return nat && nat->expires >= bp_now() ? nat : NULL;
}

/*
 * A protocol without ports gets its address alone: GRE, ESP and SCTP (whose CRC leaves the
 * addresses out) need nothing more; DCCP's and UDP-Lite's checksums cover a pseudo-header.
 */
static __always_inline int bp_rewrite_address_only(struct __sk_buff *skb, const struct bp_packet *p, int dest, __u32 new_ip)
{
	__u32 old_ip = dest ? p->daddr : p->saddr;

	if ((p->proto == BP_PROTO_DCCP || p->proto == BP_PROTO_UDPLITE) &&
	    bpf_l4_csum_replace(skb, p->l4_off + 6, old_ip, new_ip, BPF_F_PSEUDO_HDR | sizeof(new_ip)))
		return -1;
	return bp_rewrite_ip(skb, p, dest, new_ip);
}

/* Where an L4 header can start at most: Ethernet and the longest IPv4 header. */
#define BP_MAX_L4_OFF (sizeof(struct ethhdr) + 60)

/*
 * Stores a TCP or UDP port (the destination's when `dest` is set) of the IPv4 packet's
 * header at l4_off, whose checksum already accounts for it. A UDP datagram without a
 * checksum (0) keeps none, so no checksum update accounted for the port's change in a
 * device's CHECKSUM_COMPLETE sum (skb->csum), and the store must. -1 when the header is not
 * there.
 */
static __always_inline int bp_store_port(struct __sk_buff *skb, __u8 proto, __u32 l4_off, int dest, __u16 new_port)
{
	void *data = (void *)(long)skb->data;
	/* TCP's ports lie where UDP's do. */
	struct udphdr *l4 = data + (l4_off > BP_MAX_L4_OFF ? BP_MAX_L4_OFF : l4_off);
	__u32 port_off = l4_off + (dest ? offsetof(struct udphdr, dest) : offsetof(struct udphdr, source));

	if (l4_off > BP_MAX_L4_OFF || (void *)(l4 + 1) > (void *)(long)skb->data_end)
		return -1;
	__u64 flags = proto == BP_PROTO_UDP && !l4->check ? BPF_F_RECOMPUTE_CSUM : 0;
	return bpf_skb_store_bytes(skb, port_off, &new_port, sizeof(new_port), flags) ? -1 : 0;
}

/*
 * Replaces one address and one port of the packet: the destination when
 * `dest` is set, else the source. UDP checksums of 0 (none) stay 0. For ICMP
 * echo the "port" is the identifier, and the ICMP checksum has no pseudo-header.
 * The L4 checksum of a TCP or UDP header right after the IP header is computed here
 * (bp_rewrite_headers); the others, and a packet whose device gave its whole sum
 * (CHECKSUM_COMPLETE, whose skb->csum changes too), go through the kernel's helpers. The
 * IP header's checksum is computed here (bp_rewrite_ip). With `frame` (an endpoint
 * bp_known_frame accepts, or NULL), its frame header may go in the same store: 1 when it
 * did, 0 when not, -1 when the packet could not be rewritten.
 */
static __always_inline int bp_rewrite(struct __sk_buff *skb, const struct bp_packet *p, int dest,
				      __u32 new_ip, __u16 new_port, const struct bp_endpoint *frame)
{
	if (!bp_ported(p->proto))
		return bp_rewrite_address_only(skb, p, dest, new_ip);
	/* A TCP or UDP header after an IPv4 header without options: one store. Unless its device
	 * gave skb->csum, the checksum is computed here and goes with it: no other helper call. */
	int plain = p->proto != BP_PROTO_ICMP && p->l4_off == p->l3_off + sizeof(struct iphdr);
	enum bp_ip_summed summed = plain ? bp_ip_summed(skb) : BP_CHECKSUM_COMPLETE;
	int csum = summed != BP_CHECKSUM_COMPLETE;  /* else the helpers, which know every case */
	__u32 old_ip = dest ? p->daddr : p->saddr;
	__u16 old_port = dest ? p->dport : p->sport;
	__u64 mangled = p->proto == BP_PROTO_UDP ? BPF_F_MARK_MANGLED_0 : 0;
	__u32 l4_csum = bp_l4_csum_off(p);

	if (!csum) {
		if (p->proto != BP_PROTO_ICMP &&
		    bpf_l4_csum_replace(skb, l4_csum, old_ip, new_ip, BPF_F_PSEUDO_HDR | mangled | sizeof(new_ip)))
			return -1;
		if (bpf_l4_csum_replace(skb, l4_csum, old_port, new_port, mangled | sizeof(new_port)))
			return -1;
	}
	if (plain)
		return bp_rewrite_headers(skb, p, dest, new_ip, new_port, frame, summed);
	if (p->proto == BP_PROTO_ICMP) {
		__u32 id_off = p->l4_off + offsetof(struct bp_icmp_echo, id);

		if (bpf_skb_store_bytes(skb, id_off, &new_port, sizeof(new_port), 0))
			return -1;
	} else if (bp_store_port(skb, p->proto, p->l4_off, dest, new_port)) {
		return -1;
	}
	return bp_rewrite_ip(skb, p, dest, new_ip);
}

/*
 * How a port's new value is stored by a helper: a UDP datagram without a checksum (0) keeps
 * none, so no checksum update accounts for the port's change in a device's CHECKSUM_COMPLETE
 * sum (skb->csum), and the store must. -1 when the checksum cannot be read.
 */
static __always_inline long bp_port_store_flags(struct __sk_buff *skb, __u8 proto, __u32 csum_off)
{
	__u16 check;

	if (proto != BP_PROTO_UDP)
		return 0;
	if (bpf_skb_load_bytes(skb, csum_off, &check, sizeof(check)))
		return -1;
	return check ? 0 : BPF_F_RECOMPUTE_CSUM;
}

/* Replaces one TCP or UDP port alone, `old_port` (the destination's when `dest` is set), of
 * the header at l4_off whose checksum is at csum_off, with helpers: IPv6's, whose
 * extension headers can put it anywhere. */
static __always_inline int bp_rewrite_port_at(struct __sk_buff *skb, __u8 proto, __u32 l4_off, __u32 csum_off, int dest,
					      __u16 old_port, __u16 new_port)
{
	__u32 port_off = l4_off + (dest ? offsetof(struct tcphdr, dest) : offsetof(struct tcphdr, source));
	__u64 mangled = proto == BP_PROTO_UDP ? BPF_F_MARK_MANGLED_0 : 0;
	long store = bp_port_store_flags(skb, proto, csum_off);

	if (store < 0 || bpf_l4_csum_replace(skb, csum_off, old_port, new_port, mangled | sizeof(new_port)) ||
	    bpf_skb_store_bytes(skb, port_off, &new_port, sizeof(new_port), store))
		return -1;
	return 0;
}

/* Replaces one TCP or UDP port alone of an IPv4 packet (the destination's when `dest` is set). */
static __always_inline int bp_rewrite_port(struct __sk_buff *skb, const struct bp_packet *p, int dest, __u16 new_port)
{
	__u16 old_port = dest ? p->dport : p->sport;
	__u64 mangled = p->proto == BP_PROTO_UDP ? BPF_F_MARK_MANGLED_0 : 0;

	if (bpf_l4_csum_replace(skb, bp_l4_csum_off(p), old_port, new_port, mangled | sizeof(new_port)))
		return -1;
	return bp_store_port(skb, p->proto, p->l4_off, dest, new_port);
}

/*
 * A forwarding route lookup for saddr -> daddr from the interface the packet came in on.
 * A route found with its neighbour (SUCCESS) gives the MTU of its interface in mtu_result.
 */
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
 * The length of the IP packets this one leaves as: its own, or a GSO packet's segments'
 * (TCP from a container's stack comes as one packet of many segments).
 */
static __always_inline __u32 bp_wire_length(struct __sk_buff *skb, __u32 l3_off, __u32 l4_off, __u8 proto)
{
	__u32 segment = skb->gso_size;
	__u8 offset = 0x50;  /* a TCP header without options; UDP's is 8 bytes */

	if (!segment)
		return skb->len - l3_off;
	if (proto == BP_PROTO_TCP)
		bpf_skb_load_bytes(skb, l4_off + 12, &offset, 1);
	return l4_off - l3_off + (proto == BP_PROTO_TCP ? (offset >> 4) * 4 : 8) + segment;
}

/*
 * What the route lookup `rc` of a packet of `length` bytes leaves of it (bp_route_out's
 * rules below): 1 to translate it and redirect it by *fib; else 0 and *verdict. A packet
 * too big for the route goes to the kernel untranslated, unless the kernel would
 * fragment it (`fragmentable`: IPv4 without DF): that one is dropped.
 */
static __always_inline int bp_route_verdict(struct __sk_buff *skb, long rc, const struct bpf_fib_lookup *fib,
					    __u32 length, int fragmentable, int *verdict)
{
	/* The MTU the kernel's forwarding would check: the interface's. Not the route's (with
	 * tot_len the helper would apply path MTUs the host learnt, which forwarding ignores,
	 * and the kernel would forward what was refused here untranslated). The lookups here
	 * skip the neighbour (bp_route_out): NO_NEIGH, which gives no MTU, does not come. */
	if (rc == BPF_FIB_LKUP_RET_SUCCESS && length > fib->mtu_result)
		rc = BPF_FIB_LKUP_RET_FRAG_NEEDED;
	switch (rc) {
	case BPF_FIB_LKUP_RET_SUCCESS:
	case BPF_FIB_LKUP_RET_NO_NEIGH:
		return 1;
	case BPF_FIB_LKUP_RET_FRAG_NEEDED:
		*verdict = fragmentable ? bp_drop(skb, BP_DROP_FRAG_NEEDED, BP_DIR_EGRESS) : BP_CONTINUE;
		return 0;
	case BPF_FIB_LKUP_RET_BLACKHOLE:
	case BPF_FIB_LKUP_RET_UNREACHABLE:
	case BPF_FIB_LKUP_RET_PROHIBIT:
	case BPF_FIB_LKUP_RET_NOT_FWDED:
	case BPF_FIB_LKUP_RET_FWD_DISABLED:
		*verdict = BP_CONTINUE;
		return 0;
	default:
		*verdict = bp_drop(skb, BP_DROP_NO_ROUTE, BP_DIR_EGRESS);
		return 0;
	}
}

/*
 * The way out of a packet about to get a new source (masquerade, a published flow's
 * replies), asked before it is rewritten: 1 with the route in *fib when it leaves
 * translated, by a redirect; else 0, and *verdict says what becomes of it untranslated.
 *
 * Rewritten and handed to the kernel, it would come from a host address on a bridge: a
 * martian, dropped without a word. So a packet too big for the route goes to the kernel
 * as it is when it must not be fragmented (DF): the kernel answers "fragmentation needed"
 * to the container, quoting what the container sent (path-MTU discovery), and drops it.
 * One that may be fragmented is dropped (frag_needed): the kernel would send its
 * fragments with the container's address. A destination the routing table refuses
 * (unreachable, prohibit, blackhole, none, local) goes to the kernel untranslated too,
 * which answers or delivers it as any packet; a lookup that fails otherwise is a drop
 * (no_route). The packet leaves by bpf_redirect_neigh, which resolves the next hop's
 * neighbour itself: the lookup skips it (Linux 6.5), and so always gives the MTU.
 */
static __always_inline int bp_route_out(struct __sk_buff *skb, const struct bp_packet *p, __u32 saddr, __u32 flags,
					struct bpf_fib_lookup *fib, int *verdict)
{
	long rc = bp_route(skb, saddr, p->daddr, flags | BPF_FIB_LOOKUP_SKIP_NEIGH, fib);

	return bp_route_verdict(skb, rc, fib, bp_wire_length(skb, p->l3_off, p->l4_off, p->proto), !p->dont_fragment,
				verdict);
}

/*
 * Hands a rewritten packet for a container straight to the container's eth0,
 * the peer of its host-side veth `ifindex` (bpf_redirect_peer, as Cilium does
 * from an uplink): no bridge, no second pass through the backlog queue. The
 * routing table still decides: the route to the container must be known and
 * its neighbour resolved, which gives both MAC addresses; otherwise the
 * packet goes by bpf_redirect_neigh, which resolves the neighbour. The packet skips the veth's own tc egress, so it is counted as
 * the container's receive traffic here. A packet of a device without an
 * Ethernet header (p->l3_off 0: WireGuard, tun) gets one first, as both
 * redirects need one (bpf_skb_change_head, made for this).
 */
static __always_inline int bp_redirect_to_endpoint(struct __sk_buff *skb, __u32 l3_off, long rc,
						   const struct bpf_fib_lookup *fib, const struct bp_endpoint *ep,
						   __u32 ifindex, __u16 ethertype)
{
	if (rc != BPF_FIB_LKUP_RET_SUCCESS && rc != BPF_FIB_LKUP_RET_NO_NEIGH)
		return BP_CONTINUE;  /* no route: leave it to the kernel */
	struct ethhdr eth = { .h_proto = bpf_htons(ethertype) };

	__builtin_memcpy(eth.h_dest, fib->dmac, ETH_ALEN);
	__builtin_memcpy(eth.h_source, fib->smac, ETH_ALEN);
	if (!l3_off && bpf_skb_change_head(skb, sizeof(eth), 0))
		return BP_CONTINUE;  /* no room: the kernel routes it, translated as it is */
	/* An Ethernet frame keeps its type; a new header gets all of it. */
	__u32 len = l3_off ? 2 * ETH_ALEN : sizeof(eth);

	if (rc == BPF_FIB_LKUP_RET_NO_NEIGH || !ifindex || bpf_skb_store_bytes(skb, 0, &eth, len, 0))
		return bpf_redirect_neigh(fib->ifindex, NULL, 0, 0);
	if (ep)
		bp_count_traffic(ep, skb->len, BP_TRAFFIC_RX);
	return bpf_redirect_peer(ifindex, 0);
}

/*
 * Whether a packet for the container of `ep` (its veth's entry, or NULL) gets its frame
 * header from the entry: the MACs the agent wrote there (the container's and its gateway's,
 * the bridge's: what the route and its neighbour give), at a hash lookup's cost instead of a
 * route lookup's. Not when the entry has none (another runtime's veth, a network without a
 * gateway address), the packet no Ethernet header or more bytes than the interface's MTU
 * (not a GSO packet, which leaves in segments): the route decides then, as forwarding's
 * MTU check would.
 */
static __always_inline int bp_known_frame(struct __sk_buff *skb, __u32 l3_off, const struct bp_endpoint *ep)
{
	if (!l3_off || !ep || !(*(__u32 *)ep->gateway_mac | *(__u16 *)&ep->gateway_mac[4]))
		return 0;
	return skb->gso_size || skb->len - l3_off <= ep->mtu;
}

/* What a packet handed straight to the container of `ep` (the peer of its veth `ifindex`)
 * ends with: counted as the container's receive traffic (it skips the veth's tc egress). */
static __always_inline int bp_redirect_to_peer(struct __sk_buff *skb, const struct bp_endpoint *ep, __u32 ifindex)
{
	bp_count_traffic(ep, skb->len, BP_TRAFFIC_RX);
	return bpf_redirect_peer(ifindex, 0);
}

/*
 * bp_redirect_to_endpoint without the route lookup, for a container whose frame header is
 * known (bp_known_frame). -1 when it is not: the route decides then.
 */
static __always_inline int bp_redirect_to_known_endpoint(struct __sk_buff *skb, __u32 l3_off,
							 const struct bp_endpoint *ep, __u32 ifindex)
{
	struct ethhdr eth;

	if (!bp_known_frame(skb, l3_off, ep))
		return -1;
	__builtin_memcpy(eth.h_dest, ep->mac, ETH_ALEN);
	__builtin_memcpy(eth.h_source, ep->gateway_mac, ETH_ALEN);
	if (bpf_skb_store_bytes(skb, 0, &eth, 2 * ETH_ALEN, 0))
		return -1;
	return bp_redirect_to_peer(skb, ep, ifindex);
}

/* A translated packet to the container of the veth `ifindex`, whose entry is `ep`. */
static __always_inline int bp_deliver_to(struct __sk_buff *skb, const struct bp_packet *p, __u32 daddr, __u32 ifindex,
					 const struct bp_endpoint *ep)
{
	struct bpf_fib_lookup fib;
	int verdict = bp_redirect_to_known_endpoint(skb, p->l3_off, ep, ifindex);

	if (verdict >= 0)
		return verdict;
	long rc = bp_route(skb, p->saddr, daddr, 0, &fib);
	return bp_redirect_to_endpoint(skb, p->l3_off, rc, &fib, ep, ifindex, ETH_P_IP);
}

static __always_inline int bp_deliver_to_endpoint(struct __sk_buff *skb, const struct bp_packet *p, __u32 daddr, __u32 ifindex)
{
	return bp_deliver_to(skb, p, daddr, ifindex, bp_endpoint_of(ifindex));
}

/*
 * The route a translated flow's packets leave by: the route lookup is the costliest step
 * of their path, so its interface and MTU are cached in the flow's SNAT entry for the
 * second they were looked up in; a change of the routing table or of the interface reaches
 * the flow within a second (`now`, as bp_flow_lookup read it). The cache serves only
 * packets no bigger than the MTU: a bigger one is judged by the lookup (bp_route_out). The
 * interface, or 0 and *verdict. `cache` may be a local entry (none is kept then).
 */
static __always_inline __u32 bp_flow_route_out(struct __sk_buff *skb, const struct bp_packet *p, struct bp_flow *cache,
						__u32 now, int *verdict)
{
	/* Read once: another CPU may be refreshing the cache meanwhile. */
	__u32 cached = cache->via, at = cache->out_at, mtu = cache->out_mtu;
	struct bpf_fib_lookup fib;

	if (cached && at == now && bp_wire_length(skb, p->l3_off, p->l4_off, p->proto) <= mtu)
		return cached;
	/* By the packet's own source, as Linux routes a forwarded packet before its source is
	 * translated (masquerade's first lookup too). */
	if (!bp_route_out(skb, p, p->saddr, 0, &fib, verdict))
		return 0;
	cache->via = fib.ifindex;
	cache->out_mtu = fib.mtu_result;
	cache->out_at = now;
	return fib.ifindex;
}

/*
 * The entry of the container a DNAT entry's packets go to (NULL: none): by the slot the
 * entry carries, where it has one and it is still this veth's (a slot is given again only to
 * another veth); else from bp_endpoints, and the slot goes into the entry for the next. A
 * published flow's entry carries it from the start (bp_publish_flow), a masqueraded one's
 * from its first reply. `flow` may be a local entry.
 */
static __always_inline const struct bp_endpoint *bp_endpoint_via(__u32 *via, __u32 ifindex)
{
	__u32 slot = *via;

	if (slot && ifindex) {
		slot -= 1;
		const struct bp_endpoint_slot *known = bpf_map_lookup_elem(&bp_ep_slots, &slot);

		if (known && known->ifindex == ifindex)
			return &known->endpoint;
	}
	const struct bp_endpoint *ep = bp_endpoint_of(ifindex);

	/* Written only when it changes: a flow's packets otherwise leave its entry alone within
	 * a second (bp_flow_seen). */
	if (ep && *via != ep->stats_slot + 1)
		*via = ep->stats_slot + 1;
	return ep;
}

static __always_inline const struct bp_endpoint *bp_flow_endpoint(struct bp_flow *flow)
{
	return bp_endpoint_via(&flow->via, flow->ifindex);
}

/*
 * Translates a packet of a known flow as its entry says and sends it on: toward a
 * container (`dest`, a constant: the flow's DNAT entry) straight to its eth0; from one (its
 * SNAT entry) out by the route, looked up before the rewrite (bp_flow_route_out), unless
 * the caller did (`out`: the interface). A flow with no such translation (a hairpin flow,
 * an untranslated one) goes on as it is. Returns the verdict.
 */
static __always_inline int bp_apply_routed(struct __sk_buff *skb, const struct bp_packet *p, struct bp_flow *flow,
					   __u32 now, __u32 out, int dest)
{
	enum bp_direction direction = dest ? BP_DIR_INGRESS : BP_DIR_EGRESS;

	if (!(flow->flags & (dest ? BP_FLOW_F_DNAT : BP_FLOW_F_SNAT)) || bp_ttl_expires(p))
		return BP_CONTINUE;
	if (!dest && !out) {
		int verdict = BP_CONTINUE;

		out = bp_flow_route_out(skb, p, flow, now, &verdict);
		if (!out)
			return verdict;
	}
	if (p->fragment)
		bp_remember_fragment(p, flow->nat_ip, dest ? flow->ifindex : 0);
	/* Toward a container whose frame header is known, the header goes with the rewrite's
	 * store where it can (not when a second port follows). */
	const struct bp_endpoint *ep = dest ? bp_flow_endpoint(flow) : NULL;
	const struct bp_endpoint *frame = dest && !flow->peer_port && bp_known_frame(skb, p->l3_off, ep) ? ep : NULL;
	int framed = bp_rewrite(skb, p, dest, flow->nat_ip, flow->nat_port, frame);

	if (framed < 0 || (flow->peer_port && bp_rewrite_port(skb, p, !dest, flow->peer_port) < 0))
		return bp_drop(skb, BP_DROP_MALFORMED, direction);
	if (!dest)
		return bpf_redirect_neigh(out, NULL, 0, 0);
	if (framed)
		return bp_redirect_to_peer(skb, ep, flow->ifindex);
	return bp_deliver_to(skb, p, flow->nat_ip, flow->ifindex, ep);
}

/* A packet toward a container, of the flow whose DNAT entry is `flow`. */
static __always_inline int bp_apply_in(struct __sk_buff *skb, const struct bp_packet *p, struct bp_flow *flow, __u32 now)
{
	return bp_apply_routed(skb, p, flow, now, 0, 1);
}

/* A packet from a container, of the flow whose SNAT entry is `flow` (an entry without one:
 * the packet goes on as it is). */
static __always_inline int bp_apply_out(struct __sk_buff *skb, const struct bp_packet *p, struct bp_flow *flow, __u32 now)
{
	return bp_apply_routed(skb, p, flow, now, 0, 0);
}

/* Tries for a port a new flow's reply tuple can have: this many random ones at most. */
#define BP_SNAT_PROBES 128
#define BP_REMAP_PROBES 16

/* Whether host_ip:port (network byte order) is a published port of the host. */
static __always_inline int bp_port_published(__u32 host_ip, __u16 port, __u8 proto)
{
	struct bp_port_key key;

	return bp_port_entry(host_ip, port, proto, &key) != NULL;
}

/* Whether a socket of the host would take the packets of this reply tuple: a connected
 * TCP socket, or any UDP socket bound to the port. The host's own flows are not in the
 * table, as they are in Linux's conntrack, so masquerade asks the sockets instead. */
static __always_inline int bp_socket_holds(struct __sk_buff *skb, struct bpf_sock_tuple *tuple, __u32 size, __u8 proto)
{
	struct bpf_sock *sk;
	int holds = 1;

	if (proto == BP_PROTO_TCP)
		sk = bpf_sk_lookup_tcp(skb, tuple, size, BPF_F_CURRENT_NETNS, 0);
	else if (proto == BP_PROTO_UDP)
		sk = bpf_sk_lookup_udp(skb, tuple, size, BPF_F_CURRENT_NETNS, 0);
	else
		return 0;
	if (!sk)
		return 0;
	if (proto == BP_PROTO_TCP && sk->state == BPF_TCP_LISTEN)
		holds = 0;  /* a listener never sees this tuple's packets: they are translated first */
	bpf_sk_release(sk);
	return holds;
}

static __always_inline int bp_host_socket_holds(struct __sk_buff *skb, const struct bp_flow_key *reply)
{
	struct bpf_sock_tuple tuple = {};

	tuple.ipv4.saddr = reply->src_ip;
	tuple.ipv4.daddr = reply->dst_ip;
	tuple.ipv4.sport = reply->src_port;
	tuple.ipv4.dport = reply->dst_port;
	return bp_socket_holds(skb, &tuple, sizeof(tuple.ipv4), reply->proto);
}

/* The state of a search for a free reply tuple (bpf_loop's context). */
struct bp_port_search {
	struct __sk_buff *skb;
	struct bp_flow_key reply;  /* dst_port (and for ICMP src_port) is what is tried */
	struct bp_flow entry;      /* the reply entry to claim the tuple with */
	__u32 now;
	__u32 min;                 /* random ports come from min .. min + span - 1 */
	__u32 span;
	__u16 first;               /* the port tried first (network byte order), 0: none */
	__u8 check_host;           /* skip published ports and host sockets (masquerade) */
	__u8 pad;
	long err;                  /* of the last claim: 0 found, -BP_EEXIST none free yet */
};

/* One try of bp_find_port: 1 ends the search (found, or the table is full). */
static long bp_try_port(__u32 i, struct bp_port_search *s)
{
	__u16 port = i == 0 && s->first ? s->first : bpf_htons((__u16)(s->min + bpf_get_prandom_u32() % s->span));

	s->reply.dst_port = port;
	if (s->reply.proto == BP_PROTO_ICMP)
		s->reply.src_port = port;  /* echo replies carry the new id only */
	else if (port == 0 || (s->check_host && (bp_port_published(s->reply.dst_ip, port, s->reply.proto) ||
						 bp_host_socket_holds(s->skb, &s->reply))))
		return 0;
	s->err = bp_flow_claim(&s->reply, &s->entry, s->now);
	return s->err != -BP_EEXIST;
}

/* Claims a reply tuple with a free port, up to `tries` tries: 0, -BP_EEXIST (none free)
 * or another error (the table is full). */
static __always_inline long bp_find_port(struct bp_port_search *s, __u32 tries)
{
	s->err = -BP_EEXIST;
	bpf_loop(tries, bp_try_port, s, 0);
	return s->err;
}

/* The class of source ports masquerade picks from for a flow from `sport` (network byte
 * order): 1-511, 600-1023 or 1024-65535 as the port's, any identifier for ICMP echo. */
static __always_inline void bp_snat_ports(int echo, __u16 sport, __u32 *min, __u32 *span)
{
	__u16 own = bpf_ntohs(sport);

	*min = 1024;
	*span = 65536 - 1024;
	if (echo) {
		*min = 0;
		*span = 65536;
	} else if (own < 512) {
		*min = 1;
		*span = 511;
	} else if (own < 1024) {
		*min = 600;
		*span = 1024 - 600;
	}
}

/*
 * Masquerade's source port, as Linux's MASQUERADE picks it: the container's own when it is
 * free for this host address, destination and protocol; else a random one of the same
 * class (1-511, 600-1023, or the unprivileged 1024-65535), up to BP_SNAT_PROBES tries.
 * Free means: no live flow has the reply tuple, no published port and no host socket has
 * the port. Claims the reply tuple with `back`: 0, -BP_EEXIST (none free) or another error.
 */
static __always_inline long bp_snat_claim(struct __sk_buff *skb, const struct bp_packet *p, struct bp_flow_key *reply,
					  const struct bp_flow *back, __u32 now)
{
	if (!bp_ported(p->proto)) {
		reply->dst_port = 0;  /* addresses only: a second flow with the same ends is one too many */
		return bp_flow_claim(reply, back, now);
	}
	struct bp_port_search s = { .skb = skb, .reply = *reply, .entry = *back, .now = now, .first = p->sport, .check_host = 1 };

	bp_snat_ports(p->proto == BP_PROTO_ICMP, p->sport, &s.min, &s.span);
	long err = bp_find_port(&s, BP_SNAT_PROBES);
	*reply = s.reply;
	return err;
}

/*
 * Masquerade (Docker's MASQUERADE rule): a new flow from a container to beyond the host
 * leaves with the address the route out prefers and a source port bp_snat_claim chose;
 * both of its entries go into the flow table. Returns the verdict.
 */
static __always_inline int bp_masquerade(struct __sk_buff *skb, const struct bp_packet *p,
					 const struct bp_flow_key *key, __u32 now)
{
	if (bp_ttl_expires(p))
		return BP_CONTINUE;
	/* Tunnels and IPsec without ports (IPIP, IPv6 in IPv4, GRE, ESP, AH): the host's own
	 * tunnel to the same peer has the same reply tuple, so a container's flow would take
	 * over everything the peer sends the host. Not masqueraded: UDP encapsulation is. */
	if (p->proto == 4 || p->proto == 41 || p->proto == 47 || p->proto == 50 || p->proto == 51)
		return bp_drop(skb, BP_DROP_UNTRANSLATABLE, BP_DIR_EGRESS);
	struct bpf_fib_lookup fib;
	int verdict = BP_CONTINUE;

	if (!bp_route_out(skb, p, p->saddr, BPF_FIB_LOOKUP_SRC, &fib, &verdict))
		return verdict;  /* before a flow is made: nothing is translated */

	struct bp_flow back = bp_flow_entry(p, BP_FLOW_MASQUERADE, BP_FLOW_F_REPLY | BP_FLOW_F_DNAT, skb->ifindex, now);
	back.nat_ip = p->saddr;
	back.nat_port = p->sport;
	struct bp_flow_key reply = { .src_ip = p->daddr, .dst_ip = fib.ipv4_src, .src_port = p->dport, .proto = p->proto };
	long err = bp_snat_claim(skb, p, &reply, &back, now);

	if (err == -BP_EEXIST)
		return bp_drop(skb, BP_DROP_NAT_EXHAUSTED, BP_DIR_EGRESS);
	if (err)
		return bp_drop(skb, BP_DROP_CT_FULL, BP_DIR_EGRESS);

	struct bp_flow out = bp_flow_entry(p, BP_FLOW_MASQUERADE, BP_FLOW_F_SNAT, skb->ifindex, now);
	out.nat_ip = fib.ipv4_src;
	out.nat_port = reply.dst_port;
	out.via = fib.ifindex;  /* the next packets need no lookup (bp_flow_route_out) */
	out.out_mtu = fib.mtu_result;
	out.out_at = now;
	if (bp_flow_commit_translated(key, &out, &reply, skb->len - p->l3_off))
		return bp_drop(skb, BP_DROP_CT_FULL, BP_DIR_EGRESS);
	return bp_apply_routed(skb, p, &out, now, out.nat_ip == fib.ipv4_src ? fib.ifindex : 0, 0);
}

/*
 * A new flow from outside through a published port: its destination becomes the
 * container's address and port. When the container already has a flow with the same
 * client address and port (the same client socket through another published port of the
 * same container port), the client's port is remapped as well, as Linux's NAT does on a
 * clash, so each flow's replies find their own way back. Returns the verdict; drops are
 * counted on the container's veth.
 */
static __always_inline int bp_publish_flow(struct __sk_buff *skb, const struct bp_packet *p, const struct bp_flow_key *key,
					   const struct bp_port_key *port, const struct bp_port_target *target, __u32 now)
{
	struct bp_flow back = bp_flow_entry(p, BP_FLOW_PUBLISHED, BP_FLOW_F_REPLY | BP_FLOW_F_SNAT, target->ifindex, now);
	back.nat_ip = p->daddr;
	back.nat_port = p->dport;
	struct bp_flow_key reply = {
		.src_ip = target->ip, .dst_ip = p->saddr, .src_port = target->port, .dst_port = p->sport, .proto = p->proto,
	};
	long err = bp_flow_claim(&reply, &back, now);

	if (err == -BP_EEXIST) {
		struct bp_port_search s = { .skb = skb, .reply = reply, .entry = back, .now = now, .min = 1024, .span = 65536 - 1024 };

		s.entry.peer_port = p->sport;
		err = bp_find_port(&s, BP_REMAP_PROBES);
		reply = s.reply;
		back.peer_port = p->sport;
	}
	if (err)
		return bp_drop_on(skb, target->ifindex, err == -BP_EEXIST ? BP_DROP_NAT_EXHAUSTED : BP_DROP_CT_FULL, BP_DIR_INGRESS);

	struct bp_flow in = bp_flow_entry(p, BP_FLOW_PUBLISHED, BP_FLOW_F_DNAT | (port->host_ip ? 0 : BP_FLOW_F_ANY_HOST),
					  target->ifindex, now);
	in.nat_ip = target->ip;
	in.nat_port = target->port;
	in.port_slot = target->stats_slot;
	bp_flow_endpoint(&in);  /* the container's slot, for the flow's next packets */
	if (back.peer_port)
		in.peer_port = reply.dst_port;
	if (bp_flow_commit_translated(key, &in, &reply, skb->len - p->l3_off))
		return bp_drop_on(skb, target->ifindex, BP_DROP_CT_FULL, BP_DIR_INGRESS);
	bp_count_port(target->stats_slot, skb->len, 1);
	return bp_apply_in(skb, p, &in, now);
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
	struct bpf_fib_lookup fib;

	if (bp_ttl_expires(p))
		*verdict = BP_CONTINUE;
	else if (!dest && !bp_route_out(skb, p, nat.addr, 0, &fib, verdict))
		return 1;
	else if (bp_rewrite_ip(skb, p, dest, nat.addr) < 0)
		*verdict = bp_drop(skb, BP_DROP_MALFORMED, dest ? BP_DIR_INGRESS : BP_DIR_EGRESS);
	else
		*verdict = dest ? bp_deliver_to_endpoint(skb, p, nat.addr, nat.ifindex)
				: bpf_redirect_neigh(fib.ifindex, NULL, 0, 0);
	return 1;
}

#endif /* BP_LIB_NAT_H */
