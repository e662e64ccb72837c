/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Address and port rewriting with incremental checksum updates, and the
 * forwarding that must follow it (cf. Cilium's bpf/lib/nat.h).
 */
#ifndef BP_LIB_NAT_H
#define BP_LIB_NAT_H

#include <stddef.h>
#include <linux/in.h>

#include "common.h"
#include "parse.h"

#ifndef AF_INET
#define AF_INET 2
#endif

static __always_inline __u32 bp_l4_csum_off(const struct bp_packet *p)
{
	return p->l4_off + (p->proto == BP_PROTO_TCP ? offsetof(struct tcphdr, check)
						    : offsetof(struct udphdr, check));
}

/*
 * Replaces one address and one port of the packet: the destination when
 * `dest` is set, else the source. UDP checksums of 0 (none) stay 0.
 */
static __always_inline int bp_rewrite(struct __sk_buff *skb, const struct bp_packet *p, int dest,
				      __u32 new_ip, __u16 new_port)
{
	__u32 old_ip = dest ? p->daddr : p->saddr;
	__u16 old_port = dest ? p->dport : p->sport;
	__u32 ip_off = p->l3_off + (dest ? offsetof(struct iphdr, daddr) : offsetof(struct iphdr, saddr));
	__u32 port_off = p->l4_off + (dest ? offsetof(struct tcphdr, dest) : offsetof(struct tcphdr, source));
	__u64 mangled = p->proto == BP_PROTO_UDP ? BPF_F_MARK_MANGLED_0 : 0;
	__u32 l4_csum = bp_l4_csum_off(p);

	if (bpf_l4_csum_replace(skb, l4_csum, old_ip, new_ip, BPF_F_PSEUDO_HDR | mangled | sizeof(new_ip)) ||
	    bpf_l4_csum_replace(skb, l4_csum, old_port, new_port, mangled | sizeof(new_port)) ||
	    bpf_l3_csum_replace(skb, p->l3_off + offsetof(struct iphdr, check), old_ip, new_ip, sizeof(new_ip)) ||
	    bpf_skb_store_bytes(skb, ip_off, &new_ip, sizeof(new_ip), 0) ||
	    bpf_skb_store_bytes(skb, port_off, &new_port, sizeof(new_port), 0))
		return -1;
	return 0;
}

/*
 * Sends the rewritten packet straight out of the interface the routing table
 * picks for its destination, resolving the next hop's MAC there. A reply
 * whose source became a host address must not re-enter the host's stack from
 * a bridge: it would be dropped as a martian. The lookup is a forwarding one
 * from the interface the packet came in on (the agent enables IPv4 forwarding,
 * as Docker does).
 */
static __always_inline int bp_redirect_by_route(struct __sk_buff *skb, __u32 saddr, __u32 daddr)
{
	struct bpf_fib_lookup fib = {
		.family = AF_INET,
		.ipv4_src = saddr,
		.ipv4_dst = daddr,
		.ifindex = skb->ingress_ifindex,
	};
	long rc = bpf_fib_lookup(skb, &fib, sizeof(fib), 0);

	if (rc != BPF_FIB_LKUP_RET_SUCCESS && rc != BPF_FIB_LKUP_RET_NO_NEIGH)
		return BP_CONTINUE;  /* no route: leave it to the kernel */
	return bpf_redirect_neigh(fib.ifindex, NULL, 0, 0);
}

#endif /* BP_LIB_NAT_H */
