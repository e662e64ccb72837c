/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * IPv6 fragments of translated flows (bp_frags6), as lib/nat.h does for IPv4: the first
 * fragment carries the ports and is translated as its flow says; its translation is
 * remembered under the datagram's identity (addresses, the Fragment header's
 * identification and next header) for BP_FRAG6_TIMEOUT, and the later fragments,
 * which carry no ports, get the same address. A later fragment that comes before the first
 * finds nothing: it is not translated (dropped where it would leave with a container's
 * address), as Linux's conntrack would hold it for reassembly instead.
 */
#ifndef BP_LIB_FRAG6_H
#define BP_LIB_FRAG6_H

#include "clock.h"
#include "common.h"
#include "maps.h"
#include "parse6.h"

/* Room for a key and a value off the stack: the callers' stacks are all but full (the
 * NAT66 programs with their bpf_loop callbacks), so the 64 bytes live here, one per CPU,
 * as Cilium's scratch maps do. Private to each object: not pinned, not in bridgeport.h. */
struct bp_frag6_scratch {
	struct bp_frag6_key key;
	struct bp_frag6_nat nat;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct bp_frag6_scratch);
} bp_frag6_room SEC(".maps");

/* The datagram a fragment belongs to; -1 when its Fragment header cannot be read. */
static __always_inline int bp_frag6_key(struct __sk_buff *skb, const struct bp_packet6 *p, struct bp_frag6_key *key)
{
	__u8 frag[8];  /* next header, reserved, offset and flags, identification */

	if (bpf_skb_load_bytes(skb, p->frag_hdr, frag, sizeof(frag)))
		return -1;
	/* The Fragment header's own next header: the same in every fragment, whatever headers
	 * follow it in the first (p->proto is the upper layer's there, not in later ones). */
	*key = (struct bp_frag6_key){ .proto = frag[0] };
	__builtin_memcpy(key->src, p->saddr, sizeof(key->src));
	__builtin_memcpy(key->dst, p->daddr, sizeof(key->dst));
	__builtin_memcpy(&key->id, frag + 4, sizeof(key->id));
	return 0;
}

/* Remembers the translation of a first fragment: the new address (destination toward a
 * container, with its veth; source from one). */
static __always_inline void bp_remember_fragment6(struct __sk_buff *skb, const struct bp_packet6 *p,
						  const __u32 *addr, __u32 ifindex)
{
	__u32 zero = 0;
	struct bp_frag6_scratch *room = bpf_map_lookup_elem(&bp_frag6_room, &zero);

	if (!room || bp_frag6_key(skb, p, &room->key))
		return;
	room->nat = (struct bp_frag6_nat){ .ifindex = ifindex, .expires = bp_now() + BP_FRAG6_TIMEOUT };
	__builtin_memcpy(room->nat.addr, addr, sizeof(room->nat.addr));
	bpf_map_update_elem(&bp_frags6, &room->key, &room->nat, BPF_ANY);
}

/* The translation of a later fragment's datagram (copied to *nat): 0, or -1 when there is
 * none (its first fragment was not seen, or the reassembly time is over). */
static __always_inline int bp_fragment_translation6(struct __sk_buff *skb, const struct bp_packet6 *p,
						    struct bp_frag6_nat *nat)
{
	struct bp_frag6_key key;

	if (bp_frag6_key(skb, p, &key))
		return -1;
	struct bp_frag6_nat *found = bpf_map_lookup_elem(&bp_frags6, &key);
	if (!found || found->expires < bp_now())
		return -1;
	*nat = *found;
	return 0;
}

#endif /* BP_LIB_FRAG6_H */
