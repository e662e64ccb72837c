/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The flow table's lifecycle (cf. Cilium's bpf/lib/conntrack.h and Linux nf_conntrack):
 * finding a flow by a packet's tuple, moving its state on, creating both of its entries
 * or neither. Which translation a flow gets is nat.h's business; removing flows that
 * expired quietly is the agent's collector's (Sources/Daemon/FlowCollector.swift).
 *
 * Writes are rare: an entry changes when its flow's state does (then both entries), or
 * when its expiry moves by a whole second; a packet of a steady flow writes nothing.
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

/* The state a flow starts in, from its first packet. */
static __always_inline __u8 bp_flow_first_state(const struct bp_packet *p)
{
	if (p->proto != BP_PROTO_TCP)
		return BP_FLOW_UNREPLIED;
	return (p->tcp_flags & BP_TCP_RST) ? BP_FLOW_CLOSE : BP_FLOW_SYN_SENT;
}

/* The state after this packet (`reply`: it matched the reply tuple). */
static __always_inline __u8 bp_flow_next_state(const struct bp_flow *flow, const struct bp_packet *p, __u32 now)
{
	int reply = flow->flags & BP_FLOW_F_REPLY;
	__u8 state = flow->state;

	if (p->proto == BP_PROTO_TCP) {
		__u8 syn_ack = p->tcp_flags & (BP_TCP_SYN | BP_TCP_ACK);

		if (p->tcp_flags & BP_TCP_RST)
			return BP_FLOW_CLOSE;
		/* A new connection on the tuple of a closed one (Linux reopens from TIME_WAIT). */
		if (!reply && syn_ack == BP_TCP_SYN && (state == BP_FLOW_CLOSING || state == BP_FLOW_CLOSE))
			return BP_FLOW_SYN_SENT;
		if (p->tcp_flags & BP_TCP_FIN)
			return state == BP_FLOW_CLOSE ? BP_FLOW_CLOSE : BP_FLOW_CLOSING;
		if (state == BP_FLOW_SYN_SENT && reply)
			return BP_FLOW_SYN_RECV;
		if (state == BP_FLOW_SYN_RECV && !reply && syn_ack == BP_TCP_ACK)
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
 * A packet of a known flow: its state moves on (both entries), or this entry's expiry
 * does, at most once a second.
 */
static __always_inline void bp_flow_seen(const struct bp_flow_key *key, struct bp_flow *flow,
					 const struct bp_packet *p, __u32 now)
{
	__u8 state = bp_flow_next_state(flow, p, now);
	__u32 expires = now + bp_flow_lifetime(p->proto, state);

	if (state != flow->state) {
		struct bp_flow_key other_key;
		struct bp_flow *other;

		bp_flow_other_key(key, flow, &other_key);
		other = bpf_map_lookup_elem(&bp_flows, &other_key);
		if (other) {
			other->state = state;
			other->expires = expires;
		}
		flow->state = state;
		flow->expires = expires;
	} else if (flow->expires != expires) {
		flow->expires = expires;
	}
}

/* Removes both entries of a flow that expired; counted once, by whoever removed it. */
static __always_inline void bp_flow_reap(const struct bp_flow_key *key, const struct bp_flow *flow)
{
	struct bp_flow_key other_key;

	bp_flow_other_key(key, flow, &other_key);
	bpf_map_delete_elem(&bp_flows, &other_key);
	if (bpf_map_delete_elem(&bp_flows, key) == 0)
		bp_flow_count(BP_FLOW_EV_REAPED, key->proto);
}

/*
 * The live flow whose entry has this tuple, or NULL. An expired flow the collector has
 * not removed yet is removed here: it is gone, as in Linux, and the packet starts anew.
 */
static __always_inline struct bp_flow *bp_flow_lookup(const struct bp_flow_key *key, __u32 now)
{
	struct bp_flow *flow = bpf_map_lookup_elem(&bp_flows, key);

	if (flow && flow->expires < now) {
		bp_flow_reap(key, flow);
		return NULL;
	}
	return flow;
}

/* A new entry of `kind` for a flow whose first packet is p. */
static __always_inline struct bp_flow bp_flow_entry(const struct bp_packet *p, __u8 kind, __u8 flags,
						    __u32 ifindex, __u32 now)
{
	__u8 state = bp_flow_first_state(p);
	struct bp_flow flow = {
		.ifindex = ifindex, .created = now, .expires = now + bp_flow_lifetime(p->proto, state),
		.kind = kind, .state = state, .flags = flags,
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
		if (holder->expires >= now)
			return -BP_EEXIST;
		bp_flow_reap(reply, holder);
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

#endif /* BP_LIB_CONNTRACK_H */
