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

/* A one's complement sum of 16- and 32-bit words, in 64 bits, folded to 16 (not complemented). */
static __always_inline __u16 bp_csum_fold(__u64 sum)
{
	sum = (sum & 0xffffffff) + (sum >> 32);
	sum = (sum & 0xffffffff) + (sum >> 32);
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return (__u16)((sum & 0xffff) + (sum >> 16));
}

/*
 * A TCP or UDP checksum field after a translation changed an address of its pseudo-header by
 * `change` (RFC 1624's ~m + m' for each of its 32-bit words: the one's complement sum is the
 * same as over their 16-bit halves) and a port from `old_port` to `new_port`, as
 * bpf_l4_csum_replace would make it. What the field holds depends on the packet (the
 * kernel's skb->ip_summed, bp_ip_summed): with `partial` (CHECKSUM_PARTIAL, a local
 * socket's, whose checksum the device or the kernel completes when it leaves) the
 * pseudo-header's sum alone, folded, not complemented, which the address moves and the port
 * (the segment's) does not; else (CHECKSUM_NONE, _UNNECESSARY, _COMPLETE) the whole
 * checksum, its complement: RFC 1624's HC' = ~(~HC + ~m + m'). One sum, folded at the end,
 * the same arithmetic for both (no branch: the verifier follows fewer paths). `udp`: a field
 * of 0 (no checksum) stays 0, and a result of 0 is sent as 0xffff (RFC 768; the helper's
 * BPF_F_MARK_MANGLED_0).
 */
static __always_inline __u16 bp_l4_field_translated(__u16 field, __u64 change, __u16 old_port, __u16 new_port, int udp,
						    int partial)
{
	__u32 ported = (__u32)!partial * 0xffffffff;  /* the port counts */
	__u16 whole = ported;                          /* the complement's mask */

	if (udp && !field)
		return 0;
	field = bp_csum_fold((__u16)(field ^ whole) + change + (((__u16)~old_port + (__u32)new_port) & ported)) ^ whole;
	return udp && !field ? 0xffff : field;
}

/* The change of a 4-byte address, for bp_l4_field_translated. */
static __always_inline __u64 bp_csum_change(__u32 old_ip, __u32 new_ip)
{
	return (__u64)(__u32)~old_ip + new_ip;
}

/* The change of a 16-byte address, a word at a time. */
static __always_inline __u64 bp_csum_change6(const __u32 *old_ip, const __u32 *new_ip)
{
	__u64 sum = 0;

#pragma unroll
	for (int i = 0; i < 4; i++)
		sum += (__u64)(__u32)~old_ip[i] + new_ip[i];
	return sum;
}

#endif /* BP_LIB_CSUM_H */
