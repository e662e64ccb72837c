/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The flow table's operations, written once for both families: conntrack.h includes this
 * file twice, for bp_flows (IPv4: the names as they are) and bp_flows6 (IPv6: the same
 * names with a 6), with these parameters:
 *   BP_FT(name)  a function's name in this family
 *   BP_FKEY      the tuple (struct bp_flow_key, struct bp_flow6_key)
 *   BP_FVAL      the entry (struct bp_flow, struct bp_flow6)
 *   BP_FPKT      the parsed packet (struct bp_packet, struct bp_packet6)
 *   BP_FMAP      the map
 *   BP_FICMP, BP_FECHOREPLY   the family's ICMP protocol and echo reply type
 *   BP_FACCT, BP_FAF, BP_FIP  its flow events' (flowevents.h)
 * No include guard: it is a template, and it undefines its parameters at its end.
 */

#include "flowevents.h"

/* The other entry of the flow whose entry `flow` is at `key`, or NULL when it is missing or
 * belongs to another flow (it must lead back to `key`). */
static __always_inline BP_FVAL *BP_FT(bp_flow_other)(const BP_FKEY *key, const BP_FVAL *flow,
						     BP_FKEY *other_key)
{
	BP_FKEY back;
	BP_FVAL *other;

	BP_FT(bp_flow_other_key)(key, flow, other_key);
	other = bpf_map_lookup_elem(&BP_FMAP, other_key);
	if (!other)
		return NULL;
	BP_FT(bp_flow_other_key)(other_key, other, &back);
	if (!BP_FT(bp_flow_key_same)(&back, key))
		return NULL;
	return other;
}

/* The state a flow starts in, from its first packet. */
static __always_inline __u8 BP_FT(bp_flow_first_state)(const BP_FPKT *p)
{
	if (p->proto != BP_PROTO_TCP)
		return BP_FLOW_UNREPLIED;
	return (p->tcp_flags & BP_TCP_RST) ? BP_FLOW_CLOSE : BP_FLOW_SYN_SENT;
}

/* A SYN without ACK from the side that opened the flow: a new connection on its tuple. */
static __always_inline int BP_FT(bp_opening_syn)(const BP_FVAL *flow, const BP_FPKT *p)
{
	return p->proto == BP_PROTO_TCP && !(flow->flags & BP_FLOW_F_REPLY) &&
	       (p->tcp_flags & (BP_TCP_SYN | BP_TCP_ACK)) == BP_TCP_SYN;
}

/* The state after this packet, but for a reopening from closing (bp_flow_seen's, as it
 * needs both entries' FIN marks). */
static __always_inline __u8 BP_FT(bp_flow_next_state)(const BP_FVAL *flow, const BP_FPKT *p, __u32 now)
{
	int reply = flow->flags & BP_FLOW_F_REPLY;
	__u8 state = flow->state;

	if (p->proto == BP_PROTO_TCP) {
		if (p->tcp_flags & BP_TCP_RST)
			return BP_FLOW_CLOSE;
		/* A new connection on the tuple of one that was reset (Linux reopens from CLOSE). */
		if (state == BP_FLOW_CLOSE && BP_FT(bp_opening_syn)(flow, p))
			return BP_FLOW_SYN_SENT;
		if (p->tcp_flags & BP_TCP_FIN)
			return state == BP_FLOW_CLOSE ? BP_FLOW_CLOSE : BP_FLOW_CLOSING;
		if (state == BP_FLOW_SYN_SENT && reply)
			return BP_FLOW_SYN_RECV;
		if (state == BP_FLOW_SYN_RECV && !reply && (p->tcp_flags & (BP_TCP_SYN | BP_TCP_ACK)) == BP_TCP_ACK)
			return BP_FLOW_ESTABLISHED;
		return state;
	}
	if (state == BP_FLOW_UNREPLIED && reply)
		return BP_FLOW_REPLIED;
	/* Signed: another CPU's clock may be a tick behind at a second's boundary (lib/clock.h). */
	if (state == BP_FLOW_REPLIED && p->proto == BP_PROTO_UDP && (__s32)(now - flow->created) >= BP_UDP_STREAM_AFTER)
		return BP_FLOW_STREAM;
	return state;
}

