/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Map definitions shared by the programs. Every object that includes this
 * header declares the same maps; LIBBPF_PIN_BY_NAME makes them all reuse the
 * one pinned instance under the loader's pin root (pin_root_path), so the
 * counters and the endpoint table are shared and survive agent restarts.
 *
 * The variable names ARE the map names: keep them equal to the BP_MAP_*
 * strings of bridgeport.h.
 */
#ifndef BP_LIB_MAPS_H
#define BP_LIB_MAPS_H

#include "common.h"

/* BP_MAP_ENDPOINT_STATS: an endpoint's stats_slot -> per-CPU traffic counters */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, BP_MAX_ENDPOINTS);
	__type(key, __u32);
	__type(value, struct bp_endpoint_stats);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} bp_ep_stats SEC(".maps");

/* BP_MAP_ENDPOINTS: host-side ifindex -> endpoint config, written by the agent */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, BP_MAX_ENDPOINTS);
	__type(key, __u32);
	__type(value, struct bp_endpoint);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} bp_endpoints SEC(".maps");

/* BP_MAP_ENDPOINT_SLOTS: an endpoint's stats_slot -> its entry and veth, written by the agent */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, BP_MAX_ENDPOINTS);
	__type(key, __u32);
	__type(value, struct bp_endpoint_slot);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} bp_ep_slots SEC(".maps");

/* BP_MAP_DROPS: {ifindex, reason, direction} -> per-CPU dropped packets */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, BP_MAX_DROP_KEYS);
	__type(key, struct bp_drop_key);
	__type(value, __u64);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} bp_drops SEC(".maps");

/* BP_MAP_PORTS: published ports, written by the agent */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, BP_MAX_PORTS);
	__type(key, struct bp_port_key);
	__type(value, struct bp_port_target);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} bp_ports SEC(".maps");

/* BP_MAP_HOST_ADDRS: the host's own addresses, written by the agent */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, BP_MAX_HOST_ADDRS);
	__type(key, __u32);
	__type(value, __u8);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} bp_host_addrs SEC(".maps");

/* BP_MAP_SUBNETS: bridge networks' subnets, written by the agent */
struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, BP_MAX_SUBNETS);
	__type(key, struct bp_subnet_key);
	__type(value, struct bp_subnet);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} bp_subnets SEC(".maps");

/* BP_MAP_SUBNETS6: dual-stack networks' IPv6 subnets, written by the agent */
struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, BP_MAX_SUBNETS);
	__type(key, struct bp_subnet6_key);
	__type(value, struct bp_subnet);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} bp_subnets6 SEC(".maps");

/* BP_MAP_HOST_ADDRS6: the host's own IPv6 addresses, written by the agent */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, BP_MAX_HOST_ADDRS);
	__type(key, struct bp_addr6);
	__type(value, __u8);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} bp_host_addrs6 SEC(".maps");

/* BP_MAP_TARGETS: the container side of every published port, written by the agent */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, BP_MAX_PORTS);
	__type(key, struct bp_target_key);
	__type(value, struct bp_target);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} bp_targets SEC(".maps");

/*
 * BP_MAP_FLOWS: the flow table, two entries per flow (bridgeport.h, "Flows"). A hash map,
 * not an LRU: a flood of new flows can never push out established ones; it fills the
 * table and is dropped (ct_full) until the agent's collector frees room. Preallocated, as
 * Cilium's CT maps are: a new flow costs half as much as with BPF_F_NO_PREALLOC (measured
 * by make bench), and an insert never fails for want of memory under a flood. The agent
 * sets max_entries (--max-flows) before loading.
 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 2 * BP_DEFAULT_MAX_FLOWS);
	__type(key, struct bp_flow_key);
	__type(value, struct bp_flow);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} bp_flows SEC(".maps");

/* BP_MAP_FLOWS6: bp_flows for IPv6 (NAT66 masquerade); the agent sizes it as bp_flows. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 2 * BP_DEFAULT_MAX_FLOWS);
	__type(key, struct bp_flow6_key);
	__type(value, struct bp_flow6);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} bp_flows6 SEC(".maps");

/* BP_MAP_FLOW_ACCT, BP_MAP_FLOW_ACCT6: counted flows' packets and bytes, by entry tuple.
 * Apart from the flow table, so that entries and their copies on the stack stay small. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, BP_MAX_COUNTED_FLOWS);
	__type(key, struct bp_flow_key);
	__type(value, struct bp_flow_acct);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} bp_flow_acct SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, BP_MAX_COUNTED_FLOWS);
	__type(key, struct bp_flow6_key);
	__type(value, struct bp_flow_acct);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} bp_flow_acct6 SEC(".maps");

/* BP_MAP_FLOW_CONFIG: the flow timeouts, written by the agent */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct bp_flow_config);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} bp_flow_config SEC(".maps");

