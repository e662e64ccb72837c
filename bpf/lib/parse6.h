/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Parsing of IPv6: the fixed header, the chain of extension headers (hop-by-hop, routing,
 * fragment, authentication, destination options) and the upper-layer header (TCP, UDP,
 * ICMPv6). Everything is read with bpf_skb_load_bytes: a chain may run past the linear
 * data (and past what bp_pull_headers pulls), and each offset stays a scalar the verifier
 * bounds, with no packet pointer to recheck after each header.
 *
 * Fails closed: a packet shorter than its payload length says, a header that does not fit
 * in the payload, a hop-by-hop header anywhere but first, and a first fragment without its
 * whole TCP, UDP or ICMPv6 header (RFC 7112) are malformed; a chain longer than
 * BP_IPV6_MAX_EXT_HEADERS is refused as such. A later fragment carries no upper-layer
 * header: it is marked, and judged by its addresses alone.
 */
#ifndef BP_LIB_PARSE6_H
#define BP_LIB_PARSE6_H

#include "parse.h"

#define BP_IPPROTO_HOPOPTS  0
#define BP_IPPROTO_ROUTING  43
#define BP_IPPROTO_FRAGMENT 44
#define BP_IPPROTO_AH       51
#define BP_IPPROTO_ICMPV6   58
#define BP_IPPROTO_DSTOPTS  60

/* Extension headers followed before the upper-layer one. RFC 8200 §4.1 recommends at most
 * one of each (destination options twice): 6; Linux sends at most 3. */
#define BP_IPV6_MAX_EXT_HEADERS 8

/* ICMPv6 types (RFC 4443, RFC 4861, RFC 3810) */
#define BP_ICMP6_ECHO_REQUEST   128
#define BP_ICMP6_ECHO_REPLY     129
#define BP_ICMP6_MLD_REPORT     131
#define BP_ICMP6_ROUTER_SOLICIT 133
#define BP_ICMP6_ROUTER_ADVERT  134
#define BP_ICMP6_NEIGH_SOLICIT  135
#define BP_ICMP6_NEIGH_ADVERT   136
#define BP_ICMP6_REDIRECT       137
#define BP_ICMP6_MLD2_REPORT    143

/* The fixed header, as the wire carries it (linux/ipv6.h pulls in libc headers). 40 bytes. */
struct bp_ipv6hdr {
	__u8 version_class;  /* version (high 4 bits), traffic class (its high 4 bits) */
	__u8 class_flow[3];
	__be16 payload_len;
	__u8 nexthdr;
	__u8 hop_limit;
	__u32 saddr[4];
	__u32 daddr[4];
};

struct bp_packet6 {
	__u32 saddr[4];  /* network byte order, as on the wire */
	__u32 daddr[4];
	__u32 l4_off;    /* the upper-layer header (where a later fragment's data begins) */
	__u32 end;       /* where the IPv6 packet ends: Ethernet padding may follow */
	__u16 sport;     /* network byte order, when has_ports (ICMPv6 echo: the identifier, both) */
	__u16 dport;
	__u8 proto;      /* the upper-layer protocol, after the extension headers */
	__u8 has_ports;  /* its upper-layer header was read (not a later fragment): TCP, UDP and
			  * ICMPv6 with their ports (ICMPv6 other than echo: ports 0), other
			  * protocols with ports 0 */
	__u8 fragment;   /* part of a fragmented datagram (an atomic fragment is not) */
	__u8 icmp_type;  /* ICMPv6, when has_ports */
	__u8 tcp_flags;  /* TCP, when has_ports */
	__u8 hop_limit;
	__u16 frag_hdr;  /* where the Fragment header is, when fragment: its identification
			  * names the datagram (lib/frag6.h) */
};

#define BP_PARSE_EXT_LIMIT (-3)

/* RFC 8200's extension headers, as Linux's ipv6_ext_hdr() lists them (ESP and "no next
 * header" end the chain: what follows is opaque). */
static __always_inline int bp_ipv6_ext(__u8 next)
{
	return next == BP_IPPROTO_HOPOPTS || next == BP_IPPROTO_ROUTING || next == BP_IPPROTO_FRAGMENT ||
	       next == BP_IPPROTO_AH || next == BP_IPPROTO_DSTOPTS;
}

/* The upper-layer header: TCP, UDP and ICMPv6 (an echo's identifier too) must be whole. */
static __always_inline int bp_parse_upper6(struct __sk_buff *skb, struct bp_packet6 *p)
{
	__u8 l4[4];  /* TCP's and UDP's ports, or ICMPv6's type, code and checksum */
	__u32 need = p->proto == BP_PROTO_TCP ? 20 : p->proto == BP_PROTO_UDP ? 8 : 4;

	p->has_ports = 1;
	if (p->proto != BP_PROTO_TCP && p->proto != BP_PROTO_UDP && p->proto != BP_IPPROTO_ICMPV6)
		return 0;  /* addresses only */
	if (p->l4_off + need > p->end || bpf_skb_load_bytes(skb, p->l4_off, l4, sizeof(l4)))
		return BP_PARSE_MALFORMED;
	if (p->proto == BP_IPPROTO_ICMPV6) {
		p->icmp_type = l4[0];
		if (p->icmp_type != BP_ICMP6_ECHO_REQUEST && p->icmp_type != BP_ICMP6_ECHO_REPLY)
			return 0;
		if (p->l4_off + 8 > p->end || bpf_skb_load_bytes(skb, p->l4_off + 4, &p->sport, 2))
			return BP_PARSE_MALFORMED;
		p->dport = p->sport;
		return 0;
	}
	__builtin_memcpy(&p->sport, l4, 2);
	__builtin_memcpy(&p->dport, l4 + 2, 2);
	if (p->proto == BP_PROTO_TCP && bpf_skb_load_bytes(skb, p->l4_off + 13, &p->tcp_flags, 1))
		return BP_PARSE_MALFORMED;
	return 0;
}

