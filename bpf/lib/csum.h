/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Checksums computed in the program (cf. Cilium's bpf/lib/csum.h): RFC 1624's incremental
 * update of a 16-bit one's complement checksum, for the fields the kernel's helpers do not
 * update for us (the IPv4 header's checksum, a quoted packet's).
 */
#ifndef BP_LIB_CSUM_H
#define BP_LIB_CSUM_H

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

#endif /* BP_LIB_CSUM_H */