/* BP_MAP_FLOW_COUNTERS: flows created, reaped, expired, evicted, flushed per protocol; GC runs */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, BP_FLOW_COUNTERS);
	__type(key, __u32);
	__type(value, __u64);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} bp_flow_counts SEC(".maps");

/* BP_MAP_FRAGS: fragmented datagrams of translated flows -> the translation of the first */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, BP_MAX_FRAGS);
	__type(key, struct bp_frag_key);
	__type(value, struct bp_frag_nat);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} bp_frags SEC(".maps");

/* BP_MAP_PORT_STATS: per published port (its bp_ports entry's stats_slot), per CPU. An
 * array, whose lookup the verifier inlines: a published flow's packets count on it. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, BP_MAX_PORTS);
	__type(key, __u32);
	__type(value, struct bp_port_stats);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} bp_port_stats SEC(".maps");

/* BP_MAP_ALLOW: who may use restricted published ports, written by the agent */
struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, BP_MAX_PORTS);
	__type(key, struct bp_allow_key);
	__type(value, __u8);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} bp_allow SEC(".maps");

/* BP_MAP_NETNS: namespaces the socket hooks act in, written by the agent */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, BP_MAX_NETNS);
	__type(key, __u64);
	__type(value, struct bp_netns);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} bp_netns SEC(".maps");

/* BP_MAP_SOCK_NAT: where redirected sockets believe they are connected */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, BP_MAX_SOCK_NAT);
	__type(key, struct bp_sock_nat_key);
	__type(value, struct bp_nat_value);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} bp_sock_nat SEC(".maps");

/* BP_MAP_PORTS6, BP_MAP_PORT_STATS6, BP_MAP_ALLOW6, BP_MAP_TARGETS6: IPv6's published ports */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, BP_MAX_PORTS);
	__type(key, struct bp_port6_key);
	__type(value, struct bp_port6_target);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} bp_ports6 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, BP_MAX_PORTS);
	__type(key, __u32);
	__type(value, struct bp_port_stats);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} bp_port_stats6 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, BP_MAX_PORTS);
	__type(key, struct bp_allow6_key);
	__type(value, __u8);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} bp_allow6 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, BP_MAX_PORTS);
	__type(key, struct bp_target6_key);
	__type(value, struct bp_target6);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} bp_targets6 SEC(".maps");

/* BP_MAP_SOCK_NAT6: where redirected IPv6 sockets believe they are connected */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, BP_MAX_SOCK_NAT);
	__type(key, struct bp_sock_nat6_key);
	__type(value, struct bp_nat6_value);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} bp_sock_nat6 SEC(".maps");

/* BP_MAP_SOCK_MARKS: a socket's enum bp_sock_marks (sock.bpf.c), in its own storage */
struct {
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, __u32);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} bp_sock_marks SEC(".maps");

/* BP_MAP_FRAGS6: fragmented IPv6 datagrams of translated flows -> the first's translation */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, BP_MAX_FRAGS);
	__type(key, struct bp_frag6_key);
	__type(value, struct bp_frag6_nat);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} bp_frags6 SEC(".maps");

/* BP_MAP_VXLAN_PEERS: the cluster's hosts, written by the agent of a cluster */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, BP_MAX_VXLAN_PEERS);
	__type(key, __u32);
	__type(value, __u8);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} bp_vxlan_peers SEC(".maps");

/* BP_MAP_OVERLAY_DESTS: overlay containers' addresses -> their VXLAN device or veth, written by
 * the agent of a cluster */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, BP_MAX_OVERLAY_DESTS);
	__type(key, __u32);
	__type(value, struct bp_overlay_dest);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} bp_overlay_dests SEC(".maps");

#endif /* BP_LIB_MAPS_H */
