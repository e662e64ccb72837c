/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Parsing of Ethernet + IPv4 + TCP/UDP headers, with every bound checked. The
 * result holds offsets and values only: packet pointers go stale after any
 * helper that rewrites the packet.
 */
#ifndef BP_LIB_PARSE_H
#define BP_LIB_PARSE_H

#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/tcp.h>
#include <linux/udp.h>
#include <bpf/bpf_endian.h>

#include "common.h"

/* ICMP echo header (linux/icmp.h pulls in libc headers). */
struct bp_icmp_echo {
	__u8 type;
	__u8 code;
	__sum16 checksum;
	__be16 id;
	__be16 sequence;
};
#define BP_ICMP_ECHOREPLY 0
#define BP_ICMP_ECHO      8
/* ICMP errors (RFC 792): each quotes the IP header and at least 8 bytes of a packet. */
#define BP_ICMP_DEST_UNREACH  3  /* frag-needed (code 4), port unreachable (3), ... */
#define BP_ICMP_TIME_EXCEEDED 11
#define BP_ICMP_PARAMETERPROB 12

#define BP_IP_DF     0x4000

#define BP_IP_MF     0x2000
#define BP_IP_OFFSET 0x1fff

struct bp_packet {
	__u32 l3_off;
	__u32 l4_off;    /* valid when has_ports */
	__u32 saddr;     /* network byte order */
	__u32 daddr;
	__u16 sport;     /* network byte order, when has_ports */
	__u16 dport;
	__u8 proto;
	__u8 has_ports;  /* the packet has its flow's tuple (not a later fragment): TCP, UDP or ICMP
			  * echo with its header present (for ICMP echo both ports are the identifier),
			  * or a protocol without ports (GRE, ESP, SCTP...: ports 0, see bp_ported) */
	__u8 fragment;   /* part of a fragmented datagram */
	__u8 ttl;
	__u16 ip_id;     /* identification, network byte order (matches fragments) */
	__u8 tcp_flags;  /* TCP: FIN, SYN, RST, ACK... (BP_TCP_*), when has_ports */
	__u8 icmp_type;  /* ICMP echo: BP_ICMP_ECHO or BP_ICMP_ECHOREPLY, when has_ports */
	__u8 icmp_error; /* an ICMP error (lib/icmp.h): has_ports is 0 */
	__u8 dont_fragment; /* DF is set */
};

/* Whether the protocol's flows have ports (the identifier for ICMP echo). The others are
 * tracked and masqueraded by their addresses alone, as Linux's generic tracking does. */
static __always_inline int bp_ported(__u8 proto)
{
	return proto == BP_PROTO_TCP || proto == BP_PROTO_UDP || proto == BP_PROTO_ICMP;
}

#define BP_TCP_FIN 0x01
#define BP_TCP_SYN 0x02
#define BP_TCP_RST 0x04
#define BP_TCP_ACK 0x10

/* Ethernet, the longest IPv4 header and a TCP header: what the programs read. */
#define BP_HEADERS_LEN (sizeof(struct ethhdr) + 60 + sizeof(struct tcphdr))

/*
 * Headers outside the linear data (a container's AF_PACKET socket with PACKET_VNET_HDR or
 * TX_RING can send such frames) are pulled into it first, so that what is parsed is what
 * the kernel forwards. Packet pointers go stale: read skb->data afterwards.
 */
static __always_inline void bp_pull_headers(struct __sk_buff *skb)
{
	__u32 linear = skb->data_end - skb->data;

	if (linear < BP_HEADERS_LEN && skb->len > linear)
		bpf_skb_pull_data(skb, skb->len < BP_HEADERS_LEN ? skb->len : BP_HEADERS_LEN);
}

#define BP_PARSE_NOT_IPV4 (-1)
#define BP_PARSE_MALFORMED (-2)

/*
 * 0 for an IPv4 packet (ports filled when present); BP_PARSE_NOT_IPV4 for another frame;
 * BP_PARSE_MALFORMED for an IPv4 one whose header is invalid or cut, or whose TCP or UDP
 * header (a first fragment's too) is cut. `l2_len` is where the IP header starts: ETH_HLEN,
 * or 0 at tc of a device without an Ethernet header (WireGuard, tun, ipip), whose packets
 * say what they are in skb->protocol alone. Callers pass a constant: the compiler keeps
 * one path.
 */
