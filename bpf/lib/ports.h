/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Published ports as the agent wrote them: which entry of bp_ports a host address and
 * port lead to, and who may use a restricted one (bp_allow), asked by its host side
 * (the uplink, the socket hooks) or by its container side (bp_targets: direct routing,
 * the policy's exception); for IPv6 from bp_ports6, bp_allow6 and bp_targets6.
 */
#ifndef BP_LIB_PORTS_H
#define BP_LIB_PORTS_H

#include "common.h"
#include "maps.h"

/*
 * The entry for host_ip:port (network byte order): the address's own, else the port's on
 * every address; *key is the one that matched. NULL when there is none.
 */
static __always_inline struct bp_port_target *bp_port_entry(__u32 host_ip, __u16 port, __u8 proto,
							     struct bp_port_key *key)
{
	*key = (struct bp_port_key){ .host_ip = host_ip, .host_port = port, .proto = proto };
	struct bp_port_target *target = bpf_map_lookup_elem(&bp_ports, key);

	if (!target) {
		key->host_ip = 0;
		target = bpf_map_lookup_elem(&bp_ports, key);
	}
	return target;
}

/* The published port host_ip:port leads to, or NULL. A routed network's port has no host
 * port to be reached by (Docker maps none in gateway mode routed). */
static __always_inline struct bp_port_target *bp_published(__u32 host_ip, __u16 port, __u8 proto,
							    struct bp_port_key *key)
{
	struct bp_port_target *target = bp_port_entry(host_ip, port, proto, key);

	return target && !(target->flags & BP_PORT_F_DIRECT_ONLY) ? target : NULL;
}

/* Whether the allow list of the restricted port host_ip:port names `source`. */
static __always_inline int bp_port_allows(__u32 host_ip, __u16 port, __u8 proto, __u32 source)
{
	struct bp_allow_key allow = {
		.prefixlen = BP_ALLOW_KEY_FIXED_BITS + 32, .proto = proto, .port = port, .host_ip = host_ip, .ip = source,
	};

	return bpf_map_lookup_elem(&bp_allow, &allow) != NULL;
}

/*
 * Whether container address ip:port is a published target `source` may reach: a
 * restricted one only from the sources its allow list names, by its container address as
 * through the host's (the socket hooks ask the same list).
 */
static __always_inline int bp_target_open_to(__u32 ip, __u16 port, __u8 proto, __u32 source)
{
	struct bp_target_key key = { .ip = ip, .port = port, .proto = proto };
	struct bp_target *target = bpf_map_lookup_elem(&bp_targets, &key);

	if (!target)
		return 0;
	return !(target->flags & BP_PORT_F_RESTRICTED) ||
	       bp_port_allows(target->host_ip, target->host_port, proto, source);
}

/* The IPv6 twins of the above: bp_ports6, bp_allow6 and bp_targets6, with 16-byte addresses
 * (:: is every IPv6 address of the host). Nothing is translated between families. */

static __always_inline struct bp_port6_target *bp_port_entry6(const __u32 *host_ip, __u16 port, __u8 proto,
							       struct bp_port6_key *key)
{
	*key = (struct bp_port6_key){ .host_port = port, .proto = proto };
	__builtin_memcpy(key->host_ip, host_ip, sizeof(key->host_ip));
	struct bp_port6_target *target = bpf_map_lookup_elem(&bp_ports6, key);

	if (!target) {
		__builtin_memset(key->host_ip, 0, sizeof(key->host_ip));
		target = bpf_map_lookup_elem(&bp_ports6, key);
	}
	return target;
}

static __always_inline struct bp_port6_target *bp_published6(const __u32 *host_ip, __u16 port, __u8 proto,
							      struct bp_port6_key *key)
{
	struct bp_port6_target *target = bp_port_entry6(host_ip, port, proto, key);

	return target && !(target->flags & BP_PORT_F_DIRECT_ONLY) ? target : NULL;
}

static __always_inline int bp_port_allows6(const __u32 *host_ip, __u16 port, __u8 proto, const __u32 *source)
{
	struct bp_allow6_key allow = { .prefixlen = BP_ALLOW6_KEY_FIXED_BITS + 128, .proto = proto, .port = port };

	__builtin_memcpy(allow.host_ip, host_ip, sizeof(allow.host_ip));
	__builtin_memcpy(allow.ip, source, sizeof(allow.ip));
	return bpf_map_lookup_elem(&bp_allow6, &allow) != NULL;
}

static __always_inline int bp_target_open_to6(const __u32 *ip, __u16 port, __u8 proto, const __u32 *source)
{
	struct bp_target6_key key = { .port = port, .proto = proto };

	__builtin_memcpy(key.ip, ip, sizeof(key.ip));
	struct bp_target6 *target = bpf_map_lookup_elem(&bp_targets6, &key);
	if (!target)
		return 0;
	return !(target->flags & BP_PORT_F_RESTRICTED) ||
	       bp_port_allows6(target->host_ip, target->host_port, proto, source);
}

#endif /* BP_LIB_PORTS_H */
