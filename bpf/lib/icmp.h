/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * ICMP errors about translated flows (cf. Linux's nf_nat_icmp_reply_translation and
 * Cilium's bpf/lib/nat.h): "fragmentation needed", "port unreachable" and the other
 * "destination unreachable" codes, "time exceeded" and "parameter problem" quote the IP
 * header and the first bytes of the packet they are about. When that packet belongs to a
 * flow the programs translate, the error must reach the other side of the translation
 * with both headers translated back: the outer one's address, and the quoted packet's
 * address and port (with its IP checksum and, when quoted, its L4 checksum), and the
 * ICMP checksum over all of it. Path-MTU discovery depends on it.
 *
 * The flow is the quoted packet's tuple turned around (a packet quoted from the way out
 * is answered on the way back), looked up in bp_flows without refreshing it:
 *   uplink    an error from outside to a host address about a packet the host sent for a
 *             container (a masqueraded one, or a published flow's reply): the entry of the
 *             turned-around tuple translates the destination (DNAT); the error goes to the
 *             container with the container's address and port in the quoted packet.
 *   endpoint  an error a container sends about a packet it received through a translation
 *             (a published flow's, a masqueraded flow's reply): the entry translates the
 *             source (SNAT); the error leaves with the host's address, quoting the packet as
 *             the other side sent it.
 * Only ICMP errors take this path, kept out of the programs' common ones.
 */
#ifndef BP_LIB_ICMP_H
#define BP_LIB_ICMP_H

#include "common.h"
#include "conntrack.h"
#include "csum.h"
#include "metrics.h"
#include "nat.h"
#include "parse.h"

/* An ICMP error's fixed header and the IP header it quotes, as read from the packet. */
struct bp_icmp_quote {
	__u8 type;
	__u8 code;
	__u16 check;       /* the ICMP checksum */
	__u32 rest;        /* unused, or the next hop's MTU (frag-needed): never translated */
	struct iphdr ip;   /* the quoted IP header, without its options */
};

/*
 * The quoted packet's L4 fields a translation changes: port (the echo identifier), the
 * other port and the checksum, as offsets from its L4 header and their old values.
 */
struct bp_icmp_quoted_l4 {
	__u16 port, peer, check;
	__u8 port_at, peer_at, check_at;
	__u8 has_check;  /* a TCP checksum beyond the quoted bytes, a UDP one of 0 (none) stay as they are */
};

/* Reads the quoted L4 fields (TCP, UDP, ICMP or ICMPv6 echo) and the tuple it gives the flow: 0, or -1 when missing. */
static __always_inline int bp_icmp_quoted_l4(struct __sk_buff *skb, __u32 l4_off, __u8 proto, int outer_dest,
					     struct bp_icmp_quoted_l4 *q, struct bp_flow_key *key)
{
	__u16 ports[2];

	if (proto == BP_PROTO_ICMP || proto == BP_PROTO_ICMPV6) {
		struct bp_icmp_echo echo;
		/* ICMPv6's echo request and reply are 128 and 129 (lib/icmp6.h). */
		__u8 request = proto == BP_PROTO_ICMP ? BP_ICMP_ECHO : 128, reply = proto == BP_PROTO_ICMP ? BP_ICMP_ECHOREPLY : 129;

		if (bpf_skb_load_bytes(skb, l4_off, &echo, sizeof(echo)) || (echo.type != request && echo.type != reply))
			return -1;
		key->src_port = key->dst_port = echo.id;
		*q = (struct bp_icmp_quoted_l4){ .port = echo.id, .check = echo.checksum, .port_at = 4, .check_at = 2, .has_check = 1 };
		return 0;
	}
	if (bpf_skb_load_bytes(skb, l4_off, ports, sizeof(ports)))
		return -1;
	key->src_port = ports[1];  /* the tuple turned around */
	key->dst_port = ports[0];
	q->port_at = outer_dest ? 0 : 2;
	q->peer_at = outer_dest ? 2 : 0;
	q->port = ports[outer_dest ? 0 : 1];
	q->peer = ports[outer_dest ? 1 : 0];
	q->check_at = proto == BP_PROTO_TCP ? 16 : 6;
	q->check = 0;
	/* ICMP errors quote at least 8 bytes of it; Linux quotes up to 576 in all, a TCP checksum too. */
	q->has_check = !bpf_skb_load_bytes(skb, l4_off + q->check_at, &q->check, sizeof(q->check)) &&
		       (proto == BP_PROTO_TCP || q->check != 0);
	return 0;
}

/*
 * Translates the ICMP error `p` if it is about a translated flow and sends it on. `outer_dest`:
 * the uplink's (the outer destination, a host address, becomes the container's); else the
 * endpoint's (the outer source, the container, becomes the host's address). Returns 1 with
 * *verdict when the error was about a flow the programs know (one that is not translated
 * goes on as it is), 0 when not.
 */
static __always_inline int bp_icmp_error(struct __sk_buff *skb, const struct bp_packet *p, int outer_dest, int *verdict)
{
	struct bp_icmp_quote quote;
	struct bp_icmp_quoted_l4 q = {};

	if (bpf_skb_load_bytes(skb, p->l4_off, &quote, sizeof(quote)) || quote.ip.version != 4 || quote.ip.ihl < 5 ||
	    (quote.ip.frag_off & bpf_htons(BP_IP_OFFSET)))
		return 0;  /* no quoted header, or a later fragment's: nothing to find a flow by */
	__u32 l4_off = p->l4_off + 8 + quote.ip.ihl * 4;
	__u8 proto = quote.ip.protocol;
	struct bp_flow_key key = { .src_ip = quote.ip.daddr, .dst_ip = quote.ip.saddr, .proto = proto };

	if (bp_ported(proto) && bp_icmp_quoted_l4(skb, l4_off, proto, outer_dest, &q, &key) < 0)
		return 0;
	/* The error goes where the quoted packet came from (uplink); from a container, it is about
	 * a packet the container received, and goes back to that packet's sender (endpoint), as
	 * Linux's conntrack requires: no error about one flow carried to anyone else. */
	if (outer_dest ? p->daddr != quote.ip.saddr : (p->saddr != quote.ip.daddr || p->daddr != quote.ip.saddr))
		return 0;
	struct bp_flow *found = bpf_map_lookup_elem(&bp_flows, &key);
	if (!found || found->expires < bp_now())
		return 0;
	struct bp_flow flow = *found;

	*verdict = BP_CONTINUE;
	if (!(flow.flags & (BP_FLOW_F_SNAT | BP_FLOW_F_DNAT)))
		return 1;  /* hairpin, routed: not translated */
	if (!(flow.flags & (outer_dest ? BP_FLOW_F_DNAT : BP_FLOW_F_SNAT)))
		return 0;
	if (bp_ttl_expires(p))
		return 1;
	struct bpf_fib_lookup fib;
	if (!outer_dest && !bp_route_out(skb, p, flow.nat_ip, 0, &fib, verdict))
		return 1;

	/* The quoted packet is the entry's tuple turned around: its source (uplink) or destination
	 * (endpoint) becomes nat_ip:nat_port, the other port peer_port when the entry has one. */
	__u32 old_addr = outer_dest ? quote.ip.saddr : quote.ip.daddr;
	__u16 old_ip_check = quote.ip.check;
	__u16 icmp_check = quote.check;

	quote.ip.check = bp_csum_replace4(quote.ip.check, old_addr, flow.nat_ip);
	if (outer_dest)
		quote.ip.saddr = flow.nat_ip;
	else
		quote.ip.daddr = flow.nat_ip;
	icmp_check = bp_csum_replace4(icmp_check, old_addr, flow.nat_ip);
	icmp_check = bp_csum_replace2(icmp_check, old_ip_check, quote.ip.check);

	__u16 check = q.check;
	__u16 peer = flow.peer_port && proto != BP_PROTO_ICMP ? flow.peer_port : q.peer;
	if (bp_ported(proto)) {
		if (q.has_check && proto != BP_PROTO_ICMP)
			check = bp_csum_replace4(check, old_addr, flow.nat_ip);  /* the pseudo-header */
		if (q.has_check)
			check = bp_csum_replace2(bp_csum_replace2(check, q.port, flow.nat_port), q.peer, peer);
		if (proto == BP_PROTO_UDP && q.has_check && check == 0)
			check = 0xffff;  /* 0 would mean "no checksum" */
		icmp_check = bp_csum_replace2(icmp_check, q.port, flow.nat_port);
		icmp_check = bp_csum_replace2(icmp_check, q.peer, peer);
		icmp_check = bp_csum_replace2(icmp_check, q.check, check);
	}
	quote.check = icmp_check;

	if (bpf_skb_store_bytes(skb, p->l4_off, &quote, sizeof(quote), 0) ||
	    (bp_ported(proto) &&
	     (bpf_skb_store_bytes(skb, l4_off + q.port_at, &flow.nat_port, sizeof(flow.nat_port), 0) ||
	      (proto != BP_PROTO_ICMP && bpf_skb_store_bytes(skb, l4_off + q.peer_at, &peer, sizeof(peer), 0)) ||
	      (q.has_check && bpf_skb_store_bytes(skb, l4_off + q.check_at, &check, sizeof(check), 0)))) ||
	    bp_rewrite_ip(skb, p, outer_dest, flow.nat_ip) < 0) {
		*verdict = bp_drop(skb, BP_DROP_MALFORMED, outer_dest ? BP_DIR_INGRESS : BP_DIR_EGRESS);
		return 1;
	}
	if (p->fragment)
		bp_remember_fragment(p, flow.nat_ip, outer_dest ? flow.ifindex : 0);
	*verdict = outer_dest ? bp_deliver_to_endpoint(skb, p, flow.nat_ip, flow.ifindex)
			      : bpf_redirect_neigh(fib.ifindex, NULL, 0, 0);
	return 1;
}

#endif /* BP_LIB_ICMP_H */
