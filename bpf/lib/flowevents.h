/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Flow events for `bridgeport monitor --type flow` (bridgeport.h, "Monitor events"), written
 * once for both families: part of the flowops.h template (its parameters, and BP_FACCT: the
 * family's bp_flow_acct map; BP_FAF: its address family; BP_FIP(to, from): copies a tuple's
 * address into an event's 4 words).
 *
 * A flow made while someone listens to flow events is marked BP_FLOW_F_COUNTED, and each of
 * its entries counts its own packets in BP_FACCT, so that its closed and expired events
 * carry both directions' sums. Nothing here runs for a flow nobody listened to: flowops.h
 * asks bp_event_wanted only where a flow is made or changes state, and tests the flag on the
 * other packets. Out of line, so that the paths of packets stay as small as they were.
 */

/* One more packet of `len` IP bytes for a counted flow's entry at `key`. */
static __noinline void BP_FT(bp_flow_account)(const BP_FKEY *key, __u32 len)
{
	struct bp_flow_acct *acct = bpf_map_lookup_elem(&BP_FACCT, key);

	if (acct) {
		__sync_fetch_and_add(&acct->packets, 1);
		__sync_fetch_and_add(&acct->bytes, len);
		return;
	}
	/* Gone (the LRU made room): counted from here on. */
	struct bp_flow_acct first = { .packets = 1, .bytes = len };
	bpf_map_update_elem(&BP_FACCT, key, &first, BPF_NOEXIST);
}

/* A counted flow starts (or a TCP connection reopens its tuple): its entries' counts begin
 * anew, with its first packet at `key` (`len` IP bytes; 0: the caller counts it as the next
 * packets are). `reply`: the other entry's tuple, if known. */
static __noinline void BP_FT(bp_flow_account_start)(const BP_FKEY *key, const BP_FKEY *reply, __u32 len)
{
	struct bp_flow_acct acct = { .packets = len ? 1 : 0, .bytes = len };

	bpf_map_update_elem(&BP_FACCT, key, &acct, BPF_ANY);
	if (reply) {
		acct.packets = acct.bytes = 0;
		bpf_map_update_elem(&BP_FACCT, reply, &acct, BPF_ANY);
	}
}

/*
 * Reports a change of the flow whose entry `flow` is at `key` (either entry; `other`: the
 * other entry's tuple, which the callers have at hand: no room for it on NAT66's stack): its
 * original tuple and its reply tuple (conntrack -E's two), its state after the change, and
 * for a counted flow that closed or expired, both entries' packets and bytes.
 */
static __noinline void BP_FT(bp_notify_flow)(const BP_FKEY *key, const BP_FKEY *other, const BP_FVAL *flow,
					     __u8 change)
{
	struct bp_flow_change_event *event = bp_event_reserve(BP_EVENT_FLOW, sizeof(*event), flow->ifindex);

	if (!event)
		return;
	int reply = flow->flags & BP_FLOW_F_REPLY;
	const BP_FKEY *original = reply ? other : key;
	const BP_FKEY *back = reply ? key : other;

	__builtin_memset(&event->change, 0, sizeof(*event) - sizeof(event->head));
	event->change = change;
	event->family = BP_FAF;
	event->proto = key->proto;
	event->kind = flow->kind;
	event->state = flow->state;
	BP_FIP(event->src, original->src_ip);
	BP_FIP(event->dst, original->dst_ip);
	event->sport = bpf_ntohs(original->src_port);
	event->dport = bpf_ntohs(original->dst_port);
	BP_FIP(event->reply_src, back->src_ip);
	BP_FIP(event->reply_dst, back->dst_ip);
	event->reply_sport = bpf_ntohs(back->src_port);
	event->reply_dport = bpf_ntohs(back->dst_port);
	if ((change == BP_FLOW_CHANGE_CLOSED || change == BP_FLOW_CHANGE_EXPIRED) && (flow->flags & BP_FLOW_F_COUNTED)) {
		event->counted = 1;
		struct bp_flow_acct *acct = bpf_map_lookup_elem(&BP_FACCT, key);

		if (acct) {
			event->packets += acct->packets;
			event->bytes += acct->bytes;
		}
		acct = bpf_map_lookup_elem(&BP_FACCT, other);
		if (acct) {
			event->packets += acct->packets;
			event->bytes += acct->bytes;
		}
	}
	bpf_ringbuf_submit(event, 0);
}
