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

#include "clock.h"
#include "common.h"
#include "events.h"
#include "maps.h"
#include "parse.h"
#include "parse6.h"

/* Errors of bpf_map_update_elem (errno-base.h is not for BPF programs). */
#define BP_E2BIG  7   /* the table is full */
#define BP_EEXIST 17  /* BPF_NOEXIST: the key is taken */

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

/* The time, read once: what bp_flow_lookup read, or now. */
static __always_inline __u32 bp_now_once(__u32 *now)
{
	if (!*now)
		*now = bp_now();
	return *now;
}

#define BP_FKEY struct bp_flow_key
#define BP_FVAL struct bp_flow
#define BP_FPKT struct bp_packet
#define BP_FMAP bp_flows
#define BP_FT(name) name
#define BP_FICMP BP_PROTO_ICMP
#define BP_FECHOREPLY BP_ICMP_ECHOREPLY
#define BP_FACCT bp_flow_acct
#define BP_FAF BP_AF_INET
#define BP_FIP(to, from) ((to)[0] = (from))
#include "flowops.h"

#define BP_FKEY struct bp_flow6_key
#define BP_FVAL struct bp_flow6
#define BP_FPKT struct bp_packet6
#define BP_FMAP bp_flows6
#define BP_FT(name) name##6
#define BP_FICMP BP_PROTO_ICMPV6
#define BP_FECHOREPLY BP_ICMP6_ECHO_REPLY
#define BP_FACCT bp_flow_acct6
#define BP_FAF BP_AF_INET6
#define BP_FIP(to, from) __builtin_memcpy((to), (from), 16)
#include "flowops.h"

#endif /* BP_LIB_CONNTRACK_H */
