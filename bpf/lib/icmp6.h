/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * ICMPv6 errors about translated IPv6 flows, as lib/icmp.h does for IPv4 (and Linux's
 * nf_nat_icmpv6_reply_translation): "destination unreachable", "packet too big" (path-MTU
 * discovery depends on it: IPv6 routers never fragment), "time exceeded" and "parameter
 * problem" quote the IPv6 header and the start of the packet they are about. When that
 * packet belongs to a flow in bp_flows6 that is translated, the error reaches the other
 * side of the translation with the outer address and the quoted packet's address and port
 * (and its checksum, when quoted) translated back, and the ICMPv6 checksum over all of it.
 *
 * The flow is the quoted packet's tuple turned around, as in lib/icmp.h: on the uplink an
 * error from outside about a packet the host sent for a container (DNAT entry: to the
 * container); at the endpoint an error a container sends about a packet it received
 * through a translation (SNAT entry: out with the host's address). A quoted packet's
 * Fragment header is followed (the first fragment of a datagram the container fragmented:
 * the usual "packet too big" for UDP); other extension headers in a quote are not.
 * Unlike ICMP's, the ICMPv6 checksum covers a pseudo-header: the translated address counts
 * in it twice, as the outer address and as the quoted one.
 */
#ifndef BP_LIB_ICMP6_H
#define BP_LIB_ICMP6_H

#include "icmp.h"
#include "nat6.h"

/* ICMPv6 error types (RFC 4443 §3) */
#define BP_ICMP6_DEST_UNREACH 1
#define BP_ICMP6_PACKET_TOO_BIG 2
#define BP_ICMP6_TIME_EXCEEDED 3
#define BP_ICMP6_PARAM_PROBLEM 4

static __always_inline int bp_icmp6_is_error(const struct bp_packet6 *p)
{
	return p->proto == BP_IPPROTO_ICMPV6 && p->has_ports && p->icmp_type >= BP_ICMP6_DEST_UNREACH &&
	       p->icmp_type <= BP_ICMP6_PARAM_PROBLEM;
}

/* An ICMPv6 error's fixed header and the IPv6 header it quotes. 48 bytes. */
struct bp_icmp6_quote {
	__u8 type;
	__u8 code;
	__u16 check;
	__u32 rest;        /* unused, the MTU (packet too big) or the pointer: never translated */
	struct bp_ipv6hdr ip;
};

/* bp_csum_replace4 over a 16-byte address. */
static __always_inline __u16 bp_csum_replace16(__u16 check, const __u32 *from, const __u32 *to)
{
#pragma unroll
	for (int i = 0; i < 4; i++)
		check = bp_csum_replace4(check, from[i], to[i]);
	return check;
}

/*
 * Translates the ICMPv6 error `p` if it is about a translated flow and sends it on.
 * `outer_dest`: the uplink's (the outer destination, a host address, becomes the
 * container's); else the endpoint's (the outer source, the container, becomes the host's
 * address). Returns 1 with *verdict when the error was about a flow the programs know (one
 * that is not translated goes on as it is), 0 when not.
 */
static __always_inline int bp_icmp6_error(struct __sk_buff *skb, const struct bp_packet6 *p, __u32 l3_off,
					  int outer_dest, int *verdict)
{
	struct bp_icmp6_quote quote;
	struct bp_icmp_quoted_l4 q = {};
	struct bp_flow_key ports = {};

	if (bpf_skb_load_bytes(skb, p->l4_off, &quote, sizeof(quote)) || quote.ip.version_class >> 4 != 6)
		return 0;
	__u8 proto = quote.ip.nexthdr;
	__u32 l4_off = p->l4_off + sizeof(quote);
	if (proto == BP_IPPROTO_FRAGMENT) {
		__u8 frag[8];

		/* Only a first fragment quotes the ports (offset 0). */
		if (bpf_skb_load_bytes(skb, l4_off, frag, sizeof(frag)) || frag[2] || (frag[3] & 0xf8))
			return 0;
		proto = frag[0];
		l4_off += sizeof(frag);
	}
	/* The quoted ports (and an echo's identifier) within the error itself. */
	if (l4_off + 8 > p->end ||
	    (proto != BP_PROTO_TCP && proto != BP_PROTO_UDP && proto != BP_PROTO_ICMPV6) ||
	    bp_icmp_quoted_l4(skb, l4_off, proto, outer_dest, &q, &ports) < 0)
		return 0;
	if (q.has_check && l4_off + q.check_at + sizeof(q.check) > p->end)
		q.has_check = 0;  /* not quoted: what lies beyond the error is no checksum */
	/* The error goes where the quoted packet came from (uplink), or back to the sender of the
	 * packet the container received (endpoint): never about one flow to anyone else. */
	if (outer_dest ? !bp_ip6_same(p->daddr, quote.ip.saddr)
		       : !bp_ip6_same(p->saddr, quote.ip.daddr) || !bp_ip6_same(p->daddr, quote.ip.saddr))
		return 0;

	struct bp_flow6_key key = { .src_port = ports.src_port, .dst_port = ports.dst_port, .proto = proto };
	__builtin_memcpy(key.src_ip, quote.ip.daddr, sizeof(key.src_ip));
	__builtin_memcpy(key.dst_ip, quote.ip.saddr, sizeof(key.dst_ip));
	struct bp_flow6 *found = bpf_map_lookup_elem(&bp_flows6, &key);
	if (!found || found->expires < bp_now())
		return 0;
	struct bp_flow6 flow = *found;

	*verdict = BP_CONTINUE;
	if (!(flow.flags & (BP_FLOW_F_SNAT | BP_FLOW_F_DNAT)))
		return 1;  /* hairpin, routed: not translated */
	if (!(flow.flags & (outer_dest ? BP_FLOW_F_DNAT : BP_FLOW_F_SNAT)))
		return 0;
	if (p->hop_limit <= 1)
		return 1;
	struct bpf_fib_lookup fib;
	if (!outer_dest && !bp_route_out6(skb, p, l3_off, flow.nat_ip, 0, &fib, verdict))
		return 1;

	/* The quoted packet is the entry's tuple turned around: its source (uplink) or
	 * destination (endpoint) becomes nat_ip:nat_port, the other port peer_port if set. */
	__u32 *quoted = outer_dest ? quote.ip.saddr : quote.ip.daddr;
	__u32 old[4];
	__builtin_memcpy(old, quoted, sizeof(old));
	__builtin_memcpy(quoted, flow.nat_ip, sizeof(old));
	__u16 icmp_check = bp_csum_replace16(quote.check, old, flow.nat_ip);  /* the outer address */
	icmp_check = bp_csum_replace16(icmp_check, old, flow.nat_ip);         /* the quoted one */

	__u16 check = q.check;
	__u16 peer = flow.peer_port && proto != BP_PROTO_ICMPV6 ? flow.peer_port : q.peer;
	if (q.has_check) {
		check = bp_csum_replace16(check, old, flow.nat_ip);  /* its pseudo-header */
		check = bp_csum_replace2(bp_csum_replace2(check, q.port, flow.nat_port), q.peer, peer);
		if (proto == BP_PROTO_UDP && check == 0)
			check = 0xffff;
	}
	icmp_check = bp_csum_replace2(icmp_check, q.port, flow.nat_port);
	icmp_check = bp_csum_replace2(icmp_check, q.peer, peer);
	quote.check = bp_csum_replace2(icmp_check, q.check, check);

	/* Every change goes into skb->csum as it is made (BPF_F_RECOMPUTE_CSUM): no checksum
	 * helper accounts for these. */
	if (bpf_skb_store_bytes(skb, p->l4_off, &quote, sizeof(quote), BPF_F_RECOMPUTE_CSUM) ||
	    bpf_skb_store_bytes(skb, l4_off + q.port_at, &flow.nat_port, sizeof(flow.nat_port), BPF_F_RECOMPUTE_CSUM) ||
	    (proto != BP_PROTO_ICMPV6 &&
	     bpf_skb_store_bytes(skb, l4_off + q.peer_at, &peer, sizeof(peer), BPF_F_RECOMPUTE_CSUM)) ||
	    (q.has_check && bpf_skb_store_bytes(skb, l4_off + q.check_at, &check, sizeof(check), BPF_F_RECOMPUTE_CSUM)) ||
	    bp_rewrite_ip6(skb, l3_off, outer_dest, flow.nat_ip, p->hop_limit) < 0) {
		*verdict = bp_drop(skb, BP_DROP_MALFORMED, outer_dest ? BP_DIR_INGRESS : BP_DIR_EGRESS);
		return 1;
	}
	*verdict = outer_dest ? bp_deliver_to_endpoint6(skb, p->saddr, l3_off, flow.nat_ip, flow.ifindex, NULL, &fib)
			      : bpf_redirect_neigh(fib.ifindex, NULL, 0, 0);
	return 1;
}

#endif /* BP_LIB_ICMP6_H */