/* bp_parse_ipv6's answer that the packet is not the common one bp_parse_ipv6_linear reads. */
#define BP_PARSE_NOT_LINEAR 1

/*
 * The common packet read in place, without a helper call: TCP or UDP right after the fixed
 * header, both in the linear data (bp_pull_headers pulls them there). Anything else (an
 * extension header, ICMPv6, a header past the linear data) is BP_PARSE_NOT_LINEAR, for the
 * general parse. The checks are the general parse's for such a packet.
 */
static __always_inline int bp_parse_ipv6_linear(struct __sk_buff *skb, struct bp_packet6 *p, __u32 l3_off)
{
	void *data = (void *)(long)skb->data;
	void *data_end = (void *)(long)skb->data_end;
	struct bp_ipv6hdr *ip = data + l3_off;
	__u8 *l4 = (void *)(ip + 1);

	if ((void *)(l4 + sizeof(struct tcphdr)) > data_end || ip->version_class >> 4 != 6 ||
	    (ip->nexthdr != BP_PROTO_TCP && ip->nexthdr != BP_PROTO_UDP))
		return BP_PARSE_NOT_LINEAR;
	__builtin_memcpy(p->saddr, ip->saddr, sizeof(p->saddr));
	__builtin_memcpy(p->daddr, ip->daddr, sizeof(p->daddr));
	p->end = l3_off + sizeof(*ip) + bpf_ntohs(ip->payload_len);
	p->l4_off = l3_off + sizeof(*ip);
	p->proto = ip->nexthdr;
	p->hop_limit = ip->hop_limit;
	p->fragment = p->icmp_type = 0;
	p->frag_hdr = 0;
	p->has_ports = 1;
	__builtin_memcpy(&p->sport, l4, 2);
	__builtin_memcpy(&p->dport, l4 + 2, 2);
	p->tcp_flags = p->proto == BP_PROTO_TCP ? l4[13] : 0;
	if (p->end > skb->len || p->l4_off + (p->proto == BP_PROTO_TCP ? 20 : 8) > p->end)
		return BP_PARSE_MALFORMED;  /* cut, or its TCP or UDP header is (see bp_parse_upper6) */
	return 0;
}

/*
 * 0 for an IPv6 packet at `l3_off` (ETH_HLEN, or 0 on a device without an Ethernet header),
 * with its upper-layer header read unless it is a later fragment; BP_PARSE_MALFORMED or
 * BP_PARSE_EXT_LIMIT (see above).
 */
static __always_inline int bp_parse_ipv6(struct __sk_buff *skb, struct bp_packet6 *p, __u32 l3_off)
{
	struct bp_ipv6hdr ip;
	int linear = bp_parse_ipv6_linear(skb, p, l3_off);

	if (linear != BP_PARSE_NOT_LINEAR)
		return linear;
	if (bpf_skb_load_bytes(skb, l3_off, &ip, sizeof(ip)) || ip.version_class >> 4 != 6)
		return BP_PARSE_MALFORMED;
	__builtin_memcpy(p->saddr, ip.saddr, sizeof(p->saddr));
	__builtin_memcpy(p->daddr, ip.daddr, sizeof(p->daddr));
	p->end = l3_off + sizeof(ip) + bpf_ntohs(ip.payload_len);
	p->hop_limit = ip.hop_limit;
	p->sport = p->dport = 0;  /* defined without ports too: the verifier reads no garbage */
	p->has_ports = p->fragment = p->icmp_type = p->tcp_flags = 0;
	p->frag_hdr = 0;
	if (p->end > skb->len)
		return BP_PARSE_MALFORMED;  /* cut: shorter than its payload length says */

	__u32 off = l3_off + sizeof(ip);
	__u8 next = ip.nexthdr;
#pragma unroll
	for (int i = 0; i < BP_IPV6_MAX_EXT_HEADERS; i++) {
		__u8 ext[8];  /* every extension header is 8 bytes or more */

		if (!bp_ipv6_ext(next))
			break;
		if ((next == BP_IPPROTO_HOPOPTS && i) || off + sizeof(ext) > p->end ||
		    bpf_skb_load_bytes(skb, off, ext, sizeof(ext)))
			return BP_PARSE_MALFORMED;  /* hop-by-hop comes first or not at all (RFC 8200 §4.1) */
		if (next == BP_IPPROTO_FRAGMENT) {
			/* ext[2..3]: the offset (13 bits, in 8-byte units) and the M flag (bit 0) */
			__u16 offset = (__u16)ext[2] << 8 | (ext[3] & 0xf8);

			p->fragment |= offset || (ext[3] & 1);
			p->frag_hdr = off;
			off += 8;
			if (offset) {
				p->proto = ext[0];  /* a later fragment: no upper-layer header here */
				p->l4_off = off;
				return 0;
			}
		} else {
			off += next == BP_IPPROTO_AH ? ((__u32)ext[1] + 2) * 4 : ((__u32)ext[1] + 1) * 8;
		}
		next = ext[0];
		if (off > p->end)
			return BP_PARSE_MALFORMED;
	}
	if (bp_ipv6_ext(next))
		return BP_PARSE_EXT_LIMIT;
	p->proto = next;
	p->l4_off = off;
	return bp_parse_upper6(skb, p);
}

#endif /* BP_LIB_PARSE6_H */