/*
 * What a flow's change from `flow`'s state and flags to `state` and `flags` is for a
 * monitor: established (TCP's handshake done; UDP, ICMP answered), closed (a RST), or new
 * (a TCP connection reopening the tuple); __BP_FLOW_CHANGE_MAX for none. The second FIN,
 * which closes a flow too, needs the other entry (bp_flow_seen).
 */
static __always_inline __u8 BP_FT(bp_flow_change_of)(const BP_FVAL *flow, __u8 state)
{
	if (state == flow->state)
		return __BP_FLOW_CHANGE_MAX;
	if (state == BP_FLOW_ESTABLISHED || state == BP_FLOW_REPLIED)
		return BP_FLOW_CHANGE_ESTABLISHED;
	if (state == BP_FLOW_CLOSE)
		return BP_FLOW_CHANGE_CLOSED;
	if (state == BP_FLOW_SYN_SENT)
		return BP_FLOW_CHANGE_NEW;
	return __BP_FLOW_CHANGE_MAX;
}

/*
 * A packet of a known flow (`len`: its IP bytes): its state and expiry move on, in both
 * entries; this entry remembers a FIN from its side. Writes only what changed: the expiry at
 * most once a second. A counted flow's entry counts the packet; a monitor that wants flow
 * events hears of the flow's changes (asked only when its state or flags change).
 */
static __always_inline void BP_FT(bp_flow_seen)(const BP_FKEY *key, BP_FVAL *flow,
					 const BP_FPKT *p, __u32 now, __u32 len)
{
	BP_FKEY other_key;
	BP_FVAL *other = NULL;
	__u8 state = BP_FT(bp_flow_next_state)(flow, p, now);
	__u8 fin = (p->proto == BP_PROTO_TCP && (p->tcp_flags & BP_TCP_FIN)) ? BP_FLOW_F_FIN : 0;
	__u8 flags = flow->flags | fin;

	/* Counted while a monitor listens: once none does, its packets stop paying for it. */
	if ((flags & BP_FLOW_F_COUNTED) && bp_event_wanted(BP_EVENT_FLOW))
		BP_FT(bp_flow_account)(key, len);
	/* Both sides sent a FIN (Linux's TIME_WAIT): a new SYN opens the tuple again. */
	if (state == BP_FLOW_CLOSING && (flow->flags & BP_FLOW_F_FIN) && BP_FT(bp_opening_syn)(flow, p)) {
		other = BP_FT(bp_flow_other)(key, flow, &other_key);
		if (other && (other->flags & BP_FLOW_F_FIN)) {
			state = BP_FLOW_SYN_SENT;
			flags &= ~BP_FLOW_F_FIN;
		}
	}
	if (state == flow->state && flags == flow->flags && flow->seen == (__u8)now)
		return;  /* refreshed this second already: the common case, no write */
	__u32 expires = now + bp_flow_lifetime(p->proto, state);
	__u8 change = BP_FT(bp_flow_change_of)(flow, state);
	__u8 closing = fin && !(flow->flags & BP_FLOW_F_FIN);  /* this side's first FIN */

	if (state != flow->state || expires != flow->expires || (closing && bp_event_wanted(BP_EVENT_FLOW))) {
		if (!other)
			other = BP_FT(bp_flow_other)(key, flow, &other_key);
		if (other) {
			/* Both sides' FINs close it (once: a RST after them is no news). */
			int both_fins = (other->flags & BP_FLOW_F_FIN) && (flags & BP_FLOW_F_FIN);

			if (closing && both_fins && state == BP_FLOW_CLOSING)
				change = BP_FLOW_CHANGE_CLOSED;
			else if (change == BP_FLOW_CHANGE_CLOSED && both_fins && !closing)
				change = __BP_FLOW_CHANGE_MAX;
			other->state = state;
			other->expires = expires;
			other->seen = (__u8)now;
			if (state == BP_FLOW_SYN_SENT)
				other->flags &= ~BP_FLOW_F_FIN;
		}
		if (change == BP_FLOW_CHANGE_NEW && (flags & BP_FLOW_F_COUNTED))
			BP_FT(bp_flow_account_start)(key, other ? &other_key : NULL, len);
		flow->state = state;
		flow->expires = expires;
		if (change != __BP_FLOW_CHANGE_MAX && bp_event_wanted(BP_EVENT_FLOW))
			BP_FT(bp_notify_flow)(key, &other_key, flow, change);
	}
	flow->seen = (__u8)now;
	if (flags != flow->flags)
		flow->flags = flags;
}

