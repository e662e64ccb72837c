/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The flow table's lifecycle (cf. Cilium's bpf/lib/conntrack.h and Linux nf_conntrack):
 * finding a flow by a packet's tuple, moving its state on, creating both of its entries
 * or neither, removing both when it expired. Which translation a flow gets is nat.h's
 * business; removing flows nobody meets any more is the agent's collector's
 * (Sources/BPF/FlowTable.swift).
 *
 * A flow has one state and one expiry, written into both entries together: when its
 * state changes, and when a packet moves its expiry on, at most once a second. A packet
 * of a steady flow within the same second writes nothing and reads no timeout.
 */
#ifndef BP_LIB_CONNTRACK_H
#define BP_LIB_CONNTRACK_H

#include "common.h"
#include "maps.h"
#include "parse.h"

/* Errors of bpf_map_update_elem (errno-base.h is not for BPF programs). */
#define BP_E2BIG  7   /* the table is full */
#define BP_EEXIST 17  /* BPF_NOEXIST: the key is taken */

/* Seconds of CLOCK_MONOTONIC, as the agent reads them. */
static __always_inline __u32 bp_now(void)
{
	return (__u32)(bpf_ktime_get_coarse_ns() / 1000000000ULL);
}

static __always_inline void bp_flow_count(enum bp_flow_event event, __u8 proto)
{
	__u32 index = BP_FLOW_COUNTER(event, proto);
	__u64 *count = bpf_map_lookup_elem(&bp_flow_counts, &index);

	if (count)
		*count += 1;
}

/* The timeout of a flow in `state`: the agent's (--flow-timeout), else Linux's default. */
static __always_inline __u32 bp_flow_lifetime(__u8 proto, __u8 state)
{
	__u32 which = bp_flow_timeout_of(proto, state);
	__u32 zero = 0;
	struct bp_flow_config *config = bpf_map_lookup_elem(&bp_flow_config, &zero);
	__u32 seconds = 0;

	if (config && which < __BP_TIMEOUT_MAX)
		seconds = config->timeouts[which];
	return seconds ? seconds : bp_flow_timeout_default(which);
}

/* The other entry of the flow whose entry `flow` is at `key`, or NULL when it is missing or
 * belongs to another flow (it must lead back to `key`). */
static __always_inline struct bp_flow *bp_flow_other(const struct bp_flow_key *key, const struct bp_flow *flow,
						     struct bp_flow_key *other_key)
{
	struct bp_flow_key back;
	struct bp_flow *other;

	bp_flow_other_key(key, flow, other_key);
	other = bpf_map_lookup_elem(&bp_flows, other_key);
	if (!other)
		return NULL;
	bp_flow_other_key(other_key, other, &back);
	if (back.src_ip != key->src_ip || back.dst_ip != key->dst_ip || back.src_port != key->src_port ||
	    back.dst_port != key->dst_port || back.proto != key->proto)
		return NULL;
	return other;
}

/* The state a flow starts in, from its first packet. */
static __always_inline __u8 bp_flow_first_state(const struct bp_packet *p)
{
	if (p->proto != BP_PROTO_TCP)
		return BP_FLOW_UNREPLIED;
	return (p->tcp_flags & BP_TCP_RST) ? BP_FLOW_CLOSE : BP_FLOW_SYN_SENT;
}

/* A SYN without ACK from the side that opened the flow: a new connection on its tuple. */
static __always_inline int bp_opening_syn(const struct bp_flow *flow, const struct bp_packet *p)
{
	return p->proto == BP_PROTO_TCP && !(flow->flags & BP_FLOW_F_REPLY) &&
	       (p->tcp_flags & (BP_TCP_SYN | BP_TCP_ACK)) == BP_TCP_SYN;
}

/* The state after this packet, but for a reopening from closing (bp_flow_seen's, as it
 * needs both entries' FIN marks). */
