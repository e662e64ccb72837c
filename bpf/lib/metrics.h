/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Counting helpers (cf. Cilium's bpf/lib/metrics.h). Counters live in per-CPU
 * maps, so a plain increment of this CPU's slot is race free; user space sums
 * the slots at scrape time. Drops' entries are created on first use, so counting works
 * before (and without) the agent writing anything; the agent deletes an endpoint's after
 * its veth is gone. An endpoint's and a published port's traffic are counted in the slot
 * of an array their entry names (bridgeport.h: bp_endpoint's and bp_port_target's
 * stats_slot), which the agent gives zeroed.
 *
 * Every drop leaves a program through bp_drop_on (tc) or bp_sock_refuse (socket hooks),
 * which count it under its reason and report it to a listening monitor (cf. Cilium's send_drop_notify_error); the BPF tests
 * check that each drop verdict counted exactly one.
 */
#ifndef BP_LIB_METRICS_H
#define BP_LIB_METRICS_H

#include "common.h"
#include "events.h"
#include "maps.h"

enum bp_traffic_dir {
	BP_TRAFFIC_RX, /* the container receives (tc egress of its host-side veth) */
	BP_TRAFFIC_TX, /* the container sends (tc ingress of its host-side veth) */
};

/*
 * The 64-bit counter at `key` of a per-CPU hash map (bp_drops), created zeroed on first use.
 * NULL when the map is full: the agent sized it too small.
 */
static __always_inline __u64 *bp_counter(void *map, const void *key)
{
	__u64 *counter = bpf_map_lookup_elem(map, key);

	if (!counter) {
		__u64 zero = 0;

		/* BPF_NOEXIST: another CPU may have created it meanwhile; fine. */
		bpf_map_update_elem(map, key, &zero, BPF_NOEXIST);
		counter = bpf_map_lookup_elem(map, key);
	}
	return counter;
}

/* A packet of the endpoint `ep` (its entry in bp_endpoints), in its slot of bp_ep_stats. */
static __always_inline void bp_count_traffic(const struct bp_endpoint *ep, __u32 len, enum bp_traffic_dir dir)
{
	__u32 slot = ep->stats_slot;
	struct bp_endpoint_stats *stats = bpf_map_lookup_elem(&bp_ep_stats, &slot);

	if (!stats)
		return;  /* a slot past the array: the agent gives none */
	struct bp_traffic *t = dir == BP_TRAFFIC_RX ? &stats->rx : &stats->tx;
	t->packets += 1;
	t->bytes += len;
}

/* The entry of the host-side veth `ifindex` (0: none), or NULL: nobody's the agent knows. */
static __always_inline const struct bp_endpoint *bp_endpoint_of(__u32 ifindex)
{
	return ifindex ? bpf_map_lookup_elem(&bp_endpoints, &ifindex) : NULL;
}

/* bp_count_traffic for the veth `ifindex`, where its entry is not at hand: an interface
 * without one is not counted. */
static __always_inline void bp_count_traffic_of(__u32 ifindex, __u32 len, enum bp_traffic_dir dir)
{
	const struct bp_endpoint *ep = bp_endpoint_of(ifindex);

	if (ep)
		bp_count_traffic(ep, len, dir);
}

/* Counts a packet of `len` bytes (0: none, a connect() through the socket hooks) and a new
 * flow through the published port whose counters are at `slot` of `map` (bp_port_stats,
 * bp_port_stats6): the stats_slot of its bp_ports (bp_ports6) entry, or of its flow. */
static __always_inline void bp_count_port_in(void *map, __u32 slot, __u32 len, int new_flow)
{
	struct bp_port_stats *stats = bpf_map_lookup_elem(map, &slot);

	if (!stats)
		return;  /* a slot past the array: the agent gives none */
	stats->packets += len ? 1 : 0;
	stats->bytes += len;
	stats->flows += new_flow ? 1 : 0;
}

static __always_inline void bp_count_port(__u32 slot, __u32 len, int new_flow)
{
	bp_count_port_in(&bp_port_stats, slot, len, new_flow);
}

static __always_inline void bp_count_port6(__u32 slot, __u32 len, int new_flow)
{
	bp_count_port_in(&bp_port_stats6, slot, len, new_flow);
}

/*
 * Only through the exits below, so that no drop goes uncounted or is counted twice. Out of
 * line: one copy serves every drop site of a program (about 15% fewer instructions than
 * one inlined at each), and drops are not the path packets normally take.
 */
static __noinline void bp_count_drop(__u32 ifindex, enum bp_drop_reason reason, enum bp_direction direction)
{
	struct bp_drop_key key = {
		.ifindex = ifindex,
		.reason = (__u8)reason,
		.direction = (__u8)direction,
		.pad = 0,
	};
	__u64 *count = bp_counter(&bp_drops, &key);

	if (count)
		*count += 1;
}

/*
 * The one way a tc program drops a packet: counts it under a reason on `ifindex` (where
 * the drop is reported: the interface, or the container's veth a packet was bound for),
 * reports it to whoever listens (lib/events.h) and returns the verdict.
 */
static __always_inline int bp_drop_on(struct __sk_buff *skb, __u32 ifindex, enum bp_drop_reason reason,
				      enum bp_direction direction)
{
	bp_count_drop(ifindex, reason, direction);
	if (bp_event_wanted(BP_EVENT_DROP))
		bp_notify_drop(skb, ifindex, (__u8)reason, (__u8)direction);
	return BP_DROP;
}

/* Count a drop and return the verdict: `return bp_drop(skb, BP_DROP_ICC, BP_DIR_EGRESS);` */
static __always_inline int bp_drop(struct __sk_buff *skb, enum bp_drop_reason reason,
				   enum bp_direction direction)
{
	return bp_drop_on(skb, skb->ifindex, reason, direction);
}

/*
 * The socket hooks' one way to refuse a call (connect() or sendmsg() fails with EPERM):
 * counted as a drop of what it would have sent, on `ifindex` (the container's veth), and
 * reported with its destination (`daddr`, of `family`; see bp_notify_refusal).
 */
static __always_inline int bp_sock_refuse(struct bpf_sock_addr *ctx, __u8 family, const __u32 *daddr, __u32 ifindex,
					  enum bp_drop_reason reason, enum bp_direction direction)
{
	bp_count_drop(ifindex, reason, direction);
	if (bp_event_wanted(BP_EVENT_DROP))
		bp_notify_refusal(ctx, family, daddr, ifindex, (__u8)reason, (__u8)direction);
	return BP_SOCK_REFUSE;
}

#endif /* BP_LIB_METRICS_H */
