/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Monitor events (bridgeport.h, "Monitor events"; cf. Cilium's lib/events.h and
 * lib/drop.h): drops and flow changes go to the bp_events ring buffer while someone
 * listens, at most bp_monitor's `rate` per CPU and type each second. A program that finds
 * nobody listening pays one array lookup, which the verifier inlines.
 */
#ifndef BP_LIB_EVENTS_H
#define BP_LIB_EVENTS_H

#include <bpf/bpf_endian.h>

#include "common.h"

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, BP_EVENTS_RING_SIZE);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} bp_events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct bp_monitor_config);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} bp_monitor SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, __BP_EVENT_MAX);
	__type(key, __u32);
	__type(value, struct bp_event_budget);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} bp_event_budget SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, __BP_EVENT_MAX);
	__type(key, __u32);
	__type(value, __u64);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} bp_events_lost SEC(".maps");

/* Whether anyone listens to events of `type`: the cheap test every emitter makes first. */
static __always_inline int bp_event_wanted(enum bp_event_type type)
{
	__u32 zero = 0;
	struct bp_monitor_config *config = bpf_map_lookup_elem(&bp_monitor, &zero);

	return config && (config->subscribed & (1u << type));
}

static __always_inline void bp_event_lost(enum bp_event_type type)
{
	__u32 key = type;
	__u64 *lost = bpf_map_lookup_elem(&bp_events_lost, &key);

	/* Atomic: a socket hook (process context) can be interrupted on its CPU by a tc
	 * program's drop, and this count is meant to be exact. */
	if (lost)
		__sync_fetch_and_add(lost, 1);
}

/*
 * Room in the ring for a wanted event of `type` and `size` bytes, its head filled in, or
 * NULL: over this CPU's budget of the second, or the ring full (both counted as lost).
 * The caller fills the rest and submits it with bpf_ringbuf_submit.
 */
static __always_inline void *bp_event_reserve(enum bp_event_type type, __u32 size, __u32 ifindex)
{
	__u32 zero = 0, key = type;
	struct bp_monitor_config *config = bpf_map_lookup_elem(&bp_monitor, &zero);
	struct bp_event_budget *budget = bpf_map_lookup_elem(&bp_event_budget, &key);
	__u64 now = bpf_ktime_get_ns();

	if (!config || !budget)
		return NULL;
	if (config->rate) {
		__u64 second = now / 1000000000ull;

		if (budget->second != second) {
			budget->second = second;
			budget->used = 0;
		}
		if (budget->used >= config->rate) {
			bp_event_lost(type);
			return NULL;
		}
		budget->used += 1;
	}
	struct bp_event_head *head = bpf_ringbuf_reserve(&bp_events, size, 0);

	if (!head) {
		bp_event_lost(type);
		return NULL;
	}
	head->time = now;
	head->type = (__u8)type;
	head->pad[0] = head->pad[1] = head->pad[2] = 0;
	head->ifindex = ifindex;
	return head;
}

/*
 * A drop event for a tc program's packet: the fields the drop counter has, and the
 * packet's first BP_DROP_SAMPLE bytes, from which the agent reads the tuple (the drop
 * sites have parsed more or less of it, or nothing).
 */
static __noinline void bp_notify_drop(struct __sk_buff *skb, __u32 ifindex, __u8 reason, __u8 direction)
{
	struct bp_drop_event *event = bp_event_reserve(BP_EVENT_DROP, sizeof(*event), ifindex);

	if (!event)
		return;
	__u32 sample = skb->len < BP_DROP_SAMPLE ? skb->len : BP_DROP_SAMPLE;

	/* All of it: ring memory holds earlier events, which user space must not be handed. */
	__builtin_memset((char *)event + sizeof(event->head), 0, sizeof(*event) - sizeof(event->head));
	event->reason = reason;
	event->direction = direction;
	event->hook = BP_HOOK_TC;
	event->dev_ifindex = skb->ifindex;
	event->len = skb->len;
	event->protocol = (__u16)skb->protocol;
	/* 1..BP_DROP_SAMPLE, as the helper wants a non-zero size it can bound */
	if (sample > 0 && sample <= BP_DROP_SAMPLE && !bpf_skb_load_bytes(skb, 0, event->sample, sample))
		event->sample_len = (__u8)sample;
	bpf_ringbuf_submit(event, 0);
}

/* A drop event for a call a socket hook refused: the call's destination (`daddr`: 4 words
 * for AF_INET6, 1 for AF_INET, as on the wire), no sample. */
static __noinline void bp_notify_refusal(struct bpf_sock_addr *ctx, __u8 family, const __u32 *daddr, __u32 ifindex,
					 __u8 reason, __u8 direction)
{
	struct bp_drop_event *event = bp_event_reserve(BP_EVENT_DROP, sizeof(*event), ifindex);

	if (!event)
		return;
	__builtin_memset((char *)event + sizeof(event->head), 0, sizeof(*event) - sizeof(event->head));
	event->reason = reason;
	event->direction = direction;
	event->hook = BP_HOOK_SOCK;
	event->family = family;
	event->proto = (__u8)ctx->protocol;
	event->daddr[0] = daddr[0];
	if (family == BP_AF_INET6) {
		event->daddr[1] = daddr[1];
		event->daddr[2] = daddr[2];
		event->daddr[3] = daddr[3];
	}
	event->dport = bpf_ntohs((__u16)ctx->user_port);
	bpf_ringbuf_submit(event, 0);
}

#endif /* BP_LIB_EVENTS_H */