static __always_inline __u8 bp_flow_next_state(const struct bp_flow *flow, const struct bp_packet *p, __u32 now)
{
	int reply = flow->flags & BP_FLOW_F_REPLY;
	__u8 state = flow->state;

	if (p->proto == BP_PROTO_TCP) {
		if (p->tcp_flags & BP_TCP_RST)
			return BP_FLOW_CLOSE;
		/* A new connection on the tuple of one that was reset (Linux reopens from CLOSE). */
		if (state == BP_FLOW_CLOSE && bp_opening_syn(flow, p))
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
	if (state == BP_FLOW_REPLIED && p->proto == BP_PROTO_UDP && now - flow->created >= BP_UDP_STREAM_AFTER)
		return BP_FLOW_STREAM;
	return state;
}

/*
 * A packet of a known flow: its state and expiry move on, in both entries; this entry
 * remembers a FIN from its side. Writes only what changed: the expiry at most once a
 * second.
 */
static __always_inline void bp_flow_seen(const struct bp_flow_key *key, struct bp_flow *flow,
					 const struct bp_packet *p, __u32 now)
{
	struct bp_flow_key other_key;
	struct bp_flow *other = NULL;
	__u8 state = bp_flow_next_state(flow, p, now);
	__u8 fin = (p->proto == BP_PROTO_TCP && (p->tcp_flags & BP_TCP_FIN)) ? BP_FLOW_F_FIN : 0;
	__u8 flags = flow->flags | fin;

	/* Both sides sent a FIN (Linux's TIME_WAIT): a new SYN opens the tuple again. */
	if (state == BP_FLOW_CLOSING && (flow->flags & BP_FLOW_F_FIN) && bp_opening_syn(flow, p)) {
		other = bp_flow_other(key, flow, &other_key);
		if (other && (other->flags & BP_FLOW_F_FIN)) {
			state = BP_FLOW_SYN_SENT;
			flags &= ~BP_FLOW_F_FIN;
		}
	}
	if (state == flow->state && flags == flow->flags && flow->seen == (__u8)now)
		return;  /* refreshed this second already: the common case, no write */
	__u32 expires = now + bp_flow_lifetime(p->proto, state);

	if (state != flow->state || expires != flow->expires) {
		if (!other)
			other = bp_flow_other(key, flow, &other_key);
		if (other) {
			other->state = state;
			other->expires = expires;
			other->seen = (__u8)now;
			if (state == BP_FLOW_SYN_SENT)
				other->flags &= ~BP_FLOW_F_FIN;
		}
		flow->state = state;
		flow->expires = expires;
	}
	flow->seen = (__u8)now;
	if (flags != flow->flags)
		flow->flags = flags;
}

/*
 * Removes both entries of a flow found expired: the entry at `key` (whose expiry was
 * `expires` when looked up) and its other half when it leads back. Only one CPU removes
 * it: the one that swaps the expiry to 0 first; a CPU that loses has nothing to do.
 */
static __always_inline void bp_flow_reap(const struct bp_flow_key *key, struct bp_flow *flow, __u32 expires)
{
	struct bp_flow_key other_key;
	struct bp_flow *other;

	if (expires == 0 || __sync_val_compare_and_swap(&flow->expires, expires, 0) != expires)
		return;  /* another CPU is removing it */
	other = bp_flow_other(key, flow, &other_key);
	if (other)
		bpf_map_delete_elem(&bp_flows, &other_key);
	if (bpf_map_delete_elem(&bp_flows, key) == 0)
		bp_flow_count(BP_FLOW_EV_REAPED, key->proto);
}

/* ICMP echo: requests match original tuples and replies reply tuples, nothing else. */
static __always_inline int bp_flow_direction_fits(const struct bp_flow *flow, const struct bp_packet *p)
{
	if (p->proto != BP_PROTO_ICMP)
		return 1;
	return (p->icmp_type == BP_ICMP_ECHOREPLY) == !!(flow->flags & BP_FLOW_F_REPLY);
}

/*
 * The live flow whose entry has this packet's tuple, or NULL. An expired flow the
 * collector has not removed yet is gone, as in Linux: it is removed here (both entries)
 * and the packet starts anew. The clock is read only when there is an entry (into *now;
 * bp_now_once reads it for the others when they need it): traffic of no flow pays nothing.
 */
static __always_inline struct bp_flow *bp_flow_lookup(const struct bp_flow_key *key, const struct bp_packet *p, __u32 *now)
{
	struct bp_flow *flow = bpf_map_lookup_elem(&bp_flows, key);

	if (!flow || !bp_flow_direction_fits(flow, p))
		return NULL;
	*now = bp_now();
	__u32 expires = flow->expires;
	if (expires < *now) {
		bp_flow_reap(key, flow, expires);
		return NULL;
	}
	return flow;
}

/* The time, read once: what bp_flow_lookup read, or now. */
static __always_inline __u32 bp_now_once(__u32 *now)
{
	if (!*now)
		*now = bp_now();
	return *now;
}

/* A new entry of `kind` for a flow whose first packet is p. */
static __always_inline struct bp_flow bp_flow_entry(const struct bp_packet *p, __u8 kind, __u8 flags,
						    __u32 ifindex, __u32 now)
{
	__u8 state = bp_flow_first_state(p);
	struct bp_flow flow = {
		.ifindex = ifindex, .created = now, .expires = now + bp_flow_lifetime(p->proto, state),
		.kind = kind, .state = state, .flags = flags, .seen = (__u8)now,
	};
	return flow;
}

/*
 * Takes a reply tuple for a new flow: 0, -BP_EEXIST when a live flow has it, or another
 * negative error when the table is full. An expired flow holding it is removed first.
 */
static __always_inline long bp_flow_claim(const struct bp_flow_key *reply, const struct bp_flow *entry, __u32 now)
{
	long err = bpf_map_update_elem(&bp_flows, reply, entry, BPF_NOEXIST);

	if (err != -BP_EEXIST)
		return err;
	struct bp_flow *holder = bpf_map_lookup_elem(&bp_flows, reply);
	if (holder) {
		__u32 expires = holder->expires;

		if (expires >= now)
			return -BP_EEXIST;
		bp_flow_reap(reply, holder, expires);
	}
	return bpf_map_update_elem(&bp_flows, reply, entry, BPF_NOEXIST);
}

/*
 * Completes a new flow whose reply entry was claimed: inserts the original entry, or
 * removes the reply entry again so that neither stays alone. Returns 0, or the error
 * (-BP_EEXIST: another CPU created the same flow meanwhile; use that one).
 */
static __always_inline long bp_flow_commit(const struct bp_flow_key *original, const struct bp_flow *entry,
					   const struct bp_flow_key *reply)
{
	long err = bpf_map_update_elem(&bp_flows, original, entry, BPF_NOEXIST);

	if (err) {
		bpf_map_delete_elem(&bp_flows, reply);
		return err;
	}
	bp_flow_count(BP_FLOW_EV_CREATED, original->proto);
	return 0;
}

/*
 * bp_flow_commit for a translated flow: when another CPU created the same flow meanwhile,
 * its translation wins and *entry becomes its entry. 0, or the error (the table is full).
 */
static __always_inline long bp_flow_commit_translated(const struct bp_flow_key *original, struct bp_flow *entry,
						      const struct bp_flow_key *reply)
{
	long err = bp_flow_commit(original, entry, reply);

	if (err != -BP_EEXIST)
		return err;
	struct bp_flow *winner = bpf_map_lookup_elem(&bp_flows, original);
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
static __always_inline long bp_flow_create_untranslated(const struct bp_packet *p, const struct bp_flow_key *key,
							__u8 kind, __u32 ifindex, __u32 now)
{
	struct bp_flow out = bp_flow_entry(p, kind, 0, ifindex, now);
	struct bp_flow back = out;
	struct bp_flow_key reply;

	back.flags = BP_FLOW_F_REPLY;
	bp_flow_other_key(key, &out, &reply);
	long err = bp_flow_claim(&reply, &back, now);
	if (err)
		return err;
	err = bp_flow_commit(key, &out, &reply);
	return err == -BP_EEXIST ? 0 : err;
}

/*
 * Tracks a flow of direct routing in or out of a container address (BP_FLOW_ROUTED), so
 * that its other direction is known. 0, or -errno when the table is full.
 */
static __always_inline long bp_flow_track(const struct bp_packet *p, const struct bp_flow_key *key, __u32 ifindex, __u32 now)
{
	long err = bp_flow_create_untranslated(p, key, BP_FLOW_ROUTED, ifindex, now);

	return err == -BP_EEXIST ? 0 : err;
}

#endif /* BP_LIB_CONNTRACK_H */
