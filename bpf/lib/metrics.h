/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Counting helpers (cf. Cilium's bpf/lib/metrics.h). Counters live in per-CPU
 * maps, so a plain increment of this CPU's slot is race free; user space sums
 * the slots at scrape time. Entries are created on first use, so counting
 * works before (and without) the agent writing anything; the agent deletes an
 * endpoint's entries after its veth is gone.
 */
#ifndef BP_LIB_METRICS_H
#define BP_LIB_METRICS_H

#include "common.h"
#include "maps.h"

enum bp_traffic_dir {
	BP_TRAFFIC_RX, /* the container receives (tc egress of its host-side veth) */
	BP_TRAFFIC_TX, /* the container sends (tc ingress of its host-side veth) */
};

static __always_inline void bp_count_traffic(__u32 ifindex, __u32 len, enum bp_traffic_dir dir)
{
	struct bp_endpoint_stats *stats = bpf_map_lookup_elem(&bp_ep_stats, &ifindex);

	if (!stats) {
		struct bp_endpoint_stats zero = {};

		/* BPF_NOEXIST: another CPU may have created it meanwhile; fine. */
		bpf_map_update_elem(&bp_ep_stats, &ifindex, &zero, BPF_NOEXIST);
		stats = bpf_map_lookup_elem(&bp_ep_stats, &ifindex);
		if (!stats)
			return; /* map full: the agent sized BP_MAX_ENDPOINTS too small */
	}

	struct bp_traffic *t = dir == BP_TRAFFIC_RX ? &stats->rx : &stats->tx;
	t->packets += 1;
	t->bytes += len;
}

static __always_inline void bp_count_drop(__u32 ifindex, enum bp_drop_reason reason,
					  enum bp_direction direction)
{
	struct bp_drop_key key = {
		.ifindex = ifindex,
		.reason = (__u8)reason,
		.direction = (__u8)direction,
		.pad = 0,
	};
	__u64 *count = bpf_map_lookup_elem(&bp_drops, &key);

	if (!count) {
		__u64 zero = 0;

		bpf_map_update_elem(&bp_drops, &key, &zero, BPF_NOEXIST);
		count = bpf_map_lookup_elem(&bp_drops, &key);
		if (!count)
			return;
	}
	*count += 1;
}

/* Counts a packet (and a new flow) through the published port `key`. */
static __always_inline void bp_count_port(const struct bp_port_key *key, __u32 len, int new_flow)
{
	struct bp_port_stats *stats = bpf_map_lookup_elem(&bp_port_stats, key);

	if (!stats) {
		struct bp_port_stats zero = {};

		bpf_map_update_elem(&bp_port_stats, key, &zero, BPF_NOEXIST);
		stats = bpf_map_lookup_elem(&bp_port_stats, key);
		if (!stats)
			return;
	}
	stats->packets += len ? 1 : 0;
	stats->bytes += len;
	stats->flows += new_flow ? 1 : 0;
}

/*
 * The one way a program drops a packet: counts it under a reason on `ifindex` (where the
 * drop is reported: the interface, or the container's veth a packet was bound for) and
 * returns the verdict.
 */
static __always_inline int bp_drop_on(__u32 ifindex, enum bp_drop_reason reason, enum bp_direction direction)
{
	bp_count_drop(ifindex, reason, direction);
	return BP_DROP;
}

/* Count a drop and return the verdict: `return bp_drop(skb, BP_DROP_ICC, BP_DIR_EGRESS);` */
static __always_inline int bp_drop(struct __sk_buff *skb, enum bp_drop_reason reason,
				   enum bp_direction direction)
{
	return bp_drop_on(skb->ifindex, reason, direction);
}

#endif /* BP_LIB_METRICS_H */
