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

/* BP_MAP_ENDPOINT_STATS: host-side ifindex -> per-CPU traffic counters */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
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

/* BP_MAP_NAT: published flows, so exactly their replies are translated back */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, BP_MAX_NAT_FLOWS);
	__type(key, struct bp_nat_key);
	__type(value, struct bp_nat_value);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} bp_nat SEC(".maps");

/* BP_MAP_SUBNETS: bridge networks' subnets, written by the agent */
struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, BP_MAX_SUBNETS);
	__type(key, struct bp_subnet_key);
	__type(value, struct bp_subnet);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} bp_subnets SEC(".maps");

/* BP_MAP_TARGETS: the container side of every published port, written by the agent */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, BP_MAX_PORTS);
	__type(key, struct bp_target_key);
	__type(value, __u8);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} bp_targets SEC(".maps");

/* BP_MAP_SNAT: masqueraded flows, container side -> {host address, port} */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, BP_MAX_SNAT_FLOWS);
	__type(key, struct bp_flow_key);
	__type(value, struct bp_nat_value);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} bp_snat SEC(".maps");

/* BP_MAP_SNAT_REV: masqueraded flows, remote side (as replies arrive) -> container */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, BP_MAX_SNAT_FLOWS);
	__type(key, struct bp_flow_key);
	__type(value, struct bp_snat_origin);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} bp_snat_rev SEC(".maps");

/* BP_MAP_FRAGS: fragmented datagrams of published flows -> the translation of the first */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, BP_MAX_FRAGS);
	__type(key, struct bp_frag_key);
	__type(value, struct bp_frag_nat);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} bp_frags SEC(".maps");

/* BP_MAP_PORT_STATS: per published port, per CPU */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, BP_MAX_PORTS);
	__type(key, struct bp_port_key);
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

/* BP_MAP_HAIRPIN: flows to published targets, as their requests show them */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, BP_MAX_SNAT_FLOWS);
	__type(key, struct bp_flow_key);
	__type(value, __u8);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} bp_hairpin SEC(".maps");

/* BP_MAP_NETNS: namespaces the socket hooks act in, written by the agent */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, BP_MAX_NETNS);
	__type(key, __u64);
	__type(value, __u8);
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

#endif /* BP_LIB_MAPS_H */