/*
 * Removes both entries of a flow found expired: the entry at `key` (whose expiry was
 * `expires` when looked up) and its other half when it leads back. Only one CPU removes
 * it: the one that swaps the expiry to 0 first; a CPU that loses has nothing to do. With
 * `report`, a counted flow is reported expired, as the collector reports the ones it
 * removes, unless it had closed (a RST, or FINs both ways: its closed event told its end).
 * (A new flow's search for a free reply tuple cannot report: the event's frame under its
 * bpf_loop callback's is more stack than the verifier allows. Such a flow is counted reaped.)
 */
static __always_inline void BP_FT(bp_flow_reap)(const BP_FKEY *key, BP_FVAL *flow, __u32 expires, int report)
{
	BP_FKEY other_key;
	BP_FVAL *other;

	if (expires == 0 || __sync_val_compare_and_swap(&flow->expires, expires, 0) != expires)
		return;  /* another CPU is removing it (the collector leaves an expiry of 0 alone) */
	other = BP_FT(bp_flow_other)(key, flow, &other_key);  /* other_key is set either way */
	if (flow->flags & BP_FLOW_F_COUNTED) {
		if (report && flow->state != BP_FLOW_CLOSE && !(other && (flow->flags & other->flags & BP_FLOW_F_FIN)) &&
		    bp_event_wanted(BP_EVENT_FLOW))
			BP_FT(bp_notify_flow)(key, &other_key, flow, BP_FLOW_CHANGE_EXPIRED);
		/* Its counts go with it, as the collector takes them out (the other half's only
		 * when it leads back: the tuple may be another flow's). */
		bpf_map_delete_elem(&BP_FACCT, key);
		if (other)
			bpf_map_delete_elem(&BP_FACCT, &other_key);
	}
	if (other)
		bpf_map_delete_elem(&BP_FMAP, &other_key);
	if (bpf_map_delete_elem(&BP_FMAP, key) == 0)
		bp_flow_count(BP_FLOW_EV_REAPED, key->proto);
}

/* ICMP echo: requests match original tuples and replies reply tuples, nothing else. */
static __always_inline int BP_FT(bp_flow_direction_fits)(const BP_FVAL *flow, const BP_FPKT *p)
{
	if (p->proto != BP_FICMP)
		return 1;
	return (p->icmp_type == BP_FECHOREPLY) == !!(flow->flags & BP_FLOW_F_REPLY);
}

/*
 * The live flow whose entry has this packet's tuple, or NULL. An expired flow the
 * collector has not removed yet is gone, as in Linux: it is removed here (both entries)
 * and the packet starts anew. The clock is read only when there is an entry (into *now;
 * bp_now_once reads it for the others when they need it): traffic of no flow pays nothing.
 */
static __always_inline BP_FVAL *BP_FT(bp_flow_lookup)(const BP_FKEY *key, const BP_FPKT *p, __u32 *now)
{
	BP_FVAL *flow = bpf_map_lookup_elem(&BP_FMAP, key);

	if (!flow || !BP_FT(bp_flow_direction_fits)(flow, p))
		return NULL;
	*now = bp_now();
	__u32 expires = flow->expires;
	if (expires < *now) {
		BP_FT(bp_flow_reap)(key, flow, expires, 1);
		return NULL;
	}
	return flow;
}

/* A new entry of `kind` for a flow whose first packet is p: counted when a monitor wants
 * flow events now. */
static __always_inline BP_FVAL BP_FT(bp_flow_entry)(const BP_FPKT *p, __u8 kind, __u8 flags,
						    __u32 ifindex, __u32 now)
{
	__u8 state = BP_FT(bp_flow_first_state)(p);
	BP_FVAL flow = {
		.ifindex = ifindex, .created = now, .expires = now + bp_flow_lifetime(p->proto, state),
		.kind = kind, .state = state, .seen = (__u8)now,
		.flags = flags | (bp_event_wanted(BP_EVENT_FLOW) ? BP_FLOW_F_COUNTED : 0),
	};
	return flow;
}

/*
 * Takes a reply tuple for a new flow: 0, -BP_EEXIST when a live flow has it, or another
 * negative error when the table is full. An expired flow holding it is removed first.
 */
