// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Not Bridgeport's: the least an XDP program on the uplink would do for one published UDP
 * port (bench/xdp-uplink.sh measures it against Bridgeport's tc path). A datagram to
 * HOST_IP:HOST_PORT gets the container's address and port, the checksums are updated, the
 * MACs set, and it is redirected to the container's host-side veth. No flow table, no
 * policy, no counters, no TTL decrement, no fragments: an upper bound for what XDP could
 * give this path.
 * HOST_IP, HOST_PORT, CTR_IP, CTR_PORT, CTR_MAC, VETH_MAC and VETH_IFINDEX come as -D.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/udp.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#define IP_MORE_FRAGMENTS 0x2000
#define IP_FRAGMENT_OFFSET 0x1fff

static __always_inline __u16 csum_fold(__u32 sum)
{
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return ~sum;
}

/* RFC 1624's incremental update of a checksum: `from` taken out, `to` put in. */
static __always_inline void csum_replace4(__u16 *sum, __u32 from, __u32 to)
{
	__u32 s = (__u16)~*sum;

	s += (__u16)~(from & 0xffff) + (__u16)~(from >> 16) + (to & 0xffff) + (to >> 16);
	*sum = csum_fold(s);
}

static __always_inline void csum_replace2(__u16 *sum, __u16 from, __u16 to)
{
	*sum = csum_fold((__u16)~*sum + (__u16)~from + to);
}

SEC("xdp")
int xdp_dnat(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct iphdr *ip = data + sizeof(*eth);
	struct udphdr *udp = (void *)(ip + 1);
	const unsigned char container_mac[ETH_ALEN] = { CTR_MAC }, veth_mac[ETH_ALEN] = { VETH_MAC };

	if ((void *)(udp + 1) > end || eth->h_proto != bpf_htons(ETH_P_IP) || ip->ihl != 5 ||
	    (ip->frag_off & bpf_htons(IP_MORE_FRAGMENTS | IP_FRAGMENT_OFFSET)) || ip->protocol != IPPROTO_UDP || ip->daddr != HOST_IP ||
	    udp->dest != bpf_htons(HOST_PORT))
		return XDP_PASS;
	csum_replace4(&ip->check, ip->daddr, CTR_IP);
	if (udp->check) {  /* 0: none; a sum that comes out 0 is sent as 0xffff */
		csum_replace4(&udp->check, ip->daddr, CTR_IP);
		csum_replace2(&udp->check, udp->dest, bpf_htons(CTR_PORT));
		if (!udp->check)
			udp->check = 0xffff;
	}
	ip->daddr = CTR_IP;
	udp->dest = bpf_htons(CTR_PORT);
	__builtin_memcpy(eth->h_dest, container_mac, ETH_ALEN);
	__builtin_memcpy(eth->h_source, veth_mac, ETH_ALEN);
	return bpf_redirect(VETH_IFINDEX, 0);
}

char _license[] SEC("license") = "Dual BSD/GPL";
