/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The instrumented build (make bpf-counted, -DBP_COUNT_HELPERS): every helper and kfunc the
 * programs call becomes a macro that first counts the call in bp_helper_calls, then makes it
 * (a macro does not expand its own name again, so the call inside is the helper itself).
 * `make bench` reads the counts per path; the normal build sees none of this. A helper the
 * programs start to call must be added below, or its calls go uncounted.
 *
 * common.h includes this header right after the helpers' declarations, so that every call
 * site comes after the macros; a kfunc's declaration, which comes later, keeps its name in
 * parentheses so that the macro does not expand there.
 */
#ifndef BP_LIB_HELPER_COUNT_H
#define BP_LIB_HELPER_COUNT_H
#ifdef BP_COUNT_HELPERS

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "../bridgeport.h"

_Static_assert(__BPF_FUNC_MAX_ID <= BP_KFUNC_CAST_TO_KERN_CTX, "BP_HELPER_IDS too small");

/* BP_MAP_HELPER_CALLS. Its lookup, of an array, the verifier inlines: a count is no call of
 * its own. Its key is in .rodata, not on the stack, of which some programs have not a byte
 * to spare. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct bp_helper_calls);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} bp_helper_calls SEC(".maps");

static const volatile __u32 bp_helper_calls_key = 0;

/* Defined before the macros: this lookup is the helper itself, uncounted. */
static __always_inline void bp_count_call(__u32 slot)
{
	struct bp_helper_calls *counts = bpf_map_lookup_elem(&bp_helper_calls, (const void *)&bp_helper_calls_key);

	if (counts)
		counts->calls[slot] += 1;
}

/*
 * The BPF_MAP_TYPE_* of a map of a .maps section, as its definition gives it to the compiler
 * (__uint(type, N) is a pointer to int[N]); 0 for a map given as a void * (a function's
 * parameter), whose type the count then reads from the kernel's struct bpf_map (CO-RE; the
 * verifier lets a program read a map's fields when its loader has CAP_PERFMON). Not read so
 * everywhere: the registers it takes cost stack, and bp_ep_nat66 with its bpf_loop callback
 * has all of its 512 bytes in use.
 */
struct bp_untyped_map {
	int (*type)[0];
};
#define BP_MAP_TYPE(map)                                                                          \
	(sizeof(*__builtin_choose_expr(__builtin_types_compatible_p(__typeof__(map), void *),     \
				       (struct bp_untyped_map *)0, (map))->type) / sizeof(int))

struct bpf_map___bp {
	enum bpf_map_type map_type;
} __attribute__((preserve_access_index));

/* A map helper's call, by the type of its map (BP_MAP_TYPE, else the kernel's). */
static __always_inline void bp_count_map_call(__u32 helper, __u32 type, const void *map)
{
	if (!type) {
		type = ((const struct bpf_map___bp *)map)->map_type;
		if (type >= BP_HELPER_MAP_TYPES)
			type = 0;
		barrier_var(type); /* the slot from the register the verifier saw bounded */
	}
	bp_count_call(BP_HELPER_SLOT(helper, type));
}

#define BP_COUNTED(helper, ...) (bp_count_call(BPF_FUNC_##helper), bpf_##helper(__VA_ARGS__))
#define BP_COUNTED_MAP(helper, map, ...) \
	(bp_count_map_call(BPF_FUNC_##helper, BP_MAP_TYPE(map), map), bpf_##helper(map, __VA_ARGS__))

#define bpf_map_lookup_elem(map, ...) BP_COUNTED_MAP(map_lookup_elem, map, __VA_ARGS__)
#define bpf_map_update_elem(map, ...) BP_COUNTED_MAP(map_update_elem, map, __VA_ARGS__)
#define bpf_map_delete_elem(map, ...) BP_COUNTED_MAP(map_delete_elem, map, __VA_ARGS__)
#define bpf_tail_call(...)            BP_COUNTED(tail_call, __VA_ARGS__)
#define bpf_loop(...)                 BP_COUNTED(loop, __VA_ARGS__)

#define bpf_skb_load_bytes(...)       BP_COUNTED(skb_load_bytes, __VA_ARGS__)
#define bpf_skb_store_bytes(...)      BP_COUNTED(skb_store_bytes, __VA_ARGS__)
#define bpf_skb_pull_data(...)        BP_COUNTED(skb_pull_data, __VA_ARGS__)
#define bpf_skb_change_head(...)      BP_COUNTED(skb_change_head, __VA_ARGS__)
#define bpf_skb_change_type(...)      BP_COUNTED(skb_change_type, __VA_ARGS__)
#define bpf_l3_csum_replace(...)      BP_COUNTED(l3_csum_replace, __VA_ARGS__)
#define bpf_l4_csum_replace(...)      BP_COUNTED(l4_csum_replace, __VA_ARGS__)
#define bpf_csum_diff(...)            BP_COUNTED(csum_diff, __VA_ARGS__)

#define bpf_fib_lookup(...)           BP_COUNTED(fib_lookup, __VA_ARGS__)
#define bpf_redirect(...)             BP_COUNTED(redirect, __VA_ARGS__)
#define bpf_redirect_neigh(...)       BP_COUNTED(redirect_neigh, __VA_ARGS__)
#define bpf_redirect_peer(...)        BP_COUNTED(redirect_peer, __VA_ARGS__)
#define bpf_sk_lookup_tcp(...)        BP_COUNTED(sk_lookup_tcp, __VA_ARGS__)
#define bpf_sk_lookup_udp(...)        BP_COUNTED(sk_lookup_udp, __VA_ARGS__)
#define bpf_sk_release(...)           BP_COUNTED(sk_release, __VA_ARGS__)

#define bpf_ktime_get_ns(...)         BP_COUNTED(ktime_get_ns, __VA_ARGS__)
#define bpf_ktime_get_coarse_ns(...)  BP_COUNTED(ktime_get_coarse_ns, __VA_ARGS__)
#define bpf_jiffies64(...)            BP_COUNTED(jiffies64, __VA_ARGS__)
#define bpf_get_prandom_u32(...)      BP_COUNTED(get_prandom_u32, __VA_ARGS__)
#define bpf_get_smp_processor_id(...) BP_COUNTED(get_smp_processor_id, __VA_ARGS__)

#define bpf_ringbuf_reserve(...)      BP_COUNTED(ringbuf_reserve, __VA_ARGS__)
#define bpf_ringbuf_submit(...)       BP_COUNTED(ringbuf_submit, __VA_ARGS__)
#define bpf_ringbuf_discard(...)      BP_COUNTED(ringbuf_discard, __VA_ARGS__)
#define bpf_perf_event_output(...)    BP_COUNTED(perf_event_output, __VA_ARGS__)

#define bpf_get_socket_cookie(...)    BP_COUNTED(get_socket_cookie, __VA_ARGS__)
#define bpf_get_netns_cookie(...)     BP_COUNTED(get_netns_cookie, __VA_ARGS__)

/* kfuncs: no BPF_FUNC_* id, a slot of bridgeport.h's each */
#define bpf_cast_to_kern_ctx(...) (bp_count_call(BP_KFUNC_CAST_TO_KERN_CTX), bpf_cast_to_kern_ctx(__VA_ARGS__))

#endif /* BP_COUNT_HELPERS */
#endif /* BP_LIB_HELPER_COUNT_H */