static __always_inline long BP_FT(bp_flow_claim)(const BP_FKEY *reply, const BP_FVAL *entry, __u32 now)
{
	long err = bpf_map_update_elem(&BP_FMAP, reply, entry, BPF_NOEXIST);

	if (err != -BP_EEXIST)
		return err;
	BP_FVAL *holder = bpf_map_lookup_elem(&BP_FMAP, reply);
	if (holder) {
		__u32 expires = holder->expires;

		if (expires >= now)
			return -BP_EEXIST;
		BP_FT(bp_flow_reap)(reply, holder, expires, 0);
	}
	return bpf_map_update_elem(&BP_FMAP, reply, entry, BPF_NOEXIST);
}

/*
 * Completes a new flow whose reply entry was claimed: inserts the original entry, or
 * removes the reply entry again so that neither stays alone. Returns 0, or the error
 * (-BP_EEXIST: another CPU created the same flow meanwhile; use that one). `len`: the first
 * packet's IP bytes, for a counted flow (0: the caller has it seen as a known flow's).
 */
static __always_inline long BP_FT(bp_flow_commit)(const BP_FKEY *original, const BP_FVAL *entry,
					   const BP_FKEY *reply, __u32 len)
{
	long err = bpf_map_update_elem(&BP_FMAP, original, entry, BPF_NOEXIST);

	if (err) {
		bpf_map_delete_elem(&BP_FMAP, reply);
		return err;
	}
	bp_flow_count(BP_FLOW_EV_CREATED, original->proto);
	/* Made while a monitor listened: counted from its first packet, and reported. (Each
	 * call out of line on its own: NAT66's stack has room for one frame more, not two.) */
	if (entry->flags & BP_FLOW_F_COUNTED) {
		BP_FT(bp_flow_account_start)(original, reply, len);
		BP_FT(bp_notify_flow)(original, reply, entry, BP_FLOW_CHANGE_NEW);
	}
	return 0;
}

/*
 * bp_flow_commit for a translated flow: when another CPU created the same flow meanwhile,
 * its translation wins and *entry becomes its entry. 0, or the error (the table is full).
 */
static __always_inline long BP_FT(bp_flow_commit_translated)(const BP_FKEY *original, BP_FVAL *entry,
						      const BP_FKEY *reply, __u32 len)
{
	long err = BP_FT(bp_flow_commit)(original, entry, reply, len);

	if (err != -BP_EEXIST)
		return err;
	BP_FVAL *winner = bpf_map_lookup_elem(&BP_FMAP, original);
	if (!winner)
		return -BP_E2BIG;  /* and gone again meanwhile: taken for a full table */
	*entry = *winner;
	return 0;
}

/*
 * Both entries of a new flow of `kind` that is not translated (hairpin, routed): 0,
 * -BP_EEXIST when a live flow holds its reply tuple, or another error when the table is
 * full. A flow another CPU just made counts as made.
 */
static __always_inline long BP_FT(bp_flow_create_untranslated)(const BP_FPKT *p, const BP_FKEY *key,
							__u8 kind, __u32 ifindex, __u32 now, __u32 len)
{
	BP_FVAL out = BP_FT(bp_flow_entry)(p, kind, 0, ifindex, now);
	BP_FVAL back = out;
	BP_FKEY reply;

	back.flags = BP_FLOW_F_REPLY;
	BP_FT(bp_flow_other_key)(key, &out, &reply);
	long err = BP_FT(bp_flow_claim)(&reply, &back, now);
	if (err)
		return err;
	err = BP_FT(bp_flow_commit)(key, &out, &reply, len);
	return err == -BP_EEXIST ? 0 : err;
}

/*
 * Tracks a flow of direct routing in or out of a container address (BP_FLOW_ROUTED), so
 * that its other direction is known. 0, or -errno when the table is full.
 */
static __always_inline long BP_FT(bp_flow_track)(const BP_FPKT *p, const BP_FKEY *key, __u32 ifindex, __u32 now,
						 __u32 len)
{
	long err = BP_FT(bp_flow_create_untranslated)(p, key, BP_FLOW_ROUTED, ifindex, now, len);

	return err == -BP_EEXIST ? 0 : err;
}

#undef BP_FKEY
#undef BP_FVAL
#undef BP_FPKT
#undef BP_FMAP
#undef BP_FT
#undef BP_FICMP
#undef BP_FECHOREPLY
#undef BP_FACCT
#undef BP_FAF
#undef BP_FIP
