/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Checksums computed in the program (cf. Cilium's bpf/lib/csum.h): RFC 1624's incremental
 * update of a 16-bit one's complement checksum, for the fields the kernel's helpers do not
 * update for us (the IPv4 header's checksum, a quoted packet's).
 */
#ifndef BP_LIB_CSUM_H
#define BP_LIB_CSUM_H

#include <bpf/bpf_core_read.h>

#include "common.h"

/* RFC 1624: a checksum after one 16-bit word it covers went from `from` to `to`. Words are
 * taken as they lie in memory: the one's complement sum does not depend on byte order. */
static __always_inline __u16 bp_csum_replace2(__u16 check, __u16 from, __u16 to)
{
	__u32 sum = (__u16)~check + (__u16)~from + (__u32)to;

	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return (__u16)~sum;
}

static __always_inline __u16 bp_csum_replace4(__u16 check, __u32 from, __u32 to)
{
	check = bp_csum_replace2(check, (__u16)(from >> 16), (__u16)(to >> 16));
	return bp_csum_replace2(check, (__u16)from, (__u16)to);
}

/*
 * How a packet's checksum stands (the kernel's skb->ip_summed, which __sk_buff does not
 * show): read through the program's context cast to the kernel's sk_buff
 * (bpf_cast_to_kern_ctx, Linux 6.2; the verifier inlines it) at the offset CO-RE finds in
 * the kernel's BTF.
 */
enum bp_ip_summed {
	BP_CHECKSUM_NONE = 0,        /* the L4 field holds the checksum, nobody verified it yet */
	BP_CHECKSUM_UNNECESSARY = 1, /* the field holds it, the device verified it */
	BP_CHECKSUM_COMPLETE = 2,    /* the field holds it, skb->csum the packet's whole sum */
	BP_CHECKSUM_PARTIAL = 3,     /* the field holds the pseudo-header's sum alone: offloaded */
};

struct sk_buff___bp {
	__u8 ip_summed : 2;
} __attribute__((preserve_access_index));

extern void *(bpf_cast_to_kern_ctx)(void *ctx) __ksym; /* in parentheses: no helper_count.h macro */

static __always_inline enum bp_ip_summed bp_ip_summed(struct __sk_buff *skb)
{
	struct sk_buff___bp *kskb = bpf_cast_to_kern_ctx(skb);

	return BPF_CORE_READ_BITFIELD(kskb, ip_summed);
}

/*
 * A TCP or UDP checksum field after a translation changed an address of its pseudo-header
 * from `old_ip` to `new_ip` and a port from `old_port` to `new_port`, as
 * bpf_l4_csum_replace would make it, for a packet whose field holds the whole checksum
 * (CHECKSUM_NONE or _UNNECESSARY; the others need the helper). `udp`: a UDP field of 0 (no
 * checksum) stays 0, and a result of 0 is sent as 0xffff (RFC 768).
 */
static __always_inline __u16 bp_l4_csum_translated(__u16 check, __u32 old_ip, __u32 new_ip, __u16 old_port,
						    __u16 new_port, int udp)
{
	if (udp && !check)
		return 0;
	check = bp_csum_replace2(bp_csum_replace4(check, old_ip, new_ip), old_port, new_port);
	return udp && !check ? 0xffff : check;
}

/* bp_l4_csum_translated for IPv6, with a 16-byte address: RFC 1624's update as one sum
 * (of 32-bit words, folded at the end: the one's complement sum is the same), which keeps
 * fewer values live than a fold per word. */
static __always_inline __u16 bp_l4_csum_translated6(__u16 check, const __u32 *old_ip, const __u32 *new_ip,
						     __u16 old_port, __u16 new_port, int udp)
{
	if (udp && !check)
		return 0;
	__u64 sum = (__u16)~check + (__u16)~old_port + (__u32)new_port;

#pragma unroll
	for (int i = 0; i < 4; i++)
		sum += (__u64)(__u32)~old_ip[i] + new_ip[i];
	sum = (sum & 0xffffffff) + (sum >> 32);
	sum = (sum & 0xffffffff) + (sum >> 32);
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	check = (__u16)~sum;
	return udp && !check ? 0xffff : check;
}

#endif /* BP_LIB_CSUM_H */