static __always_inline int bp_parse_l3(struct __sk_buff *skb, struct bp_packet *p, __u32 l2_len)
{
	void *data = (void *)(long)skb->data;
	void *data_end = (void *)(long)skb->data_end;
	struct ethhdr *eth = data;
	struct iphdr *ip = data + l2_len;

	if (l2_len && ((void *)(eth + 1) > data_end || eth->h_proto != bpf_htons(ETH_P_IP)))
		return BP_PARSE_NOT_IPV4;
	if (!l2_len && skb->protocol != bpf_htons(ETH_P_IP))
		return BP_PARSE_NOT_IPV4;
	p->daddr = 0;  /* a packet cut in its IP header has no destination to judge */
	if ((void *)(ip + 1) > data_end || ip->ihl < 5 || ip->version != 4 || (void *)ip + ip->ihl * 4 > data_end)
		return BP_PARSE_MALFORMED;

	p->l3_off = l2_len;
	p->l4_off = l2_len + ip->ihl * 4;  /* IP options are skipped, not parsed */
	p->saddr = ip->saddr;
	p->daddr = ip->daddr;
	p->proto = ip->protocol;
	p->ttl = ip->ttl;
	p->ip_id = ip->id;
	p->fragment = (ip->frag_off & bpf_htons(BP_IP_MF | BP_IP_OFFSET)) != 0;
	p->dont_fragment = (ip->frag_off & bpf_htons(BP_IP_DF)) != 0;
	p->has_ports = 0;
	p->tcp_flags = 0;
	p->icmp_type = 0;
	p->icmp_error = 0;
	p->sport = p->dport = 0;  /* defined even without ports: the verifier reads no garbage */

	/* A later fragment carries no L4 header. */
	if (ip->frag_off & bpf_htons(BP_IP_OFFSET))
		return 0;
	if (p->proto == BP_PROTO_ICMP) {
		struct bp_icmp_echo *icmp = data + p->l4_off;

		if ((void *)(icmp + 1) > data_end)
			return 0;
		if (icmp->type == BP_ICMP_DEST_UNREACH || icmp->type == BP_ICMP_TIME_EXCEEDED ||
		    icmp->type == BP_ICMP_PARAMETERPROB)
			p->icmp_error = 1;
		if (icmp->type != BP_ICMP_ECHO && icmp->type != BP_ICMP_ECHOREPLY)
			return 0;
		p->sport = p->dport = icmp->id;
		p->icmp_type = icmp->type;
		p->has_ports = 1;
		return 0;
	}
	if (!bp_ported(p->proto)) {
		p->has_ports = 1;  /* addresses only */
		return 0;
	}

	/* Source and destination ports are the first 4 bytes of both TCP and UDP. */
	__u16 *ports = data + p->l4_off;
	if ((void *)(ports + 2) > data_end)
		return BP_PARSE_MALFORMED;
	if (p->proto == BP_PROTO_TCP) {
		if (data + p->l4_off + sizeof(struct tcphdr) > data_end)
			return BP_PARSE_MALFORMED;
		p->tcp_flags = ((__u8 *)ports)[13];
	}
	if (p->proto == BP_PROTO_UDP && data + p->l4_off + sizeof(struct udphdr) > data_end)
		return BP_PARSE_MALFORMED;
	p->sport = ports[0];
	p->dport = ports[1];
	p->has_ports = 1;
	return 0;
}

/* An Ethernet frame's IPv4 packet (see bp_parse_l3). */
static __always_inline int bp_parse_ipv4(struct __sk_buff *skb, struct bp_packet *p)
{
	return bp_parse_l3(skb, p, sizeof(struct ethhdr));
}

/* The packet's tuple, as the flow table keys it. */
static __always_inline struct bp_flow_key bp_tuple(const struct bp_packet *p)
{
	struct bp_flow_key key = {
		.src_ip = p->saddr, .dst_ip = p->daddr, .src_port = p->sport, .dst_port = p->dport, .proto = p->proto,
	};
	return key;
}

#endif /* BP_LIB_PARSE_H */
