/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The programs' clock: whole seconds of CLOCK_MONOTONIC (bpf_ktime_get_coarse_ns), as the
 * agent reads them (flow expiries, fragments' reassembly time). Every packet of a flow asks
 * for it, and the helper costs about 30 ns; jiffies cost a load (the verifier inlines
 * bpf_jiffies64) and the coarse clock moves only at a tick too, so each CPU keeps the second
 * it read for the jiffy it read it in. A tick's jiffy and clock update are not one atomic
 * step, so the second may lag the coarse clock by a tick (a few ms) at its boundary, and
 * another CPU's: differences of seconds are taken signed where that matters. The two
 * fields are written apart, which is safe because tc programs run with bottom halves off:
 * nothing else on this CPU reads the entry meanwhile.
 */
#ifndef BP_LIB_CLOCK_H
#define BP_LIB_CLOCK_H

#include "common.h"

struct bp_clock {
	__u64 jiffies;  /* the jiffy `seconds` was read in */
	__u32 seconds;
	__u32 pad;
};

/* Private to each object and CPU (not pinned, not in bridgeport.h): a cache, not state. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct bp_clock);
} bp_clock SEC(".maps");

/* Seconds of CLOCK_MONOTONIC. */
static __always_inline __u32 bp_now(void)
{
	__u32 zero = 0;
	__u64 tick = bpf_jiffies64();
	struct bp_clock *clock = bpf_map_lookup_elem(&bp_clock, &zero);

	if (clock && clock->jiffies == tick)
		return clock->seconds;
	__u32 seconds = (__u32)(bpf_ktime_get_coarse_ns() / 1000000000ULL);
	if (clock) {
		clock->jiffies = tick;
		clock->seconds = seconds;
	}
	return seconds;
}

#endif /* BP_LIB_CLOCK_H */
